#!/usr/bin/env bats
# DESIGN §12: depot-console, driven as tmux's own regress tests drive tmux:
# a private tmux server per test (-L, no config), the console in a
# detached 80x24 session, keys with send-keys, the screen read with
# capture-pane and polled until it shows what is expected (no bare sleeps).
# TERM may be unset where the tests run: the pane gets its own.

load helpers
# For a feed served slowly (start_slow_http), so that a sync is seen running.
load repo_helpers

CONSOLE_TMUX=
CONSOLE_N=0

# repo_helpers' teardown (its servers, the daemon, $WORK), kept under another name so that ours runs it.
eval "$(declare -f teardown | sed '1s/^teardown/repo_teardown/')"

teardown() {
	if [ -n "$CONSOLE_TMUX" ]; then
		echo "--- last screen ---"
		screen || true
		echo "--- end of screen ---"
		console_stop
	fi
	repo_teardown
}

# console_start [ARG]...: depot-console -d $DIR ARG... in a new tmux server,
# 80x24, with TERM=$CONSOLE_TERM (xterm-256color) and the environment
# assignments in CONSOLE_ENV. When the console exits, the pane prints its
# exit status and the terminal's modes, then stays (cat) so that the test
# can read them.
console_start() {
	local cmd
	# A server of its own each time: one being killed may still hold the last name.
	CONSOLE_N=$((CONSOLE_N + 1))
	CONSOLE_TMUX=dc$$-${BATS_TEST_NUMBER}-$CONSOLE_N
	printf -v cmd '%q ' env ${CONSOLE_ENV:-} "$DEPOT_BIN/depot-console" -d "$DIR" "$@"
	tmux -L "$CONSOLE_TMUX" -f /dev/null new-session -d -x 80 -y 24 -s console \
		"export TERM=${CONSOLE_TERM:-xterm-256color}; $cmd; echo \"console exited \$?\"; stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(echo|icanon)' | tr '\n' ' '; echo; exec cat"
	wait_for screen_has_any "WORKER" "DAEMON DOWN" 10s
}

# console_stop: the console's tmux server and the console with it, and the
# server's socket (tmux leaves it behind).
console_stop() {
	local sock
	sock=$(tmux -L "$CONSOLE_TMUX" display -p '#{socket_path}' 2>/dev/null) || sock=
	tmux -L "$CONSOLE_TMUX" kill-server 2>/dev/null || true
	[ -z "$sock" ] || rm -f "$sock"
	CONSOLE_TMUX=
}

# The screen as text, one line per row.
screen() {
	tmux -L "$CONSOLE_TMUX" capture-pane -p -t console
}

keys() {
	tmux -L "$CONSOLE_TMUX" send-keys -t console "$@"
}

screen_has() {
	screen | grep -qF -- "$1"
}

screen_has_any() {
	local s
	s=$(screen)
	for text in "$@"; do
		grep -qF -- "$text" <<<"$s" && return 0
	done
	return 1
}

screen_lacks() {
	! screen_has "$1"
}

screen_matches() {
	screen | grep -qE -- "$1"
}

# row_has ID TEXT: the tasks pane's row of task ID contains TEXT.
row_has() {
	screen | grep -E "^ *$1 " | grep -qF -- "$2"
}

# no_row ID: no row of the tasks pane shows task ID.
no_row() {
	! screen | grep -qE "^ *$1 +(waiting|running|canceling|completed|failed|canceled) "
}

# screen_size COLS LINES: the pane is that size and every line fits in it.
screen_size() {
	local s lines longest
	[ "$(tmux -L "$CONSOLE_TMUX" display -p -t console '#{pane_width}x#{pane_height}')" = "$1x$2" ] || return 1
	s=$(screen)
	lines=$(wc -l <<<"$s")
	# Display width, not bytes: an ellipsis is one cell.
	longest=$(wc -L <<<"$s")
	[ "$lines" -eq "$2" ] && [ "$longest" -le "$1" ]
}

