#!/usr/bin/env bats
# Issue 12, DESIGN §5 and §11: `depotctl run` runs a command as the
# submitter's shell would — in their working directory, with their
# environment (less what [tasks] env_deny names, which is never stored),
# never with depotd's — and `run --wait` exits as a shell would: the
# command's status, 128+N for signal N, 126/127 when it cannot be run,
# and timeout(1)'s 124/125 for depotctl's own outcomes. An unknown id is
# exit 6, apart from a failed task's 1; --json failures print one error
# object on stdout. Each test judges from files the command writes, the
# database file and depotctl's own output streams.

load helpers
load repo_helpers

@test "a task runs in the submitter's working directory with the submitter's environment" {
	depot_start
	mkdir "$WORK/here"

	run in_dir "$WORK/here" env RUN_SHELL_VAR='a value with spaces' \
		"$DEPOT_BIN/depotctl" -d "$DIR" run --wait -- \
		sh -c 'pwd >out.pwd; printf "%s\n" "$RUN_SHELL_VAR" >out.var'

	echo "$output"
	[ "$status" -eq 0 ]
	# Relative paths landed in the submitter's directory: the task ran there.
	[ "$(cat "$WORK/here/out.pwd")" = "$WORK/here" ]
	[ "$(cat "$WORK/here/out.var")" = 'a value with spaces' ]
}

@test "a name the environment holds twice is sent once: getenv's, the first, or the next when that one cannot be taken" {
	depot_start
	# A shell never exports a name twice; execve can: the raw list, as given.
	run --separate-stderr python3 -c '
import ctypes, sys
argv = [a.encode() for a in sys.argv[1:]]
envp = [b"PATH=/usr/bin:/bin", b"DUP=first", b"ONE=1", b"DUP=second", b"BAD=\xff",
        b"BAD=taken", b"DUP=third", b"LC_DEPOT_E2E_TAG=" + sys.argv[3].encode()]
A = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
E = (ctypes.c_char_p * (len(envp) + 1))(*envp, None)
ctypes.CDLL(None).execve(argv[0], A, E)
sys.exit("execve failed")' "$DEPOT_BIN/depotctl" -d "$DIR" --json run -- true

	echo "$output"; echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $stderr == *"leaving 'BAD' out"*"UTF-8"* ]]
	[ "$(jq -c '.args.env | del(.PWD, .LC_DEPOT_E2E_TAG)' <<<"$output")" = \
		'{"PATH":"/usr/bin:/bin","DUP":"first","ONE":"1","BAD":"taken"}' ]
}

@test "a variable set only in depotd's environment never reaches a task" {
	depot_init
	depot_launch_env DEPOTD_ONLY_VAR=daemon-secret HOME=/daemon-home
	# The worker has it (it is depotd's own process), so the test tests something.
	tr '\0' '\n' <"/proc/$(worker_pid w1)/environ" | grep -qx DEPOTD_ONLY_VAR=daemon-secret

	(cd "$WORK" && HOME=/submitter-home ctl run --wait -- sh -c 'env >env.out') >/dev/null

	cat "$WORK/env.out"
	run -1 grep -e DEPOTD_ONLY_VAR -e daemon-secret -e /daemon-home "$WORK/env.out"
	grep -qx 'HOME=/submitter-home' "$WORK/env.out"
	# What the worker adds itself: the task's id and the fence's tag.
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	grep -qx "DEPOT_TASK_ID=$id" "$WORK/env.out"
	grep -qE "^DEPOT_TASK_TAG=[0-9]+\.[0-9]+\.$id\$" "$WORK/env.out"
}

