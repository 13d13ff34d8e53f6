#!/usr/bin/env bats
# backup-incremental.bats: what `backup --incremental` writes (issue 11):
# only the content its chain lacks, naming its base by file name and
# sha256, publications linking into the base's content; a full starts a
# new chain; with no chain to extend, a full is written and says why.
# Judged from the archives themselves (tar listings, BACKUP.json, sha256sum).

load helpers
load repo_helpers
load backup_helpers

# header ARCHIVE: its BACKUP.json.
header() {
	tar -xOf "$1" BACKUP.json
}

# content_members ARCHIVE: the content files it carries, by sha256.
content_members() {
	tar -tf "$1" | grep '^content/sha256/../.' | sed 's:.*/::' | LC_ALL=C sort
}

@test "an incremental holds only what its chain lacks and names its base; the next extends it; a full starts anew" {
	depot_start
	mkdir -p "$WORK/feed"
	for i in 1 2 3 4; do write_bytes "$WORK/feed/f$i.bin" 50000; done
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	publish_wait r
	mkdir "$WORK/b"
	backup_wait -o "$WORK/b/full.tar.zst"
	full=$ARCHIVE
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	[ "$(content_members "$full" | wc -l)" -eq 4 ]
	[ "$(jq -r .result.sha256 <<<"$TASK")" = "$(sha_of "$full")" ]

	# One file changes, one is added: two new contents.
	write_bytes "$WORK/feed/f2.bin" 50001
	write_bytes "$WORK/feed/f5.bin" 50000
	make_feed "$WORK/feed"
	sync_wait r
	publish_wait r
	backup_wait -o "$WORK/b/inc1.tar.zst" --incremental
	inc1=$ARCHIVE
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
	[ "$(jq -r .result.base <<<"$TASK")" = full.tar.zst ]
	h=$(header "$inc1")
	[ "$(jq -c '[.kind, .base.file, .base.sha256, .base.size]' <<<"$h")" = \
		"[\"incremental\",\"full.tar.zst\",\"$(sha_of "$full")\",$(stat -c %s "$full")]" ]
	diff <(content_members "$inc1") <(for f in f2 f5; do sha_of "$WORK/feed/$f.bin"; done | LC_ALL=C sort)
	diff <(jq -r '.holds[]' <<<"$h") <(content_members "$inc1")
	# Its publication is whole, its unchanged files linked to content only the base holds.
	f1=$(sha_of "$WORK/feed/f1.bin")
	tar -tvf "$inc1" | grep -q "^h.* publish/r/versions/2/f1.bin link to content/sha256/${f1:0:2}/$f1\$"
	tar -tf "$inc1" | grep -qx depot.db
	[ "$(jq -r .kind <<<"$(tar -xOf "$inc1" MANIFEST.json)")" = incremental ]
	# Much smaller than the full: two files of six.
	[ "$(stat -c %s "$inc1")" -lt $(($(stat -c %s "$full") * 6 / 10)) ]

	# Nothing changed: the next incremental carries no content, and its base is inc1.
	backup_wait -o "$WORK/b/inc2.tar.zst" --incremental
	inc2=$ARCHIVE
	[ "$(jq -r .base.file <<<"$(header "$inc2")")" = inc1.tar.zst ]
	[ "$(jq -r .base.sha256 <<<"$(header "$inc2")")" = "$(sha_of "$inc1")" ]
	[ -z "$(content_members "$inc2")" ]

	# A full starts a new chain: everything again, no base.
	backup_wait -o "$WORK/b/full2.tar.zst"
	[ "$(jq -r .base <<<"$(header "$ARCHIVE")")" = null ]
	[ "$(content_members "$ARCHIVE" | wc -l)" -eq 6 ]
	backup_wait -o "$WORK/b/inc3.tar.zst" --incremental
	[ "$(jq -r .base.file <<<"$(header "$ARCHIVE")")" = full2.tar.zst ]
}

@test "an incremental with no chain to extend is written full, and its result says why" {
	depot_start
	mkdir -p "$WORK/feed"
	write_bytes "$WORK/feed/a.bin" 1000
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r

	# No earlier backup at all.
	backup_wait -o "$WORK/first.tar.zst" --incremental
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	[[ $(jq -r .result.promoted <<<"$TASK") == *"no earlier backup"* ]]
	[ "$(jq -r .kind <<<"$(header "$ARCHIVE")")" = full ]
	[ "$(content_members "$ARCHIVE" | wc -l)" -eq 1 ]

	# The last backup moved away: a full again, naming it.
	mv "$WORK/first.tar.zst" "$WORK/moved.tar.zst"
	backup_wait -o "$WORK/second.tar.zst" --incremental
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	[[ $(jq -r .result.promoted <<<"$TASK") == *"$WORK/first.tar.zst is gone"* ]]

	# The last backup replaced by another file: its size no longer matches.
	printf 'not the archive\n' >"$WORK/second.tar.zst"
	backup_wait -o "$WORK/third.tar.zst" --incremental
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	[[ $(jq -r .result.promoted <<<"$TASK") == *"not the archive that was written"* ]]
	grep -q "an incremental was asked for and a full is written" "$DIR/depotd.log"
}

@test "the daemon refuses an incremental that is not a boolean, and one on a restore" {
	depot_start
	send() {
		printf '%s' "$1" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 3000
	}
	run send '{"cmd": "task.submit", "args": {"type": "backup", "incremental": "yes"}}'
	[[ $output == *bad_request* ]]
	[[ $output == *"'incremental' must be true or false"* ]]
	run send '{"cmd": "task.submit", "args": {"type": "restore", "path": "/x.tar", "incremental": true}}'
	[[ $output == *"a restore takes no 'incremental'"* ]]
	[ "$(ctl --json task list | jq length)" -eq 0 ]
}