# screen_coloured: the screen holds a foreground colour (SGR 30-37), not only attributes.
screen_coloured() {
	tmux -L "$CONSOLE_TMUX" capture-pane -p -e -t console |
		grep -qE $'\e\\[([0-9]+;)*3[0-7](;[0-9]+)*m'
}

# line N: row N (1-based) of the screen.
line() {
	screen | sed -n "${1}p"
}

@test "the console shows the workers, each online, and a running task with its state, type, name and worker" {
	depot_start
	submit --name ticker --lock host:db1 -- sleep 30
	task=$ID
	wait_for task_is "$task" running
	worker=$(worker_of_task "$task")

	console_start

	wait_for screen_matches '^w1 +online +[0-9]+ ' 5s
	wait_for screen_matches '^w2 +online +[0-9]+ ' 5s
	wait_for row_has "$task" running 5s
	row_has "$task" exec
	row_has "$task" ticker
	row_has "$task" host:db1
	row_has "$task" "$worker"
	# The header counts and the key line.
	screen_matches 'workers 2/2 online \| tasks 1 running, 0 waiting'
	[[ $(line 24) == *Quit* ]]
}

@test "c on the selected task asks y/n, and n leaves the task running" {
	depot_start
	submit --name victim -- sleep 30
	task=$ID
	wait_for task_is "$task" running
	console_start
	wait_for row_has "$task" running 5s

	keys c
	wait_for screen_has "Cancel task $task (victim, running)?" 5s
	keys n

	wait_for screen_has "task $task not canceled" 5s
	screen_lacks "Cancel task $task"
	run task_state "$task"
	[ "$output" = running ]
}

@test "c then y cancels the selected task: the daemon cancels it (reason canceled-by-user) and the row says so" {
	depot_start
	submit --name victim -- sleep 30
	task=$ID
	wait_for task_is "$task" running
	console_start
	wait_for row_has "$task" running 5s

	keys c
	wait_for screen_has "Cancel task $task" 5s
	keys y

	wait_for task_is "$task" canceled 10s
	run task_reason "$task"
	[ "$output" = canceled-by-user ]
	# The default filter keeps it for a while (it ended a moment ago), with the reason; so does all.
	wait_for row_has "$task" canceled-by 5s
	keys f f
	wait_for screen_has "filter all:" 5s
	row_has "$task" canceled-by
}

@test "a running task without progress for stall_after (1s) is marked STALLED in its row and counted in the header" {
	depot_start "monitor.stall_after = 1s"
	submit --name quiet -- sleep 30
	task=$ID
	console_start

	wait_for row_has "$task" STALLED 10s
	row_has "$task" running
	screen_has "1 STALLED"
}

@test "f cycles the filter: active, then failed, then all" {
	depot_start
	submit --name doner -- true
	doner=$ID
	submit --name failer -- sh -c 'exit 3'
	failer=$ID
	wait_for task_is "$doner" completed
	wait_for task_is "$failer" failed
	submit --name runner -- sleep 30
	runner=$ID
	wait_for task_is "$runner" running
	# Without --recent 0 the default filter would keep the ended tasks a while (a test below).
	console_start --recent 0

	# active (the default): only the running task.
	wait_for row_has "$runner" runner 5s
	no_row "$failer"
	no_row "$doner"
	screen_has "filter active: 1 task"

	keys f
	wait_for screen_has "filter failed: 1 task" 5s
	row_has "$failer" exit-status
	no_row "$runner"
	no_row "$doner"

	keys f
	wait_for screen_has "filter all: 3 tasks" 5s
	row_has "$failer" failer
	row_has "$runner" runner
	row_has "$doner" completed

	keys f
	wait_for screen_has "filter active: 1 task" 5s
	no_row "$doner"
}

