#!/usr/bin/env bash
# dispatch.sh: 500 `exec true` tasks through 2 workers, depot against
# task-spooler (tsp -S 2), in one run. Each task is submitted by its own
# client process (`depotctl run -- true`, `tsp true`), as a script would,
# then waited for; the time runs from the first submit to the last task done.
# Also: the same from the last submit (submission excluded) and the cost of
# one client round trip.
. "$(dirname "$0")/lib.bash"

N=${BENCH_DISPATCH_TASKS:-500}
SLOTS=2
echo "== dispatch: $N x 'true' through $SLOTS workers, depot vs task-spooler =="

command -v tsp >/dev/null || { echo "tsp is not installed (Debian package task-spooler: make deps)" >&2; exit 2; }

# --- depot -------------------------------------------------------------------
bench_dir
bench_conf "[daemon]" "workers = $SLOTS"
bench_launch "$SLOTS" || { result dispatch FAIL "depotd did not start"; bench_exit; }

ids=$DIR/ids
sub_fail=0
d_t0=$(now_ms)
for ((i = 0; i < N; i++)); do
	"$DEPOTCTL" -d "$DIR" run -- true >>"$ids" || sub_fail=$((sub_fail + 1))
done
d_t1=$(now_ms)
mapfile -t id_list <"$ids"
ctl --json task wait --timeout 120s "${id_list[@]}" >"$DIR/wait.json"
wait_rc=$?
d_t2=$(now_ms)

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
bench_exit
