#!/usr/bin/env bats
# DESIGN §9 and §11: `depotctl backup` queues a task that waits for `depot`
# exclusively and writes one tar — MANIFEST.json last, the database,
# depot.conf, the content store, the publish tree (hard links as links) and
# the task logs — as FILE.part, then renames it, mode 0600; by default
# DIR/backups/depot-YYYYMMDDTHHMMSSZ.tar.zst, or .tar.gz / .tar as
# [backup] compression says. `backup verify` checks an archive without the
# daemon. A backup that fails (a full disk) or is canceled leaves no file.

load helpers
load repo_helpers
load backup_helpers

# manifest_of ARCHIVE [TAR OPTION]: the MANIFEST.json the archive holds.
manifest_of() {
	tar ${2:-} -xOf "$1" MANIFEST.json
}

@test "backup of synced and published repositories and finished tasks: every file in a 0600 tar.zst named by the time, with a manifest that verify accepts" {
	depot_start
	two_repos
	run ctl run --wait -- echo "a finished task's output"
	[ "$status" -eq 0 ]
	before=$(date -u +%s)

	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .type <<<"$TASK")" = backup ]
	[ "$(jq -c .resources <<<"$TASK")" = '[{"name":"content","mode":"shared"},{"name":"backup","mode":"exclusive"}]' ]
	[ "$(jq -r .result.compression <<<"$TASK")" = zstd ]
	# The default name: DIR/backups/depot-<UTC time of the backup>.tar.zst.
	[[ $ARCHIVE =~ ^$DIR/backups/depot-([0-9]{8})T([0-9]{6})Z\.tar\.zst$ ]]
	stamp=${BASH_REMATCH[1]}${BASH_REMATCH[2]}
	made=$(date -u -d "${stamp:0:8} ${stamp:8:2}:${stamp:10:2}:${stamp:12:2}" +%s)
	[ "$made" -ge $((before - 1)) ] && [ "$made" -le $(($(date -u +%s) + 1)) ]
	[ -f "$ARCHIVE" ]
	[ "$(stat -c %a "$ARCHIVE")" = 600 ]
	[ "$(jq -r .result.size <<<"$TASK")" = "$(stat -c %s "$ARCHIVE")" ]
	# Only the archive: no FILE.part, no database copy left in tmp/.
	[ "$(ls "$DIR/backups")" = "$(basename "$ARCHIVE")" ]
	[ -z "$(tmp_files)" ]

	# GNU tar reads it: the database, depot.conf, every content file, the
	# publications with current as a symlink and their files as hard links
	# to the content store, the task logs, and MANIFEST.json last.
	run tar --zstd -tvf "$ARCHIVE"
	[ "$status" -eq 0 ]
	listing=$output
	names=$(tar --zstd -tf "$ARCHIVE")
	grep -qx depot.db <<<"$names"
	grep -qx depot.conf <<<"$names"
	[ "$(tail -n 1 <<<"$names")" = MANIFEST.json ]
	while IFS= read -r line; do
		rest=${line%,*}
		sha=${rest##*,}
		grep -qx "content/sha256/${sha:0:2}/$sha" <<<"$names"
	done < <(cat "$WORK/feed1/PULP_MANIFEST" "$WORK/feed2/PULP_MANIFEST")
	grep -q '^l.* publish/r1/current -> versions/1$' <<<"$listing"
	grep -q '^l.* publish/r2/current -> versions/1$' <<<"$listing"
	blob=$(sha_of "$WORK/feed1/sub/blob.bin")
	grep -q "^h.* publish/r1/versions/1/sub/blob.bin link to content/sha256/${blob:0:2}/$blob\$" <<<"$listing"
	grep -q "^h.* publish/r2/versions/1/shared.bin link to content/sha256/${blob:0:2}/$blob\$" <<<"$listing"
	grep -qx publish/r1/versions/1/PULP_MANIFEST <<<"$names"
	[ "$(grep -c '^logs/[0-9]*\.log$' <<<"$names")" -ge 1 ]
	# backups/ itself is not in the backup.
	[ -z "$(grep '^backups' <<<"$names")" ]

	# The manifest lists every other member with its type, and each file's
	# size and sha256 are those of the data directory.
	manifest=$(manifest_of "$ARCHIVE" --zstd)
	[ "$(jq -r .format <<<"$manifest")" = 2 ]
	[ "$(jq -r .kind <<<"$manifest")" = full ]
	[ "$(jq -r .base <<<"$manifest")" = null ]
	# BACKUP.json comes first and names exactly the content files the archive carries.
	[ "$(head -n 1 <<<"$names")" = BACKUP.json ]
	header=$(tar --zstd -xOf "$ARCHIVE" BACKUP.json)
	[ "$(jq -r .kind <<<"$header")" = full ]
	diff <(jq -r '.holds[]' <<<"$header") \
		<(grep '^content/sha256/../.' <<<"$names" | sed 's:.*/::' | LC_ALL=C sort)
	[ "$(jq -r .depot_version <<<"$manifest")" = "$(ctl --json ping | jq -r .version)" ]
	[ "$(jq -r '.members | length' <<<"$manifest")" -eq $(($(wc -l <<<"$names") - 1)) ]
	diff <(jq -r '.members[].path' <<<"$manifest" | LC_ALL=C sort) \
		<(grep -vx MANIFEST.json <<<"$names" | sed 's:/$::' | LC_ALL=C sort)
	[ "$(jq -r '.members[] | select(.path == "publish/r1/current") | .type + " " + .target' <<<"$manifest")" = "symlink versions/1" ]
	[ "$(jq -r '.members[] | select(.path == "publish/r1/versions/1/sub/blob.bin") | .type' <<<"$manifest")" = hardlink ]
	[ "$(jq -r --arg p "content/sha256/${blob:0:2}/$blob" '.members[] | select(.path == $p) | "\(.type) \(.size) \(.sha256)"' <<<"$manifest")" = "file 20000 $blob" ]
	[ "$(jq -r '.members[] | select(.path == "depot.conf") | .sha256' <<<"$manifest")" = "$(sha_of "$DIR/depot.conf")" ]

	# A second reader, when there is one.
	if command -v bsdtar >/dev/null; then
		run bsdtar -tvf "$ARCHIVE"
		[ "$status" -eq 0 ]
		[[ $output == *"publish/r1/current -> versions/1"* ]]
	fi

	# backup verify: local, every member checked.
	n=$(jq -r '.members | length' <<<"$manifest")
	when=$(jq -r .created_at <<<"$manifest")
	run ctl backup verify "$ARCHIVE"
	[ "$status" -eq 0 ]
	bytes=$(jq '[.members[] | .size // 0] | add' <<<"$manifest")
	[ "${lines[0]}" = "$ARCHIVE: ok, $n members, $bytes bytes of files, made $when by depot $(jq -r .depot_version <<<"$manifest")" ]
	# Made by this depot: its backup.key authenticates it.
	[ "${lines[1]}" = "authenticated by $DIR/backup.key" ]
	run ctl --json backup verify "$ARCHIVE"
	[ "$status" -eq 0 ]
	[ "$(jq -c '[.ok, .members, .bytes, .created_at, .authenticated]' <<<"$output")" = "[true,$n,$bytes,\"$when\",true]" ]
}