@test "/ searches the tasks by name, by resource and by id, and Esc clears the search" {
	depot_start
	submit --name alpha-job --lock host:a -- sleep 30
	alpha=$ID
	submit --name beta-job --lock host:b -- sleep 30
	beta=$ID
	console_start
	wait_for screen_has alpha-job 5s
	wait_for screen_has beta-job 5s

	keys / b e t a
	wait_for no_row "$alpha" 5s
	row_has "$beta" beta-job
	keys Enter
	wait_for screen_has "search 'beta': 1 of 2 tasks" 5s

	keys / C-u h o s t : a Enter
	wait_for screen_has "search 'host:a': 1 of 2 tasks" 5s
	row_has "$alpha" alpha-job
	no_row "$beta"

	keys / C-u "#$beta" Enter
	wait_for screen_has "search '#$beta': 1 of 2 tasks" 5s
	row_has "$beta" beta-job
	no_row "$alpha"

	keys / Escape
	wait_for row_has "$alpha" alpha-job 5s
	row_has "$beta" beta-job
	screen_has "filter active+5m: 2 tasks"
}

@test "resized to 120x40 the console redraws to fill it, and back at 80x24 it fits again" {
	depot_start
	submit --name a-task-with-a-rather-long-name-that-needs-truncating-at-80-columns -- sleep 30
	task=$ID
	console_start
	wait_for row_has "$task" running 5s
	screen_size 80 24
	[[ $(line 24) == *Quit* ]]

	tmux -L "$CONSOLE_TMUX" resize-window -t console -x 120 -y 40
	wait_for screen_size 120 40 5s
	wait_for eval '[[ $(line 40) == *Quit* ]]' 5s
	# The header's clock moved to the right edge; the name has more room.
	wait_for eval '[[ $(line 1) =~ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] && [ "$(line 1 | wc -L)" -ge 110 ]' 5s
	row_has "$task" a-task-with-a-rather-long-name

	tmux -L "$CONSOLE_TMUX" resize-window -t console -x 80 -y 24
	wait_for screen_size 80 24 5s
	wait_for eval '[[ $(line 24) == *Quit* ]]' 5s
	wait_for eval '[ "$(line 1 | wc -L)" -le 80 ] && [[ $(line 1) =~ [0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]' 5s
	row_has "$task" running
}

@test "killing depotd shows the DAEMON DOWN banner, the console keeps running, and a restarted depotd brings the view back" {
	depot_start
	console_start
	wait_for screen_matches '^w1 +online' 5s

	depot_kill

	wait_for screen_has "DAEMON DOWN" 10s
	screen_has "depotd DOWN"
	# Still alive: the clock goes on.
	first=$(line 1)
	wait_for eval '[ "$(line 1)" != "$first" ]' 5s
	screen_has "DAEMON DOWN"

	depot_launch

	wait_for screen_lacks "DAEMON DOWN" 10s
	wait_for screen_matches '^w1 +online' 10s
	wait_for screen_matches 'depotd [0-9.]+ up ' 5s
	submit --name after-restart -- sleep 30
	wait_for row_has "$ID" after-restart 10s
}

@test "started before depotd, the console says the daemon is down, then shows it once it starts" {
	depot_init
	console_start
	wait_for screen_has "DAEMON DOWN" 5s
	screen_has "waiting for depotd to start"

	depot_launch

	wait_for screen_lacks "DAEMON DOWN" 10s
	wait_for screen_matches '^w2 +online' 10s
}

@test "--readonly refuses c (and says so), asks nothing, and the task keeps running" {
	depot_start
	submit --name keep-me -- sleep 30
	task=$ID
	wait_for task_is "$task" running
	console_start --readonly
	wait_for row_has "$task" running 5s
	screen_has READ-ONLY

	keys c
	wait_for screen_has "read-only console (--readonly): canceling is disabled" 5s
	screen_lacks "Cancel task"
	keys b
	wait_for screen_has "read-only console (--readonly): backup is disabled" 5s
	keys R
	wait_for screen_has "read-only console (--readonly): restore is disabled" 5s
	screen_lacks "Restore"
	keys a
	wait_for screen_has "read-only console (--readonly): restarting is disabled" 5s
	keys p
	wait_for screen_has "read-only console (--readonly): pausing the queue is disabled" 5s
	screen_lacks "Pause the whole queue"
	run task_state "$task"
	[ "$output" = running ]
}

