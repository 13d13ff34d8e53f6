#!/usr/bin/env bats
# An exec task starts clean (DESIGN §5, issues 9 and 12): descriptors 0,
# 1 and 2 only, whatever depotd inherited from its launcher, and the
# environment it was submitted with, never depotd's own. Workers do not
# inherit depotd's descriptors either.

load helpers
load repo_helpers

# fd_targets PID: "FD -> TARGET" for each open descriptor of PID.
fd_targets() {
	local f
	for f in /proc/"$1"/fd/*; do
		echo "${f##*/} -> $(readlink "$f")"
	done
}

# task_fds: runs a task that lists its descriptors into $WORK/fds, and
# checks that they are 0, 1, 2 and the listing's own: ls's descriptor of
# the /proc/PID/fd directory it reads.
task_fds() {
	submit -- sh -c 'ls -l /proc/self/fd >"$1"' sh "$WORK/fds"
	wait_for task_is "$ID" completed
	cat "$WORK/fds"
	others=$(grep -- '->' "$WORK/fds" | awk '$(NF-2) !~ /^[012]$/' |
		grep -v -- '-> /proc/[0-9]*/fd$' || true)
	[ -z "$others" ]
	[ "$(grep -c -- '->' "$WORK/fds")" -le 4 ]
}

@test "a task has only descriptors 0, 1 and 2, and a worker none of depotd's, whatever depotd inherited" {
	depot_init
	echo "not for tasks" >"$WORK/inherited"
	# What a careless launcher leaves open: no close-on-exec.
	exec 9<"$WORK/inherited"
	depot_launch
	exec 9<&-
	# depotd did inherit it, so what follows tests something.
	[ "$(readlink "/proc/$DEPOT_PID/fd/9")" = "$WORK/inherited" ]

	fd_targets "$(worker_pid w1)"
	run -1 grep -F "$WORK/inherited" <(fd_targets "$(worker_pid w1)")
	# Nor the pid file whose lock marks depotd as running.
	run -1 grep -F "$DIR/run/" <(fd_targets "$(worker_pid w1)")
	task_fds
}

@test "a task run by a hand-started worker has only descriptors 0, 1 and 2, whatever the worker inherited" {
	depot_start "daemon.workers = 0"
	echo "not for tasks" >"$WORK/inherited"
	exec 9<"$WORK/inherited"
	start_hand_worker h1
	exec 9<&-
	wait_for worker_is h1 online
	[ "$(readlink "/proc/$LAST_HAND_PID/fd/9")" = "$WORK/inherited" ]

	task_fds
}

@test "a task's environment is its submitter's, nothing of depotd's, not even PATH or TZ" {
	depot_init
	depot_launch_env DEPOT_TEST_SECRET=hunter2 AWS_SECRET_ACCESS_KEY=hunter3 \
		TZ=Europe/Paris LC_TIME=C.UTF-8 HOME=/nonexistent-home
	# The workers have them (they are depotd's own code); tasks must not.
	tr '\0' '\n' <"/proc/$(worker_pid w1)/environ" | grep -qx DEPOT_TEST_SECRET=hunter2

	# An empty environment but the tag teardown finds stragglers by.
	submit --clean-env --env "$(depot_tag)" -- env
	wait_for task_is "$ID" completed
	ctl task log "$ID" >"$WORK/env"
	cat "$WORK/env"
	run -1 grep -e hunter2 -e hunter3 -e DEPOT_TEST_SECRET -e Europe/Paris -e LC_TIME \
		-e nonexistent-home "$WORK/env"
	# Its own id, and the tag the fence finds its processes by (fence.c).
	grep -qx "DEPOT_TASK_ID=$ID" "$WORK/env"
	grep -qE "^DEPOT_TASK_TAG=[0-9]+\.[0-9]+\.$ID\$" "$WORK/env"
	# Nothing but what was given and those two; `env` was found without a PATH.
	run -1 grep -v -E "^(DEPOT_TASK_ID|DEPOT_TASK_TAG|LC_DEPOT_E2E_TAG)=" "$WORK/env"
	[ "$(wc -l <"$WORK/env")" -eq 3 ]
}
