#!/usr/bin/env bats
# Issue 12: after a task is final, `task restart` queues its specification
# again as a new task (checked as a new submission is), `task remove`
# forgets final tasks and their logs all or nothing, and `task clean`
# forgets them by state and age, a slice at a time. Each test judges from
# the traces the commands write, the log files on disk and the database
# file, not from what the daemon says of itself.

load helpers
load repo_helpers
load backup_helpers

# rows SQL: what the database answers, read beside the running daemon.
rows() {
	sqlite3 "$DIR/depot.db" "$1"
}

# raw JSON: one request sent as is to the control socket; the reply on stdout.
raw() {
	printf '%s' "$1" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 3000
}

# tasks_below N: fewer than N task rows (for wait_for).
tasks_below() {
	[ "$(rows "SELECT count(*) FROM tasks")" -lt "$1" ]
}

# none_unfinished: every task row is final (for wait_for).
none_unfinished() {
	[ "$(rows "SELECT count(*) FROM tasks WHERE state IN ('waiting', 'running', 'canceling')")" = 0 ]
}

# test_no_row ID: task ID has no row (for wait_for).
test_no_row() {
	[ "$(rows "SELECT count(*) FROM tasks WHERE id = $1")" = 0 ]
}

# past MS: the clock has passed MS, epoch milliseconds (for wait_for).
past() {
	[ "$(now_ms)" -gt "$1" ]
}

# removed_seen FILE N: the events in FILE name at least N removed ids (for wait_for).
removed_seen() {
	[ "$(jq -s '[.[] | select(.event == "removed") | .ids | length] | add // 0' "$1")" -ge "$2" ]
}

# rfc3339_now: this instant in RFC 3339 with milliseconds, UTC.
rfc3339_now() {
	date -u +%Y-%m-%dT%H:%M:%S.%3NZ
}

@test "restart of a completed exec task runs the same command in the same directory with the same environment" {
	depot_start
	mkdir "$WORK/here" "$WORK/elsewhere"
	in_dir "$WORK/here" env RESTART_VAR='first value' \
		"$DEPOT_BIN/depotctl" -d "$DIR" run --wait --quiet --name traced --retries 2 -- \
		sh -c 'printf "%s|%s|%s\n" "$PWD" "$RESTART_VAR" "$DEPOT_TASK_ID" >>trace' >/dev/null
	first=$(ctl --json task list --limit 1 | jq -r '.[0].id')

	# Restarted from another directory with another environment: the task's own are used.
	run in_dir "$WORK/elsewhere" env RESTART_VAR='not this one' \
		"$DEPOT_BIN/depotctl" -d "$DIR" task restart "$first" --wait
	echo "$output"
	[ "$status" -eq 0 ]
	second=$(head -n1 <<<"$output")
	[[ $second =~ ^[0-9]+$ ]]
	[ "$second" -gt "$first" ]

	cat "$WORK/here/trace"
	[ "$(wc -l <"$WORK/here/trace")" -eq 2 ]
	[ "$(sed -n 1p "$WORK/here/trace")" = "$WORK/here|first value|$first" ]
	[ "$(sed -n 2p "$WORK/here/trace")" = "$WORK/here|first value|$second" ]
	[ ! -e "$WORK/elsewhere/trace" ]
	# Its record names the original, and the rest of the specification is the same.
	ctl --json task show "$second" | jq -e --argjson f "$first" \
		'.restart_of == $f and .name == "traced" and .retries == 2 and .state == "completed"'
	[ "$(rows "SELECT restart_of FROM tasks WHERE id = $second")" = "$first" ]
}

@test "restart keeps reservations and priority, and applies env_deny as it is now" {
	depot_start
	(cd "$WORK" && RESTART_KEEP=kept RESTART_LATER=then-allowed \
		ctl run --wait --quiet --lock r-one --shared r-two --slot r-three --priority 7 -- \
		sh -c 'printf "%s|%s\n" "$RESTART_KEEP" "${RESTART_LATER-unset}" >>trace') >/dev/null
	first=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	[ "$(cat "$WORK/trace")" = 'kept|then-allowed' ]

	# The administrator denies RESTART_LATER from now on.
	depot_terminate
	DEPOT_CONF+=("tasks.env_deny = *TOKEN* RESTART_LATER")
	depot_write_conf
	depot_launch
	second=$(ctl task restart "$first")
	wait_for task_is "$second" completed

	[ "$(sed -n 2p "$WORK/trace")" = 'kept|unset' ]
	ctl --json task show "$second" | jq -e '(.args.env_denied | index("RESTART_LATER"))
		and (.args.env | has("RESTART_LATER") | not)
		and ([.resources[] | "\(.name)=\(.mode)"] | sort == ["r-one=exclusive", "r-three=slot", "r-two=shared"])
		and .priority == 7'
	# What the original left out is said of the restart too: it was never stored.
	ctl --json task show "$first" | jq -e --argjson now \
		"$(ctl --json task show "$second" | jq -c .args.env_denied)" \
		'(.args.env_denied // []) - $now == []'
	# Not a byte of the denied value in the new task's row.
	run -1 grep -c then-allowed <(rows "SELECT args FROM tasks WHERE id = $second")
}

