#!/usr/bin/env bats
# DESIGN §5 and §8 orphans: `orphans clean` removes the content no
# repository version references (what a deleted repository leaves), keeps
# everything a version still uses, and takes `depot` exclusive, so it waits
# for running tasks and runs alone.

load helpers
load repo_helpers

@test "after a repository is deleted, orphans clean removes only the content no version references" {
	depot_start
	mkdir -p "$WORK/f1" "$WORK/f2"
	printf 'only in r1\n' >"$WORK/f1/own.txt"
	write_bytes "$WORK/f1/shared.bin" 3000
	cp "$WORK/f1/shared.bin" "$WORK/f2/shared.bin"
	write_bytes "$WORK/f2/other.bin" 500
	make_feed "$WORK/f1"
	make_feed "$WORK/f2"
	ctl repo create r1 --feed "file://$WORK/f1/PULP_MANIFEST"
	ctl repo create r2 --feed "file://$WORK/f2/PULP_MANIFEST"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	sync_wait r2
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(content_files | wc -l)" -eq 3 ]
	own=$(content_path "$(sha_of "$WORK/f1/own.txt")")
	shared=$(content_path "$(sha_of "$WORK/f1/shared.bin")")
	other=$(content_path "$(sha_of "$WORK/f2/other.bin")")

	# Nothing is an orphan yet.
	run ctl --json orphans clean --wait
	[ "$status" -eq 0 ]
	[ "$(jq -r .state <<<"$output")" = completed ]
	[ "$(jq -r .result.removed_files <<<"$output")" = 0 ]
	[ "$(content_files | wc -l)" -eq 3 ]

	run ctl repo delete r1
	[ "$status" -eq 0 ]
	# Its publication goes with it; its content stays until orphans.
	[ ! -e "$DIR/publish/r1" ]
	[ -f "$own" ]

	run ctl --json orphans clean --wait

	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(jq -r .type <<<"$output")" = orphans ]
	[ "$(jq -r .state <<<"$output")" = completed ]
	[ "$(jq -c .resources <<<"$output")" = '[{"name":"depot","mode":"exclusive"}]' ]
	[ "$(jq -r .result.removed_files <<<"$output")" = 1 ]
	[ "$(jq -r .result.removed_bytes <<<"$output")" = "$(stat -c %s "$WORK/f1/own.txt")" ]
	[ ! -e "$own" ]
	[ -f "$shared" ]
	[ -f "$other" ]
	[ "$(content_files | wc -l)" -eq 2 ]
	cmp "$shared" "$WORK/f2/shared.bin"
	# r2 is whole: a re-sync downloads nothing.
	sync_wait r2
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 0 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = false ]

	# Without --wait it prints the task's id.
	run ctl orphans clean
	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]]
	task_final "$output"
	[ "$(jq -r .result.removed_files <<<"$TASK")" = 0 ]
}

@test "content an older version still references is not an orphan" {
	depot_start
	mkdir -p "$WORK/feed"
	printf 'dropped later\n' >"$WORK/feed/old.txt"
	printf 'kept\n' >"$WORK/feed/kept.txt"
	make_feed "$WORK/feed"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	old=$(content_path "$(sha_of "$WORK/feed/old.txt")")
	rm "$WORK/feed/old.txt"
	make_feed "$WORK/feed"
	sync_wait r1
	[ "$(jq -r .result.version <<<"$TASK")" = 2 ]
	[ "$(jq -r .result.files <<<"$TASK")" = 1 ]

	run ctl --json orphans clean --wait

	[ "$status" -eq 0 ]
	[ "$(jq -r .result.removed_files <<<"$output")" = 0 ]
	[ "$(jq -r .result.removed_bytes <<<"$output")" = 0 ]
	[ -f "$old" ]
	[ "$(content_files | wc -l)" -eq 2 ]
}

@test "orphans clean waits for a running task (depot exclusive) and starts only after it ends" {
	depot_start
	mkdir -p "$WORK/feed"
	printf 'orphan to be\n' >"$WORK/feed/x.txt"
	make_feed "$WORK/feed"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	ctl repo delete r1
	orphan=$(content_path "$(sha_of "$WORK/feed/x.txt")")
	[ -f "$orphan" ]

	# A task that runs until the test lets it end.
	submit -- sh -c "while [ ! -e '$WORK/go' ]; do sleep 0.05; done"
	holder=$ID
	wait_for task_is "$holder" running
	submit_task orphans clean
	orphans=$ID

	# It waits on depot behind the holder, and the content is untouched.
	wait_for task_is "$orphans" waiting 2s
	run ctl --json lock list
	echo "$output"
	[ "$(jq -r --argjson id "$orphans" '.[] | select(.resource == "depot") | .waiting[] | select(.task == $id) | .mode' <<<"$output")" = exclusive ]
	[ "$(jq -r --argjson id "$holder" '.[] | select(.resource == "depot") | .holders[] | select(.task == $id) | .mode' <<<"$output")" = shared ]
	# A task submitted after it waits too (FIFO on depot).
	submit -- true
	later=$ID
	run task_state "$later"
	[ "$output" = waiting ]
	run task_state "$orphans"
	[ "$output" = waiting ]
	[ -f "$orphan" ]

	touch "$WORK/go"
	wait_for task_is "$orphans" completed failed 10s
	wait_for task_is "$later" completed 10s

	[ "$(task_state "$holder")" = completed ]
	[ "$(task_state "$orphans")" = completed ]
	[ "$(task_field "$orphans" .result.removed_files)" = 1 ]
	[ ! -e "$orphan" ]
	holder_end=$(rfc3339_ms "$(task_field "$holder" .finished_at)")
	orphans_start=$(rfc3339_ms "$(task_field "$orphans" .started_at)")
	orphans_end=$(rfc3339_ms "$(task_field "$orphans" .finished_at)")
	later_start=$(rfc3339_ms "$(task_field "$later" .started_at)")
	echo "holder ended $holder_end, orphans ran $orphans_start..$orphans_end, later started $later_start"
	[ "$orphans_start" -ge "$holder_end" ]
	[ "$later_start" -ge "$orphans_end" ]
}
