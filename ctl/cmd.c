/* cmd.c: the one table of depotctl commands, and finding a command by unique word prefixes. */
#include "ctl.h"

#include <string.h>

/*
 * Every command, once. Help, `COMMAND --help`, the man page (__man) and the
 * bash completion (__commands) are all printed from here, so they cannot
 * disagree with what the parser accepts.
 */
const struct ctl_cmd cmd_table[] = {
	{
		.words = { "status" },
		.usage = "",
		.summary = "show the health of every component of the daemon",
		.help = "Shows the daemon, database, workers, monitor, scheduler, "
		    "lock manager and storage, as Pulp's /status/ did. Exits 0 "
		    "when everything is healthy, 1 (after listing the problems) "
		    "otherwise.",
		.args_min = 0, .args_max = 0,
		.exec = cmd_status,
	},
	{
		.words = { "ping" },
		.usage = "",
		.summary = "check that the daemon answers, and show its version",
		.args_min = 0, .args_max = 0,
		.exec = cmd_ping,
	},
	{
		.words = { "run" },
		.usage = "[--lock R]... [--shared R]... [--name N] [--timeout DUR] "
		    "[--wait] -- CMD [ARG]...",
		.summary = "queue a command to run as an exec task",
		.help = "Queues CMD with its arguments (no shell) as a task and "
		    "prints the new task's id. The task starts once every "
		    "resource it names can be reserved. With --wait, depotctl "
		    "then waits for the task to end and exits with the "
		    "command's exit status (1 if it failed otherwise, 4 if it "
		    "was canceled); interrupting depotctl does not cancel the "
		    "task.",
		.opts = {
			{ .name = "lock", .short_name = 'l', .arg = "R", .repeat = 1,
			  .help = "reserve resource R exclusively" },
			{ .name = "shared", .short_name = 's', .arg = "R", .repeat = 1,
			  .help = "reserve resource R shared with other shared holders" },
			{ .name = "name", .short_name = 'n', .arg = "N",
			  .help = "name the task N (default: the command line)" },
			{ .name = "timeout", .short_name = 't', .arg = "DUR",
			  .help = "fail the task with reason timeout after DUR (1500ms, 30s, 5m, 2h, 1d)" },
			{ .name = "wait", .short_name = 'w',
			  .help = "wait for the task to end and exit with its outcome" },
		},
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.mutates = 1,
		.flags = CMD_OPTS_FIRST,
		.exec = cmd_run,
	},
	{
		.words = { "task", "list" },
		.usage = "[--state S] [--resource R] [--limit N]",
		.summary = "list tasks, newest first",
		.help = "S is waiting, running, canceling, completed, failed, "
		    "canceled, or active (waiting, running or canceling). A "
		    "running task whose progress has not moved for stall_after "
		    "is marked STALLED.",
		.opts = {
			{ .name = "state", .short_name = 's', .arg = "S",
			  .help = "only tasks in state S" },
			{ .name = "resource", .short_name = 'r', .arg = "R",
			  .help = "only tasks that reserve resource R" },
			{ .name = "limit", .short_name = 'n', .arg = "N",
			  .help = "at most N tasks, 1 to 100000 (default 1000)" },
		},
		.args_min = 0, .args_max = 0,
		.exec = cmd_task_list,
	},
	{
		.words = { "task", "show" },
		.usage = "ID",
		.summary = "show every field of a task",
		.args_min = 1, .args_max = 1,
		.exec = cmd_task_show,
	},
	{
		.words = { "task", "log" },
		.usage = "ID [--follow]",
		.summary = "print a task's output",
		.help = "With --follow, keeps printing output as the task writes "
		    "it, until the task is final.",
		.opts = {
			{ .name = "follow", .short_name = 'f',
			  .help = "keep printing until the task ends" },
		},
		.args_min = 1, .args_max = 1,
		.exec = cmd_task_log,
	},
	{
		.words = { "task", "cancel" },
		.usage = "ID...",
		.summary = "cancel tasks",
		.help = "A waiting task is canceled at once; a running one becomes "
		    "canceling until its worker has stopped it. Prints each "
		    "task's id and state; a task that had already ended is left "
		    "as it was.",
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.mutates = 1,
		.exec = cmd_task_cancel,
	},
	{
		.words = { "task", "wait" },
		.usage = "ID... [--timeout DUR]",
		.summary = "wait until tasks end",
		.help = "Exits 0 when every task completed, 1 when any failed, 4 "
		    "when any was canceled (and none failed), 5 when DUR passed "
		    "first.",
		.opts = {
			{ .name = "timeout", .short_name = 't', .arg = "DUR",
			  .help = "give up after DUR (default: wait forever)" },
		},
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.exec = cmd_task_wait,
	},
	{
		.words = { "worker", "list" },
		.usage = "",
		.summary = "list workers, their state and heartbeats",
		.args_min = 0, .args_max = 0,
		.exec = cmd_worker_list,
	},
	{
		.words = { "lock", "list" },
		.usage = "",
		.summary = "list reservations held and waiting, per resource",
		.args_min = 0, .args_max = 0,
		.exec = cmd_lock_list,
	},
	{
		.words = { "events" },
		.usage = "[--topic T]...",
		.summary = "print events as they happen, one JSON object a line",
		.help = "T is task, worker, lock or status (default: all). Runs "
		    "until interrupted. Events are hints: a slow reader may miss "
		    "some, so re-read state with a request when it matters.",
		.opts = {
			{ .name = "topic", .short_name = 't', .arg = "T", .repeat = 1,
			  .help = "only events of topic T" },
		},
		.args_min = 0, .args_max = 0,
		.exec = cmd_events,
	},
	{
		.words = { "help" },
		.usage = "[COMMAND]",
		.summary = "list the commands, or explain one",
		.args_min = 0, .args_max = CTL_WORDS_MAX,
		.exec = cmd_help,
	},
	/* For share/depotctl.bash: each command's words, one command a line. */
	{
		.words = { "__commands" },
		.usage = "",
		.summary = "list command names for shell completion",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.exec = cmd_commands,
	},
	/* For the Makefile: the COMMANDS section of depotctl(1) in roff. */
	{
		.words = { "__man" },
		.usage = "",
		.summary = "print the man page's COMMANDS section",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.exec = cmd_man,
	},
};
const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