# selected_id: the id of the task the details view (Enter) shows, back to the list after.
selected_id() {
	local id
	keys Enter
	wait_for screen_matches '^ Task #[0-9]+: ' 5s || return 1
	id=$(screen | sed -n 's/^ Task #\([0-9]*\): .*/\1/p' | head -1)
	keys Escape
	wait_for screen_has WORKER 5s || return 1
	echo "$id"
}

@test "Up, Down, j, k, PgUp, PgDn, Home and End move the selection over a list longer than the screen" {
	depot_start
	submit --name holder --lock q -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	ids=()
	for i in $(seq 1 30); do
		submit --name "queued-$i" --lock q -- true
		ids+=("$ID")
	done
	console_start
	wait_for screen_has "filter active+5m: 31 tasks" 10s

	# The holder runs, first; the queue follows in order.
	[ "$(selected_id)" = "$holder" ]
	keys Down
	[ "$(selected_id)" = "${ids[0]}" ]
	keys j j
	[ "$(selected_id)" = "${ids[2]}" ]
	keys k Up
	[ "$(selected_id)" = "${ids[0]}" ]
	keys End
	[ "$(selected_id)" = "${ids[29]}" ]
	screen_has "queued-30"
	no_row "$holder"
	keys Home
	[ "$(selected_id)" = "$holder" ]
	keys NPage
	pgdn=$(selected_id)
	[ "$pgdn" -gt "${ids[5]}" ]
	keys PPage
	[ "$(selected_id)" = "$holder" ]
	keys Up
	[ "$(selected_id)" = "$holder" ]
}

@test "Enter shows the task's fields and the last lines of its log, live" {
	depot_start
	submit --name chatty -- sh -c 'i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.2; done'
	task=$ID
	console_start
	wait_for row_has "$task" running 5s

	keys Enter
	wait_for screen_has "Task #$task: chatty" 5s
	wait_for screen_matches '^state +running' 5s
	wait_for screen_matches '^ line [0-9]+' 5s
	seen=$(screen | grep -E '^ line [0-9]+' | tail -1)
	wait_for eval '[ "$(screen | grep -E "^ line [0-9]+" | tail -1)" != "$seen" ]' 5s
	screen_has "log:"

	keys Escape
	wait_for screen_has WORKER 5s
}

@test "l shows each reservation: the resource, its holder, the tasks waiting for it in order, and pauses and capacities" {
	depot_start
	submit --name holder --lock host:db1 -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit --name first-waiter --lock host:db1 -- true
	first=$ID
	submit --name second-waiter --lock host:db1 -- true
	second=$ID
	console_start
	wait_for row_has "$second" waiting 5s

	ctl pause backup >/dev/null
	ctl resource set builds --capacity 3 >/dev/null
	keys l
	wait_for screen_matches "^host:db1 +#$holder holder +2: #$first, #$second\$" 5s
	screen_has "RESERVATIONS"
	# Paused or counted, a resource is listed though nobody uses it.
	screen_matches '^backup PAUSED +- +-$'
	screen_matches '^builds 3 slots +- +-$'

	# The holder ends: the first in the queue holds it, the second still waits.
	ctl task cancel "$holder" >/dev/null
	wait_for eval 'screen_matches "^host:db1 +(#$first first-waiter +1: #$second|#$second second-waiter +-)\$" || ! screen_matches "^host:db1 "' 10s

	keys Escape
	wait_for screen_has WORKER 5s
}

