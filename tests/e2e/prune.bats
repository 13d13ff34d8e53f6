#!/usr/bin/env bats
# DESIGN §4/§13: finished tasks older than tasks.keep_finished are pruned
# (with their logs, DIR/logs/ID.log); unfinished tasks are never pruned.

load helpers

# listed ID: task ID is in `task list`.
listed() {
	ctl --json task list | jq -e --argjson id "$1" 'any(.[]; .id == $id)' >/dev/null
}

# none_listed ID...: none of the tasks is in `task list` (for wait_for).
none_listed() {
	local id
	for id in "$@"; do
		! listed "$id" || return 1
	done
}

@test "with keep_finished = 1s, finished tasks and their logs are pruned within seconds while active tasks stay" {
	depot_start "tasks.keep_finished = 1s"
	submit --lock r1 -- sh -c "echo \$\$ > $DIR/cmd.pid; exec sleep 30"
	active=$ID
	submit --lock r1 -- echo never
	waiting=$ID
	finished=()
	submit -- sleep 30
	finished+=("$ID")
	wait_for task_is "$ID" running
	ctl task cancel "$ID"
	run ctl task wait --timeout 10s "$ID"
	[ "$status" -eq 4 ]
	# Each log checked at once: a task finished a moment ago is not pruned yet.
	submit -- sh -c 'echo ok'
	finished+=("$ID")
	run ctl task wait --timeout 10s "$ID"
	[ "$status" -eq 0 ]
	[ -f "$DIR/logs/$ID.log" ]
	submit -- sh -c 'echo failing; exit 1'
	finished+=("$ID")
	run ctl task wait --timeout 10s "$ID"
	[ "$status" -eq 1 ]
	[ -f "$DIR/logs/$ID.log" ]
	run ctl task log "$ID"
	[ "$output" = failing ]

	wait_for none_listed "${finished[@]}" 6s

	for id in "${finished[@]}"; do
		run --separate-stderr ctl task show "$id"
		[ "$status" -eq 6 ]
		[[ $stderr == *not_found* ]]
		[ ! -e "$DIR/logs/$id.log" ]
	done
	# The unfinished tasks stay, however old they are.
	listed "$active"
	listed "$waiting"
	[ "$(task_state "$active")" = running ]
	[ "$(task_state "$waiting")" = waiting ]
	kill -0 "$(cat "$DIR/cmd.pid")"
	# Once finished, they go too.
	ctl task cancel "$active"
	wait_for task_is "$waiting" completed 10s
	wait_for none_listed "$active" "$waiting" 6s
}

@test "a task that has just finished is not pruned before keep_finished has passed" {
	depot_start "tasks.keep_finished = 3s"
	submit -- true
	old=$ID
	ctl task wait "$old"
	# Time passing is the point: the old task's 3 s run out.
	sleep 1.5
	submit -- true
	young=$ID
	ctl task wait "$young"

	wait_for none_listed "$old" 6s
	# $young finished at least ~1.5 s after $old: still there when $old went.
	finished=$(rfc3339_ms "$(ctl --json task show "$young" | jq -r .finished_at)")
	if [ $(($(now_ms) - finished)) -lt 2500 ]; then
		listed "$young"
	fi
	wait_for none_listed "$young" 6s
}
