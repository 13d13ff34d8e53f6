#!/usr/bin/env bats
# DESIGN §9: a bad archive changes nothing. `backup verify` names the first
# bad member and exits 1; `depotctl restore` fails its task with that
# message and leaves repositories, tasks, publications and content as they
# were, with no DIR.restore-* or DIR.pre-restore-* beside the data; `depotd
# --restore` refuses the same archives and leaves its directory as it was.
# The hostile archives are a real (uncompressed) backup rewritten with
# python's tarfile, the manifest last (CRAFT_PY in backup_helpers.bash).

load helpers
load repo_helpers
load backup_helpers

# Once per file: a depot with two published repositories, stopped, as a
# template data directory ($TEMPLATE_DIR), and an uncompressed backup of it
# ($TEMPLATE_WORK/good.tar). Each test starts a daemon on a copy.
setup_file() {
	setup
	depot_start "backup.compression = none"
	export TEMPLATE_DIR=$DIR TEMPLATE_WORK=$WORK TEMPLATE_PID=$DEPOT_PID
	two_repos
	backup_wait -o "$WORK/good.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ] || { echo "$TASK" >&2; return 1; }
	depot_terminate
	[ "$DEPOT_STATUS" -eq 0 ] || return 1
}

teardown_file() {
	stop_pid "$TEMPLATE_PID" 5
	rm -rf "$TEMPLATE_DIR" "$TEMPLATE_WORK"
}

# refuse_setup: a daemon on a copy of the template (hard links kept), the
# good archive in $GOOD, the blob's member in $BLOB_PATH, the state in $STATE.
refuse_setup() {
	depot_init "backup.compression = none"
	(cd "$TEMPLATE_DIR" && tar -cf - --exclude=./run --exclude=./depotd.log .) |
		(cd "$DIR" && tar -xpf -)
	depot_launch
	GOOD=$TEMPLATE_WORK/good.tar
	BLOB=$(sha_of "$TEMPLATE_WORK/feed1/sub/blob.bin")
	BLOB_PATH=content/sha256/${BLOB:0:2}/$BLOB
	record_state
}

# record_state: what a refused restore must leave as it was ($STATE, the
# data directory in $DATA_SUMS), and a directory outside it ($OUT, as in
# $OUT_SUMS) such as a hostile archive would aim at.
record_state() {
	STATE=$(depot_state)
	DATA_SUMS=$(data_sums)
	OUT=$(mktemp -d /tmp/dpo.XXXXXX)
	BACKUP_DIRS+=("$OUT")
	mkdir -p "$OUT/versions/1" "$OUT/sha256/ab"
	printf 'keep me\n' >"$OUT/versions/1/precious.txt"
	printf 'keep me too\n' >"$OUT/sha256/ab/ab$(printf '%062d' 0)"
	OUT_SUMS=$(tree_sums "$OUT")
}