static int cmd_word_matches(const struct ctl_cmd *cmd, int depth, const char *w);
static int cmd_ends_at(const struct ctl_cmd *cmd, int depth);
static void cmd_join(char *out, size_t n, int argc, char **argv);

void cmd_name(const struct ctl_cmd *cmd, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; cmd->words[i] != NULL && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s",
		    i > 0 ? " " : "", cmd->words[i]);
}

/* A hidden command answers only to its exact name, so prefixes never reach it. */
static int cmd_word_matches(const struct ctl_cmd *cmd, int depth, const char *w)
{
	const char *word = cmd->words[depth];

	if (word == NULL || *w == '\0')
		return 0;
	if (cmd->flags & CMD_HIDDEN)
		return strcmp(word, w) == 0;
	return strncmp(word, w, strlen(w)) == 0;
}

static int cmd_ends_at(const struct ctl_cmd *cmd, int depth)
{
	return cmd->words[depth] == NULL;
}

static void cmd_join(char *out, size_t n, int argc, char **argv)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < argc && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s",
		    i > 0 ? " " : "", argv[i]);
}

/*
 * Word by word: keep the commands whose word at this depth starts with
 * argv[depth] (an exact word wins over longer ones), and stop when one
 * command is left whose words are all used, or when the next argument is
 * not a command word (an option, or a positional argument of a one-word
 * command such as "backup" beside "backup verify").
 */