@test "s shows the schedules: state, interval or calendar times, next run and what each submits" {
	depot_start
	ctl schedule add tick --every 1h -- run -- echo hi >/dev/null
	ctl schedule add quiet --every 30m -- run -- true >/dev/null
	ctl schedule disable quiet >/dev/null
	ctl schedule add weekdays --on 'Mon..Fri 02:00' --tz Europe/Berlin -- orphans clean >/dev/null
	console_start
	wait_for screen_has WORKER 5s

	keys s
	wait_for screen_matches '^tick +enabled +1h00m +in [0-9]' 5s
	screen_matches '^tick .*run: echo hi$'
	screen_matches '^quiet +disabled +30m00s +- '
	# On 80 columns the calendar column leaves room for what is submitted; wider, it is whole.
	screen_matches '^weekdays +enabled +Mon\.\.Fri 02… +in [0-9].* orphans$'
	tmux -L "$CONSOLE_TMUX" resize-window -t console -x 120 -y 24
	wait_for screen_matches '^weekdays +enabled +Mon\.\.Fri 02:00 Europe/Berlin +in [0-9].* orphans$' 5s

	keys s
	wait_for screen_has WORKER 5s
	# Its windows made anew by the resize, the console still quits cleanly
	# (it crashed in delwin after delscreen had freed them).
	keys q
	wait_for screen_has "console exited 0" 5s
}

@test "R asks for a path and the typed word restore, and shows depotd's answer; a missing file or another word starts nothing" {
	depot_start
	console_start
	wait_for screen_matches '^w1 +online' 5s
	echo "not a backup" >"$BATS_TEST_TMPDIR/bogus.tar.zst"

	keys R
	wait_for screen_has "Restore the depot from this backup archive" 5s
	keys C-u /nonexistent/depot-backup.tar.zst Enter
	wait_for screen_has "cannot restore from /nonexistent/depot-backup.tar.zst: No such file" 5s
	screen_lacks "Restore: type restore to go on"

	keys R C-u "$BATS_TEST_TMPDIR/bogus.tar.zst" Enter
	wait_for screen_has "Restore: type restore to go on" 5s
	keys y e s Enter
	wait_for screen_has "restore not started: 'yes' is not the word restore" 5s

	keys R C-u "$BATS_TEST_TMPDIR/bogus.tar.zst" Enter
	wait_for screen_has "Restore: type restore to go on" 5s
	keys r e s t o r e Enter
	# A depotd that restores runs a task that finds the archive bad; one that
	# does not yet refuses. Either way the console says so, and data stays.
	wait_for screen_matches "restore #[0-9]+ failed: |restore refused by depotd: " 20s
	wait_for screen_matches '^w1 +online' 10s
}

@test "b asks for a path (one offered) and shows depotd's answer to the backup" {
	depot_start
	console_start
	wait_for screen_matches '^w1 +online' 5s

	keys b
	wait_for screen_has "Write a backup archive" 5s
	screen_matches 'depot-backup-[0-9]{8}-[0-9]{6}\.tar\.zst'
	keys "$BATS_TEST_TMPDIR/console-backup.tar.zst" Enter

	# A depotd that backs up queues a task; one that does not yet says why.
	wait_for screen_matches "backup #[0-9]+ |backup refused by depotd: " 10s
	if screen_matches "backup #[0-9]+ "; then
		wait_for screen_matches "backup #[0-9]+ completed: $BATS_TEST_TMPDIR/console-backup.tar.zst" 30s
		[ -s "$BATS_TEST_TMPDIR/console-backup.tar.zst" ]
	fi
}

