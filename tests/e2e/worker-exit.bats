#!/usr/bin/env bats
# DESIGN §7 rule 2: a supervised worker that exits is seen at once
# (SIGCHLD), without waiting for worker_timeout: its task is canceled
# (worker-missing), its reservations released, and it is restarted.
# worker_timeout is 10 s here, so only the SIGCHLD path can explain a
# cancel within a second.

load helpers

@test "a supervised worker killed while running a task is seen at once: the task is canceled with reason worker-missing well before worker_timeout" {
	depot_start "monitor.worker_timeout = 10s"
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	pid=$(worker_pid "$(worker_of_task "$task")")

	kill -KILL "$pid"
	t0=$(now_ms)
	wait_for task_is "$task" canceled 10s
	elapsed=$(($(now_ms) - t0))

	echo "canceled ${elapsed} ms after the worker was killed"
	[ "$elapsed" -lt 1000 ]
	run task_reason "$task"
	[ "$output" = worker-missing ]
	# Its command does not outlive it.
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
}

@test "a supervised worker that exits is restarted under its name with a new pid, and the task waiting on its lock then runs" {
	depot_start "monitor.worker_timeout = 10s"
	submit --lock r1 -- sleep 30
	first=$ID
	wait_for task_is "$first" running
	submit --lock r1 -- sh -c 'echo next'
	second=$ID
	name=$(worker_of_task "$first")
	old=$(worker_pid "$name")

	kill -KILL "$old"

	wait_for task_is "$first" canceled 5s
	wait_for worker_replaced "$name" "$old" 10s
	wait_for workers_online 2 10s
	wait_for task_is "$second" completed 10s
	run ctl task log "$second"
	[ "$output" = next ]
	# And the restarted worker takes work too: two tasks that must overlap.
	submit --shared r2 -- sh -c "touch $DIR/a; while [ ! -e $DIR/b ]; do sleep 0.05; done"
	a=$ID
	submit --shared r2 -- sh -c "touch $DIR/b; while [ ! -e $DIR/a ]; do sleep 0.05; done"
	b=$ID
	run ctl task wait --timeout 20s "$a" "$b"
	[ "$status" -eq 0 ]
}
