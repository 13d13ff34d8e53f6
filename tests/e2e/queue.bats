#!/usr/bin/env bats
# Issue 12, steering the queue: --priority, counted resources (--slot and
# a capacity), pause and resume (kept across restarts), --at and --in, and
# task why. Orders and overlaps are judged from a trace the commands
# themselves append to ("+ NAME NANOSECONDS" when one starts, "- NAME ..."
# when it ends), not from what the daemon reports.

load helpers
load repo_helpers
load trace_helpers

# gate R: a task holding R exclusive until open_gate; its id in $GATE.
gate() {
	submit --lock "$1" -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/open"
	GATE=$ID
	wait_for task_is "$GATE" running
}

open_gate() {
	touch "$WORK/open"
}

@test "a higher priority goes first in its resource's queue; equal priorities stay first come, first served" {
	depot_start
	gate g
	for spec in a:0 b:0 c:5 d:-1 e:5 f:0; do
		submit --lock g --priority "${spec#*:}" -- $(traced "${spec%:*}")
	done
	# The listing already shows the order the lock manager keeps.
	run ctl --json lock list
	[ "$(jq -r '.[] | select(.resource == "g") | [.waiting[] | .priority // 0 | tostring] | join(" ")' <<<"$output")" = "5 5 0 0 0 -1" ]
	open_gate
	wait_for trace_lines 12 20s
	[ "$(started)" = "c e a b f d " ]
}

@test "a waiting task of higher priority starts before older ready ones when a worker frees" {
	depot_start daemon.workers=1
	gate g
	submit --lock x -- $(traced old)
	submit --lock y --priority 3 -- $(traced urgent)
	open_gate
	wait_for trace_lines 4 20s
	[ "$(started)" = "urgent old " ]
}

@test "a capacity-3 resource never runs 4 at once under 50 submissions, and reaches 3" {
	depot_start daemon.workers=6 resources.gpu=3
	# All 50 wait together however slowly they are submitted.
	ctl pause
	for i in $(seq 1 50); do
		submit --slot gpu -- $(traced "gpu$i" 0.15)
	done
	ctl resume
	wait_for trace_lines 100 60s
	[ "$(most_at_once gpu)" -eq 3 ]
	# FIFO within the slots: three start at once, so their own trace lines
	# may land in any order among them, but none is more than two places
	# from its turn.
	sort -k3,3n "$WORK/trace" | awk '$1 == "+" { pos++; k = substr($2, 4) + 0;
		if (k - pos > 2 || pos - k > 2) { print "gpu" k " started " pos "th"; bad = 1 } }
		END { exit bad }'
}

@test "resource set changes a capacity at once, is kept across a restart, and 'default' goes back to depot.conf's" {
	depot_start daemon.workers=4 resources.net=1
	run ctl resource set net --capacity 2
	[ "$status" -eq 0 ]
	[[ $output == *"net"*"2"* ]]
	depot_terminate
	depot_launch
	[ "$(ctl --json resource list | jq -r '.[] | select(.name == "net") | .capacity')" = 2 ]
	for i in 1 2 3 4; do
		submit --slot net -- $(traced "net$i" 0.3)
	done
	wait_for trace_lines 8 20s
	[ "$(most_at_once net)" -eq 2 ]
	ctl resource set net --capacity default
	[ "$(ctl --json resource list | jq -r '.[] | select(.name == "net") | .capacity')" = 1 ]
	: >"$WORK/trace"
	for i in 5 6 7; do
		submit --slot net -- $(traced "net$i" 0.2)
	done
	wait_for trace_lines 6 20s
	[ "$(most_at_once net)" -eq 1 ]
}

@test "an exclusive reservation of a counted resource waits for every slot, and later slots wait behind it" {
	depot_start daemon.workers=4 resources.gpu=3
	submit --slot gpu -- $(traced s1 0.5)
	submit --lock gpu -- $(traced excl 0.2)
	submit --slot gpu -- $(traced s2 0)
	wait_for trace_lines 6 20s
	[ "$(started)" = "s1 excl s2 " ]
	# excl started only after s1 ended, and s2 only after excl ended.
	s1_end=$(awk '$1 == "-" && $2 == "s1" { print $3 }' "$WORK/trace")
	x_start=$(awk '$1 == "+" && $2 == "excl" { print $3 }' "$WORK/trace")
	x_end=$(awk '$1 == "-" && $2 == "excl" { print $3 }' "$WORK/trace")
	s2_start=$(awk '$1 == "+" && $2 == "s2" { print $3 }' "$WORK/trace")
	[ "$x_start" -gt "$s1_end" ]
	[ "$s2_start" -gt "$x_end" ]
}

