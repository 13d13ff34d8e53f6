#!/usr/bin/env bats
# Issue 14: each binary links what it uses. depotctl and depot-console load
# none of the libraries that archives, downloads, the store and systemd
# take; backup verify and backup list, which read archives, run depotd
# --verify and --list-backups (found beside depotctl, else on PATH) and
# behave as they did, hostile cases included.

load helpers
load repo_helpers
load backup_helpers

# What only depotd may load: reading archives (libarchive, and its
# libxml2, ICU and libstdc++), downloads, hashing, the store, depot.conf,
# sd_notify.
DAEMON_ONLY='libarchive|libcurl|libcrypto|libssl|libsqlite3|libsystemd|libxml2|libicu|libstdc\+\+|libinih'

# needed BIN: the libraries BIN names itself (its NEEDED entries), one a line.
needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# backup_here: a daemon, an uncompressed backup in $WORK/b.tar (so a test
# can damage one member's bytes), and the daemon stopped.
backup_here() {
	depot_start "backup.compression = none"
	mkdir -p "$WORK/feed"
	write_bytes "$WORK/feed/one.bin" 5000
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	backup_wait -o "$WORK/b.tar"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	depot_terminate
}

# lone_ctl: a copy of depotctl alone in $WORK/alone, with a depotd beside
# it only when a test puts one there.
lone_ctl() {
	mkdir -p "$WORK/alone"
	cp "$DEPOT_BIN/depotctl" "$WORK/alone/depotctl"
}

# tracing_depotd DIR: DIR/depotd, which appends its arguments to
# $WORK/trace (as DIR: ARGS) and runs the real one.
tracing_depotd() {
	mkdir -p "$1"
	cat >"$1/depotd" <<EOF
#!/bin/sh
echo "$1: \$*" >>"$WORK/trace"
exec "$DEPOT_BIN/depotd" "\$@"
EOF
	chmod +x "$1/depotd"
}

@test "depotctl and depot-console name none of depotd's libraries, nor load them (readelf -d, ldd)" {
	local bin libs only=$DAEMON_ONLY
	# A sanitized build (make SANITIZE=...) has its runtimes too, and libubsan brings libstdc++.
	if needed "$DEPOT_BIN/depotctl" | grep -qE '^lib(asan|ubsan)\.so'; then
		only=${only/'|libstdc\+\+'/}
	fi
	for bin in depotctl depot-console; do
		[ -x "$DEPOT_BIN/$bin" ] || continue
		libs=$(needed "$DEPOT_BIN/$bin")
		echo "$bin needs: $libs"
		# None at all: depotctl linked statically (Makefile: CTL_STATIC).
		[ "$bin" = depotctl ] && [ -z "$libs" ] || grep -q '^libc\.so' <<<"$libs"
		if grep -E "^($only)" <<<"$libs"; then false; fi
		# Nor through another library.
		libs=$(ldd "$DEPOT_BIN/$bin")
		if grep -E "^\s*($only)" <<<"$libs"; then false; fi
	done
	# depotctl: libc alone, as tsp; the wire and cJSON (vendor/cjson) are compiled in.
	libs=$(needed "$DEPOT_BIN/depotctl" | grep -vE '^(libc|libasan|libubsan)\.so' || true)
	echo "depotctl needs beyond libc: $libs"
	[ -z "$libs" ]
	# depotd still has what it reads archives with.
	needed "$DEPOT_BIN/depotd" | grep -q '^libarchive\.so'
}

# name_ends LIST: the display column of each row's RESOURCES "-", one a line.
name_ends() {
	python3 -c '
import re, sys, unicodedata
for line in sys.stdin.read().splitlines()[1:]:
    pre = line[:re.search(r"  +- ", line).end() - 2]
    print(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in pre))
' <<<"$1"
}

@test "depotctl, linked statically, still reads the locale: a command of wide characters lines up under C.UTF-8 and not under C" {
	depot_start
	ctl run --wait -- echo 日本語テスト >/dev/null
	ctl run --wait -- echo plain >/dev/null
	out=$(LC_ALL=C.UTF-8 ctl task list)
	echo "$out"
	[ "$(name_ends "$out" | sort -u | wc -l)" -eq 1 ]
	# Without the locale each byte is a column: the rows would not line up,
	# which is what a static libc that could not load it would print.
	out=$(LC_ALL=C ctl task list)
	[ "$(name_ends "$out" | sort -u | wc -l)" -eq 2 ]
}

