#!/usr/bin/env bash
# dispatch.sh: how fast depot runs trivial tasks, against task-spooler and
# against the fork+exec limit, in one run.
#
# Part 1: 500 `exec true` tasks through 2 workers, depot against
# task-spooler (tsp -S 2). Each task is submitted by its own client process
# (`depotctl run -- true`, `tsp true`), as a script would, then waited for;
# the time runs from the first submit to the last task done. Also: the same
# from the last submit (submission excluded), the cost of one client
# round trip, and the CPU time depotd and its workers spent per task
# (from /proc: on a loaded machine steadier than the wall clock).
#
# Part 2: 10,000 `exec true` tasks through 4 workers against 4 parallel
# loops of `sh -c true` (2,500 each), which is what this machine's
# fork+exec allows; rounds alternate, medians are compared. The tasks go in
# with `depotctl run --batch -` when this depotctl has it (timed from the
# submit to all done); otherwise the waiting rows are inserted with the
# sqlite3 CLI while depotd is stopped (as rss.sh does) and the time runs
# from depotd's start to all done. The summary says which.
. "$(dirname "$0")/lib.bash"

N=${BENCH_DISPATCH_TASKS:-500}
SLOTS=2
BIG=${BENCH_DISPATCH_BIG:-10000}
BIG_WORKERS=4
# Five: a round's rate moves by ±10% with the VM's other load, either side's.
ROUNDS=${BENCH_DISPATCH_ROUNDS:-5}
echo "== dispatch: $N x 'true' through $SLOTS workers, depot vs task-spooler =="

command -v tsp >/dev/null || { echo "tsp is not installed (Debian package task-spooler: make deps)" >&2; exit 2; }

# --- depot -------------------------------------------------------------------
bench_dir
bench_conf "[daemon]" "workers = $SLOTS"
bench_launch "$SLOTS" || { result dispatch FAIL "depotd did not start"; bench_exit; }

# CPU time (ticks) of a process: all its threads, not its children.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Of the daemon's supervised workers together.
worker_ticks() {
	local pid sum=0
	for pid in $(ctl --json worker list 2>/dev/null | jq -r '.[] | select(.supervised) | .pid'); do
		sum=$((sum + $(cpu_ticks "$pid")))
	done
	echo "$sum"
}
ids=$DIR/ids
sub_fail=0
d_cpu0=$(cpu_ticks "$DEPOT_PID")
w_cpu0=$(worker_ticks)
d_t0=$(now_ms)
for ((i = 0; i < N; i++)); do
	"$DEPOTCTL" -d "$DIR" run -- true >>"$ids" || sub_fail=$((sub_fail + 1))
done
d_t1=$(now_ms)
mapfile -t id_list <"$ids"
ctl --json task wait --timeout 120s "${id_list[@]}" >"$DIR/wait.json"
wait_rc=$?
d_t2=$(now_ms)
d_cpu=$(( $(cpu_ticks "$DEPOT_PID") - d_cpu0 ))
w_cpu=$(( $(worker_ticks) - w_cpu0 ))