@test "backup verify needs no daemon, and names a file it cannot read" {
	depot_start
	two_repos
	backup_wait -o "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	depot_terminate

	run "$DEPOT_BIN/depotctl" -d "$WORK/no-daemon-here" backup verify "$WORK/b.tar.zst"
	[ "$status" -eq 0 ]
	[[ $output == "$WORK/b.tar.zst: ok, "* ]]

	run --separate-stderr ctl backup verify "$WORK/missing.tar.zst"
	[ "$status" -eq 2 ]
	[[ $stderr == *"$WORK/missing.tar.zst"*"No such file"* ]]
	# Not a tar at all: refused, on stderr, exit 1.
	echo "just text" >"$WORK/text.tar"
	run --separate-stderr ctl backup verify "$WORK/text.tar"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr == "$WORK/text.tar: refused: "* ]]
}

@test "backup -o: a relative FILE is made absolute from the real current directory; --json prints the task; a missing directory is refused" {
	depot_start
	mkdir -p "$WORK/real/sub"
	ln -s "$WORK/real" "$WORK/link"

	# From a directory reached through a symlink: the daemon gets the real path.
	cd "$WORK/link/sub"
	run ctl --json backup -o ../rel.tar.zst
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = backup ]
	[ "$(jq -r .args.output <<<"$output")" = "$WORK/real/rel.tar.zst" ]
	id=$(jq -r .id <<<"$output")
	task_final "$id"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.path <<<"$TASK")" = "$WORK/real/rel.tar.zst" ]
	[ -f "$WORK/real/rel.tar.zst" ]
	[ "$(stat -c %a "$WORK/real/rel.tar.zst")" = 600 ]
	[ ! -e "$WORK/real/rel.tar.zst.part" ]

	# --json --wait: the final task.
	run ctl --json backup --wait -o "$WORK/link/j.tar.zst"
	[ "$status" -eq 0 ]
	[ "$(jq -r .state <<<"$output")" = completed ]
	[ "$(jq -r .result.path <<<"$output")" = "$WORK/real/j.tar.zst" ]

	# An existing archive is replaced whole.
	echo old >"$WORK/real/j.tar.zst"
	backup_wait -o "$WORK/real/j.tar.zst"
	run ctl backup verify "$WORK/real/j.tar.zst"
	[ "$status" -eq 0 ]

	cd "$WORK"
	before=$(ctl --json task list | jq length)
	run --separate-stderr ctl backup -o "$WORK/nodir/x.tar.zst"
	[ "$status" -eq 2 ]
	[[ $stderr == *"$WORK/nodir"* ]]
	run --separate-stderr ctl backup -o "$WORK/real/"
	[ "$status" -eq 2 ]
	run --separate-stderr ctl backup -o "$WORK/real"
	[ "$status" -eq 2 ]
	[[ $stderr == *directory* ]]
	run --separate-stderr ctl backup extra-argument
	[ "$status" -eq 2 ]
	# None of them reached the daemon.
	[ "$(ctl --json task list | jq length)" -eq "$before" ]
	# The daemon itself refuses a relative output.
	run bash -c 'printf "%s" "$1" | "$2/tests/nng-send" "ipc://$3/run/control.sock" 3000' _ \
		'{"cmd": "task.submit", "args": {"type": "backup", "output": "rel.tar"}}' "$DEPOT_BIN" "$DIR"
	[[ $output == *bad_request* ]]
	[[ $output == *absolute* ]]
}

