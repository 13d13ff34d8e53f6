#!/usr/bin/env bats
# server-hostile.bats: what a socket_group member (read and cancel only)
# can make depotd's own REP server (daemon/server.c) spend: memory held
# for replies it never reads, descriptors the owner then lacks, silent
# connections. Judged from outside: /proc, the owner's own requests.

load helpers
load wire_helpers

# one_big_task: one finished task with a 2 KiB argument, so each copy of it in a reply is some 2 KiB.
one_big_task() {
	run ctl run -- /bin/echo "$(head -c 2048 /dev/zero | tr '\0' x)"
	[ "$status" -eq 0 ]
	wait_for task_is 1 completed 30s
}

# start_at_systemd_nofile: depotd with socket_group nogroup at the 1024
# descriptors (soft) systemd gives a service unless its unit says otherwise
# (debian/ has none).
start_at_systemd_nofile() {
	depot_init "daemon.socket_group = nogroup"
	env "$(depot_tag)" prlimit --nofile=1024:4096 "$DEPOT_BIN/depotd" -d "$DIR" \
		</dev/null >>"$DIR/depotd.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers 10s
	wait_for workers_online "$(conf_value daemon.workers)" 10s
}

# idle_member UID N OUT: UID's client holding N idle connections, in the
# background (killed with the test); it writes OUT once it has them.
idle_member() {
	as_member "$1" /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" idle "$2" >"$3" &
	HAND_PIDS+=($!)
}

# member_answered UID: a ping from UID (in nogroup) is answered ok within 10 s.
member_answered() {
	run as_member "$1" timeout 10 /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" ask \
		'{"cmd": "ping", "args": {}}'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq .ok)" = true ]
}

# big_listing: 200 tasks with an 8 KiB argument each, so that a task.list page is some 1.6 MiB.
big_listing() {
	local arg i
	arg=$(head -c 8192 /dev/zero | tr '\0' y)
	for i in $(seq 1 200); do echo "echo $arg $i"; done | ctl run --batch - >/dev/null
}

@test "a socket_group member's connections that never read their replies hold depotd's memory only so far" {
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup"
	one_big_task
	# task.wait may repeat an id (up to 100,000): 5,000 copies ask ~40 KiB, answer ~11 MiB.
	req=$(jq -cn '{cmd: "task.wait", args: {ids: [range(5000) | 1], timeout_ms: 0}}')
	hold_clients "$DIR/noread.out" 20s \
		as_member nobody /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" no-read-conns 12 "$req"
	# 12 such replies held whole are ~130 MiB; 512 connections would be ~5.5 GiB.
	[ "$RSS_GROWTH" -lt 32768 ]
}

