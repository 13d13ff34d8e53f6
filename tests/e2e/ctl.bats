#!/usr/bin/env bats
# DESIGN §11: depotctl prints bare ids and tables for people, exactly the
# daemon's JSON with --json, and tells scripts what happened by its exit
# code: 0 success, 1 refused or failed, 2 usage, 3 daemon unreachable,
# 4 canceled, 5 wait timed out, 6 not found; run --wait exits with the
# command's own status instead (tests/e2e/run-shell.bats).

load helpers

TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

@test "run prints the new task's id alone on stdout" {
	depot_start

	run --separate-stderr ctl run -- true

	[ "$status" -eq 0 ]
	[[ $output =~ ^[0-9]+$ ]]
	[ "$(task_state "$output")" != "" ]
}

@test "run --wait exits with the command's exit status" {
	depot_start

	run ctl run --wait -- sh -c 'exit 3'
	[ "$status" -eq 3 ]
	# DESIGN §11: the id at once, then the final task (on stderr: stdout is the command's).
	[[ ${lines[0]} =~ ^[0-9]+$ ]]
	[[ ${lines[1]} == "${lines[0]} failed (exit-status: "*"status 3)" ]]

	run ctl run --wait -- sh -c 'exit 0'
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "${lines[0]} completed" ]]
}

@test "run --json prints the new task as the daemon returns it, and task show --json has every field of the protocol" {
	depot_start

	run --separate-stderr ctl --json run --lock r1 --shared r2 --name greeting --timeout 30s -- echo hello
	[ "$status" -eq 0 ]
	submitted=$output
	id=$(jq -r .id <<<"$submitted")
	[[ $id =~ ^[0-9]+$ ]]
	run ctl task wait "$id"
	[ "$status" -eq 0 ]

	run --separate-stderr ctl --json task show "$id"

	[ "$status" -eq 0 ]
	task=$output
	jq -e . <<<"$task" >/dev/null
	for field in id type name state args resources worker created_at started_at \
		finished_at timeout progress stalled error result schedule; do
		jq -e --arg f "$field" 'has($f)' <<<"$task" >/dev/null || { echo "no field $field"; false; }
	done
	[ "$(jq -r .type <<<"$task")" = exec ]
	[ "$(jq -r .name <<<"$task")" = greeting ]
	[ "$(jq -r .state <<<"$task")" = completed ]
	[ "$(jq -c .args.argv <<<"$task")" = '["echo","hello"]' ]
	# Where and with what it ran: the submitter's directory and environment (DESIGN §5).
	[ "$(jq -r .args.cwd <<<"$task")" = "$PWD" ]
	[ "$(jq -r .args.env.PATH <<<"$task")" = "$PATH" ]
	[ "$(jq -c .resources <<<"$task")" = '[{"name":"r1","mode":"exclusive"},{"name":"r2","mode":"shared"}]' ]
	[ "$(jq -r .timeout <<<"$task")" = 30000 ]
	[ "$(jq -c .result <<<"$task")" = '{"exit_status":0}' ]
	[ "$(jq -r .error <<<"$task")" = null ]
	[ "$(jq -r .stalled <<<"$task")" = false ]
	[ "$(jq -r .progress.done <<<"$task")" = 6 ]
	[[ $(jq -r .worker <<<"$task") =~ ^w[12]$ ]]
	for t in created_at started_at finished_at; do
		[[ $(jq -r ".$t" <<<"$task") =~ $TIME_RE ]] || { echo "bad $t"; false; }
	done
	# What run printed is the same task, as it was at submission.
	[ "$(jq -c '{id, type, name, args, resources, timeout, created_at}' <<<"$submitted")" = \
	  "$(jq -c '{id, type, name, args, resources, timeout, created_at}' <<<"$task")" ]
	# task list --json prints arrays of the same objects, but for an exec task's environment.
	run --separate-stderr ctl --json task list
	[ "$status" -eq 0 ]
	[ "$(jq -S --argjson id "$id" '.[] | select(.id == $id)' <<<"$output")" = "$(jq -S 'del(.args.env)' <<<"$task")" ]
}

@test "worker list, lock list and ping with --json print parseable JSON with the protocol's fields" {
	depot_start

	run --separate-stderr ctl --json worker list
	[ "$status" -eq 0 ]
	[ "$(jq length <<<"$output")" -eq 2 ]
	[ "$(jq -c '[.[] | keys] | unique' <<<"$output")" = \
	  '[["last_heartbeat","name","pid","started_at","state","supervised","task"]]' ]
	[ "$(jq -c '[.[].name] | sort' <<<"$output")" = '["w1","w2"]' ]
	[[ $(jq -r '.[0].last_heartbeat' <<<"$output") =~ $TIME_RE ]]

	run --separate-stderr ctl --json lock list
	[ "$status" -eq 0 ]
	jq -e 'type == "array"' <<<"$output" >/dev/null

	run --separate-stderr ctl --json ping
	[ "$status" -eq 0 ]
	[ "$(jq -c '{pong, protocol}' <<<"$output")" = '{"pong":true,"protocol":1}' ]
	[ "$(jq -r .pid <<<"$output")" = "$DEPOT_PID" ]
}