@test "restart of a waiting task is refused, naming its state; of an unknown one, exit 6" {
	depot_start
	submit --lock held -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit --lock held -- true
	waiter=$ID

	run --separate-stderr ctl task restart "$waiter"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"task $waiter is waiting"* ]]
	run --separate-stderr ctl --json task restart "$holder"
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.code <<<"$output")" = conflict ]
	# Nothing was queued: the newest task is still the waiter.
	[ "$(rows "SELECT max(id) FROM tasks")" = "$waiter" ]

	run ctl task restart 99999
	[ "$status" -eq 6 ]
}

@test "restart of a sync whose repository was deleted is refused, naming the repository" {
	depot_start
	mkdir "$WORK/feed"
	echo one >"$WORK/feed/a.txt"
	make_feed "$WORK/feed"
	ctl repo create gone --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait gone
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	ctl repo delete gone
	max=$(rows "SELECT max(id) FROM tasks")

	run --separate-stderr ctl task restart "$ID"
	echo "$stderr"
	[ "$status" -eq 6 ]
	[[ $stderr == *"task $ID cannot be restarted: no repository 'gone'"* ]]
	[ "$(rows "SELECT max(id) FROM tasks")" = "$max" ]
}

@test "remove deletes a final task's row and its log file; task show then exits 6" {
	depot_start
	ctl run --wait --quiet -- echo some output >/dev/null
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	[ -s "$DIR/logs/$id.log" ]

	run ctl task remove "$id"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "removed $id" ]

	[ ! -e "$DIR/logs/$id.log" ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id = $id")" = 0 ]
	[ "$(rows "SELECT count(*) FROM reservations WHERE task_id = $id")" = 0 ]
	run ctl task show "$id"
	[ "$status" -eq 6 ]
	# Removed twice: the second time it is unknown.
	run ctl task remove "$id"
	[ "$status" -eq 6 ]
}

@test "remove of a running task is refused and removes nothing" {
	depot_start
	# Its log is made at its first output (exec.c): the echo makes it.
	submit -- sh -c 'echo started; exec sleep 30'
	running=$ID
	wait_for task_is "$running" running
	wait_for file_has "$DIR/logs/$running.log"

	run --separate-stderr ctl task remove "$running"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"task $running is running"* ]]
	[ "$(rows "SELECT state FROM tasks WHERE id = $running")" = running ]
	[ -e "$DIR/logs/$running.log" ]
	task_is "$running" running
}

@test "hostile: remove with final, running and unknown ids removes nothing; ids as strings or negative are refused" {
	depot_start
	ctl run --wait --quiet -- echo a >/dev/null
	ctl run --wait --quiet -- echo b >/dev/null
	read -r b a < <(ctl --json task list --limit 2 | jq -r 'map(.id) | join(" ")')
	submit -- sleep 30
	running=$ID
	wait_for task_is "$running" running

	run --separate-stderr ctl --json task remove "$a" "$running" "$b"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.code <<<"$output")" = conflict ]
	[[ $(jq -r .error.message <<<"$output") == *"task $running"* ]]
	run ctl task remove "$a" "$b" 99999
	[ "$status" -eq 6 ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id IN ($a, $b, $running)")" = 3 ]
	[ -s "$DIR/logs/$a.log" ] && [ -s "$DIR/logs/$b.log" ]

	for ids in "[\"$a\"]" "[-$a]" "[$a.5]" '[]' "$a" '[null]'; do
		run raw "{\"cmd\": \"task.remove\", \"args\": {\"ids\": $ids}}"
		echo "$ids: $output"
		[[ $output == *'"code":"bad_request"'* || $output == *'"code": "bad_request"'* ]]
	done
	run ctl task remove -- "-$a"
	[ "$status" -eq 2 ]
	run ctl task remove "$a" x
	[ "$status" -eq 2 ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id IN ($a, $b)")" = 2 ]

	# Repeats are one removal.
	run ctl --json task remove "$a" "$a" "$b"
	[ "$status" -eq 0 ]
	[ "$(jq -c .removed <<<"$output")" = "[$a,$b]" ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id IN ($a, $b)")" = 0 ]
}