@test "backup verify and backup list run depotd beside depotctl, with no daemon running, and print as before" {
	backup_here
	lone_ctl
	tracing_depotd "$WORK/alone"
	# A depotd on PATH too: the one beside depotctl comes first.
	tracing_depotd "$WORK/onpath"

	run --separate-stderr env PATH="$WORK/onpath:$PATH" "$WORK/alone/depotctl" -d "$DIR" \
		backup verify "$WORK/b.tar"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "$WORK/b.tar: ok, "*" members, "*" bytes of files, made "*" by depot "* ]]
	[ "${lines[1]}" = "authenticated by $DIR/backup.key" ]
	[ "$(cat "$WORK/trace")" = "$WORK/alone: --verify $WORK/b.tar --dir $DIR" ]

	# --json: the keys backup verify always printed, and no more.
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" --json backup verify "$WORK/b.tar"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'keys' <<<"$output")" = \
		'["authenticated","bytes","chain","created_at","depot_version","format","kind","members","ok","path"]' ]
	[ "$(jq -r '.ok, .authenticated, .kind, (.chain | length)' <<<"$output" | tr '\n' ' ')" = "true true full 1 " ]

	# What it recorded, backup list shows; the directory through --list-backups.
	: >"$WORK/trace"
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" backup list --dir "$WORK"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "NAME "*"VERIFIED" ]]
	[[ ${lines[1]} == "b.tar "*" full "*" yes" ]]
	[ "$(cat "$WORK/trace")" = "$WORK/alone: --list-backups $WORK" ]
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" --json backup list --dir "$WORK"
	[ "$status" -eq 0 ]
	[ "$(jq -r '.[0] | .name, .kind, .verified, .authenticated, .time_from, .base' <<<"$output" | tr '\n' ' ')" = \
		"b.tar full true true header null " ]

	# No DIR/backups yet: nothing to read, no depotd run.
	: >"$WORK/trace"
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" backup list
	[ "$status" -eq 0 ]
	[ "$output" = "no backups in $DIR/backups" ]
	[ ! -s "$WORK/trace" ]

	# Without one beside it: the first on PATH.
	rm "$WORK/alone/depotd"
	run --separate-stderr env PATH="$WORK/onpath:$PATH" "$WORK/alone/depotctl" -d "$DIR" \
		backup verify "$WORK/b.tar"
	[ "$status" -eq 0 ]
	[ "$(cat "$WORK/trace")" = "$WORK/onpath: --verify $WORK/b.tar --dir $DIR" ]
}

@test "backup verify and backup list without a depotd they can run: where they looked, exit 3" {
	backup_here
	lone_ctl
	mkdir -p "$WORK/empty"

	run --separate-stderr env PATH="$WORK/empty" "$WORK/alone/depotctl" -d "$DIR" \
		backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[ -z "$output" ]
	[[ $stderr == *"cannot find depotd"*"$WORK/alone/depotd"*"PATH ($WORK/empty)"* ]]
	# Nothing was recorded: nothing was verified.
	[ ! -e "$WORK/.b.tar.verified" ]

	run --separate-stderr env PATH="$WORK/empty" "$WORK/alone/depotctl" -d "$DIR" \
		backup list --dir "$WORK"
	[ "$status" -eq 3 ]
	[[ $stderr == *"cannot find depotd"*"$WORK/alone/depotd"* ]]

	# --json: the error object of an unreachable daemon.
	run --separate-stderr env PATH="$WORK/empty" "$WORK/alone/depotctl" -d "$DIR" --json \
		backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[ "$(jq -r .error.code <<<"$output")" = unavailable ]

	# A depotd that is not executable, or a directory: not one to run.
	printf '#!/bin/sh\nexit 0\n' >"$WORK/alone/depotd"
	chmod 0644 "$WORK/alone/depotd"
	mkdir "$WORK/empty/depotd"
	run --separate-stderr env PATH="$WORK/empty" "$WORK/alone/depotctl" -d "$DIR" \
		backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[[ $stderr == *"cannot find depotd"* ]]

	# One that dies, or prints what is no answer: said, exit 3, never "ok" nor "refused".
	printf '#!/bin/sh\nkill -KILL $$\n' >"$WORK/alone/depotd"
	chmod 0755 "$WORK/alone/depotd"
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[[ $stderr == *"$WORK/alone/depotd --verify gave no answer: killed by signal 9"* ]]
	printf '#!/bin/sh\necho "not json"\n' >"$WORK/alone/depotd"
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[[ $stderr == *"--verify gave no answer (exit status 0)"* ]]
	# A verdict that contradicts its exit status is not believed either.
	printf '#!/bin/sh\necho "{\\"path\\": \\"x\\", \\"ok\\": true}"; exit 1\n' >"$WORK/alone/depotd"
	run --separate-stderr "$WORK/alone/depotctl" -d "$DIR" backup verify "$WORK/b.tar"
	[ "$status" -eq 3 ]
	[[ $stderr == *"does not understand"* ]]
}

