#!/usr/bin/env bats
# DESIGN §9, §11 and §13, backups as routine: `backup --wait` prints the
# archive's path; `backup list` shows the archives of DIR/backups (time,
# kind, base, size, verified); schedules run `backup` and `orphans clean`
# like any other task; after a restore the DIR.pre-restore-* directories
# beyond [backup] keep_pre_restore go, and `status` lists the ones kept with
# their size; after a backup the chains beyond [backup] keep go.

load helpers
load repo_helpers
load backup_helpers

# archives: the archives in DIR/backups, one a line (no hidden files, no .part).
archives() {
	find "$DIR/backups" -maxdepth 1 -type f ! -name '.*' ! -name '*.part' -printf '%f\n' 2>/dev/null |
		LC_ALL=C sort
}

# archives_at_least N: DIR/backups holds N archives or more (for wait_for).
archives_at_least() {
	[ "$(archives | wc -l)" -ge "$1" ]
}

# pre_restores [BASE]: the DIR.pre-restore-* directories beside BASE ($DIR), oldest first.
pre_restores() {
	local d
	for d in "${1:-$DIR}".pre-restore-*; do
		[ -d "$d" ] && [ ! -L "$d" ] && echo "$d"
	done
	return 0
}

# pruning_gone: no BASE.pruning-pre-restore-* is left beside $DIR (the thread removed them).
pruning_gone() {
	[ -z "$(ls -d "$DIR".pruning-pre-restore-* 2>/dev/null)" ]
}

# pre_restore_measured PATH: status lists PATH among the pre-restore directories, with its size.
pre_restore_measured() {
	ctl --json status | jq -e --arg p "$1" \
		'any(.storage.pre_restore[]; .path == $p and (.bytes | type) == "number")' >/dev/null
}

# sched_task_ids NAME: ids of the tasks schedule NAME submitted, oldest first.
sched_task_ids() {
	ctl --json task list | jq -r --arg n "$1" '[.[] | select(.schedule == $n) | .id] | sort | .[]'
}

# sched_completed_at_least NAME N: N tasks or more of schedule NAME completed.
sched_completed_at_least() {
	ctl --json task list | jq -e --arg n "$1" --argjson k "$2" \
		'[.[] | select(.schedule == $n and .state == "completed")] | length >= $k' >/dev/null
}

# gone PATH: nothing is at PATH (for wait_for).
gone() {
	[ ! -e "$1" ]
}

@test "backup --wait prints the archive's path last; backup list shows each archive with its time, kind, size and whether verify checked it" {
	depot_start
	two_repos
	run --separate-stderr ctl backup --wait
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(wc -l <<<"$output")" -eq 3 ]
	id=$(sed -n 1p <<<"$output")
	[[ $(sed -n 2p <<<"$output") == "$id completed: full backup, "* ]]
	path=$(sed -n 3p <<<"$output")
	[[ $path =~ ^$DIR/backups/depot-[0-9]{8}T[0-9]{6}Z\.tar\.zst$ ]]
	[ -f "$path" ]
	[ "$path" = "$(task_field "$id" .result.path)" ]
	# --json: the final task alone.
	run --separate-stderr ctl --json backup --wait
	[ "$status" -eq 0 ]
	second=$(jq -r .result.path <<<"$output")
	[ -f "$second" ]
	[ "$second" != "$path" ]

	run ctl --json backup list
	[ "$status" -eq 0 ]
	list=$output
	echo "$list"
	[ "$(jq length <<<"$list")" -eq 2 ]
	# Oldest first, as the files are.
	[ "$(jq -r '.[0].path' <<<"$list")" = "$path" ]
	[ "$(jq -r '.[1].path' <<<"$list")" = "$second" ]
	[ "$(jq -r '.[0].name' <<<"$list")" = "$(basename "$path")" ]
	[ "$(jq -r '.[0].size' <<<"$list")" = "$(stat -c %s "$path")" ]
	[ "$(jq -r '[.[].kind] | unique | join(",")' <<<"$list")" = full ]
	[ "$(jq -r '[.[].base] | unique | join(",")' <<<"$list")" = "" ]
	[ "$(jq -r '[.[].verified] | unique | join(",")' <<<"$list")" = "" ]
	# From each archive's BACKUP.json: its format, the task that wrote it, a chain of its own.
	[ "$(jq -r '[.[].format] | unique | join(",")' <<<"$list")" = 2 ]
	[ "$(jq -r '[.[].time_from] | unique | join(",")' <<<"$list")" = header ]
	[ "$(jq -r '.[0].task_id' <<<"$list")" = "$id" ]
	[ "$(jq -r '.[0].chain' <<<"$list")" = "$(basename "$path")" ]
	[ "$(jq -r '.[1].chain' <<<"$list")" = "$(basename "$second")" ]
	# The time the backup was made: within the test's run.
	made=$(rfc3339_ms "$(jq -r '.[0].created_at' <<<"$list")")
	[ "$made" -le "$(now_ms)" ]
	[ "$made" -ge $(($(now_ms) - 600000)) ]

	# verify records its outcome beside the archive; list shows it.
	run ctl backup verify "$path"
	[ "$status" -eq 0 ]
	[ -f "$DIR/backups/.$(basename "$path").verified" ]
	[ "$(ctl --json backup list | jq -r '.[0].verified')" = true ]
	[ "$(ctl --json backup list | jq -r '.[0].authenticated')" = true ]
	[ "$(ctl --json backup list | jq -r '.[1].verified')" = null ]
	# A changed archive is no longer verified, and one verify refuses shows FAILED.
	printf 'x' >>"$second"
	run ctl backup verify "$second"
	[ "$status" -eq 1 ]
	[ "$(ctl --json backup list | jq -r '.[1].verified')" = false ]
	[ -n "$(ctl --json backup list | jq -r '.[1].verify_error')" ]
	touch -d '2001-01-01' "$path"
	[ "$(ctl --json backup list | jq -r '.[0].verified')" = null ]

	# For people: a table with both, and the mark.
	run ctl backup list
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(sed -n 1p <<<"$output" | tr -s ' ')" = "NAME TIME KIND BASE SIZE VERIFIED" ]
	grep -q "^$(basename "$second") .* FAILED$" <<<"$output"
	grep -q "^$(basename "$path") .* no$" <<<"$output"
}