@test "[backup] compression = gzip and none: .tar.gz and .tar that tar reads and verify accepts" {
	depot_start "backup.compression = gzip"
	two_repos

	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[[ $ARCHIVE =~ ^$DIR/backups/depot-[0-9]{8}T[0-9]{6}Z\.tar\.gz$ ]]
	[ "$(jq -r .result.compression <<<"$TASK")" = gzip ]
	gzip -t "$ARCHIVE"
	tar -tzf "$ARCHIVE" | grep -qx depot.db
	[ "$(stat -c %a "$ARCHIVE")" = 600 ]
	run ctl backup verify "$ARCHIVE"
	[ "$status" -eq 0 ]

	# The daemon reads depot.conf when it starts.
	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	DEPOT_CONF+=("backup.compression = none")
	depot_write_conf
	depot_launch
	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[[ $ARCHIVE =~ ^$DIR/backups/depot-[0-9]{8}T[0-9]{6}Z\.tar$ ]]
	[ "$(jq -r .result.compression <<<"$TASK")" = none ]
	# A plain tar: the ustar magic of the first header, at offset 257.
	[ "$(dd if="$ARCHIVE" bs=1 skip=257 count=5 2>/dev/null)" = ustar ]
	tar -tf "$ARCHIVE" | grep -qx publish/r2/versions/1/shared.bin
	run ctl backup verify "$ARCHIVE"
	[ "$status" -eq 0 ]
	# The content is there uncompressed: the random blob, byte for byte.
	blob=$(sha_of "$WORK/feed1/sub/blob.bin")
	tar -xOf "$ARCHIVE" "content/sha256/${blob:0:2}/$blob" | cmp - "$WORK/feed1/sub/blob.bin"
	[ "$(ls "$DIR/backups" | wc -l)" -eq 2 ]
}

@test "a backup reserves only content shared: a command holding content makes it wait, other commands and repositories do not" {
	depot_start
	hold_content
	first=$ID
	wait_for task_is "$first" running
	submit_task backup -o "$WORK/b.tar.zst"
	backup=$ID
	submit --lock x -- true
	other=$ID
	[ "$(task_state "$backup")" = waiting ]
	# Not queued behind the backup: it needs nothing the backup holds.
	task_final "$other"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(task_state "$backup")" = waiting ]
	release_content
	task_final "$backup"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	first_end=$(rfc3339_ms "$(task_field "$first" .finished_at)")
	b_start=$(rfc3339_ms "$(task_field "$backup" .started_at)")
	[ "$first_end" -le "$b_start" ]
}

