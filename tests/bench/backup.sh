#!/usr/bin/env bash
# backup.sh: backup and restore of a depot holding 1 GiB of content, depot
# against GNU tar with zstd, side by side, on the same data directory.
# The content is real repository content: a file:// feed of 64 files of
# 16 MiB (random, so incompressible) synced into repository `data` and
# published, so content/ holds the files and publish/ hard links to them.
#   backup:  `depotctl backup -o FILE --wait`
#            vs `tar --zstd -cf FILE -C DIR content publish depot.db`
#   restore: `depotctl restore FILE --wait` (daemon running, swaps the data
#            directory) and `depotd --restore FILE -d NEWDIR` (daemon stopped)
#            vs `tar --zstd -xf FILE -C NEWDIR`
#   incremental: after a 1% change (1 of the 64 feed files replaced by 1% of
#            the content's size in new bytes, synced and published),
#            `depotctl backup --incremental -o FILE --wait` on top of a full
#            backup taken just before, as a share of the full backup's time;
#            "n/a" while depotctl has no --incremental
# MiB/s are of the content (64 x 16 MiB); each archive holds it once (the
# publish tree is hard links). depot does more than tar: a backup also
# hashes every member for MANIFEST.json (beside the compression) and makes
# the archive durable (fsync) before renaming it; a restore verifies every
# member as it extracts it (one pass, hashing while writing), checks the
# database, makes the staging directory durable (syncfs) and swaps
# directories. tar leaves its output in the page cache: the like-for-like
# peer, `tar ...; sync`, is timed too and shown beside.
# Each step is taken BENCH_BACKUP_ROUNDS times (3), depot first in odd rounds
# and tar first in even ones; figures are medians, with the fastest and
# slowest round after them; `sync` before each timed step.
# Sizes: BENCH_BACKUP_FILES (64), BENCH_BACKUP_MIB (16, per file).
. "$(dirname "$0")/lib.bash"

N=${BENCH_BACKUP_FILES:-64}
F_MIB=${BENCH_BACKUP_MIB:-16}
BYTES=$((N * F_MIB * 1048576))
DATA_MIB=$((N * F_MIB))
ROUNDS=${BENCH_BACKUP_ROUNDS:-3}

echo "== backup: a depot of $N x $F_MIB MiB ($(human_bytes "$BYTES")) of content, depot vs tar --zstd, $ROUNDS rounds =="
command -v zstd >/dev/null || { echo "zstd is not installed (make deps)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is not installed (make deps)" >&2; exit 2; }

# At the most: the feed, the data directory, two archives and one restored
# copy at a time beside it (an online restore keeps the old data until we
# delete it).
need_kb=$(( BYTES * 6 / 1024 + 262144 ))
free_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
	echo "backup: /tmp has $(mib "$free_kb") free, this needs about $(mib "$need_kb")" >&2
	result backup FAIL "not enough room in /tmp ($(mib "$free_kb") free, $(mib "$need_kb") needed)"
	bench_exit
fi

problems=()
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'
}
mib_s() {
	awk -v b="$BYTES" -v m="$1" 'BEGIN { if (m <= 0) m = 1; printf "%.0f", b / 1048576 * 1000 / m }'
}
size_of() {
	stat -c %s "$1" 2>/dev/null || echo 0
}
# content_count DIR: how many files DIR/content/sha256 holds, and their bytes.
content_count() {
	find "$1/content/sha256" -type f -printf '%s\n' 2>/dev/null | awk '{ n++; s += $1 } END { printf "%d %d\n", n, s }'
}
# check_tree WHAT DIR [nodb]: DIR holds the N content files,
# publish/data/current and (unless nodb) a database that knows repository data.
check_tree() {
	local what=$1 d=$2 got
	got=$(content_count "$d")
	[ "$got" = "$N $BYTES" ] || problems+=("$what: content holds '$got' (files bytes), not '$N $BYTES'")
	[ -e "$d/publish/data/current" ] || problems+=("$what: no publish/data/current")
	[ "$(find -L "$d/publish/data/current" -type f ! -name PULP_MANIFEST 2>/dev/null | wc -l)" = "$N" ] ||
		problems+=("$what: publish/data/current does not hold $N files")
	[ "${3:-}" = nodb ] && return 0
	[ "$(sqlite3 "file:$d/depot.db?mode=ro" 'select count(*) from repositories' 2>/dev/null)" = 1 ] ||
		problems+=("$what: depot.db does not list one repository")
}

bench_tmp
WORK=$TMPD

