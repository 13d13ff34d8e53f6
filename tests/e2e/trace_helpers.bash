# trace_helpers.bash: commands that record when they ran, for judging order and overlap from outside the daemon.
#
# A traced command appends "+ NAME NANOSECONDS" to $WORK/trace when it
# starts and "- NAME NANOSECONDS" when it ends (load repo_helpers first:
# WORK is its scratch directory).

# traced NAME [SECONDS]: the words of a command that records its start and
# end in the trace, around a sleep of SECONDS (default 0).
traced() {
	if [ ! -e "$WORK/traced.sh" ]; then
		cat >"$WORK/traced.sh" <<-'EOS'
			echo "+ $1 $(date +%s%N)" >>"$TRACE"
			sleep "$2"
			echo "- $1 $(date +%s%N)" >>"$TRACE"
		EOS
	fi
	echo "env TRACE=$WORK/trace sh $WORK/traced.sh $1 ${2:-0}"
}

# started: the names in the order they started.
started() {
	awk '$1 == "+" { print $2 }' "$WORK/trace" | tr '\n' ' '
}

# most_at_once [PREFIX]: the largest number of PREFIX* commands (any, by default) running at one time.
most_at_once() {
	sort -k3,3n "$WORK/trace" | awk -v p="${1:-}" 'index($2, p) == 1 {
		n += ($1 == "+") ? 1 : -1; if (n > most) most = n } END { print most + 0 }'
}

# trace_lines N: the trace holds at least N lines.
trace_lines() {
	[ "$(grep -c . "$WORK/trace" 2>/dev/null)" -ge "$1" ]
}