@test "pause holds every new task across a restart; running ones finish; resume starts them" {
	depot_start
	submit -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; touch "$2"' sh "$WORK/open" "$WORK/ran-first"
	first=$ID
	wait_for task_is "$first" running
	run ctl pause
	[ "$status" -eq 0 ]
	[[ $output == *"paused"* ]]
	submit -- touch "$WORK/ran-later"
	later=$ID
	# The running task goes on to its end.
	open_gate
	wait_for task_is "$first" completed
	[ -e "$WORK/ran-first" ]
	run ctl --json task why "$later"
	[ "$(jq -r '.reasons[].kind' <<<"$output")" = queue-paused ]
	depot_terminate
	depot_launch
	[ "$(ctl --json status | jq -r .queue.paused)" = true ]
	ctl status | grep -q 'PAUSED'
	# Both workers idle and online after the restart, yet nothing started.
	wait_for workers_online 2
	run ctl task why "$later"
	[[ $output == *"queue is paused"* ]]
	[ "$(task_state "$later")" = waiting ]
	[ ! -e "$WORK/ran-later" ]
	ctl resume
	wait_for task_is "$later" completed
	[ -e "$WORK/ran-later" ]
	[ "$(ctl --json status | jq -r .queue.paused)" = false ]
}

@test "a paused resource holds only the tasks that need it" {
	depot_start
	ctl pause db
	submit --shared db -- touch "$WORK/needs-db"
	held=$ID
	submit --lock other -- touch "$WORK/other"
	free=$ID
	# The free task ran; it is this test's clock.
	wait_for task_is "$free" completed
	[ -e "$WORK/other" ]
	[ "$(task_state "$held")" = waiting ]
	[ ! -e "$WORK/needs-db" ]
	run ctl lock list
	[[ $output == *"db (paused)"* ]]
	run ctl --json task why "$held"
	[ "$(jq -r '.reasons[0].kind' <<<"$output")" = resource-paused ]
	[ "$(jq -r '.reasons[0].resource' <<<"$output")" = db ]
	[ "$(ctl --json status | jq -c .queue.paused_resources)" = '["db"]' ]
	ctl resume db
	wait_for task_is "$held" completed
	[ -e "$WORK/needs-db" ]
}

@test "task why names the task in the way, every slot's holder, the --after task and the start time" {
	depot_start daemon.workers=3 resources.gpu=1
	gate g
	submit --lock g -- true
	blocked=$ID
	run ctl --json task why "$blocked"
	echo "$output"
	[ "$(jq -r '.reasons[0].kind' <<<"$output")" = blocked ]
	[ "$(jq -r '.reasons[0].resource' <<<"$output")" = g ]
	[ "$(jq -c '.reasons[0].tasks' <<<"$output")" = "[$GATE]" ]
	run ctl task why "$blocked"
	[[ $output == *"task $GATE (exclusive, holding)"* ]]

	submit --slot gpu -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/open"
	slot_holder=$ID
	wait_for task_is "$slot_holder" running
	submit --slot gpu -- true
	ctl task show "$ID" | grep -q 'gpu (slot)'
	run ctl --json task why "$ID"
	[ "$(jq -r '.reasons[0].kind' <<<"$output")" = capacity ]
	[ "$(jq -c '.reasons[0].tasks' <<<"$output")" = "[$slot_holder]" ]

	submit --after "$blocked" -- true
	run ctl --json task why "$ID"
	[ "$(jq -r '.reasons[0].kind' <<<"$output")" = after ]
	[ "$(jq -r '.reasons[0].task' <<<"$output")" = "$blocked" ]

	submit --in 1h -- true
	run ctl --json task why "$ID"
	[ "$(jq -r '.reasons[0].kind' <<<"$output")" = not-before ]
	at=$(jq -r '.reasons[0].at' <<<"$output")
	delta=$(($(rfc3339_ms "$at") - $(now_ms)))
	[ "$delta" -gt 3500000 ] && [ "$delta" -le 3600000 ]

	# Not waiting, and unknown.
	run ctl task why "$GATE"
	[ "$status" -eq 0 ]
	[[ $output == *"running, not waiting"* ]]
	run ctl task why 99999
	[ "$status" -eq 6 ]
	open_gate
}

