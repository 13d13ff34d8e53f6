#!/usr/bin/env bats
# SIGHUP: depotd reads depot.conf again and applies it without canceling
# anything; a bad file is refused whole and the settings in force stay.
#
# Judged from outside the daemon: the workers' processes in /proc, traces
# the tasks' commands write, the sockets' modes; status only for what it
# alone can say (the settings in force, when they were loaded).

load helpers

# gated_cmd: a command that writes "start ID" to $DIR/trace.ID, waits for
# $DIR/gate.ID, then writes "end ID".
gated_cmd() {
	echo "t=$DIR/trace.\$DEPOT_TASK_ID; echo start \$DEPOT_TASK_ID >>\$t;" \
		"until [ -e $DIR/gate.\$DEPOT_TASK_ID ]; do sleep 0.05; done;" \
		"echo end \$DEPOT_TASK_ID >>\$t"
}

# trace_has ID WORD: the trace of task ID holds "WORD ID".
trace_has() {
	grep -qx "$2 $1" "$DIR/trace.$1" 2>/dev/null
}

# worker_procs: pids of the live (not zombie) worker processes this depotd supervises.
worker_procs() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -q -- "--worker w[0-9]* -d $DIR --supervised-by $DEPOT_PID " &&
			! pid_gone "$pid"; then
			echo "$pid"
		fi
	done
}

# worker_procs_are N: exactly N supervised worker processes live.
worker_procs_are() {
	[ "$(worker_procs | wc -l)" -eq "$1" ]
}

# set_conf SECTION.KEY = VALUE...: depot.conf rewritten with these over what it held.
set_conf() {
	DEPOT_CONF+=("$@")
	depot_write_conf
}

# hup_applied N: N reloads were logged as applied or refused.
reloads_logged() {
	[ "$(grep -c -E 'reloaded .*depot.conf|reload refused' "$DIR/depotd.log")" -ge "$1" ]
}

loaded_at() {
	ctl --json status | jq -r .config.loaded_at
}

@test "workers 2 -> 3: a third worker comes online and a running task completes" {
	depot_start
	worker_procs_are 2
	submit -- sh -c "$(gated_cmd)"
	wait_for trace_has "$ID" start
	before=$(loaded_at)
	set_conf "daemon.workers = 3"
	kill -HUP "$DEPOT_PID"
	wait_for workers_online 3
	wait_for worker_procs_are 3
	[ "$(worker_state w3)" = online ]
	[ "$(ctl --json status | jq .config.workers)" -eq 3 ]
	[ "$(ctl --json status | jq .config.last_reload.ok)" = true ]
	[ "$(loaded_at)" != "$before" ]
	# The task ran on through the reload.
	task_is "$ID" running
	touch "$DIR/gate.$ID"
	wait_for task_is "$ID" completed completed canceled failed
	[ "$(task_state "$ID")" = completed ]
	trace_has "$ID" end
}

@test "workers 3 -> 1: an idle worker retires at once, a busy one finishes its task first" {
	depot_start "daemon.workers = 3"
	# Every worker busy, so that each is known by its task.
	submit -- sh -c "$(gated_cmd)"; a=$ID
	submit -- sh -c "$(gated_cmd)"; b=$ID
	submit -- sh -c "$(gated_cmd)"; c=$ID
	for id in $a $b $c; do wait_for trace_has "$id" start; done
	declare -A task_on
	for id in $a $b $c; do task_on[$(worker_of_task "$id")]=$id; done
	[ "${#task_on[@]}" -eq 3 ]
	# w3 and w1 become idle; w2 stays busy through the reload.
	touch "$DIR/gate.${task_on[w3]}" "$DIR/gate.${task_on[w1]}"
	wait_for task_is "${task_on[w3]}" completed
	wait_for task_is "${task_on[w1]}" completed
	w2=$(worker_pid w2)
	w3=$(worker_pid w3)
	set_conf "daemon.workers = 1"
	kill -HUP "$DEPOT_PID"
	wait_for reloads_logged 1
	# The idle w3 goes; the busy w2 stays while its task runs.
	wait_for pid_gone "$w3"
	if pid_gone "$w2"; then false; fi
	task_is "${task_on[w2]}" running
	if trace_has "${task_on[w2]}" end; then false; fi
	# Configured is what the reload asked for, though w2 still runs until its task ends.
	[ "$(ctl metrics | awk '$1 == "depot_workers_configured" { print $2 }')" = 1 ]
	touch "$DIR/gate.${task_on[w2]}"
	wait_for pid_gone "$w2"
	[ "$(task_state "${task_on[w2]}")" = completed ]
	trace_has "${task_on[w2]}" end
	wait_for worker_procs_are 1
	# Status no longer lists the retired workers, and nothing was canceled.
	[ "$(ctl --json worker list | jq -r '[.[].name] | join(" ")')" = w1 ]
	[ "$(ctl --json task list --state canceled | jq length)" -eq 0 ]
	# The one left still runs tasks.
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
	ctl --json status | jq -e .healthy
}

