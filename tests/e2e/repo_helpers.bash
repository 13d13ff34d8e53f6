# repo_helpers.bash: what the repository e2e tests share (load after helpers).
#
#   load helpers
#   load repo_helpers
#
# Each test gets a scratch directory $WORK (feeds, certificates, server
# logs) beside the daemon's $DIR, starts its servers on loopback ports
# chosen free at runtime, and leaves nothing behind: this file's teardown
# stops the servers, every daemon the test started and removes $WORK.
#
#   free_port                         a free TCP port on 127.0.0.1
#   start_http DIR                    python3 http.server on DIR; port in $HTTP_PORT
#   start_https DIR CERT KEY [CA]     TLS server (client certs required when CA given); $HTTPS_PORT
#   start_server LOG CMD...           any server in the background, stopped at teardown
#   make_feed DIR                     writes DIR/PULP_MANIFEST for every file under DIR
#   feed_url PORT                     http://127.0.0.1:PORT/PULP_MANIFEST
#   sync_wait NAME                    sync NAME, wait for it; the final task in $TASK, id in $ID
#   publish_wait NAME [ARG]...        same for publish
#   repo_json NAME                    repo show --json NAME
#   content_path SHA                  $DIR/content/sha256/ab/SHA
#   content_files                     sorted list of the files in $DIR/content
#   tmp_files                         files left in $DIR/tmp
#   second_depot [KEY = VALUE]...     another daemon on its own data dir; its
#                                     $DIR/$DEPOT_PID replace the first's until use_depot
#   use_depot N                       make daemon N (1, 2…) the one ctl talks to

# Servers are python3's http.server; /usr/bin/python3 starts faster than a
# pyenv shim, so it is preferred when present.
if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
else
	PY=python3
fi

setup() {
	DIR=
	DEPOT_PID=
	HAND_PIDS=()
	SERVER_PIDS=()
	DEPOTS_DIR=()
	DEPOTS_PID=()
	DEPOTS_CONF=()
	: "${DEPOT_BIN:?DEPOT_BIN must name the directory holding depotd and depotctl}"
	WORK=$(mktemp -d /tmp/dpw.XXXXXX)
}

