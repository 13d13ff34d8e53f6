#!/usr/bin/env bats
# depotd under systemd (depotd(8), SYSTEMD): what it tells the notify socket
# (READY=1, STATUS=, STOPPING=1, WATCHDOG=1), as a datagram socket read
# here stands in for systemd; its log lines with journald's priority prefix
# when stderr is the journal; and the units `make install` puts in place,
# as systemd-analyze verify judges them.

load helpers

SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# A test that stopped depotd (SIGSTOP) must not leave teardown's SIGTERM waiting.
teardown() {
	if [ -n "$DEPOT_PID" ]; then kill -CONT "$DEPOT_PID" 2>/dev/null || true; fi
	depot_stop
}

# notify_listen: tests/tools/notify-listen.py on $DIR/notify.sock, writing
# $DIR/notify.log; on READY=1 it pings the daemon (ready-cmd=STATUS).
notify_listen() {
	: >"$DIR/notify.log"
	env "$(depot_tag)" python3 "$SRC/tests/tools/notify-listen.py" "$DIR/notify.sock" \
		"$DIR/notify.log" "$DEPOT_BIN/depotctl" -d "$DIR" ping </dev/null 3>&- &
	HAND_PIDS+=($!)
	wait_for test -S "$DIR/notify.sock" 5s
}

# notify_launch [VAR=VALUE]...: depotd on $DIR as systemd starts a Type=notify
# service, NOTIFY_SOCKET and the given variables set; WATCHDOG_PID=self
# becomes depotd's own pid, known only once it runs (bash execs into it).
notify_launch() {
	env "$(depot_tag)" NOTIFY_SOCKET="$DIR/notify.sock" "$@" \
		bash -c '[ "${WATCHDOG_PID:-}" != self ] || export WATCHDOG_PID=$$; exec "$0" -d "$1"' \
		"$DEPOT_BIN/depotd" "$DIR" </dev/null >>"$DIR/depotd.log" 2>&1 3>&- &
	DEPOT_PID=$!
	wait_for depot_answers_or_died 10s || { depot_dump_log; return 1; }
	if pid_gone "$DEPOT_PID"; then
		depot_dump_log
		return 1
	fi
	wait_for workers_online "$(conf_value daemon.workers)" 10s || { depot_dump_log; return 1; }
}

# notified REGEX: a datagram matching REGEX (ERE, fields tab-separated) came.
notified() {
	grep -Eq -- "$1" "$DIR/notify.log"
}

# notified_count REGEX
notified_count() {
	grep -Ec -- "$1" "$DIR/notify.log" || true
}

# notified_at_least N REGEX [FROM]: N datagrams matching REGEX, counted from
# the line matching FROM (a notify_mark) when given.
notified_at_least() {
	local n
	n=$(sed -n "/${3:-^}/,\$p" "$DIR/notify.log" | grep -Ec -- "$2" || true)
	[ "$n" -ge "$1" ]
}

# process_stopped PID: PID is in state T (SIGSTOP took effect).
process_stopped() {
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# notify_mark TEXT: a datagram of our own on the socket; once it is in the
# log, so is everything depotd sent before it (one socket, in order).
notify_mark() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[2].encode(), sys.argv[1])' "$DIR/notify.sock" "$1"
	wait_for notified "	$1\$" 5s
}

@test "READY=1 comes from depotd's own pid once the control socket answers and recovered tasks are counted in STATUS=" {
	# Two tasks waiting for a worker, then a restart: READY=1 must count them.
	depot_start "daemon.workers = 0"
	submit -- true
	submit -- true
	depot_terminate
	notify_listen

	notify_launch

	wait_for notified "READY=1" 5s
	cat "$DIR/notify.log"
	[ "$(notified_count "READY=1")" -eq 1 ]
	# The ping the listener sent on receiving READY=1 was answered.
	notified "	pid=$DEPOT_PID	READY=1	STATUS=0 running, 2 waiting	ready-cmd=0$"
	# Its workers inherit NOTIFY_SOCKET but are not the service: only depotd speaks.
	[ "$(notified_count "	pid=$DEPOT_PID	")" -eq "$(wc -l <"$DIR/notify.log")" ]
}

