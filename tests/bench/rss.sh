#!/usr/bin/env bash
# rss.sh: depotd's memory (VmRSS, VmHWM from /proc/PID/status) with an empty
# database, then with 20,000 finished tasks in it, after the same requests
# (`task list --limit 1000` and `status`, 3 times each). The rows are
# inserted with the sqlite3 CLI while the daemon is stopped, on the schema
# the daemon itself created (daemon/store.c), which is how a year of use
# looks to a freshly started daemon.
#
# Then (skip with BENCH_RSS_WAITING=0): 100,000 *waiting* tasks, all on
# resource 'hot', workers = 0: start-up time (the daemon loads every waiting
# task into the lock manager, DESIGN §6) and RSS.
. "$(dirname "$0")/lib.bash"

FINISHED=${BENCH_RSS_FINISHED:-20000}
WAITING=${BENCH_RSS_WAITING:-100000}
echo "== rss: depotd memory, empty vs $FINISHED finished tasks in the database =="

# queries: the same requests in every case; sets LIST_MS and STATUS_MS (averages)
queries() {
	local t list=0 st=0
	for _ in 1 2 3; do
		t=$(now_ms)
		ctl task list --limit 1000 >/dev/null || return 1
		list=$((list + $(now_ms) - t))
		t=$(now_ms)
		ctl status >/dev/null || return 1
		st=$((st + $(now_ms) - t))
	done
	LIST_MS=$((list / 3))
	STATUS_MS=$((st / 3))
}

db_size() {
	local n=0 f
	for f in "$DIR/depot.db" "$DIR/depot.db-wal"; do
		[ -f "$f" ] && n=$((n + $(stat -c %s "$f")))
	done
	echo "$n"
}

fail() {
	echo "rss: $*" >&2
	result rss FAIL "$*"
	bench_exit
}

line() {  # line LABEL RSS HWM REST
	printf '%-32s VmRSS %s  VmHWM %s  %s\n' "$1" "$(kib "$2")" "$(kib "$3")" "$4"
}

# --- empty database --------------------------------------------------------------
bench_dir
bench_conf "[daemon]" "workers = 2"
bench_launch 2 || fail "depotd did not start on an empty data directory"
queries || fail "requests failed on an empty database"
e_rss=$(vm_kb "$DEPOT_PID" VmRSS)
e_hwm=$(vm_kb "$DEPOT_PID" VmHWM)
e_db=$(db_size)
e_start=$LAUNCH_MS
line "empty database:" "$e_rss" "$e_hwm" "db $(human_bytes "$e_db"), start-up $(secs "$e_start") s, list $LIST_MS ms, status $STATUS_MS ms"
bench_stop

# --- 20,000 finished tasks ------------------------------------------------------------
now=$(now_ms)
t=$(now_ms)
sqlite3 "$DIR/depot.db" ".timeout 5000" "BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $FINISHED)
INSERT INTO tasks (type, name, args, resources, state, worker, created_at,
	started_at, finished_at, timeout_ms, progress, error, result, schedule, retry_of)
SELECT 'exec', 'true', '{\"argv\":[\"true\"]}', '[]', 'completed', 'w' || (1 + i % 2),
	$now - ($FINISHED - i) * 10 - 5, $now - ($FINISHED - i) * 10 - 3, $now - ($FINISHED - i) * 10,
	NULL, '{\"done\":0,\"total\":null,\"unit\":\"bytes\",\"message\":null}', NULL,
	'{\"exit_status\":0}', NULL, NULL
