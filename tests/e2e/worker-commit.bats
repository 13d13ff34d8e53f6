#!/usr/bin/env bats
# What one worker request changes is committed together, once it is handled
# (issue 14): a done with next ends one task and starts the next in one
# transaction, and the events that tell of it wait for the commit. Killed
# between the change and its commit (DEPOT_TEST_CRASH_AT=worker-done, test
# only), depotd has told no one of what it did not store, runs no task twice
# and undoes no cancel (DESIGN §7 rules 5, 10, 11). Judged from the database
# file, a trace the commands write, and what a waiter and a subscriber got.

load helpers
load repo_helpers

rows() {
	sqlite3 "$DIR/depot.db" ".timeout 5000" "$1"
}

# crashed: depotd killed itself at the crash point; its status was SIGKILL's.
crashed() {
	local status=0
	wait_for pid_gone "$DEPOT_PID" 15s
	wait "$DEPOT_PID" 2>/dev/null || status=$?
	DEPOT_PID=
	[ "$status" -eq 137 ]
	grep -q 'DEPOT_TEST_CRASH_AT=worker-done: killing this process before the commit' "$DIR/depotd.log"
}

# old_workers_gone: the crashed daemon's workers have exited (they die with it).
old_workers_gone() {
	local pid
	for pid in $OLD_WORKERS; do
		pid_gone "$pid" || return 1
	done
}

@test "hostile: killed after a done that ends one task and starts the next, before the commit: no one heard of the end, the next task runs once" {
	depot_init "daemon.workers = 1"
	depot_launch_env DEPOT_TEST_CRASH_AT=worker-done
	OLD_WORKERS=$(worker_pid w1)
	start_events "$WORK/events" --topic task
	# A probe no worker runs: any done would crash depotd here.
	wait_for events_subscribed "$WORK/events" --in 1h 10s
	submit -- sh -c 'echo A >>"$1"; while [ ! -e "$2" ]; do sleep 0.05; done' sh "$WORK/trace" "$WORK/go"
	a=$ID
	submit -- sh -c 'echo B >>"$1"' sh "$WORK/trace"
	b=$ID
	wait_for task_is "$a" running
	task_is "$b" waiting
	LC_DEPOT_E2E_TAG=$DIR "$DEPOT_BIN/depotctl" -d "$DIR" --json task wait --timeout 60s "$a" \
		>"$WORK/waited" 2>&1 3>&- &
	waiter=$!
	HAND_PIDS+=("$waiter")
	sleep 0.3   # the wait is parked (nothing to see either way if it were not)

	touch "$WORK/go"
	crashed
	wait_for old_workers_gone 10s

	# The waiter was never told A completed: the daemon died first.
	status=0
	wait "$waiter" || status=$?
	cat "$WORK/waited"
	[ "$status" -ne 0 ]
	[ "$(grep -c completed "$WORK/waited")" -eq 0 ]
	# Nor was any subscriber: not A's end, not B's start.
	sleep 0.2
	cat "$WORK/events"
	# (A subscriber was there to hear: it saw A start.)
	[ "$(jq -c --argjson a "$a" 'select(.task.id == $a and .task.state == "running")' "$WORK/events" | wc -l)" -ge 1 ]
	[ "$(jq -c --argjson a "$a" 'select(.task.id == $a and .task.state == "completed")' "$WORK/events" | wc -l)" -eq 0 ]
	[ "$(jq -c --argjson b "$b" 'select(.task.id == $b and .task.state == "running")' "$WORK/events" | wc -l)" -eq 0 ]
	# The database holds all of the batch or none of it: none.
	[ "$(rows "SELECT state FROM tasks WHERE id = $a")" = running ]
	[ "$(rows "SELECT state FROM tasks WHERE id = $b")" = waiting ]
	[ "$(rows "SELECT count(*) FROM reservations WHERE task_id = $b")" = 0 ]
	# B was assigned to the worker, which died unacknowledged: it never ran.
	[ "$(cat "$WORK/trace")" = A ]

	depot_launch
	run ctl task wait --timeout 30s "$b"
	[ "$status" -eq 0 ]
	[ "$(task_state "$a")" = canceled ]
	[ "$(ctl --json task show "$a" | jq -r .error.reason)" = daemon-restarted ]
	# Each ran once.
	[ "$(cat "$WORK/trace")" = "$(printf 'A\nB')" ]
}

@test "hostile: killed after the done of a task being canceled, before the commit: the cancel stands after the restart and nothing retries it" {
	depot_init "daemon.workers = 1" "monitor.cancel_grace = 10s"
	depot_launch_env DEPOT_TEST_CRASH_AT=worker-done
	OLD_WORKERS=$(worker_pid w1)
	submit --retries 2 -- sh -c 'echo C >>"$1"; exec sleep 30' sh "$WORK/trace"
	c=$ID
	wait_for task_is "$c" running
	wait_for file_has "$WORK/trace"

	ctl task cancel "$c"
	crashed
	wait_for old_workers_gone 10s
	# The cancel was stored when asked; its end was not.
	[ "$(rows "SELECT state FROM tasks WHERE id = $c")" = canceling ]

	depot_launch
	wait_for task_is "$c" canceled
	[ "$(ctl --json task show "$c" | jq -r .error.reason)" = canceled-by-user ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE retry_of = $c")" = 0 ]
	[ "$(cat "$WORK/trace")" = C ]
}
