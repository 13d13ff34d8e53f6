#!/usr/bin/env bats
# A waiting task keeps in memory only what dispatch needs (DESIGN §6): its
# name, args, environment and the rest are read back from the database
# when it starts, when it is shown or listed, and for its events. What the
# command receives is judged from what it writes itself, not from what the
# daemon says.

load helpers
load repo_helpers
load backup_helpers

# report: a bash script that writes its arguments (one a line, as %q quotes them),
# its working directory and two variables to the file named by $OUT.
report_script() {
	cat >"$WORK/report.sh" <<-'EOF'
		{
			for a in "$@"; do printf 'arg %q\n' "$a"; done
			printf 'cwd %s\n' "$(pwd)"
			printf 'var %q\n' "$ODD_VALUE"
			printf 'tag %s\n' "${DEPOT_TASK_ID:-none}"
		} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
	EOF
}

# The value a variable and an argument carry: quotes, a newline, a tab,
# non-ASCII text and a shell metacharacter, all of which must come back unchanged.
ODD=$'it\'s "quoted"\n\ttabbed – ünïcode $HOME ;'

@test "a waiting task runs with exactly the args it was submitted with, across a restart" {
	depot_start
	report_script
	ctl pause
	mkdir -p "$WORK/the dir"
	ID=$(cd "$WORK/the dir" && OUT=$WORK/out ODD_VALUE=$ODD \
		ctl run --name "odd – task" -- bash "$WORK/report.sh" "$ODD" '' 'two words')
	[[ $ID =~ ^[0-9]+$ ]]
	submitted=$(ctl --json task show "$ID" | jq -cS .args)
	# Listed and shown while it waits: its detail comes from its row.
	[ "$(ctl --json task list | jq -r --argjson id "$ID" '.[] | select(.id == $id) | .name')" = "odd – task" ]
	[ "$(ctl --json task list | jq -cS --argjson id "$ID" '.[] | select(.id == $id) | .args')" = "$(jq -cS 'del(.env)' <<<"$submitted")" ]
	depot_terminate
	depot_launch
	[ "$(ctl --json task show "$ID" | jq -cS .args)" = "$submitted" ]
	[ "$(ctl --json task show "$ID" | jq -r .name)" = "odd – task" ]
	[ "$(task_state "$ID")" = waiting ]
	ctl resume
	wait_for task_is "$ID" completed
	expected=$(
		printf 'arg %q\n' "$ODD" '' 'two words'
		printf 'cwd %s\n' "$WORK/the dir"
		printf 'var %q\n' "$ODD"
		printf 'tag %s\n' "$ID"
	)
	[ "$(cat "$WORK/out")" = "$expected" ]
	[ "$(ctl --json task show "$ID" | jq -cS .args)" = "$submitted" ]
}

@test "a retried waiting task repeats exactly what its first attempt ran" {
	depot_start
	report_script
	ctl pause
	# The first attempt reports, then waits to be killed with its worker; the retry reports and ends.
	ID=$(OUT=$WORK/out ODD_VALUE=$ODD ctl run --retries 1 -- sh -c \
		'bash "$0" "$@"; [ -e "$OUT.once" ] && exit 0; touch "$OUT.once"; sleep 30' \
		"$WORK/report.sh" "$ODD")
	depot_terminate
	depot_launch
	ctl resume
	wait_for test -e "$WORK/out.once"
	first=$(cat "$WORK/out")
	rm "$WORK/out"
	kill -KILL "$(worker_pid "$(worker_of_task "$ID")")"
	wait_for task_is "$ID" canceled
	retry=$(ctl --json task list | jq -r --argjson id "$ID" '.[] | select(.retry_of == $id) | .id')
	[[ $retry =~ ^[0-9]+$ ]]
	wait_for task_is "$retry" completed
	[ "$(sed '/^tag /d' "$WORK/out")" = "$(sed '/^tag /d' <<<"$first")" ]
	grep -qx "tag $retry" "$WORK/out"
	[ "$(ctl --json task show "$retry" | jq -cS .args)" = "$(ctl --json task show "$ID" | jq -cS .args)" ]
}

