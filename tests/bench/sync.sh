#!/usr/bin/env bash
# sync.sh: a sync over HTTP from a loopback server, depot against curl,
# in one run and from the same server and URLs:
#   small: 5,000 files of 4 KiB (random content)   -> files/s
#   large: 20 files of 50 MiB (random content)     -> MiB/s
# depot: `depotctl repo create NAME --feed http://127.0.0.1:PORT/.../PULP_MANIFEST`
# (download_concurrency 8, the default), then `depotctl sync NAME --wait`
# timed, from submit to the task's end (the time the worker ran the task is
# shown too). curl: `curl --parallel --parallel-max 8 -K CONFIG` with one
# `url =` / `output =` pair a file, into a scratch directory. depot also
# fetches the PULP_MANIFEST, checks each file's size and sha256, makes the
# files durable (a syncfs before they move into the store, made by a
# thread beside the downloads every 250 ms or so and once more after them,
# then one after the last move) and
# records a version in the database; curl only writes the files; so curl's
# time is also shown with a `sync` after it ("+sync"), which leaves its
# files as durable as depot's. The task's log (`depotctl task log`) says
# how long depot's downloads, syncfs calls and moves took.
# The server is nginx (Debian nginx-light) from a private config, on a free
# port, stopped (master and workers, by pid) when the benchmark ends; a
# system nginx is never used or signalled. Without nginx the benchmark
# installs nginx-light itself (tests/bench/install-pkgs: as root, with no
# service started); where it cannot, it says so and python3's
# ThreadingHTTPServer serves instead (its per-request cost then weighs on
# both sides). BENCH_HTTP_SERVER=python picks that server.
# Each measurement is taken BENCH_SYNC_ROUNDS times (5: a round's small
# figure can be 3x another's, either side's), depot first in odd
# rounds and curl first in even ones, each depot round on a new data
# directory (the content store would otherwise have every file already);
# figures are medians, with the fastest and slowest round after them.
# curl writes into DIR/out of a new DIR=$(mktemp -d /tmp/dpb.XXXXXX), made
# just before it runs, as depot writes into DIR/content of a data directory made
# the same way: where a new directory lands decides where its files' inodes
# are searched for, and on this machine a fresh directory could take 5-10
# times longer to fill than one under the benchmark's scratch directory
# made minutes before (curl's 5,000 files took 1.1-2.1 s there while
# depot's, in fresh directories, took 7-17 s; curl into a fresh one:
# 5-21 s). Nothing either side wrote is deleted until the benchmark ends: on an ext4
# without a journal (this machine's), a new file's inode is searched for
# past every inode freed in the last 60 s, 300 s while its inode table block
# is dirty (ext4's recently_deleted), so a side run just after 5,000
# deletions pays for them and its peer does not; `make bench` runs this
# benchmark first for that reason, and a `make check` or a benchmark run
# minutes before still weighs on some rounds.
# Each round also copies the large feed's files into a scratch directory,
# $CONC at once, with `dd bs=1M conv=fsync` each and a sync after ("disk"):
# the rate at which the disk takes those bytes durably from that many
# writers, with no network and no hashing, which bounds both sides (here
# above cp then one sync, which writes back only once cp is done).
# Sizes: BENCH_SYNC_SMALL_FILES, BENCH_SYNC_SMALL_BYTES, BENCH_SYNC_LARGE_FILES,
# BENCH_SYNC_LARGE_MIB.
. "$(dirname "$0")/lib.bash"

S_N=${BENCH_SYNC_SMALL_FILES:-5000}
S_B=${BENCH_SYNC_SMALL_BYTES:-4096}
L_N=${BENCH_SYNC_LARGE_FILES:-20}
L_MIB=${BENCH_SYNC_LARGE_MIB:-50}
L_B=$((L_MIB * 1048576))
CONC=8
ROUNDS=${BENCH_SYNC_ROUNDS:-5}

