# backup_helpers.bash: what the backup and restore e2e tests share (load
# after helpers and repo_helpers).
#
#   load helpers
#   load repo_helpers
#   load backup_helpers
#
# Besides repo_helpers' teardown, this file's removes what a restore leaves
# beside a data directory (DIR.pre-restore-*, DIR.restore-*, and what a
# prune stopped midway left, DIR.pruning-pre-restore-*) for every data
# directory the test used, and unmounts what mount_small mounted.
#
#   two_repos                       feeds in $WORK, repositories r1 and r2 synced and published
#   big_repo                        repository big: one 48 MB random file, synced (gzip takes seconds on it)
#   hold_content                    a task holding content exclusive until release_content ($ID)
#   backup_wait [ARG]...            backup --wait ARG...; id in $ID, final task in $TASK, path in $ARCHIVE
#   restore_wait FILE [ARG]...      restore FILE --wait ARG...; id in $ID, final task in $TASK
#   publish_sums [DIR]              sha256 and path of every publish file, and where each current points
#   depot_state                     repositories, tasks (but restores), publish tree and content of $DIR
#   leftovers [DIR]                 DIR.restore-* and DIR.pre-restore-* beside DIR ($DIR by default)
#   max_task_id                     the largest task id the daemon lists
#   craft SRC DST KIND [ARG]...     a hostile copy of the uncompressed archive SRC (CRAFT_PY)
#   flip_byte FILE OFFSET           inverts one byte of FILE in place
#   member_data_offset TAR PATH [header]   where member PATH's data (header) starts in TAR
#   start_on DIR                    another daemon on the existing data directory DIR ($DIR becomes it)
#   mount_small DIR SIZE            a tmpfs of SIZE on DIR (skips the test when mounting is not permitted)

# Loaded by bats files: what looks unused here ($ARCHIVE, $DEPOT_PID, the
# optional argument of publish_sums) is used by them and by helpers.bash.
# shellcheck disable=SC2034,SC2119,SC2120

# repo_helpers' teardown, kept under another name so that ours can run it.
eval "$(declare -f teardown | sed '1s/^teardown/repo_teardown/')"

BACKUP_DIRS=()
BACKUP_MOUNTS=()

teardown() {
	local d rc=0 m
	# The daemon's log follows the data it was opened in: after a restore,
	# DIR.pre-restore-*/depotd.log. Shown only when the test failed.
	for d in "${DEPOTS_DIR[@]}" "$DIR" "${BACKUP_DIRS[@]}"; do
		[ -n "$d" ] && BACKUP_DIRS+=("$d")
	done
	# Before $WORK goes: a tmpfs mounted in it.
	for m in "${BACKUP_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	repo_teardown || rc=1
	for d in $(printf '%s\n' "${BACKUP_DIRS[@]}" | sort -u); do
		for m in "$d".pre-restore-*/depotd.log; do
			[ -f "$m" ] || continue
			echo "--- $m (last 60 lines) ---"
			tail -n 60 "$m"
		done
		rm -rf "$d" "$d".pre-restore-* "$d".restore-* "$d".pruning-pre-restore-*
	done
	BACKUP_DIRS=()
	BACKUP_MOUNTS=()
	return $rc
}

# two_repos: feeds $WORK/feed1 (files in subdirectories) and $WORK/feed2,
# repositories r1 and r2 on them, each synced and published.
two_repos() {
	mkdir -p "$WORK/feed1/sub/deep" "$WORK/feed2"
	printf 'first\n' >"$WORK/feed1/first.txt"
	write_bytes "$WORK/feed1/sub/blob.bin" 20000
	write_bytes "$WORK/feed1/sub/deep/x.bin" 777
	write_bytes "$WORK/feed2/only.bin" 3000
	# The same bytes as r1's blob: one content file, two publications.
	cp "$WORK/feed1/sub/blob.bin" "$WORK/feed2/shared.bin"
	make_feed "$WORK/feed1"
	make_feed "$WORK/feed2"
	ctl repo create r1 --feed "file://$WORK/feed1/PULP_MANIFEST" >/dev/null
	ctl repo create r2 --feed "file://$WORK/feed2/PULP_MANIFEST" >/dev/null
	local r
	for r in r1 r2; do
		sync_wait "$r" || return 1
		[ "$(jq -r .state <<<"$TASK")" = completed ] || { echo "sync $r: $TASK" >&2; return 1; }
		publish_wait "$r" || return 1
		[ "$(jq -r .state <<<"$TASK")" = completed ] || { echo "publish $r: $TASK" >&2; return 1; }
	done
}

# big_repo: repository big, one file of 48 MB of random bytes, synced:
# a gzip backup of it runs long enough for a test to catch it running.
big_repo() {
	mkdir -p "$WORK/big"
	write_bytes "$WORK/big/huge.bin" 48000000
	make_feed "$WORK/big"
	ctl repo create big --feed "file://$WORK/big/PULP_MANIFEST" >/dev/null
	sync_wait big
	[ "$(jq -r .state <<<"$TASK")" = completed ]
}