@test "a waiting task whose row vanished fails at dispatch; the daemon goes on" {
	depot_start
	ctl pause
	submit -- touch "$WORK/never"
	gone=$ID
	submit -- touch "$WORK/later"
	later=$ID
	# Behind the daemon's back, as a hand-edited database would.
	sqlite3 "$DIR/depot.db" ".timeout 5000" "DELETE FROM tasks WHERE id = $gone"
	ctl resume
	wait_for task_is "$later" completed
	[ -e "$WORK/later" ]
	[ ! -e "$WORK/never" ]
	grep -q "task $gone failed: exception" "$DIR/depotd.log"
	grep -q "its record is gone from the database or cannot be read" "$DIR/depotd.log"
	run ctl task show "$gone"
	[ "$status" -ne 0 ]
	depot_answers
	# Its reservations went with it: the next task on the same resource runs.
	submit -- touch "$WORK/after"
	wait_for task_is "$ID" completed
}

@test "a waiting task whose row vanished is not shown with another's detail" {
	depot_start
	ctl pause
	submit --name first -- true
	gone=$ID
	sqlite3 "$DIR/depot.db" ".timeout 5000" "DELETE FROM tasks WHERE id = $gone"
	# Still waiting in memory: shown with what memory holds, nothing invented.
	run ctl --json task show "$gone"
	[ "$status" -eq 0 ]
	[ "$(jq -r .state <<<"$output")" = waiting ]
	[ "$(jq -r .name <<<"$output")" = null ]
	[ "$(jq -r .args <<<"$output")" = null ]
	ctl task cancel "$gone"
	depot_answers
}

# task_events FILE ID: ID's task events in FILE, one JSON object a line.
task_events() {
	jq -c --argjson id "$2" 'select(.topic == "task" and .task.id == $id)' "$1"
}

# event_seen FILE ID STATE: FILE holds ID's state event for STATE.
event_seen() {
	task_events "$1" "$2" | jq -e --arg s "$3" 'select(.event == "state" and .task.state == $s)' >/dev/null
}

@test "task list and events carry an exec task's args without its environment; task show has it" {
	depot_start
	start_events "$DIR/events"
	wait_for events_subscribed "$DIR/events"
	ctl pause
	ID=$(PLAIN_VALUE=hunter2 ctl run --name shown -- printenv PLAIN_VALUE)
	ctl resume
	wait_for task_is "$ID" completed
	[ "$(ctl task log "$ID")" = hunter2 ]
	[ "$(ctl --json task show "$ID" | jq -r .args.env.PLAIN_VALUE)" = hunter2 ]
	listed=$(ctl --json task list | jq -c --argjson id "$ID" '.[] | select(.id == $id)')
	[ "$(jq -r .name <<<"$listed")" = shown ]
	[ "$(jq -c .args.argv <<<"$listed")" = '["printenv","PLAIN_VALUE"]' ]
	[ "$(jq -r .args.cwd <<<"$listed")" = "$PWD" ]
	[ "$(jq -r '.args | has("env")' <<<"$listed")" = false ]
	wait_for event_seen "$DIR/events" "$ID" completed
	# waiting, running, completed: each says what ran, none its environment.
	[ "$(task_events "$DIR/events" "$ID" | jq -r 'select(.event == "state") | .task.state' | paste -sd' ')" = "waiting running completed" ]
	[ "$(task_events "$DIR/events" "$ID" | jq -c .task.args.argv | sort -u)" = '["printenv","PLAIN_VALUE"]' ]
	if grep -q hunter2 "$DIR/events"; then false; fi
}

@test "a restore ends the tasks that waited without their detail, and depotd goes on" {
	depot_start
	backup_wait -o "$WORK/b.tar.zst"
	submit -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/go"
	gate=$ID
	wait_for task_is "$gate" running
	# The restore waits for the gate; this one waits behind the restore, read back from its row alone.
	r=$(ctl restore "$WORK/b.tar.zst")
	submit -- touch "$WORK/never"
	behind=$ID
	[ "$(task_state "$behind")" = waiting ]
	touch "$WORK/go"
	run ctl task wait --timeout 60s "$r"
	[ "$(task_state "$r")" = completed ]
	depot_answers
	[ ! -e "$WORK/never" ]
	# The log went with the data directory the restore replaced.
	cat "$DIR"/depotd.log "$DIR".pre-restore-*/depotd.log 2>/dev/null |
		grep -q "task $behind canceled: restored"
}
