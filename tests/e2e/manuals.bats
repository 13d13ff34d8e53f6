#!/usr/bin/env bats
# The man pages document every command, option, exit code and key, read
# from the tables the programs themselves use (depotctl's command table
# through `depotctl __options`, the getopt tables of depotd and
# depot-console, the exit_code enum, the console's help table), never from
# a list copied here; and they render with man and mandoc without a word
# of warning. depot.conf(5)'s keys are tests/unit/test_manuals.c's.

bats_require_minimum_version 1.5.0

SRC="$BATS_TEST_DIRNAME/../.."
# The generated page: doc/depotctl.1.in with `depotctl __man` in it.
CTL_PAGE="$DEPOT_BIN/depotctl.1"
PAGES=("$SRC/doc/depotd.8" "$SRC/doc/depot.conf.5" "$SRC/doc/depot-console.1" "$CTL_PAGE")

# man_tags PAGE: the tag of each .TP as it shows, "SECTION<TAB>DEPTH<TAB>TAG",
# DEPTH counting .RS; fonts, quotes and escapes gone ("\-" is "-").
man_tags() {
	awk '
	function plain(s) {
		gsub(/\\f[BIRP]/, "", s); gsub(/\\f\(CW/, "", s)
		gsub(/\\-/, "-", s); gsub(/\\&/, "", s); gsub(/\\e/, "\\", s)
		gsub(/\\\([a-z][a-z]/, " ", s)
		return s
	}
	# The text a macro line shows: .B and .I join their arguments with
	# spaces, the alternating ones (.BR, .IR …) with nothing.
	function shown(line,   m, rest, out, arg, c, q, n, sep) {
		if (substr(line, 1, 1) != ".")
			return plain(line)
		m = line; sub(/ .*/, "", m)
		rest = substr(line, length(m) + 2)
		sep = (m == ".B" || m == ".I" || m == ".SM") ? " " : ""
		out = ""; n = 0
		while (length(rest) > 0) {
			sub(/^ +/, "", rest)
			if (rest == "")
				break
			if (substr(rest, 1, 1) == "\"") {
				rest = substr(rest, 2)
				q = index(rest, "\"")
				arg = q ? substr(rest, 1, q - 1) : rest
				rest = q ? substr(rest, q + 1) : ""
			} else {
				c = index(rest, " ")
				arg = c ? substr(rest, 1, c - 1) : rest
				rest = c ? substr(rest, c + 1) : ""
			}
			out = out (n++ ? sep : "") arg
		}
		return plain(out)
	}
	/^\.SH/ { sec = $0; sub(/^\.SH +/, "", sec); gsub(/"/, "", sec); depth = 0; tag = 0; next }
	/^\.RS/ { depth++; next }
	/^\.RE/ { depth--; next }
	/^\.TP/ { tag = 1; next }
	tag { print sec "\t" depth "\t" shown($0); tag = 0 }
	' "$1"
}

# dashed: of each line "PREFIX<TAB>TAG", "PREFIX<TAB>OPTION" for every option
# among the words of TAG ("-s, --state S"); a line without a TAB stays as it is.
dashed() {
	awk -F'\t' 'NF < 2 { print; next } {
		n = split($2, w, /[ ,]+/)
		for (i = 1; i <= n; i++)
			if (w[i] ~ /^--?[[:alnum:]]/) {
				sub(/[.;:)]+$/, "", w[i])
				print $1 "\t" w[i]
			}
	}'
}

# getopt_options FILE: "--name" of each entry of the file's `struct option
# opts[]`, and "-c" of each letter of its getopt_long optstring.
getopt_options() {
	sed -n '/static const struct option opts\[\] = {/,/};/p' "$1" |
		grep -o '{ "[^"]*"' | sed 's/{ "/--/; s/"$//'
	grep -o 'getopt_long(argc, argv, "[^"]*"' "$1" | sed 's/.*"\(.*\)"/\1/' |
		grep -o '[[:alnum:]]' | sed 's/^/-/'
}

# page_options PAGE SECTION: the options its SECTION's tags name (depth 0).
page_options() {
	man_tags "$1" | awk -F'\t' -v s="$2" '$1 == s && $2 == 0 { print "\t" $3 }' |
		dashed | cut -f2
}

# missing EXPECTED DOCUMENTED: the lines of the first list not in the second.
missing() {
	comm -23 <(sort -u <<<"$1") <(sort -u <<<"$2")
}

@test "depotctl(1) shows every command of the table with each of its options" {
	local want have
	want=$("$DEPOT_BIN/depotctl" __options | grep -v '^	')
	[ "$(grep -c . <<<"$want")" -ge 100 ]	# the dump works
	# A command's tag is its name and usage; the tags inside its .RS are its options.
	have=$(man_tags "$CTL_PAGE" | awk -F'\t' -v names="$(cut -f1 <<<"$want" | sort -u)" '
		BEGIN { n = split(names, name, "\n") }
		$1 != "COMMANDS" { next }
		$2 == 0 {
			cur = ""
			for (i = 1; i <= n; i++)
				if (($3 == name[i] || index($3, name[i] " ") == 1) &&
				    length(name[i]) > length(cur))
					cur = name[i]
			if (cur != "") print cur
			next
		}
		cur != "" { print cur "\t" $3 }' | dashed)
	[ "$(grep -c . <<<"$have")" -ge 100 ]
	run missing "$want" "$have"
	echo "not in $CTL_PAGE: $output"
	[ -z "$output" ]
}

@test "depotctl(1)'s OPTIONS show every option depotctl takes before the command" {
	local want have
	want=$("$DEPOT_BIN/depotctl" __options | sed -n 's/^\t//p')
	[ "$(grep -c . <<<"$want")" -ge 4 ]
	have=$(page_options "$CTL_PAGE" OPTIONS)
	run missing "$want" "$have"
	echo "not in OPTIONS: $output"
	[ -z "$output" ]
}

@test "depotctl(1)'s EXIT STATUS has every exit code of the enum and run --wait's own" {
	local want have
	# share/proto.h's enum exit_code, and the statuses exec.c gives a command that cannot run.
	want=$(sed -n '/^enum exit_code {/,/^};/p' "$SRC/share/proto.h" |
		grep -oE 'EXIT_[A-Z_]+ = [0-9]+' | awk '{ print $3 }')
	want+=$'\n'$(grep -oE '^#define EXEC_STATUS_[A-Z_]+ [0-9]+' "$SRC/daemon/exec.c" | awk '{ print $3 }')
	if grep -q 'return 128 + ' "$SRC/ctl/cmd-task.c"; then want+=$'\n128+N'; fi
	[ "$(grep -c . <<<"$want")" -ge 10 ]
	# The rows of its tables: "CODE|text".
	have=$(awk '/^\.SH/ { on = ($0 ~ /EXIT STATUS/) } on && /^[0-9][0-9+N]*\|/ { sub(/\|.*/, ""); print }' "$CTL_PAGE")
	run missing "$want" "$have"
	echo "not in EXIT STATUS: $output"
	[ -z "$output" ]
	# help says them too.
	run "$DEPOT_BIN/depotctl" help
	for code in $(sed -n '/^enum exit_code {/,/^};/p' "$SRC/share/proto.h" |
		grep -oE 'EXIT_[A-Z_]+ = [0-9]+' | awk '$3 < 100 { print $3 }'); do
		grep -qE "(^|status: |, )$code " <<<"$output" || { echo "help says nothing of $code"; false; }
	done
}

@test "depotd(8) shows every option of depotd's getopt table" {
	local want have
	want=$(getopt_options "$SRC/daemon/main.c")
	[ "$(grep -c . <<<"$want")" -ge 5 ]
	have=$(page_options "$SRC/doc/depotd.8" OPTIONS)
	run missing "$want" "$have"
	echo "not in depotd.8 OPTIONS: $output"
	[ -z "$output" ]
}

@test "depot-console(1) shows every option of the console's getopt table" {
	local want have
	want=$(getopt_options "$SRC/tui/console.c")
	[ "$(grep -c . <<<"$want")" -ge 4 ]
	have=$(page_options "$SRC/doc/depot-console.1" OPTIONS)
	run missing "$want" "$have"
	echo "not in depot-console.1 OPTIONS: $output"
	[ -z "$output" ]
}

@test "depot-console(1) shows every key of the console's help table" {
	local want have
	# tui/view-help.c's "Keys" lines: the first string of each, its keys apart by spaces.
	want=$(sed -n '/{ NULL, "Keys", 0 },/,/{ NULL, "", 0 },/p' "$SRC/tui/view-help.c" |
		grep -o '^	{ "[^"]*"' | sed 's/^	{ "//; s/"$//' | tr ' ' '\n' | grep .)
	[ "$(grep -c . <<<"$want")" -ge 15 ]
	have=$(man_tags "$SRC/doc/depot-console.1" | awk -F'\t' '$1 == "KEYS" { print $3 }' |
		tr ' ,' '\n\n' | grep .)
	run missing "$want" "$have"
	echo "not in depot-console.1 KEYS: $output"
	[ -z "$output" ]
}

@test "every page renders with man -l without a warning" {
	local page
	for page in "${PAGES[@]}"; do
		run --separate-stderr env MANWIDTH=80 MANPAGER=cat LC_ALL=C.UTF-8 \
			man --warnings -E UTF-8 -l "$page"
		echo "$page: $stderr"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		grep -q '^NAME' <<<"$output"
		[ "$(wc -l <<<"$output")" -ge 20 ]
	done
}

@test "every page passes mandoc -T lint with nothing to say" {
	command -v mandoc >/dev/null || { echo "mandoc is missing: make deps installs it"; false; }
	local page
	for page in "${PAGES[@]}"; do
		run mandoc -T lint "$page"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}

@test "the checks see a gap: a page without an option, or with a bad macro, fails them" {
	local page="$BATS_TEST_TMPDIR/depotctl.1"
	grep -qx '\.B \\-\\-version' "$CTL_PAGE"
	sed '/^\.B \\-\\-version$/d' "$CTL_PAGE" >"$page"
	run missing "$("$DEPOT_BIN/depotctl" __options | sed -n 's/^\t//p')" "$(page_options "$page" OPTIONS)"
	[ "$output" = "--version" ]
	printf '.TH X 1\n.SH NAME\nx \\- y\n.foo\n' >"$page"
	run mandoc -T lint "$page"
	[ -n "$output" ]
}
