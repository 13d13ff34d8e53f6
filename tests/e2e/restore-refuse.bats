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
	STATE=$(depot_state)
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

# refused FILE TEXT...: all three refuse it.
refused() {
	verify_refuses "$@"
	restore_refused "$@"
	offline_refused "$@"
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
	STATE=$(depot_state)
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