teardown() {
	local pid i rc=0
	for pid in "${SERVER_PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	SERVER_PIDS=()
	# Every daemon registered by second_depot, then the current one.
	if [ ${#DEPOTS_DIR[@]} -gt 0 ]; then
		depot_save_current
		for i in "${!DEPOTS_DIR[@]}"; do
			DIR=${DEPOTS_DIR[$i]}
			DEPOT_PID=${DEPOTS_PID[$i]}
			[ -n "$DIR" ] || continue
			echo "=== teardown of depot $((i + 1)) ($DIR) ==="
			depot_stop || rc=1
			DEPOTS_DIR[$i]=
		done
	else
		depot_stop || rc=1
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
	return $rc
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_server LOG CMD [ARG]...: runs CMD in the background (output in
# LOG), stopped at teardown; its pid in $SERVER_PID.
start_server() {
	local log=$1
	shift
	"$@" </dev/null >"$log" 2>&1 3>&- &
	SERVER_PID=$!
	SERVER_PIDS+=("$SERVER_PID")
}

# start_http DIR: python3 -m http.server serving DIR on a free loopback
# port ($HTTP_PORT); its request log in $WORK/http-PORT.log.
start_http() {
	HTTP_PORT=$(free_port)
	start_server "$WORK/http-$HTTP_PORT.log" \
		"$PY" -m http.server --bind 127.0.0.1 --directory "$1" "$HTTP_PORT"
	HTTP_PID=$SERVER_PID
	HTTP_LOG=$WORK/http-$HTTP_PORT.log
	wait_for port_open "$HTTP_PORT" 10s
}

# An HTTPS file server: http.server with its socket wrapped by an
# ssl.SSLContext; with a CA file it requires a client certificate signed by it.
HTTPS_SERVER_PY='
import functools, http.server, ssl, sys
port, root, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if len(sys.argv) > 5:
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(sys.argv[5])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("serving https on", port, flush=True)
srv.serve_forever()
'

# start_https DIR CERT KEY [CLIENT_CA]: an HTTPS server for DIR on a free
# port ($HTTPS_PORT).
start_https() {
	HTTPS_PORT=$(free_port)
	start_server "$WORK/https-$HTTPS_PORT.log" \
		"$PY" -c "$HTTPS_SERVER_PY" "$HTTPS_PORT" "$@"
	HTTPS_LOG=$WORK/https-$HTTPS_PORT.log
	wait_for file_has "$HTTPS_LOG" 10s
	wait_for port_open "$HTTPS_PORT" 10s
}

# make_feed DIR: DIR/PULP_MANIFEST (relative_path,sha256,size) listing every
# other file under DIR, sorted by path.
make_feed() {
	local dir=$1 f list
	list=$(mktemp "$WORK/manifest.XXXXXX")
	(
		cd "$dir" || exit 1
		find . -type f ! -path ./PULP_MANIFEST -printf '%P\n' | LC_ALL=C sort |
			while IFS= read -r f; do
				printf '%s,%s,%s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c %s "$f")"
			done >"$list"
	) && chmod 644 "$list" && mv "$list" "$dir/PULP_MANIFEST"
}

# sha_of FILE
sha_of() {
	sha256sum <"$1" | cut -d' ' -f1
}

feed_url() {
	echo "http://127.0.0.1:$1/PULP_MANIFEST"
}

repo_json() {
	ctl --json repo show "$1"
}

# content_path SHA: where the content store keeps the file SHA.
content_path() {
	echo "$DIR/content/sha256/${1:0:2}/$1"
}

# content_files: every file in the content store, one a line, sorted.
content_files() {
	[ -d "$DIR/content" ] || return 0
	find "$DIR/content" -type f | LC_ALL=C sort
}

# tmp_files: whatever is left in DIR/tmp.
tmp_files() {
	[ -d "$DIR/tmp" ] || return 0
	find "$DIR/tmp" -mindepth 1
}

# unnamed_temps PID: /proc/PID/fd/N for each unnamed temp (O_TMPFILE) in
# DIR/content that process PID holds open, a sync's download being written
# or waiting to be linked into the store; the kernel shows it as
# "DIR/content/#INODE (deleted)".
unnamed_temps() {
	local fd target
	for fd in /proc/"$1"/fd/*; do
		target=$(readlink "$fd" 2>/dev/null) || continue
		[[ $target =~ ^"$DIR"/content/#[0-9]+\ \(deleted\)$ ]] && echo "$fd"
	done
	return 0
}

# unnamed_temp_of PID BYTES: the one unnamed temp of PID that holds BYTES bytes.
unnamed_temp_of() {
	local fd
	for fd in $(unnamed_temps "$1"); do
		[ "$(stat -L -c %s "$fd")" = "$2" ] && echo "$fd"
	done
	return 0
}

# submit_task CMD ARG...: `ctl CMD ARG...` that prints a task id; id in $ID.
submit_task() {
	ID=$(ctl "$@") || { echo "submit failed: $*" >&2; return 1; }
	[[ $ID =~ ^[0-9]+$ ]] || { echo "$* printed '$ID', not an id" >&2; return 1; }
}

# task_final ID: waits (30 s at most) until task ID is final, then its JSON in $TASK.
task_final() {
	local out
	out=$(ctl --json task wait "$1" --timeout 30s) || true
	TASK=$(ctl --json task show "$1")
	case $(jq -r .state <<<"$TASK") in
	completed | failed | canceled) return 0 ;;
	esac
	echo "task $1 not final after 30 s: $TASK" >&2
	return 1
}

# sync_wait NAME: submits a sync of NAME, waits for it; id in $ID, final task in $TASK.
sync_wait() {
	submit_task sync "$1" && task_final "$ID"
}

# publish_wait NAME [--version N]
publish_wait() {
	submit_task publish "$@" && task_final "$ID"
}

# task_field ID JQ: a field of task ID.
task_field() {
	ctl --json task show "$1" | jq -r "$2"
}

# download_started ID: task ID is running and has begun to download: a
# named temp is in DIR/tmp, or its worker holds an unnamed one in content/.
download_started() {
	local worker
	task_is "$1" running || return 1
	[ -z "$(tmp_files)" ] || return 0
	worker=$(worker_pid "$(worker_of_task "$1")")
	[ -n "$worker" ] && [ -n "$(unnamed_temps "$worker")" ]
}

# depot_save_current: records $DIR/$DEPOT_PID in the slot of the current daemon.
depot_save_current() {
	local i
	for i in "${!DEPOTS_DIR[@]}"; do
		if [ "${DEPOTS_DIR[$i]}" = "$DIR" ]; then
			DEPOTS_PID[$i]=$DEPOT_PID
			return 0
		fi
	done
	if [ -n "$DIR" ]; then
		DEPOTS_DIR+=("$DIR")
		DEPOTS_PID+=("$DEPOT_PID")
	fi
}

# second_depot [SECTION.KEY = VALUE]...: one more daemon with its own data
# directory (depot_start's conventions); it becomes the current one ($DIR,
# $DEPOT_PID, ctl). The earlier one is depot 1: `use_depot 1` to go back.
second_depot() {
	depot_save_current
	DIR=
	DEPOT_PID=
	depot_start "$@" || return 1
	depot_save_current
}

# use_depot N: ctl, $DIR and $DEPOT_PID refer to daemon N (1 = the first).
use_depot() {
	depot_save_current
	DIR=${DEPOTS_DIR[$(($1 - 1))]}
	DEPOT_PID=${DEPOTS_PID[$(($1 - 1))]}
}

# write_bytes FILE SIZE: SIZE random bytes into FILE.
write_bytes() {
	head -c "$2" /dev/urandom >"$1"
}

# A slow file server: PULP_MANIFEST at once, every other file trickled out
# (its Content-Length first) at about RATE bytes/s, so that a sync stays
# running as long as a test needs, whatever the client's rate limiting.
SLOW_SERVER_PY='
import functools, http.server, sys, time
port, root, rate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
class Slow(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, src, dst):
        if self.path.endswith("PULP_MANIFEST"):
            return super().copyfile(src, dst)
        chunk = max(1, rate // 10)
        while True:
            b = src.read(chunk)
            if not b:
                break
            dst.write(b)
            dst.flush()
            time.sleep(0.1)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Slow, directory=root))
srv.daemon_threads = True
srv.serve_forever()
'

# start_slow_http DIR [RATE]: SLOW_SERVER_PY on DIR (RATE bytes/s per
# file, default 50000); port in $HTTP_PORT.
start_slow_http() {
	HTTP_PORT=$(free_port)
	start_server "$WORK/http-$HTTP_PORT.log" \
		"$PY" -c "$SLOW_SERVER_PY" "$HTTP_PORT" "$1" "${2:-50000}"
	HTTP_PID=$SERVER_PID
	HTTP_LOG=$WORK/http-$HTTP_PORT.log
	wait_for port_open "$HTTP_PORT" 10s
}