@test "colours come from the terminal, and none are used with NO_COLOR set or on a terminal without colours" {
	depot_start
	submit --name coloured -- sleep 30
	wait_for task_is "$ID" running

	console_start
	wait_for row_has "$ID" running 5s
	screen_coloured
	console_stop

	CONSOLE_ENV="NO_COLOR=1" console_start
	wait_for row_has "$ID" running 5s
	if screen_coloured; then false; fi
	console_stop

	# NO_COLOR set but empty does not count (no-color.org).
	CONSOLE_ENV="NO_COLOR=" console_start
	wait_for row_has "$ID" running 5s
	screen_coloured
	console_stop

	CONSOLE_TERM=vt100 console_start
	wait_for row_has "$ID" running 5s
	if screen_coloured; then false; fi
}

@test "q quits with the terminal restored: exit status 0, echo and canonical mode back, the console's screen gone" {
	depot_start
	console_start
	wait_for screen_matches '^w1 +online' 5s

	keys q

	wait_for screen_has "console exited 0" 5s
	# stty's line is printed after that one: wait for it too.
	wait_for screen_matches '(^| )echo( |$)' 5s
	screen_matches '(^| )icanon( |$)'
	screen_lacks "WORKER"
}

@test "the default filter also lists tasks that ended in the last minutes (5 by default, --recent to change)" {
	depot_start
	submit --name doner -- true
	doner=$ID
	submit --name failer -- sh -c 'exit 3'
	failer=$ID
	wait_for task_is "$doner" completed
	wait_for task_is "$failer" failed
	submit --name runner -- sleep 30
	runner=$ID
	wait_for task_is "$runner" running

	console_start
	wait_for row_has "$runner" running 5s
	wait_for row_has "$doner" completed 5s
	row_has "$failer" exit-status
	screen_has "filter active+5m: 3 tasks"
	# Running first, the ended ones after it, newest first.
	order=$(screen | grep -oE "^ *($runner|$doner|$failer) " | tr -d ' ' | tr '\n' ' ')
	[ "$order" = "$runner $failer $doner " ]
	console_stop

	# A window of 2 s: the ended tasks leave it once they ended 2 s ago.
	console_start --recent 2s
	wait_for row_has "$runner" running 5s
	# Each leaves when its own end is 2 s old: the failer ended after the doner.
	wait_for no_row "$doner" 10s
	wait_for no_row "$failer" 10s
	wait_for screen_has "filter active+2s: 1 task" 5s
	console_stop

	run "$DEPOT_BIN/depot-console" -d "$DIR" --recent soon
	[ "$status" -eq 2 ]
	[[ $output == *"--recent: 'soon' is not a duration"* ]]
}

@test "o sorts the tasks by the next column, the heading marks it, O reverses the order" {
	depot_start
	submit --name bravo -- sleep 30
	bravo=$ID
	submit --name alpha --lock host:x -- sleep 30
	alpha=$ID
	submit --name charlie --lock host:x -- sleep 30
	charlie=$ID
	wait_for task_is "$bravo" running
	wait_for task_is "$alpha" running
	console_start
	wait_for row_has "$charlie" waiting 5s

	# ids: task_order prints the ids of the three rows, top to bottom.
	task_order() {
		screen | grep -oE "^ *($alpha|$bravo|$charlie) " | tr -d ' ' | tr '\n' ' '
	}
	# The queue's order: running (by id), then waiting.
	[ "$(task_order)" = "$bravo $alpha $charlie " ]
	screen_matches '^ID +STATE +TYPE +NAME +RESOURCES'

	keys o
	wait_for screen_has "tasks sorted by id" 5s
	screen_matches '^ *vID +STATE '
	keys o o o
	wait_for screen_has "tasks sorted by name" 5s
	screen_matches '^ *ID +STATE +TYPE +NAMEv '
	[ "$(task_order)" = "$alpha $bravo $charlie " ]

	keys O
	wait_for screen_has "tasks sorted by name, reversed" 5s
	screen_matches '^ *ID +STATE +TYPE +NAME\^ '
	[ "$(task_order)" = "$charlie $bravo $alpha " ]

	# The selection follows its task, not its row.
	keys Home
	[ "$(selected_id)" = "$charlie" ]
	keys o
	wait_for screen_has "tasks sorted by resources" 5s
	[ "$(selected_id)" = "$charlie" ]

	# Round the columns, back to the queue's order.
	keys o o o o
	wait_for screen_has "tasks sorted by queue order" 5s
	screen_matches '^ID +STATE +TYPE +NAME +RESOURCES'
	[ "$(task_order)" = "$bravo $alpha $charlie " ]
}

