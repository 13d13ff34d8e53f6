#!/usr/bin/env bats
# Issue 14, run --batch FILE: one task a line (run's words, or a JSON
# object), all checked before any is queued, queued in one request and one
# transaction in the file's order. Orders and overlaps are judged from a
# trace the commands append to, and all-or-nothing from the database file
# itself after depotd is killed while it writes the batch.

load helpers
load repo_helpers
load trace_helpers

# task_count: the tasks in the database file, whatever depotd says.
task_count() {
	sqlite3 "$DIR/depot.db" "SELECT count(*) FROM tasks"
}

@test "run --batch queues one task a line in the file's order: run's words, quoted as sh does, or JSON" {
	depot_start "daemon.workers = 0"
	cat >"$WORK/b" <<-'EOF'
		# a comment, then a blank line

		printf '%s\n' "a b" c\ d 'e "f"'   # a comment after the command
		--name second --lock r1 -- echo two
		{"argv": ["echo", "three"], "name": "third", "shared": ["r2", "r3"], "priority": 5, "env": {"ONLY": "1"}, "clean-env": true}
		  true
	EOF
	run --separate-stderr ctl run --batch "$WORK/b"
	[ "$status" -eq 0 ]
	mapfile -t ids <<<"$output"
	[ "${#ids[@]}" -eq 4 ]
	[ "${ids[1]}" -eq $((ids[0] + 1)) ] && [ "${ids[2]}" -eq $((ids[0] + 2)) ] && [ "${ids[3]}" -eq $((ids[0] + 3)) ]
	[ "$(ctl --json task show "${ids[0]}" | jq -c .args.argv)" = '["printf","%s\\n","a b","c d","e \"f\""]' ]
	run ctl --json task show "${ids[1]}"
	[ "$(jq -r .name <<<"$output")" = second ]
	[ "$(jq -c '[.resources[] | [.name, .mode]]' <<<"$output")" = '[["r1","exclusive"]]' ]
	[ "$(jq -r .args.cwd <<<"$output")" = "$PWD" ]
	run ctl --json task show "${ids[2]}"
	[ "$(jq -r .name <<<"$output")" = third ]
	[ "$(jq -r .priority <<<"$output")" = 5 ]
	[ "$(jq -c '[.resources[] | [.name, .mode]]' <<<"$output")" = '[["r2","shared"],["r3","shared"]]' ]
	[ "$(jq -c .args.env <<<"$output")" = '{"ONLY":"1"}' ]
	# A line that sets none of its own has the batch's environment, as run would give it.
	[ "$(ctl --json task show "${ids[3]}" | jq -r .args.env.LC_DEPOT_E2E_TAG)" = "$DIR" ]
}

@test "a batch's tasks on one resource run one at a time in the file's order, a higher priority first" {
	depot_start "daemon.workers = 2"
	ctl pause >/dev/null
	for n in 1 2 3 4 5 6; do
		echo "--lock r -- $(traced "t$n" 0.05)"
	done >"$WORK/b"
	echo "--lock r --priority 9 -- $(traced urgent 0.05)" >>"$WORK/b"
	run ctl run --batch "$WORK/b"
	[ "$status" -eq 0 ]
	ctl resume >/dev/null
	wait_for trace_lines 14 20s
	[ "$(started)" = "urgent t1 t2 t3 t4 t5 t6 " ]
	[ "$(most_at_once)" -eq 1 ]
}

@test "a batch's task that starts at once keeps the batch's environment after the request is gone" {
	depot_start "daemon.workers = 2"
	printf '%s\n' "sh -c 'echo \"\$LC_DEPOT_E2E_TAG\" >$WORK/seen; sleep 30'" "true" >"$WORK/b"
	run ctl run --batch "$WORK/b"
	[ "$status" -eq 0 ]
	first=${lines[0]}
	wait_for task_is "$first" running
	wait_for file_has "$WORK/seen"
	[ "$(cat "$WORK/seen")" = "$DIR" ]
	# Shown from memory while it runs: its own copy, not what the request held.
	run ctl --json task show "$first"
	[ "$(jq -r .args.env.LC_DEPOT_E2E_TAG <<<"$output")" = "$DIR" ]
	[ "$(jq '.args.env | length' <<<"$output")" -gt 1 ]
	ctl task cancel "$first" >/dev/null
}

