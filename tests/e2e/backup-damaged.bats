#!/usr/bin/env bats
# DESIGN §9: a backup hashes every file it archives, content files too,
# though each is named by its sha256: the name says what the file held when
# it was stored, the hash what the archive would now get. A content file
# whose bytes no longer match its name (bit rot, a stray write) fails the
# backup, naming it, and leaves no archive — rather than one that every
# restore would refuse, found only when it is needed. Large files are hashed
# by a thread beside the compression, small ones in line: both are checked.

load helpers
load repo_helpers
load backup_helpers

# damaged_fails NAME SHA: a backup to $WORK/NAME.tar.zst fails naming content file SHA,
# and leaves neither the archive nor its .part, nor a database copy in tmp/.
damaged_fails() {
	local name=$1 sha=$2 msg
	# Not `run`, whose subshell would keep $TASK from us.
	if backup_wait -o "$WORK/$name.tar.zst" 2>/dev/null; then false; fi
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	msg=$(jq -r .error.message <<<"$TASK")
	[[ $msg == *"content/sha256/${sha:0:2}/$sha is damaged"* ]]
	[[ $msg == *"not the one its name says"* ]]
	[ ! -e "$WORK/$name.tar.zst" ]
	[ ! -e "$WORK/$name.tar.zst.part" ]
	[ -z "$(tmp_files)" ]
	grep -q "content/sha256/${sha:0:2}/$sha is damaged" "$DIR/depotd.log"
}

@test "a content file whose bytes no longer match its name fails the backup, naming it; whole again, it backs up" {
	depot_start
	mkdir -p "$WORK/feed"
	# One file past the size hashed by a thread (hashpipe.h: 512 KiB), one well under it.
	write_bytes "$WORK/feed/large.bin" $((3 * 1024 * 1024 + 5))
	write_bytes "$WORK/feed/small.bin" 3000
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait r
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	large=$(sha_of "$WORK/feed/large.bin")
	small=$(sha_of "$WORK/feed/small.bin")
	[ -f "$(content_path "$large")" ]
	[ -f "$(content_path "$small")" ]

	# A byte of the large file flipped on the disk, deep inside it.
	flip_byte "$(content_path "$large")" $((2 * 1024 * 1024 + 17))
	[ "$(sha_of "$(content_path "$large")")" != "$large" ]
	damaged_fails one "$large"

	# Whole again; now the small one's first byte.
	flip_byte "$(content_path "$large")" $((2 * 1024 * 1024 + 17))
	[ "$(sha_of "$(content_path "$large")")" = "$large" ]
	flip_byte "$(content_path "$small")" 0
	damaged_fails two "$small"

	# Both whole: the backup completes, and its archive verifies.
	flip_byte "$(content_path "$small")" 0
	backup_wait -o "$WORK/three.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run ctl backup verify "$WORK/three.tar.zst"
	[ "$status" -eq 0 ]
	[ "$(tar --zstd -xOf "$WORK/three.tar.zst" "content/sha256/${large:0:2}/$large" | sha256sum | cut -d' ' -f1)" = "$large" ]
}
