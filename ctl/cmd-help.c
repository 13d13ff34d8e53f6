/* cmd-help.c: help, and the hidden __commands, __states, __man and __options that completion, the man page and its test use. */
#include "ctl.h"

#include "proto.h"

#include <ctype.h>
#include <string.h>

static void help_list(FILE *f, int argc, char **argv);
static int help_family_matches(const struct ctl_cmd *cmd, int argc, char **argv);
static void man_text(FILE *f, const char *s, int sentence);
static void man_usage(FILE *f, const char *s);

/* Commands whose words start with the given words ("task" lists the task family). */
static int help_family_matches(const struct ctl_cmd *cmd, int argc, char **argv)
{
	if (cmd->flags & CMD_HIDDEN)
		return 0;
	for (int i = 0; i < argc; i++)
		if (cmd->words[i] == NULL ||
		    strncmp(cmd->words[i], argv[i], strlen(argv[i])) != 0)
			return 0;
	return 1;
}

static void help_list(FILE *f, int argc, char **argv)
{
	char name[128];
	int width = 0;

	for (size_t i = 0; i < cmd_count; i++) {
		if (!help_family_matches(&cmd_table[i], argc, argv))
			continue;
		cmd_name(&cmd_table[i], name, sizeof name);
		if ((int)strlen(name) > width)
			width = (int)strlen(name);
	}
	for (size_t i = 0; i < cmd_count; i++) {
		if (!help_family_matches(&cmd_table[i], argc, argv))
			continue;
		cmd_name(&cmd_table[i], name, sizeof name);
		fprintf(f, "  %-*s  %s\n", width, name, cmd_table[i].summary);
	}
}

int cmd_help(struct ctl_ctx *ctx, struct ctl_args *args)
{
	const struct ctl_cmd *cmd;
	char err[512];
	int used, family = 0;

	(void)ctx;
	if (args->argc == 0) {
		ctl_print_global_usage(stdout);
		printf("\n");
		out_wrap(stdout, "Controls depotd, the depot daemon: queues commands as "
		    "tasks, syncs and publishes file repositories, submits tasks on "
		    "schedules, backs up and restores the whole depot, and shows tasks, "
		    "workers, locks and the daemon's health. "
		    "A command's words may be shortened to unique prefixes "
		    "(\"ta sh 42\" is \"task show 42\").", 0, 78);
		printf("\nCommands:\n");
		help_list(stdout, 0, NULL);
		printf("\nOptions:\n");
		ctl_print_global_options(stdout);
		printf("\nRun '%s help COMMAND' for a command's options.\n", ctl_prog);
		printf("Exit status: 0 success, 1 refused or task failed, 2 usage error,\n"
		    "3 daemon unreachable, 4 task canceled, 5 wait timed out, 6 not found;\n"
		    "run --wait: the command's own (124 timed out, 125 depot failed).\n");
		return EXIT_OK;
	}
	cmd = cmd_lookup(args->argc, args->argv, &used, err, sizeof err);
	if (cmd == NULL || used < args->argc) {
		/* "help task": every command of the family, rather than an error. */
		for (size_t i = 0; i < cmd_count; i++)
			if (help_family_matches(&cmd_table[i], args->argc, args->argv))
				family = 1;
		if (!family) {
			if (cmd != NULL)
				snprintf(err, sizeof err, "unknown command '%s %s'",
				    args->argv[0], args->argv[used]);
			return ctl_usage_error(args->cmd, "%s", err);
		}
		printf("Commands:\n");
		help_list(stdout, args->argc, args->argv);
		return EXIT_OK;
	}
	cmd_print_help(cmd, stdout);
	return EXIT_OK;
}

int cmd_commands(struct ctl_ctx *ctx, struct ctl_args *args)
{
	char name[128];

	(void)ctx;
	(void)args;
	for (size_t i = 0; i < cmd_count; i++) {
		if (cmd_table[i].flags & CMD_HIDDEN)
			continue;
		cmd_name(&cmd_table[i], name, sizeof name);
		printf("%s\n", name);
	}
	return EXIT_OK;
}

/* For share/depotctl.bash: what task list --state takes, one a line. */
int cmd_states(struct ctl_ctx *ctx, struct ctl_args *args)
{
	(void)ctx;
	(void)args;
	for (int s = 0; s < TASK_STATE_COUNT; s++)
		printf("%s\n", task_state_name((enum task_state)s));
	printf("%s\n", TASK_FILTER_ACTIVE);
	return EXIT_OK;
}

/*
 * Text for roff: backslashes escaped, dashes as minus signs (so that
 * "--wait" pastes back into a shell), a '.' or '\'' that starts a line
 * kept from being read as a request, and (sentence) a capital and a full
 * stop. Lines are broken at spaces before MAN_LINE_MAX bytes, since
 * `mandoc -T lint` finds fault with longer ones; roff fills them again.
 */