@test "a bad line refuses the whole batch, naming FILE:LINE, and queues nothing" {
	depot_start "daemon.workers = 0"
	bad() {  # bad LINE EXPECTED_STATUS NEEDLE: the batch with LINE third fails so
		printf 'true\n# comment\n%s\ntrue\n' "$1" >"$WORK/bad"
		run --separate-stderr ctl run --batch "$WORK/bad"
		echo "line: $1 -> $status: $stderr" >&2
		[ "$status" -eq "$2" ]
		[[ $stderr == *"$WORK/bad:3: "*"$3"* ]]
		[ -z "$output" ]
		[ "$(task_count)" -eq 0 ]
	}
	bad '--priority 5000 -- true' 2 "--priority"
	bad 'echo "unclosed' 2 "not closed"
	bad '{"argv": ["true"], "lokc": "r"}' 2 "unknown field 'lokc'"
	bad '{"argv": "true"}' 2 '"argv"'
	bad '{"argv": ["true"]' 2 "not a JSON object"
	bad '--wait -- true' 2 "--wait is for the whole batch"
	bad '--lock r' 2 "missing CMD"
	bad '--cwd /nonexistent/dir -- true' 2 "--cwd"
	# Refused by depotd, after depotctl found nothing wrong: named the same way.
	bad '--after 99999 -- true' 6 "no task 99999"
	bad "echo $(printf '\xff')" 1 "'argv[1]' is not valid UTF-8"
	# JSON is read strictly: what a line says is what is queued.
	bad '{"argv": ["echo"], "lock": true, "shared": "db"}' 2 "'lock' takes a value"
	bad '{"argv": ["echo"], "clean-env": "yes"}' 2 "'clean-env' is a flag"
	bad '{"argv": ["echo"]} trailing' 2 "text after the JSON object"
	bad '{"argv": ["a"], "argv": ["b"]}' 2 "'argv' given twice"
	bad '{"argv": ["a\u0000b"]}' 2 "NUL"
	bad '{"argv": ["x"], "priority": 1e300}' 2 "'priority' must be a string or a whole number"
	bad 'echo a\' 2 "backslash ends the line"
	# A file with no task, and one that is not there.
	printf '# nothing\n\n' >"$WORK/empty"
	run --separate-stderr ctl run --batch "$WORK/empty"
	[ "$status" -eq 2 ]
	[[ $stderr == *"holds no task"* ]]
	run --separate-stderr ctl run --batch "$WORK/missing"
	[ "$status" -eq 2 ]
	[[ $stderr == *"cannot read --batch file"* ]]
	run --separate-stderr ctl run --batch "$WORK/empty" -- true
	[ "$status" -eq 2 ]
	[ "$(task_count)" -eq 0 ]
}

@test "a file with a byte order mark and CRLF line ends reads as the same tasks" {
	depot_start "daemon.workers = 0"
	printf '\xef\xbb\xbf{"argv": ["echo", "one"]}\r\necho "two"\r\n\r\n' >"$WORK/dos"
	run --separate-stderr ctl run --batch "$WORK/dos"
	[ "$status" -eq 0 ]
	mapfile -t ids <<<"$output"
	[ "${#ids[@]}" -eq 2 ]
	[ "$(ctl --json task show "${ids[0]}" | jq -c .args.argv)" = '["echo","one"]' ]
	[ "$(ctl --json task show "${ids[1]}" | jq -c .args.argv)" = '["echo","two"]' ]
}

@test "a line's --env that env_deny leaves out is named, as run names it" {
	depot_start "daemon.workers = 0"
	printf '%s\n' 'true' '--env MY_TOKEN=1 -- true' >"$WORK/b"
	run --separate-stderr ctl run --batch "$WORK/b"
	[ "$status" -eq 0 ]
	[[ $stderr == *"--env MY_TOKEN was left out"* ]]
	[ "$(ctl --json task show "$(tail -1 <<<"$output")" | jq '.args.env_denied | index("MY_TOKEN") != null')" = true ]
}

