#!/usr/bin/env bats
# server-wire.bats: depotd's own REP side of nng's wire (daemon/server.c),
# driven byte by byte by tests/tools/sp-raw.py as hostile or careless
# clients would: pipelined requests, multi-hop backtraces, liars about
# length, tricklers, clients that never read, that close at once, that hold
# every descriptor. Judged from outside: replies on the wire, files the
# tasks write, /proc.

load helpers
load wire_helpers

@test "requests written back to back on one connection are each answered, in order, with their own ids" {
	depot_start
	run RAW "$DIR/run/control.sock" pipeline 200
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | wc -l)" -eq 200 ]
	# Ids 0..199 in order, every reply ok.
	[ "$(echo "$output" | jq -s '[.[].id] == [range(200)]')" = true ]
	[ "$(echo "$output" | jq -s 'all(.ok)')" = true ]
}

@test "a reply carries the request's whole backtrace; a message without a request id is dropped and the connection goes on" {
	depot_start
	run RAW "$DIR/run/control.sock" hops
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c .backtrace)" = "[7,2147483714]" ]
	[ "$(echo "$output" | jq .ok)" = true ]

	run RAW "$DIR/run/control.sock" no-id
	[ "$status" -eq 0 ]
	# The one reply is the ping's: the id-less message got none.
	[ "$(echo "$output" | jq .id)" = 9 ]
	[ "$(echo "$output" | jq .ok)" = true ]
}

@test "a request announced over max_message closes its connection, and depotd does not reserve what was announced" {
	depot_start
	before=$(rss_kib "$DEPOT_PID")
	for len in 1099511627776 $((1024 * 1024 + 1)); do
		run RAW "$DIR/run/control.sock" liar "$len"
		[ "$status" -eq 0 ]
		[ "$(echo "$output" | jq .closed)" = true ]
	done
	# Just under the limit: kept open, waiting for the rest; only what came is held.
	python3 "$SPRAW" "$DIR/run/control.sock" liar $((1024 * 1024 - 16)) >"$DIR/liar.out" &
	HAND_PIDS+=($!)
	run ctl ping
	[ "$status" -eq 0 ]
	after=$(rss_kib "$DEPOT_PID")
	echo "RSS $before KiB before, $after KiB after"
	[ $((after - before)) -lt 8192 ]
	grep -q "over \[daemon\] max_message" "$DIR/depotd.log"
}

@test "a client trickling its request a byte at a time holds up nobody, and is answered at the end" {
	depot_start
	python3 "$SPRAW" "$DIR/run/control.sock" trickle 4 >"$DIR/trickle.out" &
	trickler=$!
	HAND_PIDS+=($trickler)
	for i in 1 2 3 4 5; do
		run ctl ping
		[ "$status" -eq 0 ]
	done
	# Five pings answered while the trickler, at 4 s for its bytes, is still sending.
	kill -0 "$trickler"
	[ ! -s "$DIR/trickle.out" ]
	wait "$trickler"
	[ "$(jq .ok "$DIR/trickle.out")" = true ]
}

@test "a client that never reads its replies is read no further: depotd's memory stays bounded and others are answered" {
	depot_start
	for i in $(seq 1 50); do echo "echo $(printf 'x%.0s' $(seq 1 200)) $i"; done |
		ctl run --batch - >/dev/null
	wait_for task_is 50 completed 30s
	# Each task.list reply is about 20 KiB: 30,000 of them would be some 600 MiB held.
	hold_clients "$DIR/noread.out" 10s \
		python3 "$SPRAW" "$DIR/run/control.sock" no-read 30000 '{"cmd": "task.list", "args": {}}'
	[ "$RSS_GROWTH" -lt 16384 ]
	# The kernel's buffers filled and depotd stopped reading: not every request went out.
	[ "$(jq '.bytes_sent < .bytes_total' "$DIR/noread.out")" = true ]
}

@test "a request whose client closes right after sending it is still carried out" {
	depot_start
	req=$(jq -cn --arg f "$DIR/touched" --arg tag "$(depot_tag)" \
		'{cmd: "task.submit", args: {type: "exec", argv: ["/usr/bin/touch", $f],
		  env: {($tag | split("=")[0]): ($tag | split("=")[1])}}}')
	run RAW "$DIR/run/control.sock" send-close "$req"
	[ "$status" -eq 0 ]
	wait_for test -e "$DIR/touched" 10s
}