@test "a disk that fills during a backup: the task fails saying so, and neither FILE nor FILE.part remains" {
	depot_start
	mount_small "$WORK/small" 64k
	# Random (incompressible) content well over 64 KiB.
	mkdir -p "$WORK/big"
	for i in 1 2 3; do write_bytes "$WORK/big/r$i.bin" 100000; done
	make_feed "$WORK/big"
	ctl repo create big --feed "file://$WORK/big/PULP_MANIFEST" >/dev/null
	sync_wait big
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	run backup_wait -o "$WORK/small/full.tar.zst"
	[ "$status" -eq 1 ]
	# ENOSPC, said in words depotctl's user can act on.
	[[ ${output,,} == *"no space left"* ]]
	TASK=$(ctl --json task list | jq -c 'map(select(.type == "backup")) | .[0]')
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	msg=$(jq -r .error.message <<<"$TASK")
	[[ ${msg,,} == *"no space left"* ]]
	[ -z "$(ls -A "$WORK/small")" ]
	[ -z "$(tmp_files)" ]
	grep -q "backup to $WORK/small/full.tar.zst failed" "$DIR/depotd.log"

	# Nothing else was hurt: the next backup, elsewhere, completes.
	backup_wait -o "$WORK/fine.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run ctl backup verify "$WORK/fine.tar.zst"
	[ "$status" -eq 0 ]
}

@test "canceling a backup, running or waiting, leaves neither FILE nor FILE.part" {
	# gzip of random data is slow enough to be caught running.
	depot_start "backup.compression = gzip"
	big_repo

	mkdir -p "$WORK/out"
	submit_task backup -o "$WORK/out/c.tar.gz"
	running=$ID
	wait_for eval '[ -e "$WORK/out/c.tar.gz.part" ] && [ "$(task_field "$running" .progress.done)" -gt 0 ]' 20s
	ctl task cancel "$running"
	task_final "$running"
	[ "$(jq -r .state <<<"$TASK")" = canceled ]
	[ "$(jq -r .error.reason <<<"$TASK")" = canceled-by-user ]
	# The progress stopped short of the whole.
	[ "$(jq -r .progress.done <<<"$TASK")" -lt "$(jq -r .progress.total <<<"$TASK")" ]
	[ -z "$(ls -A "$WORK/out")" ]
	[ -z "$(tmp_files)" ]

	# A waiting backup, canceled before it started, writes nothing either.
	# Held until the test lets go: on a loaded machine a timed hold could end before the cancel.
	submit --lock content -- sh -c "while [ ! -e '$WORK/go' ]; do sleep 0.05; done"
	hold=$ID
	wait_for task_is "$hold" running
	submit_task backup -o "$WORK/out/w.tar.gz"
	waiting=$ID
	[ "$(task_state "$waiting")" = waiting ]
	ctl task cancel "$waiting"
	[ "$(task_state "$waiting")" = canceled ]
	touch "$WORK/go"
	task_final "$hold"
	[ -z "$(ls -A "$WORK/out")" ]
	[ -z "$(tmp_files)" ]
	# Workers are fine: the next task runs.
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
}

@test "two backups submitted at once run one after the other, and neither replaces the other's archive" {
	depot_start "daemon.workers = 3"
	two_repos
	for name in default default same same; do
		if [ "$name" = default ]; then submit_task backup; else submit_task backup -o "$WORK/same.tar.zst"; fi
		ids+=("$ID")
	done
	for id in "${ids[@]}"; do
		task_final "$id"
		[ "$(jq -r .state <<<"$TASK")" = completed ]
		[ "$(jq -c '.resources | map(select(.name == "backup")) | .[0].mode' <<<"$TASK")" = '"exclusive"' ]
		starts+=("$(rfc3339_ms "$(jq -r .started_at <<<"$TASK")")")
		ends+=("$(rfc3339_ms "$(jq -r .finished_at <<<"$TASK")")")
		paths+=("$(jq -r .result.path <<<"$TASK")")
		shas+=("$(jq -r .result.sha256 <<<"$TASK")")
	done
	# One at a time, in order.
	for k in 1 2 3; do
		[ "${starts[$k]}" -ge "${ends[$((k - 1))]}" ]
	done
	# The default names differ; each archive is the one its task wrote.
	[ "${paths[0]}" != "${paths[1]}" ]
	[ "$(sha_of "${paths[0]}")" = "${shas[0]}" ]
	[ "$(sha_of "${paths[1]}")" = "${shas[1]}" ]
	[ "$(ls "$DIR/backups" | wc -l)" -eq 2 ]
	# The same FILE twice: the second replaced the first, whole.
	[ "$(sha_of "$WORK/same.tar.zst")" = "${shas[3]}" ]
	run ctl backup verify "$WORK/same.tar.zst"
	[ "$status" -eq 0 ]
	[ -z "$(find "$WORK" "$DIR/backups" -name '*.part')" ]
}

