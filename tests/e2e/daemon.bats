#!/usr/bin/env bats
# DESIGN §2–§4, §15: depotd owns its data directory alone, refuses a bad
# configuration or an unusable directory at start with a clear message,
# stops cleanly on SIGTERM (running tasks canceled with daemon-stopped,
# waiting ones kept), and survives requests it must refuse.

load helpers

# depotd_once ARG...: depotd in the foreground, bounded, for start-up errors.
depotd_once() {
	timeout 20 "$DEPOT_BIN/depotd" "$@" </dev/null 3>&-
}

@test "a second depotd on the same data directory refuses to start and says another depotd is using it" {
	depot_start

	run depotd_once -d "$DIR"

	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ $output == *"another depotd"* ]]
	[[ $output == *"$DEPOT_PID"* ]]
	# The first one is untouched.
	run ctl ping
	[ "$status" -eq 0 ]
	wait_for workers_online 2 5s
}

@test "an unknown key in depot.conf stops start-up with depot.conf:LINE: and the reason" {
	depot_init "monitor.no_such_key = 1"
	line=$(grep -n no_such_key "$DIR/depot.conf" | cut -d: -f1)

	run depotd_once -d "$DIR"

	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ $output == *"depot.conf:$line:"* ]]
	[[ $output == *no_such_key* ]]
}

@test "a bad value in depot.conf stops start-up with depot.conf:LINE: and the reason" {
	depot_init "monitor.worker_timeout = soon"
	line=$(grep -n worker_timeout "$DIR/depot.conf" | cut -d: -f1)

	run depotd_once -d "$DIR"

	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	[[ $output == *"depot.conf:$line:"* ]]
	[[ $output == *soon* || $output == *worker_timeout* ]]
	[ ! -S "$DIR/run/control.sock" ]
}

@test "a data directory whose control socket path would not fit in 107 bytes is refused with a clear message" {
	depot_init
	long=$DIR/$(printf 'd%.0s' $(seq 1 110))
	mkdir -p "$long"
	[ ${#long} -gt 110 ]

	run depotd_once -d "$long"

	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	# It says what is wrong (the path is too long for a socket) and names it.
	[[ $output == *"too long"* || $output == *"longer than"* ]]
	[[ $output == *socket* ]]
	[[ $output == *"$long"* ]]
}

@test "SIGTERM stops depotd cleanly (exit 0): the running task ends canceled with reason daemon-stopped and the waiting task runs after the next start" {
	depot_start
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	running=$ID
	wait_for task_is "$running" running
	wait_for file_has "$DIR/cmd.pid"
	submit --lock r1 -- sh -c "echo waited"
	waiting=$ID
	old_processes=$(pgrep -f "$DIR")
	t0=$(now_ms)

	depot_terminate

	echo "stopped in $(($(now_ms) - t0)) ms"
	[ "$DEPOT_STATUS" -eq 0 ]
	# cancel_grace is 3 s: the daemon does not linger past it.
	[ $(($(now_ms) - t0)) -lt 8000 ]
	for pid in $old_processes "$(cat "$DIR/cmd.pid")"; do
		wait_for pid_gone "$pid" 5s
	done
	grep -q 'stopped' "$DIR/depotd.log"

	restarted=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	depot_launch

	run task_state "$running"
	[ "$output" = canceled ]
	run task_reason "$running"
	[ "$output" = daemon-stopped ]
	wait_for task_is "$waiting" completed 10s
	started=$(ctl --json task show "$waiting" | jq -r .started_at)
	[[ ! $started < $restarted ]]
	run ctl task log "$waiting"
	[ "$output" = waited ]
}

@test "SIGTERM ends depotd within cancel_grace + 2 s, round after round, with a hand-started worker connected" {
	depot_init "daemon.workers = 0" "monitor.cancel_grace = 1s"
	start_hand_worker hand1
	for i in $(seq 1 25); do
		depot_launch
		wait_for worker_is hand1 online
		run ctl run --wait -- true
		[ "$status" -eq 0 ]
		t0=$(now_ms)

		depot_terminate

		echo "round $i: exit status $DEPOT_STATUS after $(($(now_ms) - t0)) ms"
		[ "$DEPOT_STATUS" -eq 0 ]
		# 1 s of cancel_grace, 2 s for the sockets, and what polling the pid adds.
		[ $(($(now_ms) - t0)) -lt 3500 ]
	done
}

@test "SIGTERM ends depotd within the bound even when nng_close hangs (nanomsg/nng#1813): the watchdog exits 0, and nothing recorded is lost" {
	depot_init "daemon.workers = 0" "monitor.cancel_grace = 1s"
	start_hand_worker hand1
	# The shim's nng_close never returns, as nng 1.5's sometimes does.
	env "$(depot_tag)" LD_PRELOAD="$DEPOT_BIN/tests/hang-nng-close.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$DEPOT_BIN/depotd" -d "$DIR" </dev/null >>"$DIR/depotd.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers 10s
	wait_for worker_is hand1 online
	submit -- echo recorded
	done_task=$ID
	wait_for task_is "$done_task" completed
	submit --lock r1 -- sleep 30
	running=$ID
	wait_for task_is "$running" running
	submit --lock r1 -- echo later
	waiting=$ID
	t0=$(now_ms)

	depot_terminate

	echo "exit status $DEPOT_STATUS after $(($(now_ms) - t0)) ms"
	[ "$DEPOT_STATUS" -eq 0 ]
	[ $(($(now_ms) - t0)) -lt 3500 ]
	grep -q 'nanomsg/nng#1813' "$DIR/depotd.log"
	depot_launch
	[ "$(task_state "$done_task")" = completed ]
	[ "$(task_reason "$running")" = daemon-stopped ]
	wait_for task_is "$waiting" completed 10s
}

@test "a request larger than max_message (a 1.2 MB command line) is refused and the daemon keeps answering" {
	depot_start
	chunk=$(head -c 100000 /dev/zero | tr '\0' a)
	args=()
	for i in $(seq 1 12); do args+=("$chunk"); done

	run ctl run -- echo "${args[@]}"

	[ "$status" -ne 0 ]
	# depotctl says why: the request, not a dead daemon.
	[[ $output == *"max_message"* ]]
	run ctl ping
	[ "$status" -eq 0 ]
	[ "$(ctl --json task list | jq length)" -eq 0 ]
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
}
