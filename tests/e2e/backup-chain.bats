#!/usr/bin/env bats
# backup-chain.bats: restoring and verifying an incremental with its chain
# (issue 11, doc/backup-format.md). A chain full → incremental →
# incremental restores to the last state, online (`depotctl restore`) and
# offline (`depotd --restore`), its bases beside it or given with --base; a
# missing, altered or resized base is refused naming the archive, with the
# data directory as it was. Judged from the files: content present,
# publish/*/current valid, the database's versions, listings and checksums.

load helpers
load repo_helpers
load backup_helpers

# chain: repository r synced and published three times, with a backup after
# each: $FULL, then $INC1 and $INC2 (--incremental) in $WORK/b. Between
# them one file changes and one comes; before the last, one goes and a
# second repository r2 comes. The last state's publications in $SUMS.
chain() {
	mkdir -p "$WORK/feed" "$WORK/feed2" "$WORK/b"
	printf 'one\n' >"$WORK/feed/one.txt"
	write_bytes "$WORK/feed/two.bin" 30000
	write_bytes "$WORK/feed/three.bin" 4000
	make_feed "$WORK/feed"
	ctl repo create r --feed "file://$WORK/feed/PULP_MANIFEST" >/dev/null
	sync_wait r
	publish_wait r
	backup_wait -o "$WORK/b/full.tar.zst"
	FULL=$ARCHIVE
	[ "$(jq -r .result.kind <<<"$TASK")" = full ]

	write_bytes "$WORK/feed/two.bin" 30001
	write_bytes "$WORK/feed/four.bin" 5000
	make_feed "$WORK/feed"
	sync_wait r
	publish_wait r
	backup_wait -o "$WORK/b/inc1.tar.zst" --incremental
	INC1=$ARCHIVE
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]

	rm "$WORK/feed/one.txt"
	printf 'five\n' >"$WORK/feed/five.txt"
	make_feed "$WORK/feed"
	sync_wait r
	publish_wait r
	write_bytes "$WORK/feed2/other.bin" 7000
	make_feed "$WORK/feed2"
	ctl repo create r2 --feed "file://$WORK/feed2/PULP_MANIFEST" >/dev/null
	sync_wait r2
	publish_wait r2
	backup_wait -o "$WORK/b/inc2.tar.zst" --incremental
	INC2=$ARCHIVE
	[ "$(jq -r .result.kind <<<"$TASK")" = incremental ]
	[ "$(jq -r .result.base <<<"$TASK")" = inc1.tar.zst ]
	# An archive holds each repository's published version only.
	SUMS=$(publish_sums | grep -E '  (r/versions/3|r2/versions/1)/| -> ')
}