# FILE.part is made new (O_EXCL | O_NOFOLLOW, 0600): whatever someone put
# there first — a link to a file of theirs' choosing, or a file they own and
# can read — is unlinked, never written through or reused.
@test "a FILE.part planted as a symlink or as another user's world-readable file is never written through" {
	depot_start
	printf 'keep me\n' >"$WORK/victim"
	victim_sum=$(sha_of "$WORK/victim")
	ln -s "$WORK/victim" "$WORK/b1.tar.zst.part"
	backup_wait -o "$WORK/b1.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(sha_of "$WORK/victim")" = "$victim_sum" ]
	[ ! -L "$WORK/b1.tar.zst" ]
	[ "$(stat -c '%a %u' "$WORK/b1.tar.zst")" = "600 $(id -u)" ]
	[ ! -e "$WORK/b1.tar.zst.part" ]

	# A file of another user's, mode 0666, open for reading while the backup runs.
	install -m 0666 -o nobody /dev/null "$WORK/b2.tar.zst.part"
	exec 7<"$WORK/b2.tar.zst.part"
	backup_wait -o "$WORK/b2.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(stat -c '%a %u' "$WORK/b2.tar.zst")" = "600 $(id -u)" ]
	# What the other user holds open got none of the archive.
	[ "$(head -c 1 <&7 | wc -c)" -eq 0 ]
	exec 7<&-
	run ctl backup verify "$WORK/b2.tar.zst"
	[ "$status" -eq 0 ]
}

@test "what a backup killed mid-way leaves in DIR/backups is removed by the next backup, never through a link" {
	depot_start "backup.compression = gzip"
	big_repo
	submit_task backup
	killed=$ID
	wait_for eval 'compgen -G "$DIR/backups/depot-*.part" >/dev/null' 20s
	pid=$(ctl --json worker list | jq -r --argjson id "$killed" '.[] | select(.task == $id) | .pid')
	[ -n "$pid" ]
	kill -KILL "$pid"
	task_final "$killed"
	[ "$(jq -r .state <<<"$TASK")" != completed ]
	compgen -G "$DIR/backups/depot-*.part" >/dev/null
	# A link planted under such a name: the link goes, what it points at stays.
	printf 'keep me\n' >"$WORK/victim"
	ln -s "$WORK/victim" "$DIR/backups/depot-planted.tar.gz.part"

	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ -z "$(find "$DIR/backups" -name '*.part' -o -name '*.manifest')" ]
	[ "$(cat "$WORK/victim")" = "keep me" ]
	grep -q "left by a backup that was stopped" "$DIR/depotd.log"
	run ctl backup verify "$ARCHIVE"
	[ "$status" -eq 0 ]
}

@test "names that are not ASCII are backed up and restored byte for byte, whatever the locale" {
	depot_start
	mkdir -p "$WORK/feed/café"
	printf 'accent\n' >"$WORK/feed/café/é.txt"
	printf 'kanji\n' >"$WORK/feed/日本.txt"
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	publish_wait r
	backup_wait -o "$WORK/u.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	tar --zstd -tf "$WORK/u.tar.zst" | grep -qx 'publish/r/versions/1/café/é.txt'
	LC_ALL=C run ctl backup verify "$WORK/u.tar.zst"
	[ "$status" -eq 0 ]
	run "$DEPOT_BIN/depotd" --restore "$WORK/u.tar.zst" -d "$WORK/back"
	[ "$status" -eq 0 ]
	BACKUP_DIRS+=("$WORK/back")
	cmp "$WORK/back/publish/r/current/café/é.txt" "$WORK/feed/café/é.txt"
	cmp "$WORK/back/publish/r/current/日本.txt" "$WORK/feed/日本.txt"
}
