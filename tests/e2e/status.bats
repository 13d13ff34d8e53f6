#!/usr/bin/env bats
# DESIGN §14: depotctl status shows every component, as Pulp's /status/
# did, and exits 0 only when all are healthy; a supervised worker that is
# not online makes the daemon unhealthy until it is replaced.

load helpers

# unhealthy_seen: one `status --json` that exited non-zero and said
# unhealthy; its output kept in $DIR/unhealthy.json.
unhealthy_seen() {
	local out
	if out=$(ctl --json status); then
		return 1
	fi
	[ "$(jq -r .healthy <<<"$out")" = false ] || return 1
	echo "$out" >"$DIR/unhealthy.json"
}

healthy_again() {
	ctl --json status >/dev/null
}

@test "status exits 0 when all is well, and --json shows every component (daemon, database, workers, monitor, scheduler, locks, storage) and healthy true" {
	depot_start

	run --separate-stderr ctl --json status

	[ "$status" -eq 0 ]
	s=$output
	for c in daemon database workers monitor scheduler locks storage; do
		jq -e --arg c "$c" 'has($c) and .[$c] != null' <<<"$s" >/dev/null || { echo "no $c"; false; }
	done
	[ "$(jq -r .healthy <<<"$s")" = true ]
	[ "$(jq -c .problems <<<"$s")" = "[]" ]
	[ "$(jq -r .daemon.pid <<<"$s")" = "$DEPOT_PID" ]
	[ "$(jq -r .daemon.data_dir <<<"$s")" = "$DIR" ]
	[ "$(jq -r .database.ok <<<"$s")" = true ]
	[ "$(jq -r .database.path <<<"$s")" = "$DIR/depot.db" ]
	[ "$(jq -c '[.workers[] | select(.state == "online")] | length' <<<"$s")" -eq 2 ]
	# The monitor runs with the timers depot.conf gave it.
	[ "$(jq -c '.monitor | {heartbeat_interval_ms, worker_timeout_ms, check_interval_ms, cancel_grace_ms, stall_after_ms}' <<<"$s")" = \
	  '{"heartbeat_interval_ms":200,"worker_timeout_ms":1500,"check_interval_ms":200,"cancel_grace_ms":3000,"stall_after_ms":60000}' ]
	[ "$(jq -c '.locks | keys' <<<"$s")" = '["held","running","waiting"]' ]
	[ "$(jq -r '.storage.free_bytes > 0' <<<"$s")" = true ]
	run ctl status
	[ "$status" -eq 0 ]
	[[ $output == *healthy* ]]
}

@test "status counts reservations held, tasks running and tasks waiting" {
	depot_start
	submit --lock r1 -- sleep 30
	wait_for task_is "$ID" running
	submit --lock r1 -- true
	submit --lock r1 -- true

	run --separate-stderr ctl --json status

	[ "$status" -eq 0 ]
	[ "$(jq -c '.locks | {running, waiting}' <<<"$output")" = '{"running":1,"waiting":2}' ]
	[ "$(jq -r .locks.held <<<"$output")" -ge 1 ]
}

@test "with a supervised worker stopped (SIGSTOP), status is unhealthy, exits non-zero and names the worker, until the worker is replaced" {
	depot_start
	# Two quick deaths first lengthen w1's restart back-off to 400 ms, so
	# the unhealthy spell after the third is long enough to observe.
	for i in 1 2; do
		old=$(worker_pid w1)
		kill -KILL "$old"
		wait_for worker_replaced w1 "$old" 10s
	done
	wait_for healthy_again 10s
	old=$(worker_pid w1)

	kill -STOP "$old"

	wait_for unhealthy_seen 10s
	run jq -r '.problems[]' "$DIR/unhealthy.json"
	echo "$output"
	[[ $output == *w1* ]]
	# The supervisor replaces it, and all is well again.
	wait_for worker_replaced w1 "$old" 10s
	wait_for healthy_again 10s
	run ctl status
	[ "$status" -eq 0 ]
}
