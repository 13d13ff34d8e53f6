#!/usr/bin/env bats
# DESIGN §9: `depotctl restore FILE` (daemon running) and `depotd --restore
# FILE -d DIR` (daemon stopped) put the depot back as the backup holds it:
# repositories, content and publications byte for byte; the data replaced
# is kept as DIR.pre-restore-TIMESTAMP; every task the backup held
# unfinished is canceled with reason `restored`; task ids are never reused;
# `--force` cancels running tasks instead of waiting for them.

load helpers
load repo_helpers
load backup_helpers

# pre_restore_sql SQL: a query on the database a restore moved aside.
pre_restore_sql() {
	local prev
	prev=$(ls -d "$DIR".pre-restore-* | head -n 1)
	sqlite3 "$prev/depot.db" "$1"
}

@test "restore brings back a deleted repository, its content and its publication byte for byte; the old data is kept; ids are not reused" {
	depot_start
	two_repos
	run ctl run --wait -- echo "before the backup"
	[ "$status" -eq 0 ]
	r1=$(repo_json r1)
	r2=$(repo_json r2)
	sums=$(publish_sums)
	content=$(content_files)
	[ -n "$content" ]
	backup_wait -o "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	created=$(tar --zstd -xOf "$WORK/b.tar.zst" MANIFEST.json | jq -r .created_at)

	# Afterwards: r1 deleted (its publication goes with it), a new
	# repository, one more task, and the orphaned content cleaned away.
	ctl repo delete r1
	[ ! -e "$DIR/publish/r1" ]
	ctl repo create r3 --feed "file://$WORK/feed2/PULP_MANIFEST"
	run ctl run --wait -- echo "after the backup"
	[ "$status" -eq 0 ]
	later=$(ctl --json task list --limit 1 | jq '.[0].id')
	run ctl orphans clean --wait
	[ "$status" -eq 0 ]
	[ "$(content_files)" != "$content" ]
	max_before=$(max_task_id)

	restore_wait "$WORK/b.tar.zst"
	rid=$ID
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .type <<<"$TASK")" = restore ]
	[ "$(jq -r .args.path <<<"$TASK")" = "$WORK/b.tar.zst" ]
	[ "$(jq -r .result.backup_created_at <<<"$TASK")" = "$created" ]
	prev=$(jq -r .result.previous_data <<<"$TASK")
	[[ $prev =~ ^$DIR\.pre-restore-[0-9]{8}T[0-9]{6}Z$ ]]

	# The repositories as they were, r3 gone.
	[ "$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')" = "r1 r2" ]
	diff <(jq -S . <<<"$r1") <(repo_json r1 | jq -S .)
	diff <(jq -S . <<<"$r2") <(repo_json r2 | jq -S .)
	run ctl repo show r3
	[ "$status" -eq 6 ]
	# The publication and the content store, byte for byte.
	diff <(echo "$sums") <(publish_sums)
	[ -L "$DIR/publish/r1/current" ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]
	[ "$(readlink "$DIR/publish/r2/current")" = versions/1 ]
	diff <(echo "$content") <(content_files)
	# Publications are hard links into the content store again.
	blob=$(sha_of "$WORK/feed1/sub/blob.bin")
	[ "$(stat -c %i "$DIR/publish/r1/versions/1/sub/blob.bin")" = "$(stat -c %i "$(content_path "$blob")")" ]
	[ "$(stat -c %i "$DIR/publish/r2/versions/1/shared.bin")" = "$(stat -c %i "$(content_path "$blob")")" ]

	# The data it replaced is kept beside, whole; nothing else is left.
	[ -d "$prev" ]
	[ -f "$prev/depot.db" ]
	[ ! -e "$prev/publish/r1" ]
	[ "$(leftovers)" = "$prev" ]

	# The task made after the backup is not in the restored history, but
	# its id, and the restore's, are never given again.
	run ctl task show "$later"
	[ "$status" -eq 6 ]
	[ "$rid" -gt "$max_before" ]
	run ctl run --wait -- echo "after the restore"
	[ "$status" -eq 0 ]
	new=$(ctl --json task list --limit 1 | jq '.[0].id')
	[ "$new" -gt "$max_before" ]
	[ "$new" -gt "$rid" ]
	[ "$(task_state "$rid")" = completed ]

	# The daemon works on the restored data: workers, a sync, a publish.
	wait_for workers_online "$(conf_value daemon.workers)" 10s
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = false ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run ctl status
	[ "$status" -eq 0 ]
}

