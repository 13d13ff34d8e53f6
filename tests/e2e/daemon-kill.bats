#!/usr/bin/env bats
# DESIGN §7 rule 5: depotd killed with SIGKILL loses nothing queued. At
# restart, tasks that were running become canceled with reason
# daemon-restarted (their workers are gone too), tasks that were canceling
# end as their cancel said (rule 11), and waiting tasks run in their
# original order.

load helpers

@test "after depotd is SIGKILLed and restarted, the running task is canceled with reason daemon-restarted and the waiting ones run in their original order" {
	depot_start
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	running=$ID
	wait_for task_is "$running" running
	wait_for file_has "$DIR/cmd.pid"
	waiting=()
	for i in 1 2 3 4 5; do
		submit --lock r1 -- sh -c "echo $i >> $DIR/order"
		waiting+=("$ID")
	done
	old_processes=$(pgrep -f "$DIR")
	[ -n "$old_processes" ]
	cmd_pid=$(cat "$DIR/cmd.pid")

	depot_kill
	depot_launch

	wait_for task_is "$running" canceled 10s
	run task_reason "$running"
	[ "$output" = daemon-restarted ]
	run ctl task wait --timeout 30s "${waiting[@]}"
	[ "$status" -eq 0 ]
	run cat "$DIR/order"
	[ "$output" = "$(printf '1\n2\n3\n4\n5')" ]
	# The order of started_at agrees with the order of submission.
	started=$(for id in "${waiting[@]}"; do ctl --json task show "$id" | jq -r .started_at; done)
	[ "$started" = "$(sort <<<"$started")" ]
	# Ids are never reused: a new task gets a larger id than every old one.
	submit -- true
	[ "$ID" -gt "${waiting[4]}" ]
	# Nothing of the old daemon is left: not its workers, not their commands.
	for pid in $old_processes "$cmd_pid"; do
		wait_for pid_gone "$pid" 5s
	done
}

@test "a task that was canceling when depotd was SIGKILLed ends as its cancel said (canceled-by-user) after the restart" {
	# The command ignores SIGTERM, so the task stays canceling for 5 s.
	depot_start "monitor.cancel_grace = 15s"
	submit --lock r1 -- sh -c "trap '' TERM; echo \$\$ > $DIR/cmd.pid; while :; do sleep 0.1; done"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	ctl task cancel "$task"
	run task_state "$task"
	[ "$output" = canceling ]

	depot_kill
	depot_launch

	wait_for task_is "$task" canceled 10s
	run task_reason "$task"
	[ "$output" = canceled-by-user ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 10s
	run ctl run --wait --lock r1 -- true
	[ "$status" -eq 0 ]
}
