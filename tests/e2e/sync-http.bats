#!/usr/bin/env bats
# DESIGN §8 sync over http:// (python3 -m http.server on loopback): files
# are fetched, verified against the PULP_MANIFEST and stored by sha256; a
# new version only when something changed; a failed or canceled sync
# leaves no version, no file in the store and nothing in tmp/.

load helpers
load repo_helpers

# base_feed DIR: four files, one in a subdirectory and one whose path has a comma.
base_feed() {
	mkdir -p "$1/sub/deeper"
	printf 'alpha\n' >"$1/a.txt"
	write_bytes "$1/sub/b.bin" 10000
	printf 'a path, with a comma\n' >"$1/sub/with,comma.txt"
	write_bytes "$1/sub/deeper/c.bin" 3000
	make_feed "$1"
}

# feed_size DIR: the sum of the sizes in DIR/PULP_MANIFEST.
feed_size() {
	awk -F, '{ s += $NF } END { print s + 0 }' "$1/PULP_MANIFEST"
}

# feed_count DIR
feed_count() {
	wc -l <"$1/PULP_MANIFEST" | tr -d ' '
}

# requests_for PATH: how many GETs of PATH the http server logged.
requests_for() {
	grep -c "\"GET /$1 HTTP" "$HTTP_LOG" || true
}

@test "a sync downloads every file of the feed into the content store and makes version 1" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .type <<<"$TASK")" = sync ]
	[ "$(jq -c .resources <<<"$TASK")" = '[{"name":"repository:r1","mode":"exclusive"},{"name":"content","mode":"shared"}]' ]
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = true ]
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	[ "$(jq -r .result.bytes <<<"$TASK")" = "$(feed_size "$WORK/feed")" ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 4 ]
	[ "$(jq -r .result.downloaded_bytes <<<"$TASK")" = "$(feed_size "$WORK/feed")" ]

	run repo_json r1
	[ "$(jq -r .latest_version <<<"$output")" = 1 ]
	[ "$(jq -r .files <<<"$output")" = 4 ]
	[ "$(jq -r .size <<<"$output")" = "$(feed_size "$WORK/feed")" ]
	[ "$(jq -r '.versions | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.versions[0].number' <<<"$output")" = 1 ]
	[ "$(jq -r '.versions[0].files' <<<"$output")" = 4 ]
	[ "$(jq -r '.versions[0].size' <<<"$output")" = "$(feed_size "$WORK/feed")" ]
	[ "$(jq -r '.versions[0].task' <<<"$output")" = "$ID" ]

	# Every file is in the store under its sha256, byte for byte.
	while IFS= read -r line; do
		rest=${line%,*}
		sha=${rest##*,}
		path=${rest%,*}
		echo "checking $path ($sha)"
		[ -f "$(content_path "$sha")" ]
		cmp "$(content_path "$sha")" "$WORK/feed/$path"
		# Readable by all: publish hard-links this inode where a web server reads it, whatever depotd's umask.
		[ "$(stat -c %a "$(content_path "$sha")")" = 644 ]
	done <"$WORK/feed/PULP_MANIFEST"
	[ "$(content_files | wc -l)" -eq 4 ]
	[ -z "$(tmp_files)" ]
	# The path with a comma was asked for as such.
	[ "$(requests_for 'sub/with,comma.txt')" -ge 1 ] || [ "$(requests_for 'sub/with%2Ccomma.txt')" -ge 1 ]
}

@test "the progress of a completed sync counts files, done equal to total" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run ctl --json task show "$ID"
	[ "$(jq -r .progress.unit <<<"$output")" = files ]
	# sync --wait exits 0 for a completed sync.
	run ctl sync r1 --wait
	[ "$status" -eq 0 ]
	run ctl --json task show "$ID"
	[ "$(jq -r .progress.total <<<"$output")" = 4 ]
	[ "$(jq -r .progress.done <<<"$output")" = 4 ]
	[ "$(jq -r .stalled <<<"$output")" = false ]
	[ "$(jq -r .error <<<"$output")" = null ]
}

@test "re-syncing an unchanged feed downloads nothing and makes no new version" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	before=$(content_files | xargs stat -c '%n %i %Y')
	[ "$(requests_for a.txt)" = 1 ]

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 0 ]
	[ "$(jq -r .result.downloaded_bytes <<<"$TASK")" = 0 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = false ]
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	run repo_json r1
	[ "$(jq -r .latest_version <<<"$output")" = 1 ]
	[ "$(jq -r '.versions | length' <<<"$output")" = 1 ]
	# Only the manifest was fetched again; the store is untouched.
	[ "$(requests_for PULP_MANIFEST)" = 2 ]
	[ "$(requests_for a.txt)" = 1 ]
	[ "$(requests_for sub/b.bin)" = 1 ]
	[ "$(content_files | xargs stat -c '%n %i %Y')" = "$before" ]
}

