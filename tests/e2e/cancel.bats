#!/usr/bin/env bats
# DESIGN §7 rule 4: a waiting task is canceled at once; a running one goes
# through canceling, its worker SIGTERMs the command's process group
# (SIGKILL after 5 s) and reports canceled; a worker that does not within
# cancel_grace is killed. A final task never changes.

load helpers

@test "canceling a waiting task cancels it at once with reason canceled-by-user" {
	depot_start
	submit --lock r1 -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit --lock r1 -- sh -c 'echo never'
	waiting=$ID

	run ctl --json task cancel "$waiting"

	[ "$status" -eq 0 ]
	[ "$(jq -r '.[0].state' <<<"$output")" = canceled ]
	run task_state "$waiting"
	[ "$output" = canceled ]
	run task_reason "$waiting"
	[ "$output" = canceled-by-user ]
	run ctl --json task show "$waiting"
	[ "$(jq -r .started_at <<<"$output")" = null ]
	[ "$(jq -r .finished_at <<<"$output")" != null ]
	run task_state "$holder"
	[ "$output" = running ]
}

@test "canceling a running task stops its command and the task ends canceled with reason canceled-by-user" {
	depot_start
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	pid=$(cat "$DIR/cmd.pid")
	kill -0 "$pid"

	run ctl --json task cancel "$task"

	[ "$status" -eq 0 ]
	state=$(jq -r '.[0].state' <<<"$output")
	[ "$state" = canceling ] || [ "$state" = canceled ]
	wait_for task_is "$task" canceled 5s
	run task_reason "$task"
	[ "$output" = canceled-by-user ]
	wait_for pid_gone "$pid" 2s
	# Its lock is free again.
	run ctl run --wait --lock r1 -- true
	[ "$status" -eq 0 ]
}

@test "a command that ignores SIGTERM is SIGKILLed 5 s after the cancel and the task ends canceled" {
	# cancel_grace longer than the worker's 5 s, so the worker's own
	# SIGKILL, not the daemon killing the worker, is what ends it.
	depot_start "monitor.cancel_grace = 15s"
	submit -- sh -c "trap '' TERM; echo \$\$ > $DIR/cmd.pid; while :; do sleep 0.1; done"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	pid=$(cat "$DIR/cmd.pid")
	worker=$(worker_of_task "$task")
	worker_before=$(worker_pid "$worker")

	ctl task cancel "$task"
	t0=$(now_ms)
	wait_for pid_gone "$pid" 12s
	elapsed=$(($(now_ms) - t0))

	echo "command gone ${elapsed} ms after the cancel"
	[ "$elapsed" -ge 4500 ]
	[ "$elapsed" -lt 9000 ]
	wait_for task_is "$task" canceled 5s
	run task_reason "$task"
	[ "$output" = canceled-by-user ]
	run worker_pid "$worker"
	[ "$output" = "$worker_before" ]
}

