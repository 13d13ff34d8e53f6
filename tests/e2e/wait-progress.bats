#!/usr/bin/env bats
# DESIGN §11: `--wait` shows the work. On a terminal, sync, publish, backup
# and restore --wait draw a progress line on stderr, redrawn in place
# (done/total, bytes, rate, ETA); on anything else nothing but the id and
# the outcome line; the outcome line says what a completed task did. With
# --json a single object is one line when stdout is not a terminal.
# The terminal is a pseudo-terminal from util-linux script(1).

load helpers
load repo_helpers
load backup_helpers

# on_tty ARG...: depotctl ARG... with stdin, stdout and stderr on a
# pseudo-terminal (TERM $TTY_TERM, xterm by default; $TTY_COLS columns
# when set); what the terminal received in $WORK/tty.out; exits as
# depotctl did.
on_tty() {
	local cmd
	printf -v cmd '%q ' "$DEPOT_BIN/depotctl" -d "$DIR" "$@"
	[ -n "${TTY_COLS:-}" ] && cmd="stty cols $TTY_COLS && $cmd"
	LC_DEPOT_E2E_TAG=$DIR TERM=${TTY_TERM:-xterm} script -qfec "$cmd" /dev/null \
		</dev/null >"$WORK/tty.out"
}

# frames: each state of the screen's lines in $WORK/tty.out, one a line:
# split at carriage returns and newlines, erase-to-end-of-line codes
# dropped, empty ones left out.
frames() {
	tr '\r' '\n' <"$WORK/tty.out" | sed 's/\x1b\[K//g' | grep -v '^$' || true
}

# slow_feeds: under $WORK/srv, feed a (6 files of 12000 bytes) and feed b
# (3 such), served by the slow server at 12000 bytes/s a file, so that a
# sync with one download at a time takes about a second a file; r1 on a,
# r2 on b.
slow_feeds() {
	local f i
	for f in a b; do
		mkdir -p "$WORK/srv/$f"
	done
	for i in 1 2 3 4 5 6; do write_bytes "$WORK/srv/a/f$i.bin" 12000; done
	for i in 1 2 3; do write_bytes "$WORK/srv/b/f$i.bin" 12000; done
	make_feed "$WORK/srv/a"
	make_feed "$WORK/srv/b"
	start_slow_http "$WORK/srv" 12000
	ctl repo create r1 --feed "http://127.0.0.1:$HTTP_PORT/a/PULP_MANIFEST" \
		--download-concurrency 1 >/dev/null
	ctl repo create r2 --feed "http://127.0.0.1:$HTTP_PORT/b/PULP_MANIFEST" \
		--download-concurrency 1 >/dev/null
}

@test "on a terminal, sync --wait redraws one progress line in place with done/total, bytes, rate and ETA, then prints the outcome line" {
	depot_start
	slow_feeds

	on_tty sync r1 --wait
	cat -A "$WORK/tty.out"
	frames
	id=$(frames | head -n 1)
	[[ $id =~ ^[0-9]+$ ]]
	# Drawn in place: the id's line and one more, every redraw on it after a carriage return.
	[ "$(wc -l <"$WORK/tty.out")" -eq 2 ]
	grep -q $'\r''task '"$id"': ' "$WORK/tty.out"
	grep -q $'\e\\[K' "$WORK/tty.out"
	# While it ran: files done of the total, the bytes, a rate and the time left.
	frames | grep -E "^task $id: [0-9]/6 files \([0-9]+%\), [0-9.]+ K?i?B of 70\.3 KiB downloaded, [0-9.]+ files/s, ETA [0-9.]+s(, [0-9.]+s elapsed)?$"
	# Then the line is erased and the outcome takes its place.
	last=$(frames | tail -n 1)
	[[ $last =~ ^$id\ completed:\ version\ 1,\ 6\ files,\ 70\.3KiB\ \(downloaded\ 6\ files,\ 70\.3KiB\)\ in\ [0-9.]+s$ ]]
	[ "$(task_field "$id" .state)" = completed ]
	[ "$(task_field "$id" .result.downloaded_files)" = 6 ]

	# A narrow terminal: every redraw fits in one row, the outcome line whole.
	TTY_COLS=40 on_tty sync r2 --wait
	cat -A "$WORK/tty.out"
	id=$(frames | head -n 1)
	[ "$(frames | grep -c "^task $id")" -ge 2 ]
	frames | sed '$d' | while IFS= read -r f; do
		[ "${#f}" -le 39 ] || { echo "wider than 39: $f"; false; }
	done
	[[ $(frames | tail -n 1) =~ ^$id\ completed:\ version\ 1,\ 3\ files,\ 35\.2KiB\ \(downloaded\ 3\ files,\ 35\.2KiB\)\ in\ [0-9.]+s$ ]]

	# A terminal that cannot erase a line (TERM=dumb) gets no progress line.
	TTY_TERM=dumb on_tty sync r1 --wait
	cat -A "$WORK/tty.out"
	if grep -q $'\e' "$WORK/tty.out"; then false; fi
	[ "$(frames | wc -l)" -eq 2 ]
	[[ $(frames | tail -n 1) =~ ^[0-9]+\ completed:\ version\ 1\ unchanged,\ 6\ files,\ 70\.3KiB\ \(downloaded\ 0\ files,\ 0B\)\ in\ [0-9.]+s$ ]]
}