@test "backup list shows a chain: the full, then each incremental naming the one before; a base gone is marked missing" {
	depot_start
	two_repos
	backup_wait
	full=$ARCHIVE
	write_bytes "$WORK/feed1/new.bin" 5000
	make_feed "$WORK/feed1"
	sync_wait r1
	backup_wait --incremental
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
	inc1=$ARCHIVE
	backup_wait --incremental
	inc2=$ARCHIVE
	run ctl --json backup list
	list=$output
	echo "$list"
	[ "$(jq -r '[.[].kind] | join(" ")' <<<"$list")" = "full incremental incremental" ]
	[ "$(jq -r '[.[].path] | join(" ")' <<<"$list")" = "$full $inc1 $inc2" ]
	[ "$(jq -r '.[0].base' <<<"$list")" = null ]
	[ "$(jq -r '.[1].base.file' <<<"$list")" = "$(basename "$full")" ]
	[ "$(jq -r '.[1].base.size' <<<"$list")" = "$(stat -c %s "$full")" ]
	[ "$(jq -r '.[1].base.sha256' <<<"$list")" = "$(sha256sum "$full" | cut -d' ' -f1)" ]
	[ "$(jq -r '.[2].base.file' <<<"$list")" = "$(basename "$inc1")" ]
	[ "$(jq -r '[.[].base.present // empty] | unique | join(",")' <<<"$list")" = true ]
	[ "$(jq -r '[.[].chain] | unique | join(",")' <<<"$list")" = "$(basename "$full")" ]
	run ctl backup list
	echo "$output"
	grep -q "^$(basename "$inc2") .* incremental  *$(basename "$inc1") .* no$" <<<"$output"

	rm "$full"
	run ctl --json backup list
	[ "$(jq -r '.[0].base.present' <<<"$output")" = false ]
	[ "$(jq -r '[.[].chain] | unique | join(",")' <<<"$output")" = "$(basename "$full")" ]
	run ctl backup list
	grep -q "^$(basename "$inc1") .* $(basename "$full") (missing) " <<<"$output"
}

@test "backup list: what is not an archive is left out, a link is not followed, --dir lists another directory, and no backups yet is not an error" {
	depot_start
	run ctl backup list
	[ "$status" -eq 0 ]
	[ "$output" = "no backups in $DIR/backups" ]
	[ "$(ctl --json backup list)" = "[]" ]

	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	printf 'notes\n' >"$DIR/backups/README"
	printf 'not a tar\n' >"$DIR/backups/broken.tar.zst"
	printf 'partial' >"$DIR/backups/next.tar.zst.part"
	mkdir "$WORK/elsewhere"
	cp "$ARCHIVE" "$WORK/elsewhere/copy.tar.zst"
	ln -s "$WORK/elsewhere/copy.tar.zst" "$DIR/backups/link.tar.zst"
	run ctl --json backup list
	echo "$output"
	[ "$(jq -r '[.[].name] | sort | join(" ")' <<<"$output")" = "broken.tar.zst $(basename "$ARCHIVE")" ]
	[ "$(jq -r '.[] | select(.name == "broken.tar.zst") | .format' <<<"$output")" = null ]
	[ -n "$(jq -r '.[] | select(.name == "broken.tar.zst") | .error' <<<"$output")" ]
	run ctl backup list
	grep -q '^broken.tar.zst .* unreadable ' <<<"$output"

	run ctl --json backup list --dir "$WORK/elsewhere"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.[0].path' <<<"$output")" = "$WORK/elsewhere/copy.tar.zst" ]
	run --separate-stderr ctl backup list --dir "$WORK/nowhere"
	[ "$status" -eq 2 ]
	[[ $stderr == *"$WORK/nowhere"* ]]
}

