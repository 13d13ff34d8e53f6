#!/usr/bin/env bats
# leases.bats: an assignment is a lease. A worker starts nothing before
# depotd answers its ack; an assignment not acknowledged in time (2 ×
# heartbeat_interval + 1 s), or whose worker went away, asks again or said
# hello first, never started: the task waits again, first in line, and runs
# once elsewhere. It is never canceled or retried for it (issue 10 item 2).
# Judged by what ran: each command appends its worker's pid to a trace.

load helpers

# trace_cmd: a command that appends the pid of the worker running it to $DIR/trace.
trace_cmd() {
	echo "echo \$PPID >> $DIR/trace"
}

# trace_lines: how many times a command ran.
trace_lines() {
	[ -f "$DIR/trace" ] || { echo 0; return; }
	wc -l <"$DIR/trace"
}

# parked_polls N: N workers' next requests are parked (for wait_for).
parked_polls() {
	[ "$(ctl --json status | jq .control.worker_polls)" = "$1" ]
}

# hand_log_has NAME TEXT: the hand-started worker NAME logged TEXT (for wait_for).
hand_log_has() {
	grep -qF -- "$2" "$DIR/hand-$1.log"
}

# no_retry ID: no task retries task ID.
no_retry() {
	[ -z "$(ctl --json task list | jq -r --argjson id "$1" '.[] | select(.retry_of == $id) | .id')" ]
}

# assigned_to_stopped_worker: a task on r1 ($task) assigned to hand-started
# worker hand1 ($stopped), stopped with its next parked: the assignment
# waits unread in its socket. Leases run out after 2 s here.
assigned_to_stopped_worker() {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 60s" \
		"monitor.heartbeat_interval = 500ms"
	start_hand_worker hand1
	stopped=$LAST_HAND_PID
	wait_for parked_polls 1 5s
	kill -STOP "$stopped"
	submit --lock r1 -- sh -c "$(trace_cmd)"
	task=$ID
	wait_for task_is "$task" running 5s
}

@test "a worker stopped with its assignment unread: the lease runs out, the task runs once on another worker, and the late ack is told not to run it" {
	assigned_to_stopped_worker
	[ "$(worker_of_task "$task")" = hand1 ]

	# 2 × 500 ms + 1 s later it waits again, still holding r1: first in line.
	wait_for task_is "$task" waiting 5s
	submit --lock r1 -- sh -c "$(trace_cmd)"
	second=$ID
	start_hand_worker hand2
	runner=$LAST_HAND_PID
	wait_for task_is "$task" completed 10s
	[ "$(worker_of_task "$task")" = hand2 ]
	[ "$(task_reason "$task")" = "" ]
	no_retry "$task"
	wait_for task_is "$second" completed 10s

	# The stopped worker reads its old assignment, acks it and is told no.
	kill -CONT "$stopped"
	wait_for hand_log_has hand1 "task $task: not ours any more; not started" 10s
	# Each command ran once, both on hand2: hand1 ran nothing.
	[ "$(trace_lines)" -eq 2 ]
	[ "$(sort -u "$DIR/trace")" = "$runner" ]
	grep -q "task $task: worker hand1 never acknowledged it (its lease ran out)" "$DIR/depotd.log"
}

@test "a rogue worker that takes an assignment and disconnects without an ack: the task waits again and runs once, not canceled" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- sh -c "$(trace_cmd)"
	task=$ID
	rogue '{"cmd":"hello","args":{"name":"rogue","pid":$PID}}' \
		'{"cmd":"next","args":{"name":"rogue"}}'
	echo "$output"
	[ "$status" -eq 0 ]
	# It was given the task, and went away with it unread by anyone.
	[ "$(sed -n 2p <<<"$output" | jq .result.id)" = "$task" ]
	wait_for task_is "$task" waiting 5s
	grep -q "task $task: worker rogue never acknowledged it (its connection closed)" "$DIR/depotd.log"

	start_hand_worker hand1
	wait_for task_is "$task" completed 10s
	no_retry "$task"
	[ "$(trace_lines)" -eq 1 ]
}

@test "a worker that asks next again without an ack gets the same task again; an ack then says run, a second ack the same" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- sh -c "$(trace_cmd)"
	task=$ID
	rogue '{"cmd":"hello","args":{"name":"rogue","pid":$PID}}' \
		'{"cmd":"next","args":{"name":"rogue"}}' \
		'{"cmd":"next","args":{"name":"rogue"}}' \
		"{\"cmd\":\"ack\",\"args\":{\"name\":\"rogue\",\"task\":$task}}" \
		"{\"cmd\":\"ack\",\"args\":{\"name\":\"rogue\",\"task\":$task}}" \
		"{\"cmd\":\"done\",\"args\":{\"name\":\"rogue\",\"task\":$task,\"state\":\"completed\",\"result\":null,\"error\":null}}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 2p <<<"$output" | jq .result.id)" = "$task" ]
	[ "$(sed -n 3p <<<"$output" | jq .result.id)" = "$task" ]
	[ "$(sed -n 4p <<<"$output" | jq .result.run)" = true ]
	[ "$(sed -n 5p <<<"$output" | jq .result.run)" = true ]
	[ "$(task_state "$task")" = completed ]
	grep -q "task $task: worker rogue never acknowledged it (it asked for work again)" "$DIR/depotd.log"
}

