# lib.bash: what every benchmark in tests/bench/ shares (source it).
#
# Each benchmark starts its own depotd on a short private data directory
# (mktemp -d /tmp/dpb.XXXXXX, config in DIR/depot.conf), talks to it over the
# Unix sockets under DIR/run/, stops it with SIGTERM and removes the directory,
# whatever happens (EXIT trap). Every process a benchmark's daemon starts
# inherits DEPOT_BENCH_TAG=DIR, so stragglers are found, and killed one pid at
# a time, by that variable alone.
#
#   bench_dir                      new data directory in $DIR (also removed at exit)
#   bench_conf LINE...             writes $DIR/depot.conf, one INI line per argument
#   bench_launch [WORKERS]         starts depotd on $DIR, waits for ping (and for
#                                  WORKERS supervised workers online); sets
#                                  DEPOT_PID and LAUNCH_MS (launch to first pong)
#   bench_stop                     SIGTERM, bounded wait, leftovers killed;
#                                  sets STOP_MS and STOP_STATUS
#   ctl ARG...                     depotctl -d $DIR ARG...
#   now_ms / secs MS / per_s N MS  time helpers
#   result NAME STATUS TEXT        one line for run's summary (PASS, FAIL, INFO,
#                                  INCONCLUSIVE); FAIL makes the script exit 1
#   bench_tmp                      new scratch directory in $TMPD (removed at exit)
#   free_port                      a TCP port on 127.0.0.1 that nothing listens on
#   http_serve ROOT                static file server for ROOT on 127.0.0.1 (nginx
#                                  from a private config when installed, else
#                                  python3's ThreadingHTTPServer); sets HTTP_PORT,
#                                  HTTP_PID, HTTP_KIND; stopped at exit (http_stop)
#   make_feed_random DIR N BYTES   N files of BYTES random bytes and their
#                                  DIR/PULP_MANIFEST
#   fill_finished N                N finished exec tasks inserted with the sqlite3
#                                  CLI into $DIR/depot.db (daemon stopped)
#   ping_start OUT [INTERVAL_MS]   a persistent client pinging the daemon on $DIR
#                                  every INTERVAL_MS (10) into OUT; sets PING_PID
#   ping_stop                      stops it (after the ping in flight is answered)
#   ping_stats OUT FROM TO         "p50 p99 max pings samples" of the pings sent
#                                  from FROM to TO (epoch ms)
#   hwm_reset PID                  resets VmHWM to the current VmRSS
#
# At exit, besides each data directory, what a restore leaves beside it
# (DIR.pre-restore-*, DIR.restore-*) is removed too.

set -u
: "${DEPOT_BIN:?DEPOT_BIN must name the directory holding depotd and depotctl}"
DEPOTD=$DEPOT_BIN/depotd
DEPOTCTL=$DEPOT_BIN/depotctl
for b in "$DEPOTD" "$DEPOTCTL"; do
	[ -x "$b" ] || { echo "bench: $b is missing: build first (make)" >&2; exit 2; }
done
for t in jq sqlite3 awk; do
	command -v "$t" >/dev/null || { echo "bench: $t is not installed (make deps)" >&2; exit 2; }
done

DIR=
DEPOT_PID=
BENCH_DIRS=()
BENCH_FAILED=0
TSP_DIR=
BENCH_TMPS=()
HTTP_PID=
PING_PID=

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# secs MS: "1.23" (seconds, two decimals); msecs MS: "12.3 ms" style helpers.
secs() {
	awk -v m="$1" 'BEGIN { printf "%.2f", m / 1000 }'
}

# per_s N MS: N per second over MS milliseconds, no decimals.
per_s() {
	awk -v n="$1" -v m="$2" 'BEGIN { if (m <= 0) m = 1; printf "%.0f", n * 1000 / m }'
}

# kib N: "12345 kB (12.1 MiB)" from a kB figure.
kib() {
	awk -v k="$1" 'BEGIN { printf "%7d kB (%5.1f MiB)", k, k / 1024 }'
}

# mib N: "12.1 MiB" from a kB figure.
mib() {
	awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

# human_bytes N
human_bytes() {
	awk -v b="$1" 'BEGIN {
		if (b >= 1048576) printf "%.1f MiB", b / 1048576
		else if (b >= 1024) printf "%.1f KiB", b / 1024
		else printf "%d B", b }'
}