@test "a changed feed makes version 2 holding exactly the feed's files (mirror)" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]

	# One file changed, one removed, one added.
	printf 'alpha, second edition\n' >"$WORK/feed/a.txt"
	rm "$WORK/feed/sub/deeper/c.bin"
	write_bytes "$WORK/feed/new.bin" 2048
	make_feed "$WORK/feed"
	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.version <<<"$TASK")" = 2 ]
	[ "$(jq -r .result.new_version <<<"$TASK")" = true ]
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 2 ]
	[ "$(jq -r .result.downloaded_bytes <<<"$TASK")" = $((22 + 2048)) ]
	run repo_json r1
	[ "$(jq -r .latest_version <<<"$output")" = 2 ]
	[ "$(jq -r '[.versions[].number] | join(" ")' <<<"$output")" = "2 1" ]
	[ "$(jq -r '.versions[0].files' <<<"$output")" = 4 ]
	[ "$(jq -r '.versions[0].size' <<<"$output")" = "$(feed_size "$WORK/feed")" ]
	[ "$(jq -r '.versions[1].files' <<<"$output")" = 4 ]
	[ -f "$(content_path "$(sha_of "$WORK/feed/a.txt")")" ]
	[ -f "$(content_path "$(sha_of "$WORK/feed/new.bin")")" ]
	# Version 1 still references the old files: they stay.
	[ "$(content_files | wc -l)" -eq 6 ]

	# The published version 2 lists exactly the feed.
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	diff <(LC_ALL=C sort "$WORK/feed/PULP_MANIFEST") \
		<(LC_ALL=C sort "$DIR/publish/r1/current/PULP_MANIFEST")
}

@test "with mirror false a sync adds and replaces files but removes none" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --mirror false
	sync_wait r1
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	old_c=$(grep '^sub/deeper/c.bin,' "$WORK/feed/PULP_MANIFEST")

	printf 'alpha, replaced\n' >"$WORK/feed/a.txt"
	rm "$WORK/feed/sub/deeper/c.bin"
	write_bytes "$WORK/feed/added.bin" 100
	make_feed "$WORK/feed"
	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.version <<<"$TASK")" = 2 ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 2 ]
	[ "$(repo_json r1 | jq -r .files)" = 5 ]
	[ "$(repo_json r1 | jq -r .versions[0].files)" = 5 ]
	result=$TASK
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	# The feed's files plus the one it dropped; a.txt is the new one.
	diff <( (cat "$WORK/feed/PULP_MANIFEST"; echo "$old_c") | LC_ALL=C sort) \
		<(LC_ALL=C sort "$DIR/publish/r1/current/PULP_MANIFEST")
	cmp "$DIR/publish/r1/current/a.txt" "$WORK/feed/a.txt"
	# The sync's result describes the version it made (as for a mirror
	# sync), not the feed alone.
	jq -c .result <<<"$result"
	[ "$(jq -r .result.files <<<"$result")" = 5 ]
	[ "$(jq -r .result.bytes <<<"$result")" = "$(repo_json r1 | jq -r .size)" ]
}

@test "a file whose bytes do not match the manifest fails the sync, with no version and nothing stored" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	before=$(content_files)

	# A new file listed with the sha256 of other bytes of the same size.
	printf 'genuine bytes\n' >"$WORK/feed/sub/evil.txt"
	make_feed "$WORK/feed"
	printf 'tampered byte\n' >"$WORK/feed/sub/evil.txt"
	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	message=$(jq -r .error.message <<<"$TASK")
	echo "message: $message"
	[[ $message == *sub/evil.txt* ]]
	[[ $message == *sha256* || $message == *checksum* || $message == *digest* ]]
	[ "$(jq -r .result <<<"$TASK")" = null ] || [ "$(jq -r .result.new_version <<<"$TASK")" != true ]
	run repo_json r1
	[ "$(jq -r .latest_version <<<"$output")" = 1 ]
	[ "$(jq -r '.versions | length' <<<"$output")" = 1 ]
	[ "$(content_files)" = "$before" ]
	[ ! -e "$(content_path "$(sha_of "$WORK/feed/sub/evil.txt")")" ]
	[ -z "$(tmp_files)" ]

	# A wrong size is caught as well, on a first sync too.
	ctl repo create r2 --feed "$(feed_url "$HTTP_PORT")"
	printf 'genuine bytes, and more of them\n' >"$WORK/feed/sub/evil.txt"
	sync_wait r2
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	[[ $(jq -r .error.message <<<"$TASK") == *sub/evil.txt* ]]
	[ "$(repo_json r2 | jq -r .latest_version)" = null ]
	[ -z "$(tmp_files)" ]
}

