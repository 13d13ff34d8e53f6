#!/usr/bin/env bats
# DESIGN §14 with the scheduler (§13): `depotctl status` shows every
# component, the scheduler with its last tick and next due run, and exits 0
# only when all are healthy. A supervised worker whose heartbeats are late
# makes the daemon unhealthy before the monitor even declares it missing,
# and healthy again once the supervisor has replaced it.

load helpers

# late_seen NAME: one `status --json` that exited non-zero, said unhealthy
# with a problem naming worker NAME while NAME is still listed online (late,
# not yet missing); kept in $DIR/late.json.
late_seen() {
	local out
	if out=$(ctl --json status); then
		return 1
	fi
	jq -e --arg n "$1" '.healthy == false
		and any(.problems[]; test("\\b" + $n + "\\b"))
		and any(.workers[]; .name == $n and .state == "online")' <<<"$out" >/dev/null || return 1
	echo "$out" >"$DIR/late.json"
}

monitor_checked() {
	[ "$(ctl --json status | jq -r .monitor.last_check)" != null ]
}

healthy_now() {
	ctl --json status >/dev/null
}

@test "a healthy daemon's status exits 0 and shows daemon, database, workers, monitor, scheduler (last tick, next due), locks and storage" {
	depot_start
	ctl schedule add hourly --every 1h -- run -- true
	# The monitor's first check comes one check_interval after start.
	wait_for monitor_checked 5s

	run --separate-stderr ctl --json status

	[ "$status" -eq 0 ]
	s=$output
	[ "$(jq -r .healthy <<<"$s")" = true ]
	[ "$(jq -c .problems <<<"$s")" = "[]" ]
	for c in daemon database workers monitor scheduler locks storage; do
		jq -e --arg c "$c" '.[$c] != null' <<<"$s" >/dev/null || { echo "no $c"; false; }
	done
	[ "$(jq -r .daemon.pid <<<"$s")" = "$DEPOT_PID" ]
	[ "$(jq -r .daemon.version <<<"$s")" != null ]
	[ "$(jq -r '.daemon.uptime_ms >= 0' <<<"$s")" = true ]
	[ "$(jq -r .database.ok <<<"$s")" = true ]
	[ "$(jq -r '.database.size > 0' <<<"$s")" = true ]
	[ "$(jq -r '[.workers[] | select(.supervised and .state == "online")] | length' <<<"$s")" -eq 2 ]
	[ "$(jq -r '.monitor.last_check' <<<"$s")" != null ]
	# The scheduler ticks (within the last few seconds) and knows what is due next.
	tick=$(jq -r .scheduler.last_tick <<<"$s")
	[ "$tick" != null ]
	age=$(($(now_ms) - $(rfc3339_ms "$tick")))
	echo "last tick ${age} ms ago"
	[ "$age" -ge -1000 ]
	[ "$age" -lt 3000 ]
	next_run=$(ctl --json schedule list | jq -r '.[0].next_run')
	[ "$(rfc3339_ms "$(jq -r .scheduler.next_due <<<"$s")")" -eq "$(rfc3339_ms "$next_run")" ]
	[ "$(jq -c '.locks | keys' <<<"$s")" = '["held","running","waiting"]' ]
	[ "$(jq -r '.storage.content_bytes >= 0 and .storage.free_bytes > 0' <<<"$s")" = true ]
	# The human form names every component too.
	run --separate-stderr ctl status
	[ "$status" -eq 0 ]
	for c in daemon database workers monitor scheduler "last tick" storage healthy; do
		[[ $output == *"$c"* ]] || { echo "no '$c' in status"; false; }
	done
}

@test "a SIGSTOPped supervised worker makes status unhealthy (non-zero exit, a problem naming it) before it is declared missing, and healthy again once replaced" {
	depot_start
	old=$(worker_pid w1)

	kill -STOP "$old"
	t0=$(now_ms)

	# Late heartbeats show before worker_timeout (1500 ms) makes it missing.
	wait_for late_seen w1 10s
	elapsed=$(($(now_ms) - t0))
	echo "unhealthy ${elapsed} ms after SIGSTOP:"
	jq -c '{healthy, problems}' "$DIR/late.json"
	run --separate-stderr ctl status
	# Either still late or by now missing: unhealthy either way, until replaced.
	if ! worker_replaced w1 "$old"; then
		[ "$status" -ne 0 ]
		[[ $output$stderr == *w1* ]]
	fi
	# The other worker is not blamed.
	[ "$(jq '[.problems[] | select(test("\\bw2\\b"))] | length' "$DIR/late.json")" -eq 0 ]

	wait_for worker_replaced w1 "$old" 10s
	wait_for healthy_now 10s
	run ctl status
	[ "$status" -eq 0 ]
	[ "$(ctl --json status | jq -c .problems)" = "[]" ]
	# The stopped process does not linger (the supervisor kills what it replaced).
	kill -CONT "$old" 2>/dev/null || true
	wait_for pid_gone "$old" 5s || { kill -KILL "$old"; false; }
}

