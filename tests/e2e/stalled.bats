#!/usr/bin/env bats
# DESIGN §7 rule 6: a running task whose progress has not changed for
# stall_after is reported stalled (not a state); nothing cancels it
# automatically unless it has a timeout. An exec task's progress is the
# bytes of output it has written. stall_after is 1 s here.

load helpers

task_stalled() {
	[ "$(ctl --json task show "$1" | jq -r .stalled)" = true ]
}

@test "a running task whose progress has not moved for stall_after is shown stalled: true by task show --json and STALLED by task list" {
	depot_start "monitor.stall_after = 1s"
	submit -- sleep 30
	task=$ID
	wait_for task_is "$task" running

	wait_for task_stalled "$task" 10s
	seen=$(now_ms)

	run ctl --json task show "$task"
	[ "$(jq -r .state <<<"$output")" = running ]
	started=$(rfc3339_ms "$(jq -r .started_at <<<"$output")")
	echo "stalled seen $((seen - started)) ms after the start"
	[ $((seen - started)) -ge 1000 ]
	run ctl task list
	[ "$status" -eq 0 ]
	line=$(grep -E "^$task " <<<"$output")
	[[ $line == *running* ]]
	[[ $line == *STALLED* ]]
}

@test "a task that keeps writing output (a line every 0.2 s) is never shown stalled" {
	depot_start "monitor.stall_after = 1s"
	submit -- sh -c 'while :; do echo tick; sleep 0.2; done'
	task=$ID
	wait_for task_is "$task" running

	# The point is that time passes: watch it for 2.5 s, over two stall_afters.
	end=$(($(now_ms) + 2500))
	while [ "$(now_ms)" -lt "$end" ]; do
		run ctl --json task show "$task"
		[ "$(jq -r .state <<<"$output")" = running ]
		[ "$(jq -r .stalled <<<"$output")" = false ]
		sleep 0.1
	done
	[ "$(jq -r .progress.done <<<"$output")" -gt 0 ]
	run ctl task list
	[[ $output != *STALLED* ]]
}

@test "nothing cancels a stalled task automatically: it stays running and stalled" {
	depot_start "monitor.stall_after = 1s"
	submit -- sleep 30
	task=$ID
	wait_for task_stalled "$task" 10s

	# The point is that time passes: three more stall_afters.
	sleep 3

	run ctl --json task show "$task"
	[ "$(jq -r .state <<<"$output")" = running ]
	[ "$(jq -r .stalled <<<"$output")" = true ]
	[ "$(jq -r .error <<<"$output")" = null ]
	[ "$(jq -r .finished_at <<<"$output")" = null ]
}

@test "a task with a timeout (--timeout 1s) that runs longer is stopped and ends failed with reason timeout" {
	depot_start "monitor.stall_after = 1s"
	submit --timeout 1s -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"

	wait_for task_is "$task" failed 10s

	run task_reason "$task"
	[ "$output" = timeout ]
	run ctl --json task show "$task"
	[ "$(jq -r .timeout <<<"$output")" = 1000 ]
	ran=$(($(rfc3339_ms "$(jq -r .finished_at <<<"$output")") - $(rfc3339_ms "$(jq -r .started_at <<<"$output")")))
	echo "ran ${ran} ms"
	[ "$ran" -ge 1000 ]
	[ "$ran" -lt 5000 ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
}