@test "a scheduled backup runs: each run writes a new archive in DIR/backups, which verify accepts" {
	depot_start
	two_repos
	run ctl schedule add nightly --every 1s -- backup
	[ "$status" -eq 0 ]
	[ "$(ctl --json schedule list | jq -c '.[0].template')" = '{"type":"backup"}' ]
	run ctl schedule list
	[[ $output == *"nightly "*" backup"* ]]
	wait_for archives_at_least 2 30s
	ctl schedule disable nightly
	# What ran is the schedule's, and each wrote its own file.
	ids=$(sched_task_ids nightly)
	[ "$(wc -l <<<"$ids")" -ge 2 ]
	for id in $ids; do
		task_final "$id"
		[ "$(jq -r .type <<<"$TASK")" = backup ]
		[ "$(jq -r .state <<<"$TASK")" = completed ]
		[ -f "$(jq -r .result.path <<<"$TASK")" ]
	done
	[ "$(for id in $ids; do task_field "$id" .result.path; done | sort -u | wc -l)" -eq "$(wc -l <<<"$ids")" ]
	first=$(archives | head -n 1)
	run ctl backup verify "$DIR/backups/$first"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a scheduled backup --incremental writes a full first, then incrementals each naming the archive before" {
	depot_start
	two_repos
	run ctl schedule add hourly --every 1s -- backup --incremental
	[ "$status" -eq 0 ]
	[ "$(ctl --json schedule list | jq -c '.[0].template')" = '{"type":"backup","incremental":true}' ]
	run ctl schedule list
	[[ $output == *"backup --incremental"* ]]
	wait_for archives_at_least 3 30s
	ctl schedule disable hourly
	for id in $(sched_task_ids hourly); do task_final "$id"; done
	run ctl --json backup list
	list=$output
	echo "$list"
	n=$(jq length <<<"$list")
	[ "$(jq -r '.[0].kind' <<<"$list")" = full ]
	[ "$(jq -r '[.[1:][].kind] | unique | join(",")' <<<"$list")" = incremental ]
	for ((i = 1; i < n; i++)); do
		[ "$(jq -r ".[$i].base.file" <<<"$list")" = "$(jq -r ".[$((i - 1))].name" <<<"$list")" ]
	done
	# The first run had nothing to build on: its result says why it is a full.
	first=$(sched_task_ids hourly | head -n 1)
	[ "$(task_field "$first" .result.kind)" = full ]
	[ -n "$(task_field "$first" '.result.promoted // empty')" ]
}

@test "a scheduled backup with -o FILE replaces FILE each run; what schedule add refuses of backup and orphans clean" {
	depot_start
	cd "$WORK"
	run ctl schedule add copy --every 1s -- backup -o rel.tar.zst
	[ "$status" -eq 0 ]
	# Made absolute when the schedule was added, as backup -o does.
	[ "$(ctl --json schedule list | jq -r '.[0].template.output')" = "$WORK/rel.tar.zst" ]
	wait_for sched_completed_at_least copy 1 30s
	[ -f "$WORK/rel.tar.zst" ]
	ino=$(stat -c %i "$WORK/rel.tar.zst")
	# The next run writes a new file (FILE.part, renamed) under the same name.
	wait_for sched_completed_at_least copy 2 30s
	ctl schedule disable copy
	[ "$(stat -c %i "$WORK/rel.tar.zst")" != "$ino" ]
	[ "$(for id in $(sched_task_ids copy); do task_field "$id" .result.path; done | sort -u)" = "$WORK/rel.tar.zst" ]
	[ -z "$(archives)" ]
	run ctl backup verify "$WORK/rel.tar.zst"
	[ "$status" -eq 0 ]

	run --separate-stderr ctl schedule add w --every 1s -- backup --wait
	[ "$status" -eq 2 ]
	[[ $stderr == *--wait* ]]
	run --separate-stderr ctl schedule add l --every 1s -- backup list
	[ "$status" -eq 2 ]
	[[ $stderr == *"cannot schedule"* ]]
	run --separate-stderr ctl schedule add v --every 1s -- backup verify x
	[ "$status" -eq 2 ]
	run --separate-stderr ctl schedule add o --every 1s -- orphans clean extra
	[ "$status" -eq 2 ]
	[[ $stderr == *extra* ]]
	run --separate-stderr ctl schedule add d --every 1s -- backup -o "$WORK/nodir/x.tar"
	[ "$status" -eq 2 ]
	[ "$(ctl --json schedule list | jq -c '[.[].name]')" = '["copy"]' ]
	# The daemon checks a template too: a relative output is refused.
	printf '{"cmd": "schedule.add", "args": {"name": "rel", "every_ms": 1000, "template": {"type": "backup", "output": "rel.tar"}}}' >"$WORK/req.json"
	run "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" <"$WORK/req.json"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
}

