#!/usr/bin/env bats
# DESIGN §10: every request is validated; a malformed, unknown or oversize
# message gets a clear error (or, over max_message, its connection closed) and never crashes or
# stalls the daemon.

load helpers

# raw MESSAGE: sends MESSAGE's bytes as one request to control.sock.
raw() {
	printf '%s' "$1" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 3000
}

error_code() {
	jq -r '.error.code' <<<"$output"
}

@test "a request that is not JSON is refused with bad_request" {
	depot_start
	run raw 'this is not json {'
	[ "$status" -eq 0 ]
	[ "$(error_code)" = bad_request ]
	[[ $output == *"not a JSON object"* ]]
	ctl ping
}

@test "a JSON value that is not an object is refused with bad_request" {
	depot_start
	for msg in '[1,2,3]' '"ping"' '42' 'null'; do
		run raw "$msg"
		[ "$status" -eq 0 ]
		[ "$(error_code)" = bad_request ]
	done
	ctl ping
}

@test "a request without cmd, or with an unknown cmd, names what was wrong" {
	depot_start
	run raw '{"args": {}}'
	[ "$(error_code)" = bad_request ]
	[[ $output == *"missing 'cmd'"* ]]
	run raw '{"cmd": "task.explode"}'
	[ "$(error_code)" = bad_request ]
	[[ $output == *"unknown command 'task.explode'"* ]]
	run raw '{"cmd": "ping", "args": [1]}'
	[ "$(error_code)" = bad_request ]
	[[ $output == *"'args' must be an object"* ]]
}

@test "wrong argument types and ranges are refused naming the field" {
	depot_start
	run raw '{"cmd": "task.submit", "args": {"type": "exec", "argv": "true"}}'
	[ "$(error_code)" = bad_request ]
	[[ $output == *"'argv'"* ]]
	run raw '{"cmd": "task.submit", "args": {"type": "exec", "argv": ["true"], "resources": [{"name": "r", "mode": "sometimes"}]}}'
	[ "$(error_code)" = bad_request ]
	[[ $output == *"'mode'"* ]]
	run raw '{"cmd": "task.submit", "args": {"type": "exec", "argv": ["true"], "timeout_ms": -5}}'
	[[ $output == *"'timeout_ms'"* ]]
	run raw '{"cmd": "task.list", "args": {"limit": 0}}'
	[[ $output == *"'limit'"* ]]
	run raw '{"cmd": "task.show", "args": {"id": "seven"}}'
	[[ $output == *"'id'"* ]]
	run raw '{"cmd": "task.show", "args": {"id": 999999}}'
	[ "$(error_code)" = not_found ]
	run raw '{"cmd": "task.cancel", "args": {"ids": []}}'
	[[ $output == *"'ids'"* ]]
	# Nothing was queued by the refused submissions.
	[ "$(ctl --json task list | jq length)" -eq 0 ]
}

@test "a message over max_message closes its connection and the daemon goes on" {
	depot_start "daemon.max_message = 64KiB"
	big=$(head -c 100000 /dev/zero | tr '\0' a)
	run --separate-stderr raw "{\"cmd\": \"task.submit\", \"args\": {\"type\": \"exec\", \"argv\": [\"echo\", \"$big\"]}}"
	# Judged by what the daemon did, not by the tool's exit code (3 for no
	# reply, but once in four CI runs something else, not yet explained):
	# no reply came, and below, the request never became a task.
	echo "nng-send: status $status, stderr: $stderr"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	ctl ping
	submit -- true
	run ctl task wait "$ID" --timeout 10s
	[ "$status" -eq 0 ]
	[ "$(ctl --json task list | jq length)" -eq 1 ]
}

@test "a burst of garbage does not stall requests from others" {
	depot_start
	for i in $(seq 1 50); do
		head -c $((RANDOM % 2000 + 1)) /dev/urandom |
			"$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 2000 >/dev/null 2>&1 || true
	done
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
}

@test "the worker socket refuses requests that are not the worker protocol" {
	depot_start
	run bash -c "printf '%s' '{\"cmd\": \"task.submit\", \"args\": {}}' | '$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/worker.sock'"
	[ "$status" -eq 0 ]
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	run bash -c "printf '%s' '{\"cmd\": \"heartbeat\", \"args\": {\"name\": \"ghost\"}}' | '$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/worker.sock'"
	[ "$(jq -r .error.code <<<"$output")" = not_found ]
	ctl ping
}