result() {
	local name=$1 status=$2
	shift 2
	printf '%-12s %-12s %s\n' "$name" "$status" "$*" >>"${BENCH_SUMMARY:-/dev/null}"
	[ "$status" = FAIL ] && BENCH_FAILED=1
	return 0
}

# note TEXT: an extra line for run's summary, under the benchmark's result.
note() {
	printf '%-12s %-12s %s\n' "" "" "$*" >>"${BENCH_SUMMARY:-/dev/null}"
}

ctl() {
	"$DEPOTCTL" -d "$DIR" "$@"
}

bench_dir() {
	DIR=$(mktemp -d /tmp/dpb.XXXXXX) || exit 2
	BENCH_DIRS+=("$DIR")
}

bench_conf() {
	printf '%s\n' "$@" >"$DIR/depot.conf"
}

workers_online() {
	local n
	n=$(ctl --json worker list 2>/dev/null |
		jq '[.[] | select(.supervised and .state == "online")] | length' 2>/dev/null) || return 1
	[ -n "$n" ] && [ "$n" -ge "$1" ]
}

bench_log_tail() {
	echo "--- $DIR/depotd.log (last 30 lines) ---" >&2
	tail -n 30 "$DIR/depotd.log" >&2
	echo "--- end ---" >&2
}

# bench_launch [WORKERS] [TIMEOUT_S]
# shellcheck disable=SC2034  # LAUNCH_MS, STOP_MS, STOP_STATUS are for the scripts
bench_launch() {
	local workers=${1:-0} limit=$(( ${2:-30} * 1000 )) t0 deadline
	t0=$(now_ms)
	env "DEPOT_BENCH_TAG=$DIR" "$DEPOTD" -d "$DIR" </dev/null >>"$DIR/depotd.log" 2>&1 &
	DEPOT_PID=$!
	deadline=$((t0 + limit))
	until ctl ping >/dev/null 2>&1; do
		if ! kill -0 "$DEPOT_PID" 2>/dev/null || [ "$(now_ms)" -ge "$deadline" ]; then
			echo "bench: depotd did not answer ping within $((limit / 1000)) s" >&2
			bench_log_tail
			return 1
		fi
		sleep 0.01
	done
	LAUNCH_MS=$(( $(now_ms) - t0 ))
	until [ "$workers" -eq 0 ] || workers_online "$workers"; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			echo "bench: $workers workers not online within $((limit / 1000)) s" >&2
			bench_log_tail
			return 1
		fi
		sleep 0.05
	done
}

# Pids of processes that inherited this directory's tag (workers, tasks).
bench_leftovers() {
	local f pid
	[ -n "$DIR" ] || return 0
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = "$$" ] && continue
		grep -qzx "DEPOT_BENCH_TAG=$DIR" "$f" 2>/dev/null && echo "$pid"
	done
	return 0
}

# bench_stop: SIGTERM the daemon, wait up to 20 s (then SIGKILL), then kill
# whatever it left behind, one pid at a time.
# shellcheck disable=SC2034
bench_stop() {
	local t0 deadline left pid
	STOP_STATUS=0
	STOP_MS=0
	if [ -n "$DEPOT_PID" ]; then
		t0=$(now_ms)
		deadline=$((t0 + 20000))
		if kill -TERM "$DEPOT_PID" 2>/dev/null; then
			while kill -0 "$DEPOT_PID" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
				sleep 0.02
			done
			if kill -0 "$DEPOT_PID" 2>/dev/null; then
				echo "bench: depotd (pid $DEPOT_PID) still running 20 s after SIGTERM: killed" >&2
				kill -KILL "$DEPOT_PID" 2>/dev/null
			fi
		fi
		wait "$DEPOT_PID" 2>/dev/null
		STOP_STATUS=$?
		STOP_MS=$(( $(now_ms) - t0 ))
		if [ "$STOP_STATUS" -ne 0 ]; then
			echo "bench: depotd exited with status $STOP_STATUS on SIGTERM" >&2
			bench_log_tail
		fi
		DEPOT_PID=
	fi
	deadline=$(( $(now_ms) + 5000 ))
	while left=$(bench_leftovers) && [ -n "$left" ] && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	for pid in $left; do
		echo "bench: process $pid left after depotd stopped: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
		kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

bench_cleanup() {
	local d
	ping_stop
	http_stop
	bench_stop
	if [ -n "$TSP_DIR" ]; then
		TS_SOCKET=$TSP_DIR/ts.sock TMPDIR=$TSP_DIR tsp -K >/dev/null 2>&1
		rm -rf "$TSP_DIR"
	fi
	for d in "${BENCH_DIRS[@]}"; do
		DIR=$d
		bench_stop
		rm -rf "$d" "$d".pre-restore-* "$d".restore-*
	done
	for d in "${BENCH_TMPS[@]}"; do
		rm -rf "$d"
	done
}

trap bench_cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# vmstat_of PID FIELD: a /proc/PID/status figure in kB (VmRSS, VmHWM).
vm_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# percentile P: the P-th percentile of the numbers on stdin (nearest rank).
percentile() {
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
		print v[i] }'
}

