#!/usr/bin/env bats
# DESIGN §7 rules 7–9, judged from outside the daemon: every process an
# exec task starts, also one that escapes its process group with setsid or
# a double fork, is gone by the time the task is final, so the next holder
# of its lock never runs beside it (the processes write their own trace);
# and depotd signals no process group a worker cannot speak for.

load helpers

# escapee.sh TRACE PIDFILE: writes its pid, then a stamp a line for ever.
write_escapee() {
	cat >"$DIR/escapee.sh" <<'EOF'
echo $$ >"$2.tmp" && mv "$2.tmp" "$2"
while :; do
	echo "escapee $$ $(date +%s%N)" >>"$1"
	sleep 0.01
done
EOF
}

# submit_next: a task on lock r1 that only writes its start to the trace.
submit_next() {
	submit --lock r1 -- sh -c "echo \"next \$\$ \$(date +%s%N)\" >>$DIR/trace"
	NEXT=$ID
}

# escaped PID: PID left the task's process group and session.
escaped() {
	[ "$(awk '{ print $6 }' "/proc/$1/stat")" = "$1" ]
}

# no_overlap: the trace's last escapee line is older than the next task's start.
no_overlap() {
	local last start
	last=$(awk '$1 == "escapee" { t = $3 } END { print t }' "$DIR/trace")
	start=$(awk '$1 == "next" { print $3 }' "$DIR/trace")
	echo "escapee's last stamp $last, next task's start $start"
	[ -n "$last" ] && [ -n "$start" ] && [ "$last" -lt "$start" ]
}

# escape_test HOW END: HOW is setsid or double-fork; END is cancel, timeout or exit.
escape_test() {
	local how=$1 end=$2 start timeout=() tail='exec sleep 60'
	depot_start
	write_escapee
	case $how in
	setsid) start="setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid" ;;
	double-fork) start="( setsid sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid & )" ;;
	esac
	case $end in
	timeout) timeout=(--timeout 1500ms) ;;
	exit) tail="while [ ! -s $DIR/esc.pid ]; do sleep 0.01; done; sleep 0.3" ;;
	esac
	submit --lock r1 "${timeout[@]}" -- sh -c "$start; $tail"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid")
	escaped "$esc"
	submit_next

	[ "$end" != cancel ] || ctl task cancel "$task" >/dev/null
	wait_for task_final "$task" 10s
	# Gone at once, not some time after the task ended.
	pid_gone "$esc"
	wait_for task_is "$NEXT" completed 10s
	no_overlap
	case $end in
	cancel) [ "$(task_reason "$task")" = canceled-by-user ] ;;
	timeout) [ "$(task_reason "$task")" = timeout ] ;;
	exit) [ "$(task_state "$task")" = completed ] ;;
	esac
}

task_final() {
	case $(task_state "$1") in completed | failed | canceled) return 0 ;; esac
	return 1
}

@test "a process that escaped an exec task with setsid is gone when the task is canceled, before the next holder of its lock starts" {
	escape_test setsid cancel
}

@test "a process that escaped an exec task with setsid is gone when the task times out, before the next holder of its lock starts" {
	escape_test setsid timeout
}

@test "a process that escaped an exec task with setsid is gone when the task's command exits, before the next holder of its lock starts" {
	escape_test setsid exit
}

@test "a process that escaped an exec task by a double fork into a new session is gone when the task is canceled, before the next holder of its lock starts" {
	escape_test double-fork cancel
}

@test "a supervised worker SIGKILLed right after starting a command: the command and what escaped it are gone before the next task on its lock starts" {
	depot_start "monitor.worker_timeout = 10s"
	write_escapee
	# The command's first act is to say its pid; the test kills its worker then.
	submit --lock r1 -- sh -c "echo \$\$ >$DIR/cmd.pid; setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid; exec sleep 60"
	task=$ID
	wait_for file_has "$DIR/cmd.pid"
	kill -KILL "$(worker_pid "$(worker_of_task "$task")")"
	submit_next
	wait_for task_is "$task" canceled 10s
	[ "$(task_reason "$task")" = worker-missing ]
	pid_gone "$(cat "$DIR/cmd.pid")"
	if [ -s "$DIR/esc.pid" ]; then pid_gone "$(cat "$DIR/esc.pid")"; fi
	wait_for task_is "$NEXT" completed 10s
	if grep -q '^escapee' "$DIR/trace"; then no_overlap; fi
}

# A process group of the test's own, in no way the daemon's.
start_victim() {
	setsid sleep 300 </dev/null >/dev/null 2>&1 3>&- &
	HAND_PIDS+=($!)
	VICTIM=$!
	wait_for escaped "$VICTIM"
}