@test "a file the server does not have (404) fails the sync naming its URL" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	rm "$WORK/feed/sub/b.bin"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	message=$(jq -r .error.message <<<"$TASK")
	echo "message: $message"
	[[ $message == *"http://127.0.0.1:$HTTP_PORT/sub/b.bin"* ]]
	[[ $message == *404* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(tmp_files)" ]
	# A 404 is not worth retrying: one request.
	[ "$(requests_for sub/b.bin)" = 1 ]
	# sync --wait exits 1 for a failed sync.
	run ctl sync r1 --wait
	[ "$status" -eq 1 ]

	# A feed URL that is not there fails naming the manifest's URL.
	ctl repo create r2 --feed "http://127.0.0.1:$HTTP_PORT/nowhere/PULP_MANIFEST"
	sync_wait r2
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $(jq -r .error.message <<<"$TASK") == *"http://127.0.0.1:$HTTP_PORT/nowhere/PULP_MANIFEST"* ]]
}

@test "max_speed limits how fast a sync downloads" {
	depot_start
	mkdir -p "$WORK/feed"
	for i in 1 2 3; do write_bytes "$WORK/feed/f$i.bin" $((1024 * 1024)); done
	make_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --max-speed 20000
	[ "$(repo_json r1 | jq -r .importer.max_speed)" = 20000 ]
	submit_task sync r1
	sync=$ID
	t0=$(now_ms)
	wait_for task_is "$sync" running completed failed 10s

	# 3 MiB at 20000 bytes/s takes 157 s: after 2 s the task still runs,
	# and what it has (in tmp/ and the store) is about 2 s worth, allowing
	# libcurl its first burst per transfer: 100 reads of its smallest
	# buffer, 1 KiB, before it applies the limit (curl PR #7631).
	run wait_for task_is "$sync" completed failed 2s
	[ "$status" -ne 0 ]
	got=$(find "$DIR/tmp" "$DIR/content" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	elapsed=$(($(now_ms) - t0))
	echo "after $elapsed ms: $(task_state "$sync"), $got bytes downloaded, progress $(task_field "$sync" .progress)"
	[ "$(task_state "$sync")" = running ]
	[ "$got" -le $((20000 * (elapsed + 1000) / 1000 + 3 * 100 * 1024)) ]
	ctl task cancel "$sync" >/dev/null
	wait_for task_is "$sync" canceled 5s
}

@test "canceling a slow sync ends it canceled within 2 s, leaving nothing in content/ or tmp/" {
	depot_start
	mkdir -p "$WORK/feed"
	for i in 1 2 3; do write_bytes "$WORK/feed/f$i.bin" $((1024 * 1024)); done
	make_feed "$WORK/feed"
	# The server sends 50 kB/s a file, and the importer asks for 20000 B/s.
	start_slow_http "$WORK/feed" 50000
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --max-speed 20000
	submit_task sync r1
	sync=$ID
	wait_for download_started "$sync" 10s

	ctl task cancel "$sync" >/dev/null
	t0=$(now_ms)
	wait_for task_is "$sync" canceled 5s
	elapsed=$(($(now_ms) - t0))

	echo "canceled ${elapsed} ms after the cancel"
	[ "$elapsed" -lt 2000 ]
	[ "$(task_reason "$sync")" = canceled-by-user ]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
	# The repository is free again.
	run ctl repo delete r1
	[ "$status" -eq 0 ]
}

# progress_done_is ID N: task ID's progress counts N files done.
progress_done_is() {
	[ "$(task_field "$1" .progress.done)" = "$2" ]
}

# sync_small_then_slow: depotd, and a sync of r1 (id in $sync) from a feed
# whose small.txt comes at once and big.bin in about 20 s (a slow server on
# $HTTP_PORT); returns once small.txt is downloaded and verified.
sync_small_then_slow() {
	depot_start
	mkdir -p "$WORK/feed"
	printf 'small and quick\n' >"$WORK/feed/small.txt"
	write_bytes "$WORK/feed/big.bin" $((1024 * 1024))
	make_feed "$WORK/feed"
	start_slow_http "$WORK/feed" 50000
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync r1
	sync=$ID
	wait_for progress_done_is "$sync" 1 10s
}


# content_count_is N
content_count_is() {
	[ "$(content_files | wc -l)" = "$1" ]
}

@test "a downloaded file enters the store only after a syncfs has put its bytes on the disk, and without waiting for the other downloads to end" {
	hold_at SYNCFS
	sync_small_then_slow
	# small.txt is downloaded and verified (one file done of two), and the
	# syncfs that would let it into the store is held ...
	wait_for gate_held 10s
	[ "$(task_state "$sync")" = running ]
	# ... so it is not in the store, where a crash before the syncfs could
	# leave its name over missing blocks (a later sync trusts a stored
	# file of the right size), but an unnamed temp in content/ that the
	# worker holds open, whole, beside big.bin's part; tmp/ names neither.
	[ -z "$(content_files)" ]
	worker=$(worker_pid "$(worker_of_task "$sync")")
	echo "tmp/: $(tmp_files | tr '\n' ' '); held unnamed: $(unnamed_temps "$worker" | tr '\n' ' ')"
	[ "$(unnamed_temps "$worker" | wc -l)" = 2 ]
	cmp "$(unnamed_temp_of "$worker" 16)" "$WORK/feed/small.txt"
	[ -z "$(tmp_files)" ]

	# Once the syncfs has run, small.txt is linked into the store, and its
	# fd closed, while big.bin (about 20 s from the slow server) still
	# downloads.
	rm "$GATE"
	wait_for content_count_is 1 10s
	[ "$(task_state "$sync")" = running ]
	cmp "$(content_files)" "$WORK/feed/small.txt"
	[ "$(unnamed_temps "$worker" | wc -l)" = 1 ]
	[ -z "$(tmp_files)" ]

	# A cancel removes what is still a temp; what is stored stays, as a failed sync's does.
	ctl task cancel "$sync" >/dev/null
	wait_for task_is "$sync" canceled 5s
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ "$(content_files | wc -l)" = 1 ]
	[ -z "$(tmp_files)" ]
}