@test "STATUS= follows the running and waiting counts, at most once a second" {
	depot_init "daemon.workers = 1"
	notify_listen
	notify_launch
	wait_for notified "READY=1	STATUS=0 running, 0 waiting" 5s

	submit -- sleep 30
	first=$ID
	wait_for notified "^[^	]*	pid=$DEPOT_PID	STATUS=1 running, 0 waiting$" 5s
	submit -- sleep 30
	wait_for notified "STATUS=1 running, 1 waiting$" 5s
	ctl task cancel "$first"
	# Each change above came as one STATUS= line, and never two within a second.
	wait_for notified_at_least 2 "STATUS=1 running, 0 waiting$" 5s
	cat "$DIR/notify.log"
	grep -E "	STATUS=" "$DIR/notify.log" | grep -v READY |
		awk -F'\t' '{ t = substr($1, 3) } NR > 1 && t - last < 900 { bad = 1 } { last = t } END { exit bad }'
}

@test "STOPPING=1 comes at SIGTERM, while the running task still has its cancel_grace, with a longer stop timeout" {
	depot_init "daemon.workers = 1" "monitor.cancel_grace = 3s"
	notify_listen
	notify_launch
	submit -- sh -c "trap '' TERM; while :; do sleep 0.1; done"
	wait_for notified "STATUS=1 running" 5s

	kill -TERM "$DEPOT_PID"

	wait_for notified "pid=$DEPOT_PID	STOPPING=1	STATUS=stopping: 1 running, 0 waiting	EXTEND_TIMEOUT_USEC=[0-9]+$" 2s
	# Sent at the start of the stop, not at its end: the task still holds depotd up.
	if pid_gone "$DEPOT_PID"; then false; fi
	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ]
	[ "$(notified_count "STOPPING=1")" -eq 1 ]
}

@test "WATCHDOG=1 pings come from the main loop at half WATCHDOG_USEC, and stop while the loop is wedged" {
	depot_init "daemon.workers = 1"
	notify_listen
	# 400 ms: a ping every 200 ms.
	notify_launch WATCHDOG_USEC=400000 WATCHDOG_PID=self
	wait_for notified_at_least 5 "pid=$DEPOT_PID	WATCHDOG=1$" 5s
	# systemd's watchdog starts at READY=1: a ping goes with it.
	notified "pid=$DEPOT_PID	READY=1	WATCHDOG=1	STATUS="

	# The hostile case: the main process stopped, as a loop stuck in a call would be.
	kill -STOP "$DEPOT_PID"
	wait_for process_stopped "$DEPOT_PID" 5s
	notify_mark "MARK=stopped"
	# Three watchdog intervals: systemd would have killed it by now.
	sleep 1.2
	cat "$DIR/notify.log"
	if notified_at_least 1 "WATCHDOG=1" "	MARK=stopped$"; then false; fi

	kill -CONT "$DEPOT_PID"
	wait_for notified_at_least 2 "pid=$DEPOT_PID	WATCHDOG=1$" "	MARK=stopped$" 5s
	# Every ping is depotd's own, none a worker's; and one each 200 ms, not
	# each pass of the loop (up to 10 a second idle, more when busy).
	[ "$(grep "WATCHDOG=1" "$DIR/notify.log" | grep -vc "	pid=$DEPOT_PID	")" -eq 0 ]
	sed '/	MARK=stopped$/,$d' "$DIR/notify.log" | grep "WATCHDOG=1" |
		awk -F'\t' '{ t = substr($1, 3) } NR == 1 { first = t } END { exit NR > (t - first) / 200 + 2 }'
}

@test "no WATCHDOG=1 when WATCHDOG_PID names another process, and READY=1 still comes" {
	depot_init "daemon.workers = 1"
	notify_listen

	notify_launch WATCHDOG_USEC=200000 WATCHDOG_PID=1

	wait_for notified "READY=1" 5s
	notify_mark "MARK=ready"
	sleep 0.5
	notify_mark "MARK=later"
	cat "$DIR/notify.log"
	[ "$(notified_count "WATCHDOG=1")" -eq 0 ]
}

@test "a reload (SIGHUP) says RELOADING=1, then READY=1 again, also when the file is refused" {
	depot_init "daemon.workers = 1"
	notify_listen
	notify_launch
	wait_for notified "READY=1" 5s

	kill -HUP "$DEPOT_PID"
	wait_for notified_at_least 2 "pid=$DEPOT_PID	READY=1" 5s
	echo bogus >>"$DIR/depot.conf"
	kill -HUP "$DEPOT_PID"
	wait_for notified_at_least 3 "pid=$DEPOT_PID	READY=1" 5s

	cat "$DIR/notify.log"
	# Each reload is RELOADING=1 then READY=1, in that order.
	[ "$(grep -E "	(RELOADING|READY)=1" "$DIR/notify.log" | grep -Eo "(RELOADING|READY)=1" | tr '\n' ' ')" = \
		"READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 " ]
	grep -q "reload refused: $DIR/depot.conf:[0-9]*: " "$DIR/depotd.log"
}

