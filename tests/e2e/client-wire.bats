#!/usr/bin/env bats
# Issue 14: depotctl and depot-console speak nng's REQ0 and SUB0 wire
# themselves (share/spwire.c), without libnng and its threads; depotd keeps
# nng, so every request here is our client against real nng.

load helpers

# raw MESSAGE: sends MESSAGE's bytes as one request to control.sock, through nng.
raw() {
	printf '%s' "$1" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 10000
}

# task_event_seen FILE ID STATE: FILE holds ID's state event for STATE,
# wherever it is among the lines.
task_event_seen() {
	jq -en --argjson id "$2" --arg s "$3" '[inputs | select(.topic == "task" and
		.event == "state" and .task.id == $id and .task.state == $s)] | length > 0' \
		"$1" >/dev/null
}

# probe_seen FILE: a task submitted now has a state event in FILE (else try with another).
probe_seen() {
	local id
	id=$(ctl run -- true) || return 1
	sleep 0.1
	task_event_seen "$1" "$id" waiting
}

@test "depotctl and depot-console do not link libnng; depotd does" {
	# depotctl names no library when linked statically (Makefile: CTL_STATIC), libc alone when not.
	run readelf -d "$DEPOT_BIN/depotctl"
	[ "$status" -eq 0 ]
	[[ $output != *libnng* ]]
	run nm "$DEPOT_BIN/depotctl"
	[[ $output != *nng_* ]]
	run readelf -d "$DEPOT_BIN/depot-console"
	[ "$status" -eq 0 ]
	[[ $output == *NEEDED* ]]
	[[ $output != *libnng* ]]
	# The daemon's side is nng's own, so the tests below are against it.
	run readelf -d "$DEPOT_BIN/depotd"
	[[ $output == *libnng* ]]
}

@test "ping and a submission round-trip through depotd's nng REP socket" {
	depot_start
	run ctl ping
	[ "$status" -eq 0 ]
	[[ $output == "depotd "*" is up (pid $DEPOT_PID,"* ]]
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
}

@test "a task list whose pages are over 1 MiB each arrives whole" {
	local now=$(($(date +%s) * 1000))
	depot_start
	depot_terminate
	# 1,200 finished tasks with a 4 KiB argument each, straight into the database.
	sqlite3 "$DIR/depot.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
		INSERT INTO tasks (type, name, args, resources, state, created_at, started_at,
		  finished_at, result)
		SELECT 'exec', 'big ' || i, '{\"argv\": [\"echo\", \"' || printf('%04d', i) ||
		  replace(hex(zeroblob(2046)), '0', 'x') || '\"]}', '[]',
		  'completed', $now + i, $now + i, $now + i, '{\"exit_code\": 0}' FROM n;"
	depot_launch
	# One page, as nng itself receives it, is over 1 MiB.
	[ "$(raw '{"cmd": "task.list", "args": {"limit": 500}}' | wc -c)" -gt 1048576 ]

	run --separate-stderr ctl --json task list --limit 100000
	[ "$status" -eq 0 ]
	[ "$(jq length <<<"$output")" -eq 1200 ]
	[ "$(jq '[.[].args.argv[1] | length] | unique' -c <<<"$output")" = "[4096]" ]
	[ "$(jq -r '.[0].args.argv[1][0:4]' <<<"$output")" = 1200 ]
	[ "$(jq -r '.[-1].args.argv[1][0:4]' <<<"$output")" = 0001 ]
}

@test "depotctl events goes on across a daemon restart, as nng's SUB redialing did" {
	depot_start
	start_events "$DIR/events"
	wait_for events_subscribed "$DIR/events" 10s

	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	depot_launch
	# Events published before the subscriber is back are lost (PUB has no
	# backlog): submit until one arrives, then a task seen from start to end.
	wait_for probe_seen "$DIR/events" 10s
	submit -- true
	wait_for task_event_seen "$DIR/events" "$ID" completed 10s
	task_event_seen "$DIR/events" "$ID" running
	# Still the same process, and it said nothing of the restart.
	kill -0 "$EVENTS_PID"
	[ ! -s "$DIR/events.err" ]
}

# in_poll PID: PID waits in poll(), as depotctl does for a reply.
in_poll() {
	[[ $(cat "/proc/$1/wchan" 2>/dev/null) == *poll* ]]
}

@test "a daemon killed while depotctl waits for its reply: the connection is lost, and said so at once" {
	depot_start
	submit --name long -- sleep 30
	long=$ID
	wait_for task_is "$long" running
	# Not through ctl: $! must be depotctl's own pid.
	LC_DEPOT_E2E_TAG=$DIR "$DEPOT_BIN/depotctl" -d "$DIR" task wait "$long" \
		>"$DIR/wait.out" 2>"$DIR/wait.err" 3>&- &
	waiter=$!
	# task.wait is held by the daemon: depotctl waits for the reply.
	wait_for in_poll "$waiter" 5s

	depot_kill
	wait "$waiter" && status=0 || status=$?

	[ "$status" -eq 3 ]
	grep -q "lost depotd at $DIR/run/control.sock before it answered" "$DIR/wait.err"
	# The next command, with the daemon down, is refused at once.
	run ctl ping
	[ "$status" -eq 3 ]
	[[ $output == *"cannot reach depotd at $DIR/run/control.sock"* ]]
}
