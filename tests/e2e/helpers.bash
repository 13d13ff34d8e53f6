# helpers.bash: what every e2e test shares (load with `load helpers`).
#
# Each test gets a private daemon on a short temporary data directory with
# fast timers, talks to it with `ctl`, synchronises only by polling a
# condition with `wait_for`, and leaves no process behind (teardown).
#
#   depot_start [SECTION.KEY = VALUE]...   new data dir, depot.conf, daemon up
#   depot_launch                           (re)start depotd on the same $DIR
#   depot_stop                             SIGTERM, check it exits 0, clean up
#   depot_kill / depot_terminate           SIGKILL / SIGTERM the daemon in a test
#   ctl ARG...                             depotctl -d $DIR ARG...
#   wait_for CMD [ARG]... [Ns]             retry CMD every 50 ms for N s (10s)
#   task_state ID / task_reason ID         .state / .error.reason of a task
#   start_hand_worker NAME, start_events FILE   background processes, stopped at teardown

# run --separate-stderr and friends.
bats_require_minimum_version 1.5.0

# Defaults: timers fast enough that a test sees a heartbeat timeout in
# seconds; each can be overridden or extended by depot_start's arguments.
DEPOT_DEFAULT_CONF=(
	"daemon.workers = 2"
	"monitor.heartbeat_interval = 200ms"
	"monitor.worker_timeout = 1500ms"
	"monitor.check_interval = 200ms"
	"monitor.cancel_grace = 3s"
	"monitor.stall_after = 60s"
)

# Every process a test starts (daemon, workers, their tasks) inherits this
# variable, so teardown can find stragglers whatever their command line.
# A task's environment is its submitter's (DESIGN §5), never depotd's:
# ctl passes the tag on to every task it submits. (LC_: a name no
# env_deny pattern matches.)
depot_tag() {
	echo "LC_DEPOT_E2E_TAG=$DIR"
}

setup() {
	DIR=
	DEPOT_PID=
	HAND_PIDS=()
	: "${DEPOT_BIN:?DEPOT_BIN must name the directory holding depotd and depotctl}"
}

teardown() {
	depot_stop
}

# Milliseconds since the epoch.
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# rfc3339_ms TIME: milliseconds since the epoch of an RFC 3339 time.
rfc3339_ms() {
	date -d "$1" +%s%3N
}