@test "a denied variable (MY_TOKEN) is in neither the task's environment, task show, nor the database" {
	depot_start
	token="tok-$RANDOM-$RANDOM-secret"

	(cd "$WORK" && MY_TOKEN=$token AWS_SECRET_ACCESS_KEY=$token-aws PLAIN_VAR=kept \
		ctl run --wait -- sh -c 'env >env.out') >/dev/null
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')

	run -1 grep -F -e "$token" -e MY_TOKEN -e AWS_SECRET "$WORK/env.out"
	grep -qx PLAIN_VAR=kept "$WORK/env.out"
	# task show names what was left out, and shows no value of it.
	run --separate-stderr ctl task show "$id"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output != *"$token"* ]]
	left=$(grep -E '^env left out ' <<<"$output")
	[[ " $left " == *" MY_TOKEN "* && " $left " == *" AWS_SECRET_ACCESS_KEY "* ]]
	grep -E '^  PLAIN_VAR +kept$' <<<"$output"
	ctl --json task show "$id" |
		jq -e '.args.env_denied | index("MY_TOKEN") and index("AWS_SECRET_ACCESS_KEY")'
	[ "$(ctl --json task show "$id" | jq -r .args.env.PLAIN_VAR)" = kept ]
	[ "$(ctl --json task show "$id" | jq -r '.args.env | has("MY_TOKEN")')" = false ]
	# Asked for by name with --env, it is left out all the same, and depotctl says so.
	run --separate-stderr ctl run --env "MY_TOKEN=$token" -- true
	[ "$status" -eq 0 ]
	[[ $stderr == *"--env MY_TOKEN was left out"*env_deny* ]]
	# Not a byte of it in the database, its WAL, or anything else in the data directory.
	ls "$DIR"/depot.db*
	run -1 grep -rlF "$token" "$DIR"
}

@test "[tasks] env_deny is the site's list: its patterns replace the default" {
	depot_start "tasks.env_deny = SITE_*"

	(cd "$WORK" && SITE_KEY=k1 MY_TOKEN=t1 ctl run --wait -- sh -c 'env >env.out') >/dev/null

	run -1 grep -q '^SITE_KEY=' "$WORK/env.out"
	grep -qx MY_TOKEN=t1 "$WORK/env.out"
}

@test "--cwd DIR runs elsewhere (relative to the current directory), and PWD follows" {
	depot_start
	mkdir -p "$WORK/a/b" "$WORK/c"

	in_dir "$WORK/a" ctl run --wait --cwd b -- sh -c 'pwd >out; echo "$PWD" >>out' >/dev/null
	in_dir "$WORK/a" ctl run --wait --cwd "$WORK/c" -- sh -c 'pwd >out' >/dev/null

	[ "$(sed -n 1p "$WORK/a/b/out")" = "$WORK/a/b" ]
	[ "$(sed -n 2p "$WORK/a/b/out")" = "$WORK/a/b" ]
	[ "$(cat "$WORK/c/out")" = "$WORK/c" ]
	# A directory that is not there is refused at once, naming it.
	run in_dir "$WORK/a" ctl run --cwd nowhere -- true
	[ "$status" -eq 2 ]
	[[ $output == *nowhere* ]]
}

@test "--env NAME=VALUE sets and overrides, --env NAME passes this shell's value, --clean-env starts empty" {
	depot_start
	cd "$WORK"

	FROM_SHELL=shell-value OVERRIDDEN=old ctl run --wait --env OVERRIDDEN=new \
		--env 'ADDED=a=b c' -- sh -c 'env >env1.out' >/dev/null
	# The streamed output is the command's: env's listing, looked up without a PATH.
	FROM_SHELL=shell-value KEPT=k ctl run --wait --clean-env --env FROM_SHELL -- env \
		>"$WORK/env2.out" 2>/dev/null

	grep -qx OVERRIDDEN=new "$WORK/env1.out"
	grep -qx 'ADDED=a=b c' "$WORK/env1.out"
	grep -qx FROM_SHELL=shell-value "$WORK/env1.out"
	cat "$WORK/env2.out"
	# Exactly what --env gave, and what the worker adds.
	[ "$(grep -cv -E '^(FROM_SHELL=shell-value|DEPOT_TASK_ID=[0-9]+|DEPOT_TASK_TAG=.*)$' \
		"$WORK/env2.out")" -eq 0 ]
	[ "$(wc -l <"$WORK/env2.out")" -eq 3 ]
	# --env NAME for a name this shell does not have is a usage error.
	run ctl run --env NOT_SET_ANYWHERE_$RANDOM -- true
	[ "$status" -eq 2 ]
	[[ $output == *NOT_SET_ANYWHERE* ]]
}

@test "a variable whose value is not UTF-8 is left out with a word on stderr, and the task still runs" {
	depot_start
	cd "$WORK"

	run --separate-stderr env "LATIN1_VAR=$(printf 'caf\xe9')" \
		"$DEPOT_BIN/depotctl" -d "$DIR" run --wait -- sh -c 'env >env.out'

	[ "$status" -eq 0 ]
	[[ $stderr == *LATIN1_VAR*UTF-8* ]]
	run -1 grep -q LATIN1_VAR "$WORK/env.out"
}