database_checked() {
	[ "$(ctl --json status | jq -r .database.ok)" = true ]
}

content_bytes_is() {
	[ "$(ctl --json status | jq -r .storage.content_bytes)" = "$1" ]
}

@test "counting the content store's bytes never holds the daemon up: while the count is held, status, ping and a task are answered (content_bytes null), and once it ends status shows the count" {
	hold_at NFTW
	depot_start
	mkdir -p "$DIR/content/ab"
	head -c 1234 /dev/zero >"$DIR/content/ab/one"
	head -c 766 /dev/zero >"$DIR/content/ab/two"

	# The first status starts the count, which the gate holds: it is
	# answered anyway (after at most 200 ms), without the figure.
	run --separate-stderr timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" --json status
	[ "$status" -eq 0 ]
	[ "$(jq -r .storage.content_bytes <<<"$output")" = null ]
	wait_for gate_held 5s
	# Held, the walk stops nothing else: a walk on the loop would time these out.
	timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" ping
	run timeout 10 "$DEPOT_BIN/depotctl" -d "$DIR" run --wait -- true
	[ "$status" -eq 0 ]
	run --separate-stderr timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" --json status
	[ "$status" -eq 0 ]
	[ "$(jq -r .storage.content_bytes <<<"$output")" = null ]
	run --separate-stderr timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" status
	[[ $output == *content*-* ]]

	rm "$GATE"
	wait_for content_bytes_is 2000 10s
}

@test "a daemon stopping while the count of the content store's bytes is stuck exits anyway, within seconds, and says so" {
	hold_at NFTW
	depot_start
	ctl --json status >/dev/null
	wait_for gate_held 5s
	pid=$DEPOT_PID
	t0=$(now_ms)
	kill -TERM "$pid"
	wait_for pid_gone "$pid" 10s
	DEPOT_PID=
	echo "exited $(($(now_ms) - t0)) ms after SIGTERM"
	grep -q "did not stop within 2 s; exiting without it" "$DIR/depotd.log"
	rm "$GATE"
}

@test "checking the database never holds the daemon up: while the check is held, status, ping and a task are answered (database.ok null), and once it ends status says ok and when" {
	hold_at DBCHECK
	depot_start

	# The first status starts the check, which the gate holds on its own
	# connection: it is answered anyway (after at most 200 ms), with no verdict.
	run --separate-stderr timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" --json status
	[ "$status" -eq 0 ]
	[ "$(jq -r .database.ok <<<"$output")" = null ]
	[ "$(jq -r .database.checked_at <<<"$output")" = null ]
	# Not knowing yet is no problem: healthy, and exit 0.
	[ "$(jq -r .healthy <<<"$output")" = true ]
	wait_for gate_held 5s
	# Held, the check stops nothing else: one on the loop would time these out.
	timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" ping
	run timeout 10 "$DEPOT_BIN/depotctl" -d "$DIR" run --wait -- true
	[ "$status" -eq 0 ]
	run --separate-stderr timeout 5 "$DEPOT_BIN/depotctl" -d "$DIR" status
	[ "$status" -eq 0 ]
	[[ $output == *"database               not checked yet"* ]]

	rm "$GATE"
	wait_for database_checked 10s
	s=$(ctl --json status)
	age=$(($(now_ms) - $(rfc3339_ms "$(jq -r .database.checked_at <<<"$s")")))
	echo "checked ${age} ms ago"
	[ "$age" -ge -1000 ]
	[ "$age" -lt 10000 ]
}

@test "a damaged database: status says the check failed in one line naming the page, and exits 1" {
	depot_start
	depot_terminate
	# An index depotd does not read at start: its root page's type byte spoiled.
	root=$(sqlite3 "$DIR/depot.db" "SELECT rootpage FROM sqlite_master WHERE name = 'version_files_sha256'")
	[ ! -e "$DIR/depot.db-wal" ] || [ ! -s "$DIR/depot.db-wal" ]
	printf '\377' | dd of="$DIR/depot.db" bs=1 seek=$(((root - 1) * 4096)) conv=notrunc status=none
	depot_launch

	run --separate-stderr ctl --json status
	[ "$status" -eq 1 ]
	[ "$(jq -r .database.ok <<<"$output")" = false ]
	[ "$(jq -r .healthy <<<"$output")" = false ]
	jq -e '.problems | index("database check failed")' <<<"$output"
	[[ $(jq -r .database.message <<<"$output") == *"Page $root:"* ]]
	run --separate-stderr ctl status
	[ "$status" -eq 1 ]
	[[ $output == *"database               NOT OK"* ]]
	grep -q "^  check says  .*Page $root:" <<<"$output"
}