@test "a damaged archive is refused through depotd as before: stderr, exit 1, recorded, listed FAILED" {
	backup_here
	local off
	off=$(member_data_offset "$WORK/b.tar" depot.conf)
	flip_byte "$WORK/b.tar" "$off"

	run --separate-stderr ctl backup verify "$WORK/b.tar"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ $stderr == "$WORK/b.tar: refused: "*"depot.conf"* ]]
	run --separate-stderr ctl --json backup verify "$WORK/b.tar"
	[ "$status" -eq 1 ]
	[ "$(jq -c 'keys' <<<"$output")" = '["error","ok","path"]' ]
	[ "$(jq -r .ok <<<"$output")" = false ]
	[[ $(jq -r .error <<<"$output") == *"depot.conf"* ]]
	[[ $stderr == "$WORK/b.tar: refused: "* ]]

	# Recorded beside it by depotd, as this user, mode 0600.
	[ "$(stat -c '%a %u' "$WORK/.b.tar.verified")" = "600 $(id -u)" ]
	run --separate-stderr ctl backup list --dir "$WORK"
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "b.tar "*" FAILED" ]]
	run --separate-stderr ctl --json backup list --dir "$WORK"
	[[ $(jq -r '.[0].verify_error' <<<"$output") == *"depot.conf"* ]]

	# Not a tar at all, and a directory that is none: as before.
	echo "just text" >"$WORK/text.tar"
	run --separate-stderr ctl backup verify "$WORK/text.tar"
	[ "$status" -eq 1 ]
	[[ $stderr == "$WORK/text.tar: refused: "* ]]
	run --separate-stderr ctl backup list --dir "$WORK/none"
	[ "$status" -eq 2 ]
	[[ $stderr == *"cannot list the backups"*"$WORK/none"* ]]
}

@test "depotd --verify and --list-backups refuse what they cannot take" {
	run --separate-stderr "$DEPOT_BIN/depotd" --base /x
	[ "$status" -eq 2 ]
	[[ $stderr == *"--base goes with --restore or --verify"* ]]
	run --separate-stderr "$DEPOT_BIN/depotd" --verify /x --list-backups /y
	[ "$status" -eq 2 ]
	[[ $stderr == *"go alone"* ]]
	run --separate-stderr "$DEPOT_BIN/depotd" --verify /x --restore /y
	[ "$status" -eq 2 ]
	# A file that is not there: refused as an archive would be, JSON on stdout, exit 1.
	run --separate-stderr "$DEPOT_BIN/depotd" -d "$WORK/nodir" --verify "$WORK/missing.tar"
	[ "$status" -eq 1 ]
	[ "$(jq -r .ok <<<"$output")" = false ]
	[ "$(jq -r .key_read <<<"$output")" = false ]
}

@test "depotctl's data the loader must relocate at each start stays small: its command table is not in it whole" {
	# Every page of .data.rel.ro is written (so copied) by ld.so before main:
	# the table of commands with 25 option slots inline each made it 52 KB.
	# Counted in depot's own objects (those of libdepot.a that depotctl does
	# not link too): a static depotctl's section also holds libc's.
	local size
	[ -d "$DEPOT_BIN/ctl" ] || skip "DEPOT_BIN has no objects (not a build directory)"
	size=$(size -A "$DEPOT_BIN"/ctl/*.o "$DEPOT_BIN/libdepot.a" |
		awk '$1 ~ /^\.data\.rel\.ro/ { s += $2 } END { print s + 0 }')
	echo "depot's .data.rel.ro: $size bytes"
	[ "$size" -gt 0 ]
	[ "$size" -lt 16384 ]
}
