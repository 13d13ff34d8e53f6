#!/usr/bin/env bats
# DESIGN §5 and §8 orphans: `orphans clean` removes the content no
# repository version references (what a deleted repository leaves), keeps
# everything a version still uses, and takes `content` exclusive, so it
# waits for running syncs (whose downloads no version references yet) and
# backups, and lets everything else run beside it.

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
	[ "$(jq -c .resources <<<"$output")" = '[{"name":"content","mode":"exclusive"}]' ]
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

# sync_verified_one ID: sync task ID has verified one file (progress done 1).
sync_verified_one() {
	[ "$(task_field "$1" .progress.done)" = 1 ]
}

@test "orphans clean waits for a running sync, whose downloads no version references yet, and never deletes them; commands run beside it" {
	depot_start
	mkdir -p "$WORK/gone"
	printf 'orphan to be\n' >"$WORK/gone/x.txt"
	make_feed "$WORK/gone"
	ctl repo create old --feed "file://$WORK/gone/PULP_MANIFEST"
	sync_wait old
	ctl repo delete old
	orphan=$(content_path "$(sha_of "$WORK/gone/x.txt")")
	[ -f "$orphan" ]

	# A sync whose small file is downloaded at once, while its big one
	# trickles in for seconds: the small one, in tmp/ until the downloads
	# end and then in the store, is referenced by no version until the
	# sync ends.
	mkdir -p "$WORK/feed"
	printf 'small, downloaded first\n' >"$WORK/feed/small.txt"
	write_bytes "$WORK/feed/big.bin" 400000
	make_feed "$WORK/feed"
	start_slow_http "$WORK/feed" 100000
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync r1
	sync=$ID
	small=$(content_path "$(sha_of "$WORK/feed/small.txt")")
	wait_for sync_verified_one "$sync" 10s
	submit_task orphans clean
	orphans=$ID

	# It waits on content behind the sync, and nothing is deleted.
	run ctl --json lock list
	echo "$output"
	[ "$(jq -r --argjson id "$orphans" '.[] | select(.resource == "content") | .waiting[] | select(.task == $id) | .mode' <<<"$output")" = exclusive ]
	[ "$(jq -r --argjson id "$sync" '.[] | select(.resource == "content") | .holders[] | select(.task == $id) | .mode' <<<"$output")" = shared ]
	# A command submitted after it runs at once: orphans clean stops nothing else.
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
	[ "$(task_state "$orphans")" = waiting ]
	[ "$(task_state "$sync")" = running ]
	[ -f "$orphan" ]

	task_final "$sync"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	task_final "$orphans"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(task_field "$orphans" .result.removed_files)" = 1 ]
	[ ! -e "$orphan" ]
	[ -f "$small" ]
	# Every file of the new version is still in the content store.
	while IFS=, read -r path sha size; do
		[ -f "$(content_path "$sha")" ]
	done <"$WORK/feed/PULP_MANIFEST"
	sync_end=$(rfc3339_ms "$(task_field "$sync" .finished_at)")
	orphans_start=$(rfc3339_ms "$(task_field "$orphans" .started_at)")
	[ "$orphans_start" -ge "$sync_end" ]
}
