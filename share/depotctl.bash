# depotctl.bash: bash completion for depotctl(1), driven by depotctl itself.
#
# Command words come from `depotctl __commands`, options and which of them
# take a value from `depotctl COMMAND --help`, both printed from ctl/cmd.c's
# one table, and task states from `depotctl __states` (share/states.def),
# so this file lists no command, no option and no state. Install as
# /usr/share/bash-completion/completions/depotctl, or source it.

# The depotctl being completed (./build/depotctl completes with itself).
_depotctl_prog()
{
	local prog=${COMP_WORDS[0]}

	# shellcheck disable=SC2088 # a literal "~/" typed on the command line
	[[ $prog == "~/"* ]] && prog=$HOME/${prog#"~/"}
	printf '%s\n' "$prog"
}

# COMPREPLY from a command's lines, so that file names keep their spaces.
_depotctl_reply()
{
	mapfile -t COMPREPLY < <("$@")
}

# "OPTION METAVAR" for each option of a command that takes a value, from
# the option lines of its --help (not the text above them).
_depotctl_valopts()
{
	"$@" --help 2>/dev/null | sed -n -E '/^Options:$/,$ {
	    s/^ +(-([a-zA-Z]), )? *--([a-z][a-z-]*) ([A-Z][A-Z=]*)( .*)?$/-\2 \4\n--\3 \4/p
	    }' | grep -v '^- '
}

# Every long option of a command, as its --help lists them.
_depotctl_opts()
{
	"$@" --help 2>/dev/null | sed -n -E \
	    '/^(Common )?[Oo]ptions:$/,$ s/^ +(-[a-zA-Z], )? *(--[a-z][a-z-]*).*$/\2/p'
}

# Recent task ids, newest first (with the -d the command line gave).
_depotctl_task_ids()
{
	"$@" task list --limit 100 2>/dev/null | awk 'NR > 1 { print $1 }'
}

# schedule add's task after its "--", from word start on: sync REPO,
# publish REPO or run ... CMD, completed as those commands are, without
# the options a schedule refuses (--wait and what goes with it, --after).
_depotctl_template()
{
	local prog=$1 start=$2 type=${COMP_WORDS[$2]} i w line m first=0 dashdash=0
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local -a global=("${@:3}")
	local -A meta=()

	if ((COMP_CWORD == start)); then
		_depotctl_reply compgen -W 'sync publish run' -- "$cur"
		return
	fi
	case $type in
	sync | publish | run) ;;
	*) return ;;
	esac
	while read -r line m; do
		meta[$line]=$m
	done < <(_depotctl_valopts "$prog" "$type")
	for ((i = start + 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ $type == run && $w == -- && $dashdash -eq 0 && $first -eq 0 ]] &&
		    { dashdash=$i; continue; }
		((i > start + 1)) && [[ -n ${meta[${COMP_WORDS[i-1]}]} ]] && continue
		[[ $w != -* && $dashdash -eq 0 && $first -eq 0 ]] && first=$i
	done
	if [[ $type == run ]] && ((dashdash > 0 || first > 0)); then
		if ((first == 0 && COMP_CWORD == dashdash + 1)); then
			_depotctl_reply compgen -c -- "$cur"
		else
			_depotctl_reply compgen -f -- "$cur"
		fi
		return
	fi
	((COMP_CWORD > start + 1)) && [[ -n ${meta[$prev]} ]] && return
	if [[ $cur == -* ]]; then
		_depotctl_reply compgen -W "$(_depotctl_opts "$prog" "$type" |
		    grep -v -x -e --wait -e --quiet -e --wait-timeout -e --after |
		    sort -u)" -- "$cur"
	elif [[ $type == run ]]; then
		_depotctl_reply compgen -c -- "$cur"
	elif ((first == 0)); then
		_depotctl_reply compgen -W "$("$prog" "${global[@]}" repo list \
		    2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur"
	fi
}

_depotctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local prog i w cmd="" line dashdash=0 first_arg=0 cmd_end=0
	local -a global=() typed=() cmds=() names=() longer=()
	local -A meta=()

	prog=$(_depotctl_prog)
	COMPREPLY=()
	mapfile -t names < <("$prog" __commands 2>/dev/null)

	# Global options, then the command's words; remember -d so that task
	# ids come from the same daemon.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd && ${#typed[@]} -eq 0 ]]; then
			case $w in
			-d) global+=(-d "${COMP_WORDS[i+1]}"); ((i++)); continue ;;
			-*) continue ;;
			esac
		fi
		if [[ -n $cmd ]]; then
			[[ $w == -- && $dashdash -eq 0 && $first_arg -eq 0 ]] && { dashdash=$i; continue; }
			# An option's value is not run's command.
			[[ -n ${meta[${COMP_WORDS[i-1]}]} ]] && continue
			[[ $w == -* || $dashdash -ne 0 || $first_arg -ne 0 ]] && continue
			# "backup verify": a longer command, when right after the
			# command's words (not backup's argument).
			line=
			if ((i == cmd_end + 1)); then
				for line in "${names[@]}"; do
					[[ $line == "$cmd $w" ]] && break
				done
			fi
			if [[ $line != "$cmd $w" ]]; then
				first_arg=$i
				continue
			fi
		else
			[[ $w == -* ]] && continue
		fi
		typed+=("$w")
		# A complete command name: the rest are its options and arguments.
		cmd=""
		for line in "${names[@]}"; do
			[[ $line == "${typed[*]}" ]] && cmd=$line
		done
		[[ -z $cmd ]] && continue
		cmd_end=$i
		meta=()
		while read -r line w; do
			meta[$line]=$w
			# --proxy-url may be typed --proxy_url.
			[[ $line == --*-* ]] && meta[--${line:2}]=$w && line=${line:2} &&
			    meta[--${line//-/_}]=$w
		done < <(_depotctl_valopts "$prog" "${typed[@]}")
	done

	if [[ $prev == -d && -z $cmd && ${#typed[@]} -eq 0 ]]; then
		_depotctl_reply compgen -d -- "$cur"
		return
	fi

	# Still naming the command: offer the next word of every command that fits.
	if [[ -z $cmd ]]; then
		if [[ $cur == -* && ${#typed[@]} -eq 0 ]]; then
			_depotctl_reply compgen -W '-d --json --help --version' -- "$cur"
			return
		fi
		for line in "${names[@]}"; do
			read -r -a cmds <<<"$line"
			for ((i = 0; i < ${#typed[@]}; i++)); do
				[[ ${cmds[i]} == "${typed[i]}" ]] || continue 2
			done
			[[ -n ${cmds[${#typed[@]}]} ]] && COMPREPLY+=("${cmds[${#typed[@]}]}")
		done
		_depotctl_reply compgen -W "$(printf '%s\n' "${COMPREPLY[@]}" | sort -u)" -- "$cur"
		return
	fi

	# A command that is also the start of longer ones (backup, backup
	# verify): right after its words, offer their next words too.
	if ((COMP_CWORD == cmd_end + 1)) && [[ $cur != -* ]]; then
		for line in "${names[@]}"; do
			[[ $line == "$cmd "* ]] && longer+=("${line#"$cmd "}")
		done
	fi

	# run's command line: a program, then files.
	if [[ $cmd == run ]] && ((dashdash > 0 || first_arg > 0)); then
		if ((first_arg == 0 && COMP_CWORD == dashdash + 1)); then
			_depotctl_reply compgen -c -- "$cur"
		else
			_depotctl_reply compgen -f -- "$cur"
		fi
		return
	fi

	# schedule add's task, after its "--".
	if [[ $cmd == "schedule add" ]]; then
		for ((i = 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -- ]] && break
		done
		if ((i < COMP_CWORD)); then
			_depotctl_template "$prog" $((i + 1)) "${global[@]}"
			return
		fi
	fi

	# Values of options, by the metavariable the table gives them.
	if [[ -n ${meta[$prev]} ]]; then
		case ${meta[$prev]} in
		S) _depotctl_reply compgen -W "$("$prog" __states 2>/dev/null)" -- "$cur" ;;
		T) _depotctl_reply compgen -W 'task worker lock status' -- "$cur" ;;
		BOOL) _depotctl_reply compgen -W 'true false' -- "$cur" ;;
		FILE | DIR)
			# A PEM option's @FILE is FILE: complete the name after the @.
			if [[ $cur == @* ]]; then
				_depotctl_reply compgen -P @ -f -- "${cur#@}"
			else
				_depotctl_reply compgen -f -- "$cur"
			fi ;;
		ID) _depotctl_reply compgen -W "$(_depotctl_task_ids "$prog" "${global[@]}")" -- "$cur" ;;
		# run --env: this shell's variable names (NAME alone passes its value).
		NAME=VALUE) _depotctl_reply compgen -v -- "$cur" ;;
		esac
		return
	fi

	if [[ $cur == -* ]]; then
		read -r -a cmds <<<"$cmd"
		_depotctl_reply compgen -W "$(_depotctl_opts "$prog" "${cmds[@]}" |
		    sort -u)" -- "$cur"
		return
	fi

	case $cmd in
	help)
		_depotctl_reply compgen -W "$("$prog" __commands 2>/dev/null |
		    cut -d' ' -f1 | sort -u)" -- "$cur" ;;
	"task cancel" | "task wait")
		_depotctl_reply compgen -W "$("$prog" "${global[@]}" task list \
		    --state active --limit 100 2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur" ;;
	"task show" | "task log")
		_depotctl_reply compgen -W "$(_depotctl_task_ids "$prog" "${global[@]}")" -- "$cur" ;;
	"repo show" | "repo update" | "repo delete" | sync | publish)
		_depotctl_reply compgen -W "$("$prog" "${global[@]}" repo list \
		    2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur" ;;
	"backup verify" | restore)
		_depotctl_reply compgen -f -- "$cur" ;;
	"schedule delete" | "schedule enable" | "schedule disable" | "schedule show" | "schedule run")
		_depotctl_reply compgen -W "$("$prog" "${global[@]}" schedule list \
		    2>/dev/null | awk 'NR > 1 { print $1 }')" -- "$cur" ;;
	run)
		_depotctl_reply compgen -c -- "$cur" ;;
	esac
	if ((${#longer[@]} > 0)); then
		mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -W "${longer[*]}" -- "$cur")
	fi
}

complete -F _depotctl depotctl
