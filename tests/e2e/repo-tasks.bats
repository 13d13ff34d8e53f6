#!/usr/bin/env bats
# Repository tasks that cannot start fail cleanly; the daemon lives on.

load helpers

@test "a publish of a repository with no version fails, and the daemon keeps answering" {
	depot_start
	ctl repo create empty
	run ctl publish empty --wait
	[ "$status" -eq 1 ]
	[[ $output == *"no version to publish"* ]]
	ctl ping
	id=$(ctl --json task list --limit 1 | jq -r '.[0].id')
	[ "$(task_reason "$id")" = exception ]
}

@test "a publish of a version that does not exist fails naming it" {
	depot_start
	ctl repo create r
	run ctl publish r --version 7 --wait
	[ "$status" -eq 1 ]
	ctl ping
}

@test "repository names . and .. are refused: they would name publish/ and the data directory" {
	depot_start
	run ctl repo create ..
	[ "$status" -ne 0 ]
	[[ $output == *"bad repository name"* ]]
	run ctl repo create .
	[ "$status" -ne 0 ]
	[ "$(ctl --json repo list | jq length)" -eq 0 ]
}
