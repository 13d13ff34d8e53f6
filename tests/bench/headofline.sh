#!/usr/bin/env bash
# headofline.sh: 4 workers; 2,000 tasks `--lock hot -- true` (they can only
# run one at a time), then 50 tasks each on its own resource
# (`--lock cold-N -- true`). The cold tasks must not wait behind the hot
# queue (DESIGN §6: dispatch costs O(resources of the task), FIFO only per
# resource). Submission is by one depotctl process a task, 4 at a time
# (xargs -P 4); every figure comes from the daemon's own timestamps
# (`depotctl --json task list`).
#
# Criterion: the hot backlog is the hot tasks not yet finished when the
# first cold task was submitted. PASS when all 50 cold tasks completed
# before 25% of that backlog had run (and the backlog was at least 200
# tasks deep; a shallower one cannot tell, and is reported INCONCLUSIVE).
. "$(dirname "$0")/lib.bash"

HOT=${BENCH_HOL_HOT:-2000}
COLD=${BENCH_HOL_COLD:-50}
WORKERS=4
MIN_BACKLOG=200
echo "== head-of-line: $HOT x '--lock hot -- true', then $COLD x '--lock cold-N -- true', $WORKERS workers =="

bench_dir
bench_conf "[daemon]" "workers = $WORKERS"
bench_launch "$WORKERS" || { result headofline FAIL "depotd did not start"; bench_exit; }

t0=$(now_ms)
seq "$HOT" | xargs -P 4 -I{} "$DEPOTCTL" -d "$DIR" run --lock hot -- true >"$DIR/hot.ids"
hot_rc=$?
t1=$(now_ms)
seq "$COLD" | xargs -P 4 -I{} "$DEPOTCTL" -d "$DIR" run --lock cold-{} -- true >"$DIR/cold.ids"
cold_rc=$?
t2=$(now_ms)
n_hot_ids=$(grep -c '^[0-9][0-9]*$' "$DIR/hot.ids")
n_cold_ids=$(grep -c '^[0-9][0-9]*$' "$DIR/cold.ids")
printf 'submitted %d hot in %s s, then %d cold in %s s\n' "$n_hot_ids" "$(secs $((t1 - t0)))" \
	"$n_cold_ids" "$(secs $((t2 - t1)))"

mapfile -t id_list < <(cat "$DIR/hot.ids" "$DIR/cold.ids")
ctl --json task wait --timeout 150s "${id_list[@]}" >"$DIR/wait.json"
t3=$(now_ms)
timed_out=$(jq -r .timed_out "$DIR/wait.json" 2>/dev/null)
ctl --json task list --limit $((HOT + COLD + 100)) >"$DIR/list.json"
bench_stop

# One line per task, times in ms after the first hot task was created:
# kind created started finished state (hot tasks first by id).
jq -r '
	def ms: if . == null then null else
		. as $s | ($s[0:19] + "Z" | fromdateiso8601) * 1000 + ($s[20:23] | tonumber) end;
	(map(.created_at | ms) | min) as $t0 |
	sort_by(.id)[] |
	[ (if (.resources | map(.name) | index("hot")) != null then "hot" else "cold" end),
	  ((.created_at | ms) - $t0),
	  (if .started_at then (.started_at | ms) - $t0 else -1 end),
	  (if .finished_at then (.finished_at | ms) - $t0 else -1 end),
	  .state ] | @tsv' "$DIR/list.json" >"$DIR/tasks.tsv"

awk -F'\t' -v min_backlog="$MIN_BACKLOG" '
	$1 == "hot"  { nh++; hc[nh] = $2; hs[nh] = $3; hf[nh] = $4; if ($5 == "completed") hok++ }
	$1 == "cold" { nc++; cc[nc] = $2; cf[nc] = $4; if ($5 == "completed") cok++ }
	END {
		c_first = 1e18; c_last = -1; h_last = -1; maxlat = -1
		for (i = 1; i <= nc; i++) {
			if (cc[i] < c_first) c_first = cc[i]
			if (cf[i] < 0) unfinished++; else if (cf[i] > c_last) c_last = cf[i]
			lat[i] = cf[i] - cc[i]; if (lat[i] > maxlat) maxlat = lat[i]
		}
		backlog = 0; during = 0; by_cold_last = 0
		for (i = 1; i <= nh; i++) {
			if (hf[i] > h_last) h_last = hf[i]
			if (hf[i] < 0 || hf[i] > c_first) backlog++
			if (unfinished) continue
			if (hf[i] >= 0 && hf[i] <= c_last) by_cold_last++
			if (hf[i] > c_first && hf[i] <= c_last) during++
		}
		printf "NH=%d\nNC=%d\nHOK=%d\nCOK=%d\n", nh, nc, hok, cok
		printf "C_FIRST=%.0f\nC_LAST=%d\nH_LAST=%d\nMAXLAT=%d\nCOLD_UNFINISHED=%d\n", c_first, c_last, h_last, maxlat, unfinished
		printf "BACKLOG=%d\nDURING=%d\nBY_COLD_LAST=%d\n", backlog, during, by_cold_last
	}' "$DIR/tasks.tsv" >"$DIR/figures"