@test "a scheduled orphans clean runs: the content no version references goes, the rest stays" {
	depot_start
	mkdir -p "$WORK/f1" "$WORK/f2"
	printf 'only in r1\n' >"$WORK/f1/own.txt"
	write_bytes "$WORK/f2/kept.bin" 700
	make_feed "$WORK/f1"
	make_feed "$WORK/f2"
	ctl repo create r1 --feed "file://$WORK/f1/PULP_MANIFEST"
	ctl repo create r2 --feed "file://$WORK/f2/PULP_MANIFEST"
	sync_wait r1
	sync_wait r2
	own=$(content_path "$(sha_of "$WORK/f1/own.txt")")
	kept=$(content_path "$(sha_of "$WORK/f2/kept.bin")")
	[ -f "$own" ]
	ctl repo delete r1

	run ctl schedule add sweep --every 1s -- orphans clean
	[ "$status" -eq 0 ]
	[ "$(ctl --json schedule list | jq -c '.[0].template')" = '{"type":"orphans"}' ]
	run ctl schedule list
	[[ $output == *"orphans clean"* ]]
	wait_for gone "$own" 30s
	ctl schedule disable sweep
	[ -f "$kept" ]
	id=$(sched_task_ids sweep | head -n 1)
	task_final "$id"
	[ "$(jq -r .type <<<"$TASK")" = orphans ]
	[ "$(jq -r .schedule <<<"$TASK")" = sweep ]
}

@test "[backup] keep_pre_restore = 1: after two restores one DIR.pre-restore-* is left, the newest; status lists it with its size" {
	depot_start
	two_repos
	backup_wait -o "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	# Not ours to touch: a name that is not a stamp, and a link to a directory elsewhere.
	mkdir "$DIR.pre-restore-mine" "$WORK/target"
	printf 'keep me\n' >"$WORK/target/file"
	ln -s "$WORK/target" "$DIR.pre-restore-20000101T000000Z"
	BACKUP_DIRS+=("$DIR.pre-restore-mine" "$DIR.pre-restore-20000101T000000Z")

	restore_wait "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	first=$(jq -r .result.previous_data <<<"$TASK")
	[ "$(pre_restores | grep -v mine)" = "$first" ]
	restore_wait "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	second=$(jq -r .result.previous_data <<<"$TASK")
	[ "$second" != "$first" ]
	# Two restores in one second get names of their own.
	[[ $second =~ ^$DIR\.pre-restore-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$ ]]
	[ "$(pre_restores | grep -v mine)" = "$second" ]
	[ ! -e "$first" ]
	wait_for pruning_gone 30s
	[ -d "$DIR.pre-restore-mine" ]
	[ -L "$DIR.pre-restore-20000101T000000Z" ]
	[ "$(cat "$WORK/target/file")" = "keep me" ]

	# status lists it; its size once the daemon's thread has measured it.
	wait_for pre_restore_measured "$second" 30s
	run ctl --json status
	[ "$(jq -r '[.storage.pre_restore[].path] | join(" ")' <<<"$output")" = "$second" ]
	bytes=$(jq -r '.storage.pre_restore[0].bytes' <<<"$output")
	du=$(du -s -B1 "$second" | cut -f1)
	echo "status: $bytes, du: $du"
	[ "$bytes" -gt 0 ]
	[ $((bytes * 100 / du)) -ge 95 ] && [ $((bytes * 100 / du)) -le 105 ]
	jq -e '.storage.pre_restore[0].made_at | type == "string"' <<<"$output"
	run ctl status
	echo "$output"
	grep -q "^  pre-restore  *$second ([0-9.]*[KMG]\?i\?B)$" <<<"$output"
}