@test "a socket_group member whose clients never read their replies stops only itself: another member is still answered, and so is the first once it reads" {
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup" "daemon.max_message = 8MiB"
	big_listing
	# 40 pages of ~1.6 MiB left unread: over one user's cap (32 MiB), so
	# nobody's connections are read no further; the cap is nobody's alone.
	hold_clients "$DIR/noread.out" 30s as_member nobody /usr/bin/python3 "$SPRAW" \
		"$DIR/run/control.sock" no-read-conns 40 '{"cmd": "task.list", "args": {}}'
	wait_for grep -q '"connected": 40' "$DIR/noread.out" 10s
	# nobody's next request waits for its own replies to be read.
	(as_member nobody timeout 3 /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" ask \
		'{"cmd": "ping", "args": {}}') >"$DIR/nobody.out" 2>&1 && false
	# Another member (uid daemon, also in nogroup) is answered meanwhile.
	member_answered daemon
	# nobody's clients gone, its own requests are read again.
	kill "${HAND_PIDS[-1]}"
	member_answered nobody
}

@test "one socket_group member holding all the connections it may leaves another member a way in, at systemd's default descriptor limit" {
	need_root_nogroup
	start_at_systemd_nofile
	idle_member nobody 600 "$DIR/idle1.out"
	wait_for test -s "$DIR/idle1.out" 20s
	# Its refused connections are closed by depotd: wait for the log line, then count what is held.
	wait_for grep -q "uid $(id -u nobody) already holds" "$DIR/depotd.log" 10s
	held=$(ls -l "/proc/$DEPOT_PID/fd" | grep -c socket)
	echo "depotd holds $held sockets"
	# Half of 1024 for other users, a quarter of that for one: nobody has 128 at most.
	[ "$held" -lt 200 ]
	member_answered daemon
}

@test "two socket_group members holding their 512 connections each leave the owner a way in, at systemd's default descriptor limit" {
	need_root_nogroup
	start_at_systemd_nofile
	idle_member nobody 512 "$DIR/idle1.out"
	idle_member daemon 512 "$DIR/idle2.out"
	wait_for test -s "$DIR/idle1.out" 20s
	wait_for test -s "$DIR/idle2.out" 20s
	cat "$DIR/idle1.out" "$DIR/idle2.out"
	echo "depotd has $(ls "/proc/$DEPOT_PID/fd" | wc -l) descriptors open"
	# Each member is within its own cap (512); the owner must still be served.
	run ctl ping
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "one small task.wait from a socket_group member, naming a task 20,000 times, does not stop depotd answering the owner" {
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup"
	one_big_task
	# ~40 KiB asked (task.wait allows an id 100,000 times); ~100 MiB answered.
	req=$(jq -cn '{cmd: "task.wait", args: {ids: [range(20000) | 1], timeout_ms: 0}}')
	as_member nobody /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" ask "$req" \
		>"$DIR/ask.out" &
	asker=$!
	HAND_PIDS+=($asker)
	# The owner pings all along; depotctl gives up on a daemon silent for 5 s.
	failed=0 pings=0
	while kill -0 "$asker" 2>/dev/null; do
		ctl ping >/dev/null 2>&1 || failed=$((failed + 1))
		pings=$((pings + 1))
		sleep 0.05
	done
	echo "$pings pings, $failed unanswered; $(cat "$DIR/ask.out")"
	grep "marking it missing" "$DIR/depotd.log" || true
	[ "$failed" -eq 0 ]
	! grep -q "marking it missing" "$DIR/depotd.log"
}

@test "a socket_group member over its connection cap, reconnecting in a loop, does not flood depotd's log" {
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup"
	idle_member nobody 512 "$DIR/idle.out"
	wait_for test -s "$DIR/idle.out" 20s
	run as_member nobody /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" hammer 2
	[ "$status" -eq 0 ]
	lines=$(grep -c "already holds 512 connections" "$DIR/depotd.log" || true)
	bytes=$(stat -c %s "$DIR/depotd.log")
	echo "$output; $lines refusals logged, depotd.log $bytes bytes"
	[ "$(echo "$output" | jq .connects)" -gt 100 ]
	# Said once (or a few times), not once per connection.
	[ "$lines" -lt 10 ]
}

@test "a client sending oversized requests in a loop does not flood depotd's log" {
	depot_start
	run python3 "$SPRAW" "$DIR/run/control.sock" liars 500 $((1 << 40))
	[ "$status" -eq 0 ]
	lines=$(grep -c "over \[daemon\] max_message" "$DIR/depotd.log" || true)
	echo "$output; $lines logged"
	[ "$(echo "$output" | jq .closed)" -eq 500 ]
	# Said once (or a few times), not once per request.
	[ "$lines" -ge 1 ]
	[ "$lines" -lt 10 ]
}

@test "a connection that never sends its header is closed, as nng's 10 s negotiation timeout did" {
	depot_start
	run python3 "$SPRAW" "$DIR/run/control.sock" mute 15
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(echo "$output" | jq .closed)" = true ]
	# depotd's header answers a client's: one that sent nothing was sent nothing.
	[ "$(echo "$output" | jq .bytes_received)" = 0 ]
}

@test "SIGTERM with clients parked, unread, half-sent, silent and gone mid-wait: depotd exits cleanly (run it under build-san)" {
	depot_start
	for i in $(seq 1 20); do ctl run -- /bin/echo "$(head -c 1024 /dev/zero | tr '\0' y)" >/dev/null; done
	wait_for task_is 20 completed 30s
	run ctl run -- /bin/sleep 60
	[ "$status" -eq 0 ]
	run ctl run -- /bin/sleep 60
	[ "$status" -eq 0 ]
	wait_for task_is 22 running 30s
	# A wait whose client goes while it is parked, then the task it waited on ends.
	python3 "$SPRAW" "$DIR/run/control.sock" no-read-conns 1 '{"cmd": "task.wait", "args": {"ids": [22]}}' \
		>"$DIR/gone.out" &
	gone=$!
	wait_for test -s "$DIR/gone.out" 10s
	python3 "$SPRAW" "$DIR/run/control.sock" no-read-conns 8 '{"cmd": "task.wait", "args": {"ids": [21]}}' \
		>"$DIR/parked.out" &
	HAND_PIDS+=($!)
	python3 "$SPRAW" "$DIR/run/control.sock" no-read 2000 '{"cmd": "task.list", "args": {}}' \
		>"$DIR/noread.out" &
	HAND_PIDS+=($!)
	python3 "$SPRAW" "$DIR/run/control.sock" liar 100000 >"$DIR/liar.out" &
	HAND_PIDS+=($!)
	python3 "$SPRAW" "$DIR/run/control.sock" silent 5 >"$DIR/silent.out" &
	HAND_PIDS+=($!)
	wait_for test -s "$DIR/parked.out" 10s
	wait_for test -s "$DIR/noread.out" 10s
	wait_for test -s "$DIR/silent.out" 10s
	kill "$gone"
	wait "$gone" || true
	run ctl task cancel 22
	[ "$status" -eq 0 ]
	wait_for task_is 22 canceled 30s
	run ctl ping
	[ "$status" -eq 0 ]
	depot_terminate
	echo "depotd exited with $DEPOT_STATUS"
	! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$DIR/depotd.log"
	[ "$DEPOT_STATUS" -eq 0 ]
}

@test "a request whose client closed before depotd accepted the connection is still carried out" {
	depot_start
	req=$(jq -cn --arg f "$DIR/touched" --arg tag "$(depot_tag)" \
		'{cmd: "task.submit", args: {type: "exec", argv: ["/usr/bin/touch", $f],
		  env: {($tag | split("=")[0]): ($tag | split("=")[1])}}}')
	# Stopped, depotd accepts nothing: the connection, its request and its end wait in the backlog,
	# as they do on a loaded machine (server-wire.bats's send-close test, flaky under load for this).
	kill -STOP "$DEPOT_PID"
	run python3 "$SPRAW" "$DIR/run/control.sock" send-close "$req"
	kill -CONT "$DEPOT_PID"
	[ "$status" -eq 0 ]
	wait_for test -e "$DIR/touched" 10s
}

@test "a socket_group member's many connections, each with one task.list page unread, hold depotd's memory only so far" {
	skip_under_asan
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup" "daemon.max_message = 8MiB"
	arg=$(head -c 4096 /dev/zero | tr '\0' z)
	for i in $(seq 1 500); do echo "echo $arg $i"; done | ctl run --batch - >/dev/null
	wait_for task_is 500 completed 60s
	# One page of task.list is 500 tasks, here ~2 MiB: 512 connections could hold ~1 GiB.
	hold_clients "$DIR/noread.out" 30s as_member nobody /usr/bin/python3 "$SPRAW" \
		"$DIR/run/control.sock" no-read-conns 60 '{"cmd": "task.list", "args": {}}'
	[ "$RSS_GROWTH" -lt 65536 ]
	# Its connections gone, other users' requests are read again.
	kill "${HAND_PIDS[-1]}"
	member_answered nobody
}

@test "a socket_group member's connections each holding a request all but whole hold depotd's memory only so far" {
	skip_under_asan
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup"
	# Each is under max_message (1 MiB), so none is closed for its size; 512 of them per uid would be 512 MiB.
	hold_clients "$DIR/partial.out" 90s as_member nobody /usr/bin/python3 "$SPRAW" \
		"$DIR/run/control.sock" partial 200 $((1024 * 1024 - 64))
	[ "$RSS_GROWTH" -lt 98304 ]
}
