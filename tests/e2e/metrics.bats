#!/usr/bin/env bats
# Issue 13, metrics: `depotctl metrics` and [metrics] listen's GET /metrics
# speak Prometheus' text format (promtool check metrics), their numbers
# match what really happened (tasks whose commands left a file each, a
# pause, a held resource), hostile HTTP clients never hold up the control
# socket, a real Prometheus scrapes the endpoint, and the sample alerting
# rules load. promtool and prometheus come from Debian's prometheus
# package (DEB_PKGS); without it those checks are skipped, said so.
# Starting Prometheus takes 5 to 10 s on a loaded 2-core machine; the
# issue asks for a real scrape, so it runs in make check too, unless
# DEPOT_TEST_PROMETHEUS=0.

load helpers

setup() {
	DIR=
	DEPOT_PID=
	HAND_PIDS=()
	: "${DEPOT_BIN:?DEPOT_BIN must name the directory holding depotd and depotctl}"
	WORK=$(mktemp -d /tmp/dpm.XXXXXX)
	PORT=$(free_port)
}

teardown() {
	depot_stop
	rm -rf "$WORK"
}

# free_port: a TCP port nothing listens on now, on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not installed (Debian package prometheus)"
}

# metric TEXT-FILE SERIES: the value of the sample SERIES (its name and labels, as printed).
metric() {
	awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $2; found = 1 } END { exit !found }' "$1"
}

# has_metric FILE SERIES VALUE (for wait_for on the endpoint, which renders once a second).
scraped_has() {
	curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/scraped" && [ "$(metric "$WORK/scraped" "$1")" = "$2" ]
}

ctl_metrics_has() {
	ctl metrics >"$WORK/m" && [ "$(metric "$WORK/m" "$1")" = "$2" ]
}

@test "depotctl metrics passes promtool and counts the tasks that ran, a pause and a queue" {
	need promtool
	depot_start "metrics.listen = 127.0.0.1:$PORT"
	for i in 1 2 3; do
		ctl run --wait -- touch "$WORK/ran-$i" >/dev/null
	done
	[ "$(ls "$WORK" | grep -c '^ran-')" = 3 ]

	# statvfs's free bytes just before and just after the scrape bracket depotd's (taken during it).
	df_before=$(($(stat -f -c '%a * %S' "$DIR")))
	ctl metrics >"$WORK/m"
	df_after=$(($(stat -f -c '%a * %S' "$DIR")))
	promtool check metrics <"$WORK/m"
	[ "$(metric "$WORK/m" 'depot_tasks{state="completed",type="exec"}')" = 3 ]
	[ "$(metric "$WORK/m" 'depot_tasks{state="failed",type="exec"}')" = 0 ]
	[ "$(metric "$WORK/m" 'depot_task_duration_seconds_count{type="exec"}')" = 3 ]
	[ "$(metric "$WORK/m" 'depot_task_dispatch_latency_seconds_count{type="exec"}')" = 3 ]
	[ "$(metric "$WORK/m" 'depot_queue_paused')" = 0 ]
	[ "$(metric "$WORK/m" 'depot_workers_configured')" = 2 ]
	[ "$(metric "$WORK/m" 'depot_worker_state{worker="w1",state="online"}')" = 1 ]
	[ "$(metric "$WORK/m" 'depot_build_info{version="'"$(ctl --json ping | jq -r .version)"'",protocol="'"$(ctl --json ping | jq -r .protocol)"'"}')" = 1 ]
	# What statvfs says free: between the two readings around the scrape, give
	# or take 1%. Other tests write and free on this file system meanwhile, and
	# not in one direction: CI saw 160 KB freed and 16 KB taken again within
	# one scrape, which a block's slack did not cover. 1% of it still tells
	# f_bavail from f_bfree (the reserved 5%) and a wrong block size.
	free=$(metric "$WORK/m" depot_filesystem_free_bytes)
	lo=$((df_before < df_after ? df_before : df_after)) hi=$((df_before > df_after ? df_before : df_after))
	echo "free: depotd $free, statvfs $df_before before and $df_after after"
	[ "$free" -ge $((lo - lo / 100)) ] && [ "$free" -le $((hi + hi / 100)) ]
	[ "$(metric "$WORK/m" depot_database_size_bytes)" -ge "$(stat -c %s "$DIR/depot.db")" ]

	ctl pause
	[ "$(ctl metrics | awk '$1 == "depot_queue_paused" { print $2 }')" = 1 ]
	ctl resume

	# A task holding g until told; another waits behind it: g's queue is 1 deep.
	submit --lock g -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/open"
	wait_for task_is "$ID" running
	submit --lock g -- touch "$WORK/after"
	WAITER=$ID
	[ "$(task_state "$WAITER")" = waiting ]
	ctl metrics >"$WORK/m"
	promtool check metrics <"$WORK/m"
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="g"}')" = 1 ]
	# Waited since its submission, no longer than since this test started.
	awk -v w="$(metric "$WORK/m" 'depot_queue_oldest_wait_seconds{resource="g"}')" \
	    -v most="$SECONDS" 'BEGIN { exit !(w >= 0 && w <= most + 1) }'
	[ "$(metric "$WORK/m" 'depot_tasks{state="waiting",type="exec"}')" = 1 ]
	[ "$(metric "$WORK/m" 'depot_tasks{state="running",type="exec"}')" = 1 ]
	ctl pause g
	[ "$(ctl metrics | awk '$1 == "depot_resource_paused{resource=\"g\"}" { print $2 }')" = 1 ]
	ctl resume g
	# A name with a quote and a backslash (no control character is allowed) is escaped as the format wants.
	ctl pause 'we"ird\name'
	ctl metrics >"$WORK/m"
	promtool check metrics <"$WORK/m"
	grep -qxF 'depot_resource_paused{resource="we\"ird\\name"} 1' "$WORK/m"
	ctl resume 'we"ird\name'
	touch "$WORK/open"
	wait_for task_is "$WAITER" completed
	[ -e "$WORK/after" ]
	wait_for ctl_metrics_has 'depot_tasks{state="completed",type="exec"}' 5
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="g"}')" != 1 ]

	# Removing final tasks is counted again from the database.
	ctl task remove 1 2 >/dev/null
	wait_for ctl_metrics_has 'depot_tasks{state="completed",type="exec"}' 3
}