# wait_for CMD [ARG]... [Ns]: runs CMD every 50 ms until it succeeds, or
# fails (naming CMD) when N seconds (default 10) have passed. A last
# argument like "5s" or "2.5s" is the deadline, not part of CMD.
wait_for() {
	local timeout=10 last=${!#}
	if [[ $# -gt 1 && $last =~ ^[0-9]+(\.[0-9]+)?s$ ]]; then
		timeout=${last%s}
		set -- "${@:1:$#-1}"
	fi
	local deadline=$(($(now_ms) + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')))
	while ! "$@"; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			echo "wait_for: gave up after ${timeout}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

ctl() {
	LC_DEPOT_E2E_TAG=$DIR "$DEPOT_BIN/depotctl" -d "$DIR" "$@"
}

# conf_value KEY: the value depot.conf was written with ("daemon.workers").
conf_value() {
	local line value=
	for line in "${DEPOT_CONF[@]}"; do
		[[ ${line%%=*} == "$1 " || ${line%%=*} == "$1" ]] && value=${line#*=}
	done
	echo "${value# }"
}

# depot_start [SECTION.KEY = VALUE]...: a new data directory whose
# depot.conf holds the defaults above, overridden or extended by the
# arguments; then starts the daemon and waits until it is ready.
depot_start() {
	depot_init "$@"
	depot_launch
}

# depot_init [SECTION.KEY = VALUE]...: the data directory and depot.conf only.
depot_init() {
	DIR=$(mktemp -d /tmp/dp.XXXXXX)
	DEPOT_CONF=("${DEPOT_DEFAULT_CONF[@]}" "$@")
	depot_write_conf
}

# Writes DEPOT_CONF as INI, one section at a time; a later KEY wins.
depot_write_conf() {
	local -A value=()
	local -a order=()
	local line key section
	for line in "${DEPOT_CONF[@]}"; do
		key=${line%%=*}
		key=${key// /}
		[ -n "${value[$key]+set}" ] || order+=("$key")
		value[$key]=$(echo "${line#*=}" | sed 's/^ *//')
	done
	{
		for section in $(printf '%s\n' "${order[@]}" | cut -d. -f1 | awk '!seen[$0]++'); do
			echo "[$section]"
			for key in "${order[@]}"; do
				if [ "${key%%.*}" = "$section" ]; then echo "${key#*.} = ${value[$key]}"; fi
			done
		done
	} >"$DIR/depot.conf"
}

# depot_launch: starts depotd on $DIR (again, after a stop or a kill) and
# waits until it answers ping and every supervised worker is online.
# DEPOT_LAUNCH_ENV: NAME=VALUE words depot_launch adds to depotd's environment (a test's shim).
DEPOT_LAUNCH_ENV=()

# preload_hold NAME=VALUE...: the daemon started next (its workers too)
# preloads tests/tools/hold.so, its gates and faults set by the words
# given; ASan, loaded after it, is told not to mind.
preload_hold() {
	DEPOT_LAUNCH_ENV=("LD_PRELOAD=$DEPOT_BIN/tests/hold.so" "$@"
		"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
}
# hold_at CALL: the daemon started next preloads hold.so with its gate for
# CALL closed (SYNCFS, TMPFILE, LINK, NFTW, DBCHECK: tests/tools/hold.c):
# the call waits, having made $GATE.held, until the test removes $GATE.
hold_at() {
	GATE=$BATS_TEST_TMPDIR/gate-$1
	touch "$GATE"
	preload_hold "DEPOT_TEST_$1_GATE=$GATE"
}

# gate_held: a call waits at hold_at's gate (for wait_for).
gate_held() {
	[ -e "$GATE.held" ]
}

depot_launch() {
	env "$(depot_tag)" ${DEPOT_LAUNCH_ENV[@]+"${DEPOT_LAUNCH_ENV[@]}"} "$DEPOT_BIN/depotd" -d "$DIR" \
		</dev/null >>"$DIR/depotd.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers_or_died 10s || { depot_dump_log; return 1; }
	if pid_gone "$DEPOT_PID"; then
		echo "depotd exited at start-up:" >&2
		depot_dump_log
		return 1
	fi
	wait_for workers_online "$(conf_value daemon.workers)" 10s ||
		{ depot_dump_log; return 1; }
}

# depot_launch_env VAR=VALUE...: depot_launch with more environment for
# depotd (and so its workers), this launch only.
depot_launch_env() {
	local DEPOT_LAUNCH_ENV=(${DEPOT_LAUNCH_ENV[@]+"${DEPOT_LAUNCH_ENV[@]}"} "$@")
	depot_launch
}

# depot_kill: SIGKILL the daemon (as a crash would) and reap it.
depot_kill() {
	kill -KILL "$DEPOT_PID"
	wait "$DEPOT_PID" 2>/dev/null || true
	DEPOT_PID=
}

# depot_terminate: SIGTERM the daemon and wait (20 s at most) for it to
# exit; its exit status in DEPOT_STATUS (255 when it had to be killed).
depot_terminate() {
	local deadline=$(($(now_ms) + 20000))
	kill -TERM "$DEPOT_PID"
	while ! pid_gone "$DEPOT_PID" && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	if ! pid_gone "$DEPOT_PID"; then
		echo "depotd (pid $DEPOT_PID) still running 20 s after SIGTERM" >&2
		depot_backtrace "$DEPOT_PID"
		kill -KILL "$DEPOT_PID"
		wait "$DEPOT_PID" 2>/dev/null || true
		DEPOT_STATUS=255
	else
		DEPOT_STATUS=0
		wait "$DEPOT_PID" 2>/dev/null || DEPOT_STATUS=$?
	fi
	DEPOT_PID=
}

# depot_answers_or_died: the daemon answers ping, or is no longer there to.
depot_answers_or_died() {
	depot_answers || pid_gone "$DEPOT_PID"
}

# depot_answers: the daemon answers ping.
depot_answers() {
	ctl ping >/dev/null 2>&1
}

# workers_online N: at least N supervised workers are online.
workers_online() {
	local n
	n=$(ctl --json worker list |
		jq '[.[] | select(.supervised and .state == "online")] | length') || return 1
	[ "$n" -ge "$1" ]
}

# worker_pid NAME: the pid the daemon has for worker NAME.
worker_pid() {
	ctl --json worker list | jq -r --arg n "$1" '.[] | select(.name == $n) | .pid'
}

# worker_state NAME
worker_state() {
	ctl --json worker list | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'
}

# worker_is NAME STATE: the daemon lists worker NAME in STATE (for wait_for).
worker_is() {
	[ "$(worker_state "$1")" = "$2" ]
}

# worker_replaced NAME OLDPID: worker NAME is online again with another pid.
worker_replaced() {
	local pid
	pid=$(worker_pid "$1")
	[ -n "$pid" ] && [ "$pid" != "$2" ] && worker_is "$1" online
}

# pid_gone PID: no process PID any more (a zombie counts as gone).
# One read of /proc/PID/stat decides: with kill -0 first, bash could reap its
# own child's zombie between the two looks, and a process already gone was
# taken for one still running (daemon.bats' "still running 20 s after
# SIGTERM", printed 2 s after it).
pid_gone() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	# The state follows the command's name, which may hold ") ".
	stat=${stat##*) }
	[ -z "$stat" ] || [ "${stat%% *}" = Z ]
}

# worker_of_task ID: the name of the worker running task ID.
worker_of_task() {
	ctl --json task show "$1" | jq -r '.worker // empty'
}

# start_hand_worker NAME: `depotd --worker NAME` started by an administrator.
start_hand_worker() {
	env "$(depot_tag)" "$DEPOT_BIN/depotd" --worker "$1" -d "$DIR" \
		</dev/null >>"$DIR/hand-$1.log" 2>&1 3>&- &
	HAND_PIDS+=($!)
	LAST_HAND_PID=$!
}

# start_events FILE [ARG]...: `depotctl events ARG...` in the background,
# its lines into FILE; stopped at teardown.
start_events() {
	local file=$1
	shift
	# Not through ctl: a function in the background is a subshell, and
	# stopping it would leave depotctl (which carries the tag) behind.
	LC_DEPOT_E2E_TAG=$DIR "$DEPOT_BIN/depotctl" -d "$DIR" events "$@" \
		</dev/null >"$file" 2>"$file.err" 3>&- &
	HAND_PIDS+=($!)
	EVENTS_PID=$!
}

# events_subscribed FILE [RUN-OPTION]...: the `events` subscriber writing
# FILE receives (for wait_for). Probes with a trivial task, `run
# RUN-OPTION... -- true`, until its first event arrives: `--in 1h` makes a
# probe that no worker ever runs.
events_subscribed() {
	local file=$1
	shift
	[ -s "$file" ] && return 0
	ctl run "$@" -- true >/dev/null
	wait_for file_has "$file" 0.3s 2>/dev/null
}

task_state() {
	ctl --json task show "$1" | jq -r .state
}

task_reason() {
	ctl --json task show "$1" | jq -r '.error.reason // empty'
}

# task_is ID STATE...: task ID is in one of the STATEs (for wait_for).
task_is() {
	local id=$1 state s
	shift
	state=$(task_state "$id") || return 1
	for s in "$@"; do
		[ "$state" = "$s" ] && return 0
	done
	return 1
}

# in_dir DIR CMD...: CMD run from DIR, as a user who cd'd there would.
in_dir() {
	local dir=$1
	shift
	(cd "$dir" && PWD=$dir "$@")
}

# submit ARG...: `ctl run ARG...`, the new task's id in $ID.
submit() {
	ID=$(ctl run "$@") || { echo "submit failed: run $*" >&2; return 1; }
	[[ $ID =~ ^[0-9]+$ ]] || { echo "run printed '$ID', not an id" >&2; return 1; }
}

# file_has FILE: FILE exists and is not empty.
file_has() {
	[ -s "$1" ]
}

# Pids of every process that inherited this test's tag.
depot_leftovers() {
	[ -n "$DIR" ] || return 0
	grep -lzx "$(depot_tag)" /proc/[0-9]*/environ 2>/dev/null |
		cut -d/ -f3 | grep -vx "$$"
	return 0
}

depot_dump_log() {
	if [ -n "$DIR" ] && [ -f "$DIR/depotd.log" ]; then
		echo "--- depotd.log (last ${DEPOT_LOG_LINES:-150} lines; set DEPOT_LOG_LINES for more) ---"
		tail -n "${DEPOT_LOG_LINES:-150}" "$DIR/depotd.log"
		echo "--- end of depotd.log ---"
	fi
}

# stop_pid PID [SECONDS]: SIGCONT+SIGTERM, then SIGKILL if still there after SECONDS.
stop_pid() {
	local pid=$1 deadline=$(($(now_ms) + ${2:-5} * 1000))
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null || return 0
	while ! pid_gone "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	return 0
}

# depot_backtrace PID: where a hung process is stuck (every thread), if gdb is there.
depot_backtrace() {
	local t
	# What the kernel says first: a process stuck in its exit has no stack for gdb.
	echo "--- kernel's view of pid $1 ($(date +%T.%N)) ---"
	for t in /proc/"$1"/task/*; do
		echo "$(cat "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/    /' "$t/stack" 2>/dev/null
	done
	command -v gdb >/dev/null || return 0
	echo "--- threads of pid $1 ---"
	timeout 30 gdb -batch -nx -p "$1" -ex 'thread apply all bt' 2>/dev/null |
		grep -E '^(Thread|#)' | head -n 200
}

# depot_stop: SIGTERM the daemon and wait (bounded) for it to exit, stop
# hand-started workers, kill whatever is left, show the daemon's log (bats
# prints it only when the test failed) and remove the data directory.
# Fails when the daemon had died on its own, did not exit 0 on SIGTERM, or
# left a worker or task process running.
depot_stop() {
	local rc=0 status pid deadline left
	[ -n "$DIR" ] || return 0
	if [ -n "$DEPOT_PID" ]; then
		if ! pid_gone "$DEPOT_PID" && kill -TERM "$DEPOT_PID" 2>/dev/null; then
			deadline=$(($(now_ms) + 20000))
			while ! pid_gone "$DEPOT_PID" && [ "$(now_ms)" -lt "$deadline" ]; do
				sleep 0.05
			done
			if ! pid_gone "$DEPOT_PID"; then
				echo "depot_stop: depotd (pid $DEPOT_PID) still running 20 s after SIGTERM" >&2
				depot_backtrace "$DEPOT_PID"
				kill -KILL "$DEPOT_PID" 2>/dev/null
				rc=1
			fi
			status=0
			wait "$DEPOT_PID" 2>/dev/null || status=$?
			if [ "$rc" -eq 0 ] && [ "$status" -ne 0 ]; then
				echo "depot_stop: depotd exited with status $status on SIGTERM" >&2
				rc=1
			fi
		else
			status=0
			wait "$DEPOT_PID" 2>/dev/null || status=$?
			echo "depot_stop: depotd (pid $DEPOT_PID) had died before teardown (status $status)" >&2
			rc=1
		fi
		DEPOT_PID=
	fi
	# Hand-started workers and other background processes of the test.
	for pid in "${HAND_PIDS[@]}"; do
		stop_pid "$pid" 5
	done
	HAND_PIDS=()
	# The daemon stops its workers and they their tasks: give them a moment.
	deadline=$(($(now_ms) + 5000))
	while left=$(depot_leftovers) && [ -n "$left" ] && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	if [ -n "$left" ]; then
		echo "depot_stop: processes left running after the daemon stopped:" >&2
		for pid in $left; do
			echo "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
			kill -CONT "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
		done
		rc=1
	fi
	pkill -KILL -f "$DIR" 2>/dev/null
	depot_dump_log
	rm -rf "$DIR"
	DIR=
	return $rc
}

# rogue LINE...: one process speaking the worker protocol as a hostile or
# broken worker would, a request per LINE, $PID in them replaced by its own
# pid (what hello must carry); its replies a line each in $output.
rogue() {
	printf '%s\n' "$@" >"$DIR/rogue.in"
	run bash -c 'sed "s/\$PID/$$/g" "$1" >"$1.sent"; exec "$2" --lines "$3" 8000 <"$1.sent"' _ \
		"$DIR/rogue.in" "$DEPOT_BIN/tests/nng-send" "ipc://$DIR/run/worker.sock"
}