@test "a bad depot.conf is refused whole, naming FILE:LINE; the old settings stay" {
	depot_start
	before=$(loaded_at)
	# A good change before the bad line must not be applied either.
	printf '[daemon]\nworkers = 3\n[monitor]\nheartbeat_interval = 300ms\nbogus_key = 1\n' \
		>"$DIR/depot.conf"
	kill -HUP "$DEPOT_PID"
	wait_for reloads_logged 1
	grep -q "reload refused: $DIR/depot.conf:5: unknown key 'bogus_key' in \[monitor\]" \
		"$DIR/depotd.log"
	# Exit 1: unhealthy (below), and still answering.
	run ctl --json status
	[ "$status" -eq 1 ]
	[ "$(jq .config.workers <<<"$output")" -eq 2 ]
	[ "$(jq -r .config.loaded_at <<<"$output")" = "$before" ]
	[ "$(jq .config.last_reload.ok <<<"$output")" = false ]
	[[ $(jq -r .config.last_reload.error <<<"$output") == "$DIR/depot.conf:5: "* ]]
	# Unhealthy until fixed: the next start would stop at that line.
	[ "$(jq .healthy <<<"$output")" = false ]
	jq -e '.problems[] | select(test("refused depot.conf .*depot.conf:5"))' <<<"$output"
	[ "$(jq .monitor.heartbeat_interval_ms <<<"$output")" -eq 200 ]
	worker_procs_are 2
	run ctl status
	[[ $output == *"REFUSED: $DIR/depot.conf:5"* ]]
	# depotctl reload says the same, and fails.
	run ctl reload
	[ "$status" -eq 1 ]
	[[ $output == *"$DIR/depot.conf:5: unknown key 'bogus_key' in [monitor]"* ]]
	[ "$(loaded_at)" = "$before" ]
	# Still working.
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
	worker_procs_are 2
	# A good file again: applied, and healthy.
	depot_write_conf
	ctl reload
	ctl --json status | jq -e '.healthy and .config.last_reload.ok'
}

@test "a timer change (heartbeat_interval) and log_level take effect" {
	depot_start "monitor.heartbeat_interval = 1s" "monitor.worker_timeout = 1500ms"
	[ "$(ctl --json status | jq .monitor.heartbeat_interval_ms)" -eq 1000 ]
	submit -- sh -c "$(gated_cmd)"
	wait_for trace_has "$ID" start
	pids=$(worker_procs | sort)
	# Shorter than the interval the workers wait now: none may be taken for missing.
	set_conf "monitor.heartbeat_interval = 100ms" "monitor.worker_timeout = 300ms" \
		"daemon.log_level = debug"
	kill -HUP "$DEPOT_PID"
	wait_for reloads_logged 1
	reloaded=$(now_ms)
	[ "$(ctl --json status | jq .monitor.heartbeat_interval_ms)" -eq 100 ]
	[ "$(ctl --json status | jq .monitor.worker_timeout_ms)" -eq 300 ]
	[ "$(ctl --json status | jq -r .config.log_level)" = debug ]
	# Every worker heartbeats past the old interval, on the new one.
	hb_since() {
		local t
		for t in $(ctl --json worker list | jq -r '.[].last_heartbeat'); do
			[ "$(rfc3339_ms "$t")" -gt "$1" ] || return 1
		done
	}
	wait_for hb_since $((reloaded + 1200))
	if grep -q "marking it missing" "$DIR/depotd.log"; then false; fi
	[ "$(worker_procs | sort)" = "$pids" ]
	touch "$DIR/gate.$ID"
	wait_for task_is "$ID" completed
	# Debug lines are written now (a dispatch logs one).
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
	grep -q '\[debug\]: task [0-9]* started on' "$DIR/depotd.log"
}

@test "[resources] capacities reload; an administrator's resource set still wins" {
	depot_start "resources.pool = 1" "resources.other = 1"
	submit --slot pool -- sh -c "$(gated_cmd)"; a=$ID
	submit --slot pool -- sh -c "$(gated_cmd)"; b=$ID
	wait_for trace_has "$a" start
	task_is "$b" waiting
	ctl resource set other --capacity 1
	set_conf "resources.pool = 2" "resources.other = 5"
	kill -HUP "$DEPOT_PID"
	# The second slot is there at once: b starts beside a.
	wait_for trace_has "$b" start
	capacity() { ctl --json resource list | jq -r --arg n "$1" '.[] | select(.name == $n) | .capacity'; }
	[ "$(capacity pool)" -eq 2 ]
	[ "$(capacity other)" -eq 1 ]
	touch "$DIR/gate.$a" "$DIR/gate.$b"
	wait_for task_is "$a" completed
	wait_for task_is "$b" completed
}