# stalled_heartbeat W OTHER: W's heartbeat age is a second past OTHER's.
stalled_heartbeat() {
	ctl metrics >"$WORK/m" || return 1
	awk -v a="$(metric "$WORK/m" "depot_worker_heartbeat_age_seconds{worker=\"$1\"}")" \
	    -v b="$(metric "$WORK/m" "depot_worker_heartbeat_age_seconds{worker=\"$2\"}")" \
	    'BEGIN { exit !(a != "" && b != "" && a >= b + 1) }'
}

@test "a worker stopped with SIGSTOP shows in its heartbeat age before the monitor calls it missing" {
	depot_start "monitor.worker_timeout = 5s"
	pid=$(worker_pid w2)
	kill -STOP "$pid"
	wait_for stalled_heartbeat w2 w1 5s
	[ "$(metric "$WORK/m" 'depot_worker_state{worker="w2",state="online"}')" = 1 ]
	kill -CONT "$pid"
}

@test "a sync's downloads and the last backup's time and size are what the feed and the archive say" {
	need promtool
	depot_start
	mkdir -p "$WORK/feed/sub"
	head -c 1000 /dev/urandom >"$WORK/feed/a"
	head -c 20000 /dev/urandom >"$WORK/feed/sub/b"
	echo hello >"$WORK/feed/c"
	(cd "$WORK/feed" && for f in a sub/b c; do
		echo "$f,$(sha256sum <"$f" | cut -d' ' -f1),$(stat -c %s "$f")"
	done >PULP_MANIFEST)
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	ctl sync r --wait >/dev/null
	ctl metrics >"$WORK/m"
	[ "$(metric "$WORK/m" depot_sync_downloaded_files_total)" = 3 ]
	[ "$(metric "$WORK/m" depot_sync_downloaded_bytes_total)" = "$(cat "$WORK"/feed/{a,sub/b,c} | wc -c)" ]
	[ "$(metric "$WORK/m" 'depot_tasks{state="completed",type="sync"}')" = 1 ]
	[ "$(metric "$WORK/m" depot_backup_last_success_timestamp_seconds)" = 0.000 ]

	before=$(date +%s)
	out=$(ctl backup --wait)
	after=$(date +%s)
	archive=$(ctl --json task show "$(head -n 1 <<<"$out")" | jq -r .result.path)
	[ -f "$archive" ]
	ctl metrics >"$WORK/m"
	promtool check metrics <"$WORK/m"
	[ "$(metric "$WORK/m" depot_backup_last_success_size_bytes)" = "$(stat -c %s "$archive")" ]
	at=$(metric "$WORK/m" depot_backup_last_success_timestamp_seconds)
	[ "${at%.*}" -ge "$before" ] && [ "${at%.*}" -le "$after" ]
	# The content store's files, as find counts them (they stayed since the sync).
	[ "$(metric "$WORK/m" depot_content_size_bytes)" = \
	    "$(find "$DIR/content" -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')" ]
}