# outside_untouched: even after an orphan cleanup and a publish, which would
# follow whatever a restore had left in the data directory, $OUT is as it was.
outside_untouched() {
	run ctl orphans clean --wait
	[ "$status" -eq 0 ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	diff <(echo "$OUT_SUMS") <(tree_sums "$OUT")
	# The publish changed the depot: what the next refusal must leave as it was.
	STATE=$(depot_state)
	DATA_SUMS=$(data_sums)
}

# verify_refuses FILE TEXT...: backup verify exits 1 with "FILE: refused:
# ..." holding every TEXT, on stderr only.
verify_refuses() {
	local file=$1 t
	shift
	run --separate-stderr ctl backup verify "$file"
	echo "verify: status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr == "$file: refused: "* ]]
	for t in "$@"; do
		[[ $stderr == *"$t"* ]]
	done
}

# restore_refused FILE TEXT...: restore FILE --wait fails (exit 1), its
# task failed with a message holding every TEXT, and nothing changed.
restore_refused() {
	local file=$1 t msg
	shift
	run restore_wait "$file"
	echo "restore: status $status: $output"
	[ "$status" -eq 1 ]
	TASK=$(ctl --json task list --limit 1)
	TASK=$(jq -c '.[0]' <<<"$TASK")
	[ "$(jq -r .type <<<"$TASK")" = restore ]
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	msg=$(jq -r .error.message <<<"$TASK")
	echo "restore task: $msg"
	for t in "$@"; do
		[[ $msg == *"$t"* ]]
	done
	unchanged
}

# unchanged: the depot is as refuse_setup left it, nothing beside it, and it still works.
unchanged() {
	diff <(echo "$STATE") <(depot_state)
	diff <(echo "$DATA_SUMS") <(data_sums)
	[ -z "$(leftovers)" ]
	[ -z "$(tmp_files)" ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]
	wait_for workers_online "$(conf_value daemon.workers)" 10s
}

# offline_refused FILE TEXT...: depotd --restore into an empty directory
# exits 1 naming every TEXT, and leaves the directory empty with nothing beside it.
offline_refused() {
	local file=$1 t new
	shift
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	run "$DEPOT_BIN/depotd" --restore "$file" -d "$new"
	echo "depotd --restore: status $status: $output"
	[ "$status" -eq 1 ]
	for t in "$@"; do
		[[ $output == *"$t"* ]]
	done
	[[ $output == *"nothing was changed"* ]]
	[ -d "$new" ]
	[ -z "$(ls -A "$new")" ]
	[ -z "$(leftovers "$new")" ]
}

# refused FILE TEXT...: all three refuse it, and nothing outside the data directory was touched.
refused() {
	verify_refuses "$@"
	restore_refused "$@"
	offline_refused "$@"
	outside_untouched
}

@test "the untouched archive passes all three (the hostile ones differ from it by one thing)" {
	refuse_setup
	run ctl backup verify "$GOOD"
	[ "$status" -eq 0 ]
	craft "$GOOD" "$WORK/copy.tar" flip-none
	run ctl backup verify "$WORK/copy.tar"
	[ "$status" -eq 0 ]
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	run "$DEPOT_BIN/depotd" --restore "$WORK/copy.tar" -d "$new"
	[ "$status" -eq 0 ]
	diff <(publish_sums) <(publish_sums "$new")
	ctl repo delete r2
	restore_wait "$WORK/copy.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	ctl repo show r2 >/dev/null
}

@test "a flipped byte in a file's data (uncompressed archive) is refused, naming the member" {
	refuse_setup
	cp "$GOOD" "$WORK/flip.tar"
	flip_byte "$WORK/flip.tar" $(($(member_data_offset "$GOOD" "$BLOB_PATH") + 1000))
	refused "$WORK/flip.tar" "$BLOB_PATH" sha256
}

@test "a flipped byte in a zstd archive is refused" {
	depot_start
	two_repos
	backup_wait -o "$WORK/good.tar.zst"
	record_state
	cp "$WORK/good.tar.zst" "$WORK/flip.tar.zst"
	flip_byte "$WORK/flip.tar.zst" $(($(stat -c %s "$WORK/good.tar.zst") / 2))
	refused "$WORK/flip.tar.zst"
}

@test "a truncated archive is refused" {
	refuse_setup
	head -c $(($(stat -c %s "$GOOD") * 2 / 3)) "$GOOD" >"$WORK/short.tar"
	refused "$WORK/short.tar"
	# Cut just before the manifest's header, at a block boundary: a tar
	# that ends cleanly, with no manifest.
	head -c "$(member_data_offset "$GOOD" MANIFEST.json header)" "$GOOD" >"$WORK/nomanifest.tar"
	refused "$WORK/nomanifest.tar" MANIFEST.json
}

@test "a member with '..' in its path is refused, even when the manifest lists it" {
	refuse_setup
	craft "$GOOD" "$WORK/dotdot.tar" dotdot "publish/../../dotdot-planted"
	refused "$WORK/dotdot.tar" "publish/../../dotdot-planted"
	[ ! -e "$(dirname "$DIR")/dotdot-planted" ]
}

@test "a member with an absolute path is refused" {
	refuse_setup
	craft "$GOOD" "$WORK/abs.tar" absolute "$WORK/abs-planted"
	refused "$WORK/abs.tar" "$WORK/abs-planted"
	[ ! -e "$WORK/abs-planted" ]
}

@test "a symlink to /etc/passwd is refused by restore, online and offline" {
	refuse_setup
	craft "$GOOD" "$WORK/symlink.tar" symlink publish/r1/passwd /etc/passwd
	restore_refused "$WORK/symlink.tar" publish/r1/passwd /etc/passwd
	offline_refused "$WORK/symlink.tar" publish/r1/passwd
	# One that climbs out with ../ instead.
	craft "$GOOD" "$WORK/climb.tar" symlink publish/r1/up ../../../../etc
	restore_refused "$WORK/climb.tar" publish/r1/up
	offline_refused "$WORK/climb.tar" publish/r1/up
}

@test "a hard link to a path outside the archive is refused by restore, online and offline" {
	refuse_setup
	craft "$GOOD" "$WORK/hardlink.tar" hardlink publish/r1/passwd ../../etc/passwd
	restore_refused "$WORK/hardlink.tar" publish/r1/passwd
	offline_refused "$WORK/hardlink.tar" publish/r1/passwd
	craft "$GOOD" "$WORK/hardabs.tar" hardlink publish/r1/shadow /etc/shadow
	restore_refused "$WORK/hardabs.tar" publish/r1/shadow
	offline_refused "$WORK/hardabs.tar" publish/r1/shadow
	[ "$(stat -c %h /etc/passwd)" -eq 1 ]
}

@test "backup verify refuses links that leave the data directory, as restore does" {
	refuse_setup
	craft "$GOOD" "$WORK/symlink.tar" symlink publish/r1/passwd /etc/passwd
	verify_refuses "$WORK/symlink.tar" publish/r1/passwd
	craft "$GOOD" "$WORK/hardlink.tar" hardlink publish/r1/passwd ../../etc/passwd
	verify_refuses "$WORK/hardlink.tar" publish/r1/passwd
}

@test "a manifest that lies about a size is refused, naming the member" {
	refuse_setup
	craft "$GOOD" "$WORK/size.tar" size "$BLOB_PATH"
	refused "$WORK/size.tar" "$BLOB_PATH" 20000 20001
}

@test "a member the manifest does not list, or a listed member the archive lacks, is refused" {
	refuse_setup
	craft "$GOOD" "$WORK/unlisted.tar" unlisted publish/r1/versions/1/extra.txt
	refused "$WORK/unlisted.tar" publish/r1/versions/1/extra.txt "not in the manifest"
	craft "$GOOD" "$WORK/missing.tar" missing publish/r2/versions/1/only.bin
	refused "$WORK/missing.tar" publish/r2/versions/1/only.bin missing
}

@test "a FIFO or a device member is refused" {
	refuse_setup
	craft "$GOOD" "$WORK/fifo.tar" fifo publish/r1/fifo
	refused "$WORK/fifo.tar" publish/r1/fifo FIFO
	craft "$GOOD" "$WORK/dev.tar" chardev publish/r1/null
	refused "$WORK/dev.tar" publish/r1/null device
	[ ! -e "$DIR/publish/r1/null" ]
}

@test "a database that fails its integrity check is refused, though the manifest matches it" {
	refuse_setup
	craft "$GOOD" "$WORK/baddb.tar" replace depot.db "this is not an SQLite database"
	# Consistent with its manifest, yet verify refuses it as restore does: one decision.
	refused "$WORK/baddb.tar" depot.db database
}

# Each link below stays inside when checked alone and lexically (what the
# first version did); resolved through one another they reach / and then
# the test's directory outside, where publish and orphans would write.
@test "chained symlinks that each look inside but resolve outside are refused by all three" {
	refuse_setup
	craft "$GOOD" "$WORK/chain.tar" add drop=publish/r2 \
		symlink=publish/r1/a=../.. symlink=publish/r1/b=a/../.. \
		dir=publish/r2 symlink=publish/r2/versions="../r1/b$OUT/versions" \
		symlink=publish/r2/current=versions/1
	refused "$WORK/chain.tar" publish/r1/a outside
	craft "$GOOD" "$WORK/chain2.tar" add symlink=publish/r1/up=.. symlink=publish/r1/b=up/up/../..
	refused "$WORK/chain2.tar" publish/r1/b outside
}

@test "a symlink outside publish/ (where orphans clean walks) is refused" {
	refuse_setup
	# The template's content is random: name a prefix directory it lacks,
	# or the refusal would be for the duplicate, not for the link.
	local prefix
	prefix=$(comm -23 <(printf '%02x\n' {0..255}) \
		<(tar -tf "$GOOD" | sed -n 's|^\(\./\)\{0,1\}content/sha256/\([0-9a-f][0-9a-f]\)/.*|\2|p' | sort -u) | head -n1)
	[ -n "$prefix" ] && [ "$prefix" != "${BLOB:0:2}" ]
	craft "$GOOD" "$WORK/content-link.tar" add "symlink=content/sha256/$prefix=$OUT/sha256/ab"
	refused "$WORK/content-link.tar" "content/sha256/$prefix" "outside publish/"
	craft "$GOOD" "$WORK/logs-link.tar" add drop=logs symlink=logs=publish
	refused "$WORK/logs-link.tar" logs "is a symlink, not a directory"
}

@test "a member written through a symlink the archive made earlier is refused" {
	refuse_setup
	craft "$GOOD" "$WORK/through.tar" add symlink=publish/r1/l=versions \
		file=publish/r1/l/evil.txt=planted
	refused "$WORK/through.tar" publish/r1/l/evil.txt "lies under 'publish/r1/l', which is a symlink"
	craft "$GOOD" "$WORK/under-file.tar" add file=publish/r1/f=x file=publish/r1/f/g=y
	refused "$WORK/under-file.tar" publish/r1/f/g "which is a file"
}

@test "a hard link before its target, or to the database, is refused by all three" {
	refuse_setup
	craft "$GOOD" "$WORK/early.tar" add first "hardlink=publish/r1/early=$BLOB_PATH"
	refused "$WORK/early.tar" publish/r1/early "not a file earlier in the archive"
	craft "$GOOD" "$WORK/dblink.tar" add hardlink=publish/r1/db=depot.db
	refused "$WORK/dblink.tar" publish/r1/db "only content/ and publish/"
}

@test "top-level names a backup never writes are refused: run/ (sockets, pid lock), tmp/, anything else" {
	refuse_setup
	craft "$GOOD" "$WORK/run.tar" add dir=run file=run/depotd.pid=1
	refused "$WORK/run.tar" run "not something a depot backup holds"
	craft "$GOOD" "$WORK/tmp.tar" add file=tmp/x=y
	refused "$WORK/tmp.tar" tmp/x "not something a depot backup holds"
	craft "$GOOD" "$WORK/other.tar" add file=README=hello
	refused "$WORK/other.tar" README "not something a depot backup holds"
	# The live daemon still holds its pid lock: a second one is refused.
	run "$DEPOT_BIN/depotd" -d "$DIR"
	[ "$status" -ne 0 ]
}

@test "a depot.conf depotd would reject is refused before anything changes, naming its line" {
	refuse_setup
	craft "$GOOD" "$WORK/conf.tar" replace depot.conf $'[daemon]\nworkers = lots\n'
	refused "$WORK/conf.tar" "depot.conf:2" "workers = 'lots'"
}

@test "a path longer than 4 KiB is refused by verify as by restore" {
	refuse_setup
	local long=publish/r1 i
	for i in $(seq 17); do
		long+=/$(printf 'd%.0s' $(seq 250))
	done
	craft "$GOOD" "$WORK/long.tar" add "file=$long=x"
	refused "$WORK/long.tar" "longer than 4095 bytes"
}

@test "restore_max_members: an archive with more members is refused by all three" {
	refuse_setup
	printf '[limits]\nrestore_max_members = 5\n' >>"$DIR/depot.conf"
	depot_terminate
	depot_launch
	record_state
	verify_refuses "$GOOD" "more than 5 members" restore_max_members
	restore_refused "$GOOD" "more than 5 members"
	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	printf '[limits]\nrestore_max_members = 5\n' >"$new/depot.conf"
	run "$DEPOT_BIN/depotd" --restore "$GOOD" -d "$new"
	[ "$status" -eq 1 ]
	[[ $output == *"more than 5 members"* ]]
	[ "$(ls -A "$new")" = depot.conf ]
}

@test "an archive that needs more than the free space is refused before it fills the disk" {
	refuse_setup
	mount_small "$WORK/small" 64M
	mkdir "$WORK/small/d"
	printf '[limits]\nrestore_free_margin = 8MiB\n' >"$WORK/small/d/depot.conf"
	# 200 MiB of zeros: a few hundred KB compressed, and consistent with its manifest.
	"$PY" - "$GOOD" "$WORK/bomb.tar.gz" <<'PY'
import hashlib, io, json, sys, tarfile
src, dst = sys.argv[1:]
tin = tarfile.open(src, "r:")
tout = tarfile.open(dst, "w:gz", format=tarfile.PAX_FORMAT)
manifest = None
zeros = bytes(200 << 20)
sha = hashlib.sha256(zeros).hexdigest()
header = None
for m in tin.getmembers():
    data = tin.extractfile(m).read() if m.isfile() else None
    if m.name == "MANIFEST.json":
        manifest = json.loads(data)
        continue
    # Format 2: BACKUP.json lists the content the archive carries.
    if m.name == "BACKUP.json":
        h = json.loads(data)
        h["holds"] = sorted(h["holds"] + [sha])
        data = json.dumps(h).encode()
        m.size, header = len(data), data
    tout.addfile(m, io.BytesIO(data) if data is not None else None)
ti = tarfile.TarInfo("content/sha256/%s/%s" % (sha[:2], sha))
ti.size, ti.mode, ti.mtime = len(zeros), 0o644, 1700000000
tout.addfile(ti, io.BytesIO(zeros))
for e in manifest["members"]:
    if header is not None and e["path"] == "BACKUP.json":
        e["size"], e["sha256"] = len(header), hashlib.sha256(header).hexdigest()
manifest["members"].append({"path": ti.name, "type": "file", "size": len(zeros), "sha256": sha})
text = json.dumps(manifest).encode()
ti = tarfile.TarInfo("MANIFEST.json")
ti.size, ti.mode, ti.mtime = len(text), 0o600, 1700000000
tout.addfile(ti, io.BytesIO(text))
tout.close()
PY
	[ "$(stat -c %s "$WORK/bomb.tar.gz")" -lt $((2 << 20)) ]
	# Verify reads it all and finds it consistent: space is the restore's to judge.
	run ctl backup verify "$WORK/bomb.tar.gz"
	[ "$status" -eq 0 ]
	[[ $output == *"$((200 << 20)) bytes"* || $output == *"bytes of files"* ]]
	run "$DEPOT_BIN/depotd" --restore "$WORK/bomb.tar.gz" -d "$WORK/small/d"
	echo "$output"
	[ "$status" -eq 1 ]
	zeros=$(head -c $((200 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
	[[ $output == *"content/sha256/${zeros:0:2}/$zeros"*"needs more space than there is"* ]]
	[[ $output == *"nothing was changed"* ]]
	[ "$(ls -A "$WORK/small/d")" = depot.conf ]
	[ -z "$(ls -d "$WORK"/small/d.* 2>/dev/null)" ]
	# Nothing of the 200 MiB stayed: the tmpfs is as empty as before.
	[ "$(df --output=used -k "$WORK/small" | tail -1)" -lt 1024 ]
}
