#!/usr/bin/env bats
# DESIGN §11: `run --after ID` starts a task only after task ID completed;
# if ID fails or is canceled, the task is canceled with reason
# dependency-failed. An unknown ID is refused (not_found, exit 6).

load helpers

# field ID JQ: one field of task ID.
field() {
	ctl --json task show "$1" | jq -r "$2"
}

# ms_of ID FIELD: a time field of task ID in ms since the epoch.
ms_of() {
	rfc3339_ms "$(field "$1" ".$2")"
}

@test "a task run --after another starts only once that one completed" {
	depot_start
	# A runs until the test lets it end: a loaded machine cannot make it end before it is seen running.
	submit -- sh -c "while [ ! -e $DIR/go ]; do sleep 0.05; done; echo A > $DIR/a.out"
	a=$ID
	submit --after "$a" -- sh -c "cat $DIR/a.out"
	b=$ID
	[ "$(field "$b" .after)" = "$a" ]

	wait_for task_is "$a" running
	# A worker is idle, yet B waits for A.
	run task_state "$b"
	[ "$output" = waiting ]
	touch "$DIR/go"
	run ctl task wait --timeout 15s "$a" "$b"
	[ "$status" -eq 0 ]

	[ "$(task_state "$a")" = completed ]
	[ "$(task_state "$b")" = completed ]
	[ "$(ms_of "$b" started_at)" -ge "$(ms_of "$a" finished_at)" ]
	run ctl task log "$b"
	[ "$output" = A ]
}

@test "a chain of three runs in order, each after the previous completed" {
	depot_start
	submit -- sh -c "sleep 0.5; echo 1 >> $DIR/order"
	a=$ID
	submit --after "$a" -- sh -c "sleep 0.3; echo 2 >> $DIR/order"
	b=$ID
	submit --after "$b" -- sh -c "echo 3 >> $DIR/order"
	c=$ID

	run ctl task wait --timeout 20s "$a" "$b" "$c"
	[ "$status" -eq 0 ]
	run cat "$DIR/order"
	[ "$output" = "$(printf '1\n2\n3')" ]
	[ "$(ms_of "$b" started_at)" -ge "$(ms_of "$a" finished_at)" ]
	[ "$(ms_of "$c" started_at)" -ge "$(ms_of "$b" finished_at)" ]
}

@test "when the task it runs after fails, the task is canceled with reason dependency-failed, and so is the next one in the chain" {
	depot_start
	submit -- sh -c 'sleep 0.5; exit 3'
	a=$ID
	submit --after "$a" -- touch "$DIR/b-ran"
	b=$ID
	submit --after "$b" -- touch "$DIR/c-ran"
	c=$ID

	wait_for task_is "$c" canceled failed completed 10s
	[ "$(task_state "$a")" = failed ]
	[ "$(task_reason "$a")" = exit-status ]
	for t in "$b" "$c"; do
		[ "$(task_state "$t")" = canceled ]
		[ "$(task_reason "$t")" = dependency-failed ]
		[ "$(field "$t" .started_at)" = null ]
	done
	[[ $(field "$b" .error.message) == *"$a"* ]]
	[ ! -e "$DIR/b-ran" ]
	[ ! -e "$DIR/c-ran" ]
	# `task wait` reports the outcome: canceled.
	run ctl task wait "$b"
	[ "$status" -eq 4 ]
}

@test "when the task it runs after is canceled by the user, the task is canceled with reason dependency-failed" {
	depot_start
	submit -- sleep 30
	a=$ID
	submit --after "$a" -- touch "$DIR/b-ran"
	b=$ID
	wait_for task_is "$a" running

	ctl task cancel "$a"

	wait_for task_is "$b" canceled 10s
	[ "$(task_reason "$a")" = canceled-by-user ]
	[ "$(task_reason "$b")" = dependency-failed ]
	[ "$(field "$b" .started_at)" = null ]
	[ ! -e "$DIR/b-ran" ]
}

@test "a task run --after one that completed already runs at once; --after an unknown task is refused with not_found and queues nothing" {
	depot_start
	submit -- true
	a=$ID
	ctl task wait "$a"
	submit --after "$a" -- true
	run ctl task wait --timeout 10s "$ID"
	[ "$status" -eq 0 ]

	before=$(ctl --json task list | jq length)
	run --separate-stderr ctl run --after 99999 -- true
	echo "$stderr"
	[ "$status" -eq 6 ]
	[ -z "$output" ]
	[[ $stderr == *99999* ]]
	[[ $stderr == *not_found* ]]
	[ "$(ctl --json task list | jq length)" -eq "$before" ]
	run --separate-stderr ctl run --after abc -- true
	[ "$status" -eq 2 ]
}
