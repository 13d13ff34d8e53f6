/* args.c: a command's options and arguments, parsed with getopt_long against its table entry. */
#include "ctl.h"

#include "proto.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long values: options without a short name count up from here. */
#define ARGS_LONG_BASE 256
#define ARGS_JSON (ARGS_LONG_BASE + CTL_OPTS_MAX)
/* Task ids travel as JSON numbers (doubles): above 2^53 they would not survive. */
#define ARGS_ID_MAX 9007199254740991LL
/* DESIGN §8: the longest repository (and schedule) name. */
#define ARGS_NAME_MAX 64

static int args_index(const struct ctl_cmd *cmd, const char *name);
static int args_index_of_val(const struct ctl_cmd *cmd, int val);
static int args_push(char ***vec, size_t *n, char *s);
static void args_option_name(const struct ctl_cmd *cmd, int val, const char *tok,
    char *out, size_t n);
static void args_first_positional(const struct ctl_cmd *cmd, char *out, size_t n);
static int args_ambiguous(const struct ctl_cmd *cmd, const char *typed, char *out,
    size_t n);

static int args_index(const struct ctl_cmd *cmd, const char *name)
{
	for (int i = 0; cmd_opts(cmd)[i].name != NULL; i++)
		if (strcmp(cmd_opts(cmd)[i].name, name) == 0)
			return i;
	/* Asking for an option the table does not declare is a bug in depotctl. */
	abort();
}

static int args_index_of_val(const struct ctl_cmd *cmd, int val)
{
	for (int i = 0; cmd_opts(cmd)[i].name != NULL; i++)
		if (val == ARGS_LONG_BASE + i ||
		    (cmd_opts(cmd)[i].short_name != 0 && val == cmd_opts(cmd)[i].short_name))
			return i;
	return -1;
}

static int args_push(char ***vec, size_t *n, char *s)
{
	char **grown = realloc(*vec, (*n + 1) * sizeof *grown);

	if (grown == NULL)
		return -1;
	grown[(*n)++] = s;
	*vec = grown;
	return 0;
}

/* The option's name as the user would recognise it: "--state", "-s" or the token typed. */
static void args_option_name(const struct ctl_cmd *cmd, int val, const char *tok,
    char *out, size_t n)
{
	int i = args_index_of_val(cmd, val);

	if (i >= 0)
		snprintf(out, n, "--%s", cmd_opts(cmd)[i].name);
	else if (val > 0 && val < ARGS_LONG_BASE)
		snprintf(out, n, "-%c", val);
	else if (tok != NULL)
		snprintf(out, n, "%.*s", (int)strcspn(tok, "="), tok);
	else
		snprintf(out, n, "?");
}

/*
 * "--proxy" fits --proxy-url, --proxy-port, …: getopt says only '?', so
 * name them. typed is "--" and a prefix; '_' stands for '-' as args_parse
 * accepts. 1 when more than one option fits (the list in out).
 */
static int args_ambiguous(const struct ctl_cmd *cmd, const char *typed, char *out,
    size_t n)
{
	size_t len, l = 0;
	int count = 0;

	if (strncmp(typed, "--", 2) != 0 || (len = strlen(typed + 2)) == 0)
		return 0;
	typed += 2;
	out[0] = '\0';
	for (const struct ctl_opt *o = cmd_opts(cmd); o->name != NULL; o++) {
		size_t k;

		for (k = 0; k < len && o->name[k] != '\0'; k++)
			if (o->name[k] != typed[k] &&
			    !(o->name[k] == '-' && typed[k] == '_'))
				break;
		if (k < len)
			continue;
		count++;
		if (l < n) {
			snprintf(out + l, n - l, "%s--%s", l > 0 ? ", " : "", o->name);
			l = strlen(out);
		}
	}
	return count > 1;
}

/* The first argument the usage line requires ("ID", "CMD"), to name what is missing. */
static void args_first_positional(const struct ctl_cmd *cmd, char *out, size_t n)
{
	const char *s = cmd->usage;
	int depth = 0;

	snprintf(out, n, "argument");
	while (*s != '\0') {
		size_t len = strcspn(s, " []");

		if (*s == '[')
			depth++;
		else if (*s == ']')
			depth--;
		else if (depth == 0 && len > 0 && *s >= 'A' && *s <= 'Z') {
			snprintf(out, n, "%.*s", (int)strcspn(s, " .[]"), s);
			return;
		}
		s += len > 0 ? len : 1;
	}
}

/*
 * Parses argv (argv[0] is the command's last word) into a. Options may come
 * before, between or after arguments, except for CMD_OPTS_FIRST commands
 * whose first argument starts a command line of its own; "--" always ends
 * them. "-" mode hands us arguments in order, so POSIXLY_CORRECT in the
 * environment changes nothing. Returns EXIT_OK, or EXIT_USAGE after saying
 * why.
 */