@test "more than 20 queues show the 20 deepest by name and the rest summed as resource=\"_other\"" {
	need promtool
	depot_start "daemon.workers = 1"
	submit --lock hold -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/open"
	wait_for task_is "$ID" running
	# 25 resources, r01 with 3 waiters, the others with 1; all behind "hold".
	for i in $(seq -w 1 25); do
		submit --lock hold --lock "r$i" -- true
	done
	submit --lock hold --lock r01 -- true
	submit --lock hold --lock r01 -- true
	ctl metrics >"$WORK/m"
	promtool check metrics <"$WORK/m"
	[ "$(grep -c '^depot_queue_depth{' "$WORK/m")" = 21 ]
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="hold"}')" = 27 ]
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="r01"}')" = 3 ]
	# Every exec task also takes "depot" shared: hold, depot, r01 and r02 to
	# r18 (equal depths go by name) are shown; r19 to r25 summed.
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="r18"}')" = 1 ]
	if metric "$WORK/m" 'depot_queue_depth{resource="r19"}'; then false; fi
	[ "$(metric "$WORK/m" 'depot_queue_depth{resource="_other"}')" = 7 ]
	[ "$(grep -c '^depot_queue_oldest_wait_seconds{' "$WORK/m")" = 21 ]
	touch "$WORK/open"
}

@test "GET /metrics serves what depotctl metrics prints, and nothing else" {
	need promtool
	depot_start "metrics.listen = 127.0.0.1:$PORT"
	ctl run --wait -- true >/dev/null
	wait_for scraped_has 'depot_tasks{state="completed",type="exec"}' 1
	run curl -sf -D "$WORK/headers" -o "$WORK/scraped" "http://127.0.0.1:$PORT/metrics"
	[ "$status" -eq 0 ]
	grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/headers"
	promtool check metrics <"$WORK/scraped"
	ctl metrics >"$WORK/m"
	# The same families, and the same samples but for those that move by themselves.
	diff <(grep '^# TYPE' "$WORK/m") <(grep '^# TYPE' "$WORK/scraped")
	moving='heartbeat_age|oldest_wait|_size_bytes|free_bytes'
	diff <(grep -v '^#' "$WORK/m" | grep -Ev "$moving") \
	    <(grep -v '^#' "$WORK/scraped" | grep -Ev "$moving")

	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/"
	[ "$output" = 404 ]
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics/../depot.db"
	[ "$output" != 200 ]
	run curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics"
	[ "$output" = 405 ]
}

@test "slow, wrong and huge HTTP requests never hold up the control socket or other scrapes" {
	depot_start "metrics.listen = 127.0.0.1:$PORT"
	# 50 connections that send nothing and 50 that send half a header, held open.
	python3 - "$PORT" "$WORK/held" <<-'EOF' &
		import socket, sys, time
		conns = []
		for i in range(100):
		    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
		    if i % 2:
		        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
		    conns.append(s)
		open(sys.argv[2], "w").close()
		time.sleep(120)
	EOF
	HAND_PIDS+=($!)
	wait_for file_has_or_exists "$WORK/held" 10s
	# A header of 1 MiB, and another path: answered or cut off, not served.
	run python3 - "$PORT" <<-'EOF'
		import socket, sys
		s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
		try:
		    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
		except OSError as e:
		    print("cut off:", e)
		    sys.exit(0)
		reply = s.recv(4096)
		print(reply.split(b"\r\n")[0].decode() if reply else "closed")
	EOF
	echo "huge header: $output"
	[ "$status" -eq 0 ]
	[[ $output != *" 200 "* ]]
	run curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$PORT/nothing-here"
	[ "$output" = 404 ]
	# Meanwhile the control socket answers at once, and a good scrape is served.
	start=$(now_ms)
	timeout 2 "$DEPOT_BIN/depotctl" -d "$DIR" ping >/dev/null
	[ $(($(now_ms) - start)) -lt 1000 ]
	run curl -sf -m 5 -o "$WORK/scraped" "http://127.0.0.1:$PORT/metrics"
	[ "$status" -eq 0 ]
	grep -q '^depot_build_info' "$WORK/scraped"
	ctl run --wait -- true >/dev/null
}