@test "r shows each repository: latest version, size, publication, and its last sync's time and outcome with the reason" {
	depot_start
	feed=$WORK/feed
	mkdir -p "$feed"
	printf 'one\n' >"$feed/a.txt"
	printf 'two two\n' >"$feed/b.txt"
	make_feed "$feed"
	ctl repo create good --feed "file://$feed/PULP_MANIFEST" >/dev/null
	ctl repo create broken --feed "file://$WORK/nowhere/PULP_MANIFEST" >/dev/null
	ctl repo create fresh >/dev/null
	good_sync=$(ctl sync good --wait | head -1)
	ctl publish good --wait >/dev/null
	broken_sync=$(ctl sync broken --wait 2>/dev/null | head -1) || true
	[ "$(task_state "$good_sync")" = completed ]
	[ "$(task_state "$broken_sync")" = failed ]
	reason=$(task_reason "$broken_sync")

	console_start
	wait_for screen_has WORKER 5s
	keys r
	wait_for screen_matches '^REPOSITORY +LATEST +SIZE +PUBLISHED +LAST SYNC +OUTCOME' 5s
	wait_for screen_matches "^good +v1 +12B +v1 [0-9]+s ago +[0-9]+s ago +#$good_sync completed\$" 10s
	wait_for screen_matches "^broken +- +- +- +[0-9]+s ago +#$broken_sync failed: $reason: " 10s
	screen_matches '^fresh +- +- +- +- +never synced$'

	# A new sync shows as soon as it is listed, and its outcome when it ends.
	printf 'three\n' >"$feed/c.txt"
	make_feed "$feed"
	next=$(ctl sync good --wait | head -1)
	wait_for screen_matches "^good +v2 +18B +v1 .*#$next completed\$" 10s

	keys r
	wait_for screen_has WORKER 5s
}

@test "a running task's details show its rate, from its progress as it moves" {
	depot_start
	submit --name steady -- sh -c 'while :; do printf "%0100d\n" 0; sleep 0.1; done'
	task=$ID
	console_start
	wait_for row_has "$task" running 5s

	keys Enter
	wait_for screen_has "Task #$task: steady" 5s
	# About 1 KiB a second: shown as bytes a second after a couple of samples.
	wait_for screen_matches '^progress +[0-9.]+(B|KiB) at [0-9.]+(B|KiB)/s' 10s
}

@test "a then y restarts a task that ended (task.restart): a new task with the same command; a task still running is refused" {
	depot_start
	submit --name again -- true
	first=$ID
	wait_for task_is "$first" completed
	submit --name busy -- sleep 30
	busy=$ID
	wait_for task_is "$busy" running
	console_start
	wait_for row_has "$first" completed 5s

	# Running: nothing asked.
	keys Home
	[ "$(selected_id)" = "$busy" ]
	keys a
	wait_for screen_has "task $busy is running: only a task that ended can be restarted" 5s
	screen_lacks "Restart task $busy"

	keys End
	[ "$(selected_id)" = "$first" ]
	keys a
	wait_for screen_has "Restart task $first (again, completed)?" 5s
	keys n
	wait_for screen_has "task $first not restarted" 5s
	[ "$(ctl --json task list | jq length)" -eq 2 ]

	keys a
	wait_for screen_has "Restart task $first" 5s
	keys y
	wait_for screen_matches "task $first restarted as task [0-9]+" 5s
	new=$(screen | sed -n "s/.*task $first restarted as task \([0-9]*\).*/\1/p" | head -1)
	[ -n "$new" ]
	[ "$(ctl --json task show "$new" | jq -r .restart_of)" = "$first" ]
	[ "$(ctl --json task show "$new" | jq -c .args.argv)" = '["true"]' ]
	wait_for task_is "$new" completed
	wait_for row_has "$new" completed 5s
}