@test "a batch's environment is stored once for all its tasks: 20,000 with a 4 KB variable (once refused as too many copies)" {
	depot_start "daemon.workers = 0" "daemon.max_message = 8MiB"
	seq 1 20000 | sed 's/^/true /' >"$WORK/b"
	# 20,000 copies of a 4 KB variable would be 80 MB of database (once refused as too many).
	run --separate-stderr env BIG="$(head -c 4000 /dev/zero | tr '\0' x)" \
		LC_DEPOT_E2E_TAG="$DIR" "$DEPOT_BIN/depotctl" -d "$DIR" run --batch "$WORK/b"
	[ "$status" -eq 0 ]
	[ "$(task_count)" -eq 20000 ]
	[ "$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM environments")" -eq 1 ]
	[ "$(sqlite3 "$DIR/depot.db" "SELECT count(DISTINCT env_id) FROM tasks")" -eq 1 ]
	size=$(($(stat -c %s "$DIR/depot.db") + $(stat -c %s "$DIR/depot.db-wal" 2>/dev/null || echo 0)))
	echo "database and log: $size bytes"
	[ "$size" -lt 20000000 ]
	[ "$(ctl --json task show 20000 | jq -r '.args.env.BIG | length')" -eq 4000 ]
	# Memory did not take 20,000 copies either (under ASan, whose quarantine holds freed memory, not judged).
	hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$DEPOT_PID/status")
	echo "depotd's VmHWM: $hwm KiB"
	ldd "$DEPOT_BIN/depotd" | grep -q libasan || [ "$hwm" -lt 131072 ]
	# More lines than a batch holds: refused by depotctl before it sends anything.
	seq 1 20001 | sed 's/^/true /' >"$WORK/b"
	run --separate-stderr ctl run --batch "$WORK/b"
	[ "$status" -eq 2 ]
	[[ $stderr == *"holds 20001 tasks: a batch is at most 20000"* ]]
}

@test "run --batch - reads standard input; options on the command line apply to every line; --json prints the ids" {
	depot_start "daemon.workers = 0"
	run --separate-stderr bash -c "printf 'true\n{\"argv\":[\"true\"]}\n--lock own -- true\n' |
		LC_DEPOT_E2E_TAG=$DIR '$DEPOT_BIN/depotctl' -d '$DIR' --json run --lock all --priority 3 --batch -"
	[ "$status" -eq 0 ]
	[ "$(jq '.ids | length' <<<"$output")" -eq 3 ]
	for id in $(jq '.ids[]' <<<"$output"); do
		run ctl --json task show "$id"
		[ "$(jq -r .priority <<<"$output")" = 3 ]
		[ "$(jq -r '[.resources[] | select(.name == "all")] | length' <<<"$output")" = 1 ]
	done
	[ "$(ctl --json task show "$id" | jq -r '[.resources[].name] | sort | join(" ")')" = "all own" ]
	# A line giving an option the command line gave already is refused, not merged silently.
	run --separate-stderr bash -c "printf -- '--priority 4 -- true\n' |
		LC_DEPOT_E2E_TAG=$DIR '$DEPOT_BIN/depotctl' -d '$DIR' run --priority 3 --batch -"
	[ "$status" -eq 2 ]
	[[ $stderr == *"(stdin):1: "*"given twice"* ]]
}

@test "run --batch --wait waits for every task and exits as task wait does" {
	depot_start "daemon.workers = 2"
	printf '%s\n' "true" "sh -c 'sleep 0.3; exit 3'" "sh -c 'sleep 0.5'" >"$WORK/b"
	run --separate-stderr ctl run --batch "$WORK/b" --wait
	[ "$status" -eq 1 ]
	mapfile -t lines <<<"$output"
	ids=("${lines[@]:0:3}")
	for id in "${ids[@]}"; do
		[[ $id =~ ^[0-9]+$ ]]
	done
	# When it returned, every task had ended: judged from the daemon's record of each.
	[ "$(ctl --json task show "${ids[0]}" | jq -r .state)" = completed ]
	[ "$(ctl --json task show "${ids[1]}" | jq -r .state)" = failed ]
	[ "$(ctl --json task show "${ids[2]}" | jq -r .state)" = completed ]
	[ "${#lines[@]}" -eq 6 ]
	printf '%s\n' true true >"$WORK/ok"
	run ctl run --batch "$WORK/ok" --wait
	[ "$status" -eq 0 ]
	run --separate-stderr ctl run --batch "$WORK/ok" --wait-timeout 5s
	[ "$status" -eq 2 ]
	[[ $stderr == *"--wait-timeout goes with --wait"* ]]
	# A batch's --wait exits as task wait does, however --batch was spelled: a usage error is 2, not 125.
	run ctl run -b "$WORK/ok" --wait --bogus
	[ "$status" -eq 2 ]
	run ctl run --bat "$WORK/ok" --wait --bogus
	[ "$status" -eq 2 ]
}

