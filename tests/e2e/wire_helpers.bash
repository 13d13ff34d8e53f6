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

# hold_clients OUT WAIT CMD...: starts CMD, a client that holds connections
# and writes OUT once it does, in the background (killed with the test);
# waits up to WAIT for OUT; checks that depotd still answers a ping; sets
# RSS_GROWTH to how many KiB depotd's resident memory grew meanwhile.
hold_clients() {
	local out=$1 wait=$2 before after
	shift 2
	before=$(rss_kib "$DEPOT_PID")
	"$@" >"$out" &
	HAND_PIDS+=($!)
	wait_for test -s "$out" "$wait"
	ctl ping >/dev/null || { echo "depotd does not answer a ping with those clients held"; return 1; }
	after=$(rss_kib "$DEPOT_PID")
	RSS_GROWTH=$((after - before))
	echo "RSS $before KiB before, $after KiB after: $(head -c 300 "$out")"
}