bench_exit() {
	exit "$BENCH_FAILED"
}

# bench_tmp: a new scratch directory (feeds, archives, downloads) in $TMPD,
# removed at exit.
bench_tmp() {
	TMPD=$(mktemp -d /tmp/dpb.XXXXXX) || exit 2
	BENCH_TMPS+=("$TMPD")
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The python fallback of http_serve: a threading static file server.
HTTP_SERVER_PY='
import functools, http.server, sys
port, root = int(sys.argv[1]), sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=root))
srv.daemon_threads = True
srv.serve_forever()
'

# shellcheck disable=SC2034  # HTTP_KIND is for the scripts
# http_serve ROOT: serves ROOT over HTTP on 127.0.0.1:$HTTP_PORT, waits until
# it accepts connections. nginx (Debian nginx-light) runs from a private
# config and prefix in a scratch directory (no root paths, no access log,
# error log in the scratch directory); without it (or with
# BENCH_HTTP_SERVER=python), python3's ThreadingHTTPServer, which is much
# slower per request. HTTP_KIND names it.
http_serve() {
	local root=$1 conf t0 nginx=
	HTTP_DIR=$(mktemp -d /tmp/dpb.XXXXXX) || return 1
	BENCH_TMPS+=("$HTTP_DIR")
	HTTP_PORT=$(free_port) || return 1
	if [ "${BENCH_HTTP_SERVER:-}" = python ]; then
		:
	elif command -v nginx >/dev/null; then
		nginx=$(command -v nginx)
	elif [ -x /usr/sbin/nginx ]; then
		nginx=/usr/sbin/nginx
	fi
	if [ -n "$nginx" ]; then
		HTTP_KIND="nginx $("$nginx" -v 2>&1 | sed 's,.*nginx/,,')"
		conf=$HTTP_DIR/nginx.conf
		{
			echo "daemon off;"
			echo "worker_processes 2;"
			# As root, the workers would otherwise become nobody, who cannot
			# read a mktemp -d directory.
			[ "$(id -u)" = 0 ] && echo "user root root;"
			echo "pid $HTTP_DIR/nginx.pid;"
			echo "error_log $HTTP_DIR/error.log warn;"
			echo "events { worker_connections 1024; }"
			echo "http {"
			echo "  access_log off;"
			echo "  client_body_temp_path $HTTP_DIR/body;"
			echo "  proxy_temp_path $HTTP_DIR/proxy;"
			echo "  fastcgi_temp_path $HTTP_DIR/fastcgi;"
			echo "  uwsgi_temp_path $HTTP_DIR/uwsgi;"
			echo "  scgi_temp_path $HTTP_DIR/scgi;"
			echo "  sendfile on;"
			echo "  tcp_nopush on;"
			echo "  keepalive_requests 1000000;"
			echo "  default_type application/octet-stream;"
			echo "  server {"
			echo "    listen 127.0.0.1:$HTTP_PORT;"
			echo "    root $root;"
			echo "  }"
			echo "}"
		} >"$conf"
		"$nginx" -p "$HTTP_DIR" -c "$conf" -e "$HTTP_DIR/error.log" </dev/null >>"$HTTP_DIR/server.log" 2>&1 &
	else
		HTTP_KIND="python3 ThreadingHTTPServer"
		[ "${BENCH_HTTP_SERVER:-}" = python ] || HTTP_KIND="$HTTP_KIND (nginx is not installed)"
		python3 -c "$HTTP_SERVER_PY" "$HTTP_PORT" "$root" </dev/null >>"$HTTP_DIR/server.log" 2>&1 &
	fi
	HTTP_PID=$!
	t0=$(now_ms)
	until (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; do
		if ! kill -0 "$HTTP_PID" 2>/dev/null || [ $(( $(now_ms) - t0 )) -gt 10000 ]; then
			echo "bench: the http server did not listen on $HTTP_PORT within 10 s" >&2
			cat "$HTTP_DIR/server.log" "$HTTP_DIR/error.log" 2>/dev/null >&2
			http_stop
			return 1
		fi
		sleep 0.02
	done
}

# pid_runs PID: it exists and is not a zombie (an orphan's zombie lingers
# where nothing reaps it, and kill -0 still finds it).
pid_runs() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# http_stop: SIGTERM the server (nginx's master stops its workers), bounded
# wait, then SIGKILL it and any child it left, by pid; HTTP_LEFT names any
# that still ran after that (none should).
HTTP_LEFT=
http_stop() {
	local kids deadline pid
	[ -n "$HTTP_PID" ] || return 0
	kids=$(ps -o pid= --ppid "$HTTP_PID" 2>/dev/null)
	kill -TERM "$HTTP_PID" 2>/dev/null
	deadline=$(( $(now_ms) + 5000 ))
	while kill -0 "$HTTP_PID" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.02
	done
	kill -KILL "$HTTP_PID" 2>/dev/null
	wait "$HTTP_PID" 2>/dev/null
	for pid in $kids; do
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	deadline=$(( $(now_ms) + 2000 ))
	for pid in $kids; do
		while pid_runs "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
			sleep 0.02
		done
		if pid_runs "$pid"; then
			HTTP_LEFT="$HTTP_LEFT $pid"
			echo "bench: http server process $pid still runs after SIGKILL" >&2
		fi
	done
	HTTP_PID=
	return 0
}

# make_feed_random DIR N BYTES: DIR/f00000.bin… (N files of BYTES random
# bytes each) and DIR/PULP_MANIFEST (relative_path,sha256,size) listing them.
# The bytes are an AES-CTR keystream under a random key (openssl), many times
# faster than /dev/urandom here and as incompressible.
make_feed_random() {
	mkdir -p "$1" || return 1
	openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')" \
		</dev/zero 2>/dev/null | python3 -c '
import hashlib, os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sys.stdin.buffer
lines = []
for i in range(n):
    name = "f%05d.bin" % i
    h = hashlib.sha256()
    with open(os.path.join(d, name), "wb") as f:
        left = size
        while left:
            b = src.read(min(left, 1 << 22))
            if not b:
                sys.exit("make_feed_random: the random stream ended")
            h.update(b)
            f.write(b)
            left -= len(b)
    lines.append("%s,%s,%d\n" % (name, h.hexdigest(), size))
with open(os.path.join(d, "PULP_MANIFEST"), "w") as f:
    f.writelines(lines)
' "$@"
}

# fill_finished N: N finished `exec true` tasks (completed, 10 ms apart, the
# newest finished now) inserted with the sqlite3 CLI into $DIR/depot.db, on
# the schema the daemon itself created; the daemon must be stopped.
fill_finished() {
	local n=$1 now
	now=$(now_ms)
	sqlite3 "$DIR/depot.db" ".timeout 5000" "BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
INSERT INTO tasks (type, name, args, resources, state, created_at, started_at,
	finished_at, result)
SELECT 'exec', 'true', '{\"argv\":[\"true\"]}', '[]', 'completed', $now - ($n - i) * 10,
	$now - ($n - i) * 10, $now - ($n - i) * 10, '{\"exit_status\":0}' FROM n;
COMMIT;"
}

# The pinger of ping_start: one REQ socket (libnng through ctypes, so no
# client start-up in the figures), `{"cmd":"ping"}` on a fixed schedule, one
# at a time. Each ping is a line "SENT_MS LATENCY_MS r" (SENT_MS epoch).
# A ping held up past the next ticks of the schedule hides the pings that
# would have been sent meanwhile (coordinated omission): each such tick is
# a line "TICK_MS LATENCY_MS c", its latency counted from the tick to the
# held ping's reply, which is when a ping sent at that tick would have been
# answered too (the main thread answers in order). Stops when the file STOP
# exists; exits 3 when a reply takes over 120 s.
PINGER_PY='
import ctypes, os, sys, time
url, interval, out, stop = sys.argv[1], float(sys.argv[2]) / 1000, sys.argv[3], sys.argv[4]
nng = ctypes.CDLL("libnng.so.1")
nng.nng_strerror.restype = ctypes.c_char_p
class Sock(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]
s = Sock()
def check(rv, what):
    if rv != 0:
        sys.stderr.write("pinger: %s: %s\n" % (what, nng.nng_strerror(rv).decode()))
        sys.exit(3)
check(nng.nng_req0_open(ctypes.byref(s)), "nng_req0_open")
check(nng.nng_socket_set_ms(s, b"req:resend-time", ctypes.c_int32(-1)), "req:resend-time")
check(nng.nng_socket_set_ms(s, b"recv-timeout", ctypes.c_int32(120000)), "recv-timeout")
check(nng.nng_dial(s, url.encode(), None, 0), "nng_dial " + url)
msg = b"{\"cmd\":\"ping\"}"
buf, size = ctypes.c_void_p(), ctypes.c_size_t()
f = open(out, "w", buffering=1)
mono = time.monotonic
off = time.time() - mono()
tick = mono()
while not os.path.exists(stop):
    now = mono()
    if now < tick:
        time.sleep(tick - now)
    t = mono()
    check(nng.nng_send(s, msg, len(msg), 0), "nng_send")
    check(nng.nng_recv(s, ctypes.byref(buf), ctypes.byref(size), 1), "no reply")
    r = mono()
    nng.nng_free(buf, size)
    f.write("%.3f %.3f r\n" % ((t + off) * 1000, (r - t) * 1000))
    tick += interval
    while tick <= r:
        if tick > t:
            f.write("%.3f %.3f c\n" % ((tick + off) * 1000, (r - tick) * 1000))
        tick += interval
'

# ping_start OUT [INTERVAL_MS]: pings the daemon on $DIR every INTERVAL_MS
# (default 10) into OUT (see PINGER_PY); waits for the first reply.
ping_start() {
	local out=$1 interval=${2:-10} t0
	PING_STOP=$out.stop
	rm -f "$PING_STOP"
	: >"$out"
	python3 -c "$PINGER_PY" "ipc://$DIR/run/control.sock" "$interval" "$out" "$PING_STOP" </dev/null &
	PING_PID=$!
	t0=$(now_ms)
	until [ -s "$out" ]; do
		if ! kill -0 "$PING_PID" 2>/dev/null || [ $(( $(now_ms) - t0 )) -gt 10000 ]; then
			echo "bench: the pinger got no reply within 10 s" >&2
			ping_stop
			return 1
		fi
		sleep 0.01
	done
}

# ping_stop: asks the pinger to stop after the ping in flight, waits up to
# 10 s, then kills it; its exit status in PING_STATUS (0 unless a ping failed).
# shellcheck disable=SC2034  # PING_STATUS is for the scripts
ping_stop() {
	local deadline
	PING_STATUS=0
	[ -n "$PING_PID" ] || return 0
	touch "$PING_STOP"
	deadline=$(( $(now_ms) + 10000 ))
	while kill -0 "$PING_PID" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.01
	done
	kill -KILL "$PING_PID" 2>/dev/null
	wait "$PING_PID" 2>/dev/null
	PING_STATUS=$?
	PING_PID=
	return 0
}

# ping_stats OUT FROM_MS TO_MS: "P50 P99 MAX PINGS SAMPLES" over the lines of
# OUT whose time is in [FROM_MS, TO_MS]: latencies in ms (one decimal) of
# every sample, ticks a held ping hid included; PINGS counts only the pings
# really sent.
ping_stats() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b { print $2, $3 }' "$1" | sort -n |
		awk '{ v[NR] = $1; if ($2 == "r") real++ }
		function at(p,  i) { i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; return v[i] }
		END { if (NR == 0) { print "- - - 0 0"; exit }
			printf "%.1f %.1f %.1f %d %d\n", at(50), at(99), v[NR], real, NR }'
}

# hwm_reset PID: VmHWM back to the current VmRSS (clear_refs 5, Linux 4.0);
# 1 when that is not possible here.
hwm_reset() {
	{ echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null
}