@test "p then y pauses the whole queue: the header says so and a new task waits; p then y again resumes it" {
	depot_start
	console_start
	wait_for screen_matches '^w1 +online' 5s

	keys p
	wait_for screen_has "Pause the whole queue?" 5s
	keys n
	wait_for screen_has "the queue was left as it was" 5s

	keys p
	wait_for screen_has "Pause the whole queue?" 5s
	keys y
	wait_for screen_has "queue paused" 5s
	wait_for screen_matches '^ workers .*QUEUE PAUSED' 5s
	[ "$(ctl --json status | jq .queue.paused)" = true ]
	submit --name held -- true
	held=$ID
	wait_for row_has "$held" waiting 5s
	[ "$(task_state "$held")" = waiting ]

	keys p
	wait_for screen_has "Resume the queue?" 5s
	keys y
	wait_for screen_has "queue resumed" 5s
	wait_for task_is "$held" completed
	[ "$(ctl --json status | jq .queue.paused)" = false ]
	wait_for screen_lacks "QUEUE PAUSED" 5s
}

@test "a waiting task's details say what holds it (task.why): the id of the task holding its resource" {
	depot_start
	submit --name holder --lock host:db1 -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit --name blocked --lock host:db1 -- true
	blocked=$ID
	console_start
	wait_for row_has "$blocked" waiting 5s

	keys End
	[ "$(selected_id)" = "$blocked" ]
	keys Enter
	wait_for screen_has "Task #$blocked: blocked" 5s
	wait_for screen_matches "^waits for .*$holder" 5s
	# The list's message line says it too, for the selected task.
	keys Escape
	wait_for screen_matches "#$blocked waits: .*$holder" 10s

	# Once it runs, nothing is said any more.
	ctl task cancel "$holder" >/dev/null
	wait_for task_is "$blocked" completed
	wait_for eval '! screen | grep -q "#$blocked waits:"' 10s
}

@test "a running sync shows its rate in files a second and the time left, in its details and in its row on a wide screen" {
	depot_start
	feed=$WORK/feed
	mkdir -p "$feed"
	for i in $(seq 1 20); do
		head -c 20000 /dev/urandom >"$feed/f$i.bin"
	done
	make_feed "$feed"
	# 20 files of 20 kB, each at 50 kB/s, one at a time: about 8 s, long enough to be seen moving.
	start_slow_http "$feed" 50000
	ctl repo create slow --feed "$(feed_url "$HTTP_PORT")" --download-concurrency 1 >/dev/null
	console_start
	wait_for screen_has WORKER 5s
	tmux -L "$CONSOLE_TMUX" resize-window -t console -x 160 -y 24
	sync=$(ctl sync slow)

	wait_for row_has "$sync" running 5s
	wait_for eval 'screen | grep -E "^ *$sync " | grep -qE "[0-9]+/20 files \\([0-9.]+ files/s, ETA [0-9]+(s|m[0-9]+)\\)"' 10s
	keys Enter
	wait_for screen_has "Task #$sync: sync slow" 5s
	wait_for screen_matches '^progress .*[0-9]+/20 files at [0-9.]+ files/s, ETA [0-9]+(s|m[0-9]+) -- ' 10s
	keys Escape
	wait_for task_is "$sync" completed 30s
	# Ended: no rate any more, its outcome in the row.
	wait_for eval 'screen | grep -E "^ *$sync " | grep -q completed' 5s
	if screen | grep -E "^ *$sync " | grep -q "files/s"; then false; fi
}
