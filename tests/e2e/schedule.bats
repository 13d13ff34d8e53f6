#!/usr/bin/env bats
# DESIGN §13: schedules stored in the database submit their task every
# interval (at least 1 s), catch up only once after the daemon was down,
# never submit a second task while the previous one is unfinished (that run
# is counted as skipped), and can be disabled, enabled and deleted. Tasks a
# schedule submits carry its name in `schedule`.
#
# The intervals here are 1 s, so some tests let seconds pass on purpose:
# there, the passing of time is what is tested.

load helpers

# sched_tasks NAME: a JSON array of the tasks schedule NAME submitted.
sched_tasks() {
	ctl --json task list | jq -c --arg n "$1" '[.[] | select(.schedule == $n)]'
}

# sched_created NAME: creation times (ms since the epoch) of schedule NAME's
# tasks, oldest first, one a line.
sched_created() {
	sched_tasks "$1" | jq -r '.[].created_at |
		(.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber)' | sort -n
}

# count_between NAME FROM TO: tasks of schedule NAME created in [FROM, TO) ms.
count_between() {
	sched_created "$1" | awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { n++ } END { print n + 0 }'
}

# sched_count NAME: how many tasks schedule NAME submitted.
sched_count() {
	sched_tasks "$1" | jq length
}

# sched_count_above NAME N: schedule NAME submitted more than N tasks (for wait_for).
sched_count_above() {
	local n
	n=$(sched_count "$1") || return 1
	[ "$n" -gt "$2" ]
}

# sched_field NAME FIELD: one field of schedule NAME from `schedule list --json`.
sched_field() {
	ctl --json schedule list | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"
}

# sched_listed NAME: `schedule list --json` has a schedule NAME.
sched_listed() {
	ctl --json schedule list | jq -e --arg n "$1" 'any(.[]; .name == $n)' >/dev/null
}

@test "a 1 s schedule submits about one task a second, each carrying the schedule's name and the template's options" {
	depot_start

	run --separate-stderr ctl --json schedule add tick --every 1s -- run --name ticker --lock r-tick -- true
	[ "$status" -eq 0 ]
	# Both times from the one reply: a later read may already see the next run.
	added=$output
	[ "$(jq -r .name <<<"$added")" = tick ]
	created=$(rfc3339_ms "$(jq -r .created_at <<<"$added")")
	[ "$(jq -r .every_ms <<<"$added")" = 1000 ]
	[ "$(jq -r .enabled <<<"$added")" = true ]
	# One interval from now, by default.
	first=$(rfc3339_ms "$(jq -r .next_run <<<"$added")")
	[ $((first - created)) -ge 900 ]
	[ $((first - created)) -le 1100 ]

	# Time passing is the point: runs due at +1, +2, +3 and +4 s.
	sleep 4.5
	tasks=$(sched_tasks tick)
	echo "$tasks" | jq -c '.[] | {id, created_at, state}'
	n=$(count_between tick "$created" $((created + 4600)))
	echo "$n task(s) in 4.5 s"
	[ "$n" -ge 3 ]
	[ "$n" -le 5 ]
	# No two runs of one interval: consecutive tasks are at least ~1 s apart
	# (a late tick may shorten one gap, never make two in one tick).
	[ "$(jq '[.[].created_at] | unique | length' <<<"$tasks")" -eq "$(jq length <<<"$tasks")" ]
	# Every task is the template's: its name, its lock, the schedule's name.
	[ "$(jq -c '[.[] | {name, schedule, type, resources, argv: .args.argv}] | unique' <<<"$tasks")" = \
	  '[{"name":"ticker","schedule":"tick","type":"exec","resources":[{"name":"r-tick","mode":"exclusive"}],"argv":["true"]}]' ]
	# Nothing else was submitted.
	[ "$(ctl --json task list | jq '[.[] | select(.schedule != "tick")] | length')" -eq 0 ]
	# The schedule shows its last task and when it ran.
	last=$(jq '[.[].id] | max' <<<"$tasks")
	wait_for task_is "$last" completed 5s
	last_task=$(ctl --json schedule list | jq -c '.[] | select(.name == "tick") | .last_task')
	[ "$(jq -r .id <<<"$last_task")" -ge "$last" ]
	[ "$(sched_field tick last_run)" != null ]
	[ "$(sched_field tick skipped)" = 0 ]
}