# A stored file found damaged (not its size) is replaced: its new download
# is named in content/ (dl-ID-N) for the moment before it is renamed over
# the old one. A worker killed then leaves that name; depotd removes it
# with the task, as it does the temps a killed worker leaves in tmp/.
@test "a worker killed while it replaces a damaged stored file: depotd removes the download it had named in content/, and the next sync replaces the file" {
	hold_at LINK
	depot_start "daemon.workers = 1"
	mkdir -p "$WORK/feed"
	printf 'alpha\n' >"$WORK/feed/a.txt"
	make_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync r1
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	stored=$(content_files)
	printf 'damage' >>"$stored"

	submit_task sync r1
	sync=$ID
	wait_for gate_held 10s
	ls "$DIR/content/dl-$sync-"*
	kill -KILL "$(worker_pid "$(worker_of_task "$sync")")"
	wait_for task_is "$sync" canceled 10s
	[ "$(task_reason "$sync")" = worker-missing ]
	[ -z "$(find "$DIR/content" -maxdepth 1 -name 'dl-*')" ]
	grep -q "task $sync: removed 1 temporary file(s) its worker left in content/" "$DIR/depotd.log"

	rm "$GATE"
	submit_task sync r1
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	cmp "$stored" "$WORK/feed/a.txt"
}

# killed_before_syncfs: a sync_small_then_slow whose worker is SIGKILLed
# at the worst moment, small.txt verified and the syncfs held; checks that
# nothing is in the store, and that the next sync, from a fast server,
# fetches both files again. $1: what else to check once the task ends.
killed_before_syncfs() {
	hold_at SYNCFS
	[ "${1:-}" != named ] || DEPOT_LAUNCH_ENV+=("DEPOT_TEST_NO_TMPFILE=1")
	sync_small_then_slow
	wait_for gate_held 10s
	# Other tasks' temps, with ids that begin or end like this one's.
	touch "$DIR/tmp/dl-${sync}0-1" "$DIR/tmp/backup-1$sync.db"
	worker=$(worker_pid "$(worker_of_task "$sync")")
	[ "$1" = named ] || [ "$(unnamed_temps "$worker" | wc -l)" = 2 ]
	kill -KILL "$worker"
	wait_for task_is "$sync" canceled 10s
	[ "$(task_reason "$sync")" = worker-missing ]
	[ -z "$(content_files)" ]
	# No other task's temp goes with this one's.
	[ "$(tmp_files | sort)" = "$(printf '%s\n' "$DIR/tmp/backup-1$sync.db" "$DIR/tmp/dl-${sync}0-1" | sort)" ]
	if [ "$1" = named ]; then
		# What the killed worker left in tmp/ (small.txt verified, the
		# slow file half downloaded) goes with the task, not at the next start.
		grep -q "task $sync: removed [0-9]* temporary file(s) its worker left in tmp/" "$DIR/depotd.log"
	else
		# Its unnamed temps went with it: nothing was left to remove.
		! grep -q "task $sync: removed" "$DIR/depotd.log"
		[ -z "$(find "$DIR/content" -maxdepth 1 -type f)" ]
	fi
	rm "$DIR/tmp/dl-${sync}0-1" "$DIR/tmp/backup-1$sync.db"

	rm "$GATE"
	start_http "$WORK/feed"
	ctl repo update r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 2 ]
	[ "$(content_files | wc -l)" = 2 ]
	[ -z "$(tmp_files)" ]
}