@test "a peer speaking another protocol is closed at once" {
	depot_start
	run RAW "$DIR/run/control.sock" header 0x21
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq .closed)" = true ]
	run ctl ping
	[ "$status" -eq 0 ]
}

@test "with every descriptor taken, depotd rests its listener instead of spinning, and serves again when they are freed" {
	command -v strace >/dev/null || skip "strace is needed (make check installs it)"
	depot_init
	# depotd with few descriptors: idle clients can take them all.
	env "$(depot_tag)" prlimit --nofile=64 "$DEPOT_BIN/depotd" -d "$DIR" \
		</dev/null >>"$DIR/depotd.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers 10s
	wait_for workers_online "$(conf_value daemon.workers)" 10s
	python3 "$SPRAW" "$DIR/run/control.sock" idle 200 >"$DIR/idle.out" &
	idle=$!
	HAND_PIDS+=($idle)
	wait_for test -s "$DIR/idle.out" 10s
	wait_for grep -q "cannot accept a client" "$DIR/depotd.log" 10s
	# Its accept() calls over 2 s: a loop spinning on the ready listener makes thousands.
	timeout -s INT 2 strace -c -e trace=accept4 -p "$DEPOT_PID" 2>"$DIR/strace.out" || true
	calls=$(awk '$NF == "accept4" { print $4 }' "$DIR/strace.out")
	cat "$DIR/strace.out"
	echo "depotd called accept4 ${calls:-0} times in 2 s with its descriptors gone"
	[ "${calls:-0}" -lt 100 ]
	kill "$idle"
	wait "$idle" || true
	wait_for depot_answers 10s
}

@test "a ping is answered with one write: depotd's header goes out with the reply, not on its own before it" {
	command -v strace >/dev/null || skip "strace is needed (make check installs it)"
	depot_start
	strace -o "$DIR/strace.out" -e trace=write,writev -p "$DEPOT_PID" 2>"$DIR/strace.err" &
	tracer=$!
	HAND_PIDS+=($tracer)
	wait_for grep -q attached "$DIR/strace.err" 10s
	for i in $(seq 20); do ctl ping >/dev/null; done
	# A real nng dialer sends its header and waits for ours before its request: it still gets it.
	run bash -c 'printf "%s" "{\"cmd\":\"ping\",\"args\":{}}" | "$1/tests/nng-send" "ipc://$2/run/control.sock" 3000' _ \
		"$DEPOT_BIN" "$DIR"
	[ "$status" -eq 0 ]
	[[ $output == *'"pong":true'* ]]
	kill -INT "$tracer"
	wait "$tracer" || true
	alone=$(grep -cF '[{iov_base="\0SP\0\0001\0\0", iov_len=8}], 1) = 8' "$DIR/strace.out" || true)
	together=$(grep -cF '[{iov_base="\0SP\0\0001\0\0", iov_len=8}, {iov_base="\1' "$DIR/strace.out" || true)
	grep -F 'SP\0' "$DIR/strace.out" | cut -c1-120 | tail -3
	echo "headers written alone: $alone; with a reply: $together"
	# The nng dialer's alone, after its own header came alone; each ping's with its reply.
	[ "$alone" -eq 1 ]
	[ "$together" -eq 20 ]
}

@test "a user other than the owner may hold only so many connections; the owner still gets in" {
	need_root_nogroup
	depot_start "daemon.socket_group = nogroup"
	as_member nobody /usr/bin/python3 "$SPRAW" "$DIR/run/control.sock" idle 600 >"$DIR/idle.out" &
	HAND_PIDS+=($!)
	wait_for test -s "$DIR/idle.out" 20s
	wait_for grep -q "already holds 512 connections" "$DIR/depotd.log" 10s
	run ctl ping
	[ "$status" -eq 0 ]
	open=$(ls "/proc/$DEPOT_PID/fd" | wc -l)
	echo "depotd has $open descriptors open"
	[ "$open" -lt 600 ]
}