@test "the archive holds the tasks as they were at the backup's instant: a running one is canceled restored, the backup itself completed" {
	depot_start
	# Running when the backup copies the database, and still after it.
	submit --name running -- sleep 3
	first=$ID
	wait_for task_is "$first" running
	submit --lock content --name ended -- echo "ended before the backup began"
	queued=$ID
	submit_task backup -o "$WORK/b.tar.zst"
	backup=$ID
	task_final "$queued"
	task_final "$backup"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	task_final "$first"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	max_before=$(max_task_id)

	restore_wait "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	# As the snapshot held them: the running task canceled (restored) and
	# never run again, the one that had ended before completed, and the
	# backup completed with the archive's path, as its own archive says.
	TASK=$(ctl --json task show "$first")
	[ "$(jq -r .state <<<"$TASK")" = canceled ]
	[ "$(jq -r .error.reason <<<"$TASK")" = restored ]
	[ "$(task_state "$queued")" = completed ]
	TASK=$(ctl --json task show "$backup")
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.path <<<"$TASK")" = "$WORK/b.tar.zst" ]
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	run ctl task wait "$backup"
	[ "$status" -eq 0 ]
	run ctl task wait "$first"
	[ "$status" -eq 4 ]
	[ "$(ctl --json task list --state active | jq length)" -eq 0 ]
	[ "$(ctl --json lock list | jq length)" -eq 0 ]
	submit -- true
	[ "$ID" -gt "$max_before" ]
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
}

@test "restore waits for a running task; with --force it cancels it (reason restored) instead" {
	depot_start
	two_repos
	backup_wait -o "$WORK/b.tar.zst"

	# Without --force: the running task ends on its own, then the restore runs.
	# Held until the test lets go: on a loaded machine a timed hold could end before the check.
	submit -- sh -c "while [ ! -e '$WORK/go' ]; do sleep 0.05; done"
	slow=$ID
	wait_for task_is "$slow" running
	# A relative FILE reaches the daemon as an absolute path.
	r=$(cd "$WORK" && ctl restore b.tar.zst)
	[[ $r =~ ^[0-9]+$ ]]
	[ "$(task_field "$r" .args.path)" = "$WORK/b.tar.zst" ]
	[ "$(task_field "$r" .args.force)" = null ]
	[ "$(task_state "$r")" = waiting ]
	touch "$WORK/go"
	task_final "$r"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(pre_restore_sql "SELECT state FROM tasks WHERE id = $slow")" = completed ]
	rm -rf "$DIR".pre-restore-*

	# With --force: canceled at once, the restore does not wait 30 s.
	submit -- sleep 30
	long=$ID
	wait_for task_is "$long" running
	start=$(now_ms)
	restore_wait "$WORK/b.tar.zst" --force
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .args.force <<<"$TASK")" = true ]
	[ $(($(now_ms) - start)) -lt 10000 ]
	[ "$(pre_restore_sql "SELECT state FROM tasks WHERE id = $long")" = canceled ]
	[ "$(pre_restore_sql "SELECT json_extract(error, '$.reason') FROM tasks WHERE id = $long")" = restored ]
	# Its process is gone.
	for pid in $(depot_leftovers); do
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'sleep 30'; then false; fi
	done
	[ "$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')" = "r1 r2" ]
}

@test "restore refuses a FILE it cannot name before asking the daemon" {
	depot_start
	before=$(ctl --json task list | jq length)
	run --separate-stderr ctl restore "$WORK/missing.tar.zst"
	[ "$status" -eq 2 ]
	[[ $stderr == *"$WORK/missing.tar.zst"*"No such file"* ]]
	run --separate-stderr ctl restore "$WORK"
	[ "$status" -eq 2 ]
	run --separate-stderr ctl restore
	[ "$status" -eq 2 ]
	[ "$(ctl --json task list | jq length)" -eq "$before" ]
	# The daemon itself wants an absolute path, and force as a bool.
	run bash -c 'printf "%s" "$1" | "$2/tests/nng-send" "ipc://$3/run/control.sock" 3000' _ \
		'{"cmd": "task.submit", "args": {"type": "restore", "path": "b.tar"}}' "$DEPOT_BIN" "$DIR"
	[[ $output == *bad_request* ]]
	[[ $output == *absolute* ]]
	run bash -c 'printf "%s" "$1" | "$2/tests/nng-send" "ipc://$3/run/control.sock" 3000' _ \
		'{"cmd": "task.submit", "args": {"type": "restore", "path": "/b.tar", "force": "yes"}}' "$DEPOT_BIN" "$DIR"
	[[ $output == *bad_request* ]]
	[[ $output == *force* ]]
	[ "$(ctl --json task list | jq length)" -eq "$before" ]
}

