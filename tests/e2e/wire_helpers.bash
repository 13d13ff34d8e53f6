# wire_helpers.bash: what server-wire.bats and server-hostile.bats share to drive depotd's sockets byte by byte and judge from /proc.

SPRAW=$BATS_TEST_DIRNAME/../tools/sp-raw.py

# RAW SOCKET MODE ARG...: tests/tools/sp-raw.py in the foreground. Background
# ones run python3 "$SPRAW" themselves, so that $! is the process holding the
# connections.
RAW() {
	python3 "$SPRAW" "$@"
}

# rss_kib PID: resident memory, from /proc.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# as_member UID ARG...: ARG... as UID with nogroup (socket_group) as its only group, in
# place of the (sub)shell that calls it, so that $! after `as_member ... &` is its pid.
as_member() {
	local uid=$1
	shift
	exec setpriv --reuid="$uid" --regid="$(getent group nogroup | cut -d: -f3)" --clear-groups "$@"
}

# RSS bounds mean nothing under AddressSanitizer: its quarantine keeps freed buffers resident.
skip_under_asan() {
	if ldd "$DEPOT_BIN/depotd" | grep -q libasan; then skip "RSS bound, and depotd runs under ASan"; fi
}

need_root_nogroup() {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"
	[ "$(id -u)" -eq 0 ] || skip "switching users needs root"
	getent group nogroup >/dev/null || skip "no group nogroup"
}
