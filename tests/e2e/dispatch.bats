#!/usr/bin/env bats
# DESIGN §6/§7: dispatch hands each task to one idle worker; a cancel meant
# for one task never reaches the next task the worker runs.

load helpers

@test "a cancel answer for a finished task never cancels the worker's next task" {
	# Heartbeats every 10 ms race with task ends: before the fix a heartbeat
	# naming a just-finished task got cancel: true and killed the next one.
	depot_start "monitor.heartbeat_interval = 10ms" "daemon.workers = 1"
	ids=()
	for i in $(seq 1 150); do
		ids+=("$(ctl run --lock one -- true)")
	done
	run ctl task wait --timeout 60s "${ids[@]}"
	[ "$status" -eq 0 ]
	[ "$(ctl --json task list --state completed --limit 1000 | jq length)" -eq 150 ]
}

@test "every idle worker gets work: two workers run two tasks at once" {
	depot_start
	marker=$DIR/marker
	submit -- sh -c "touch $marker.a; while [ ! -e $marker.b ]; do sleep 0.05; done"
	a=$ID
	submit -- sh -c "touch $marker.b; while [ ! -e $marker.a ]; do sleep 0.05; done"
	b=$ID
	run ctl task wait --timeout 20s "$a" "$b"
	[ "$status" -eq 0 ]
	[ "$(ctl --json task show "$a" | jq -r .worker)" != "$(ctl --json task show "$b" | jq -r .worker)" ]
}
