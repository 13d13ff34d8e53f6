#!/usr/bin/env bash
# verify-members.sh: `depotctl backup verify` on an archive of a million
# members, against `tar -tzf` on the same archive. backup_read keeps a
# digest of every member until the manifest, last in the archive, is
# checked against them (DESIGN §9), so its memory grows with the member
# count: this measures how much.
#
# The archive is made here, as depot would write it: depot.db (a tiny
# SQLite database with a schema version), content/, content/sha256/, its
# 256 two-hex-digit directories, and BENCH_VERIFY_MEMBERS (1,000,000) files
# of a few bytes each named by their sha256, in name order; then
# MANIFEST.json listing every member in archive order; ustar headers
# written by a small python generator, piped through gzip -1.
#
# Figures: peak RSS (`/usr/bin/time -v`, "Maximum resident set size") and
# wall time of each. Criterion: verify accepts the archive, with peak RSS
# under BENCH_VERIFY_MAX_MIB (100) MiB.
. "$(dirname "$0")/lib.bash"

MEMBERS=${BENCH_VERIFY_MEMBERS:-1000000}
MAX_MIB=${BENCH_VERIFY_MAX_MIB:-100}
echo "== verify-members: depotctl backup verify on $MEMBERS members vs tar -tzf =="

# GNU time: bash's `time` keyword cannot tell peak memory.
if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "installing GNU time (apt-get install time)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null 2>&1; }
	fi
	[ -x /usr/bin/time ] || { echo "verify-members: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
fi
command -v gzip >/dev/null || { echo "verify-members: gzip is not installed" >&2; exit 2; }

bench_tmp
# An empty data directory: depotctl takes the default limits (restore_max_members 2,000,000).
bench_dir
ARC=$TMPD/members.tar.gz

# The generator: ustar headers by hand (python's tarfile takes ten times as
# long per member); every entry of the manifest as daemon/backup.c writes it.
GEN_PY='
import hashlib, os, sqlite3, sys, time
n, work = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer
MTIME = 1767323045
ZERO = bytes(512)

def header(name, size, mode, flag):
    h = bytearray(512)
    nb = name.encode()
    h[0:len(nb)] = nb
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"%07o\0" % 1000
    h[116:124] = b"%07o\0" % 1000
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b"        "
    h[156:157] = flag
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)

def pad(size):
    return ZERO[: (512 - size % 512) % 512]

manifest = open(os.path.join(work, "manifest"), "w+b")
manifest.write(b"{\"format\":1,\"created_at\":\"2026-01-01T00:00:00Z\",\"depot_version\":\"bench\",\"members\":[")
first = True

def entry(text):
    global first
    manifest.write((("\n" if first else ",\n") + text).encode())
    first = False

def file_member(path, data):
    out.write(header(path, len(data), 0o600, b"0") + data + pad(len(data)))
    entry("{\"path\":\"%s\",\"type\":\"file\",\"size\":%d,\"sha256\":\"%s\"}"
          % (path, len(data), hashlib.sha256(data).hexdigest()))

def dir_member(path):
    out.write(header(path + "/", 0, 0o755, b"5"))
    entry("{\"path\":\"%s\",\"type\":\"dir\"}" % path)

db = os.path.join(work, "depot.db")
c = sqlite3.connect(db)
c.executescript("PRAGMA user_version=3; CREATE TABLE tasks(id INTEGER PRIMARY KEY);")
c.close()
file_member("depot.db", open(db, "rb").read())
dir_member("content")
dir_member("content/sha256")

# Names in order, as the backup writes them (scandir, alphasort): by
# digest. Each kept as digest + index, the smallest python can hold.
buckets = [[] for _ in range(256)]
for i in range(n):
    d = hashlib.sha256(b"%d\n" % i).digest()
    buckets[d[0]].append(d + i.to_bytes(4, "big"))
