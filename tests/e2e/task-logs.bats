#!/usr/bin/env bats
# An exec task's log (DESIGN §3, logs/ID.log) is made at its first byte of
# output (issue 14: making a file was most of what a worker spent on a task
# like `true`): a task that writes nothing has none, and task log reads it as
# empty. Where it goes is still checked before the command starts: what was
# left under its name never passes for its output, and a link there fails the
# task unrun. Judged from the files on disk and a trace the command writes.

load helpers
load repo_helpers

# next_id: the id the next task will get (ids are AUTOINCREMENT, never reused).
next_id() {
	echo $(( $(sqlite3 "$DIR/depot.db" "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tasks'") + 1 ))
}

@test "a task that writes nothing has no log file and an empty task log; one that writes gets its log at its first byte" {
	depot_start
	ctl run --wait --quiet -- true
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	task_final "$id"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ ! -e "$DIR/logs/$id.log" ]
	run ctl task log "$id"
	[ "$status" -eq 0 ]
	[ -z "$output" ]

	# Running, silent until told: no file yet; then the output, in a file of its own.
	submit -- sh -c 'touch "$1"; while [ ! -e "$2" ]; do sleep 0.05; done; echo late' sh \
		"$WORK/started" "$WORK/go"
	wait_for test -e "$WORK/started"
	task_is "$ID" running
	[ ! -e "$DIR/logs/$ID.log" ]
	touch "$WORK/go"
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(ctl task log "$ID")" = late ]
	[ "$(stat -c %a "$DIR/logs/$ID.log")" = 600 ]
}

@test "hostile: a file left under a task's log name is emptied before the command starts, even when the task writes nothing" {
	depot_start
	id=$(next_id)
	printf 'stale output of someone else\n' >"$DIR/logs/$id.log"
	submit -- sh -c 'cat "$1" >"$2"' sh "$DIR/logs/$id.log" "$WORK/seen"
	[ "$ID" = "$id" ]
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	# The command itself found it empty: it was truncated before the command ran.
	[ -e "$WORK/seen" ] && [ ! -s "$WORK/seen" ]
	run ctl task log "$ID"
	[ -z "$output" ]
}

@test "hostile: a link under a task's log name fails the task before its command runs, and what it points to is untouched" {
	depot_start
	id=$(next_id)
	printf 'precious\n' >"$WORK/target"
	ln -s "$WORK/target" "$DIR/logs/$id.log"
	submit -- sh -c 'echo ran >"$1"; echo output' sh "$WORK/ran"
	[ "$ID" = "$id" ]
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $(jq -r .error.message <<<"$TASK") == *"cannot open the task's log"* ]]
	[ ! -e "$WORK/ran" ]
	[ "$(cat "$WORK/target")" = precious ]
}
