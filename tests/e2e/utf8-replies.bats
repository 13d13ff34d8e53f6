#!/usr/bin/env bats
# Replies and events are always valid UTF-8 (issue 9): a request holding a
# string that is not UTF-8 (a key or a value, at any depth; overlongs and
# surrogates included) is refused with bad_request naming the field, on
# the control and the worker socket alike; and text depot reads from
# elsewhere (a feed's file names, a command's output) reaches clients with
# U+FFFD for the bytes that are not UTF-8.

load helpers
load repo_helpers

# raw SOCKET MESSAGE: MESSAGE's bytes as one request to DIR/run/SOCKET.sock.
raw() {
	printf '%s' "$2" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/$1.sock" 3000
}

# is_utf8: standard input is valid UTF-8 (strict: no overlongs, no surrogates).
is_utf8() {
	"$PY" -c 'import sys; sys.stdin.buffer.read().decode("utf-8", "strict")'
}

# refused_naming SOCKET MESSAGE FIELD: bad_request whose message names
# 'FIELD', in a reply that is itself UTF-8.
refused_naming() {
	run raw "$1" "$2"
	echo "reply: $output"
	[ "$status" -eq 0 ]
	printf '%s' "$output" | is_utf8
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	[[ $(jq -r .error.message <<<"$output") == *"'$3'"* ]]
}

@test "a control request with a string that is not UTF-8 is refused naming the field, in a UTF-8 reply" {
	depot_start
	refused_naming control $'{"cmd": "repo.create", "args": {"name": "caf\xe9"}}' args.name
	refused_naming control $'{"cmd": "task.l\xffist"}' cmd
	refused_naming control \
		$'{"cmd": "task.submit", "args": {"type": "exec", "argv": ["echo", "\xc0\xaf"]}}' \
		'args.argv[1]'
	refused_naming control \
		$'{"cmd": "repo.create", "args": {"name": "r1", "importer": {"feed": "file:///\xed\xa0\x80"}}}' \
		args.importer.feed
	refused_naming control \
		$'{"cmd": "task.submit", "args": {"type": "exec", "argv": ["true"], "resources": [{"name": "a"}, {"name": "\xf4\x90\x80\x80"}]}}' \
		'args.resources[1].name'
	# A key is named with its bytes that are not text as \xNN.
	refused_naming control $'{"cmd": "ping", "args": {"x\xff": 1}}' 'args.x\xff'
	# Nothing of it happened.
	[ "$(ctl --json repo list | jq length)" -eq 0 ]
	[ "$(ctl --json task list | jq length)" -eq 0 ]
	# The same text as JSON escapes is UTF-8, and welcome.
	run raw control '{"cmd": "task.submit", "args": {"type": "exec", "argv": ["true"], "name": "caf\u00e9 \ud83d\ude00"}}'
	[ "$(jq -r .ok <<<"$output")" = true ]
	[ "$(ctl --json task list | jq -r '.[0].name')" = "café 😀" ]
}

@test "a worker request with a string that is not UTF-8 is refused naming the field, in a UTF-8 reply" {
	depot_start
	refused_naming worker $'{"cmd": "heartbeat", "args": {"name": "w\xff1"}}' args.name
	refused_naming worker \
		$'{"cmd": "done", "args": {"name": "w1", "task": 1, "state": "failed", "error": {"reason": "exception", "message": "no \xe9"}}}' \
		args.error.message
	ctl ping
}

@test "a feed's file name that is not UTF-8 reaches the task's error, its events and listings as U+FFFD" {
	depot_start
	start_events "$WORK/events"
	wait_for events_subscribed "$WORK/events"
	mkdir -p "$WORK/feed"
	# Refused (an absolute path), and the refusal quotes the name.
	printf '/caf\351.txt,%064d,3\n' 0 >"$WORK/feed/PULP_MANIFEST"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	run raw control "{\"cmd\": \"task.show\", \"args\": {\"id\": $ID}}"
	echo "reply: $output"
	printf '%s' "$output" | is_utf8
	[[ $(jq -r .result.error.message <<<"$output") == *$'caf\xef\xbf\xbd.txt'* ]]
	run raw control '{"cmd": "task.list", "args": {}}'
	printf '%s' "$output" | is_utf8
	wait_for env LC_ALL=C grep -q "\"id\":$ID,.*\"state\":\"failed\"" "$WORK/events"
	is_utf8 <"$WORK/events"
}

@test "a task name stored before requests were checked reaches replies and events as U+FFFD" {
	# No workers: the task waits.
	depot_start "daemon.workers = 0"
	submit -- true
	depot_terminate
	# What an older depotd let in: the name's bytes are Latin-1.
	sqlite3 "$DIR/depot.db" "UPDATE tasks SET name = CAST(X'636166E9' AS TEXT) WHERE id = $ID"
	depot_launch
	start_events "$WORK/events"
	wait_for events_subscribed "$WORK/events"

	ctl task cancel "$ID"

	wait_for env LC_ALL=C grep -q "\"id\":$ID,.*\"state\":\"canceled\"" "$WORK/events"
	cat "$WORK/events"
	is_utf8 <"$WORK/events"
	grep -q $'"name":"caf\xef\xbf\xbd"' "$WORK/events"
	run raw control "{\"cmd\": \"task.show\", \"args\": {\"id\": $ID}}"
	printf '%s' "$output" | is_utf8
	[ "$(jq -r .result.name <<<"$output")" = $'caf\xef\xbf\xbd' ]
}

@test "a command's output that is not UTF-8 is read back as U+FFFD, and a character split between chunks whole" {
	depot_start
	# a, b, €, c, a Latin-1 é, d: with 3-byte chunks the first ends inside €.
	submit -- printf 'ab\342\202\254c\351d'
	wait_for task_is "$ID" completed
	offset=0
	: >"$WORK/log"
	for _ in 1 2 3 4 5 6 7 8; do
		run raw control "{\"cmd\": \"task.log\", \"args\": {\"id\": $ID, \"offset\": $offset, \"max\": 3}}"
		echo "reply: $output"
		printf '%s' "$output" | is_utf8
		jq -j .result.data <<<"$output" >>"$WORK/log"
		offset=$(jq -r .result.offset <<<"$output")
		[ "$(jq -r .result.final <<<"$output")" = true ] && break
	done
	[ "$(jq -r .result.final <<<"$output")" = true ]
	[ "$(cat "$WORK/log")" = $'ab\xe2\x82\xacc\xef\xbf\xbdd' ]
	[ "$(ctl task log "$ID")" = $'ab\xe2\x82\xacc\xef\xbf\xbdd' ]
}

@test "task list lines up a UTF-8 name with an ASCII one: depotctl reads the locale's character type before it measures" {
	depot_start "daemon.workers = 0"
	submit --name "plain" --lock ra -- true
	submit --name "ééé ü" --lock rb -- true
	out=$(LANG=C.UTF-8 LC_ALL=C.UTF-8 ctl task list)
	echo "$out" >&2
	# Counted in characters (this shell in UTF-8 too): é and ü take one column each.
	local LC_ALL=C.UTF-8
	a=$(grep -E ' ra( |$)' <<<"$out")
	b=$(grep -E ' rb( |$)' <<<"$out")
	before_a=${a%% ra*}
	before_b=${b%% rb*}
	[ "${#before_a}" -eq "${#before_b}" ]
}