@test "a worker's hello must carry the pid of the process that sends it" {
	depot_start "daemon.workers = 0"
	start_victim
	rogue "{\"cmd\": \"hello\", \"args\": {\"name\": \"rogue\", \"pid\": $VICTIM}}"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(jq -r .error.code <<<"$output")" = forbidden ]
}

@test "depotd never signals a process group a rogue worker reports unless it is made of that worker's own descendants" {
	depot_start "daemon.workers = 0"
	start_victim
	submit --lock r1 -- true
	task=$ID
	rogue '{"cmd": "hello", "args": {"name": "rogue", "pid": $PID}}' \
		'{"cmd": "next", "args": {"name": "rogue"}}' \
		"{\"cmd\": \"ack\", \"args\": {\"name\": \"rogue\", \"task\": $task}}" \
		"{\"cmd\": \"heartbeat\", \"args\": {\"name\": \"rogue\", \"task\": $task, \"pgid\": $VICTIM}}"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(sed -n 2p <<<"$output" | jq -r .result.id)" = "$task" ]
	# The rogue falls silent: its task is lost, and what it reported is not killed.
	wait_for task_is "$task" canceled 10s
	[ "$(task_reason "$task")" = worker-missing ]
	kill -0 "$VICTIM"
	grep -q "reported process group $VICTIM, which is not its own: ignored" "$DIR/depotd.log"
}

# recorded_pgid ID PGID: the database holds PGID as task ID's process group (for wait_for).
recorded_pgid() {
	[ "$(sqlite3 "$DIR/depot.db" ".timeout 2000" "SELECT pgid FROM task_processes WHERE task_id = $1")" = "$2" ]
}

# sleeper_recorded_within TIMEOUT: a command that runs on is started on
# lock r1 ($task), and its process group is in the database within TIMEOUT.
sleeper_recorded_within() {
	submit --lock r1 -- sh -c "echo \$\$ >$DIR/cmd.pid; exec sleep 60"
	task=$ID
	wait_for file_has "$DIR/cmd.pid"
	wait_for recorded_pgid "$task" "$(cat "$DIR/cmd.pid")" "$1"
}

@test "a supervised worker leads a session of its own, and its task's process group is verified and recorded" {
	depot_start "daemon.workers = 1"
	wait_for worker_is w1 online
	wpid=$(worker_pid w1)
	# Its session is its own: a group in it holds only its descendants (fence.c).
	[ "$(awk '{ print $6 }' "/proc/$wpid/stat")" = "$wpid" ]
	sleeper_recorded_within 5s
	if grep -q "which is not its own" "$DIR/depotd.log"; then false; fi
}

# A command still running a few milliseconds after its start has its group
# reported then, not at the next heartbeat (exec.c, EXEC_REPORT_AFTER_MS).
@test "a command that runs on has its process group recorded at once, long before the worker's next heartbeat" {
	depot_start "daemon.workers = 1" "monitor.heartbeat_interval = 20s" "monitor.worker_timeout = 60s"
	wait_for worker_is w1 online
	# The worker's heartbeats are 20 s apart: only the report can be this soon.
	sleeper_recorded_within 3s
}

# A hand-started worker's death alone leaves its orphans to init, where
# only the group and the tag find them: it reports at once, whatever the
# delay a supervised worker takes (held off here far past the test).
@test "a hand-started worker reports its command's process group at once, not after a supervised worker's delay" {
	depot_start "daemon.workers = 0" "monitor.heartbeat_interval = 20s" "monitor.worker_timeout = 60s"
	DEPOT_TEST_REPORT_AFTER_MS=600000 start_hand_worker h1
	wait_for worker_is h1 online
	sleeper_recorded_within 3s
}

# The worst moment for a supervised worker's delay before its report:
# depotd stopped (the command's own first act) and then it and the worker
# SIGKILLed together, the group recorded nowhere (the report is held off
# past the test). Nothing below a worker, no group: the next start finds
# the command by the tag in its environment (fence.c, kill_tagged) before
# the next holder of its lock starts. Judged by the command's own trace.
@test "depotd and its supervised worker SIGKILLed before the worker reported its command's group: the next start kills the command before the next holder of its lock starts" {
	depot_init "daemon.workers = 1" "monitor.heartbeat_interval = 20s" "monitor.worker_timeout = 60s"
	depot_launch_env DEPOT_TEST_REPORT_AFTER_MS=600000
	write_escapee
	wait_for worker_is w1 online
	w1=$(worker_pid w1)
	submit --lock r1 -- sh -c "kill -STOP $DEPOT_PID; exec sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid")
	[ "$(awk '{ print $3 }' "/proc/$DEPOT_PID/stat")" = T ]
	kill -KILL "$w1"
	depot_kill
	# The group is recorded nowhere: only the tag can find the command.
	[ "$(sqlite3 "$DIR/depot.db" ".timeout 2000" "SELECT pgid FROM task_processes WHERE task_id = $task")" = 0 ]
	# It outlived both, below no worker.
	kill -0 "$esc"
	depot_launch
	pid_gone "$esc"
	[ "$(task_reason "$task")" = daemon-restarted ]
	submit_next
	wait_for task_is "$NEXT" completed 10s
	no_overlap
}