d_total=$((d_t2 - d_t0))
d_sub=$((d_t1 - d_t0))
d_tail=$((d_t2 - d_t1))
d_done=$(jq '[.tasks[] | select(.state == "completed")] | length' "$DIR/wait.json" 2>/dev/null)
d_timed_out=$(jq -r '.timed_out' "$DIR/wait.json" 2>/dev/null)
d_bad=$(jq -r '.tasks[] | select(.state != "completed") |
	"\(.id) \(.state) (\(.error.reason // "-"): \(.error.message // "-"))"' "$DIR/wait.json" 2>/dev/null)

# One client round trip: depotctl ping, 100 times.
p_t0=$(now_ms)
for ((i = 0; i < 100; i++)); do ctl ping >/dev/null; done
d_ping=$(( $(now_ms) - p_t0 ))
bench_stop

# --- task-spooler --------------------------------------------------------------
TSP_DIR=$(mktemp -d /tmp/dpb.XXXXXX)
export TS_SOCKET=$TSP_DIR/ts.sock TMPDIR=$TSP_DIR TS_MAXFINISHED=$((N + 100))
unset TS_ONFINISH TS_ENV TS_SAVELIST TS_MAILTO
tsp -S "$SLOTS" >/dev/null  # starts the private server before the clock runs

t_sub_fail=0
t_t0=$(now_ms)
for ((i = 0; i < N; i++)); do
	tsp true >/dev/null || t_sub_fail=$((t_sub_fail + 1))
done
t_t1=$(now_ms)
tsp -w >/dev/null 2>&1   # the last job added; then until none is queued or running
deadline=$(( $(now_ms) + 120000 ))
while [ "$(tsp -l | awk 'NR > 1 && ($2 == "running" || $2 == "queued" || $2 == "allocating")' | wc -l)" -gt 0 ]; do
	[ "$(now_ms)" -lt "$deadline" ] || break
	sleep 0.001
done
t_t2=$(now_ms)
t_total=$((t_t2 - t_t0))
t_sub=$((t_t1 - t_t0))
t_tail=$((t_t2 - t_t1))
t_done=$(tsp -l | awk 'NR > 1 && $2 == "finished" && $4 == 0' | wc -l)

p_t0=$(now_ms)
for ((i = 0; i < 100; i++)); do tsp -S >/dev/null; done
t_ping=$(( $(now_ms) - p_t0 ))
tsp -K >/dev/null 2>&1
unset TS_SOCKET TS_MAXFINISHED
export TMPDIR=/tmp
rm -rf "$TSP_DIR"
TSP_DIR=

# --- report --------------------------------------------------------------------
ratio=$(awk -v a="$d_total" -v b="$t_total" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')
ratio_sub=$(awk -v a="$d_sub" -v b="$t_sub" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')
echo "first submit to all done:"
printf 'depot: %d tasks in %6s s (%4s tasks/s)   %d completed\n' "$N" "$(secs "$d_total")" "$(per_s "$N" "$d_total")" "$d_done"
printf 'tsp:   %d tasks in %6s s (%4s tasks/s)   %d finished with exit 0\n' "$N" "$(secs "$t_total")" "$(per_s "$N" "$t_total")" "$t_done"
printf 'ratio depot/tsp: %sx time\n' "$ratio"
echo "submission alone (N client processes, one after another):"
printf 'depot: %6s s (%.2f ms per depotctl run)\n' "$(secs "$d_sub")" "$(awk -v m="$d_sub" -v n="$N" 'BEGIN { print m / n }')"
printf 'tsp:   %6s s (%.2f ms per tsp call)\n' "$(secs "$t_sub")" "$(awk -v m="$t_sub" -v n="$N" 'BEGIN { print m / n }')"
printf 'ratio depot/tsp: %sx time\n' "$ratio_sub"
echo "submission excluded (last submit returned to all done):"
printf 'depot: %6s s\n' "$(secs "$d_tail")"
printf 'tsp:   %6s s\n' "$(secs "$t_tail")"
echo "depot's own CPU per task (submit, start, done), from /proc:"
printf 'depotd: %.2f ms (all its threads)   workers: %.2f ms (together, without the tasks)\n' \
	"$(awk -v t="$d_cpu" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t * 1000 / hz / n }')" \
	"$(awk -v t="$w_cpu" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t * 1000 / hz / n }')"
echo "one client round trip (100 x, average):"
printf 'depot: %.2f ms (depotctl ping)\n' "$(awk -v m="$d_ping" 'BEGIN { print m / 100 }')"
printf 'tsp:   %.2f ms (tsp -S)\n' "$(awk -v m="$t_ping" 'BEGIN { print m / 100 }')"

status=PASS
problems=()
[ "$sub_fail" -eq 0 ] || problems+=("depot: $sub_fail depotctl run calls failed")
[ "$t_sub_fail" -eq 0 ] || problems+=("tsp: $t_sub_fail tsp calls failed")
[ "$d_timed_out" = false ] || problems+=("depot: task wait timed out or failed (exit $wait_rc)")
[ "${d_done:-0}" -eq "$N" ] || problems+=("depot: only ${d_done:-0} of $N tasks completed")
[ "$t_done" -eq "$N" ] || problems+=("tsp: only $t_done of $N jobs finished with exit 0")
if [ ${#problems[@]} -gt 0 ]; then
	status=FAIL
	echo "problems:"
	printf '  %s\n' "${problems[@]}"
	[ -n "$d_bad" ] && { echo "depot tasks that did not complete:"; echo "$d_bad" | sed 's/^/  /' | head -20; }
fi

result dispatch "$status" "depot $(secs "$d_total") s ($(per_s "$N" "$d_total")/s) vs tsp $(secs "$t_total") s ($(per_s "$N" "$t_total")/s): ${ratio}x time; excl. submission $(secs "$d_tail") s vs $(secs "$t_tail") s"
for p in "${problems[@]}"; do note "$p"; done
if [ -n "$d_bad" ]; then
	echo "$d_bad" | head -5 | while read -r line; do note "  task $line"; done
fi

# --- part 2: 10,000 tasks through 4 workers against the fork+exec limit ---------
[ "$BIG" -gt 0 ] || bench_exit
echo
echo "== dispatch: $BIG x 'true' through $BIG_WORKERS workers vs $BIG_WORKERS loops of 'sh -c true', $ROUNDS rounds =="

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'
}
load1() {
	cut -d' ' -f1 /proc/loadavg
}

# wait_all_done LAST_ID: the task that was submitted last ends among the
# last (FIFO, no reservations), then the few still running end too.
wait_all_done() {
	local deadline
	ctl task wait --timeout 300s "$1" >/dev/null 2>&1
	deadline=$(( $(now_ms) + 60000 ))
	until ctl --json status 2>/dev/null | jq -e '.locks.held == 0 and .locks.waiting == 0' >/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.005
	done
}

# big_counts: "completed other" over the tasks of this data directory.
big_counts() {
	sqlite3 "$DIR/depot.db" ".timeout 5000" \
		"SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state != 'completed') FROM tasks"
}

if "$DEPOTCTL" run --help 2>/dev/null | grep -q -- '--batch'; then
	BIG_WAY="batch"
else
	BIG_WAY="sqlite3"
fi
case $BIG_WAY in
batch) echo "submission: depotctl run --batch - (timed from the submit to all done)" ;;
sqlite3) echo "submission: this depotctl has no --batch: $BIG waiting rows inserted with sqlite3 while depotd is stopped, timed from depotd's start to all done" ;;
esac

# big_depot_round: one round; sets BIG_MS, BIG_SUB_MS (the batch's own
# request, with --batch) and BIG_OK (completed count).
big_depot_round() {
	local now last t0 counts
	BIG_MS=0
	BIG_SUB_MS=0
	BIG_OK=0
	bench_dir
	bench_conf "[daemon]" "workers = $BIG_WORKERS"
	if [ "$BIG_WAY" = batch ]; then
		bench_launch "$BIG_WORKERS" || return 1
		t0=$(now_ms)
		yes true | head -n "$BIG" | ctl run --batch - >"$DIR/ids" || return 1
		BIG_SUB_MS=$(( $(now_ms) - t0 ))
		last=$(tail -n 1 "$DIR/ids")
		wait_all_done "$last" || return 1
		BIG_MS=$(( $(now_ms) - t0 ))
	else
		# The schema is the one depotd itself creates.
		bench_launch 0 || return 1
		bench_stop
		bench_conf "[daemon]" "workers = $BIG_WORKERS"
		now=$(now_ms)
		sqlite3 "$DIR/depot.db" ".timeout 5000" "BEGIN;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $BIG)
		INSERT INTO tasks (type, name, args, resources, state, created_at)
		SELECT 'exec', 'true', '{\"argv\":[\"true\"]}', '[]', 'waiting', $now - ($BIG - i)
		FROM n;
		COMMIT;" || return 1
		last=$(sqlite3 "$DIR/depot.db" "SELECT max(id) FROM tasks")
		t0=$(now_ms)
		bench_launch 0 60 || return 1
		wait_all_done "$last" || return 1
		BIG_MS=$(( $(now_ms) - t0 ))
	fi
	bench_stop
	counts=$(big_counts)
	BIG_OK=${counts%%|*}
	rm -rf "$DIR"
}

# big_peer_round: 4 loops of `sh -c true`, BIG/4 each; sets PEER_MS.
big_peer_round() {
	local t0 k per=$((BIG / BIG_WORKERS))
	t0=$(now_ms)
	for ((k = 0; k < BIG_WORKERS; k++)); do
		( for ((i = 0; i < per; i++)); do sh -c true; done ) &
	done
	wait
	PEER_MS=$(( $(now_ms) - t0 ))
}

d_rates=()
p_rates=()
sub_ms=()
big_problems=()
for ((r = 1; r <= ROUNDS; r++)); do
	l0=$(load1)
	big_peer_round
	l1=$(load1)
	if big_depot_round; then
		[ "$BIG_OK" -eq "$BIG" ] || big_problems+=("round $r: only $BIG_OK of $BIG tasks completed")
	else
		big_problems+=("round $r: the depot run failed")
		bench_stop
	fi
	p_rate=$(per_s "$BIG" "$PEER_MS")
	d_rate=$(per_s "$BIG" "${BIG_MS:-0}")
	printf 'round %d: sh -c true %6s s (%5s/s, load %s)   depot %6s s (%5s/s, load %s; submission %s s)\n' \
		"$r" "$(secs "$PEER_MS")" "$p_rate" "$l0" "$(secs "${BIG_MS:-0}")" "$d_rate" "$l1" \
		"$(secs "${BIG_SUB_MS:-0}")"
	sub_ms+=("${BIG_SUB_MS:-0}")
	p_rates+=("$p_rate")
	[ "${BIG_MS:-0}" -gt 0 ] && d_rates+=("$d_rate")
done
d_med=$(printf '%s\n' "${d_rates[@]}" | median)
p_med=$(printf '%s\n' "${p_rates[@]}" | median)
big_ratio=$(awk -v a="$d_med" -v b="$p_med" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }')
echo "medians: depot $d_med tasks/s, $BIG_WORKERS x sh -c true $p_med/s: ratio depot/limit ${big_ratio} (goal 0.80), load now $(load1)"
big_status=INFO
if [ ${#big_problems[@]} -gt 0 ]; then
	big_status=FAIL
	printf '  %s\n' "${big_problems[@]}"
fi
sub_med=$(printf '%s\n' "${sub_ms[@]}" | median)
[ "$BIG_WAY" = batch ] && echo "the batch's own request (depotctl run --batch, $BIG lines): $(secs "$sub_med") s (median; goal < 1 s)"
result dispatch-10k "$big_status" "$BIG tasks, $BIG_WORKERS workers ($BIG_WAY, submitted in $(secs "$sub_med") s): depot $d_med/s vs $BIG_WORKERS x sh -c true $p_med/s: ${big_ratio}x rate (medians of $ROUNDS)"
for p in "${big_problems[@]}"; do note "$p"; done
bench_exit