@test "after the daemon was down for several intervals, the schedule submits exactly one task right after start, then keeps its cadence" {
	depot_start
	ctl schedule add catch --every 1s -- run -- true
	# Runs fall on a grid: next_run, next_run + 1 s, ...
	phase=$(($(rfc3339_ms "$(sched_field catch next_run)") % 1000))
	wait_for sched_count_above catch 0 3s
	ctl task wait --timeout 5s "$(sched_tasks catch | jq '.[0].id')"

	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	stopped=$(now_ms)
	# Time passing is the point: four runs are missed while the daemon is down.
	sleep 4
	# Start just after a grid point, so the next regular run is ~1 s away
	# and cannot be mistaken for the catch-up.
	while (($(( ($(now_ms) - phase) % 1000 )) > 100)); do sleep 0.01; done
	depot_launch

	started=$(rfc3339_ms "$(ctl --json status | jq -r .daemon.started_at)")
	next_grid=$((started - (started - phase) % 1000 + 1000))
	echo "daemon started at $started, next regular run at $next_grid"
	# The cadence resumes: the catch-up and two regular runs.
	after_restart() { [ "$(count_between catch "$started" 99999999999999)" -ge 3 ]; }
	wait_for after_restart 6s
	sched_created catch
	# Exactly one task for the missed runs, right after start.
	[ "$(count_between catch "$started" "$next_grid")" -eq 1 ]
	first_after=$(sched_created catch | awk -v s="$started" '$1 >= s' | head -n1)
	[ $((first_after - started)) -lt 800 ]
	# Then on the grid again: every later run falls just after a grid point
	# (a run due while the catch-up still ran is skipped, as the no-overlap
	# rule says, so how many fit in a second depends on the machine's load).
	sched_created catch | awk -v s="$first_after" -v p="$phase" '$1 > s {
		n++; off = ($1 - p) % 1000; if (off > 500) { print $1 " is " off " ms off the grid"; bad = 1 } }
		END { exit bad || n < 2 }'
	# Nothing was submitted while the daemon was down.
	[ "$(count_between catch "$stopped" "$started")" -eq 0 ]
}

@test "a schedule never has two unfinished tasks: while its slow task runs, the runs due are skipped and counted" {
	depot_start
	ctl schedule add slow --every 1s -- run -- sleep 3

	# Time passing is the point: watch ~5.5 s of a 1 s schedule of 3 s tasks.
	max=0
	deadline=$(($(now_ms) + 5500))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		n=$(ctl --json task list --state active | jq '[.[] | select(.schedule == "slow")] | length')
		[ "$n" -le "$max" ] || max=$n
		[ "$n" -le 1 ] || { ctl task list; false; }
		sleep 0.1
	done

	echo "at most $max unfinished task(s) of the schedule at once"
	[ "$max" -eq 1 ]
	tasks=$(sched_tasks slow)
	echo "$tasks" | jq -c '.[] | {id, state, created_at, started_at, finished_at}'
	# 3 s tasks one at a time: at most two started in 6.5 s of schedule.
	[ "$(jq length <<<"$tasks")" -ge 1 ]
	[ "$(jq length <<<"$tasks")" -le 2 ]
	skipped=$(sched_field slow skipped)
	echo "skipped $skipped"
	[ "$skipped" -ge 1 ]
	last_skipped=$(sched_field slow last_skipped)
	[ "$last_skipped" != null ]
	first_created=$(jq -r 'min_by(.id) | .created_at' <<<"$tasks")
	[ "$(rfc3339_ms "$last_skipped")" -gt "$(rfc3339_ms "$first_created")" ]
	# A second task, if any, was created only once the first had finished.
	if [ "$(jq length <<<"$tasks")" -eq 2 ]; then
		fin=$(jq -r 'min_by(.id) | .finished_at' <<<"$tasks")
		cre=$(jq -r 'max_by(.id) | .created_at' <<<"$tasks")
		[ "$fin" != null ]
		[ "$(rfc3339_ms "$cre")" -ge "$(rfc3339_ms "$fin")" ]
	fi
	run ctl schedule list
	[[ $output == *SKIPPED* ]]
}