# shellcheck disable=SC1091
. "$DIR/figures"
# exclusive lock on hot: in start order, no hot task starts before the one before it finished
OVERLAP=$(awk -F'\t' '$1 == "hot" && $3 >= 0 { print $3, $4 }' "$DIR/tasks.tsv" | sort -n -k1,1 -k2,2 |
	awk 'NR > 1 && $1 < prev { n++ } { prev = $2 } END { print n + 0 }')

# cold latency (created to finished) and hot run times (started to finished)
awk -F'\t' '$1 == "cold" && $4 >= 0 { print $4 - $2 }' "$DIR/tasks.tsv" >"$DIR/cold.lat"
awk -F'\t' '$1 == "hot" && $4 >= 0 && $3 >= 0 { print $4 - $3 }' "$DIR/tasks.tsv" >"$DIR/hot.run"
c_p50=$(percentile 50 <"$DIR/cold.lat")
h_run50=$(percentile 50 <"$DIR/hot.run")
h_run90=$(percentile 90 <"$DIR/hot.run")
h_slow=$(awk '$1 >= 20' "$DIR/hot.run" | wc -l)
h_first_start=$(awk -F'\t' '$1 == "hot" && $3 >= 0 { print $3 }' "$DIR/tasks.tsv" | sort -n | head -1)
h_rate=$(per_s "$NH" $((H_LAST - ${h_first_start:-0})))

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }'; }
echo "times after the first hot task was created (daemon timestamps):"
printf 'cold: first submitted at %6s s, last (of %d) finished at %6s s; latency p50 %s ms, max %s ms\n' \
	"$(secs "$C_FIRST")" "$NC" "$(secs "$C_LAST")" "$c_p50" "$MAXLAT"
printf 'hot:  last (of %d) finished at %6s s; one at a time: %s tasks/s, run time p50 %s ms, p90 %s ms, %d of %d took >= 20 ms\n' \
	"$NH" "$(secs "$H_LAST")" "$h_rate" "$h_run50" "$h_run90" "$h_slow" "$NH"
printf 'hot finished when the last cold finished: %d of %d (%s%%)\n' "$BY_COLD_LAST" "$NH" "$(pct "$BY_COLD_LAST" "$NH")"
printf 'hot backlog when the first cold was submitted: %d; of it run while the colds ran: %d (%s%%)\n' \
	"$BACKLOG" "$DURING" "$(pct "$DURING" "$BACKLOG")"
printf 'hot lock exclusive (no overlapping hot tasks): %s\n' "$([ "$OVERLAP" -eq 0 ] && echo yes || echo "NO: $OVERLAP overlaps")"
printf 'total: %s s from first submit to all done\n' "$(secs $((t3 - t0)))"

status=PASS
problems=()
[ "$hot_rc" -eq 0 ] && [ "$cold_rc" -eq 0 ] && [ "$n_hot_ids" -eq "$HOT" ] && [ "$n_cold_ids" -eq "$COLD" ] ||
	problems+=("submission: $n_hot_ids of $HOT hot and $n_cold_ids of $COLD cold ids (xargs exit $hot_rc, $cold_rc)")
[ "$timed_out" = false ] || problems+=("task wait timed out or failed")
[ "$NH" -eq "$HOT" ] && [ "$NC" -eq "$COLD" ] || problems+=("task list: $NH hot and $NC cold tasks")
[ "$HOK" -eq "$NH" ] || problems+=("only $HOK of $NH hot tasks completed")
[ "$COK" -eq "$NC" ] || problems+=("only $COK of $NC cold tasks completed")
[ "$OVERLAP" -eq 0 ] || problems+=("two hot tasks ran at once ($OVERLAP times)")
[ ${#problems[@]} -eq 0 ] || status=FAIL
verdict="all $NC cold done after $(pct "$DURING" "$BACKLOG")% of the $BACKLOG-task hot backlog had run (limit 25%)"
if [ "$status" = PASS ]; then
	if [ "$BACKLOG" -lt "$MIN_BACKLOG" ]; then
		status=INCONCLUSIVE
		verdict="hot backlog only $BACKLOG tasks (< $MIN_BACKLOG) when the colds came: cannot tell"
	elif [ "$COLD_UNFINISHED" -gt 0 ] || [ $((DURING * 4)) -gt "$BACKLOG" ]; then
		status=FAIL
	fi
fi
echo "$status: $verdict"
[ ${#problems[@]} -eq 0 ] || { echo "problems:"; printf '  %s\n' "${problems[@]}"; }
jq -r '.[] | select(.state != "completed") | "  task \(.id) \(.state) (\(.error.reason // "-"): \(.error.message // "-"))"' \
	"$DIR/list.json" | head -10

result headofline "$status" "$verdict; last cold at $(secs "$C_LAST") s vs last hot at $(secs "$H_LAST") s; $BY_COLD_LAST of $NH hot done then"
for p in "${problems[@]}"; do note "$p"; done
jq -r '.[] | select(.state != "completed") | "  task \(.id) \(.state) (\(.error.reason // "-"): \(.error.message // "-"))"' \
	"$DIR/list.json" | head -5 | while read -r line; do note "$line"; done
bench_exit
