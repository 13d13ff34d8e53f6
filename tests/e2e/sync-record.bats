#!/usr/bin/env bats
# DESIGN §8, issue 10 item 8: a sync's version is recorded a slice at a
# time ([limits] record_slice_rows), each slice a turn of depotd's main
# loop, so the daemon answers between slices; no one sees the version
# before its last slice; a crash or a stop mid-record leaves nothing of it.
# DEPOT_TEST_RECORD_PAUSE_MS spaces the slices out so that a test can act
# in the middle.

load helpers
load repo_helpers

# many_feed DIR N: a file:// feed of N paths over 3 contents (hard links).
many_feed() {
	local dir=$1 n=$2 i sha
	mkdir -p "$dir/d"
	for i in 0 1 2; do printf 'content %d\n' "$i" >"$dir/c$i"; done
	for ((i = 0; i < n; i++)); do
		ln "$dir/c$((i % 3))" "$dir/d/f$(printf %05d "$i")"
	done
	rm "$dir"/c0 "$dir"/c1 "$dir"/c2
	make_feed "$dir"
}

# recorded_slices: how many "N of M files recorded" lines depotd.log holds.
recorded_slices() {
	grep -c 'files recorded' "$DIR/depotd.log" || true
}

slice_recorded() {
	[ "$(recorded_slices)" -ge 1 ]
}

# record_paused PAUSE_MS: a daemon recording slices of 100 files PAUSE_MS
# apart, a sync of a 3000-file feed submitted (id in $ID) and its first
# slice recorded.
record_paused() {
	depot_init "limits.record_slice_rows = 100"
	depot_launch_env "DEPOT_TEST_RECORD_PAUSE_MS=$1"
	many_feed "$WORK/feed" 3000
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	submit_task sync r
	wait_for slice_recorded 20s
}

# db SQL: one query on the data directory's database (read-only).
db() {
	sqlite3 -readonly "$DIR/depot.db" "$1"
}

@test "a sync of 3000 files is recorded in slices and completes with its version and file count" {
	depot_start "limits.record_slice_rows = 100"
	many_feed "$WORK/feed" 3000
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = true ]
	[ "$(jq -r .result.files <<<"$TASK")" = 3000 ]
	[ "$(recorded_slices)" -eq 30 ]
	grep -q 'version 1: 3000 of 3000 files recorded' "$DIR/depotd.log"
	[ "$(repo_json r | jq -r .latest_version)" = 1 ]
	[ "$(repo_json r | jq -r .files)" = 3000 ]
	[ "$(db 'SELECT count(*) FROM version_files')" = 3000 ]
	[ "$(db 'SELECT complete FROM versions')" = 1 ]
}

@test "re-syncing an unchanged feed of many files writes no version row and no file row" {
	depot_start "limits.record_slice_rows = 100"
	many_feed "$WORK/feed" 1000
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	before=$(recorded_slices)
	sync_wait r
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = false ]
	[ "$(jq -r .result.files <<<"$TASK")" = 1000 ]
	# Decided from the digest, before any row: no slice of a version 2.
	[ "$(recorded_slices)" -eq "$before" ]
	[ "$(db 'SELECT count(*) FROM versions')" = 1 ]
}

@test "while a version is recorded, ping answers, the task runs and no one sees the version" {
	record_paused 150
	start=$(now_ms)
	ctl ping >/dev/null
	# Between slices: at once (a loaded test machine allows it 3 s; a stall would be the whole record).
	[ $(($(now_ms) - start)) -lt 3000 ]
	[ "$(ctl --json task show "$ID" | jq -r .state)" = running ]
	[ "$(repo_json r | jq -r '.latest_version // "none"')" = none ]
	[ "$(repo_json r | jq '.versions | length')" = 0 ]
	# The worker is free for other work meanwhile.
	[ "$(ctl --json worker list | jq '[.[] | select(.task != null and .task != 0)] | length')" = 0 ]
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json r | jq -r .latest_version)" = 1 ]
}

@test "depotd killed mid-record restarts with no incomplete version, and the sync ends daemon-restarted" {
	record_paused 150
	depot_kill
	# Killed in the middle: the version's row is there, incomplete, with some of its files.
	[ "$(db 'SELECT count(*) FROM versions WHERE complete = 0')" = 1 ]
	n=$(db 'SELECT count(*) FROM version_files')
	[ "$n" -gt 0 ] && [ "$n" -lt 3000 ]
	depot_launch
	[ "$(db 'SELECT count(*) FROM versions')" = 0 ]
	[ "$(db 'SELECT count(*) FROM version_files')" = 0 ]
	[ "$(repo_json r | jq -r '.latest_version // "none"')" = none ]
	[ "$(repo_json r | jq '.versions | length')" = 0 ]
	grep -q 'removed 1 incomplete version' "$DIR/depotd.log"
	[ "$(ctl --json task show "$ID" | jq -r .state)" = canceled ]
	[ "$(task_reason "$ID")" = daemon-restarted ]
	# The next sync records the version whole.
	sync_wait r
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(db 'SELECT count(*) FROM version_files')" = 3000 ]
}

@test "depotd stopped mid-record leaves no incomplete version behind" {
	record_paused 300
	depot_terminate
	[ "$(db 'SELECT count(*) FROM versions')" = 0 ]
	[ "$(db 'SELECT count(*) FROM version_files')" = 0 ]
	[ "$(db "SELECT state FROM tasks WHERE id = $ID")" = canceled ]
	depot_launch
	[ "$(repo_json r | jq -r '.latest_version // "none"')" = none ]
	[ "$(task_reason "$ID")" = daemon-stopped ]
}