@test "restart-only keys keep their value, with a warning" {
	depot_start
	set_conf "daemon.max_message = 2MiB" "daemon.durability = full" \
		"metrics.listen = 127.0.0.1:19469"
	kill -HUP "$DEPOT_PID"
	wait_for reloads_logged 1
	grep -q "\[metrics\] listen changes only when depotd restarts; keeping ''" "$DIR/depotd.log"
	# Nothing listens there: the old (empty) value stayed.
	if (exec 3<>/dev/tcp/127.0.0.1/19469) 2>/dev/null; then false; fi
	grep -q "max_message changes only when depotd restarts; keeping 1048576 bytes" "$DIR/depotd.log"
	grep -q "durability changes only when depotd restarts; keeping normal" "$DIR/depotd.log"
	[ "$(ctl --json status | jq .config.last_reload.ok)" = true ]
}

@test "a socket_group change re-owns the control socket, run/ and DIR" {
	if [ "$(id -u)" -eq 0 ]; then group=nogroup; else group=$(id -gn); fi
	getent group "$group" >/dev/null || skip "no group $group"
	depot_start
	[ "$(stat -c %a "$DIR/run/control.sock")" = 600 ]
	set_conf "daemon.socket_group = $group"
	kill -HUP "$DEPOT_PID"
	wait_for reloads_logged 1
	[ "$(stat -c %G "$DIR/run/control.sock")" = "$group" ]
	[ "$(stat -c %a "$DIR/run/control.sock")" = 660 ]
	[ "$(stat -c %a "$DIR/run/events.sock")" = 660 ]
	[ "$(stat -c %a "$DIR/run/worker.sock")" = 600 ]
	[ "$(stat -c %a "$DIR/run")" = 710 ]
	[ "$(stat -c %a "$DIR")" = 710 ]
	# A member of the group reaches the daemon now (as root, when one can be played).
	as_member() {
		setpriv --reuid=nobody --regid="$(getent group "$group" | cut -d: -f3)" \
			--clear-groups "$DEPOT_BIN/depotctl" -d "$DIR" ping
	}
	member=0
	if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then member=1; fi
	if [ "$member" -eq 1 ]; then as_member; fi
	# depotctl reload does as SIGHUP does, and answers once it is done.
	set_conf "daemon.socket_group = "
	run ctl reload
	[ "$status" -eq 0 ]
	[[ $output == "reloaded $DIR/depot.conf"* ]]
	[ "$(stat -c %a "$DIR/run/control.sock")" = 600 ]
	[ "$(stat -c %a "$DIR/run")" = 700 ]
	[ "$(stat -c %a "$DIR")" = 700 ]
	if [ "$member" -eq 1 ]; then
		run as_member
		[ "$status" -eq 3 ]
	fi
	ctl ping
}

@test "hostile: 100 SIGHUPs in a row leave the daemon answering, with no leaked worker" {
	depot_start
	submit -- sh -c "$(gated_cmd)"
	wait_for trace_has "$ID" start
	set_conf "daemon.workers = 1"
	cp "$DIR/depot.conf" "$DIR/one.conf"
	set_conf "daemon.workers = 3"
	cp "$DIR/depot.conf" "$DIR/three.conf"
	# Workers added and retired back and forth, as fast as the signals come;
	# each file renamed into place, as an administrator's editor would.
	for i in $(seq 100); do
		if [ $((i % 2)) -eq 0 ]; then n=three; else n=one; fi
		cp "$DIR/$n.conf" "$DIR/new.conf"
		mv "$DIR/new.conf" "$DIR/depot.conf"
		kill -HUP "$DEPOT_PID"
	done
	# The last file said 3.
	wait_for reloads_logged 1
	kill -HUP "$DEPOT_PID"
	wait_for depot_answers
	wait_for workers_online 3
	wait_for worker_procs_are 3
	[ "$(ctl --json worker list | jq length)" -eq 3 ]
	touch "$DIR/gate.$ID"
	wait_for task_is "$ID" completed
	trace_has "$ID" end
	[ "$(ctl --json task list --state canceled | jq length)" -eq 0 ]
	# The worker socket still takes new work.
	run ctl run --wait -- true
	[ "$status" -eq 0 ]
	# Retired workers were told, not signalled.
	if grep -q "did not exit within\|does not speak to depotd" "$DIR/depotd.log"; then false; fi
}