@test "a worker killed after a file was verified but before the syncfs leaves nothing in the store, and nothing anywhere: the next sync downloads that file again" {
	killed_before_syncfs unnamed
}

@test "where temps are named, a worker killed before the syncfs leaves them to depotd, which removes them when it ends the task" {
	killed_before_syncfs named
}

@test "a failed sync keeps in the store the files it verified before the failure, and a retry does not download them again" {
	depot_start
	base_feed "$WORK/feed"
	start_http "$WORK/feed"
	mv "$WORK/feed/sub/deeper/c.bin" "$WORK/c.bin"
	# One transfer at a time, in the manifest's order: every file but
	# c.bin is verified before its 404 fails the sync.
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --download-concurrency 1
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $(jq -r .error.message <<<"$TASK") == *sub/deeper/c.bin*404* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(tmp_files)" ]
	kept=$(content_files | wc -l)
	echo "kept $kept files"
	[ "$kept" -ge 1 ]
	ctl task log "$ID" | grep -q "kept $kept verified files in the store"

	mv "$WORK/c.bin" "$WORK/feed/sub/deeper/c.bin"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = $(($(feed_count "$WORK/feed") - kept)) ]
	[ "$(requests_for a.txt)" = 1 ]
	# The log says where the time went, the files moved in counted: during
	# the downloads, and after them.
	line=$(ctl task log "$ID" | grep -E "stored: downloads [0-9]+ ms, the writers' last files [0-9]+ ms; meanwhile [0-9]+ syncfs in [0-9]+ ms and [0-9]+ files moved into the store in [0-9]+ ms; after them the last of those turns [0-9]+ ms, syncfs before the last files enter the store [0-9]+ ms, moving [0-9]+ files in [0-9]+ ms, syncfs after [0-9]+ ms")
	echo "$line"
	during=$(sed -E 's/.* and ([0-9]+) files moved into the store.*/\1/' <<<"$line")
	after=$(sed -E 's/.*, moving ([0-9]+) files in.*/\1/' <<<"$line")
	[ $((during + after)) = $(($(feed_count "$WORK/feed") - kept)) ]
}

# A paced file server: PULP_MANIFEST at once, every other file in 64 KiB
# writes at about RATE bytes/s; its log gets "complete PATH" when a file was
# sent whole, "aborted PATH after N" when the client went away first.
PACED_SERVER_PY='
import functools, http.server, sys, time
port, root, rate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
class Paced(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def copyfile(self, src, dst):
        if self.path.endswith("PULP_MANIFEST"):
            return super().copyfile(src, dst)
        sent = 0
        try:
            while True:
                b = src.read(65536)
                if not b:
                    break
                dst.write(b)
                dst.flush()
                sent += len(b)
                time.sleep(len(b) / rate)
        except OSError:
            print("aborted %s after %d" % (self.path.lstrip("/"), sent), flush=True)
            return
        print("complete %s" % self.path.lstrip("/"), flush=True)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Paced, directory=root))
srv.daemon_threads = True
srv.serve_forever()
'

# served PATH: the paced server's log has a line about PATH.
served() {
	grep -Eq "^(complete|aborted) $1( |\$)" "$HTTP_LOG"
}

