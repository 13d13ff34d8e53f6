#!/usr/bin/env bats
# DESIGN §6: a task starts only when all its reservations can be granted at
# once, never ahead of an earlier waiting task that wants a conflicting
# reservation on the same resource; exclusive holders are alone, shared
# holders run together.

load helpers

# lock_entry R: the lock list --json entry of resource R.
lock_entry() {
	ctl --json lock list | jq -c --arg r "$1" '.[] | select(.resource == $r)'
}

@test "exclusive tasks on one resource never overlap: each one's start and end are adjacent in the shared log" {
	depot_start
	ids=()
	for i in 1 2 3 4 5 6; do
		submit --lock r -- sh -c "echo start $i >> $DIR/trace; sleep 0.1; echo end $i >> $DIR/trace"
		ids+=("$ID")
	done

	run ctl task wait --timeout 30s "${ids[@]}"

	[ "$status" -eq 0 ]
	# Six pairs "start i" directly followed by "end i", in submission order.
	expected=$(for i in 1 2 3 4 5 6; do printf 'start %s\nend %s\n' "$i" "$i"; done)
	run cat "$DIR/trace"
	[ "$output" = "$expected" ]
}

@test "shared reservations run together: two shared tasks that each wait for the other both complete" {
	depot_start
	submit --shared r -- sh -c "touch $DIR/a; while [ ! -e $DIR/b ]; do sleep 0.05; done"
	a=$ID
	submit --shared r -- sh -c "touch $DIR/b; while [ ! -e $DIR/a ]; do sleep 0.05; done"
	b=$ID

	run ctl task wait --timeout 20s "$a" "$b"

	[ "$status" -eq 0 ]
	[ "$(task_state "$a")" = completed ]
	[ "$(task_state "$b")" = completed ]
}

@test "an exclusive request waits for the shared holders, and a later shared request does not overtake it (FIFO per resource)" {
	depot_start
	submit --shared r -- sleep 30
	shared1=$ID
	wait_for task_is "$shared1" running
	submit --lock r -- sh -c "echo exclusive >> $DIR/trace"
	exclusive=$ID
	submit --shared r -- sh -c "echo late shared >> $DIR/trace"
	late=$ID

	# Neither starts while the first shared holder runs, though the idle
	# worker has since run another task.
	run ctl run --wait --lock other -- true
	[ "$status" -eq 0 ]
	run lock_entry r
	[ "$(jq -c .holders <<<"$output")" = "[{\"task\":$shared1,\"mode\":\"shared\"}]" ]
	[ "$(jq -c '[.waiting[].task]' <<<"$output")" = "[$exclusive,$late]" ]
	[ "$(task_state "$exclusive")" = waiting ]
	[ "$(task_state "$late")" = waiting ]

	ctl task cancel "$shared1"
	run ctl task wait --timeout 20s "$exclusive" "$late"

	[ "$status" -eq 0 ]
	run cat "$DIR/trace"
	[ "$output" = "$(printf 'exclusive\nlate shared')" ]
}

@test "reservations are all-or-nothing and FIFO: a task on r1+r2 holds neither while r2 is taken, and a later task on r1 alone does not start before it" {
	depot_start
	submit --lock r2 -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit --lock r1 --lock r2 -- sh -c "echo B >> $DIR/trace; sleep 0.2; echo B done >> $DIR/trace"
	b=$ID
	submit --lock r1 -- sh -c "echo C >> $DIR/trace"
	c=$ID
	# A task on an unrelated resource is not held up.
	run ctl run --wait --lock r3 -- true
	[ "$status" -eq 0 ]

	# B waits on both and holds neither; C queues behind B on r1.
	[ "$(task_state "$b")" = waiting ]
	[ "$(task_state "$c")" = waiting ]
	run lock_entry r1
	[ "$(jq -c .holders <<<"$output")" = "[]" ]
	[ "$(jq -c '[.waiting[].task]' <<<"$output")" = "[$b,$c]" ]
	run lock_entry r2
	[ "$(jq -c '[.holders[].task]' <<<"$output")" = "[$holder]" ]
	[ "$(jq -c '[.waiting[].task]' <<<"$output")" = "[$b]" ]

	ctl task cancel "$holder"
	run ctl task wait --timeout 20s "$b" "$c"

	[ "$status" -eq 0 ]
	run cat "$DIR/trace"
	[ "$output" = "$(printf 'B\nB done\nC')" ]
	b_end=$(ctl --json task show "$b" | jq -r .finished_at)
	c_start=$(ctl --json task show "$c" | jq -r .started_at)
	[[ ! $c_start < $b_end ]]
}

@test "lock list --json shows each resource's holders and its waiters in queue order, with their modes" {
	depot_start
	submit --lock r1 -- sleep 30
	a=$ID
	wait_for task_is "$a" running
	submit --lock r1 -- true
	b=$ID
	submit --shared r1 -- true
	c=$ID

	run ctl --json lock list

	[ "$status" -eq 0 ]
	entry=$(jq -c '.[] | select(.resource == "r1")' <<<"$output")
	[ "$(jq -c .holders <<<"$entry")" = "[{\"task\":$a,\"mode\":\"exclusive\"}]" ]
	[ "$(jq -c .waiting <<<"$entry")" = "[{\"task\":$b,\"mode\":\"exclusive\"},{\"task\":$c,\"mode\":\"shared\"}]" ]
	# Sorted by resource.
	[ "$(jq -c '[.[].resource]' <<<"$output")" = "$(jq -c '[.[].resource] | sort' <<<"$output")" ]
	# After the holder is canceled, the list follows.
	ctl task cancel "$a" "$b" "$c"
	wait_for task_is "$a" canceled 5s
	run lock_entry r1
	[ -z "$output" ] || [ "$(jq -c '[.holders, .waiting]' <<<"$output")" = "[[],[]]" ]
}
