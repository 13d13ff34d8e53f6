#!/usr/bin/env bats
# DESIGN §7 rule 3: a worker that says hello under a name that still has
# unfinished tasks gets them canceled with reason worker-restarted before
# it gets new work. worker_timeout is 10 s, so the heartbeat timeout cannot
# be what cancels the task.

load helpers

@test "a worker that comes back under the same name gets its unfinished task canceled with reason worker-restarted, then runs new work" {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 10s"
	start_hand_worker hand1
	wait_for worker_is hand1 online
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	run worker_of_task "$task"
	[ "$output" = hand1 ]
	submit --lock r1 -- sh -c 'echo after restart'
	next=$ID

	kill -KILL "$LAST_HAND_PID"
	t0=$(now_ms)
	start_hand_worker hand1
	wait_for task_is "$task" canceled 10s
	elapsed=$(($(now_ms) - t0))

	run task_reason "$task"
	[ "$output" = worker-restarted ]
	echo "canceled ${elapsed} ms after the restart"
	[ "$elapsed" -lt 5000 ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
	# The task that waited on r1 now runs, on the restarted hand1.
	wait_for task_is "$next" completed 10s
	run worker_of_task "$next"
	[ "$output" = hand1 ]
	run worker_pid hand1
	[ "$output" = "$LAST_HAND_PID" ]
}
