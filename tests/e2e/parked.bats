#!/usr/bin/env bats
# parked.bats: requests answered later (task.wait, a worker's next) end
# with their client, are capped per peer, and never starve the rest:
# the owner's ping is answered whatever others leave waiting.

load helpers

# wait_request ID: a raw task.wait for ID, as a client that gives up would send it.
wait_request() {
	printf '{"cmd": "task.wait", "args": {"ids": [%s]}}' "$1"
}

# parked_is FIELD N: status says .control.FIELD is N (for wait_for).
parked_is() {
	[ "$(ctl --json status | jq ".control.$1")" = "$2" ]
}

@test "task.wait requests whose clients went away are dropped: the parked count returns to 0 and ping answers at once" {
	depot_start
	submit -- sleep 60
	long=$ID
	wait_for task_is "$long" running
	pids=()
	for i in $(seq 1 40); do
		"$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 60000 \
			< <(wait_request "$long") >/dev/null 2>&1 &
		pids+=($!)
	done
	# depotctl's own wait too.
	"$DEPOT_BIN/depotctl" -d "$DIR" task wait "$long" >/dev/null 2>&1 &
	pids+=($!)
	HAND_PIDS+=("${pids[@]}")
	wait_for parked_is parked 41 20s

	# The clients go away as an impatient user's would.
	for pid in "${pids[@]}"; do kill -TERM "$pid"; done
	for pid in "${pids[@]}"; do wait "$pid" || true; done

	wait_for parked_is parked 0 5s
	t0=$(now_ms)
	run ctl ping
	[ "$status" -eq 0 ]
	[ $(($(now_ms) - t0)) -lt 1000 ]
	[ "$(task_state "$long")" = running ]
}

@test "a peer over [limits] parked_requests_per_peer is refused, naming the limit, while ping still answers" {
	depot_start "limits.parked_requests_per_peer = 3"
	submit -- sleep 60
	long=$ID
	wait_for task_is "$long" running
	pids=()
	for i in 1 2 3; do
		wait_request "$long" |
			"$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 20000 >/dev/null 2>&1 &
		pids+=($!)
		HAND_PIDS+=($!)
	done
	wait_for parked_is parked 3 5s

	run bash -c 'printf "%s" "$1" | "$2/tests/nng-send" "ipc://$3/run/control.sock" 3000' _ \
		"$(wait_request "$long")" "$DEPOT_BIN" "$DIR"

	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .error.code)" = unavailable ]
	[[ $(echo "$output" | jq -r .error.message) == *"parked_requests_per_peer"* ]]
	run ctl ping
	[ "$status" -eq 0 ]
	# The waits within the cap are answered when the task ends.
	ctl task cancel "$long" >/dev/null
	for pid in "${pids[@]}"; do
		wait "$pid"
	done
	[ "$(ctl --json status | jq .control.parked)" -eq 0 ]
}

@test "a worker whose parked next died gets no assignment: the task waits and runs when the worker is back" {
	depot_start "daemon.workers = 0"
	start_hand_worker hand1
	wait_for worker_is hand1 online
	wait_for parked_is worker_polls 1 5s
	kill -KILL "$LAST_HAND_PID"
	wait "$LAST_HAND_PID" 2>/dev/null || true
	wait_for parked_is worker_polls 0 5s

	submit -- echo ran
	task=$ID

	sleep 0.5
	[ "$(task_state "$task")" = waiting ]
	start_hand_worker hand1
	wait_for task_is "$task" completed failed canceled 10s
	[ "$(task_state "$task")" = completed ]
	run ctl task log "$task"
	[ "$output" = ran ]
}