# last_state DIR: DIR holds the state of $INC2: every content a complete
# version references, each what its name says; each publish/*/current
# whole as its PULP_MANIFEST says; r at version 3 published, r2 at 1.
last_state() {
	local d=$1 sha f repo path size n=0
	while read -r sha; do
		f=$d/content/sha256/${sha:0:2}/$sha
		[ -f "$f" ] || { echo "missing $f" >&2; return 1; }
		[ "$(sha_of "$f")" = "$sha" ] || return 1
		n=$((n + 1))
	done < <(sqlite3 "$d/depot.db" "SELECT DISTINCT f.sha256 FROM version_files f JOIN versions v
		ON v.repo = f.repo AND v.number = f.number WHERE v.complete")
	# one, two twice, three, four, five, other.
	[ "$n" -eq 7 ] || { echo "$n contents referenced" >&2; return 1; }
	for repo in r r2; do
		[ -d "$d/publish/$repo/current" ] || return 1
		while IFS=, read -r path sha size; do
			[ "$(sha_of "$d/publish/$repo/current/$path")" = "$sha" ] || return 1
			[ "$(stat -c %s "$d/publish/$repo/current/$path")" = "$size" ] || return 1
			# A hard link into the content store.
			[ "$(stat -c %i "$d/publish/$repo/current/$path")" = \
				"$(stat -c %i "$d/content/sha256/${sha:0:2}/$sha")" ] || return 1
		done <"$d/publish/$repo/current/PULP_MANIFEST"
	done
	[ "$(readlink "$d/publish/r/current")" = versions/3 ]
	[ ! -e "$d/publish/r/current/one.txt" ]
	[ "$(cat "$d/publish/r/current/five.txt")" = five ]
	diff <(echo "$SUMS") <(publish_sums "$d")
	[ "$(sqlite3 "$d/depot.db" "SELECT max(number) || ' ' || (SELECT published_version FROM
		repositories WHERE name = 'r') FROM versions WHERE repo = 'r' AND complete")" = "3 3" ]
	[ "$(sqlite3 "$d/depot.db" "SELECT published_version FROM repositories WHERE name = 'r2'")" = 1 ]
}

# record_state: the data directory as a refused restore must leave it.
record_state() {
	STATE=$(depot_state)
	DATA_SUMS=$(data_sums)
}

# unchanged: as record_state found it, nothing left beside it.
unchanged() {
	diff <(echo "$STATE") <(depot_state)
	diff <(echo "$DATA_SUMS") <(data_sums)
	[ -z "$(leftovers)" ]
	[ -z "$(tmp_files)" ]
}

# all_refuse TEXT...: backup verify, restore and depotd --restore (into an
# empty directory) all refuse $INC2 saying every TEXT, and nothing changed.
all_refuse() {
	local t msg new rc
	run --separate-stderr ctl backup verify "$INC2"
	echo "verify: $status: $stderr"
	[ "$status" -eq 1 ]
	[[ $stderr == "$INC2: refused: "* ]]
	for t in "$@"; do [[ $stderr == *"$t"* ]]; done

	rc=0
	restore_wait "$INC2" || rc=$?
	echo "restore: $rc: $TASK"
	[ "$rc" -eq 1 ]
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	msg=$(jq -r .error.message <<<"$TASK")
	echo "restore task: $msg"
	for t in "$@"; do [[ $msg == *"$t"* ]]; done
	unchanged

	new=$(mktemp -d /tmp/dpn.XXXXXX)
	BACKUP_DIRS+=("$new")
	run "$DEPOT_BIN/depotd" --restore "$INC2" -d "$new"
	echo "depotd --restore: $status: $output"
	[ "$status" -eq 1 ]
	for t in "$@"; do [[ $output == *"$t"* ]]; done
	[[ $output == *"nothing was changed"* ]]
	[ -z "$(ls -A "$new")" ]
	[ -z "$(leftovers "$new")" ]
}

@test "a chain full, incremental, incremental restores to the last state, online and offline; verify prints the chain" {
	depot_start
	chain
	run ctl backup verify "$INC2"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "$INC2: ok, "* ]]
	[[ ${lines[1]} == "  base $INC1: incremental, "* ]]
	[[ ${lines[2]} == "  base $FULL: full, "* ]]
	[ "$(ctl --json backup verify "$INC2" | jq -r '[.kind, (.chain | map(.path) | join(" "))] | join(" ")')" = \
		"incremental $INC2 $INC1 $FULL" ]

	# Afterwards the depot moves on: r deleted, its content cleaned away.
	ctl repo delete r
	run ctl orphans clean --wait
	[ "$status" -eq 0 ]
	[ ! -e "$DIR/publish/r" ]

	restore_wait "$INC2"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r '.result.kind' <<<"$TASK")" = incremental ]
	[ "$(jq -r '.result.chain | join(" ")' <<<"$TASK")" = "$INC2 $INC1 $FULL" ]
	last_state "$DIR"
	[ "$(ctl --json repo list | jq -r '[.[].name] | sort | join(" ")')" = "r r2" ]

	# Offline, into an empty directory; a daemon started there serves it.
	new=$WORK/offline
	run "$DEPOT_BIN/depotd" --restore "$INC2" -d "$new"
	echo "$output"
	[ "$status" -eq 0 ]
	BACKUP_DIRS+=("$new")
	[[ $output == *"with its base $INC1 (incremental"* ]]
	[[ $output == *"with its base $FULL (full"* ]]
	last_state "$new"
	start_on "$new"
	[ "$(ctl --json repo show r | jq -r '.published_version')" = 3 ]
}

