#!/usr/bin/env bats
# DESIGN §10: the daemon's uid and root may do everything; members of
# socket_group may read, watch and cancel, nothing else; anyone else is kept
# out (socket and run/ modes, and the peer uid check).

load helpers

setup_file() {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"
	[ "$(id -u)" -eq 0 ] || skip "switching users needs root"
}

# as_group_member ARG...: depotctl as nobody with socket_group as its group.
as_group_member() {
	setpriv --reuid=nobody --regid="$(getent group nogroup | cut -d: -f3)" \
		--clear-groups "$DEPOT_BIN/depotctl" -d "$DIR" "$@"
}

@test "sockets and run/ are private to the daemon's user by default" {
	depot_start
	[ "$(stat -c %a "$DIR/run")" = 700 ]
	[ "$(stat -c %a "$DIR/run/control.sock")" = 600 ]
	[ "$(stat -c %a "$DIR/run/worker.sock")" = 600 ]
	[ "$(stat -c %a "$DIR/run/events.sock")" = 600 ]
	run setpriv --reuid=nobody --regid=65534 --clear-groups "$DEPOT_BIN/depotctl" -d "$DIR" ping
	[ "$status" -eq 3 ]
}

@test "a socket_group member may read and cancel but not submit" {
	getent group nogroup >/dev/null || skip "no group nogroup"
	depot_start "daemon.socket_group = nogroup"
	[ "$(stat -c %G "$DIR/run/control.sock")" = nogroup ]
	[ "$(stat -c %a "$DIR/run/control.sock")" = 660 ]
	[ "$(stat -c %a "$DIR/run/worker.sock")" = 600 ]
	submit --lock r -- sleep 30
	run as_group_member task list
	[ "$status" -eq 0 ]
	[[ $output == *"sleep 30"* ]]
	run as_group_member run -- true
	[ "$status" -eq 1 ]
	[[ $output == *"forbidden"* ]]
	run as_group_member task cancel "$ID"
	[ "$status" -eq 0 ]
	wait_for task_is "$ID" canceled
	[ "$(task_reason "$ID")" = canceled-by-user ]
	# Only the owner's own submissions exist.
	[ "$(ctl --json task list | jq length)" -eq 1 ]
}