int args_parse(const struct ctl_cmd *cmd, int argc, char **argv,
    struct ctl_args *a, int *json, int *help)
{
	/* Each option, its underscore spelling, --json, --help and the end. */
	struct option longopts[2 * CTL_OPTS_MAX + 3];
	char underscored[CTL_OPTS_MAX][64];
	char optstring[3 * CTL_OPTS_MAX + 8], name[128], list[512];
	size_t no = 0, ns = 0, nargs = 0;
	int c, i;

	memset(a, 0, sizeof *a);
	a->cmd = cmd;
	optstring[ns++] = (cmd->flags & CMD_OPTS_FIRST) ? '+' : '-';
	optstring[ns++] = ':';	/* report a missing value as ':' */
	for (i = 0; cmd_opts(cmd)[i].name != NULL; i++) {
		const struct ctl_opt *o = &cmd_opts(cmd)[i];

		/* Never so in a build: its __man refuses such a table. Kept so that no array overflows. */
		if (i >= CTL_OPTS_MAX) {
			fprintf(stderr, "%s: internal error: '%s' has more than %d options\n",
			    ctl_prog, cmd->words[0], CTL_OPTS_MAX);
			return EXIT_USAGE;
		}
		longopts[no++] = (struct option){ o->name,
		    o->arg != NULL ? required_argument : no_argument, NULL,
		    o->short_name != 0 ? o->short_name : ARGS_LONG_BASE + i };
		/* --proxy-url may also be typed --proxy_url (DESIGN §11); help shows dashes. */
		if (strchr(o->name, '-') != NULL &&
		    strlen(o->name) < sizeof underscored[i]) {
			strcpy(underscored[i], o->name);
			for (char *p = underscored[i]; *p != '\0'; p++)
				if (*p == '-')
					*p = '_';
			longopts[no] = longopts[no - 1];
			longopts[no++].name = underscored[i];
		}
		if (o->short_name != 0) {
			optstring[ns++] = (char)o->short_name;
			if (o->arg != NULL)
				optstring[ns++] = ':';
		}
	}
	longopts[no++] = (struct option){ "json", no_argument, NULL, ARGS_JSON };
	longopts[no++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[no] = (struct option){ NULL, 0, NULL, 0 };
	optstring[ns++] = 'h';
	optstring[ns] = '\0';

	opterr = 0;
	optind = 0;	/* GNU: start afresh, the global options were parsed already */
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		const char *tok = argv[optind - 1];

		if (c == 1) {
			if (args_push(&a->argv, &nargs, optarg) != 0)
				goto nomem;
			a->argc = (int)nargs;
			continue;
		}
		if (c == 'h') {
			*help = 1;
			continue;
		}
		if (c == ARGS_JSON) {
			*json = 1;
			continue;
		}
		if (c == '?') {
			args_option_name(cmd, optopt, optopt == 0 ? tok : NULL,
			    name, sizeof name);
			if (optopt != 0 && args_index_of_val(cmd, optopt) >= 0)
				return ctl_usage_error(cmd, "option '%s' takes no value", name);
			if (optopt == 0 && args_ambiguous(cmd, name, list, sizeof list))
				return ctl_usage_error(cmd, "ambiguous option '%s': could be %s",
				    name, list);
			return ctl_usage_error(cmd, "unknown option '%s'", name);
		}
		if (c == ':') {
			args_option_name(cmd, optopt, tok, name, sizeof name);
			i = args_index_of_val(cmd, optopt);
			return ctl_usage_error(cmd, "option '%s' needs a value (%s)",
			    name, i >= 0 ? cmd_opts(cmd)[i].arg : "?");
		}
		i = args_index_of_val(cmd, c);
		if (i < 0)
			return ctl_usage_error(cmd, "unexpected option '%s'", tok);
		if (a->nvals[i] > 0 && !cmd_opts(cmd)[i].repeat)
			return ctl_usage_error(cmd, "option '--%s' given twice",
			    cmd_opts(cmd)[i].name);
		/* A flag's value is its own token, so args_has works the same for both. */
		if (args_push(&a->vals[i], &a->nvals[i],
		    optarg != NULL ? optarg : argv[optind - 1]) != 0)
			goto nomem;
	}
	for (; optind < argc; optind++)
		if (args_push(&a->argv, &nargs, argv[optind]) != 0)
			goto nomem;
	a->argc = (int)nargs;
	if (*help)
		return EXIT_OK;
	if (a->argc < cmd->args_min) {
		args_first_positional(cmd, name, sizeof name);
		return ctl_usage_error(cmd, "missing %s", name);
	}
	if (cmd->args_max != CTL_ARGS_ANY && a->argc > cmd->args_max)
		return ctl_usage_error(cmd, "unexpected argument '%s'",
		    a->argv[cmd->args_max]);
	return EXIT_OK;
nomem:
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

void args_free(struct ctl_args *a)
{
	for (int i = 0; i < CTL_OPTS_MAX; i++)
		free(a->vals[i]);
	free(a->argv);
	memset(a, 0, sizeof *a);
}

/* The option's value (the last one if repeatable), or NULL. */
const char *args_get(const struct ctl_args *a, const char *name)
{
	int i = args_index(a->cmd, name);

	return a->nvals[i] > 0 ? a->vals[i][a->nvals[i] - 1] : NULL;
}

int args_has(const struct ctl_args *a, const char *name)
{
	return a->nvals[args_index(a->cmd, name)] > 0;
}

size_t args_values(const struct ctl_args *a, const char *name, char ***out)
{
	int i = args_index(a->cmd, name);

	*out = a->vals[i];
	return a->nvals[i];
}

/* A task id is a positive integer; say which argument was not. */
int args_task_id(const struct ctl_args *a, const char *s, int64_t *id)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > ARGS_ID_MAX ||
	    *s == '+' || *s == ' ')
		return ctl_usage_error(a->cmd,
		    "invalid task id '%s': expected a positive integer", s);
	*id = v;
	return EXIT_OK;
}

