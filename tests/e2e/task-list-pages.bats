#!/usr/bin/env bats
# Issue 10 item 8: task.list answers at most a page (500 tasks), read by one
# statement, and names in "next" the args for the rest; depotctl asks page
# after page, so a large listing never holds the daemon's loop.

load helpers

# raw MESSAGE: sends MESSAGE's bytes as one request to control.sock.
raw() {
	printf '%s' "$1" | "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/control.sock" 10000
}

# finished_tasks N: N completed exec tasks written straight into the
# database while the daemon is stopped, then the daemon started again.
finished_tasks() {
	local now
	now=$(($(date +%s) * 1000))
	depot_terminate
	sqlite3 "$DIR/depot.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
		INSERT INTO tasks (type, name, args, resources, state, created_at, started_at,
		  finished_at, result)
		SELECT 'exec', 'bulk ' || i, '{\"argv\": [\"true\"]}',
		  CASE WHEN i % 2 THEN '[{\"name\": \"odd\", \"mode\": \"exclusive\"}]' ELSE '[]' END,
		  'completed', $now + i, $now + i, $now + i, '{\"exit_code\": 0}' FROM n;"
	depot_launch
}

@test "task list --limit 100000 of 1,200 tasks prints them all, newest first, as one array" {
	depot_start
	finished_tasks 1200
	run ctl --json task list --limit 100000
	[ "$status" -eq 0 ]
	[ "$(jq length <<<"$output")" -eq 1200 ]
	[ "$(jq '[.[].id] == ([.[].id] | sort | reverse)' <<<"$output")" = true ]
	[ "$(jq '[.[].id] | unique | length' <<<"$output")" -eq 1200 ]
	[ "$(jq -r '.[0].name' <<<"$output")" = "bulk 1200" ]
	# The table has the same rows: a header and 1,200 tasks.
	[ "$(ctl task list --limit 100000 | wc -l)" -eq 1201 ]
}

@test "a limit across pages is honoured exactly, and the default stays 1000" {
	depot_start
	finished_tasks 1200
	[ "$(ctl --json task list --limit 501 | jq length)" -eq 501 ]
	[ "$(ctl --json task list --limit 1000 | jq '.[-1].name' -r)" = "bulk 201" ]
	[ "$(ctl --json task list | jq length)" -eq 1000 ]
	# Filters hold on every page: every odd task names the resource.
	run ctl --json task list --resource odd --limit 100000
	[ "$(jq length <<<"$output")" -eq 600 ]
	[ "$(jq '[.[] | select(.name | ltrimstr("bulk ") | tonumber % 2 == 0)] | length' <<<"$output")" -eq 0 ]
}

@test "one task.list request answers one page of 500 with next naming the cursor and what is left" {
	depot_start
	finished_tasks 1200
	run raw '{"cmd": "task.list", "args": {"limit": 100000}}'
	[ "$status" -eq 0 ]
	[ "$(jq '.result | length' <<<"$output")" -eq 500 ]
	last=$(jq '.result[-1].id' <<<"$output")
	[ "$(jq -c '.next' <<<"$output")" = "{\"cursor\":$last,\"limit\":99500}" ]
	# The daemon answers others between pages.
	ctl ping
	run raw "{\"cmd\": \"task.list\", \"args\": {\"limit\": 99500, \"cursor\": $last}}"
	[ "$(jq '.result | length' <<<"$output")" -eq 500 ]
	[ "$(jq '.result[0].id' <<<"$output")" -eq $((last - 1)) ]
	last=$(jq '.next.cursor' <<<"$output")
	run raw "{\"cmd\": \"task.list\", \"args\": {\"limit\": 99000, \"cursor\": $last}}"
	[ "$(jq '.result | length' <<<"$output")" -eq 200 ]
	[ "$(jq 'has("next")' <<<"$output")" = false ]
	# A request within a page, with or without a cursor, is answered as before.
	run raw '{"cmd": "task.list", "args": {"limit": 500}}'
	[ "$(jq '.result | length' <<<"$output")" -eq 500 ]
	[ "$(jq 'has("next")' <<<"$output")" = false ]
	run raw '{"cmd": "task.list", "args": {"cursor": 0}}'
	[[ $output == *"'cursor'"* ]]
}