@test "[backup] keep_pre_restore = 2 keeps the two newest, online and with depotd --restore; 0 keeps none" {
	depot_start "backup.keep_pre_restore = 2"
	backup_wait -o "$WORK/b.tar.zst"
	for i in 1 2 3; do
		restore_wait "$WORK/b.tar.zst"
		[ "$(jq -r .state <<<"$TASK")" = completed ]
		last[$i]=$(jq -r .result.previous_data <<<"$TASK")
	done
	[ "$(pre_restores)" = "$(printf '%s\n' "${last[2]}" "${last[3]}")" ]

	# With the daemon stopped: the same rule, then 0 removes the one just left too.
	depot_terminate
	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$DIR"
	[ "$status" -eq 0 ]
	[ "$(pre_restores | wc -l)" -eq 2 ]
	[ -z "$(pre_restores | grep -Fx "${last[2]}")" ]
	DEPOT_CONF+=("backup.keep_pre_restore = 0")
	depot_write_conf
	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$DIR"
	[ "$status" -eq 0 ]
	[ -z "$(pre_restores)" ]
	[ -z "$(ls -d "$DIR".pruning-pre-restore-* 2>/dev/null)" ]
	depot_launch
	[ "$(ctl --json status | jq -c .storage.pre_restore)" = "[]" ]
}

@test "[backup] keep = 2: after a backup the oldest chains in DIR/backups go, incrementals with their full; never the new one's, nor what is not this depot's" {
	depot_start "backup.keep = 2"
	two_repos
	backup_wait
	# backup_prune (daemon/backupprune.c) runs in the backup's worker once it is wired there.
	if [ "$(jq -r '.result | has("pruned")' <<<"$TASK")" != true ]; then
		skip "the backup worker does not call backup_prune yet"
	fi
	a=$(basename "$ARCHIVE")
	backup_wait --incremental
	a1=$(basename "$ARCHIVE")
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
	# Not this depot's: a format 1 archive, a text file, a link to an archive elsewhere.
	mkdir "$WORK/f1" "$WORK/elsewhere"
	printf 'db\n' >"$WORK/f1/depot.db"
	printf '{}\n' >"$WORK/f1/MANIFEST.json"
	tar -cf "$DIR/backups/old-format1.tar" -C "$WORK/f1" depot.db MANIFEST.json
	touch -d '2000-01-01' "$DIR/backups/old-format1.tar"
	printf 'notes\n' >"$DIR/backups/README"
	cp "$DIR/backups/$a" "$WORK/elsewhere/planted.tar.zst"
	touch -d '2000-01-01' "$WORK/elsewhere/planted.tar.zst"
	ln -s "$WORK/elsewhere/planted.tar.zst" "$DIR/backups/planted.tar.zst"
	backup_wait
	b=$(basename "$ARCHIVE")
	[ "$(jq -c .result.pruned <<<"$TASK")" = "[]" ]
	[ "$(archives | grep -c '^depot-')" -eq 3 ]

	# A third chain: the oldest (the full and its incremental) goes, newest first.
	backup_wait
	c=$(basename "$ARCHIVE")
	[ "$(jq -c .result.pruned <<<"$TASK")" = "[\"$a1\",\"$a\"]" ]
	[ "$(archives | grep '^depot-')" = "$(printf '%s\n' "$b" "$c" | LC_ALL=C sort)" ]
	# An incremental on c extends c's chain: two chains still, nothing goes.
	backup_wait --incremental
	c1=$(basename "$ARCHIVE")
	[ "$(jq -r .result.base <<<"$TASK")" = "$c" ]
	[ "$(jq -c .result.pruned <<<"$TASK")" = "[]" ]
	backup_wait
	d=$(basename "$ARCHIVE")
	[ "$(jq -c .result.pruned <<<"$TASK")" = "[\"$b\"]" ]
	[ "$(archives | grep '^depot-')" = "$(printf '%s\n' "$c" "$c1" "$d" | LC_ALL=C sort)" ]
	# What is not ours is all there, the link's target too.
	[ -f "$DIR/backups/old-format1.tar" ]
	[ -f "$DIR/backups/README" ]
	[ -L "$DIR/backups/planted.tar.zst" ]
	[ -f "$WORK/elsewhere/planted.tar.zst" ]
	# What is left is whole: c1's base is there, and it verifies.
	[ "$(ctl --json backup list | jq -r --arg n "$c1" '.[] | select(.name == $n) | .base.present')" = true ]
	run ctl backup verify "$DIR/backups/$c"
	echo "$output"
	[ "$status" -eq 0 ]
}
