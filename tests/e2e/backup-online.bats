#!/usr/bin/env bats
# backup-online.bats: a backup never stops the world (issue 11). It runs
# beside a long sync, publishes and 50 commands, none of which waits for
# it — judged from a trace the commands write and from the archive's .part
# on disk, not from the daemon's word — and its archive restores to the
# state of its database snapshot. Only orphan cleanup and a backup exclude
# each other (`content`).

load helpers
load repo_helpers
load backup_helpers

# backup_worker_pid ID: the pid of the worker running task ID.
backup_worker_pid() {
	ctl --json worker list | jq -r --argjson id "$1" '.[] | select(.task == $id) | .pid'
}

# feed_v DIR N: the feed DIR at version N, a file or two that say N.
feed_v() {
	mkdir -p "$1"
	rm -f "$1"/v*.txt
	printf 'version %s\n' "$2" >"$1/v$2.txt"
	printf 'common\n' >"$1/common.txt"
	make_feed "$1"
}

@test "a backup runs beside a long sync, publishes and 50 commands, none waiting for it; its archive restores the snapshot's state" {
	depot_start "daemon.workers = 6" "monitor.worker_timeout = 60s" "backup.compression = gzip"
	# r3: published at version 1 when the backup copies the database.
	feed_v "$WORK/feed3" 1
	ctl repo create r3 --feed "file://$WORK/feed3/PULP_MANIFEST" >/dev/null
	sync_wait r3
	publish_wait r3
	cp "$WORK/feed3/PULP_MANIFEST" "$WORK/r3-v1.manifest"
	# Some bulk, so the archive is written for a while: gzip of 40 MB of
	# random bytes takes a second or more, ten times what the test needs
	# to see FILE.part and stop the worker.
	mkdir -p "$WORK/bulk"
	write_bytes "$WORK/bulk/b.bin" 40000000
	make_feed "$WORK/bulk"
	ctl repo create bulk --feed "file://$WORK/bulk/PULP_MANIFEST" >/dev/null
	sync_wait bulk
	# r2: a sync that is slow (one file at 100 kB/s, 40 s), running throughout.
	mkdir -p "$WORK/feed2"
	write_bytes "$WORK/feed2/slow.bin" 4000000
	make_feed "$WORK/feed2"
	start_slow_http "$WORK/feed2" 100000
	ctl repo create r2 --feed "$(feed_url "$HTTP_PORT")" >/dev/null
	submit_task sync r2
	slow=$ID
	wait_for task_is "$slow" running

	submit_task backup -o "$WORK/online.tar.gz"
	backup=$ID
	# The snapshot is taken before FILE.part is made: once it exists, the
	# backup is past its database copy. Its worker is then held stopped, so
	# the backup is certainly still running while everything below happens.
	wait_for test -e "$WORK/online.tar.gz.part" 20s
	pid=$(backup_worker_pid "$backup")
	[ -n "$pid" ]
	kill -STOP "$pid"

	# r3 moves on twice: its version 1 is pruned from publish/ on disk.
	for v in 2 3; do
		feed_v "$WORK/feed3" "$v"
		sync_wait r3
		[ "$(jq -r .state <<<"$TASK")" = completed ]
		publish_wait r3
		[ "$(jq -r .state <<<"$TASK")" = completed ]
	done
	[ ! -e "$DIR/publish/r3/versions/1" ]
	# orphans clean waits for the running backup.
	submit_task orphans clean
	orphans=$ID

	# 50 commands on resources of their own; each writes when it started
	# and whether the backup's FILE.part was there.
	: >"$WORK/trace"
	for i in $(seq 1 50); do
		printf '%s %s\n' "$i" "$(date +%s%3N)" >>"$WORK/submitted"
		ctl run --lock "host:h$i" -- sh -c 'printf "%s %s %s\n" "$1" "$(date +%s%3N)" \
			"$(test -e "$2" && echo part || echo none)" >>"$3"' sh "$i" \
			"$WORK/online.tar.gz.part" "$WORK/trace" >/dev/null
	done
	wait_for eval '[ "$(wc -l <"$WORK/trace")" -eq 50 ]' 30s
	[ "$(task_state "$backup")" = running ]
	[ "$(task_state "$slow")" = running ]
	[ "$(task_state "$orphans")" = waiting ]
	# Every command started within a second of its submission, with the
	# backup's archive half-written beside it.
	late=$(join <(sort "$WORK/submitted") <(sort "$WORK/trace") |
		awk '$3 - $2 > 1000 || $4 != "part" { print }')
	[ -z "$late" ] || { echo "late or without the backup running: $late" >&2; false; }

	kill -CONT "$pid"
	task_final "$backup"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	b_end=$(rfc3339_ms "$(jq -r .finished_at <<<"$TASK")")
	# The slow sync has done its part: it ran throughout the backup. (It
	# holds content shared too, so orphans clean waits for it as well.)
	ctl task cancel "$slow" >/dev/null || true
	task_final "$orphans"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(rfc3339_ms "$(jq -r .started_at <<<"$TASK")")" -ge "$b_end" ]
	run ctl backup verify "$WORK/online.tar.gz"
	[ "$status" -eq 0 ]

	# Restored elsewhere: the depot as the snapshot had it.
	new=$WORK/restored
	run "$DEPOT_BIN/depotd" --restore "$WORK/online.tar.gz" -d "$new"
	[ "$status" -eq 0 ]
	BACKUP_DIRS+=("$new")
	# Every content a complete version references is there, and is what its name says.
	while read -r sha; do
		f=$new/content/sha256/${sha:0:2}/$sha
		[ -f "$f" ] || { echo "missing $f" >&2; false; }
		[ "$(sha_of "$f")" = "$sha" ]
	done < <(sqlite3 "$new/depot.db" "SELECT DISTINCT f.sha256 FROM version_files f JOIN versions v
		ON v.repo = f.repo AND v.number = f.number WHERE v.complete")
	# r3's publication is version 1, the one of the snapshot, whole; r2's
	# sync, unfinished at the snapshot, made no version there.
	[ "$(readlink "$new/publish/r3/current")" = versions/1 ]
	diff "$new/publish/r3/current/PULP_MANIFEST" "$WORK/r3-v1.manifest"
	[ "$(cat "$new/publish/r3/current/v1.txt")" = "version 1" ]
	[ "$(sqlite3 "$new/depot.db" "SELECT max(number) FROM versions WHERE repo = 'r3'")" = 1 ]
	[ -z "$(sqlite3 "$new/depot.db" "SELECT number FROM versions WHERE repo = 'r2'")" ]
	# Each publication's current is served, with every file its manifest lists.
	start_http "$new/publish"
	for r in r3 bulk; do
		[ -e "$new/publish/$r/current" ] || continue
		curl -fsS "http://127.0.0.1:$HTTP_PORT/$r/current/PULP_MANIFEST" >"$WORK/served"
		while IFS=, read -r path sha size; do
			[ "$(curl -fsS "http://127.0.0.1:$HTTP_PORT/$r/current/$path" | sha256sum | cut -d' ' -f1)" = "$sha" ]
		done <"$WORK/served"
	done
	# Only the logs of the snapshot's tasks: none of the 50 commands that came after.
	for log in "$new"/logs/*.log; do
		id=$(basename "$log" .log)
		[ "$(sqlite3 "$new/depot.db" "SELECT count(*) FROM tasks WHERE id = $id")" = 1 ]
	done
	[ "$(sqlite3 "$new/depot.db" "SELECT count(*) FROM tasks WHERE type = 'exec'")" = 0 ]
	# The backup is completed in its own archive, naming it.
	[ "$(sqlite3 "$new/depot.db" "SELECT state || ' ' || json_extract(result, '\$.path') FROM tasks WHERE id = $backup")" = "completed $WORK/online.tar.gz" ]
}

@test "orphans clean and a backup exclude each other through content; each reserves it as DESIGN says" {
	depot_start
	hold_content
	hold=$ID
	wait_for task_is "$hold" running
	submit_task orphans clean
	orphans=$ID
	submit_task backup -o "$WORK/after-orphans.tar.zst"
	backup=$ID
	[ "$(ctl --json task show "$orphans" | jq -c .resources)" = '[{"name":"content","mode":"exclusive"}]' ]
	[ "$(ctl --json task show "$backup" | jq -c .resources)" = '[{"name":"content","mode":"shared"},{"name":"backup","mode":"exclusive"}]' ]
	[ "$(task_state "$orphans")" = waiting ]
	[ "$(task_state "$backup")" = waiting ]
	release_content
	task_final "$backup"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	b_start=$(rfc3339_ms "$(jq -r .started_at <<<"$TASK")")
	task_final "$orphans"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	# The backup, queued behind orphans clean, started once it had ended.
	[ "$(rfc3339_ms "$(jq -r .finished_at <<<"$TASK")")" -le "$b_start" ]
}

@test "a command that runs depotctl backup --wait itself does not deadlock the depot" {
	depot_start "daemon.workers = 2"
	run ctl run --wait --timeout 60s -- "$DEPOT_BIN/depotctl" -d "$DIR" backup -o "$WORK/inner.tar.zst" --wait
	[ "$status" -eq 0 ]
	[ -f "$WORK/inner.tar.zst" ]
}