@test "a batch is all or nothing when depotd is killed while it stores the batch" {
	depot_start "daemon.workers = 0" "daemon.max_message = 16MiB"
	# Large enough that SQLite spills the transaction into the write-ahead log before it commits.
	seq 1 20000 | sed 's/^/true /' >"$WORK/big"
	wal=$DIR/depot.db-wal
	base=$(stat -c %s "$wal" 2>/dev/null || echo 0)
	ctl run --batch "$WORK/big" >"$WORK/ids" 2>"$WORK/err" &
	client=$!
	wal_grew() {
		[ "$(stat -c %s "$wal" 2>/dev/null || echo 0)" -gt $((base + 1048576)) ]
	}
	wait_for wal_grew 30s
	depot_kill
	wait "$client" || true
	stored=$(task_count)
	echo "stored after the kill: $stored; client said: $(cat "$WORK/err")" >&2
	[ "$stored" -eq 0 ] || [ "$stored" -eq 20000 ]
	depot_launch
	[ "$(ctl --json status | jq .locks.waiting)" -eq "$stored" ]
	# The client printed ids only for a batch that was stored, and said what a lost answer means.
	if [ "$stored" -eq 0 ]; then
		[ ! -s "$WORK/ids" ]
		grep -q "queued all of it or none: see 'depotctl task list' before sending it again" "$WORK/err"
	fi
}

# logs_say TEXT ID...: each task ID's log is TEXT.
logs_say() {
	local want=$1 id
	shift
	for id in "$@"; do
		[ "$(ctl task log "$id")" = "$want" ] || { echo "task $id: $(ctl task log "$id")"; return 1; }
	done
}

@test "each task runs with its own submitter's environment, stored once: batches taking turns, a replaced worker, a restarted depotd" {
	depot_start "daemon.workers = 1"
	line="sh -c 'echo \$MARK'"
	a=$(printf '%s\n' "$line" "$line" "$line" | MARK=one ctl run --batch -)
	b=$(printf '%s\n' "$line" "$line" | MARK=two ctl run --batch -)
	c=$(MARK=one ctl run -- sh -c 'echo $MARK')
	ctl task wait $a $b $c >/dev/null
	logs_say one $a $c
	logs_say two $b
	# One row a distinct environment, not one a task.
	[ "$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM environments")" -eq 2 ]

	# A new worker process keeps no environment: it is sent again.
	old=$(worker_pid w1)
	kill -KILL "$old"
	wait_for worker_replaced w1 "$old" 10s
	d=$(MARK=one ctl run -- sh -c 'echo $MARK')
	ctl task wait $d >/dev/null
	logs_say one $d
	# Nor does a worker of a restarted depotd know what the new one has sent.
	depot_kill
	depot_launch
	e=$(MARK=two ctl run -- sh -c 'echo $MARK')
	f=$(MARK=one ctl run -- sh -c 'echo $MARK')
	ctl task wait $e $f >/dev/null
	logs_say two $e
	logs_say one $f
	# Removing every task that used one removes its row; the other stays.
	ctl task remove $b $e >/dev/null
	[ "$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM environments")" -eq 1 ]
	[ "$(ctl --json task show "$f" | jq -r .args.env.MARK)" = one ]
}

@test "a task stored before environments had rows of their own (its env in args, env_id null) runs with that env" {
	depot_start
	depot_terminate
	# As a depot before schema 8 left it: the env inside args, no environments row.
	sqlite3 "$DIR/depot.db" "INSERT INTO tasks (type, name, args, resources, state, created_at)
		VALUES ('exec', 'sh', '{\"argv\":[\"sh\",\"-c\",\"echo \$MARK\"],\"cwd\":\"/\",\"env\":{\"MARK\":\"old\",\"PATH\":\"/usr/bin:/bin\"}}',
		'[]', 'waiting', 1)"
	id=$(sqlite3 "$DIR/depot.db" "SELECT max(id) FROM tasks")
	[ "$(sqlite3 "$DIR/depot.db" "SELECT count(*) FROM environments")" -eq 0 ]
	depot_launch
	wait_for task_is "$id" completed 10s
	[ "$(ctl task log "$id")" = old ]
	[ "$(ctl --json task show "$id" | jq -r .args.env.MARK)" = old ]
	# The same worker then takes a task whose env is a row, and back: each runs with its own.
	new=$(MARK=new ctl run -- sh -c 'echo $MARK')
	ctl task wait "$new" >/dev/null
	[ "$(ctl task log "$new")" = new ]
}
