#!/usr/bin/env bats
# DESIGN §9: a restore's swap survives a kill at any point. depotd writes
# DIR.swap (every rename of the swap, in order) before the first rename; a
# start that finds it finishes the swap when the restored data was already
# renamed into DIR (rename 2, staging → DIR, done), and undoes it when not.
# Either way DIR holds the old data or the new, whole: run/ and backup.key
# there, task ids above the old maximum, no DIR.swap left.
#
# DEPOT_TEST_CRASH_AT=N (test only) SIGKILLs depotd right after the Nth
# rename of the swap (0: right after DIR.swap is written). The renames, with
# an external [publish] dir: 1 DIR → DIR.pre-restore-TS, 2 staging → DIR,
# 3 run/, 4 backups/, 5 backup.key (online; offline there is no run/ to
# carry, so 3 backups/, 4 backup.key), then the publish dir's two.

load helpers
load repo_helpers
load backup_helpers

# old_or_new: "new" when $DIR holds what the archive holds, "old" when it
# holds what the depot held before the restore; fails on anything else.
old_or_new() {
	local repos
	repos=$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')
	if [ "$repos" = "r1 r2" ] && [ "$(tree_sums "$PUB")" = "$NEW_PUB" ]; then
		echo new
	elif [ "$repos" = "r2 r3" ] && [ ! -e "$PUB/r1" ]; then
		echo old
	else
		echo "neither old nor new: repos '$repos'" >&2
		ls -la "$PUB" >&2
		return 1
	fi
}

# crashed_setup: a depot with r1, r2 published into an external $PUB, a
# backup of it in $ARCHIVE (under DIR/backups), then r1 deleted and r3
# created: the "old" data a restore replaces.
crashed_setup() {
	PUB=$(mktemp -d /tmp/dpp.XXXXXX)/pub
	BACKUP_DIRS+=("$(dirname "$PUB")")
	depot_start "publish.dir = $PUB"
	two_repos
	NEW_PUB=$(tree_sums "$PUB")
	backup_wait
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	make_old
}

make_old() {
	if ctl repo show r1 >/dev/null 2>&1; then ctl repo delete r1; fi
	if ! ctl repo show r3 >/dev/null 2>&1; then
		ctl repo create r3 --feed "file://$WORK/feed2/PULP_MANIFEST" >/dev/null
	fi
	run ctl run --wait -- echo "after the backup"
	[ "$status" -eq 0 ]
}

# relaunch: depot_launch, but logging to $WORK/restart.log: after some
# kills there is no $DIR for depot_launch's log until depotd has recovered.
# shellcheck disable=SC2153 # DEPOT_BIN comes from the environment (make check sets it).
relaunch() {
	env "$(depot_tag)" "$DEPOT_BIN/depotd" -d "$DIR" </dev/null >>"$WORK/restart.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers_or_died 10s || { cat "$WORK/restart.log"; return 1; }
	if pid_gone "$DEPOT_PID"; then
		echo "depotd exited at start-up:" >&2
		cat "$WORK/restart.log" >&2
		return 1
	fi
	wait_for workers_online "$(conf_value daemon.workers)" 10s
}

# check_after_crash DIRECTION: a daemon started again on $DIR finds DIRECTION's data, whole.
check_after_crash() {
	relaunch
	[ ! -e "$DIR.swap" ]
	[ "$(old_or_new)" = "$1" ]
	[ -d "$DIR/run" ]
	[ -f "$DIR/backup.key" ]
	[ -f "$ARCHIVE" ]
	[ -z "$(ls -d "$DIR".restore-* "$PUB".restore-* 2>/dev/null)" ]
	if [ "$1" = old ]; then
		[ -z "$(ls -d "$DIR".pre-restore-* "$PUB".pre-restore-* 2>/dev/null)" ]
	fi
	submit -- true
	[ "$ID" -gt "$MAX_BEFORE" ]
	# The depot works: a publish into the external dir.
	publish_wait r2
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	grep -q "interrupted" "$WORK/restart.log"
	rm "$WORK/restart.log"
}