@test "restore --force: a task queued ahead of the restore does not start and make it wait" {
	depot_start
	backup_wait -o "$WORK/b.tar.zst"
	submit --lock x -- sleep 30
	long=$ID
	wait_for task_is "$long" running
	# Waits for x, queued before the restore on depot.
	submit --lock x -- sleep 8
	ahead=$ID
	[ "$(task_state "$ahead")" = waiting ]

	start=$(now_ms)
	restore_wait "$WORK/b.tar.zst" --force
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	elapsed=$(($(now_ms) - start))
	echo "restore --force took ${elapsed} ms"
	[ "$elapsed" -lt 6000 ]
	[ "$(pre_restore_sql "SELECT started_at IS NULL FROM tasks WHERE id = $ahead")" = 1 ]
}

@test "depotd --restore into an empty directory: a daemon started there shows the repositories and serves the publication" {
	depot_start
	two_repos
	r1=$(repo_json r1)
	sums=$(publish_sums)
	backup_wait -o "$WORK/b.tar.zst"
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")

	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$new"
	[ "$status" -eq 0 ]
	[[ $output == *restored* ]]
	[ -f "$new/depot.db" ]
	[ "$(stat -c %a "$new")" = 700 ]
	diff <(echo "$sums") <(publish_sums "$new")
	[ -z "$(leftovers "$new" | grep restore- | grep -v pre-restore)" ]

	start_on "$new"
	[ "$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')" = "r1 r2" ]
	diff <(jq -S . <<<"$r1") <(repo_json r1 | jq -S .)
	# The backup task itself was running in the copy: nothing is left active.
	[ "$(ctl --json task list --state active | jq length)" -eq 0 ]

	# It serves the publication: another repository syncs from it over HTTP.
	start_http "$new/publish"
	ctl repo create mirror --feed "http://127.0.0.1:$HTTP_PORT/r1/current/PULP_MANIFEST"
	sync_wait mirror
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.files <<<"$TASK")" = 3 ]
	grep -q 'GET /r1/current/PULP_MANIFEST HTTP/1.[01]" 200' "$HTTP_LOG"
	publish_wait mirror
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	diff <(cd "$new/publish/r1/current" && find . -type f -exec sha256sum {} + | LC_ALL=C sort) \
		<(cd "$new/publish/mirror/current" && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

@test "depotd --restore refuses while a daemon runs on the directory, and restores once it is stopped" {
	depot_start
	two_repos
	backup_wait -o "$WORK/b.tar.zst"
	ctl repo delete r2
	state=$(depot_state)

	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$DIR"
	[ "$status" -eq 1 ]
	[[ $output == *running* ]]
	[[ $output == *"depotctl restore"* ]]
	diff <(echo "$state") <(depot_state)
	[ -z "$(leftovers)" ]

	max_before=$(max_task_id)
	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$DIR"
	[ "$status" -eq 0 ]
	[[ $(leftovers) =~ ^$DIR\.pre-restore-[0-9]{8}T[0-9]{6}Z$ ]]
	depot_launch
	[ "$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')" = "r1 r2" ]
	[ "$(readlink "$DIR/publish/r2/current")" = versions/1 ]
	submit -- true
	[ "$ID" -gt "$max_before" ]
}

@test "the archives in DIR/backups are still there after restoring from one of them" {
	depot_start
	two_repos
	backup_wait
	first=$ARCHIVE
	ctl repo delete r1
	# The default name is by the second: the next one gets its own.
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	wait_for eval '[ "$(date -u +%Y%m%dT%H%M%SZ)" != "$stamp" ]' 3s
	backup_wait
	second=$ARCHIVE
	[ "$first" != "$second" ]

	restore_wait "$first"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	ctl repo show r1 >/dev/null
	[ -f "$first" ]
	[ -f "$second" ]
}

@test "restore gives the data directory's directories their modes back (logs stays private)" {
	depot_start
	run ctl run --wait -- echo "a log"
	[ "$status" -eq 0 ]
	modes=$(cd "$DIR" && stat -c '%a %n' logs content publish tmp run)
	backup_wait -o "$WORK/b.tar.zst"
	restore_wait "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	diff <(echo "$modes") <(cd "$DIR" && stat -c '%a %n' logs content publish tmp run)
	[ "$(stat -c %a "$DIR/depot.db")" = 600 ]
}

# [publish] dir outside the data directory: the backup holds it as publish/,
# and a restore, online or offline, puts it back there (staged beside it and
# swapped in), not inside the data directory.
@test "a [publish] dir outside the data directory is backed up and restored in place, online and offline" {
	PUB=$(mktemp -d /tmp/dpp.XXXXXX)/pub
	BACKUP_DIRS+=("$(dirname "$PUB")")
	depot_start "publish.dir = $PUB"
	two_repos
	[ "$(readlink "$PUB/r1/current")" = versions/1 ]
	[ ! -e "$DIR/publish/r1" ]
	sums=$(tree_sums "$PUB")
	backup_wait -o "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	# The archive holds the publications under publish/.
	tar --zstd -tf "$WORK/b.tar.zst" | grep -qx 'publish/r1/current'

	ctl repo delete r1
	[ ! -e "$PUB/r1" ]
	restore_wait "$WORK/b.tar.zst"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	diff <(echo "$sums") <(tree_sums "$PUB")
	[ ! -e "$DIR/publish/r1" ]
	# The replaced publications are kept beside, as the data is, and no staging is left.
	ls -d "$PUB".pre-restore-*
	[ -z "$(ls -d "$PUB".restore-* 2>/dev/null)" ]
	# The restored depot publishes into it as before.
	publish_wait r2
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ -e "$PUB/r2/current/only.bin" ]

	# Offline, into a new data directory whose depot.conf names another publish
	# dir, on another file system: hard links to content become copies.
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	mount_small "$WORK/otherfs" 64M
	PUB2=$WORK/otherfs/pub
	printf '[publish]\ndir = %s\n[limits]\nrestore_free_margin = 1MiB\n' "$PUB2" >"$new/depot.conf"
	run "$DEPOT_BIN/depotd" --restore "$WORK/b.tar.zst" -d "$new"
	echo "$output"
	[ "$status" -eq 0 ]
	diff <(echo "$sums") <(tree_sums "$PUB2")
	[ ! -e "$new/publish/r1" ]
	[ "$(stat -c %d "$PUB2/r1/versions/1/first.txt")" != "$(stat -c %d "$new/content")" ]
}