# hold_content: a command holding content exclusive, running until
# release_content; its id in $ID.
hold_content() {
	submit --lock content -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$WORK/go"
}

release_content() {
	touch "$WORK/go"
}

# backup_wait [ARG]...: `backup --wait ARG...`; exits as it did; the id in
# $ID, the final task in $TASK, the archive's path (result.path) in $ARCHIVE.
backup_wait() {
	local out rc=0
	out=$(ctl backup --wait "$@") || rc=$?
	ID=$(head -n 1 <<<"$out")
	[[ $ID =~ ^[0-9]+$ ]] || { echo "backup printed '$out', not an id" >&2; return 1; }
	TASK=$(ctl --json task show "$ID")
	ARCHIVE=$(jq -r '.result.path // empty' <<<"$TASK")
	return $rc
}

# restore_wait FILE [ARG]...: `restore FILE --wait ARG...`, as backup_wait.
restore_wait() {
	local out rc=0
	out=$(ctl restore "$@" --wait) || rc=$?
	ID=$(head -n 1 <<<"$out")
	[[ $ID =~ ^[0-9]+$ ]] || { echo "restore printed '$out', not an id" >&2; return 1; }
	TASK=$(ctl --json task show "$ID")
	return $rc
}

# publish_sums [DIR]: "sha256  path" of every file under DIR/publish (not
# following links), then "path -> target" of every symlink, sorted.
publish_sums() {
	local d=${1:-$DIR}
	(
		cd "$d/publish" || exit 1
		find . -type f -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
			printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
		done
		find . -type l -printf '%P -> %l\n' | LC_ALL=C sort
	)
}

