#!/usr/bin/env bats
# DESIGN §11: with --retries N a task that fails with `exception`, or is
# canceled with `worker-missing`, `daemon-restarted` or `daemon-stopped`, is submitted again
# (after a 1 s back-off) as a new task naming the old one in `retry_of`, up
# to N times. A user's cancel and a command's own non-zero exit are never
# retried. Tasks waiting on it with --after follow the retry.

load helpers

field() {
	ctl --json task show "$1" | jq -r "$2"
}

ms_of() {
	rfc3339_ms "$(field "$1" ".$2")"
}

# retry_id ID: the id of the task that retries task ID (empty when none).
retry_id() {
	ctl --json task list | jq -r --argjson id "$1" '.[] | select(.retry_of == $id) | .id'
}

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# has_retry ID: a task retries task ID (for wait_for).
has_retry() {
	[ -n "$(retry_id "$1")" ]
}

@test "a task whose worker is SIGKILLed is canceled (worker-missing) and retried as a new task with retry_of, which completes; a task --after it follows the retry" {
	depot_start
	submit --retries 2 -- sh -c "echo \$\$ >> $DIR/cmd.pids; sleep 2; echo done"
	first=$ID
	submit --after "$first" -- true
	next=$ID
	wait_for task_is "$first" running
	wait_for file_has "$DIR/cmd.pids"
	[ "$(field "$first" .retries)" = 2 ]

	kill -KILL "$(worker_pid "$(worker_of_task "$first")")"

	wait_for task_is "$first" canceled 5s
	[ "$(task_reason "$first")" = worker-missing ]
	wait_for has_retry "$first" 5s
	second=$(retry_id "$first")
	[ "$second" -gt "$first" ]
	run ctl task wait --timeout 20s "$second"
	[ "$status" -eq 0 ]
	[ "$(task_state "$second")" = completed ]
	[ "$(field "$second" .retry_of)" = "$first" ]
	[ "$(field "$second" .retries)" = 1 ]
	[ "$(field "$second" .name)" = "$(field "$first" .name)" ]
	[ "$(ctl --json task show "$second" | jq -c .args)" = "$(ctl --json task show "$first" | jq -c .args)" ]
	run ctl task log "$second"
	[ "$output" = done ]
	# The back-off: the retry started a second or so after the first ended.
	gap=$(($(ms_of "$second" started_at) - $(ms_of "$first" finished_at)))
	echo "retry started ${gap} ms after the first attempt ended"
	[ "$gap" -ge 900 ]
	# The first attempt stays as it ended; its command ran once more in the retry.
	[ "$(task_state "$first")" = canceled ]
	[ "$(task_reason "$first")" = worker-missing ]
	[ "$(wc -l <"$DIR/cmd.pids")" -eq 2 ]
	# The task waiting on the first follows the retry, and runs after it.
	run ctl task wait --timeout 10s "$next"
	[ "$status" -eq 0 ]
	[ "$(field "$next" .after)" = "$second" ]
	[ "$(ms_of "$next" started_at)" -ge "$(ms_of "$second" finished_at)" ]
	# One retry was enough.
	[ -z "$(retry_id "$second")" ]
}

@test "a task canceled by the user is never retried" {
	depot_start
	submit --retries 3 -- sleep 30
	task=$ID
	wait_for task_is "$task" running

	ctl task cancel "$task"

	wait_for task_is "$task" canceled 5s
	[ "$(task_reason "$task")" = canceled-by-user ]
	# Time passing is the point: longer than the 1 s back-off.
	sleep 1.5
	[ -z "$(retry_id "$task")" ]
	[ "$(ctl --json task list | jq length)" -eq 1 ]
}

@test "a command that exits non-zero (exit-status) is not retried" {
	depot_start
	submit --retries 2 -- sh -c 'exit 3'
	task=$ID

	run ctl task wait --timeout 10s "$task"
	[ "$status" -eq 1 ]
	[ "$(task_state "$task")" = failed ]
	[ "$(task_reason "$task")" = exit-status ]
	[ "$(field "$task" .result.exit_status)" = 3 ]
	# Time passing is the point: longer than the 1 s back-off.
	sleep 1.5
	[ -z "$(retry_id "$task")" ]
	[ "$(ctl --json task list | jq length)" -eq 1 ]
}

@test "a task that cannot start its command fails with exception and is retried, once for --retries 1" {
	depot_start
	submit --retries 1 -- /nonexistent
	first=$ID

	wait_for task_is "$first" failed 10s
	[ "$(task_reason "$first")" = exception ]
	[[ $(field "$first" .error.message) == */nonexistent* ]]
	wait_for has_retry "$first" 5s
	second=$(retry_id "$first")
	wait_for task_is "$second" failed 10s
	[ "$(task_reason "$second")" = exception ]
	[ "$(field "$second" .retry_of)" = "$first" ]
	[ "$(field "$second" .retries)" = 0 ]
	gap=$(($(ms_of "$second" started_at) - $(ms_of "$first" finished_at)))
	echo "retry started ${gap} ms after the first attempt ended"
	[ "$gap" -ge 900 ]
	# Time passing is the point: no third attempt after another back-off.
	sleep 1.5
	[ -z "$(retry_id "$second")" ]
	[ "$(ctl --json task list | jq length)" -eq 2 ]
}

@test "a task running when depotd is SIGKILLed is canceled (daemon-restarted) at restart and retried" {
	depot_start
	submit --retries 1 -- sh -c "echo \$\$ >> $DIR/cmd.pids; exec sleep 30"
	first=$ID
	wait_for task_is "$first" running
	wait_for file_has "$DIR/cmd.pids"

	depot_kill
	depot_launch

	wait_for task_is "$first" canceled 10s
	[ "$(task_reason "$first")" = daemon-restarted ]
	wait_for has_retry "$first" 5s
	second=$(retry_id "$first")
	wait_for task_is "$second" running 10s
	[ "$(field "$second" .retry_of)" = "$first" ]
	[ "$(field "$second" .retries)" = 0 ]
	wait_for lines_at_least "$DIR/cmd.pids" 2 5s
	# The first attempt's command is gone; the retry's runs.
	wait_for pid_gone "$(head -n1 "$DIR/cmd.pids")" 5s
	kill -0 "$(tail -n1 "$DIR/cmd.pids")"
}