#define MAN_LINE_MAX 78
static void man_text(FILE *f, const char *s, int sentence)
{
	size_t len = strlen(s), col = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ') {
			size_t wl = 0, j = i;

			while (j < len && s[j] == ' ')
				j++;
			for (size_t k = j; k < len && s[k] != ' '; k++)
				wl += s[k] == '\\' || s[k] == '-' ? 2 : 1;
			if (col > 0 && col + 1 + wl > MAN_LINE_MAX) {
				fputc('\n', f);
				col = 0;
				i = j - 1;
				continue;
			}
		}
		if (col == 0 && (s[i] == '.' || s[i] == '\''))
			col += (size_t)fprintf(f, "\\&");
		if (s[i] == '\\')
			col += (size_t)fprintf(f, "\\e");
		else if (s[i] == '-')
			col += (size_t)fprintf(f, "\\-");
		else if (i == 0 && sentence)
			col += (size_t)fprintf(f, "%c", toupper((unsigned char)s[i]));
		else {
			fputc(s[i], f);
			col++;
		}
	}
	if (sentence && len > 0 && s[len - 1] != '.')
		fputc('.', f);
	fputc('\n', f);
}

/* A usage line in roff: options bold, metavariables (CAPITALS) italic, the rest roman. */
static void man_usage(FILE *f, const char *s)
{
	while (*s != '\0') {
		size_t n;

		if (*s == '-') {
			n = strcspn(s, " []|");
			fputs("\\fB", f);
			for (size_t i = 0; i < n; i++)
				fputs(s[i] == '-' ? "\\-" : (char[2]){ s[i], '\0' }, f);
			fputs("\\fR", f);
			s += n;
		} else if (isupper((unsigned char)*s)) {
			n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			fprintf(f, "\\fI%.*s\\fR", (int)n, s);
			s += n;
		} else if (*s == '\\') {
			fputs("\\e", f);
			s++;
		} else
			fputc(*s++, f);
	}
}

/* depotctl(1)'s COMMANDS section: the Makefile puts it at doc/depotctl.1.in's @COMMANDS@. */
int cmd_man(struct ctl_ctx *ctx, struct ctl_args *args)
{
	char name[128];

	(void)ctx;
	(void)args;
	/* Run by every build: a command over the parser's limit fails it, not a user's call. */
	for (size_t i = 0; i < cmd_count; i++) {
		int n = 0;

		while (cmd_opts(&cmd_table[i])[n].name != NULL)
			n++;
		if (n > CTL_OPTS_MAX) {
			cmd_name(&cmd_table[i], name, sizeof name);
			fprintf(stderr, "%s: '%s' has %d options, over CTL_OPTS_MAX (%d)\n",
			    ctl_prog, name, n, CTL_OPTS_MAX);
			return EXIT_USAGE;
		}
	}
	printf(".SH COMMANDS\n");
	printf("A command's words may be shortened to unique prefixes:\n"
	    ".B ta sh 42\nis\n.BR \"task show 42\" .\n"
	    "Options may follow the arguments, except in\n.BR run ,\n"
	    "where the first argument starts the command line.\n"
	    "Every command also takes\n.B \\-\\-json\nand\n.BR \\-\\-help .\n");
	for (size_t i = 0; i < cmd_count; i++) {
		const struct ctl_cmd *cmd = &cmd_table[i];

		if (cmd->flags & CMD_HIDDEN)
			continue;
		cmd_name(cmd, name, sizeof name);
		printf(".TP\n\\fB%s\\fR", name);
		if (cmd->usage[0] != '\0') {
			fputc(' ', stdout);
			man_usage(stdout, cmd->usage);
		}
		fputc('\n', stdout);
		man_text(stdout, cmd->summary, 1);
		if (cmd->help != NULL)
			man_text(stdout, cmd->help, 0);
		if (cmd_opts(cmd)[0].name == NULL)
			continue;
		printf(".RS\n");
		for (const struct ctl_opt *o = cmd_opts(cmd); o->name != NULL; o++) {
			printf(".TP\n");
			if (o->short_name != 0)
				printf("\\fB\\-%c\\fR, ", o->short_name);
			printf("\\fB\\-\\-");
			for (const char *p = o->name; *p != '\0'; p++)
				fputs(*p == '-' ? "\\-" : (char[2]){ *p, '\0' }, stdout);
			printf("\\fR");
			if (o->arg != NULL)
				printf(" \\fI%s\\fR", o->arg);
			fputc('\n', stdout);
			man_text(stdout, o->help, 1);
			if (o->repeat)
				printf("May be given more than once.\n");
		}
		printf(".RE\n");
	}
	return EXIT_OK;
}

/*
 * Every option depotctl takes, one a line: "\t-d" for the global ones
 * (from getopt's own tables), "task list\t--state" for a command's, its
 * short name on a line of its own. tests/e2e/manuals.bats looks for each
 * in depotctl(1), so the page cannot leave one out.
 */
int cmd_options(struct ctl_ctx *ctx, struct ctl_args *args)
{
	char name[128];

	(void)ctx;
	(void)args;
	for (const char *p = CTL_GLOBAL_SHORTOPTS; *p != '\0'; p++)
		if (isalnum((unsigned char)*p))
			printf("\t-%c\n", *p);
	for (const struct option *o = ctl_global_opts; o->name != NULL; o++)
		printf("\t--%s\n", o->name);
	for (size_t i = 0; i < cmd_count; i++) {
		const struct ctl_cmd *cmd = &cmd_table[i];

		if (cmd->flags & CMD_HIDDEN)
			continue;
		cmd_name(cmd, name, sizeof name);
		printf("%s\n", name);
		for (const struct ctl_opt *o = cmd_opts(cmd); o->name != NULL; o++) {
			if (o->short_name != 0)
				printf("%s\t-%c\n", name, o->short_name);
			printf("%s\t--%s\n", name, o->name);
		}
	}
	return EXIT_OK;
}