@test "a task that a waiting task runs --after is kept by remove and clean" {
	depot_start
	ctl run --wait --quiet -- true >/dev/null
	dep=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	submit --lock busy -- sleep 30
	wait_for task_is "$ID" running
	submit --lock busy --after "$dep" -- true
	waiter=$ID

	run --separate-stderr ctl task remove "$dep"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"task $waiter (waiting) runs after task $dep"* ]]
	run ctl --json task clean
	[ "$(jq -r .removed <<<"$output")" = 0 ]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id = $dep")" = 1 ]
}

@test "the last completed backup, which the next incremental builds on, is kept by remove and clean" {
	depot_start
	backup_wait
	older=$ID
	backup_wait
	last=$ID
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	run --separate-stderr ctl task remove "$older" "$last"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == *"task $last is the last completed backup"* ]]
	[ "$(rows "SELECT count(*) FROM tasks WHERE id IN ($older, $last)")" = 2 ]

	run ctl --json task clean
	[ "$(jq -r .removed <<<"$output")" = 1 ]
	[ "$(rows "SELECT group_concat(id) FROM tasks")" = "$last" ]
	# The next incremental still finds its base in it.
	backup_wait --incremental
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
}

@test "clean by state removes only final tasks in that state, with their logs" {
	depot_start
	ctl run --wait --quiet -- echo ok >/dev/null || true
	ok=$(rows "SELECT max(id) FROM tasks")
	ctl run --wait --quiet -- sh -c 'echo bad; exit 3' >/dev/null || true
	bad=$(rows "SELECT max(id) FROM tasks")
	submit -- sleep 30
	running=$ID
	wait_for task_is "$running" running
	[ -s "$DIR/logs/$bad.log" ]

	run ctl task clean --state failed
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "removed 1 task" ]
	[ "$(rows "SELECT group_concat(id) FROM tasks ORDER BY id")" = "$ok,$running" ]
	[ ! -e "$DIR/logs/$bad.log" ]
	[ -s "$DIR/logs/$ok.log" ]

	# A running task is never cleaned, whatever is asked.
	run ctl --json task clean
	[ "$(jq -r .removed <<<"$output")" = 1 ]
	[ "$(rows "SELECT group_concat(id) FROM tasks")" = "$running" ]
	task_is "$running" running

	run ctl task clean --state running
	[ "$status" -eq 2 ]
	run raw '{"cmd": "task.clean", "args": {"state": "waiting"}}'
	[[ $output == *bad_request* ]]
	run raw '{"cmd": "task.clean", "args": {"before": "yesterday"}}'
	[[ $output == *bad_request* ]]
}

@test "clean --before removes the tasks that finished before that time, not after" {
	depot_start
	ctl run --wait --quiet -- true >/dev/null
	old=$(rows "SELECT max(id) FROM tasks")
	cut=$(rfc3339_now)
	wait_for past "$(rfc3339_ms "$cut")"
	ctl run --wait --quiet -- true >/dev/null
	new=$(rows "SELECT max(id) FROM tasks")

	# A duration ago: both finished within the last hour.
	run ctl task clean --before 1h
	[ "$output" = "removed 0 tasks" ]

	run ctl --json task clean --before "$cut"
	echo "$output"
	[ "$(jq -r .removed <<<"$output")" = 1 ]
	[ "$(rows "SELECT group_concat(id) FROM tasks")" = "$new" ]
	[ ! -e "$DIR/logs/$old.log" ]

	# Local time, as --at takes it: a minute from now, the newer task goes too.
	run ctl --json task clean --before "$(date -d '1 minute' '+%Y-%m-%d %H:%M:%S')"
	[ "$(jq -r .removed <<<"$output")" = 1 ]
	[ "$(rows "SELECT count(*) FROM tasks")" = 0 ]

	run ctl task clean --before soon
	[ "$status" -eq 2 ]
	# A time of day alone would be the next one: refused.
	run ctl task clean --before 03:00
	[ "$status" -eq 2 ]
}