@test "an ack for a task that is not the worker's is answered no" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- sh -c "$(trace_cmd)"
	task=$ID
	rogue '{"cmd":"hello","args":{"name":"rogue","pid":$PID}}' \
		"{\"cmd\":\"ack\",\"args\":{\"name\":\"rogue\",\"task\":$task}}" \
		'{"cmd":"ack","args":{"name":"rogue","task":0}}'
	echo "$output"
	[ "$(sed -n 2p <<<"$output" | jq .result.run)" = false ]
	[ "$(sed -n 3p <<<"$output" | jq -r .error.code)" = bad_request ]
	[ "$(task_state "$task")" = waiting ]
}

@test "a task canceled before its worker acknowledged it ends canceled and never runs" {
	assigned_to_stopped_worker
	ctl task cancel "$task"
	wait_for task_is "$task" canceled 5s
	[ "$(task_reason "$task")" = canceled-by-user ]
	kill -CONT "$stopped"
	wait_for hand_log_has hand1 "task $task: not ours any more; not started" 10s
	[ "$(trace_lines)" -eq 0 ]
	# hand1 is well and runs the next task.
	submit --lock r1 -- sh -c "$(trace_cmd)"
	wait_for task_is "$ID" completed 10s
	[ "$(trace_lines)" -eq 1 ]
}

@test "an assignment sent to a worker killed before reading it waits again and runs once on the worker that comes back under its name" {
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 60s"
	start_hand_worker hand1
	wait_for parked_polls 1 5s
	kill -STOP "$LAST_HAND_PID"
	submit -- sh -c "$(trace_cmd)"
	task=$ID
	wait_for task_is "$task" running 5s

	kill -KILL "$LAST_HAND_PID"
	wait "$LAST_HAND_PID" 2>/dev/null || true
	start_hand_worker hand1

	wait_for task_is "$task" completed 10s
	[ "$(task_reason "$task")" = "" ]
	no_retry "$task"
	[ "$(trace_lines)" -eq 1 ]
	[ "$(cat "$DIR/trace")" = "$LAST_HAND_PID" ]
}

@test "a done with next records the task's end first, then is answered with the next task as next would be; that assignment is a lease like any" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- sh -c "$(trace_cmd)"
	first=$ID
	submit --lock r1 -- sh -c "$(trace_cmd)"
	second=$ID
	rogue '{"cmd":"hello","args":{"name":"rogue","pid":$PID}}' \
		'{"cmd":"next","args":{"name":"rogue"}}' \
		"{\"cmd\":\"ack\",\"args\":{\"name\":\"rogue\",\"task\":$first}}" \
		"{\"cmd\":\"done\",\"args\":{\"name\":\"rogue\",\"task\":$first,\"state\":\"completed\",\"result\":null,\"error\":null,\"next\":true}}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 2p <<<"$output" | jq .result.id)" = "$first" ]
	[ "$(sed -n 3p <<<"$output" | jq .result.run)" = true ]
	# Both reserve r1: the second could be given only once the first's end released it.
	[ "$(sed -n 4p <<<"$output" | jq .result.id)" = "$second" ]
	[ "$(task_state "$first")" = completed ]
	# The rogue went away without acknowledging the second: it waits again, runs once elsewhere.
	wait_for task_is "$second" waiting 5s
	grep -q "task $second: worker rogue never acknowledged it (its connection closed)" "$DIR/depotd.log"
	start_hand_worker hand1
	wait_for task_is "$second" completed 10s
	no_retry "$second"
	[ "$(trace_lines)" -eq 1 ]
	[ "$(cat "$DIR/trace")" = "$LAST_HAND_PID" ]
}

@test "a done whose next is not true or false is refused whole: the task's end is not recorded" {
	depot_start "daemon.workers = 0"
	submit --lock r1 -- true
	task=$ID
	rogue '{"cmd":"hello","args":{"name":"rogue","pid":$PID}}' \
		'{"cmd":"next","args":{"name":"rogue"}}' \
		"{\"cmd\":\"ack\",\"args\":{\"name\":\"rogue\",\"task\":$task}}" \
		"{\"cmd\":\"done\",\"args\":{\"name\":\"rogue\",\"task\":$task,\"state\":\"completed\",\"result\":null,\"error\":null,\"next\":\"yes\"}}"
	echo "$output"
	[ "$(sed -n 4p <<<"$output" | jq -r .error.code)" = bad_request ]
	sed -n 4p <<<"$output" | jq -r .error.message | grep -q "'next' must be true or false"
	[ "$(task_state "$task")" = running ]
}

@test "a worker whose ack had to be retried (depotd frozen past its timeout) reports the task's end before it says hello again: the task ends completed" {
	# Leases of 2 × 10 s + 1 s outlast the freeze; the ack's own timeout is 10 s.
	depot_start "daemon.workers = 0" "monitor.worker_timeout = 120s" \
		"monitor.heartbeat_interval = 10s"
	start_hand_worker hand1
	wait_for parked_polls 1 5s
	kill -STOP "$LAST_HAND_PID"
	submit -- sh -c "$(trace_cmd)"
	task=$ID
	wait_for task_is "$task" running 5s
	# The worker reads its assignment and acks into a frozen daemon.
	kill -STOP "$DEPOT_PID"
	kill -CONT "$LAST_HAND_PID"
	wait_for hand_log_has hand1 "ack: " 20s
	kill -CONT "$DEPOT_PID"
	wait_for task_is "$task" completed 20s
	[ "$(task_reason "$task")" = "" ]
	[ "$(trace_lines)" -eq 1 ]
	# Then it said hello again, as after any failed request.
	wait_for hand_log_has hand1 "worker hand1 connected" 5s
	[ "$(grep -c "worker hand1 connected" "$DIR/hand-hand1.log")" -eq 2 ]
}
