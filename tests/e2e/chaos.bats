#!/usr/bin/env bats
# DESIGN §7 rule 7: at no moment do two tasks hold conflicting reservations
# on one resource, whatever is killed when. 320 short tasks with random
# exclusive and shared reservations over six resources run while
# supervised workers are SIGKILLed; afterwards no two conflicting tasks
# have overlapping [started_at, finished_at) intervals.

load helpers

TASKS=320
KILLS=6

# pick_worker [busy]: sets pid to a supervised online worker's (one running
# a task, with "busy").
pick_worker() {
	pid=$(ctl --json worker list | jq -r --arg busy "${1:-}" '
		[.[] | select(.supervised and .state == "online")
		     | select($busy == "" or .task != null)] | .[0].pid // empty')
	[ -n "$pid" ]
}

# KILLS times, every half second: SIGKILL a supervised worker, one in the
# middle of a task when one is found within a second.
kill_workers() {
	local n
	for ((n = 0; n < KILLS; n++)); do
		sleep 0.5
		wait_for pick_worker busy 1s 2>/dev/null || pick_worker || continue
		kill -KILL "$pid" && echo "killed worker pid $pid" >>"$DIR/kills"
	done
}

no_active_tasks() {
	[ "$(ctl --json task list --state active | jq length)" -eq 0 ]
}

@test "at no moment do two tasks hold conflicting reservations on one resource, while workers are SIGKILLed at random" {
	depot_start "daemon.workers = 4"
	seed=${CHAOS_SEED:-$$}
	RANDOM=$seed
	echo "CHAOS_SEED=$seed"

	kill_workers 3>&- &
	killer=$!
	for ((i = 1; i <= TASKS; i++)); do
		opts=()
		for r in 1 2 3 4 5 6; do
			# Each resource with probability 1/4, exclusive or shared.
			if ((RANDOM % 4 == 0)); then
				if ((RANDOM % 2)); then opts+=(--lock "r$r"); else opts+=(--shared "r$r"); fi
			fi
		done
		if ((RANDOM % 2)); then
			cmd=(true)
		else
			cmd=(sleep "0.0$((RANDOM % 5 + 1))")
		fi
		submit "${opts[@]}" -- "${cmd[@]}"
	done
	wait "$killer"

	wait_for no_active_tasks 90s

	# Most kills found a worker to kill (one may find all restarting).
	[ "$(wc -l <"$DIR/kills")" -ge $((KILLS / 2)) ]
	ctl --json task list --limit 1000 >"$DIR/tasks.json"
	# Nothing was lost.
	[ "$(jq length "$DIR/tasks.json")" -eq "$TASKS" ]
	# Every task ended: completed with exit status 0, or canceled because
	# its worker was killed (then possibly before it started).
	run jq -c '.[] | select(
		(.state == "completed" and .error == null and .result.exit_status == 0
		 and .started_at != null and .finished_at != null) or
		(.state == "canceled" and .error.reason == "worker-missing"
		 and .finished_at != null) | not) | {id, state, worker, started_at, finished_at, error, result}' "$DIR/tasks.json"
	echo "$output"
	[ -z "$output" ]
	echo "canceled: $(jq '[.[] | select(.state == "canceled")] | length' "$DIR/tasks.json")"
	# No two tasks that conflict on a resource (not both shared) overlap.
	run jq -c '
		[.[] | select(.started_at != null) | . as $t
		 | .resources[] | {r: .name, mode, id: $t.id, s: $t.started_at, f: $t.finished_at}]
		| group_by(.r)[] as $held
		| $held[] as $a | $held[] as $b
		| select($a.id < $b.id and ($a.mode == "exclusive" or $b.mode == "exclusive")
		         and $a.s < $b.f and $b.s < $a.f)
		| [$a, $b]' "$DIR/tasks.json"
	echo "$output"
	[ -z "$output" ]
	# And the lock manager is empty again.
	[ "$(ctl --json lock list | jq '[.[] | .holders[], .waiting[]] | length')" -eq 0 ]
}
