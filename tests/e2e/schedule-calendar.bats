#!/usr/bin/env bats
# DESIGN §13: calendar schedules (--on EXPR, a subset of systemd's
# OnCalendar) in depotd's local zone (its TZ, set here) or --tz ZONE; any
# task type as a template, checked when the schedule is added (a repository
# that does not exist is not_found); `schedule run NAME` submits the task
# now without breaking the no-overlap rule; times ahead show as "in …".
#
# What ran is judged from traces the scheduled commands write and from
# files the tasks leave; when a run is due, from times computed here with
# GNU date (the C library's zone code), not depot's.

load helpers
load repo_helpers
load backup_helpers

# sched_field NAME JQ: a field of schedule NAME, as schedule show --json gives it.
sched_field() {
	ctl --json schedule show "$1" | jq -r "$2"
}

# lines FILE: how many lines FILE has (0 when it does not exist).
lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# lines_at_least FILE N (for wait_for).
lines_at_least() {
	[ "$(lines "$1")" -ge "$2" ]
}

# next_weekday_at ZONE HH:MM: epoch ms of the next Monday..Friday HH:MM in ZONE after now.
next_weekday_at() {
	local zone=$1 hm=$2 now day t
	now=$(date +%s)
	for day in 0 1 2 3 4 5 6 7; do
		t=$(TZ=$zone date -d "$(TZ=$zone date -d "+$day day" +%F) $hm" +%s)
		if [ "$t" -gt "$now" ] && [ "$(TZ=$zone date -d "@$t" +%u)" -le 5 ]; then
			echo $((t * 1000))
			return
		fi
	done
	return 1
}

@test "a calendar schedule fires at its calendar's times: *:*:0/2 in a named zone runs on even seconds, once each" {
	export TZ=Europe/Berlin
	depot_start
	trace=$WORK/trace
	run --separate-stderr ctl schedule add even --on '*:*:0/2' -- run -- sh -c "date +%s%3N >>'$trace'"
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ $output == "added even, next run "* ]]
	[ "$(sched_field even .calendar)" = '*:*:0/2' ]
	[ "$(sched_field even .every_ms)" = null ]
	[ "$(sched_field even .tz)" = null ]
	# The first run is the next even second.
	next=$(rfc3339_ms "$(sched_field even .next_run)")
	[ $((next % 2000)) -eq 0 ]

	wait_for lines_at_least "$trace" 4 15s
	ctl schedule disable even
	cat "$trace"
	# Each run started soon after an even second (a tick and a dispatch
	# late at most), and no even second ran twice.
	awk '{ print int($1 / 2000) }' "$trace" | sort | uniq -d >"$WORK/dups"
	[ ! -s "$WORK/dups" ]
	while read -r t; do
		[ $((t % 2000)) -lt 1500 ] || { echo "run at $t: not soon after an even second"; false; }
	done <"$trace"
}

@test "a dated calendar schedule runs once at its time, then has no time left and is disabled" {
	export TZ=UTC
	depot_start
	trace=$WORK/trace
	# Two to three seconds ahead, to the second, in depotd's zone (UTC here).
	at=$(date -u -d "@$(( $(date +%s) + 3 ))" '+%Y-%m-%d %H:%M:%S')
	ctl schedule add once --on "$at" -- run -- sh -c "date +%s >>'$trace'"
	[ "$(sched_field once .next_run)" = "$(date -u -d "$at" +%Y-%m-%dT%H:%M:%S.000Z)" ]
	disabled() { [ "$(sched_field once .enabled)" = false ]; }
	wait_for disabled 10s
	wait_for lines_at_least "$trace" 1 10s
	task_final "$(sched_field once .last_task.id)"
	[ "$(cat "$trace")" -ge "$(date -u -d "$at" +%s)" ]
	# Once, at or after its time; disabled, nothing more comes.
	[ "$(lines "$trace")" -eq 1 ]
	[ "$(ctl --json task list | jq '[.[] | select(.schedule == "once")] | length')" -eq 1 ]
}