# tree_sums DIR [EXCLUDED]...: every object under DIR, not following links:
# type, mode, owner, path, link target, and a file's sha256 — byte for byte
# what is there. EXCLUDED paths (relative, find -path patterns) are left out.
tree_sums() {
	local d=$1 p args=()
	shift
	for p in "$@"; do
		args+=(-path "./$p" -prune -o)
	done
	(
		cd "$d" || exit 1
		find . "${args[@]}" -printf '%y %m %u %P -> %l\n' | LC_ALL=C sort
		find . "${args[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	)
}

# data_sums: tree_sums of the data directory, less what a daemon changes by
# running at all: the database (compared by depot_state), run/, tmp/, its log.
data_sums() {
	tree_sums "$DIR" run tmp depotd.log 'depot.db*'
}

# depot_state: what a refused restore must leave as it was: the
# repositories, every task but the restores, the publish tree and the
# content store.
depot_state() {
	echo "== repos"
	ctl --json repo list | jq -c 'sort_by(.name) | .[]'
	echo "== tasks"
	ctl --json task list | jq -c '.[] | select(.type != "restore") | [.id, .type, .state]'
	echo "== publish"
	publish_sums
	echo "== content"
	content_files
}

# leftovers [DIR]: whatever a restore left beside DIR.
leftovers() {
	local d=${1:-$DIR}
	ls -d "$d".restore-* "$d".pre-restore-* 2>/dev/null
	return 0
}

max_task_id() {
	ctl --json task list --limit 100000 | jq '[.[].id] | max // 0'
}

# Rewrites an uncompressed depot archive with one thing wrong (KIND), the
# manifest last as the daemon writes it:
#   flip-none             a copy (for flip_byte)
#   dotdot PATH           a file member PATH ("../" in it), listed in the manifest
#   absolute PATH         the same with an absolute PATH
#   symlink PATH TARGET   a symlink member, listed in the manifest
#   hardlink PATH TARGET  a hard link member, listed in the manifest
#   unlisted PATH         a file member the manifest does not list
#   missing PATH          member PATH dropped, the manifest unchanged
#   fifo PATH / chardev PATH   a FIFO or a character device (1, 3) member
#   size PATH             the manifest says PATH is one byte longer
#   replace PATH TEXT     PATH's data replaced by TEXT, the manifest updated to match
#   replace-file PATH FILE   the same with FILE's bytes
#   add SPEC...           members added and listed, each SPEC TYPE=PATH[=ARG]: file=PATH=TEXT,
#                         dir=PATH, symlink=PATH=TARGET, hardlink=PATH=TARGET;
#                         a SPEC "first" puts the ones after it before every other member,
#                         and "drop=PREFIX" removes the members under PREFIX and their entries
CRAFT_PY='
import hashlib, io, json, sys, tarfile
src, dst, kind, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
tin = tarfile.open(src, "r:")
members, manifest = [], None
for m in tin.getmembers():
    data = tin.extractfile(m).read() if m.isfile() else None
    if m.name == "MANIFEST.json":
        manifest = json.loads(data)
        continue
    members.append([m, data])
listed = manifest["members"]
def entry(path):
    for e in listed:
        if e["path"] == path:
            return e
    sys.exit("no member %s in the manifest" % path)
extra = []
def new(path, type_, data=None, target=None, listed_as=None):
    ti = tarfile.TarInfo(path)
    ti.type, ti.mode, ti.mtime = type_, 0o644, 1700000000
    if data is not None:
        ti.size = len(data)
    if target is not None:
        ti.linkname = target
    if type_ == tarfile.CHRTYPE:
        ti.devmajor, ti.devminor = 1, 3
    extra.append([ti, data])
    if listed_as == "file":
        listed.append({"path": path, "type": "file", "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})
    elif listed_as is not None:
        listed.append({"path": path, "type": listed_as, "target": target})
if kind in ("dotdot", "absolute"):
    new(args[0], tarfile.REGTYPE, b"planted\n", listed_as="file")
elif kind == "symlink":
    new(args[0], tarfile.SYMTYPE, target=args[1], listed_as="symlink")
elif kind == "hardlink":
    new(args[0], tarfile.LNKTYPE, target=args[1], listed_as="hardlink")
elif kind == "unlisted":
    new(args[0], tarfile.REGTYPE, b"not listed\n")
elif kind == "missing":
    entry(args[0])
    members = [m for m in members if m[0].name.rstrip("/") != args[0]]
elif kind == "fifo":
    new(args[0], tarfile.FIFOTYPE)
elif kind == "chardev":
    new(args[0], tarfile.CHRTYPE)
elif kind == "size":
    entry(args[0])["size"] += 1
elif kind in ("replace", "replace-file"):
    data = args[1].encode() if kind == "replace" else open(args[1], "rb").read()
    for m in members:
        if m[0].name == args[0]:
            m[0].size, m[1] = len(data), data
    e = entry(args[0])
    e["size"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()
elif kind == "add":
    front_from = None
    for spec in args:
        if spec == "first":
            front_from = len(extra)
            continue
        t, path, *rest = spec.split("=", 2)
        arg = rest[0] if rest else None
        if t == "drop":
            keep = lambda p: p != path and not p.startswith(path + "/")
            members = [m for m in members if keep(m[0].name.rstrip("/"))]
            listed[:] = [e for e in listed if keep(e["path"])]
        elif t == "file":
            new(path, tarfile.REGTYPE, arg.encode(), listed_as="file")
        elif t == "dir":
            ti = tarfile.TarInfo(path)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            extra.append([ti, None])
            listed.append({"path": path, "type": "dir"})
        else:
            new(path, tarfile.SYMTYPE if t == "symlink" else tarfile.LNKTYPE, target=arg,
                listed_as=t)
    if front_from is not None:
        members = extra[front_from:] + members
        extra = extra[:front_from]
    # The manifest lists the members in archive order, as depot writes it.
    order = {m[0].name.rstrip("/"): i for i, m in enumerate(members + extra)}
    listed.sort(key=lambda e: order.get(e["path"], len(order)))
elif kind != "flip-none":
    sys.exit("unknown kind " + kind)
tout = tarfile.open(dst, "w", format=tarfile.PAX_FORMAT)
for ti, data in members + extra:
    tout.addfile(ti, io.BytesIO(data) if data is not None else None)
text = json.dumps(manifest, indent=1).encode()
ti = tarfile.TarInfo("MANIFEST.json")
ti.size, ti.mode, ti.mtime = len(text), 0o600, 1700000000
tout.addfile(ti, io.BytesIO(text))
tout.close()
'

craft() {
	local src=$1 dst=$2
	shift 2
	"$PY" -c "$CRAFT_PY" "$src" "$dst" "$@"
}

# flip_byte FILE OFFSET: inverts the byte at OFFSET.
flip_byte() {
	"$PY" -c 'import sys
f = open(sys.argv[1], "r+b")
f.seek(int(sys.argv[2]))
b = f.read(1)
f.seek(int(sys.argv[2]))
f.write(bytes([b[0] ^ 0xff]))
f.close()' "$1" "$2"
}

# member_data_offset TAR PATH [header]: the offset of member PATH's data
# (with "header": of its first header block, pax headers included).
member_data_offset() {
	"$PY" -c 'import sys, tarfile
for m in tarfile.open(sys.argv[1], "r:").getmembers():
    if m.name == sys.argv[2]:
        print(m.offset if len(sys.argv) > 3 else m.offset_data)
        break
else:
    sys.exit("no member " + sys.argv[2])' "$@"
}

# start_on NEWDIR: a daemon on the existing data directory NEWDIR (as
# depot_launch starts one), which becomes the current one ($DIR, ctl); the
# earlier one stays registered (use_depot 1), and both are stopped at teardown.
start_on() {
	depot_save_current
	BACKUP_DIRS+=("$1")
	DIR=$1
	DEPOT_PID=
	depot_launch || return 1
	depot_save_current
}

# mount_small DIR SIZE: a tmpfs of SIZE on DIR, unmounted at teardown;
# skips the test when this system does not let us mount one.
mount_small() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>"$WORK/mount.err"; then
		skip "cannot mount a tmpfs on $1 ($(cat "$WORK/mount.err")): needs root or CAP_SYS_ADMIN"
	fi
	BACKUP_MOUNTS+=("$1")
}