FROM n;
COMMIT;" || fail "inserting $FINISHED rows with sqlite3 failed"
fill_ms=$(( $(now_ms) - t ))
n_rows=$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM tasks WHERE state = 'completed'")
f_db=$(db_size)
bench_launch 2 || fail "depotd did not start with $FINISHED finished tasks"
queries || fail "requests failed with $FINISHED finished tasks"
f_rss=$(vm_kb "$DEPOT_PID" VmRSS)
f_hwm=$(vm_kb "$DEPOT_PID" VmHWM)
f_start=$LAUNCH_MS
f_list=$LIST_MS
f_status=$STATUS_MS
line "$n_rows finished tasks:" "$f_rss" "$f_hwm" "db $(human_bytes "$f_db"), start-up $(secs "$f_start") s, list $f_list ms, status $f_status ms"
# The largest list a client may ask for: what one big reply costs the daemon.
t=$(now_ms)
big=$(ctl --json task list --limit "$FINISHED" | wc -c)
big_ms=$(( $(now_ms) - t ))
b_rss=$(vm_kb "$DEPOT_PID" VmRSS)
b_hwm=$(vm_kb "$DEPOT_PID" VmHWM)
line "  then 1 x list --limit $FINISHED:" "$b_rss" "$b_hwm" "(--json, $(human_bytes "$big") in $(secs "$big_ms") s)"
echo "  (rows inserted with sqlite3 in $(secs "$fill_ms") s)"
bench_stop
[ "$STOP_STATUS" -eq 0 ] || fail "depotd exited $STOP_STATUS on SIGTERM"

summary="RSS empty $(mib "$e_rss"), $n_rows finished $(mib "$f_rss") (db $(human_bytes "$f_db"), list 1000 in $f_list ms), after one $FINISHED-task list $(mib "$b_rss")"

# --- 100,000 waiting tasks -------------------------------------------------------------
if [ "$WAITING" -gt 0 ]; then
	echo "== rss: $WAITING waiting tasks on one resource, workers = 0 =="
	bench_dir
	bench_conf "[daemon]" "workers = 0"
	bench_launch 0 || fail "depotd did not start (workers = 0)"
	bench_stop
	now=$(now_ms)
	t=$(now_ms)
	timeout 60 sqlite3 "$DIR/depot.db" ".timeout 5000" "BEGIN;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $WAITING)
	INSERT INTO tasks (type, name, args, resources, state, created_at)
	SELECT 'exec', 'true', '{\"argv\":[\"true\"]}', '[{\"name\":\"hot\",\"mode\":\"exclusive\"}]',
		'waiting', $now - ($WAITING - i)
	FROM n;
	COMMIT;" || fail "inserting $WAITING waiting rows failed or took over 60 s"
	fill_ms=$(( $(now_ms) - t ))
	w_db=$(db_size)
	bench_launch 0 60 || fail "depotd did not answer within 60 s with $WAITING waiting tasks"
	w_start=$LAUNCH_MS
	w_rss=$(vm_kb "$DEPOT_PID" VmRSS)
	w_hwm=$(vm_kb "$DEPOT_PID" VmHWM)
	loaded=$(ctl --json status | jq '.locks.waiting')
	t=$(now_ms)
	ctl status >/dev/null
	w_status=$(( $(now_ms) - t ))
	# Dispatch must not scan the queue: a submit on another resource stays cheap.
	t=$(now_ms)
	ctl run --lock other -- true >/dev/null || fail "run failed with $WAITING waiting tasks"
	w_submit=$(( $(now_ms) - t ))
	line "$WAITING waiting tasks:" "$w_rss" "$w_hwm" "db $(human_bytes "$w_db"), start-up $(secs "$w_start") s"
	printf '  %s waiting in the lock manager; status %d ms; one more run --lock other %d ms; rows inserted in %s s\n' \
		"$loaded" "$w_status" "$w_submit" "$(secs "$fill_ms")"
	bench_stop
	printf '  stop (SIGTERM to exit) %s s\n' "$(secs "$STOP_MS")"
	[ "$STOP_STATUS" -eq 0 ] || fail "depotd exited $STOP_STATUS on SIGTERM with $WAITING waiting tasks"
	[ "$loaded" = "$WAITING" ] || fail "the lock manager holds $loaded waiting tasks, not $WAITING"
	summary="$summary; $WAITING waiting: RSS $(mib "$w_rss"), start-up $(secs "$w_start") s"
fi

result rss INFO "$summary"
bench_exit
