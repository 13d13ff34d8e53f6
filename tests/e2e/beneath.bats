#!/usr/bin/env bats
# Issue 9: no path inside the data directory is ever followed outside it.
# Links such as a hostile restore could leave in DIR lead to $OUT, a
# directory of the test's own filled with files named like depot's (content
# hashes, versions, logs); whatever depot is asked to do, $OUT stays byte
# for byte as it was, judged from outside with find and sha256sum, and the
# task that would have written there fails naming the link.

load helpers
load repo_helpers

# out_state: every name, type, mode, size, mtime and link target under
# $OUT, and every file's sha256, as one digest.
out_state() {
	(cd "$OUT" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort) | sha256sum
}

# make_out: $OUT, with files an old depot would have taken for its own:
# content named by its hash (what orphans clean removes), a version tree
# (what publish prunes), a task's log. Its state in $OUT_BEFORE.
make_out() {
	OUT=$WORK/out
	mkdir -p "$OUT/1" "$OUT/2"
	printf 'not depot content\n' >"$OUT/secret"
	printf 'x,%s,2\n' "$ORPHAN_SHA" >"$OUT/1/PULP_MANIFEST"
	printf 'an orphan, by its name\n' >"$OUT/$ORPHAN_SHA"
	printf 'old output\n' >"$OUT/1.log"
	OUT_BEFORE=$(out_state)
}

out_untouched() {
	[ "$(out_state)" = "$OUT_BEFORE" ] || { find "$OUT" -ls >&2; return 1; }
}

# one_file_feed NAME CONTENT: $WORK/NAME, a feed of one file a.txt; its sha256 in $FEED_SHA.
one_file_feed() {
	mkdir -p "$WORK/$1"
	printf '%s' "$2" >"$WORK/$1/a.txt"
	make_feed "$WORK/$1"
	FEED_SHA=$(sha_of "$WORK/$1/a.txt")
}

# task_message: the error message of the task in $TASK.
task_message() {
	jq -r '.error.message // empty' <<<"$TASK"
}

# names_link TEXT LINK: TEXT names LINK as a symbolic link to $OUT ("LINK is a
# symbolic link (to OUT)", or "LINK: a symbolic link (to OUT)" when LINK is the path itself).
names_link() {
	[[ $1 == *"$2 is a symbolic link (to $OUT)"* || $1 == *"$2: a symbolic link (to $OUT)"* ]]
}

# expect_failed_naming LINK: the task in $TASK failed, its message naming LINK as a link to $OUT.
expect_failed_naming() {
	echo "task: $TASK"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	names_link "$(task_message)" "$1"
}

setup_file() {
	export ORPHAN_SHA
	# A name no feed of these tests has: the fan-out directory a link replaces.
	ORPHAN_SHA=$(printf 'orphan' | sha256sum | cut -c1-64)
}

@test "links planted while depotd was stopped: orphans clean, publish, sync and run fail naming them, and what they lead to is untouched" {
	depot_start
	one_file_feed feed 'one'
	[ "${FEED_SHA:0:2}" != "${ORPHAN_SHA:0:2}" ]
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	make_out
	fan=${ORPHAN_SHA:0:2}
	ln -s "$OUT" "$DIR/content/sha256/$fan"
	rm -rf "$DIR/publish/r1/versions" "$DIR/logs" "$DIR/tmp" "$DIR/run"
	ln -s "$OUT" "$DIR/publish/r1/versions"
	ln -s "$OUT" "$DIR/logs"
	ln -s "$OUT" "$DIR/tmp"
	ln -s "$OUT" "$DIR/run"

	depot_launch

	# run/ and tmp/ are renewed at every start: the links went, their target stayed.
	[ -d "$DIR/run" ] && [ ! -L "$DIR/run" ]
	[ -d "$DIR/tmp" ] && [ ! -L "$DIR/tmp" ]
	[ -S "$DIR/run/control.sock" ]
	out_untouched
	# The others are named at start, for the administrator to remove.
	names_link "$(cat "$DIR/depotd.log")" "$DIR/logs"
	submit_task orphans clean
	task_final "$ID"
	expect_failed_naming "$DIR/content/sha256/$fan"
	# What is not behind a link is still cleaned: the store's own file stays referenced.
	[ -f "$(content_path "$FEED_SHA")" ]
	out_untouched

	publish_wait r1
	expect_failed_naming "$DIR/publish/r1/versions"
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]
	out_untouched

	submit -- echo hello
	task_final "$ID"
	expect_failed_naming "$DIR/logs"
	out_untouched

	sync_wait r1
	expect_failed_naming "$DIR/logs"
	out_untouched
}

@test "a link in the content store where a feed's file belongs fails the sync, though a file of that name and size waits behind it" {
	depot_start
	one_file_feed feed 'twelve bytes'
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	make_out
	# Same name and size as the feed's file, other bytes: followed, it would pass for stored content.
	printf 'TWELVE BYTES' >"$OUT/$FEED_SHA"
	OUT_BEFORE=$(out_state)
	mkdir -p "$DIR/content/sha256"
	ln -s "$OUT" "$DIR/content/sha256/${FEED_SHA:0:2}"

	sync_wait r1

	expect_failed_naming "$DIR/content/sha256/${FEED_SHA:0:2}"
	[ "$(jq -r '.versions | length' <<<"$(repo_json r1)")" = 0 ]
	out_untouched
	[ -z "$(tmp_files)" ]
}

@test "tmp/ replaced by a link while depotd runs: the sync's downloads and the daemon's file lists are refused, naming it" {
	depot_start
	one_file_feed feed 'abc'
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	one_file_feed feed 'abcd'
	make_out
	rm -rf "$DIR/tmp"
	ln -s "$OUT" "$DIR/tmp"

	sync_wait r1
	expect_failed_naming "$DIR/tmp"
	out_untouched

	# The daemon writes a publish's file list in tmp/ too.
	publish_wait r1
	expect_failed_naming "$DIR/tmp"
	out_untouched

	# The next start puts a directory back, and everything works again.
	depot_terminate
	depot_launch
	[ -d "$DIR/tmp" ] && [ ! -L "$DIR/tmp" ]
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	out_untouched
}

@test "deleting a repository whose publication is a link removes the link, not what it leads to" {
	depot_start
	ctl repo create r1 --feed "file://$WORK/nowhere/PULP_MANIFEST"
	make_out
	ln -s "$OUT" "$DIR/publish/r1"

	run ctl repo delete r1
	[ "$status" -eq 0 ]

	wait_for test ! -L "$DIR/publish/r1"
	out_untouched
}

@test "a depot.db that is a link stops start-up naming it" {
	depot_init
	make_out
	ln -s "$OUT/secret" "$DIR/depot.db"

	run timeout 20 "$DEPOT_BIN/depotd" -d "$DIR"

	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$DIR/depot.db: a symbolic link (to $OUT/secret)"* ]]
	out_untouched
}