# stored_progress ID PATH VALUE: the task row's progress holds VALUE at PATH ("$.unit"; "" for null).
stored_progress() {
	[ "$(sqlite3 "$DIR/depot.db" ".timeout 2000" "SELECT json_extract(progress, '$2') FROM tasks WHERE id = $1")" = "$3" ]
}

@test "the heartbeat that reports a command's process group writes the group, not the progress: the row takes that a heartbeat interval after the start, and the end row the last" {
	depot_start "daemon.workers = 1" "monitor.heartbeat_interval = 3s" "monitor.worker_timeout = 30s"
	submit -- sh -c "echo \$\$ >$DIR/cmd.pid; while [ ! -e $DIR/go ]; do sleep 0.05; done; echo bye"
	task=$ID
	wait_for file_has "$DIR/cmd.pid"
	wait_for recorded_pgid "$task" "$(cat "$DIR/cmd.pid")" 5s
	# The worker reported its unit (bytes) with the group; the row has the start's yet.
	[ "$(ctl --json task show "$task" | jq -r .progress.unit)" = bytes ]
	stored_progress "$task" '$.unit' ""
	wait_for stored_progress "$task" '$.unit' bytes 10s
	touch "$DIR/go"
	wait_for task_is "$task" completed
	stored_progress "$task" '$.done' 4
}

@test "a rogue worker leading its own session still cannot make depotd take a group of another session" {
	depot_start "daemon.workers = 0"
	start_victim
	submit --lock r1 -- true
	task=$ID
	printf '%s\n' '{"cmd": "hello", "args": {"name": "rogue", "pid": $PID}}' \
		'{"cmd": "next", "args": {"name": "rogue"}}' \
		"{\"cmd\": \"ack\", \"args\": {\"name\": \"rogue\", \"task\": $task}}" \
		"{\"cmd\": \"heartbeat\", \"args\": {\"name\": \"rogue\", \"task\": $task, \"pgid\": $VICTIM}}" \
		>"$DIR/rogue.in"
	# setsid: the rogue leads a session, as a supervised worker does.
	run setsid -w bash -c '[ "$(awk "{ print \$6 }" /proc/$$/stat)" = $$ ] || exit 9
		sed "s/\$PID/$$/g" "$1" >"$1.sent"; exec "$2" --lines "$3" 8000 <"$1.sent"' _ \
		"$DIR/rogue.in" "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/worker.sock"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 2p <<<"$output" | jq -r .result.id)" = "$task" ]
	wait_for task_is "$task" canceled 10s
	kill -0 "$VICTIM"
	grep -q "reported process group $VICTIM, which is not its own: ignored" "$DIR/depotd.log"
	[ -z "$(sqlite3 "$DIR/depot.db" "SELECT pgid FROM task_processes WHERE task_id = $task AND pgid != 0")" ]
}

@test "depotd refuses a reported process group of 1, which kill(2) would take as every process" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- true
	task=$ID
	rogue '{"cmd": "hello", "args": {"name": "rogue", "pid": $PID}}' \
		'{"cmd": "next", "args": {"name": "rogue"}}' \
		"{\"cmd\": \"ack\", \"args\": {\"name\": \"rogue\", \"task\": $task}}" \
		"{\"cmd\": \"heartbeat\", \"args\": {\"name\": \"rogue\", \"task\": $task, \"pgid\": 1}}"
	echo "$output"
	[ "$(sed -n 3p <<<"$output" | jq .result.run)" = true ]
	code=$(sed -n 4p <<<"$output" | jq -r '.error.code // "accepted"')
	if [ "$code" = accepted ]; then
		# Before its monitor could act on it: kill(-1) would take this test's every process.
		depot_kill
		false
	fi
	[ "$code" = bad_request ]
	wait_for task_is "$task" canceled 10s
}