@test "without a terminal, sync --wait prints the id and the outcome line only, and nothing on stderr" {
	depot_start
	slow_feeds

	TERM=xterm run --separate-stderr ctl sync r2 --wait
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	id=${lines[0]}
	[[ $id =~ ^[0-9]+$ ]]
	[[ ${lines[1]} =~ ^$id\ completed:\ version\ 1,\ 3\ files,\ 35\.2KiB\ \(downloaded\ 3\ files,\ 35\.2KiB\)\ in\ [0-9.]+s$ ]]
	[ -z "$stderr" ]
	if [[ $output == *$'\r'* || $output == *$'\e'* ]]; then false; fi
	# The sync took seconds: time enough for lines that were never drawn.
	start=$(rfc3339_ms "$(task_field "$id" .started_at)")
	end=$(rfc3339_ms "$(task_field "$id" .finished_at)")
	[ $((end - start)) -ge 2000 ]

	# A failed sync: its outcome on stderr, still no progress line.
	ctl repo create r3 --feed "http://127.0.0.1:$HTTP_PORT/nowhere/PULP_MANIFEST" >/dev/null
	TERM=xterm run --separate-stderr ctl sync r3 --wait
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 1 ]
	[[ ${lines[1]} == "${lines[0]} failed ("* ]]
	[[ $stderr == *"task ${lines[0]} failed"* ]]
	if [[ $stderr == *$'\r'* || $stderr == *ETA* ]]; then false; fi
}

@test "publish, backup and restore --wait end with what they did; a backup's path comes last" {
	depot_start
	two_repos

	run --separate-stderr ctl publish r1 --wait
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[1]} =~ ^${lines[0]}\ completed:\ version\ 1,\ 3\ files\ in\ [0-9.]+s$ ]]
	[ -z "$stderr" ]

	# On a terminal: the id, the progress line's place taken by the outcome, the path.
	on_tty backup --wait -o "$WORK/b.tar.zst"
	cat -A "$WORK/tty.out"
	[ "$(wc -l <"$WORK/tty.out")" -eq 3 ]
	id=$(frames | head -n 1)
	[[ $id =~ ^[0-9]+$ ]]
	files=$(task_field "$id" .result.content_files)
	[[ $(frames | tail -n 2 | head -n 1) =~ ^$id\ completed:\ full\ backup,\ $files\ content\ files\ \([0-9.]+K?i?B\),\ archive\ [0-9.]+K?i?B\ in\ [0-9.]+s$ ]]
	[ "$(frames | tail -n 1)" = "$WORK/b.tar.zst" ]
	[ -f "$WORK/b.tar.zst" ]

	run --separate-stderr ctl restore "$WORK/b.tar.zst" --wait
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	created=$(tar --zstd -xOf "$WORK/b.tar.zst" MANIFEST.json | jq -r .created_at)
	members=$(task_field "${lines[0]}" .result.members)
	# (No time taken: the restored database holds no start for the restore.)
	[[ ${lines[1]} =~ ^${lines[0]}\ completed:\ the\ backup\ of\ $created,\ $members\ members(\ in\ [0-9.]+s)?$ ]]
	[ -z "$stderr" ]

	# On a terminal, through the swap of the data directory and the workers' restart.
	on_tty restore "$WORK/b.tar.zst" --wait
	cat -A "$WORK/tty.out"
	[ "$(wc -l <"$WORK/tty.out")" -eq 2 ]
	id=$(frames | head -n 1)
	[[ $(frames | tail -n 1) =~ ^$id\ completed:\ the\ backup\ of\ $created,\ $members\ members(\ in\ [0-9.]+s)?$ ]]
	[ "$(task_field "$id" .state)" = completed ]
}