@test "--in and --at start a task no earlier than asked, and task show has the time" {
	depot_start
	before=$(now_ms)
	submit --in 2s -- sh -c 'date +%s%3N >"$1"' sh "$WORK/in"
	in_id=$ID
	# Local time, as a person types it: three seconds from now, whole seconds.
	at_local=$(date -d "@$(( $(date +%s) + 3 ))" '+%Y-%m-%d %H:%M:%S')
	submit --at "$at_local" -- sh -c 'date +%s%3N >"$1"' sh "$WORK/at"
	at_id=$ID
	[ "$(ctl --json task show "$at_id" | jq -r .not_before | xargs -I{} date -d {} +%s)" = \
		"$(date -d "$at_local" +%s)" ]
	wait_for task_is "$in_id" completed 15s
	wait_for task_is "$at_id" completed 15s
	[ "$(cat "$WORK/in")" -ge $((before + 2000)) ]
	[ "$(cat "$WORK/at")" -ge "$(date -d "$at_local" +%s%3N)" ]
}

@test "bad priorities, times, capacities and [resources] lines are refused by name" {
	depot_start
	run ctl run --priority 5000 -- true
	[ "$status" -eq 2 ]
	[[ $output == *"priority"* ]]
	run ctl run --at 'next tuesday' -- true
	[ "$status" -eq 2 ]
	[[ $output == *"--at"* ]]
	run ctl run --at 12:00 --in 5m -- true
	[ "$status" -eq 2 ]
	run ctl resource set gpu --capacity 0
	[ "$status" -eq 2 ]
	run ctl resource set gpu
	[ "$status" -eq 2 ]
	# The daemon checks what arrives, whatever sent it.
	for req in '{"cmd":"task.submit","args":{"type":"exec","argv":["true"],"priority":1001}}' \
		'{"cmd":"task.submit","args":{"type":"exec","argv":["true"],"at":"soon"}}' \
		'{"cmd":"task.submit","args":{"type":"exec","argv":["true"],"resources":[{"name":"g","mode":"half"}]}}' \
		'{"cmd":"resource.set","args":{"name":"gpu","capacity":10001}}' \
		'{"cmd":"queue.pause","args":{"resources":["ok",""]}}' \
		'{"cmd":"queue.resume","args":{"resources":[]}}'; do
		run bash -c 'printf "%s" "$1" | "$2/tests/nng-send" "ipc://$3/run/control.sock" 3000' _ \
			"$req" "$DEPOT_BIN" "$DIR"
		echo "$output"
		[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	done
	[[ $(ctl --json task list | jq length) -eq 0 ]]
	[ "$(ctl --json status | jq -c .queue)" = '{"paused":false,"paused_resources":[]}' ]
	depot_terminate
	cp "$DIR/depot.conf" "$WORK/depot.conf"
	printf '[resources]\ngpu = lots\n' >>"$DIR/depot.conf"
	run "$DEPOT_BIN/depotd" -d "$DIR"
	[ "$status" -ne 0 ]
	[[ $output == *"depot.conf:"*"gpu = lots"* ]]
	cp "$WORK/depot.conf" "$DIR/depot.conf"
	printf '[resources]\n = 3\n' >>"$DIR/depot.conf"
	run "$DEPOT_BIN/depotd" -d "$DIR"
	[ "$status" -ne 0 ]
	[[ $output == *"depot.conf:"*"resource name"* ]]
}

@test "a stored rule depot would not accept (hand-edited, or restored) is ignored with a warning, not fatal" {
	depot_start
	ctl resource set gpu --capacity 2
	depot_terminate
	sqlite3 "$DIR/depot.db" "INSERT INTO resources (name, capacity, paused) VALUES ('', 3, 1)"
	depot_launch
	grep -q "ignoring the stored rule of resource ''" "$DIR/depotd.log"
	[ "$(ctl --json resource list | jq -c '[.[] | [.name, .capacity]]')" = '[["gpu",2]]' ]
	[ "$(ctl --json status | jq -r .queue.paused)" = false ]
}

@test "orphans clean --priority -1 queued behind a content holder lets later content users pass" {
	depot_start
	submit --shared content -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/open"
	holder=$ID
	wait_for task_is "$holder" running
	orphans=$(ctl orphans clean --priority -1)
	submit --shared content -- touch "$WORK/passed"
	passer=$ID
	wait_for task_is "$passer" completed
	[ -e "$WORK/passed" ]
	# The cleanup still waits, and says for whom.
	[ "$(task_state "$orphans")" = waiting ]
	[ "$(ctl --json task why "$orphans" | jq -c '[.reasons[] | select(.resource == "content") | .tasks[]]')" = "[$holder]" ]
	open_gate
	wait_for task_is "$orphans" completed
}