@test "a large file, hashed and written by a thread beside the download, is checked as strictly: other bytes or more bytes than the manifest says fail the sync and store nothing" {
	depot_start
	mkdir -p "$WORK/feed"
	# big.bin alone: any other file could be stored (verified) before big.bin fails.
	write_bytes "$WORK/feed/big.bin" $((1024 * 1024))
	make_feed "$WORK/feed"
	cp "$WORK/feed/big.bin" "$WORK/genuine.bin"
	start_http "$WORK/feed"

	# Other bytes of the same size: the digest catches them.
	write_bytes "$WORK/feed/big.bin" $((1024 * 1024))
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	message=$(jq -r .error.message <<<"$TASK")
	echo "other bytes: $(jq -r .state <<<"$TASK"): $message"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $message == *"sha256 mismatch for big.bin"* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]

	# Three times the bytes the manifest promises: refused as they come.
	cat "$WORK/genuine.bin" "$WORK/genuine.bin" "$WORK/genuine.bin" >"$WORK/feed/big.bin"
	sync_wait r1
	message=$(jq -r .error.message <<<"$TASK")
	echo "more bytes: $(jq -r .state <<<"$TASK"): $message"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $message == *"big.bin is larger than the 1048576 bytes the manifest says"* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]

	# The genuine file is stored whole, under its digest.
	cp "$WORK/genuine.bin" "$WORK/feed/big.bin"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	cmp "$WORK/genuine.bin" "$(content_path "$(sha_of "$WORK/genuine.bin")")"
	[ -z "$(tmp_files)" ]
}

@test "a write that fails in the middle of a large file stops its download there: the sync fails naming the temp file and stores nothing" {
	depot_start "daemon.workers = 1"
	mkdir -p "$WORK/feed"
	write_bytes "$WORK/feed/big.bin" $((16 * 1024 * 1024))
	make_feed "$WORK/feed"
	# 16 MiB at 4 MB/s: about 4 s to send the whole file.
	HTTP_PORT=$(free_port)
	start_server "$WORK/paced.log" "$PY" -c "$PACED_SERVER_PY" "$HTTP_PORT" "$WORK/feed" 4000000
	HTTP_LOG=$WORK/paced.log
	wait_for port_open "$HTTP_PORT" 10s
	# The only worker may write files of 1 MiB at most: the next write fails (EFBIG).
	worker=$(ctl --json worker list | jq -r '.[] | select(.supervised) | .pid')
	prlimit --pid "$worker" --fsize=1048576
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	message=$(jq -r .error.message <<<"$TASK")
	echo "$(jq -r .state <<<"$TASK"): $message"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $message == *"cannot write a temp in $DIR/content for big.bin: File too large"* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
	# The transfer ended when the write failed, not after the whole file.
	wait_for served big.bin 10s
	cat "$HTTP_LOG"
	grep -q '^aborted big.bin after' "$HTTP_LOG"
}

# repo_helpers' teardown, kept under another name so that ours can run it.
eval "$(declare -f teardown | sed '1s/^teardown/repo_teardown/')"

# A tmpfs a test mounted on its data directory's content/; detached (lazily:
# depotd may still hold it open) before the daemon stops and the directory goes.
CONTENT_MOUNT=

teardown() {
	[ -z "$CONTENT_MOUNT" ] || umount -l "$CONTENT_MOUNT"
	CONTENT_MOUNT=
	repo_teardown
}

@test "with content/ on a file system of its own, as depotd(8) suggests, a sync stores small and large files: their temps are made on the store's file system" {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	depot_init "daemon.workers = 1"
	mkdir -m 0700 "$DIR/content"
	mount -t tmpfs -o size=64m,mode=0700 tmpfs "$DIR/content" || skip "cannot mount a tmpfs"
	CONTENT_MOUNT=$DIR/content
	depot_launch
	[ "$(stat -c %d "$DIR/tmp")" != "$(stat -c %d "$DIR/content")" ]
	mkdir -p "$WORK/feed"
	printf 'small and quick\n' >"$WORK/feed/small.txt"
	write_bytes "$WORK/feed/big.bin" $((2 * 1024 * 1024))
	make_feed "$WORK/feed"
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	echo "$(jq -r '"\(.state): \(.error.message // "")"' <<<"$TASK")"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	cmp "$(content_path "$(sha_of "$WORK/feed/small.txt")")" "$WORK/feed/small.txt"
	cmp "$(content_path "$(sha_of "$WORK/feed/big.bin")")" "$WORK/feed/big.bin"
	[ "$(content_files | wc -l)" = 2 ]
	[ -z "$(tmp_files)" ]
}

# small_feed DIR N: N files of 64 random bytes (s0000.bin …) and their
# PULP_MANIFEST, made at once (make_feed's sha256sum a file takes seconds).
small_feed() {
	"$PY" - "$1" "$2" "${3:-64}" <<'PYEOF'
import hashlib, os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "PULP_MANIFEST"), "w") as m:
    for i in range(n):
        b, name = os.urandom(size), "s%04d.bin" % i
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)
        m.write("%s,%s,%d\n" % (name, hashlib.sha256(b).hexdigest(), len(b)))
PYEOF
}

# supervised_worker: the pid of depotd's only worker.
supervised_worker() {
	ctl --json worker list | jq -r '.[] | select(.supervised) | .pid'
}