@test "with stderr the journal (JOURNAL_STREAM), each line starts with its priority and has no time of ours; workers' too" {
	depot_init "daemon.workers = 1"
	# A warning at start: a link where logs/ should be.
	ln -s /nonexistent "$DIR/logs"
	: >"$DIR/depotd.log"
	export JOURNAL_STREAM=$(stat -c '%d:%i' "$DIR/depotd.log")

	depot_launch

	cat "$DIR/depotd.log"
	grep -q '^<6>depotd: depotd .* started on ' "$DIR/depotd.log"
	grep -q '^<6>depotd-worker: worker w1 connected$' "$DIR/depotd.log"
	grep -q '^<4>depotd: .*logs' "$DIR/depotd.log"
	# Every line has a priority, and none a timestamp.
	if grep -v '^<[3467]>depotd\(-worker\)\?: ' "$DIR/depotd.log"; then false; fi
	if grep -E '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' "$DIR/depotd.log"; then false; fi

	# An error: a second depotd on the same directory, its stderr another journal stream.
	: >"$DIR/second.log"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$DIR/second.log") \
		timeout 20 "$DEPOT_BIN/depotd" -d "$DIR" </dev/null 2>"$DIR/second.log" 3>&- || true
	cat "$DIR/second.log"
	grep -q "^<3>depotd: another depotd (pid $DEPOT_PID) is using $DIR$" "$DIR/second.log"
}

@test "without JOURNAL_STREAM, or when it names another file than stderr, lines keep their time and level" {
	depot_init "daemon.workers = 1"
	: >"$DIR/other"
	# Inherited from a parent whose stderr was the journal, while ours is a file.
	export JOURNAL_STREAM=$(stat -c '%d:%i' "$DIR/other")

	depot_launch

	cat "$DIR/depotd.log"
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z depotd\[info\]: depotd .* started on ' "$DIR/depotd.log"
	grep -Eq '^[0-9T:.-]+Z depotd-worker\[info\]: worker w1 connected$' "$DIR/depotd.log"
	if grep -q '^<' "$DIR/depotd.log"; then false; fi
}

@test "make install puts the units, sysusers.d and tmpfiles.d entries in place, and systemd-analyze verify accepts each unit" {
	DIR=$(mktemp -d /tmp/dp.XXXXXX)
	# Build nothing: install what DEPOT_BIN holds (make check's build).
	local build=(BUILD="$DEPOT_BIN")

	# A packager's install: staged under DESTDIR, for /usr.
	make -s -C "$SRC" "${build[@]}" install DESTDIR="$DIR/stage" PREFIX=/usr >/dev/null
	for f in lib/systemd/system/depotd.service lib/systemd/system/depot-worker@.service \
	    lib/sysusers.d/depot.conf lib/tmpfiles.d/depot.conf; do
		[ -f "$DIR/stage/usr/$f" ]
	done
	[ ! -e "$DIR/stage/usr/share/depot/depotd.service" ]
	grep -qx 'ExecStart=/usr/bin/depotd -d /var/lib/depot' "$DIR/stage/usr/lib/systemd/system/depotd.service"
	grep -qx 'ExecStart=/usr/bin/depotd -d /var/lib/depot --worker %i' \
		"$DIR/stage/usr/lib/systemd/system/depot-worker@.service"
	# The depot user, as systemd-sysusers reads the entry.
	run systemd-sysusers --dry-run --root="$DIR/stage" 2>&1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"Creating user 'depot'"* ]]

	# verify checks that ExecStart= and the man pages exist: an install in a
	# prefix of its own, where they do.
	make -s -C "$SRC" "${build[@]}" install PREFIX="$DIR/usr" >/dev/null
	for unit in depotd.service depot-worker@.service; do
		diff <(sed "s|$DIR/usr|/usr|g" "$DIR/usr/lib/systemd/system/$unit") \
			"$DIR/stage/usr/lib/systemd/system/$unit"
	done
	cd "$DIR/usr/lib/systemd/system"
	for unit in depotd.service depot-worker@build1.service; do
		run env MANPATH="$DIR/usr/share/man" systemd-analyze verify "$unit"
		echo "$unit: $output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}