@test "a disabled schedule submits nothing; enabled again, it resumes" {
	depot_start
	ctl schedule add onoff --every 1s -- run -- true
	wait_for sched_count_above onoff 0 3s

	run --separate-stderr ctl schedule disable onoff
	[ "$status" -eq 0 ]
	[[ $output == *onoff* ]]
	n=$(sched_count onoff)
	[ "$(sched_field onoff enabled)" = false ]
	# Time passing is the point: two and a half intervals go by.
	sleep 2.5
	[ "$(sched_count onoff)" -eq "$n" ]
	run ctl schedule list
	[[ $output == *onoff* ]]

	run --separate-stderr ctl schedule enable onoff
	[ "$status" -eq 0 ]
	[ "$(sched_field onoff enabled)" = true ]
	wait_for sched_count_above onoff "$n" 3s
	wait_for sched_count_above onoff $((n + 1)) 3s
	# Enabling twice, disabling twice: no error, same state.
	ctl schedule enable onoff
	ctl schedule disable onoff
	ctl schedule disable onoff
	[ "$(sched_field onoff enabled)" = false ]
	run --separate-stderr ctl schedule enable nosuch
	[ "$status" -eq 6 ]
	[[ $stderr == *nosuch* ]]
}

@test "a deleted schedule submits nothing more and is no longer listed; deleting an unknown schedule is not_found" {
	depot_start
	ctl schedule add gone --every 1s -- run -- true
	ctl schedule add stays --every 1s -- run -- true
	wait_for sched_count_above gone 0 3s

	run --separate-stderr ctl schedule delete gone
	[ "$status" -eq 0 ]
	[ "$output" = "deleted gone" ]
	n=$(sched_count gone)
	run sched_listed gone
	[ "$status" -ne 0 ]
	run ctl schedule list
	[[ $output != *gone* ]]
	[[ $output == *stays* ]]
	m=$(sched_count stays)
	# Time passing is the point: two and a half intervals go by.
	sleep 2.5
	[ "$(sched_count gone)" -eq "$n" ]
	# The tasks it submitted already are left as they were.
	[ "$n" -ge 1 ]
	# The other schedule kept going.
	[ "$(sched_count stays)" -gt "$m" ]

	run --separate-stderr ctl schedule delete gone
	[ "$status" -eq 6 ]
	[[ $stderr == *gone* ]]
	[[ $stderr == *not_found* ]]
	run --separate-stderr ctl schedule delete nosuch
	[ "$status" -eq 6 ]
	[[ $stderr == *not_found* ]]
	# The name can be used again.
	ctl schedule add gone --every 1h -- run -- true
	sched_listed gone
}