@test "the next run is computed in depotd's local zone (its TZ), or in --tz; across DST changes a skipped time runs after the jump and a repeated one once" {
	export TZ=America/New_York
	depot_start
	ctl schedule add local --on daily -- run -- true
	ctl schedule add tokyo --on 'Mon..Fri 02:00' --tz Asia/Tokyo -- run -- true
	# GNU date's answer: the next midnight in New York, the next weekday 02:00 in Tokyo.
	want=$(( $(TZ=America/New_York date -d 'tomorrow 00:00' +%s) * 1000 ))
	[ "$(rfc3339_ms "$(sched_field local .next_run)")" -eq "$want" ]
	[ "$(rfc3339_ms "$(sched_field tokyo .next_run)")" -eq "$(next_weekday_at Asia/Tokyo 02:00)" ]
	[ "$(sched_field tokyo .tz)" = Asia/Tokyo ]

	# Europe/Berlin springs forward on 2027-03-28 at 02:00 to 03:00: 02:30
	# does not exist, and runs at 03:30 CEST (01:30Z).
	ctl schedule add spring --on '2027-03-28 02:30' --tz Europe/Berlin -- run -- true
	[ "$(sched_field spring .next_run)" = 2027-03-28T01:30:00.000Z ]
	# It falls back on 2027-10-31 at 03:00 to 02:00: 02:30 comes twice, and
	# the schedule's run is the first (02:30 CEST, 00:30Z).
	ctl schedule add autumn --on '2027-10-31 02:30' --tz Europe/Berlin -- run -- true
	[ "$(sched_field autumn .next_run)" = 2027-10-31T00:30:00.000Z ]
	# GNU date agrees on both instants.
	[ "$(TZ=Europe/Berlin date -d @"$(date -d 2027-10-31T00:30:00Z +%s)" +%H:%M)" = 02:30 ]
	[ "$(TZ=Europe/Berlin date -d @"$(date -d 2027-03-28T01:30:00Z +%s)" +%H:%M)" = 03:30 ]

	# list and show print the expression and zone, and how far ahead the run is.
	run --separate-stderr ctl schedule list
	echo "$output"
	[[ $output == *WHEN* ]]
	[[ $output == *"Mon..Fri 02:00 (Asia/Tokyo)"* ]]
	[[ $output == *"2027-03-28T01:30:00Z (in "* ]]
	[[ $output != *" ago)"* ]]
	run --separate-stderr ctl schedule show tokyo
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"Mon..Fri 02:00 (Asia/Tokyo)"* ]]
	[[ $output == *"next run"*"(in "* ]]
}

@test "status shows the scheduler's next due time ahead as 'in …', never 'ago'" {
	depot_start
	ctl schedule add later --every 1h -- run -- true
	run --separate-stderr ctl status
	echo "$output"
	line=$(grep 'next due' <<<"$output")
	[[ $line == *"(in 59m"* || $line == *"(in 1h00m"* ]]
	[[ $line != *ago* ]]
	# Times behind still read "ago".
	[[ $(grep 'last tick' <<<"$output") == *" ago)"* ]]
}

