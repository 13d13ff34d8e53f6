#!/usr/bin/env bash
# listing.sh: ping latency while `depotctl --json task list --limit 100000`
# fetches 100,000 finished tasks (issue 10 item 8: before task.list was
# paged, one such request held the loop for 10.4 s and took depotd's RSS
# to 414 MB). The rows are inserted with the sqlite3 CLI while the daemon
# is stopped (lib.bash's fill_finished, which stalls.sh uses too).
# Figures only (INFO): the listing's time, the pings answered during it
# (max and p50 latency; `depotctl ping`, so client start-up included),
# depotd's VmHWM.
# Measured on 2 shared cores, 2026-11-29: paged, list 4.26 s, 135 pings,
# p50 28 ms, max 78 ms, VmHWM 16.7 MiB; unpaged (the commit before),
# list 5.80 s, 55 pings, max 4,485 ms, VmHWM 377.7 MiB.
. "$(dirname "$0")/lib.bash"

N=${BENCH_LISTING_TASKS:-100000}
echo "== listing: ping during task list --limit $N of $N finished tasks =="

fail() {
	echo "listing: $*" >&2
	result listing FAIL "$*"
	bench_exit
}

bench_dir
bench_conf "[daemon]" "workers = 0"
bench_launch 0 || fail "depotd did not start"
bench_stop
fill_finished "$N" || fail "inserting $N rows with sqlite3 failed"
bench_launch 0 || fail "depotd did not start with $N tasks"

t0=$(now_ms)
ctl --json task list --limit "$N" >"$DIR/list.json" &
lister=$!
: >"$DIR/ping.ms"
while kill -0 "$lister" 2>/dev/null; do
	t=$(now_ms)
	ctl ping >/dev/null || fail "ping failed during the listing"
	echo $(($(now_ms) - t)) >>"$DIR/ping.ms"
done
wait "$lister" || fail "task list failed"
list_ms=$(($(now_ms) - t0))
hwm=$(vm_kb "$DEPOT_PID" VmHWM)
n=$(jq length "$DIR/list.json")
bench_stop
[ "$n" -eq "$N" ] || fail "listed $n tasks, not $N"
pings=$(wc -l <"$DIR/ping.ms")
max=$(percentile 100 <"$DIR/ping.ms")
p50=$(percentile 50 <"$DIR/ping.ms")
echo "listed $n in $(secs "$list_ms") s; $pings pings meanwhile, p50 $p50 ms, max $max ms; depotd VmHWM $(kib "$hwm")"
result listing INFO "list $N: $(secs "$list_ms") s; ping during it p50 $p50 ms max $max ms ($pings); VmHWM $(kib "$hwm")"
bench_exit