@test "run --wait on a terminal streams the command's output and draws no progress line" {
	depot_start

	on_tty run --wait -- sh -c 'echo one; sleep 1.5; echo two'
	cat -A "$WORK/tty.out"
	[ "$(frames | sed -n 2p)" = one ]
	[ "$(frames | sed -n 3p)" = two ]
	if grep -q $'\e' "$WORK/tty.out"; then false; fi
	if frames | grep -q '^task [0-9]'; then false; fi
}

@test "--json prints a single object on one line when stdout is not a terminal, indented on one" {
	depot_start
	slow_feeds

	ctl --json sync r2 --wait >"$WORK/out.json"
	[ "$(wc -l <"$WORK/out.json")" -eq 1 ]
	[ "$(jq -r .state "$WORK/out.json")" = completed ]
	id=$(jq -r .id "$WORK/out.json")
	[ "$(ctl --json task show "$id" | wc -l)" -eq 1 ]
	[ "$(ctl --json status | wc -l)" -eq 1 ]
	[ "$(ctl --json repo show r2 | wc -l)" -eq 1 ]
	# An error object too, with its exit code.
	run --separate-stderr ctl --json task show 99999
	[ "$status" -eq 6 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(jq -r .error.code <<<"$output")" = not_found ]

	# For a person at a terminal, indented.
	on_tty --json task show "$id"
	[ "$(wc -l <"$WORK/tty.out")" -gt 10 ]
	[ "$(tr -d '\r' <"$WORK/tty.out" | jq -r .id)" = "$id" ]
}

@test "on a terminal, a task queued with --in shows it waits and when it may start, then its outcome" {
	depot_start

	on_tty orphans clean --in 3s --wait
	cat -A "$WORK/tty.out"
	id=$(frames | head -n 1)
	[[ $id =~ ^[0-9]+$ ]]
	frames | grep -E "^task $id waiting for [0-9.]+s, to start in [0-9.]+s at the earliest$"
	[[ $(frames | tail -n 1) =~ ^$id\ completed:\ removed\ 0\ files,\ 0B\ in\ [0-9.]+s$ ]]
	# It started no sooner than asked.
	created=$(rfc3339_ms "$(task_field "$id" .created_at)")
	started=$(rfc3339_ms "$(task_field "$id" .started_at)")
	[ $((started - created)) -ge 2900 ]
}

@test "on a terminal, backup --wait counts bytes: done/total in MiB and, once it has run a while, a rate in bytes a second" {
	# gzip of random bytes is slow: 64 files of 1 MiB take seconds, and
	# the backup reports its progress after each file.
	depot_start "backup.compression = gzip"
	mkdir -p "$WORK/many"
	for i in $(seq 1 64); do write_bytes "$WORK/many/f$i.bin" 1048576; done
	make_feed "$WORK/many"
	ctl repo create many --feed "file://$WORK/many/PULP_MANIFEST" >/dev/null
	sync_wait many
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	on_tty backup --wait -o "$WORK/many.tar.gz"
	frames | grep -v '^/' || true
	id=$(frames | head -n 1)
	[[ $id =~ ^[0-9]+$ ]]
	frames | grep -E "^task $id: [0-9.]+[KM]?i?B/64\.[0-9]MiB \([0-9]+%\)"
	start=$(rfc3339_ms "$(task_field "$id" .started_at)")
	end=$(rfc3339_ms "$(task_field "$id" .finished_at)")
	echo "the backup ran $((end - start)) ms"
	# Three seconds give two samples a second apart while it runs.
	if [ $((end - start)) -ge 3000 ]; then
		frames | grep -E "^task $id: .*, [0-9.]+[KM]?i?B/s, ETA [0-9.]+s"
	fi
	[[ $(frames | tail -n 2 | head -n 1) =~ ^$id\ completed:\ full\ backup,\ 64\ content\ files\ \(64\.[0-9]MiB\),\ archive\ [0-9.]+MiB\ in\ [0-9.]+s$ ]]
	[ "$(frames | tail -n 1)" = "$WORK/many.tar.gz" ]
}