@test "schedule add refuses a bad expression naming the bad part, an unknown zone, and --tz or --at that do not fit" {
	depot_start
	run --separate-stderr ctl schedule add x --on 'Mon..Fry 02:00' -- run -- true
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"'Fry' is not a weekday"* ]]
	[[ $stderr == *bad_request* ]]
	run --separate-stderr ctl schedule add x --on '25:00' -- run -- true
	[[ $stderr == *"hour 25"* ]]
	run --separate-stderr ctl schedule add x --on 'daily 03:00' -- run -- true
	[[ $stderr == *daily* ]]
	run --separate-stderr ctl schedule add x --on '*-*-01 03:00 Europe/Berlin' -- run -- true
	[[ $stderr == *Europe/Berlin* && $stderr == *--tz* ]]
	run --separate-stderr ctl schedule add x --on '2020-01-01' -- run -- true
	[ "$status" -eq 1 ]
	[[ $stderr == *"no time after now"* ]]
	run --separate-stderr ctl schedule add x --on daily --tz Mars/Olympus -- run -- true
	[ "$status" -eq 1 ]
	[[ $stderr == *"unknown time zone 'Mars/Olympus'"* ]]
	run --separate-stderr ctl schedule add x --on daily --tz ../../../etc/passwd -- run -- true
	[ "$status" -eq 1 ]
	[[ $stderr == *"not a time zone name"* ]]
	run --separate-stderr ctl --json schedule add x --on daily --tz Mars/Olympus -- run -- true
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]

	run --separate-stderr ctl schedule add x --every 1h --on daily -- run -- true
	[ "$status" -eq 2 ]
	run --separate-stderr ctl schedule add x --every 1h --tz UTC -- run -- true
	[ "$status" -eq 2 ]
	[[ $stderr == *--tz* ]]
	run --separate-stderr ctl schedule add x --on daily --at 03:00 -- run -- true
	[ "$status" -eq 2 ]
	run --separate-stderr ctl schedule add x -- run -- true
	[ "$status" -eq 2 ]
	[[ $stderr == *--on* ]]
	# The daemon checks it too, whatever the client: exactly one of every_ms and calendar.
	for args in '"every_ms": 1000, "calendar": "daily"' '"tz": "UTC"' '"every_ms": 1000, "tz": "UTC"'; do
		printf '{"cmd": "schedule.add", "args": {"name": "w", %s, "template": {"type": "exec", "argv": ["true"]}}}' "$args" >"$WORK/req.json"
		run "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" <"$WORK/req.json"
		echo "$args: $output"
		[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	done
	# A start time in the template would be one instant for every run.
	run --separate-stderr ctl schedule add x --on daily -- run --at 03:00 -- true
	[ "$status" -eq 2 ]
	[[ $stderr == *"--at cannot be scheduled"* ]]
	run --separate-stderr ctl schedule add x --on daily -- run --in 5m -- true
	[ "$status" -eq 2 ]
	printf '{"cmd": "schedule.add", "args": {"name": "w", "calendar": "daily", "template": {"type": "exec", "argv": ["true"], "at": "2030-01-01T00:00:00Z"}}}' >"$WORK/req.json"
	run "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" <"$WORK/req.json"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	[[ $(jq -r .error.message <<<"$output") == *"'at' cannot be scheduled"* ]]
	[ "$(ctl --json schedule list | jq length)" -eq 0 ]
	# A priority is the task's own, and stays in the template.
	ctl schedule add prio --on daily -- run --priority 5 -- true
	[ "$(sched_field prio .template.priority)" = 5 ]
}

@test "a template naming a repository that does not exist is refused (not_found), at add and when run by hand after the repository went" {
	depot_start
	run --separate-stderr ctl schedule add s --every 1d -- sync nope
	echo "$stderr"
	[ "$status" -eq 6 ]
	[[ $stderr == *"no repository 'nope'"* ]]
	run --separate-stderr ctl --json schedule add s --on daily -- publish nope
	[ "$status" -eq 6 ]
	[ "$(jq -r .error.code <<<"$output")" = not_found ]
	[ "$(ctl --json schedule list | jq length)" -eq 0 ]

	mkdir -p "$WORK/feed"
	printf 'a\n' >"$WORK/feed/a.txt"
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST"
	ctl schedule add s --on yearly -- sync r
	ctl repo delete r
	run --separate-stderr ctl schedule run s
	echo "$stderr"
	[ "$status" -eq 6 ]
	[[ $stderr == *"no repository 'r'"* ]]
	[ "$(ctl --json task list | jq length)" -eq 0 ]
	run --separate-stderr ctl schedule run nosuch
	[ "$status" -eq 6 ]
	[[ $stderr == *"no schedule 'nosuch'"* ]]
}