# ticked_after MS: the scheduler has run a pass after MS (epoch ms).
ticked_after() {
	local last
	last=$(ctl --json status | jq -r '.scheduler.last_tick // empty')
	[ -n "$last" ] && [ "$(date -d "$last" +%s%3N)" -gt "$1" ]
}

# An archive is the depot's code as well as its data: schedules run commands,
# depot.conf names where publications go and who may connect. Only an archive
# this depot's backup.key authenticates is trusted with them (an attacker's
# review restored a tampered one and had its schedule run a command as root).
@test "an archive not authenticated by backup.key comes back with its schedules disabled and its depot.conf aside" {
	depot_start "backup.compression = none"
	[ "$(stat -c %a "$DIR/backup.key")" = 600 ]
	ctl schedule add evil --every 1s -- run -- touch "$WORK/PWNED"
	ctl schedule disable evil
	ctl schedule add keep --every 1h -- run -- true
	backup_wait -o "$WORK/good.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	conf_sum=$(sha_of "$DIR/depot.conf")

	# Tampered: the schedule enabled and due, another depot.conf, the manifest made to match.
	tar -xOf "$WORK/good.tar" depot.db >"$WORK/evil.db"
	sqlite3 "$WORK/evil.db" "UPDATE schedules SET enabled = 1, next_run = 0 WHERE name = 'evil'"
	craft "$WORK/good.tar" "$WORK/t1.tar" replace-file depot.db "$WORK/evil.db"
	craft "$WORK/t1.tar" "$WORK/evil.tar" replace depot.conf $'[daemon]\nworkers = 1\n'
	run ctl backup verify "$WORK/evil.tar"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "not authenticated by $DIR/backup.key: a restore disables its schedules and keeps its depot.conf aside" ]

	restore_wait "$WORK/evil.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[[ $(jq -r .result.note <<<"$TASK") == *"not authenticated"* ]]
	after=$(now_ms)
	[ "$(ctl --json schedule list | jq -c '[.[] | [.name, .enabled]] | sort')" = '[["evil",false],["keep",false]]' ]
	[ "$(sha_of "$DIR/depot.conf")" = "$conf_sum" ]
	[ "$(cat "$DIR/depot.conf.restored")" = $'[daemon]\nworkers = 1' ]
	[ "$(stat -c %a "$DIR/backup.key")" = 600 ]
	# Judged from outside: two scheduler passes later, the command never ran.
	wait_for ticked_after $((after + 2000))
	[ ! -e "$WORK/PWNED" ]
	[ "$(ctl --json task list | jq '[.[] | select(.type == "exec")] | length')" -eq 0 ]

	# The depot's own archive is trusted with both, and the key stayed with the depot.
	restore_wait "$WORK/good.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r '.result.note // empty' <<<"$TASK")" = "" ]
	[ "$(ctl --json schedule list | jq -c '[.[] | [.name, .enabled]] | sort')" = '[["evil",false],["keep",true]]' ]

	# Offline into a directory with no key: nothing there can authenticate it.
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	run "$DEPOT_BIN/depotd" --restore "$WORK/good.tar" -d "$new"
	[ "$status" -eq 0 ]
	[[ $output == *"not authenticated"* ]]
	[ ! -e "$new/depot.conf" ]
	[ -e "$new/depot.conf.restored" ]
	[ "$(sqlite3 "$new/depot.db" 'SELECT count(*) FROM schedules WHERE enabled = 1')" -eq 0 ]
}

