#!/usr/bin/env bats
# DESIGN §7 rule 1: a worker that stops heartbeating for worker_timeout is
# missing; its task is canceled (worker-missing), its reservations are
# released, and no new work goes to it. Detection takes at most
# worker_timeout + check_interval (1500 ms + 200 ms here).

load helpers

@test "a supervised worker that stops heartbeating is marked missing and its running task is canceled with reason worker-missing within worker_timeout + check_interval" {
	depot_start
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	name=$(worker_of_task "$task")
	pid=$(worker_pid "$name")

	kill -STOP "$pid"
	t0=$(now_ms)
	wait_for task_is "$task" canceled 10s
	elapsed=$(($(now_ms) - t0))

	run task_reason "$task"
	[ "$output" = worker-missing ]
	echo "canceled ${elapsed} ms after the worker stopped"
	[ "$elapsed" -lt 4000 ]
	# The command of a lost worker is killed before its lock is given up.
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
}

@test "the reservations of a missing worker's task are released: the task waiting on the same resource then runs" {
	depot_start
	submit --lock r1 -- sleep 30
	first=$ID
	wait_for task_is "$first" running
	submit --lock r1 -- sh -c 'echo second'
	second=$ID
	run task_state "$second"
	[ "$output" = waiting ]

	kill -STOP "$(worker_pid "$(worker_of_task "$first")")"

	wait_for task_is "$second" completed 10s
	run task_reason "$first"
	[ "$output" = worker-missing ]
	run ctl task log "$second"
	[ "$output" = second ]
}

@test "a supervised worker found missing is replaced by a new process under the same name" {
	depot_start
	submit --lock r1 -- sleep 30
	wait_for task_is "$ID" running
	name=$(worker_of_task "$ID")
	old=$(worker_pid "$name")

	kill -STOP "$old"

	wait_for task_is "$ID" canceled 10s
	wait_for worker_replaced "$name" "$old" 10s
	wait_for pid_gone "$old" 5s
}

@test "no new work goes to a missing worker: tasks submitted after it went missing all run elsewhere" {
	depot_start "daemon.workers = 0"
	start_hand_worker hand1
	stopped=$LAST_HAND_PID
	start_hand_worker hand2
	wait_for worker_is hand1 online
	wait_for worker_is hand2 online

	# hand1 is idle, its long poll for work pending in the daemon.
	kill -STOP "$stopped"
	wait_for worker_is hand1 missing 10s

	ids=()
	for i in 1 2 3 4 5 6; do
		submit -- sh -c "echo task $i"
		ids+=("$ID")
	done
	run ctl task wait --timeout 20s "${ids[@]}"
	[ "$status" -eq 0 ]
	for id in "${ids[@]}"; do
		run worker_of_task "$id"
		[ "$output" = hand2 ]
	done
	run worker_state hand1
	[ "$output" = missing ]
}

@test "an unsupervised worker (started by hand) that stops heartbeating is handled the same way: missing, task canceled with worker-missing in time, lock released" {
	depot_start "daemon.workers = 0"
	start_hand_worker hand1
	hand1=$LAST_HAND_PID
	wait_for worker_is hand1 online
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	first=$ID
	wait_for task_is "$first" running
	wait_for file_has "$DIR/cmd.pid"
	run worker_of_task "$first"
	[ "$output" = hand1 ]
	# A second worker to take the next task on r1 once hand1 is lost.
	start_hand_worker hand2
	wait_for worker_is hand2 online
	submit --lock r1 -- sh -c 'echo after'
	second=$ID

	kill -STOP "$hand1"
	t0=$(now_ms)
	wait_for task_is "$first" canceled 10s
	elapsed=$(($(now_ms) - t0))

	echo "canceled ${elapsed} ms after the worker stopped"
	[ "$elapsed" -lt 4000 ]
	run task_reason "$first"
	[ "$output" = worker-missing ]
	run worker_state hand1
	[ "$output" = missing ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 5s
	wait_for task_is "$second" completed 10s
	run worker_of_task "$second"
	[ "$output" = hand2 ]
}