@test "a worker that does not stop a canceled task within cancel_grace is killed and the task ends canceled" {
	# worker_timeout long, so missing heartbeats are not what ends it.
	depot_start "monitor.cancel_grace = 1s" "monitor.worker_timeout = 20s"
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	worker=$(worker_of_task "$task")
	hung=$(worker_pid "$worker")
	kill -STOP "$hung"

	ctl task cancel "$task"
	t0=$(now_ms)
	run task_state "$task"
	[ "$output" = canceling ]
	wait_for task_is "$task" canceled 10s
	elapsed=$(($(now_ms) - t0))

	echo "canceled ${elapsed} ms after the cancel"
	[ "$elapsed" -lt 5000 ]
	run task_reason "$task"
	[ "$output" = canceled-by-user ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
	wait_for pid_gone "$hung" 5s
	wait_for worker_replaced "$worker" "$hung" 10s
	run ctl run --wait --lock r1 -- true
	[ "$status" -eq 0 ]
}

# The worker reads a command's output in bounded turns (exec.c, pump): a
# command that writes without end, or leaves a child doing so, cannot keep
# it from the cancel or the exit. Here its pipe is made 1 MiB (F_SETPIPE_SZ,
# which a command may do to its own stdout), so that a 64 KiB read does
# not empty it, and four processes write: where they outpace one reader
# (more CPUs than this 2-core machine has), the pipe is never empty.
FLOOD_PY='import fcntl, os, sys
fcntl.fcntl(1, 1031, 1 << 20)
for _ in range(3):
    if os.fork() == 0:
        break
buf = b"flood" * 13107
while True:
    os.write(1, buf)
'

@test "a command that writes without end is still canceled with reason canceled-by-user, its worker kept" {
	depot_start "daemon.workers = 1" "tasks.log_max = 64KiB"
	w1=$(worker_pid w1)
	submit -- sh -c "echo \$\$ >$DIR/cmd.pid; exec python3 -c \"\$1\"" sh "$FLOOD_PY"
	task=$ID
	wait_for file_has "$DIR/cmd.pid"
	ctl task cancel "$task" >/dev/null
	wait_for task_is "$task" canceled 10s
	[ "$(task_reason "$task")" = canceled-by-user ]
	pid_gone "$(cat "$DIR/cmd.pid")"
	# Stopped by its own worker, not by depotd killing it after cancel_grace.
	[ "$(worker_pid w1)" = "$w1" ]
}

@test "a command that exits while its child writes without end completes, and the child is gone" {
	depot_start "daemon.workers = 1" "tasks.log_max = 64KiB"
	submit -- sh -c "python3 -c \"\$1\" & echo \$! >$DIR/child.pid; sleep 0.5; exit 0" sh "$FLOOD_PY"
	task=$ID
	wait_for task_is "$task" completed 15s
	pid_gone "$(cat "$DIR/child.pid")"
	[ "$(ctl task log "$task" | head -c 5)" = flood ]
}

@test "canceling a task that already ended leaves it as it was" {
	depot_start
	run ctl run --wait -- sh -c 'echo done'
	[ "$status" -eq 0 ]
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	before=$(ctl --json task show "$id")

	run ctl task cancel "$id"

	[ "$status" -eq 0 ]
	[[ $output == *"$id"*completed* ]]
	after=$(ctl --json task show "$id")
	[ "$(jq -S 'del(.stalled)' <<<"$before")" = "$(jq -S 'del(.stalled)' <<<"$after")" ]
	[ "$(jq -r .state <<<"$after")" = completed ]
	[ "$(jq -r .error <<<"$after")" = null ]
}

@test "canceling an unknown task id exits 6 (not found) with a not_found message naming the id" {
	depot_start

	run ctl task cancel 987654

	[ "$status" -eq 6 ]
	[[ $output == *987654* ]]
	[[ $output == *not_found* || $output == *"not found"* || $output == *"no task"* ]]
}

# retry_of ID: ids of the tasks that retry task ID.
retries_of() {
	ctl --json task list | jq -c --argjson id "$1" '[.[] | select(.retry_of == $id) | .id]'
}

@test "a user's cancel stands when the task's worker is then lost: canceled-by-user, never retried" {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 1s" "monitor.heartbeat_interval = 200ms"
	start_hand_worker h1
	h1=$LAST_HAND_PID
	wait_for worker_is h1 online
	submit --retries 1 -- sleep 30
	task=$ID
	wait_for task_is "$task" running
	# Stopped, it cannot stop the command: the cancel is still pending when it is found missing.
	kill -STOP "$h1"
	ctl task cancel "$task"
	[ "$(task_state "$task")" = canceling ]
	wait_for task_is "$task" canceled 10s
	kill -CONT "$h1"
	[ "$(task_reason "$task")" = canceled-by-user ]
	[ "$(retries_of "$task")" = "[]" ]
	grep -q "worker h1" "$DIR/depotd.log"
}

@test "a task that timed out stays timed out when its worker restarts before it stops: failed, timeout, never retried" {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 30s"
	start_hand_worker h1
	h1=$LAST_HAND_PID
	wait_for worker_is h1 online
	# It ignores SIGTERM, so it is still running when its worker is replaced.
	submit --retries 1 --timeout 500ms -- sh -c "trap '' TERM; sleep 30"
	task=$ID
	wait_for task_is "$task" canceling 10s
	kill -KILL "$h1"
	wait "$h1" 2>/dev/null || true
	start_hand_worker h1
	wait_for task_is "$task" failed canceled 10s
	[ "$(task_state "$task")" = failed ]
	[ "$(task_reason "$task")" = timeout ]
	[ "$(retries_of "$task")" = "[]" ]
}