# worker_heartbeat NAME: when depotd last heard worker NAME's heartbeat.
worker_heartbeat() {
	ctl --json worker list | jq -r --arg n "$1" '.[] | select(.name == $n) | .last_heartbeat'
}

# worker_heartbeat_after NAME TIME: depotd has heard one since TIME (for wait_for).
worker_heartbeat_after() {
	[ "$(worker_heartbeat "$1")" != "$2" ]
}

# unnamed_temps_are PID N: process PID holds N unnamed temps open (for wait_for).
unnamed_temps_are() {
	[ "$(unnamed_temps "$1" | wc -l)" = "$2" ]
}

# sync_1000_at_fd_bound: depotd with its one worker ($worker) allowed 512
# open files, the syncfs held, and a sync of r1 ($sync) from 1,000 small
# files and, last, a 1 MiB zbig.bin; returns once all are downloaded and
# the writers wait at their bound. The held syncfs lets nothing be linked
# and no temp be closed: the writers stop at half of what the limit leaves
# beyond the store's 256 fan-out directories and two a transfer (8):
# (512 - 256 - 16) / 2. Holding one a file would have run out of fds
# (EMFILE).
sync_1000_at_fd_bound() {
	hold_at SYNCFS
	depot_start "daemon.workers = 1"
	small_feed "$WORK/feed" 1000
	write_bytes "$WORK/feed/zbig.bin" $((1024 * 1024))
	printf 'zbig.bin,%s,%d\n' "$(sha_of "$WORK/feed/zbig.bin")" $((1024 * 1024)) >>"$WORK/feed/PULP_MANIFEST"
	start_http "$WORK/feed"
	worker=$(supervised_worker)
	prlimit --pid "$worker" --nofile=512
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync r1
	sync=$ID
	wait_for gate_held 10s
	wait_for progress_done_is "$sync" 1001 30s
	wait_for unnamed_temps_are "$worker" 120 10s
}