const struct ctl_cmd *cmd_lookup(int argc, char **argv, int *used, char *err,
    size_t errlen)
{
	const struct ctl_cmd *cand[sizeof cmd_table / sizeof cmd_table[0]];
	const struct ctl_cmd *ends;
	size_t ncand = 0, nmatch;
	char typed[256], list[1024];

	for (size_t i = 0; i < cmd_count; i++)
		cand[ncand++] = &cmd_table[i];
	for (int depth = 0; depth <= CTL_WORDS_MAX; depth++) {
		const struct ctl_cmd *match[sizeof cmd_table / sizeof cmd_table[0]];
		int exact = 0, distinct = 0;

		ends = NULL;
		for (size_t i = 0; i < ncand; i++)
			if (cmd_ends_at(cand[i], depth))
				ends = cand[i];
		if (depth >= argc || argv[depth][0] == '-') {
			if (ends != NULL) {
				*used = depth;
				return ends;
			}
			if (depth == 0) {
				snprintf(err, errlen, "no command given");
				return NULL;
			}
			/* "task" alone: say which subcommands there are. */
			list[0] = '\0';
			for (size_t i = 0; i < ncand; i++) {
				if (cand[i]->flags & CMD_HIDDEN)
					continue;
				size_t l = strlen(list);
				snprintf(list + l, sizeof list - l, "%s%s",
				    l > 0 ? ", " : "", cand[i]->words[depth]);
			}
			cmd_join(typed, sizeof typed, depth, argv);
			snprintf(err, errlen, "'%s' needs a subcommand: %s", typed, list);
			return NULL;
		}
		nmatch = 0;
		for (size_t i = 0; i < ncand; i++) {
			if (!cmd_word_matches(cand[i], depth, argv[depth]))
				continue;
			match[nmatch++] = cand[i];
			if (strcmp(cand[i]->words[depth], argv[depth]) == 0)
				exact = 1;
		}
		if (exact) {
			size_t k = 0;

			for (size_t i = 0; i < nmatch; i++)
				if (strcmp(match[i]->words[depth], argv[depth]) == 0)
					match[k++] = match[i];
			nmatch = k;
		}
		if (nmatch == 0) {
			if (ends != NULL) {
				*used = depth;
				return ends;
			}
			cmd_join(typed, sizeof typed, depth + 1, argv);
			snprintf(err, errlen, "unknown command '%s'", typed);
			return NULL;
		}
		/* Several different words fit the prefix: name them all. */
		list[0] = '\0';
		for (size_t i = 0; i < nmatch; i++) {
			int seen = 0;

			for (size_t j = 0; j < i; j++)
				if (strcmp(match[j]->words[depth], match[i]->words[depth]) == 0)
					seen = 1;
			if (seen)
				continue;
			distinct++;
			size_t l = strlen(list);
			for (int w = 0; w <= depth && l < sizeof list; w++) {
				snprintf(list + l, sizeof list - l, "%s%s",
				    w == 0 ? (l > 0 ? ", " : "") : " ", match[i]->words[w]);
				l = strlen(list);
			}
		}
		if (distinct > 1) {
			cmd_join(typed, sizeof typed, depth + 1, argv);
			snprintf(err, errlen, "ambiguous command '%s': could be %s",
			    typed, list);
			return NULL;
		}
		memcpy(cand, match, nmatch * sizeof match[0]);
		ncand = nmatch;
	}
	snprintf(err, errlen, "no command given");
	return NULL;
}

void cmd_print_usage(const struct ctl_cmd *cmd, FILE *f)
{
	char name[128];

	cmd_name(cmd, name, sizeof name);
	fprintf(f, "usage: %s %s%s%s\n", ctl_prog, name,
	    cmd->usage[0] != '\0' ? " " : "", cmd->usage);
}

/* What `help COMMAND` and `COMMAND --help` print. */
void cmd_print_help(const struct ctl_cmd *cmd, FILE *f)
{
	char spec[128];

	cmd_print_usage(cmd, f);
	fputc('\n', f);
	out_wrap(f, cmd->summary, 2, 78);
	if (cmd->help != NULL) {
		fputc('\n', f);
		out_wrap(f, cmd->help, 2, 78);
	}
	if (cmd->opts[0].name != NULL)
		fprintf(f, "\nOptions:\n");
	for (const struct ctl_opt *o = cmd->opts; o->name != NULL; o++) {
		if (o->short_name != 0)
			snprintf(spec, sizeof spec, "-%c, --%s%s%s", o->short_name,
			    o->name, o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		else
			snprintf(spec, sizeof spec, "    --%s%s%s", o->name,
			    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		fprintf(f, "  %-22s %s%s\n", spec, o->help,
		    o->repeat ? " (repeatable)" : "");
	}
	fprintf(f, "\nCommon options:\n");
	fprintf(f, "  %-22s %s\n", "    --json", "print the daemon's answer as JSON");
	fprintf(f, "  %-22s %s\n", "-h, --help", "show this help");
}