/* One request's args naming one thing; NULL (said) when out of memory. */
static cJSON *args_one(const char *key, const char *name, int64_t id)
{
	cJSON *req = cJSON_CreateObject();

	if (req == NULL || (name != NULL ? cJSON_AddStringToObject(req, key, name) :
	    cJSON_AddNumberToObject(req, key, (double)id)) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return NULL;
	}
	return req;
}

int args_id_request(const struct ctl_args *a, const char *s, cJSON **req)
{
	int64_t id;
	int rc;

	if ((rc = args_task_id(a, s, &id)) != EXIT_OK)
		return rc;
	return (*req = args_one("id", NULL, id)) != NULL ? EXIT_OK : EXIT_REFUSED;
}

int args_name_request(const struct ctl_args *a, const char *what, const char *name,
    cJSON **req)
{
	int rc;

	if ((rc = args_name(a, what, name)) != EXIT_OK)
		return rc;
	return (*req = args_one("name", name, 0)) != NULL ? EXIT_OK : EXIT_REFUSED;
}

/* Whether the command declares option name (for helpers shared by several commands). */
const struct ctl_opt *args_opt(const struct ctl_cmd *cmd, const char *name)
{
	for (int i = 0; cmd_opts(cmd)[i].name != NULL; i++)
		if (strcmp(cmd_opts(cmd)[i].name, name) == 0)
			return &cmd_opts(cmd)[i];
	return NULL;
}

int args_takes(const struct ctl_cmd *cmd, const char *name)
{
	return args_opt(cmd, name) != NULL;
}

/* A whole number from min to max for option opt; say which value was not. */
int args_int(const struct ctl_args *a, const char *opt, const char *s,
    long long min, long long max, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *s == '+' || *s == ' ' ||
	    *v < min || *v > max)
		return ctl_usage_error(a->cmd, "invalid value '%s' for --%s: "
		    "expected a whole number from %lld to %lld", s, opt, min, max);
	return EXIT_OK;
}

/*
 * A repository's or schedule's name, [A-Za-z0-9._-]{1,64} (DESIGN §8),
 * checked here so that a typo is named before any request; what is
 * "repository" or "schedule".
 */
int args_name(const struct ctl_args *a, const char *what, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > ARGS_NAME_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != len) {
		char clean[ARGS_NAME_MAX * 4 + 8];

		out_clean(name, ARGS_NAME_MAX + 3, clean, sizeof clean);
		return ctl_usage_error(a->cmd, "invalid %s name '%s': a name is 1 "
		    "to %d letters, digits, '.', '_' or '-'", what, clean, ARGS_NAME_MAX);
	}
	return EXIT_OK;
}

/* A duration for option opt: DUR syntax, and more than zero. */
int args_duration(const struct ctl_args *a, const char *opt, const char *s,
    int64_t *ms)
{
	if (time_parse_duration(s, ms) != 0)
		return ctl_usage_error(a->cmd, "invalid duration '%s' for --%s: "
		    "expected a number and a unit (1500ms, 30s, 5m, 2h, 1d)", s, opt);
	if (*ms <= 0)
		return ctl_usage_error(a->cmd,
		    "invalid duration '%s' for --%s: must be more than 0", s, opt);
	return EXIT_OK;
}