@test "a working directory removed before the task starts fails it, naming the directory" {
	depot_start
	mkdir "$WORK/gone"
	submit --lock r -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/go"
	blocker=$ID
	wait_for task_is "$blocker" running
	ID=$(in_dir "$WORK/gone" ctl run --lock r -- pwd)
	rmdir "$WORK/gone"
	touch "$WORK/go"

	run ctl task wait "$ID"

	[ "$status" -eq 1 ]
	[ "$(task_reason "$ID")" = exception ]
	[[ $(ctl --json task show "$ID" | jq -r .error.message) == *"$WORK/gone"* ]]
	[[ $(ctl task log "$ID") == *"$WORK/gone"* ]]
	[ "$(task_state "$blocker")" = completed ]
}

@test "run --wait exits with the command's status: 3, 137 for kill -9, 127 not found, 126 not executable" {
	depot_start
	cd "$WORK"
	printf '#!/bin/sh\necho ran >"%s/ran"\n' "$WORK" >"$WORK/noexec.sh"
	chmod 0644 "$WORK/noexec.sh"

	run ctl run --wait -- sh -c 'exit 3'
	[ "$status" -eq 3 ]
	run ctl run --wait -- sh -c 'echo $$ >pid; kill -9 $$'
	[ "$status" -eq 137 ]
	run -127 ctl run --wait -- no-such-command-anywhere
	[[ $output == *"no-such-command-anywhere"*"not found"* ]]
	run ctl run --wait -- ./noexec.sh
	[ "$status" -eq 126 ]
	[ ! -e "$WORK/ran" ]
	# Statuses 4 and 5 are the command's too, not "canceled" and "timed out".
	run ctl run --wait -- sh -c 'exit 4'
	[ "$status" -eq 4 ]
	run ctl run --wait -- sh -c 'exit 5'
	[ "$status" -eq 5 ]
	# What task show records, as a shell would have had it.
	[ "$(ctl --json task list --limit 3 | jq -c '[.[].result.exit_status]')" = '[5,4,126]' ]
}

@test "run --wait exits 124 when the task's --timeout or --wait-timeout runs out" {
	depot_start

	run --separate-stderr ctl run --wait --timeout 300ms -- sleep 30
	[ "$status" -eq 124 ]
	[[ $stderr == *"timed out"* ]]

	t0=$(now_ms)
	run --separate-stderr ctl run --wait --wait-timeout 300ms -- sleep 30
	[ "$status" -eq 124 ]
	[ $(($(now_ms) - t0)) -lt 5000 ]
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	# Giving up the wait leaves the task as it was.
	[ "$(task_state "$id")" = running ]
	ctl task cancel "$id" >/dev/null
}

@test "run --wait exits 125 when depotctl fails: daemon down, request refused, usage, task canceled" {
	depot_init

	run ctl run --wait -- true
	[ "$status" -eq 125 ]
	[[ $output == *"cannot reach depotd"* ]]
	# Without --wait, depotctl's own codes stay: 3 for unreachable.
	run ctl run -- true
	[ "$status" -eq 3 ]

	depot_launch
	run ctl run --wait --after 99999 -- true
	[ "$status" -eq 125 ]
	run ctl run --wait --no-such-option -- true
	[ "$status" -eq 125 ]
	run ctl run --wait --cwd /no/such/dir -- true
	[ "$status" -eq 125 ]
	# A task canceled while depotctl waits for it: the command gave no status.
	ctl run --wait --quiet -- sleep 30 >"$WORK/out" 2>"$WORK/err" &
	waiter_pid=$!
	wait_for file_has "$WORK/out"
	id=$(head -n 1 "$WORK/out")
	wait_for task_is "$id" running
	ctl task cancel "$id" >/dev/null
	status=0
	wait "$waiter_pid" || status=$?
	[ "$status" -eq 125 ]
	grep -q canceled "$WORK/err"
}

@test "task show of an unknown id exits 6, a failed task's wait 1 and its show 0" {
	depot_start
	submit -- sh -c 'exit 7'
	wait_for task_is "$ID" failed

	run ctl task show 99999
	[ "$status" -eq 6 ]
	[[ $output == *"no task 99999"* ]]
	run ctl task wait 99999
	[ "$status" -eq 6 ]
	run ctl task wait "$ID"
	[ "$status" -eq 1 ]
	run ctl task show "$ID"
	[ "$status" -eq 0 ]
}

