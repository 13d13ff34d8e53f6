#!/usr/bin/env bats
# DESIGN §7 rule 11, stopping keeps promises: tasks interrupted by SIGTERM
# or SIGKILL are retried alike (--retries), --after chains wait for the
# retry, and a user's cancel and a timeout survive any crash. Judged from a
# trace the commands write themselves, not only from the daemon's account.

load helpers

# retry_id ID: the id of the task that retries task ID (empty when none).
retry_id() {
	ctl --json task list | jq -r --argjson id "$1" '.[] | select(.retry_of == $id) | .id'
}

has_retry() {
	[ -n "$(retry_id "$1")" ]
}

# starts FILE: how many times the traced command started.
starts() {
	grep -c '^start' "$1" || true
}

# lines_are FILE LINE...: FILE holds exactly these lines.
lines_are() {
	local file=$1
	shift
	[ "$(cat "$file")" = "$(printf '%s\n' "$@")" ]
}

# user_cancel_survives STOP: a user's cancel of a task still canceling (its
# command ignores SIGTERM, so it stays so for the worker's 5 s) stands across
# STOP (depot_kill or depot_terminate) and a restart: canceled-by-user, no
# retry, its command never runs again.
user_cancel_survives() {
	depot_start "monitor.cancel_grace = 15s"
	submit --retries 1 -- sh -c "echo start >> $DIR/trace; echo \$\$ > $DIR/cmd.pid; trap '' TERM; while :; do sleep 0.1; done"
	task=$ID
	wait_for task_is "$task" running
	wait_for file_has "$DIR/cmd.pid"
	ctl task cancel "$task"
	[ "$(task_state "$task")" = canceling ]

	"$1"
	[ "$1" = depot_kill ] || [ "$DEPOT_STATUS" -eq 0 ]
	depot_launch

	# Recovery is done before depotd answers: what it decided is visible at once.
	ended_once "$task" canceled canceled-by-user
}

# ended_once TASK STATE REASON: TASK ended so and is not retried, even after a
# retry's 1 s back-off would have passed, and its command started only once.
ended_once() {
	[ "$(task_state "$1")" = "$2" ]
	[ "$(task_reason "$1")" = "$3" ]
	[ -z "$(retry_id "$1")" ]
	wait_for pid_gone "$(cat "$DIR/cmd.pid")" 10s
	run ctl run --wait -- sleep 1.5
	[ "$status" -eq 0 ]
	[ -z "$(retry_id "$1")" ]
	[ "$(starts "$DIR/trace")" -eq 1 ]
}

@test "a user's cancel of a task still canceling when depotd is SIGKILLed stands after the restart: canceled-by-user, no retry, its command never runs again" {
	user_cancel_survives depot_kill
}

@test "a user's cancel of a task still canceling when depotd gets SIGTERM stands: canceled-by-user, not daemon-stopped, and not retried" {
	user_cancel_survives depot_terminate
}

@test "a task that timed out and is still canceling when depotd is SIGKILLed ends failed (timeout) after the restart and is not retried: timeouts are not retriable" {
	depot_start "monitor.cancel_grace = 15s"
	submit --timeout 1s --retries 1 -- sh -c "echo start >> $DIR/trace; echo \$\$ > $DIR/cmd.pid; trap '' TERM; while :; do sleep 0.1; done"
	task=$ID
	wait_for task_is "$task" canceling 5s

	depot_kill
	depot_launch

	ended_once "$task" failed timeout
}

@test "a --retries task interrupted by SIGTERM is retried at the next start, and its --after dependent waits for the retry and runs after it" {
	depot_start
	# First attempt: runs until stopped. The retry: completes.
	submit --retries 1 -- sh -c "if [ -e $DIR/once ]; then echo retry >> $DIR/trace; else touch $DIR/once; echo first >> $DIR/trace; exec sleep 30; fi"
	first=$ID
	submit --after "$first" -- sh -c "echo dependent >> $DIR/trace"
	dependent=$ID
	wait_for task_is "$first" running
	wait_for file_has "$DIR/trace"

	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	depot_launch

	[ "$(task_state "$first")" = canceled ]
	[ "$(task_reason "$first")" = daemon-stopped ]
	wait_for has_retry "$first" 5s
	second=$(retry_id "$first")
	run ctl task wait --timeout 20s "$dependent"
	[ "$status" -eq 0 ]
	[ "$(task_state "$second")" = completed ]
	[ "$(task_state "$dependent")" = completed ]
	[ "$(ctl --json task show "$dependent" | jq -r .after)" = "$second" ]
	lines_are "$DIR/trace" first retry dependent
	[ "$(ctl --json task list | jq '[.[] | select(.error.reason == "dependency-failed")] | length')" -eq 0 ]
}

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# Ids 2 and 363 share a bucket of the 1,024-slot task table, the later one
# first: ending 363 inside a loop over the table ends 2, its dependent,
# which that loop was about to visit. Leaves task 363, a retry of task 1
# that ignores SIGTERM, running, with task 2 --after it.
running_retry_with_older_dependent() {
	depot_start "monitor.cancel_grace = 1s"
	submit --retries 1 -- sh -c "trap '' TERM; echo start >> $DIR/trace; while :; do sleep 0.1; done"
	[ "$ID" -eq 1 ]
	submit --after 1 -- true
	[ "$ID" -eq 2 ]
	wait_for task_is 1 running
	depot_kill
	sqlite3 "$DIR/depot.db" "UPDATE sqlite_sequence SET seq = 362 WHERE name = 'tasks'"
	depot_launch
	[ "$(retry_id 1)" -eq 363 ]
	[ "$(ctl --json task show 2 | jq -r .after)" -eq 363 ]
	wait_for task_is 363 running 10s
	wait_for lines_at_least "$DIR/trace" 2
}

@test "stopping depotd while a retried task with an --after dependent older than it is forced to end frees nothing twice (run under SANITIZE=address)" {
	running_retry_with_older_dependent

	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	if grep -q 'ERROR: AddressSanitizer' "$DIR/depotd.log"; then false; fi
	# The chain waits for the next start, which judges it as a crash would.
	depot_launch
	wait_for task_is 2 canceled 5s
	[ "$(task_reason 2)" = dependency-failed ]
}

@test "a canceled task ended by cancel_grace while its older --after dependent is in the same table bucket frees nothing twice (run under SANITIZE=address)" {
	running_retry_with_older_dependent

	ctl task cancel 363
	wait_for task_is 363 canceled 10s
	[ "$(task_reason 363)" = canceled-by-user ]
	wait_for task_is 2 canceled 5s
	[ "$(task_reason 2)" = dependency-failed ]
	depot_answers
	if grep -q 'ERROR: AddressSanitizer' "$DIR/depotd.log"; then false; fi
}