@test "schedule add refuses an interval under 1 s, an invalid template, a duplicate name and an unknown repository, saying what is wrong" {
	depot_start

	run --separate-stderr ctl schedule add fast --every 500ms -- run -- true
	[ "$status" -eq 2 ]
	[[ $stderr == *every* ]]
	[[ $stderr == *1s* ]]
	run --separate-stderr ctl schedule add fast --every 0s -- run -- true
	[ "$status" -eq 2 ]
	# The daemon checks it too, whatever the client.
	printf '{"cmd": "schedule.add", "args": {"name": "fast", "every_ms": 999, "template": {"type": "exec", "argv": ["true"]}}}' >"$DIR/req.json"
	run "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" <"$DIR/req.json"
	echo "$output"
	[ "$(jq -r .ok <<<"$output")" = false ]
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	[[ $(jq -r .error.message <<<"$output") == *every_ms* ]]

	# An empty command is not a task the daemon would run.
	run --separate-stderr ctl schedule add empty --every 1s -- run -- ''
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *template* ]]
	[[ $stderr == *command* || $stderr == *argv* ]]
	[[ $stderr == *bad_request* ]]
	# No command at all is a usage error.
	run --separate-stderr ctl schedule add nocmd --every 1s -- run --
	[ "$status" -eq 2 ]
	[[ $stderr == *CMD* || $stderr == *command* ]]
	# A bad template type, straight to the daemon.
	printf '{"cmd": "schedule.add", "args": {"name": "bogus", "every_ms": 1000, "template": {"type": "bogus"}}}' >"$DIR/req.json"
	run "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" <"$DIR/req.json"
	echo "$output"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	# A bad name.
	run --separate-stderr ctl schedule add 'bad/name' --every 1s -- run -- true
	[ "$status" -ne 0 ]
	[[ $stderr == *name* ]]

	run --separate-stderr ctl schedule add dup --every 1s -- run -- true
	[ "$status" -eq 0 ]
	run --separate-stderr ctl schedule add dup --every 5s -- run -- false
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *dup* ]]
	[[ $stderr == *exists* ]]
	# The first one is unchanged.
	[ "$(sched_field dup every_ms)" = 1000 ]
	[ "$(sched_field dup template.argv[0])" = true ]

	# A template is checked as a submission would be: a repository that
	# does not exist is not_found (exit 6), naming it.
	run --separate-stderr ctl schedule add later --every 1h -- sync not-yet
	[ "$status" -eq 6 ]
	[[ $stderr == *"no repository 'not-yet'"* ]]

	# Only the accepted schedules exist.
	[ "$(ctl --json schedule list | jq -c '[.[].name]')" = '["dup"]' ]
}

@test "a schedule's task that is being retried still counts as unfinished: no new run starts beside the retry" {
	depot_start
	ctl schedule add rs --every 1s -- run --retries 1 -- sleep 3
	first_running() {
		first=$(ctl --json task list --state running | jq -r '[.[] | select(.schedule == "rs")][0].id // empty')
		[ -n "$first" ]
	}
	wait_for first_running 5s

	kill -KILL "$(worker_pid "$(worker_of_task "$first")")"
	wait_for task_is "$first" canceled 5s

	# Time passing is the point: the 1 s back-off, then the 3 s retry, while
	# the schedule comes due every second.
	max=0
	deadline=$(($(now_ms) + 4000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		active=$(ctl --json task list --state active | jq -c '[.[] | select(.schedule == "rs") | {id, state, retry_of}]')
		n=$(jq length <<<"$active")
		[ "$n" -le "$max" ] || max=$n
		[ "$n" -le 1 ] || echo "two unfinished at $(now_ms): $active"
		sleep 0.1
	done
	ctl --json task list | jq -c '.[] | select(.schedule == "rs") | {id, state, retry_of, created_at, finished_at}'
	# The retry was submitted ...
	[ "$(ctl --json task list | jq --argjson f "$first" '[.[] | select(.retry_of == $f)] | length')" -eq 1 ]
	# ... and never ran beside another task of the schedule.
	[ "$max" -le 1 ]
}

@test "schedule add --at reads a time without a zone in the submitter's local time, as run --at does" {
	depot_start
	TZ=Europe/Berlin ctl schedule add local --every 1d --at '2030-12-24 18:00' -- run -- true
	[ "$(sched_field local next_run)" = "2030-12-24T17:00:00.000Z" ]
	TZ=Europe/Berlin ctl run --at '2030-07-01 12:00' -- true >/dev/null
	[ "$(ctl --json task list --limit 1 | jq -r '.[0].not_before')" = "2030-07-01T10:00:00.000Z" ]
}