# hand_task_with_escapee: on hand-started worker h1 ($h1), task $task holds
# r1 and has left a setsid escapee ($esc) writing to the trace; h2 is idle
# and the next task on r1 ($NEXT) waits.
hand_task_with_escapee() {
	write_escapee
	start_hand_worker h1
	h1=$LAST_HAND_PID
	wait_for worker_is h1 online
	submit --lock r1 -- sh -c "setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid; exec sleep 60"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid")
	start_hand_worker h2
	wait_for worker_is h2 online
	submit_next
}

@test "a hand-started worker stopped and declared missing: what its task started, also what escaped with setsid, is killed before the next holder of its lock starts" {
	depot_start "daemon.workers = 0"
	hand_task_with_escapee

	kill -STOP "$h1"
	wait_for task_is "$task" canceled 10s
	kill -CONT "$h1"
	[ "$(task_reason "$task")" = worker-missing ]
	pid_gone "$esc"
	wait_for task_is "$NEXT" completed 10s
	no_overlap
}

@test "when cancel_grace runs out on a hand-started worker, depotd kills what its task started, also what escaped with setsid, before the next holder of its lock starts" {
	depot_start "daemon.workers = 0"
	write_escapee
	start_hand_worker h1
	wait_for worker_is h1 online
	# SIGTERM ignored, by the command and (inherited) all it starts: only SIGKILL ends them.
	submit --lock r1 -- sh -c "trap '' TERM; setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid; while :; do sleep 0.05; done"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid")
	submit_next

	ctl task cancel "$task" >/dev/null
	wait_for task_is "$task" canceled 10s
	pid_gone "$esc"
	grep -q "did not stop it within cancel_grace" "$DIR/depotd.log"
	wait_for task_is "$NEXT" completed 15s
	no_overlap
}

@test "a supervised worker stopped and declared missing is killed with what its task started, also what escaped with setsid, before the next holder of its lock starts" {
	depot_start
	write_escapee
	submit --lock r1 -- sh -c "setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid; exec sleep 60"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid")
	submit_next

	kill -STOP "$(worker_pid "$(worker_of_task "$task")")"
	wait_for task_is "$task" canceled 10s
	[ "$(task_reason "$task")" = worker-missing ]
	pid_gone "$esc"
	wait_for task_is "$NEXT" completed 10s
	no_overlap
}

# The worker's command and what escaped it, judged by their own trace: a
# hand-started worker outlives a crashed depotd, and so does the command it
# runs. The next start ends them before it gives their lock to anyone
# (from the worker and process group recorded with the task), although a
# second worker is idle and the next task on the lock is waiting.
@test "depotd SIGKILLed while a hand-started worker runs a task: the next start kills what the task started, also what escaped with setsid, before the next holder of its lock starts" {
	depot_start "daemon.workers = 0" "monitor.heartbeat_interval = 2s" "monitor.worker_timeout = 30s"
	write_escapee
	start_hand_worker h1
	h1=$LAST_HAND_PID
	wait_for worker_is h1 online
	submit --lock r1 -- sh -c "echo \$\$ >$DIR/cmd.pid; setsid -f sh $DIR/escapee.sh $DIR/trace $DIR/esc.pid; exec sleep 60"
	task=$ID
	wait_for file_has "$DIR/esc.pid"
	esc=$(cat "$DIR/esc.pid") cmd=$(cat "$DIR/cmd.pid")
	start_hand_worker h2
	wait_for worker_is h2 online
	submit_next

	depot_kill
	# Both outlived the daemon: only the next start can end them in time.
	kill -0 "$esc"
	kill -0 "$cmd"
	depot_launch
	pid_gone "$esc"
	pid_gone "$cmd"
	[ "$(task_reason "$task")" = daemon-restarted ]
	wait_for task_is "$NEXT" completed 10s
	no_overlap
	# The worker itself is not the task's: it lives on and works.
	kill -0 "$h1"
}

# What escaped a hand-started worker's task with setsid goes to init when
# that worker is SIGKILLed outright: no tree reaches it any more, only the
# tag its environment was given (DEPOT_TASK_TAG). It is killed before the
# next holder of the lock starts (the soak's bug C).
@test "a hand-started worker SIGKILLed outright: what its task's command left with setsid, adopted by init, is killed before the next holder of its lock starts" {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 1s" "monitor.heartbeat_interval = 200ms"
	hand_task_with_escapee

	kill -KILL "$h1"
	wait "$h1" 2>/dev/null || true
	# It lives on, no longer below any worker.
	kill -0 "$esc"
	[ "$(awk '{ print $4 }' "/proc/$esc/stat")" != "$h1" ]
	wait_for task_is "$task" canceled 10s
	[ "$(task_reason "$task")" = worker-missing ]
	pid_gone "$esc"
	wait_for task_is "$NEXT" completed 10s
	no_overlap
}