@test "a worker allowed 512 open files holds at most 120 unnamed temps while the syncfs waits, names the temp of a large file that finds no room, and stores all 1,001 files once the syncfs runs" {
	sync_1000_at_fd_bound
	[ "$(task_state "$sync")" = running ]
	[ -z "$(content_files)" ]
	# zbig.bin came when the bound was reached: its transfer does not wait for room, it names its temp.
	echo "tmp/: $(tmp_files | tr '\n' ' ')"
	[ "$(tmp_files | wc -l)" = 1 ]
	[[ $(tmp_files) == "$DIR/tmp/dl-$sync-"* ]]
	cmp "$(tmp_files)" "$WORK/feed/zbig.bin"

	rm "$GATE"
	task_final "$sync"
	echo "$(jq -r '"\(.state): \(.error.message // "")"' <<<"$TASK")"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(content_files | wc -l)" = 1001 ]
	[ -z "$(tmp_files)" ]
	[ -z "$(unnamed_temps "$worker")" ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
}

@test "a cancel while the writers wait for room ends the sync canceled, not failed, and leaves no temp, named or held" {
	sync_1000_at_fd_bound
	ctl task cancel "$sync" >/dev/null
	# The worker learns of the cancel from a heartbeat's answer: one handled
	# after the cancel. Released sooner, the held syncfs could let the
	# sync finish first (200 ms apart here; the rest takes about as long).
	beat=$(worker_heartbeat "$(worker_of_task "$sync")")
	wait_for worker_heartbeat_after "$(worker_of_task "$sync")" "$beat" 5s
	# The held syncfs is the committer's: the worker ends once it returns.
	rm "$GATE"
	wait_for task_is "$sync" canceled 10s
	[ "$(task_reason "$sync")" = canceled-by-user ]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(tmp_files)" ]
	[ -z "$(unnamed_temps "$worker")" ]
	# The 880 files still queued for the writers were never written as temps,
	# and zbig.bin's named one went with the cancel.
	! grep -q "temporary file(s) its worker left" "$DIR/depotd.log"
}

# file_requests: how many of the feed's files (s*.bin) the http server has
# begun to send, each counted once (a transfer retried is not another file).
file_requests() {
	grep -o '"GET /s[0-9]*\.bin HTTP' "$HTTP_LOG" | sort -u | wc -l
}

# The writers held (hold.so holds their temps' creation, as a disk far
# behind would): the downloads go on until more than 16 MiB of small files
# wait for them, then no new one starts, so memory stays bounded. 80 files
# of 400 KiB: 41 make 16 MiB, and at most the 8 transfers under way then
# add to them. Judged from the server's log.
@test "while the writers are behind, no new download starts once 16 MiB of small files wait for them, and the sync stores every file once they catch up" {
	hold_at TMPFILE
	depot_start "daemon.workers = 1"
	small_feed "$WORK/feed" 80 409600
	start_http "$WORK/feed"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync r1
	sync=$ID
	wait_for gate_held 10s
	at_least_41() { [ "$(file_requests)" -ge 41 ]; }
	wait_for at_least_41 30s
	# Without the bound all 80 are fetched in well under this.
	sleep 2
	echo "files requested while the writers were held: $(file_requests)"
	[ "$(file_requests)" -le 49 ]
	[ "$(task_state "$sync")" = running ]

	rm "$GATE"
	task_final "$sync"
	echo "$(jq -r '"\(.state): \(.error.message // "")"' <<<"$TASK")"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(content_files | wc -l)" = 80 ]
}

@test "where unnamed temps cannot be made, a verified small file waits in tmp/ under a name, and the sync stores it as before" {
	hold_at SYNCFS
	# hold.so: every openat of O_TMPFILE says EOPNOTSUPP, as on a file system without it.
	DEPOT_LAUNCH_ENV+=("DEPOT_TEST_NO_TMPFILE=1")
	sync_small_then_slow
	wait_for gate_held 10s
	worker=$(worker_pid "$(worker_of_task "$sync")")
	[ -z "$(unnamed_temps "$worker")" ]
	small=$(find "$DIR/tmp" -type f -size 16c)
	echo "tmp/: $(tmp_files | tr '\n' ' ')"
	[ -n "$small" ]
	cmp "$small" "$WORK/feed/small.txt"
	[ "$(tmp_files | wc -l)" = 2 ]

	rm "$GATE"
	wait_for content_count_is 1 10s
	cmp "$(content_files)" "$WORK/feed/small.txt"
	[ "$(tmp_files | wc -l)" = 1 ]
	ctl task cancel "$sync" >/dev/null
	wait_for task_is "$sync" canceled 5s
	[ -z "$(tmp_files)" ]
}

# small_sync_fails N [COMMAND...]: depotd with one worker ($worker), a feed
# of N small files served, COMMAND run (to spoil the feed or limit the
# worker), and a sync of r1 that must fail; its message in $message.
small_sync_fails() {
	local n=$1
	shift
	depot_start "daemon.workers = 1"
	small_feed "$WORK/feed" "$n"
	start_http "$WORK/feed"
	worker=$(supervised_worker)
	[ $# -eq 0 ] || "$@"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"
	sync_wait r1
	message=$(jq -r .error.message <<<"$TASK")
	echo "$(jq -r .state <<<"$TASK"): $message"
	[ "$(jq -r .state <<<"$TASK")" = failed ]
}

@test "a small file of other bytes than the manifest says fails the sync naming where it came from, and leaves no temp, named or held" {
	small_sync_fails 20 write_bytes "$WORK/feed/s0007.bin" 64
	[[ $message == "sha256 mismatch for s0007.bin from http://127.0.0.1:$HTTP_PORT/s0007.bin: expected "*", got $(sha_of "$WORK/feed/s0007.bin")" ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(tmp_files)" ]
	[ -z "$(unnamed_temps "$worker")" ]
	# What was verified is kept (a failed sync's rule); never the file that failed.
	[ ! -e "$(content_path "$(sha_of "$WORK/feed/s0007.bin")")" ]
}

@test "a small file the disk refuses fails the sync naming the temp's directory, and leaves no temp, named or held" {
	# The only worker may write files of 32 bytes at most: a 64-byte file's write fails (EFBIG).
	small_sync_fails 5 eval 'prlimit --pid "$worker" --fsize=32'
	[[ $message == "cannot write a temp in $DIR/content for s000"[0-4]".bin: File too large" ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
	[ -z "$(unnamed_temps "$worker")" ]
}

@test "a syncfs that fails fails the sync, and nothing verified is linked into the store after it, though the next syncfs says all is well" {
	# hold.so: the first syncfs fails with EIO, as a disk's write-back error, told once.
	touch "$WORK/syncfs-fails"
	preload_hold "DEPOT_TEST_SYNCFS_FAIL=$WORK/syncfs-fails"
	small_sync_fails 200
	[ ! -e "$WORK/syncfs-fails" ]
	[ "$message" = "cannot sync $DIR/content: Input/output error" ]
	# A failed sync keeps what it verified, but not past a failed syncfs:
	# those bytes may never have reached the disk.
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
	[ -z "$(unnamed_temps "$worker")" ]
	ctl task log "$ID" | grep -E "a syncfs failed: the [0-9]+ files verified and not yet stored are dropped"
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
}