@test "bases found with --base, elsewhere and under other names, online and offline" {
	depot_start
	chain
	mkdir "$WORK/elsewhere"
	mv "$FULL" "$WORK/elsewhere/monday.tar.zst"
	mv "$INC1" "$WORK/elsewhere/tuesday.tar.zst"
	# Nothing beside it: refused, naming the first base missing.
	run --separate-stderr ctl backup verify "$INC2"
	[ "$status" -eq 1 ]
	[[ $stderr == *"inc2.tar.zst needs its base inc1.tar.zst, which is not beside it in $WORK/b nor given with --base"* ]]
	# Given relative: depotctl makes them absolute for the daemon.
	cd "$WORK/elsewhere"
	run ctl backup verify "$INC2" --base monday.tar.zst --base tuesday.tar.zst
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"base $WORK/elsewhere/tuesday.tar.zst: incremental"* ]]
	[[ $output == *"base $WORK/elsewhere/monday.tar.zst: full"* ]]
	restore_wait "$INC2" --base monday.tar.zst -b tuesday.tar.zst
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -c .args.bases <<<"$TASK")" = \
		"[\"$WORK/elsewhere/monday.tar.zst\",\"$WORK/elsewhere/tuesday.tar.zst\"]" ]
	[ "$(jq -r '.result.chain | join(" ")' <<<"$TASK")" = \
		"$INC2 $WORK/elsewhere/tuesday.tar.zst $WORK/elsewhere/monday.tar.zst" ]
	last_state "$DIR"

	new=$WORK/offline
	run "$DEPOT_BIN/depotd" --restore "$INC2" --base "$WORK/elsewhere/tuesday.tar.zst" \
		--base "$WORK/elsewhere/monday.tar.zst" -d "$new"
	echo "$output"
	[ "$status" -eq 0 ]
	BACKUP_DIRS+=("$new")
	last_state "$new"
	# --base is for --restore only; a relative or non-file base is refused before the daemon.
	run "$DEPOT_BIN/depotd" --base x.tar -d "$new"
	[ "$status" -eq 2 ]
	run ctl restore "$INC2" --base "$WORK/nothing.tar"
	[ "$status" -eq 2 ]
	[[ $output == *"cannot use the base '$WORK/nothing.tar'"* ]]
}

@test "a missing, altered or resized base is refused naming it, online and offline, and nothing changes" {
	depot_start
	chain
	run ctl backup verify "$INC2"
	[ "$status" -eq 0 ]
	record_state

	mv "$INC1" "$WORK/inc1.away"
	all_refuse "inc2.tar.zst needs its base inc1.tar.zst, which is not beside it in $WORK/b nor given with --base"
	mv "$WORK/inc1.away" "$INC1"

	# One byte of the full flipped, in the middle of its compressed data.
	cp "$FULL" "$WORK/full.good"
	flip_byte "$FULL" $(($(stat -c %s "$FULL") / 2))
	all_refuse "$FULL, the base inc1.tar.zst names, is not that archive: its sha256 is" \
		"(altered, or another archive of that name)"
	cp "$WORK/full.good" "$FULL"

	# One byte more at its end, which no reader of the tar would see.
	printf 'x' >>"$FULL"
	all_refuse "$FULL, the base inc1.tar.zst names, has $(stat -c %s "$FULL") bytes, and inc1.tar.zst says $(($(stat -c %s "$FULL") - 1))"
	cp "$WORK/full.good" "$FULL"

	# Another archive under the base's name: a later full of the same depot.
	backup_wait -o "$WORK/other.tar.zst"
	record_state
	mv "$WORK/other.tar.zst" "$FULL"
	all_refuse "$FULL, the base inc1.tar.zst names, " "(altered, or another archive of that name)"
	cp "$WORK/full.good" "$FULL"

	# Whole again: verify passes, and the restore goes through.
	run ctl backup verify "$INC2"
	[ "$status" -eq 0 ]
	restore_wait "$INC2"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	last_state "$DIR"
}
