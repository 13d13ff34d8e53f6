#!/usr/bin/env bash
# clean.sh: does `task clean` of many finished tasks stall depotd's main
# thread? (issue 12: "done in bounded transactions so 100k tasks do not
# freeze the daemon's loop"). N finished exec tasks (BENCH_CLEAN_TASKS,
# 100,000), each with a small log file under DIR/logs, inserted with the
# sqlite3 CLI (lib.bash's fill_finished) before the daemon starts; then
# `depotctl --json task clean` removes them all, 1,000 a loop turn
# (daemon/control-tasks.c), while a persistent client pings every 10 ms
# (lib.bash's ping_start, coordinated-omission corrected as in stalls.sh).
# PASS when every task and log is gone and ping p99 < 50 ms, VmHWM < 100 MiB.
. "$(dirname "$0")/lib.bash"

N=${BENCH_CLEAN_TASKS:-100000}
P99_BUDGET=50
HWM_BUDGET_KB=$((100 * 1024))

echo "== clean: task clean of $N finished tasks with their logs, ping every 10 ms =="

fail() {
	echo "clean: $*" >&2
	result clean FAIL "$*"
	bench_exit
}

bench_tmp
PINGS=$TMPD/pings
bench_dir
bench_conf "[daemon]" "workers = 1"
bench_launch 0 || fail "depotd did not start"
bench_stop
fill_finished "$N" || fail "inserting $N tasks with sqlite3 failed"
python3 -c '
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    with open(os.path.join(d, "%d.log" % i), "w") as f:
        f.write("output of task %d\n" % i)
' "$DIR/logs" "$N" || fail "writing $N logs failed"
bench_launch 1 60 || fail "depotd did not start with $N tasks"
ping_start "$PINGS" 10 || fail "the pinger did not start"

hwm_note=
hwm_reset "$DEPOT_PID" || hwm_note=" (since start: clear_refs refused)"
T0=$(now_ms)
out=$(ctl --json task clean) || fail "task clean failed: $out"
T1=$(now_ms)
ping_stop
removed=$(jq -r .removed <<<"$out")
left=$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM tasks")
logs=$(find "$DIR/logs" -type f | wc -l)
[ "$removed" = "$N" ] && [ "$left" = 0 ] && [ "$logs" = 0 ] ||
	fail "removed $removed of $N; $left rows and $logs logs left"
read -r p50 p99 max pings samples <<<"$(ping_stats "$PINGS" "$T0" "$T1")"
hwm=$(vm_kb "$DEPOT_PID" VmHWM)
status=PASS why=
[ "$pings" -gt 0 ] || { status=FAIL why="no ping during it"; }
awk -v p="$p99" -v b="$P99_BUDGET" 'BEGIN { exit !(p >= b) }' && { status=FAIL why="p99 over $P99_BUDGET ms"; }
[ "$hwm" -lt "$HWM_BUDGET_KB" ] || { status=FAIL why="${why:+$why, }VmHWM over 100 MiB"; }
line="$N tasks and logs in $(secs $((T1 - T0))) s; ping p50 $p50 ms, p99 $p99 ms, max $max ms ($pings pings, $samples samples); VmHWM $(mib "$hwm")$hwm_note${why:+ — $why}"
echo "clean: $status $line"
result clean "$status" "$line"
bench_stop
[ "$STOP_STATUS" -eq 0 ] || fail "depotd exited $STOP_STATUS on SIGTERM"
bench_exit