@test "with --json a failure prints one error object on stdout: not found, refused, unreachable, usage" {
	depot_start

	run --separate-stderr ctl --json task show 99999
	[ "$status" -eq 6 ]
	[ "$(jq -r .error.code <<<"$output")" = not_found ]
	[[ $(jq -r .error.message <<<"$output") == *99999* ]]
	# Compact, one line, when stdout is not a terminal.
	[ "${#lines[@]}" -eq 1 ]
	[ -n "$stderr" ]

	ctl repo create r1 >/dev/null
	run --separate-stderr ctl --json repo create r1
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.code <<<"$output")" = conflict ]
	[[ $(jq -r .error.message <<<"$output") == *r1* ]]

	run --separate-stderr ctl --json task show not-a-number
	[ "$status" -eq 2 ]
	[ "$(jq -r .error.code <<<"$output")" = usage ]

	run --separate-stderr ctl --json run --wait --after 99999 -- true
	[ "$status" -eq 125 ]
	[ "$(jq -r .error.code <<<"$output")" = not_found ]

	depot_terminate
	run --separate-stderr ctl --json ping
	[ "$status" -eq 3 ]
	[ "$(jq -r .error.code <<<"$output")" = unavailable ]
	[[ $(jq -r .error.message <<<"$output") == *control.sock* ]]
	run --separate-stderr ctl --json task show 1
	[ "$(jq -c 'keys' <<<"$output")" = '["error"]' ]
	[ "$(jq -c '.error | keys' <<<"$output")" = '["code","message"]' ]
}

@test "a single --json object is one line on a pipe; task show --json carries cwd and env" {
	depot_start
	cd "$WORK"

	run --separate-stderr ctl --json run -- true
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .args.cwd <<<"$output")" = "$WORK" ]
	[ "$(jq -r .args.env.PWD <<<"$output")" = "$WORK" ]
}

@test "run --wait streams the command's output as it comes, on stdout alone; --quiet does not" {
	depot_start
	cd "$WORK"

	ctl run --wait -- sh -c "echo first; while [ ! -e '$WORK/go' ]; do sleep 0.05; done; echo second >&2" \
		>"$WORK/out" 2>"$WORK/err" &
	waiter_pid=$!
	# The first line is out while the command still runs: streamed, not printed at the end.
	wait_for grep -qx first "$WORK/out"
	id=$(head -n 1 "$WORK/err")
	[[ $id =~ ^[0-9]+$ ]]
	[ "$(task_state "$id")" = running ]
	touch "$WORK/go"
	status=0
	wait "$waiter_pid" || status=$?
	[ "$status" -eq 0 ]
	# stdout is the command's output alone (its stderr too: one log); depotctl's lines are on stderr.
	[ "$(cat "$WORK/out")" = "$(printf 'first\nsecond')" ]
	[ "$(tail -n 1 "$WORK/err")" = "$id completed" ]

	run --separate-stderr ctl run --wait --quiet -- echo hidden
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^[0-9]+$ ]]
	[ "${lines[1]}" = "${lines[0]} completed" ]
	[[ $output != *hidden* ]]
	# --quiet and --wait-timeout go with --wait.
	run ctl run --quiet -- true
	[ "$status" -eq 2 ]
}

@test "a schedule's run template keeps where and with what it was added, less denied variables" {
	depot_start
	mkdir "$WORK/sched"

	in_dir "$WORK/sched" env MY_TOKEN=sched-secret-token SCHED_VAR=v \
		"$DEPOT_BIN/depotctl" -d "$DIR" schedule add s1 --every 1h -- run -- true >/dev/null

	tmpl=$(ctl --json schedule list | jq -c '.[0].template')
	[ "$(jq -r .cwd <<<"$tmpl")" = "$WORK/sched" ]
	[ "$(jq -r .env.SCHED_VAR <<<"$tmpl")" = v ]
	[ "$(jq -r '.env | has("MY_TOKEN")' <<<"$tmpl")" = false ]
	run -1 grep -rlF sched-secret-token "$DIR"
	# What goes with --wait cannot be scheduled either.
	run ctl schedule add s2 --every 1h -- run --quiet -- true
	[ "$status" -eq 2 ]
	[[ $output == *--quiet* ]]
}