file_has_or_exists() {
	[ -e "$1" ]
}

@test "a bad [metrics] listen, or a port already taken, stops start-up and says why" {
	depot_init "metrics.listen = localhost"
	line=$(grep -n '^listen' "$DIR/depot.conf" | cut -d: -f1)
	run timeout 20 "$DEPOT_BIN/depotd" -d "$DIR" </dev/null 3>&-
	echo "$output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ $output == *"depot.conf:$line:"*HOST:PORT* ]]

	# Something else listens on PORT.
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(60)' "$PORT" "$WORK/busy" &
	HAND_PIDS+=($!)
	wait_for file_has_or_exists "$WORK/busy" 10s
	DEPOT_CONF=("${DEPOT_DEFAULT_CONF[@]}" "metrics.listen = 127.0.0.1:$PORT")
	depot_write_conf
	run timeout 20 "$DEPOT_BIN/depotd" -d "$DIR" </dev/null 3>&-
	echo "$output"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ $output == *"[metrics] listen = 127.0.0.1:$PORT"* ]]
	[ ! -S "$DIR/run/control.sock" ]
}

@test "the sample alerting rules pass promtool check rules" {
	need promtool
	rules=$BATS_TEST_DIRNAME/../../share/prometheus/depot-rules.yml
	run promtool check rules "$rules"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"SUCCESS: 5 rules found"* ]]
}

# prom_up: Prometheus' own query API says depot's target is up.
prom_up() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up%7Bjob%3D%22depot%22%7D" >"$WORK/up.json" &&
		[ "$(jq -r '.data.result[0].value[1]' "$WORK/up.json")" = 1 ]
}

prom_has_tasks() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query?query=depot_tasks%7Bstate%3D%22completed%22%2Ctype%3D%22exec%22%7D" >"$WORK/q.json" &&
		[ "$(jq -r '.data.result[0].value[1]' "$WORK/q.json")" = 1 ]
}

# prom_alert_pending NAME: Prometheus lists alert NAME as pending.
prom_alert_pending() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/alerts" >"$WORK/alerts.json" &&
		jq -e --arg n "$1" '.data.alerts[] | select(.labels.alertname == $n and .state == "pending")' \
		    "$WORK/alerts.json" >/dev/null
}

@test "a real Prometheus scrapes /metrics: up is 1, depot_tasks reads what ran, the sample rules evaluate" {
	[ "${DEPOT_TEST_PROMETHEUS:-1}" = 1 ] ||
		skip "starts a Prometheus server (5-10 s): DEPOT_TEST_PROMETHEUS=0"
	need prometheus
	depot_start "metrics.listen = 127.0.0.1:$PORT"
	ctl run --wait -- true >/dev/null
	PROM_PORT=$(free_port)
	cat >"$WORK/prometheus.yml" <<-EOF
		global:
		  scrape_interval: 1s
		  evaluation_interval: 1s
		rule_files:
		  - $BATS_TEST_DIRNAME/../../share/prometheus/depot-rules.yml
		scrape_configs:
		  - job_name: depot
		    static_configs:
		      - targets: ['127.0.0.1:$PORT']
	EOF
	prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
		</dev/null >"$WORK/prometheus.log" 2>&1 &
	HAND_PIDS+=($!)
	wait_for prom_up 30s || { cat "$WORK/prometheus.log" "$WORK/up.json"; false; }
	wait_for prom_has_tasks 10s || { cat "$WORK/q.json"; false; }
	# The rules read depot's real names: with no backup ever, DepotBackupTooOld
	# is pending (its for: keeps it from firing), and DepotQueueStuck is not.
	wait_for prom_alert_pending DepotBackupTooOld 15s || { cat "$WORK/alerts.json"; false; }
	if jq -e '.data.alerts[] | select(.labels.alertname == "DepotQueueStuck")' "$WORK/alerts.json"; then false; fi
}