for b in range(256):
    prefix = "content/sha256/%02x" % b
    dir_member(prefix)
    blocks, lines = [], []
    for k in sorted(buckets[b]):
        data = b"%d\n" % int.from_bytes(k[32:], "big")
        h = k[:32].hex()
        path = "%s/%s" % (prefix, h)
        blocks.append(header(path, len(data), 0o644, b"0") + data + pad(len(data)))
        lines.append(",\n{\"path\":\"%s\",\"type\":\"file\",\"size\":%d,\"sha256\":\"%s\"}"
                     % (path, len(data), h))
    out.write(b"".join(blocks))
    manifest.write("".join(lines).encode())
    buckets[b] = None
manifest.write(b"\n]}\n")
size = manifest.tell()
manifest.seek(0)
out.write(header("MANIFEST.json", size, 0o600, b"0"))
while True:
    chunk = manifest.read(1 << 20)
    if not chunk:
        break
    out.write(chunk)
out.write(pad(size) + ZERO + ZERO)
out.flush()
'

t0=$(now_ms)
set -o pipefail
python3 -c "$GEN_PY" "$MEMBERS" "$TMPD" | gzip -1 >"$ARC" ||
	{ result verify-members FAIL "could not make the archive"; bench_exit; }
set +o pipefail
gen_ms=$(( $(now_ms) - t0 ))
rm -f "$TMPD/manifest" "$TMPD/depot.db"
arc_size=$(stat -c %s "$ARC")
echo "archive: $(human_bytes "$arc_size") gzip, $MEMBERS files + 258 directories + depot.db, made in $(secs "$gen_ms") s"
sync

# measure LABEL OUT CMD...: runs CMD under GNU time; sets RSS_KB, WALL_MS, RC.
measure() {
	local label=$1 out=$2 t
	shift 2
	t=$(now_ms)
	/usr/bin/time -v -o "$TMPD/$label.time" "$@" >"$out" 2>"$TMPD/$label.err"
	RC=$?
	WALL_MS=$(( $(now_ms) - t ))
	RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMPD/$label.time")
	[ -n "$RSS_KB" ] || RSS_KB=0
}

measure verify "$TMPD/verify.out" "$DEPOTCTL" -d "$DIR" backup verify "$ARC"
v_rc=$RC v_rss=$RSS_KB v_ms=$WALL_MS
echo "depotctl backup verify: exit $v_rc, peak RSS $(kib "$v_rss"), $(secs "$v_ms") s"
sed 's/^/  /' "$TMPD/verify.out" "$TMPD/verify.err" | head -5

measure tar "$TMPD/tar.out" tar -tzf "$ARC"
t_rc=$RC t_rss=$RSS_KB t_ms=$WALL_MS
t_lines=$(wc -l <"$TMPD/tar.out")
echo "tar -tzf:               exit $t_rc, peak RSS $(kib "$t_rss"), $(secs "$t_ms") s ($t_lines names)"

status=PASS
problems=()
[ "$v_rc" -eq 0 ] || problems+=("verify exited $v_rc: $(head -c 300 "$TMPD/verify.err")")
grep -q "ok, $((MEMBERS + 259)) members" "$TMPD/verify.out" ||
	problems+=("verify did not report $((MEMBERS + 259)) members: $(head -c 200 "$TMPD/verify.out")")
[ "$t_rc" -eq 0 ] || problems+=("tar -tzf exited $t_rc")
[ "$v_rss" -lt $((MAX_MIB * 1024)) ] ||
	problems+=("verify's peak RSS $(mib "$v_rss") is over the $MAX_MIB MiB target")
[ ${#problems[@]} -eq 0 ] || status=FAIL
for p in "${problems[@]}"; do echo "problem: $p"; done
result verify-members "$status" "$MEMBERS members ($(human_bytes "$arc_size") gz): verify peak RSS $(mib "$v_rss") in $(secs "$v_ms") s vs tar -tzf $(mib "$t_rss") in $(secs "$t_ms") s (target < $MAX_MIB MiB)"
for p in "${problems[@]}"; do note "$p"; done
bench_exit