# crash_online N DIRECTION: an online restore killed after the Nth rename.
crash_online() {
	crashed_setup
	MAX_BEFORE=$(max_task_id)
	depot_terminate
	DEPOT_TEST_CRASH_AT=$1 depot_launch
	run ctl restore "$ARCHIVE" --wait
	[ "$status" -ne 0 ]
	wait_for pid_gone "$DEPOT_PID" 10s
	wait "$DEPOT_PID" 2>/dev/null || true
	DEPOT_PID=
	# It did stop mid-swap.
	[ -e "$DIR.swap" ]
	check_after_crash "$2"
	# The restore task is in whichever data came back: completed in the new
	# (recorded in it before the swap), interrupted in the old.
	restore=$(ctl --json task list --limit 100 | jq -c '[.[] | select(.type == "restore")] | .[0]')
	echo "restore task: $restore"
	if [ "$2" = new ]; then
		[ "$(jq -r .state <<<"$restore")" = completed ]
	else
		[ "$(jq -r .state <<<"$restore")" = canceled ]
		[ "$(jq -r .error.reason <<<"$restore")" = daemon-restarted ]
	fi
}

@test "online restore killed after its swap record, before any rename: the old data, whole" {
	crash_online 0 old
}

@test "online restore killed after DIR was moved aside: the old data is put back" {
	crash_online 1 old
}

@test "online restore killed after the restored data was renamed into DIR: the swap is finished" {
	crash_online 2 new
}

@test "online restore killed after run/ was carried: the swap is finished" {
	crash_online 3 new
}

@test "online restore killed after backups/ was carried: the swap is finished" {
	crash_online 4 new
}

@test "online restore killed after backup.key was carried: the swap is finished" {
	crash_online 5 new
}

@test "online restore killed after the publish dir was moved aside: the swap is finished" {
	crash_online 6 new
}

@test "online restore killed after the last rename: the swap is finished" {
	crash_online 7 new
}

@test "depotd --restore killed at each rename of its swap: the next start finds the old data or the new, whole" {
	crashed_setup
	local n expect
	for n in 0 1 2 3 4 5 6; do
		make_old
		MAX_BEFORE=$(max_task_id)
		depot_terminate
		run env DEPOT_TEST_CRASH_AT=$n "$DEPOT_BIN/depotd" --restore "$ARCHIVE" -d "$DIR"
		echo "$n: $output"
		[ "$status" -ne 0 ]
		[ -e "$DIR.swap" ]
		expect=new
		[ "$n" -ge 2 ] || expect=old
		check_after_crash "$expect"
		rm -rf "$DIR".pre-restore-* "$PUB".pre-restore-*
	done
	# An offline restore run again finishes an interrupted swap first, then restores.
	make_old
	depot_terminate
	run env DEPOT_TEST_CRASH_AT=1 "$DEPOT_BIN/depotd" --restore "$ARCHIVE" -d "$DIR"
	[ "$status" -ne 0 ]
	run "$DEPOT_BIN/depotd" --restore "$ARCHIVE" -d "$DIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *interrupted* ]]
	[ ! -e "$DIR.swap" ]
	depot_launch
	[ "$(old_or_new)" = new ]
}

@test "killed after DIR was moved aside, then an empty DIR made (as systemd's StateDirectory= would): the old data still comes back" {
	crashed_setup
	MAX_BEFORE=$(max_task_id)
	depot_terminate
	run env DEPOT_TEST_CRASH_AT=1 "$DEPOT_BIN/depotd" --restore "$ARCHIVE" -d "$DIR"
	[ "$status" -ne 0 ]
	[ ! -e "$DIR" ]
	mkdir -m 0700 "$DIR"
	check_after_crash old
}
