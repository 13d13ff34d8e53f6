#!/usr/bin/env bats
# doc/compare.md promises, command for command, what depot offers beside
# pueue, task-spooler and pulp-cli. Every `depotctl ...` it writes in the
# depot column must be a command depotctl has, with options its help
# lists: the page cannot drift from the binary.

load helpers

PAGE="$BATS_TEST_DIRNAME/../../doc/compare.md"

# The depot column's `depotctl ...` spans, one a line.
depot_commands() {
	awk -F'|' '/^\| / && $3 ~ /depotctl/ { print $3 }' "$PAGE" |
		grep -o '`depotctl [^`]*`' | tr -d '`'
}

# words_of LINE: the command words of one span (the longest prefix that is a command).
words_of() {
	local -a tok
	read -r -a tok <<<"$1"
	local best= try= i
	for ((i = 1; i < ${#tok[@]}; i++)); do
		try="${try:+$try }${tok[$i]}"
		if grep -qxF -- "$try" <<<"$COMMANDS"; then best=$try; fi
	done
	echo "$best"
}

@test "the page lists depot commands at all (the extraction works)" {
	[ "$(depot_commands | wc -l)" -ge 40 ]
}

@test "every depotctl command and option on doc/compare.md is one depotctl takes" {
	COMMANDS=$("$DEPOT_BIN/depotctl" __commands)
	bad=0
	while IFS= read -r line; do
		words=$(words_of "$line")
		if [ -z "$words" ]; then
			echo "not a depotctl command: $line"
			bad=1
			continue
		fi
		# shellcheck disable=SC2086
		help=$("$DEPOT_BIN/depotctl" help $words 2>&1) || {
			echo "depotctl help $words failed: $help"
			bad=1
			continue
		}
		# Options up to a bare "--" (what follows is a command or a template).
		for opt in $(sed 's/ -- .*//' <<<"$line" | grep -oE '(^| )--[a-z][a-z-]*' | tr -d ' '); do
			if ! grep -qE -- "$opt([ =,]|\$)" <<<"$help"; then
				echo "depotctl $words has no $opt (from: $line)"
				bad=1
			fi
		done
	done < <(depot_commands)
	[ "$bad" -eq 0 ]
}

@test "a command written after a schedule's -- is one a schedule takes" {
	COMMANDS=$("$DEPOT_BIN/depotctl" __commands)
	while IFS= read -r line; do
		template=${line#* -- }
		words=$(words_of "depotctl $template")
		[ -n "$words" ] || { echo "not a command: $template"; false; }
	done < <(depot_commands | grep '^depotctl schedule add')
}