@test "schedule run submits the task now and records it as the last task; while it is unfinished a second run is a conflict, judged from the trace" {
	depot_start
	trace=$WORK/trace
	ctl schedule add hold --on yearly -- run -- sh -c \
		"echo start >>'$trace'; while [ ! -e '$WORK/release' ]; do sleep 0.05; done; echo end >>'$trace'"
	next=$(sched_field hold .next_run)

	run --separate-stderr ctl schedule run hold
	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]]
	first=$output
	wait_for lines_at_least "$trace" 1 10s
	[ "$(task_field "$first" .schedule)" = hold ]
	[ "$(sched_field hold .last_task.id)" = "$first" ]
	[ "$(sched_field hold .last_run)" != null ]
	# The calendar's next run is untouched by a run by hand.
	[ "$(sched_field hold .next_run)" = "$next" ]

	run --separate-stderr ctl schedule run hold
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *conflict* ]]
	[[ $stderr == *"($first)"* ]]
	run --separate-stderr ctl --json schedule run hold
	[ "$(jq -r .error.code <<<"$output")" = conflict ]
	[ "$(sched_field hold .last_task.id)" = "$first" ]

	touch "$WORK/release"
	task_final "$first"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run --separate-stderr ctl schedule run hold
	[ "$status" -eq 0 ]
	second=$output
	task_final "$second"
	[ "$(sched_field hold .last_task.id)" = "$second" ]
	# Disabled, it still runs by hand.
	ctl schedule disable hold
	submit_task schedule run hold
	task_final "$ID"
	[ "$(sched_field hold .enabled)" = false ]
	# Three runs, one after the other, never side by side.
	[ "$(tr '\n' ' ' <"$trace")" = "start end start end start end " ]
}

@test "sync and publish templates run: a new feed file reaches the content store and the publication" {
	depot_start
	two_repos
	printf 'added later\n' >"$WORK/feed1/later.txt"
	make_feed "$WORK/feed1"
	ctl schedule add s --on 'Sat,Sun 10:30' -- sync r1
	ctl schedule add p --on 'Sat,Sun 11:00' -- publish r1

	submit_task schedule run s
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .schedule <<<"$TASK")" = s ]
	[ -f "$(content_path "$(sha_of "$WORK/feed1/later.txt")")" ]

	submit_task schedule run p
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(cat "$DIR/publish/r1/current/later.txt")" = "added later" ]
}

@test "backup, backup --incremental and orphans clean templates run from a calendar schedule" {
	depot_start
	two_repos
	ctl schedule add full --on monthly -- backup -o "$WORK/full.tar.zst"
	ctl schedule add inc --on weekly -- backup --incremental
	ctl schedule add sweep --on daily -- orphans clean
	run ctl schedule list
	echo "$output"
	[[ $output == *"backup -o $WORK/full.tar.zst"* ]]
	[[ $output == *"backup --incremental"* ]]
	[[ $output == *"orphans clean"* ]]

	# The incrementals first: their chain lives in DIR/backups, and a -o
	# archive elsewhere would be the newest backup for them to build on.
	submit_task schedule run inc
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]
	submit_task schedule run inc
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
	[ -f "$(jq -r .result.path <<<"$TASK")" ]
	[ "$(jq -r .schedule <<<"$TASK")" = inc ]

	submit_task schedule run full
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	ctl backup verify "$WORK/full.tar.zst"

	# An orphan: r2's own file, once r2 is gone.
	own=$(content_path "$(sha_of "$WORK/feed2/only.bin")")
	[ -f "$own" ]
	ctl repo delete r2
	submit_task schedule run sweep
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ ! -e "$own" ]
	[ -f "$(content_path "$(sha_of "$WORK/feed1/first.txt")")" ]
}