@test "clean of 60,000 tasks removes them in slices of at most 250 rows, and keeps a schedule's last task" {
	depot_start
	ctl schedule add keep --every 1h --at 2099-01-01T00:00:00Z -- run -- true >/dev/null
	depot_terminate
	now=$(($(date +%s) * 1000))
	sqlite3 "$DIR/depot.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
		INSERT INTO tasks (type, name, args, resources, state, created_at, started_at,
		  finished_at, result)
		SELECT 'exec', 'bulk ' || i, '{\"argv\": [\"true\"]}', '[]',
		  CASE WHEN i % 3 THEN 'completed' ELSE 'failed' END, $now - 100000 + i,
		  $now - 100000 + i, $now - 100000 + i, '{\"exit_code\": 0}' FROM n;
		UPDATE schedules SET last_task = 30000 WHERE name = 'keep';"
	depot_launch
	start_events "$WORK/events" --topic task
	wait_for events_subscribed "$WORK/events" 10s
	# The probes events_subscribed ran are final too before the count is taken.
	wait_for none_unfinished
	base=$(rows "SELECT count(*) FROM tasks")

	run ctl --json task clean
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .removed <<<"$output")" = $((base - 1)) ]
	[ "$(rows "SELECT group_concat(id) FROM tasks")" = 30000 ]
	# Each slice said what it removed: never more than 250 rows at once, so never one long transaction.
	wait_for removed_seen "$WORK/events" 1000 5s
	jq -s '[.[] | select(.event == "removed") | .ids | length]' "$WORK/events" >"$WORK/sizes"
	cat "$WORK/sizes"
	jq -e 'length >= 4 and max <= 250' "$WORK/sizes"
}

@test "a clean that depotd's stop interrupts: the slices done stay done, their logs gone, and depotctl is told" {
	depot_start
	depot_terminate
	now=$(($(date +%s) * 1000))
	sqlite3 "$DIR/depot.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
		INSERT INTO tasks (type, name, args, resources, state, created_at, started_at,
		  finished_at, result)
		SELECT 'exec', 'bulk ' || i, '{\"argv\": [\"true\"]}', '[]', 'completed', $now, $now,
		  $now, '{\"exit_code\": 0}' FROM n;"
	for i in $(seq 2000); do echo "output of $i" >"$DIR/logs/$i.log"; done
	# Slices 300 ms apart: the stop comes after the first.
	depot_launch_env DEPOT_TEST_CLEAN_PAUSE_MS=300
	LC_DEPOT_E2E_TAG=$DIR "$DEPOT_BIN/depotctl" -d "$DIR" --json task clean \
		>"$WORK/clean.out" 2>"$WORK/clean.err" 3>&- &
	clean=$!
	HAND_PIDS+=("$clean")
	wait_for tasks_below 2000

	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	status=0
	wait "$clean" || status=$?
	cat "$WORK/clean.out" "$WORK/clean.err"
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.code "$WORK/clean.out")" = unavailable ]
	[[ $(jq -r .error.message "$WORK/clean.out") == *"depotd is stopping"*"removed before"* ]]
	left=$(rows "SELECT count(*) FROM tasks")
	[ "$left" -gt 0 ] && [ "$left" -lt 2000 ]
	# Exactly the logs of the rows left are there: none of a removed row was left behind.
	diff <(rows "SELECT id FROM tasks ORDER BY id") \
		<(find "$DIR/logs" -name '*.log' -printf '%f\n' | sed 's/\.log$//' | sort -n)
	# The next start finishes the job on request.
	depot_launch
	run ctl --json task clean
	[ "$(jq -r .removed <<<"$output")" = "$left" ]
	[ -z "$(find "$DIR/logs" -name '*.log')" ]
}

@test "keep_finished pruning keeps what remove keeps: a task a waiting task runs --after" {
	depot_start "tasks.keep_finished = 1s"
	ctl run --wait --quiet -- true >/dev/null
	dep=$(rows "SELECT max(id) FROM tasks")
	submit --lock busy -- sleep 30
	wait_for task_is "$ID" running
	submit --lock busy --after "$dep" -- true
	waiter=$ID
	ctl run --wait --quiet -- true >/dev/null
	later=$(rows "SELECT max(id) FROM tasks")

	# The later task, finished after dep, is pruned: the pruning has passed dep by then.
	wait_for test_no_row "$later" 10s
	[ "$(rows "SELECT count(*) FROM tasks WHERE id = $dep")" = 1 ]
	task_is "$waiter" waiting
	grep -q 'pruned [0-9]* finished task(s) older than keep_finished' "$DIR/depotd.log"
}