@test "task wait exits 0 when the task completed" {
	depot_start
	submit -- true

	run ctl task wait "$ID"

	[ "$status" -eq 0 ]
}

@test "task wait exits 1 when the task failed" {
	depot_start
	submit -- sh -c 'exit 7'

	run ctl task wait "$ID"

	[ "$status" -eq 1 ]
	[ "$(task_reason "$ID")" = exit-status ]
	[ "$(ctl --json task show "$ID" | jq -c .result)" = '{"exit_status":7}' ]
}

@test "task wait exits 4 when the task was canceled" {
	depot_start
	submit -- sleep 30
	wait_for task_is "$ID" running
	ctl task cancel "$ID"

	run ctl task wait "$ID"

	[ "$status" -eq 4 ]
}

@test "task wait --timeout exits 5 when the task is not done in time, and leaves the task running" {
	depot_start
	submit -- sleep 5
	t0=$(now_ms)

	run ctl task wait --timeout 200ms "$ID"

	[ "$status" -eq 5 ]
	[ $(($(now_ms) - t0)) -lt 3000 ]
	[ "$(task_state "$ID")" = running ]
}

@test "task wait on several tasks that end in reverse order answers when the last ends, with every one of them" {
	depot_start "daemon.workers = 3"
	for n in a b c; do
		submit -- sh -c "until [ -e $DIR/go-$n ]; do sleep 0.02; done"
		eval "id_$n=\$ID"
	done
	ctl --json task wait "$id_a" "$id_b" "$id_c" >"$DIR/wait.json" &
	waiter=$!
	touch "$DIR/go-c"
	wait_for task_is "$id_c" completed 10s
	touch "$DIR/go-b"
	wait_for task_is "$id_b" completed 10s
	# Two of three ended, the first named still runs: the wait goes on.
	kill -0 "$waiter"
	[ ! -s "$DIR/wait.json" ]
	touch "$DIR/go-a"
	wait "$waiter"
	[ "$(jq -c '[.tasks[] | .state]' "$DIR/wait.json")" = '["completed","completed","completed"]' ]
	[ "$(jq -c '[.tasks[] | .id]' "$DIR/wait.json")" = "[$id_a,$id_b,$id_c]" ]
	[ "$(jq .timed_out "$DIR/wait.json")" = false ]
}

@test "task log prints what the task wrote" {
	depot_start
	run ctl run --wait -- sh -c 'echo line one; echo line two >&2; echo line three'
	[ "$status" -eq 0 ]
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')

	run ctl task log "$id"

	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'line one\nline two\nline three')" ]
}

@test "a task's log is capped at log_max (2 KiB here) and says it was truncated" {
	depot_start "tasks.log_max = 2KiB"
	run ctl run --wait -- sh -c 'head -c 102400 /dev/zero | tr "\0" x'
	[ "$status" -eq 0 ]
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')

	ctl task log "$id" >"$DIR/out"

	size=$(wc -c <"$DIR/out")
	echo "log is $size bytes"
	[ "$size" -gt 2000 ]
	[ "$size" -le $((2048 + 100)) ]
	[ "$(head -c 2048 "$DIR/out" | tr -d x | wc -c)" -eq 0 ]
	grep -q truncated "$DIR/out"
	# The whole output still counts as the task's progress.
	[ "$(ctl --json task show "$id" | jq .progress.done)" -eq 102400 ]
}

@test "depotctl exits 3 when the daemon is unreachable and names the socket it tried" {
	depot_init

	run ctl ping

	[ "$status" -eq 3 ]
	[[ $output == *"$DIR/run/control.sock"* ]]
}

@test "depotctl exits 2 on a usage error: missing argument or unknown option" {
	depot_start

	run ctl task show
	[ "$status" -eq 2 ]
	[[ $output == *usage* ]]

	run ctl run --no-such-option -- true
	[ "$status" -eq 2 ]
	[[ $output == *no-such-option* ]]

	run ctl task show not-a-number
	[ "$status" -eq 2 ]
}

@test "depotctl refuses an empty resource name with exit 1 or 2 and a message saying why" {
	depot_start

	run ctl run --lock '' -- true

	[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
	[[ $output == *resource* ]]
	[ "$(ctl --json task list | jq length)" -eq 0 ]
}

@test "depotctl exits 2 on an unknown command and says so" {
	depot_start

	run ctl frobnicate

	[ "$status" -eq 2 ]
	[[ $output == *frobnicate* ]]
}
