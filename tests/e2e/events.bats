#!/usr/bin/env bats
# DESIGN §10–§11: depotctl events prints the daemon's events as they
# happen, one JSON object a line: every task state change, progress
# update and worker state change. PUB/SUB connects asynchronously, so each
# test first submits probe tasks until the subscriber visibly receives.

load helpers

# task_event_states FILE ID: the states of ID's task state events, in order.
task_event_states() {
	jq -r --argjson id "$2" 'select(.topic == "task" and .event == "state"
		and .task.id == $id) | .task.state' "$1" | paste -sd' '
}

# task_event_seen FILE ID STATE: FILE holds ID's state event for STATE.
task_event_seen() {
	jq -e --argjson id "$2" --arg s "$3" 'select(.topic == "task" and
		.event == "state" and .task.id == $id and .task.state == $s)' "$1" >/dev/null
}

# worker_event_seen FILE NAME STATE NOTPID: a state event of worker NAME
# in STATE with a pid other than NOTPID.
worker_event_seen() {
	jq -e --arg n "$2" --arg s "$3" --argjson p "$4" 'select(.topic == "worker"
		and .worker.name == $n and .worker.state == $s and .worker.pid != $p)' "$1" >/dev/null
}

@test "depotctl events prints a task state event, one JSON object a line, for each state a submitted task goes through" {
	depot_start
	start_events "$DIR/events"
	wait_for events_subscribed "$DIR/events" 10s

	submit --lock r1 -- sh -c 'echo hello'
	id=$ID
	run ctl task wait "$id"
	[ "$status" -eq 0 ]

	wait_for task_event_seen "$DIR/events" "$id" completed 5s
	# Every line is a JSON object that names its topic.
	jq -e 'type == "object" and (.topic | type == "string")' "$DIR/events" >/dev/null
	run task_event_states "$DIR/events" "$id"
	[ "$output" = "waiting running completed" ]
	# The event carries the task as task show prints it, but for its environment (doc/protocol.md).
	final=$(jq -c --argjson id "$id" 'select(.topic == "task" and .task.id == $id
		and .task.state == "completed") | .task' "$DIR/events")
	[ "$(jq -S . <<<"$final")" = "$(ctl --json task show "$id" | jq -S 'del(.args.env)')" ]
	[[ $(jq -r --argjson id "$id" 'select(.task.id == $id) | .time' "$DIR/events" | head -1) =~ ^[0-9-]+T[0-9:.]+Z$ ]]
}

@test "depotctl events --topic worker prints only worker events: a killed worker is seen stopped, then online again" {
	depot_start
	start_events "$DIR/events" --topic worker
	# Probe: a worker state change to show the subscriber is connected.
	kill -KILL "$(worker_pid w1)"
	wait_for file_has "$DIR/events" 10s
	wait_for workers_online 2 10s
	old=$(worker_pid w2)

	kill -KILL "$old"
	wait_for worker_replaced w2 "$old" 10s

	wait_for worker_event_seen "$DIR/events" w2 online "$old" 5s
	run jq -r 'select(.worker.name == "w2") | .worker.state' "$DIR/events"
	[[ $(paste -sd' ' <<<"$output") == *"stopped online"* ]]
	# Nothing but worker events.
	[ "$(jq -r .topic "$DIR/events" | sort -u)" = worker ]
}