@test "a hand-started worker that outlives a restore is sent its task's environment again: the restored database numbers its environments on its own" {
	local clean=(env -i PATH=/usr/bin:/bin)
	# The archive: a depot whose first environment says MARK=one.
	depot_start
	id=$("${clean[@]}" MARK=one "$DEPOT_BIN/depotctl" -d "$DIR" run -- true)
	ctl task wait "$id" >/dev/null
	backup_wait -o "$WORK/a.tar"
	# Here the first says MARK=two, and the one worker, started by hand, keeps it.
	second_depot "daemon.workers = 0"
	start_hand_worker hand1
	hand=$LAST_HAND_PID
	wait_for worker_is hand1 online
	# Three tasks, so that the restore's id is above the archive's tasks'.
	for i in 1 2 3; do
		id=$("${clean[@]}" MARK=two "$DEPOT_BIN/depotctl" -d "$DIR" run -- sh -c 'echo $MARK')
		ctl task wait "$id" >/dev/null
	done
	[ "$(ctl task log "$id")" = two ]
	[ "$(sqlite3 "$DIR/depot.db" "SELECT id FROM environments WHERE env LIKE '%\"MARK\":\"two\"%'")" = 1 ]

	restore_wait "$WORK/a.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	wait_for worker_is hand1 online
	# The same process, with what it kept from before.
	[ "$(worker_pid hand1)" = "$hand" ]
	[ "$(sqlite3 "$DIR/depot.db" "SELECT id FROM environments WHERE env LIKE '%\"MARK\":\"one\"%'")" = 1 ]
	id=$("${clean[@]}" MARK=one "$DEPOT_BIN/depotctl" -d "$DIR" run -- sh -c 'echo $MARK')
	ctl task wait "$id" >/dev/null
	[ "$(ctl task log "$id")" = one ]
}

@test "restoring another depot's archive whose tasks include this restore's id: the archive's task moves to a new id with its log, the id stays the restore's" {
	# The archive: tasks 1 (with a log) and 2 (the backup).
	depot_start
	id=$(ctl run -- echo from the archive)
	ctl task wait "$id" >/dev/null
	[ "$id" = 1 ]
	backup_wait -o "$WORK/a.tar"
	# A new depot: its first task is the restore, id 1.
	second_depot
	restore_wait "$WORK/a.tar"
	[ "$ID" = 1 ]
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .type <<<"$TASK")" = restore ]
	# The archive's task 1 is above every id, with its command and its log.
	moved=$(ctl --json task list | jq -r '.[] | select(.type == "exec") | .id')
	echo "the archive's task 1 is $moved"
	[ "$moved" -gt 2 ]
	[ "$(ctl --json task show "$moved" | jq -r '.args.argv | join(" ")')" = "echo from the archive" ]
	[ "$(ctl task log "$moved")" = "from the archive" ]
	# Said in the log, which stayed with the data it was opened on.
	cat "$DIR"/depotd.log "$DIR".pre-restore-*/depotd.log 2>/dev/null |
		grep -q "the archive's task 1 is task $moved here"
	# New tasks come above it.
	next=$(ctl run -- true)
	[ "$next" -gt "$moved" ]
}