echo "== sync: $S_N x $(human_bytes "$S_B") and $L_N x $L_MIB MiB over loopback HTTP, depot vs curl --parallel-max $CONC, $ROUNDS rounds =="
command -v curl >/dev/null || { echo "curl is not installed (make deps)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is not installed (make deps)" >&2; exit 2; }

# The feeds, and every round's copies of them (depot's, curl's, the disk's
# of the large one), are kept until the end.
need_kb=$(( (S_N * S_B + L_N * L_B) * (1 + 2 * ROUNDS) / 1024 + L_N * L_B * ROUNDS / 1024 + 262144 ))
free_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
	echo "sync: /tmp has $(mib "$free_kb") free, this needs about $(mib "$need_kb")" >&2
	result sync FAIL "not enough room in /tmp ($(mib "$free_kb") free, $(mib "$need_kb") needed)"
	bench_exit
fi

if [ "${BENCH_HTTP_SERVER:-}" != python ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	if ! "$(dirname "$0")/install-pkgs" nginx-light; then
		echo "sync: nginx is not installed and could not be (above): python3's server serves the feeds instead, much slower per request" >&2
		note "nginx-light could not be installed: python3's server served the feeds"
	fi
fi

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_tmp
WORK=$TMPD
t0=$(now_ms)
make_feed_random "$WORK/www/small" "$S_N" "$S_B" || { result sync FAIL "could not make the small feed"; bench_exit; }
make_feed_random "$WORK/www/large" "$L_N" "$L_B" || { result sync FAIL "could not make the large feed"; bench_exit; }
echo "feeds made in $(secs $(( $(now_ms) - t0 ))) s"
http_serve "$WORK/www" || { result sync FAIL "the http server did not start"; bench_exit; }
echo "server: $HTTP_KIND on 127.0.0.1:$HTTP_PORT"

problems=()

# depot_sync SET: creates repository SET on the feed, times its sync; sets
# D_MS (wall), D_RUN_MS (the task's started_at to finished_at), D_FILES,
# D_BYTES (downloaded).
depot_sync() {
	local set=$1 t0 out rc
	ctl repo create "$set" --feed "http://127.0.0.1:$HTTP_PORT/$set/PULP_MANIFEST" >/dev/null ||
		{ problems+=("depot: repo create $set failed"); return 1; }
	sync   # nothing left to write back from before: fsync costs what it costs
	t0=$(now_ms)
	out=$(ctl --json sync "$set" --wait)
	rc=$?
	D_MS=$(( $(now_ms) - t0 ))
	D_FILES=$(jq -r '.result.downloaded_files // 0' <<<"$out" 2>/dev/null)
	D_BYTES=$(jq -r '.result.downloaded_bytes // 0' <<<"$out" 2>/dev/null)
	D_RUN_MS=$(jq -r '((.finished_at | sub("\\.[0-9]+Z$"; "Z") | fromdate) - (.started_at | sub("\\.[0-9]+Z$"; "Z") | fromdate)) * 1000
		+ ((.finished_at | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber) - (.started_at | capture("\\.(?<ms>[0-9]+)Z$").ms | tonumber))' <<<"$out" 2>/dev/null)
	[ -n "$D_RUN_MS" ] || D_RUN_MS=0
	if [ "$rc" -ne 0 ]; then
		problems+=("depot: sync $set exited $rc: $(jq -r '"\(.state) \(.error.reason // "-"): \(.error.message // "-")"' <<<"$out" 2>/dev/null)")
		return 1
	fi
}

# curl_fetch SET N: fetches every file of SET's PULP_MANIFEST with curl
# --parallel into a scratch directory, timed; sets C_MS, CS_MS (with a
# sync after it, as durable as depot's), C_FILES, C_BYTES.
curl_fetch() {
	local set=$1 cfg=$WORK/curl-$1.cfg out t0 rc
	bench_tmp
	out=$TMPD/out
	mkdir -p "$out"
	awk -F, -v base="http://127.0.0.1:$HTTP_PORT/$set/" -v out="$out/" '
		{ printf "url = \"%s%s\"\noutput = \"%s%s\"\n", base, $1, out, $1 }' \
		"$WORK/www/$set/PULP_MANIFEST" >"$cfg"
	sync
	t0=$(now_ms)
	curl --parallel --parallel-max "$CONC" --fail --no-progress-meter -K "$cfg"
	rc=$?
	C_MS=$(( $(now_ms) - t0 ))
	# What depot promises before it records a version: the files on the disk.
	sync
	CS_MS=$(( $(now_ms) - t0 ))
	C_FILES=$(find "$out" -type f | wc -l)
	C_BYTES=$(find "$out" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	[ "$rc" -eq 0 ] || problems+=("curl: $set exited $rc")
}

# disk_copy: the large feed's files copied durably, $CONC writers at once,
# timed; sets K_MS. The ceiling for storing those bytes on this file system.
disk_copy() {
	local out t0
	bench_tmp
	out=$TMPD/out
	mkdir -p "$out"
	sync
	t0=$(now_ms)
	(cd "$WORK/www/large" && printf '%s\0' f*.bin |
		xargs -0 -P "$CONC" -I{} dd if={} of="$out/{}" bs=1M conv=fsync status=none) && sync
	K_MS=$(( $(now_ms) - t0 ))
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'
}
mib_s() {
	awk -v b="$1" -v m="$2" 'BEGIN { if (m <= 0) m = 1; printf "%.1f", b / 1048576 * 1000 / m }'
}

# median MS...: "1.23 s (1.01-1.50)"-style figures come from these.
median() {
	printf '%s\n' "$@" | percentile 50
}
lowest() {
	printf '%s\n' "$@" | sort -n | head -1
}
highest() {
	printf '%s\n' "$@" | sort -n | tail -1
}
# line WHO N BYTES MS...: one report line from the rounds' times.
line() {
	local who=$1 n=$2 bytes=$3 med lo hi
	shift 3
	med=$(median "$@") lo=$(lowest "$@") hi=$(highest "$@")
	printf '%-6s %6s s  %8s files/s  %7s MiB/s   (rounds: %s-%s files/s, %s-%s MiB/s)\n' "$who" \
		"$(secs "$med")" "$(files_s "$n" "$med")" "$(mib_s "$bytes" "$med")" \
		"$(files_s "$n" "$hi")" "$(files_s "$n" "$lo")" "$(mib_s "$bytes" "$hi")" "$(mib_s "$bytes" "$lo")"
}
files_s() {
	awk -v n="$1" -v m="$2" 'BEGIN { if (m <= 0) m = 1; r = n * 1000 / m; if (r < 100) printf "%.1f", r; else printf "%.0f", r }'
}

ds=() dsr=() cs=() css=() dl=() dlr=() cl=() cls=() dk=()
check_depot() {
	local set=$1 n=$2 bytes=$3
	[ "$D_FILES" = "$n" ] && [ "$D_BYTES" = "$bytes" ] ||
		problems+=("depot: $set sync downloaded $D_FILES files of $D_BYTES bytes, not $n of $bytes")
}
check_curl() {
	local set=$1 n=$2 bytes=$3
	[ "$C_FILES" = "$n" ] && [ "$C_BYTES" = "$bytes" ] ||
		problems+=("curl: $set fetch left $C_FILES files of $C_BYTES bytes, not $n of $bytes")
}

for ((r = 1; r <= ROUNDS; r++)); do
	bench_dir
	bench_conf "[daemon]" "workers = 2"
	bench_launch 2 || { result sync FAIL "depotd did not start"; bench_exit; }
	for set in small large; do
		if [ "$set" = small ]; then n=$S_N bytes=$((S_N * S_B)); else n=$L_N bytes=$((L_N * L_B)); fi
		for side in depot curl; do
			# odd rounds: depot then curl; even rounds: curl then depot
			if { [ "$side" = depot ] && [ $((r % 2)) = 1 ]; } || { [ "$side" = curl ] && [ $((r % 2)) = 0 ]; }; then
				depot_sync "$set" && check_depot "$set" "$n" "$bytes"
				if [ "$set" = small ]; then ds+=("$D_MS") dsr+=("$D_RUN_MS"); else dl+=("$D_MS") dlr+=("$D_RUN_MS"); fi
			else
				curl_fetch "$set" && check_curl "$set" "$n" "$bytes"
				if [ "$set" = small ]; then cs+=("$C_MS") css+=("$CS_MS"); else cl+=("$C_MS") cls+=("$CS_MS"); fi
			fi
		done
	done
	disk_copy
	dk+=("$K_MS")
	bench_stop
	[ ${#problems[@]} -eq 0 ] || break
done
http_stop
[ -z "$HTTP_LEFT" ] || problems+=("the http server left processes behind: $HTTP_LEFT")

# --- report ----------------------------------------------------------------------
ds_m=$(median "${ds[@]}") cs_m=$(median "${cs[@]}") dl_m=$(median "${dl[@]}") cl_m=$(median "${cl[@]}")
s_ratio=$(ratio "$cs_m" "$ds_m")   # depot/curl throughput = curl time / depot time
l_ratio=$(ratio "$cl_m" "$dl_m")
s_ratio_sync=$(ratio "$(median "${css[@]}")" "$ds_m")
l_ratio_sync=$(ratio "$(median "${cls[@]}")" "$dl_m")
echo "medians of ${#ds[@]} rounds; server: $HTTP_KIND; load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "small: $S_N files of $(human_bytes "$S_B") ($(human_bytes $((S_N * S_B))))"
line depot: "$S_N" $((S_N * S_B)) "${ds[@]}"
line curl: "$S_N" $((S_N * S_B)) "${cs[@]}"
line +sync: "$S_N" $((S_N * S_B)) "${css[@]}"
printf 'ratio depot/curl: %sx throughput (%sx time), depot/(curl + sync) %sx; depot task ran %s s (median)\n' "$s_ratio" "$(ratio "$ds_m" "$cs_m")" "$s_ratio_sync" "$(secs "$(median "${dsr[@]}")")"
echo "large: $L_N files of $L_MIB MiB ($(human_bytes $((L_N * L_B))))"
line depot: "$L_N" $((L_N * L_B)) "${dl[@]}"
line curl: "$L_N" $((L_N * L_B)) "${cl[@]}"
line +sync: "$L_N" $((L_N * L_B)) "${cls[@]}"
line disk: "$L_N" $((L_N * L_B)) "${dk[@]}"
printf 'ratio depot/curl: %sx throughput (%sx time), depot/(curl + sync) %sx, depot/disk %sx; depot task ran %s s (median)\n' "$l_ratio" "$(ratio "$dl_m" "$cl_m")" "$l_ratio_sync" "$(ratio "$(median "${dk[@]}")" "$dl_m")" "$(secs "$(median "${dlr[@]}")")"

status=INFO
if [ ${#problems[@]} -gt 0 ]; then
	status=FAIL
	echo "problems:"
	printf '  %s\n' "${problems[@]}"
fi
result sync "$status" "small: depot $(files_s "$S_N" "$ds_m") files/s vs curl $(files_s "$S_N" "$cs_m") files/s (${s_ratio}x; ${s_ratio_sync}x curl + sync); large: depot $(mib_s $((L_N * L_B)) "$dl_m") MiB/s vs curl $(mib_s $((L_N * L_B)) "$cl_m") MiB/s (${l_ratio}x; ${l_ratio_sync}x curl + sync; disk (dd conv=fsync x$CONC) $(mib_s $((L_N * L_B)) "$(median "${dk[@]}")") MiB/s); medians of ${#ds[@]}"
for p in "${problems[@]}"; do note "$p"; done
bench_exit