# --- the depot to back up ----------------------------------------------------------
t0=$(now_ms)
make_feed_random "$WORK/feed" "$N" $((F_MIB * 1048576)) || { result backup FAIL "could not make the feed"; bench_exit; }
bench_dir
bench_conf "[daemon]" "workers = 2"
bench_launch 2 || { result backup FAIL "depotd did not start"; bench_exit; }
if ! { ctl repo create data --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null &&
	ctl sync data --wait >/dev/null && ctl publish data --wait >/dev/null; }; then
	result backup FAIL "could not sync and publish the feed"
	bench_exit
fi
# The feed stays, for the incremental's change of one of its files.
check_tree "the depot" "$DIR"
echo "depot made in $(secs $(( $(now_ms) - t0 ))) s: $(du -sh "$DIR" | cut -f1) on disk ($N files in content/, hard links in publish/data/)"
if [ ${#problems[@]} -gt 0 ]; then
	printf '  %s\n' "${problems[@]}"
	result backup FAIL "the depot to back up is not as expected: ${problems[0]}"
	bench_exit
fi
sync

# --- the steps ---------------------------------------------------------------------
D_ARC=$WORK/depot.tar.zst
T_ARC=$WORK/tar.tar.zst
d_bk=() t_bk=() d_on=() t_x=() d_off=() t_bks=() t_xs=()
t_repos=

depot_backup() {
	local t0 out rc
	rm -f "$D_ARC"
	sync
	t0=$(now_ms)
	out=$(ctl --json backup -o "$D_ARC" --wait)
	rc=$?
	d_bk+=($(( $(now_ms) - t0 )))
	[ "$rc" -eq 0 ] && [ -f "$D_ARC" ] && return 0
	problems+=("depot: backup exited $rc: $(jq -r '"\(.state) \(.error.reason // "-"): \(.error.message // "-")"' <<<"$out" 2>/dev/null)")
	return 1
}

# tar_create [sync]: with sync, the archive is on the disk when the time is taken, as depot's is.
tar_create() {
	local t0 rc
	rm -f "$T_ARC"
	sync
	t0=$(now_ms)
	tar --zstd -cf "$T_ARC" -C "$DIR" content publish depot.db
	rc=$?
	if [ "${1:-}" = sync ]; then
		sync
		t_bks+=($(( $(now_ms) - t0 )))
	else
		t_bk+=($(( $(now_ms) - t0 )))
	fi
	[ "$rc" -eq 0 ] || { problems+=("tar: -c exited $rc"); return 1; }
}

# Online: the daemon swaps the restored data in and keeps the old as
# DIR.pre-restore-*, removed at once.
depot_restore_online() {
	local t0 out rc
	sync
	t0=$(now_ms)
	out=$(ctl --json restore "$D_ARC" --wait)
	rc=$?
	d_on+=($(( $(now_ms) - t0 )))
	if [ "$rc" -ne 0 ]; then
		problems+=("depot: restore exited $rc: $(jq -r '"\(.state) \(.error.reason // "-"): \(.error.message // "-")"' <<<"$out" 2>/dev/null)")
	else
		check_tree "depot restore" "$DIR"
		ctl ping >/dev/null || problems+=("depot: the daemon does not answer after the restore")
		[ "$(ctl --json repo show data 2>/dev/null | jq -r .latest_version)" = 1 ] ||
			problems+=("depot: repository data has no version 1 after the restore")
	fi
	rm -rf "$DIR".pre-restore-*
}

# Offline, into a new data directory (the running daemon has its own).
depot_restore_offline() {
	local t0 rc
	sync
	t0=$(now_ms)
	"$DEPOTD" --restore "$D_ARC" -d "$WORK/offline" >"$WORK/offline.log" 2>&1
	rc=$?
	d_off+=($(( $(now_ms) - t0 )))
	if [ "$rc" -ne 0 ]; then
		problems+=("depot: depotd --restore exited $rc: $(tail -n 1 "$WORK/offline.log")")
	else
		check_tree "depotd --restore" "$WORK/offline"
	fi
	rm -rf "$WORK/offline" "$WORK/offline".pre-restore-* "$WORK/offline".restore-*
}

# tar_extract [sync]: with sync, the files are on the disk when the time is taken, as a restore's are.
tar_extract() {
	local t0 rc
	sync
	t0=$(now_ms)
	mkdir "$WORK/untar" && tar --zstd -xf "$T_ARC" -C "$WORK/untar"
	rc=$?
	if [ "${1:-}" = sync ]; then
		sync
		t_xs+=($(( $(now_ms) - t0 )))
		rm -rf "$WORK/untar"
		[ "$rc" -eq 0 ] || problems+=("tar: -x exited $rc")
		return
	fi
	t_x+=($(( $(now_ms) - t0 )))
	[ "$rc" -eq 0 ] || problems+=("tar: -x exited $rc")
	# tar copies depot.db alone, while the daemon runs: what is still in the
	# write-ahead log (depot.db-wal) is not in that copy. Shown, not judged.
	check_tree "tar -x" "$WORK/untar" nodb
	# Round 1's archive is of the depot as sync and publish left it.
	if [ -z "$t_repos" ]; then
		t_repos=$(sqlite3 "file:$WORK/untar/depot.db?mode=ro" 'select count(*) from repositories' 2>/dev/null) ||
			t_repos="none, not even the schema"
	fi
	rm -rf "$WORK/untar"
}

for ((r = 1; r <= ROUNDS; r++)); do
	if [ $((r % 2)) = 1 ]; then
		{ depot_backup && tar_create sync && tar_create; } || break
		depot_restore_online
		depot_restore_offline
		tar_extract sync
		tar_extract
	else
		{ tar_create && tar_create sync && depot_backup; } || break
		tar_extract
		tar_extract sync
		depot_restore_online
		depot_restore_offline
	fi
	[ ${#problems[@]} -eq 0 ] || break
done
d_size=$(size_of "$D_ARC")
t_size=$(size_of "$T_ARC")
rm -f "$D_ARC" "$T_ARC"

# --- incremental: a full backup, 1 of the N feed files changed, an incremental --------
# Its figure is its time against the full backups' median (the rounds' and
# this one's). i_ms stays empty when there is none to take.
I_FULL=$WORK/chain-full.tar.zst
I_ARC=$WORK/chain-incr.tar.zst
# The changed file gets 1% of the content's size in new bytes.
i_ms= i_na= i_size=0 changed_bytes=$((BYTES / 100))
incremental() {
	local t0 out rc err=$WORK/incr.err
	[ ${#problems[@]} -eq 0 ] || return 0
	sync
	t0=$(now_ms)
	out=$(ctl --json backup -o "$I_FULL" --wait)
	rc=$?
	d_bk+=($(( $(now_ms) - t0 )))
	[ "$rc" -eq 0 ] || { problems+=("depot: the full backup before the incremental exited $rc"); return 0; }
	# One file of the feed gets new bytes: a new version of data, published.
	head -c "$changed_bytes" /dev/urandom >"$WORK/feed/f00000.bin"
	python3 - "$WORK/feed" <<-'PY'
		import hashlib, os, sys
		d = sys.argv[1]
		p = os.path.join(d, "PULP_MANIFEST")
		lines = open(p).read().splitlines()
		name = "f00000.bin"
		data = open(os.path.join(d, name), "rb").read()
		lines = [("%s,%s,%d" % (name, hashlib.sha256(data).hexdigest(), len(data)))
		         if l.split(",")[0] == name else l for l in lines]
		open(p, "w").write("\n".join(lines) + "\n")
	PY
	if ! { ctl sync data --wait >/dev/null && ctl publish data --wait >/dev/null; }; then
		problems+=("depot: the sync and publish of the changed feed failed")
		return 0
	fi
	sync
	t0=$(now_ms)
	out=$(ctl --json backup --incremental -o "$I_ARC" --wait 2>"$err")
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "--incremental" "$err"; then
		i_na="n/a (no --incremental)"
		return 0
	fi
	i_ms=$(( $(now_ms) - t0 ))
	i_size=$(size_of "$I_ARC")
	[ "$rc" -eq 0 ] && [ -f "$I_ARC" ] ||
		problems+=("depot: backup --incremental exited $rc: $(jq -r '"\(.state) \(.error.reason // "-"): \(.error.message // "-")"' <<<"$out" 2>/dev/null) $(head -c 300 "$err")")
}
incremental
bench_stop
rm -f "$I_FULL" "$I_ARC"

# --- report ------------------------------------------------------------------------
median() {
	[ $# -gt 0 ] || { echo 0; return; }
	printf '%s\n' "$@" | percentile 50
}
# fig LABEL MS...: "  2.50 s   410 MiB/s (rounds 380-420)"
fig() {
	local label=$1 med lo hi
	shift
	[ $# -gt 0 ] || { printf '%-14s (not measured)\n' "$label"; return; }
	med=$(median "$@")
	lo=$(printf '%s\n' "$@" | sort -n | head -1)
	hi=$(printf '%s\n' "$@" | sort -n | tail -1)
	printf '%-14s %6s s  %5s MiB/s  (rounds: %s-%s MiB/s)' "$label" "$(secs "$med")" "$(mib_s "$med")" "$(mib_s "$hi")" "$(mib_s "$lo")"
}
# pct A B: A as a percentage of B, one decimal.
pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / (b > 0 ? b : 1) }'
}
m_dbk=$(median "${d_bk[@]}") m_tbk=$(median "${t_bk[@]}") m_don=$(median "${d_on[@]}")
m_doff=$(median "${d_off[@]}") m_tx=$(median "${t_x[@]}")
m_tbks=$(median "${t_bks[@]}") m_txs=$(median "${t_xs[@]}")
echo "content: $DATA_MIB MiB in $N files (publish/ hard-links them); medians of ${#t_bk[@]} rounds"
echo "backup:"
echo "$(fig depot: "${d_bk[@]}")  archive $(human_bytes "$d_size") (depotctl backup -o FILE --wait; ${#d_bk[@]} backups)"
echo "$(fig tar: "${t_bk[@]}")  archive $(human_bytes "$t_size") (tar --zstd -cf)"
echo "$(fig 'tar + sync:' "${t_bks[@]}")  (tar --zstd -cf; sync: on the disk, as depot's archive)"
printf 'ratio depot/tar: %sx throughput (%sx time); depot/(tar + sync): %sx (goal: >= 1.0x tar)\n' \
	"$(ratio "$m_tbk" "$m_dbk")" "$(ratio "$m_dbk" "$m_tbk")" "$(ratio "$m_tbks" "$m_dbk")"
echo "restore:"
echo "$(fig 'depot online:' "${d_on[@]}")  (depotctl restore FILE --wait)"
echo "$(fig 'depot offline:' "${d_off[@]}")  (depotd --restore FILE -d NEWDIR)"
echo "$(fig tar: "${t_x[@]}")  (tar --zstd -xf)"
echo "$(fig 'tar + sync:' "${t_xs[@]}")  (tar --zstd -xf; sync: on the disk, as a restore's files)"
printf 'ratio depot/tar: online %sx, offline %sx throughput (%sx, %sx time); depot/(tar + sync): %sx, %sx (goal: >= 0.9x tar)\n' \
	"$(ratio "$m_tx" "$m_don")" "$(ratio "$m_tx" "$m_doff")" "$(ratio "$m_don" "$m_tx")" "$(ratio "$m_doff" "$m_tx")" \
	"$(ratio "$m_txs" "$m_don")" "$(ratio "$m_txs" "$m_doff")"
echo "incremental after a $(pct "$changed_bytes" "$BYTES")% change (1 of $N files replaced by $(human_bytes "$changed_bytes") of new bytes):"
if [ -n "$i_ms" ]; then
	printf '%-14s %6s s  archive %s (depotctl backup --incremental -o FILE --wait)\n' depot: "$(secs "$i_ms")" "$(human_bytes "$i_size")"
	printf 'ratio incremental/full backup: %s%% of the time (full %s s; goal: <= 5%%)\n' "$(pct "$i_ms" "$m_dbk")" "$(secs "$m_dbk")"
	i_fig="incremental after a $(pct "$changed_bytes" "$BYTES")% change $(secs "$i_ms") s = $(pct "$i_ms" "$m_dbk")% of full"
else
	echo "${i_na:-(not measured)}"
	i_fig="incremental ${i_na:-not measured}"
fi
echo "tar's copy of depot.db in round 1 (from the running daemon, without depot.db-wal) holds repositories: ${t_repos:--} (of 1)"

status=INFO
if [ ${#problems[@]} -gt 0 ]; then
	status=FAIL
	echo "problems:"
	printf '  %s\n' "${problems[@]}"
fi
result backup "$status" "$DATA_MIB MiB: backup depot $(mib_s "$m_dbk") MiB/s vs tar $(mib_s "$m_tbk") MiB/s ($(ratio "$m_tbk" "$m_dbk")x; tar + sync $(mib_s "$m_tbks"), $(ratio "$m_tbks" "$m_dbk")x); restore online $(mib_s "$m_don"), offline $(mib_s "$m_doff") vs tar -x $(mib_s "$m_tx") MiB/s ($(ratio "$m_tx" "$m_don")x, $(ratio "$m_tx" "$m_doff")x; tar -x + sync $(mib_s "$m_txs"), $(ratio "$m_txs" "$m_don")x, $(ratio "$m_txs" "$m_doff")x); $i_fig; archives $(human_bytes "$d_size") vs $(human_bytes "$t_size"); medians of ${#t_bk[@]}"
for p in "${problems[@]}"; do note "$p"; done
bench_exit
