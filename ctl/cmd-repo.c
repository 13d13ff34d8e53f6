/* cmd-repo.c: repositories (create, update, list, show, delete) and the tasks on them: sync, publish, orphans clean. */
#include "ctl.h"

#include "proto.h"
#include "timeutil.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

/* A PEM file bigger than this is not a certificate, a key or a CRL. */
#define REPO_PEM_MAX (512 * 1024)
/* A password file's first line longer than this is not a password. */
#define REPO_LINE_MAX 4096
/* Version numbers travel as JSON numbers (doubles). */
#define REPO_VERSION_MAX 9007199254740991LL

/* How an importer setting's value is read from the command line and sent. */
enum repo_kind {
	REPO_STR,	/* as typed */
	REPO_PEM,	/* the PEM text of FILE, @FILE or - (standard input) */
	REPO_LINE,	/* the first line of FILE or - (standard input) */
	REPO_BOOL,	/* true/false/yes/no/1/0 → JSON bool */
	REPO_INT,	/* an integer in [min, max] */
	REPO_SIZE,	/* bytes: 100, 512KiB, 2MiB */
};

/*
 * The importer settings of doc/protocol.md, by option name. The wire key
 * is the name with '_' for '-', unless key says otherwise: two options
 * may set one key, a value as typed or read from a file.
 */
static const struct repo_key {
	const char *opt;
	enum repo_kind kind;
	long long min, max;
	const char *key;
} repo_keys[] = {
	{ "feed", REPO_STR, 0, 0, NULL },
	{ "proxy-url", REPO_STR, 0, 0, NULL },
	{ "proxy-port", REPO_INT, 1, 65535, NULL },
	{ "proxy-username", REPO_STR, 0, 0, NULL },
	{ "proxy-password", REPO_STR, 0, 0, NULL },
	{ "proxy-password-file", REPO_LINE, 0, 0, "proxy_password" },
	{ "ssl-ca-cert", REPO_PEM, 0, 0, NULL },
	{ "ssl-client-cert", REPO_PEM, 0, 0, NULL },
	{ "ssl-client-key", REPO_PEM, 0, 0, NULL },
	{ "ssl-validation", REPO_BOOL, 0, 0, NULL },
	{ "ssl-crl", REPO_PEM, 0, 0, NULL },
	{ "max-speed", REPO_SIZE, 0, 0, NULL },
	{ "download-concurrency", REPO_INT, 1, 64, NULL },
	{ "mirror", REPO_BOOL, 0, 0, NULL },
};
#define REPO_NKEYS (sizeof repo_keys / sizeof repo_keys[0])

/*
 * Where secrets are read from while one command's options are read:
 * standard input can be read once, so the option that took it is kept
 * to name it when a second one asks.
 */
struct repo_input {
	const char *stdin_opt;
};

static int repo_check_name(const struct ctl_args *a, const char *name);
static cJSON *repo_name_args(const char *name);
static int repo_open(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, int at_ok, FILE **f, const char **name);
static int repo_read(FILE *f, const char *opt, const char *name, size_t max,
    char **text, size_t *len);
static int repo_read_pem(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, char **text);
static int repo_read_line(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, char **text);
static int repo_value(const struct ctl_args *a, struct repo_input *in,
    const struct repo_key *k, const char *v, cJSON **out);
static void repo_wire_key(const struct repo_key *k, char *key, size_t n);
static int repo_importer(const struct ctl_args *a, int update, cJSON **out);
static int repo_save(struct ctl_ctx *ctx, struct ctl_args *a, int update);
static void repo_num(const cJSON *o, const char *key, char *buf, size_t n);
static void repo_size(const cJSON *o, const char *key, char *buf, size_t n);
static void repo_show_value(int indent, const char *key, const cJSON *v);
static int repo_show_versions(const cJSON *versions);
static int repo_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *name, const char *version);

/* [A-Za-z0-9._-]{1,64}, as args_name checks it. */
static int repo_check_name(const struct ctl_args *a, const char *name)
{
	return args_name(a, "repository", name);
}

/* {"name": NAME}; NULL when out of memory. */
static cJSON *repo_name_args(const char *name)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && cJSON_AddStringToObject(o, "name", name) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * Opens the source of --opt's value v: "-" is standard input (for one
 * option only), "@FILE" (when at_ok) and FILE are FILE. Secrets come this
 * way so that they never stand on the command line, which ps shows to
 * every user while depotctl runs. *name says which, for messages.
 */
static int repo_open(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, int at_ok, FILE **f, const char **name)
{
	*f = NULL;
	if (strcmp(v, "-") == 0) {
		if (in->stdin_opt != NULL)
			return ctl_usage_error(a->cmd, "--%s and --%s both read standard "
			    "input ('-'): give one of them a file", in->stdin_opt, opt);
		in->stdin_opt = opt;
		*f = stdin;
		*name = "standard input";
		return EXIT_OK;
	}
	if (at_ok && v[0] == '@')
		v++;
	if (v[0] == '\0')
		return ctl_usage_error(a->cmd, "no file named for --%s", opt);
	if ((*f = fopen(v, "r")) == NULL) {
		ctl_error("cannot read '%s' for --%s: %s", v, opt, strerror(errno));
		return EXIT_USAGE;
	}
	*name = v;
	return EXIT_OK;
}

/*
 * Up to max bytes of f into *text (NUL-terminated, its length in *len);
 * more than max, or a NUL byte, is refused. Closes f unless it is stdin.
 * Reads rather than stats, so that <(pass show key) works too.
 */
static int repo_read(FILE *f, const char *opt, const char *name, size_t max,
    char **text, size_t *len)
{
	char *buf = malloc(max + 2);
	size_t k;
	int rc = EXIT_USAGE;

	*text = NULL;
	*len = 0;
	if (buf == NULL) {
		ctl_error("out of memory");
		rc = EXIT_REFUSED;
		goto out;
	}
	/* One byte more than allowed tells a file that is too big. */
	while (*len <= max && (k = fread(buf + *len, 1, max + 1 - *len, f)) > 0)
		*len += k;
	if (ferror(f))
		ctl_error("cannot read '%s' for --%s: %s", name, opt, strerror(errno));
	else if (*len > max)
		ctl_error("'%s' for --%s is larger than %zu KiB", name, opt, max / 1024);
	else if (memchr(buf, '\0', *len) != NULL)
		ctl_error("'%s' for --%s holds NUL bytes: give it as text", name, opt);
	else {
		buf[*len] = '\0';
		*text = buf;
		buf = NULL;
		rc = EXIT_OK;
	}
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/*
 * The PEM text for --opt: at most REPO_PEM_MAX bytes, no NUL, and a
 * "-----BEGIN " line somewhere. Errors name the option and the file.
 */
static int repo_read_pem(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, char **text)
{
	const char *name;
	size_t len;
	FILE *f;
	int rc;

	if ((rc = repo_open(a, in, opt, v, 1, &f, &name)) != EXIT_OK ||
	    (rc = repo_read(f, opt, name, REPO_PEM_MAX, text, &len)) != EXIT_OK)
		return rc;
	if (strstr(*text, "-----BEGIN ") == NULL) {
		ctl_error("'%s' for --%s holds no PEM block (no \"-----BEGIN \" "
		    "line): give the file in PEM format", name, opt);
		free(*text);
		*text = NULL;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The terminal's modes while a password is typed, put back if depotctl is interrupted then. */
static struct termios echo_saved;

static void echo_restore_and_die(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &echo_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * The first line of --opt's file, without its line end; empty is refused.
 * Reads no further than that line, so a terminal's Enter ends it.
 */
static int repo_read_line(const struct ctl_args *a, struct repo_input *in,
    const char *opt, const char *v, char **text)
{
	const char *name;
	size_t len = 0;
	int c, rc;
	FILE *f;

	int quiet = 0;

	*text = NULL;
	if ((rc = repo_open(a, in, opt, v, 0, &f, &name)) != EXIT_OK)
		return rc;
	if ((*text = malloc(REPO_LINE_MAX + 1)) == NULL) {
		ctl_error("out of memory");
		rc = EXIT_REFUSED;
		goto out;
	}
	/* Typed at a terminal, as getpass(3) would: asked for, and not echoed. */
	if (f == stdin && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &echo_saved) == 0) {
		struct termios silent = echo_saved;

		silent.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		fprintf(stderr, "Password for --%s: ", opt);
		signal(SIGINT, echo_restore_and_die);
		signal(SIGTERM, echo_restore_and_die);
		signal(SIGHUP, echo_restore_and_die);
		quiet = tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent) == 0;
		if (!quiet)
			fprintf(stderr, "(cannot turn echo off) ");
		fflush(stderr);
	}
	while ((c = getc(f)) != EOF && c != '\n' && c != '\0' && len < REPO_LINE_MAX)
		(*text)[len++] = (char)c;
	if (quiet) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &echo_saved);
		fputc('\n', stderr);
	}
	if (f == stdin && isatty(STDIN_FILENO)) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
	}
	(*text)[len] = '\0';
	if (len > 0 && (*text)[len - 1] == '\r')
		(*text)[--len] = '\0';
	rc = EXIT_USAGE;
	if (ferror(f))
		ctl_error("cannot read '%s' for --%s: %s", name, opt, strerror(errno));
	else if (c == '\0')
		ctl_error("'%s' for --%s holds a NUL byte: give the password as text",
		    name, opt);
	else if (c != EOF && c != '\n')
		ctl_error("the first line of '%s' for --%s is longer than %d bytes",
		    name, opt, REPO_LINE_MAX);
	else if (len == 0)
		ctl_error("the first line of '%s' for --%s is empty", name, opt);
	else
		rc = EXIT_OK;
out:
	if (f != stdin)
		fclose(f);
	if (rc != EXIT_OK && *text != NULL) {
		explicit_bzero(*text, REPO_LINE_MAX + 1);
		free(*text);
		*text = NULL;
	}
	return rc;
}

/* The JSON value of one setting as typed; *out is NULL for an empty value. */
static int repo_value(const struct ctl_args *a, struct repo_input *in,
    const struct repo_key *k, const char *v, cJSON **out)
{
	int64_t n;
	char *end, *text;
	long long ll;
	int rc;

	*out = NULL;
	switch (k->kind) {
	case REPO_STR:
		*out = cJSON_CreateString(v);
		break;
	case REPO_PEM:
	case REPO_LINE:
		rc = k->kind == REPO_PEM ? repo_read_pem(a, in, k->opt, v, &text) :
		    repo_read_line(a, in, k->opt, v, &text);
		if (rc != EXIT_OK)
			return rc;
		*out = cJSON_CreateString(text);
		/* A secret lives no longer in our memory than it must. */
		explicit_bzero(text, strlen(text));
		free(text);
		break;
	case REPO_BOOL:
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
		    strcmp(v, "1") == 0)
			*out = cJSON_CreateTrue();
		else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
		    strcmp(v, "0") == 0)
			*out = cJSON_CreateFalse();
		else
			return ctl_usage_error(a->cmd, "invalid value '%s' for --%s: "
			    "expected true, false, yes, no, 1 or 0", v, k->opt);
		break;
	case REPO_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || *v == ' ' ||
		    *v == '+' || ll < k->min || ll > k->max)
			return ctl_usage_error(a->cmd, "invalid value '%s' for --%s: "
			    "expected a whole number from %lld to %lld", v, k->opt,
			    k->min, k->max);
		*out = cJSON_CreateNumber((double)ll);
		break;
	case REPO_SIZE:
		if (time_parse_size(v, &n) != 0)
			return ctl_usage_error(a->cmd, "invalid size '%s' for --%s: "
			    "expected bytes per second, as a number with an optional "
			    "unit (100000, 512KiB, 2MiB, 1GiB; 0: no limit)", v, k->opt);
		*out = cJSON_CreateNumber((double)n);
		break;
	}
	if (*out == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* The setting's key on the wire: k->key, or the option with '_' for '-'. */
static void repo_wire_key(const struct repo_key *k, char *key, size_t n)
{
	snprintf(key, n, "%s", k->key != NULL ? k->key : k->opt);
	for (char *p = key; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
}

/*
 * The "importer" object from the options given. For repo update an empty
 * value is null (the setting is removed); for repo create it is refused,
 * since leaving the option out says the same. NULL (*out) for create
 * without settings: the importer is then left out of the request.
 */
static int repo_importer(const struct ctl_args *a, int update, cJSON **out)
{
	struct repo_input in = { NULL };
	cJSON *imp = NULL;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < REPO_NKEYS; i++) {
		const struct repo_key *k = &repo_keys[i];
		const char *v = args_get(a, k->opt);
		char key[64];
		cJSON *val;

		if (v == NULL)
			continue;
		repo_wire_key(k, key, sizeof key);
		for (size_t j = 0; j < i; j++) {
			char other[64];

			repo_wire_key(&repo_keys[j], other, sizeof other);
			if (strcmp(key, other) == 0 && args_has(a, repo_keys[j].opt)) {
				cJSON_Delete(imp);
				return ctl_usage_error(a->cmd, "--%s and --%s both set %s: "
				    "give one of them", repo_keys[j].opt, k->opt, key);
			}
		}
		if (v[0] == '\0' && !update) {
			cJSON_Delete(imp);
			return ctl_usage_error(a->cmd, "empty value for --%s: leave the "
			    "option out to leave %s unset", k->opt, key);
		}
		if (v[0] == '\0')
			val = cJSON_CreateNull();
		else if ((rc = repo_value(a, &in, k, v, &val)) != EXIT_OK) {
			cJSON_Delete(imp);
			return rc;
		}
		if (val == NULL || (imp == NULL && (imp = cJSON_CreateObject()) == NULL) ||
		    !cJSON_AddItemToObject(imp, key, val)) {
			cJSON_Delete(val);
			cJSON_Delete(imp);
			ctl_error("out of memory");
			return EXIT_REFUSED;
		}
	}
	if (imp == NULL && update)
		return ctl_usage_error(a->cmd, "nothing to change: give at least one "
		    "setting, e.g. --feed URL (an empty value removes a setting)");
	*out = imp;
	return EXIT_OK;
}

/* repo create and repo update: the same request but for the command and what "" means. */
static int repo_save(struct ctl_ctx *ctx, struct ctl_args *a, int update)
{
	const char *name = a->argv[0];
	cJSON *req, *imp, *repo;
	int rc;

	if ((rc = repo_check_name(a, name)) != EXIT_OK ||
	    (rc = repo_importer(a, update, &imp)) != EXIT_OK)
		return rc;
	if ((req = repo_name_args(name)) == NULL ||
	    (imp != NULL && !cJSON_AddItemToObject(req, "importer", imp))) {
		cJSON_Delete(imp);
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	rc = call(ctx, update ? CMD_repo_update : CMD_repo_create, req,
	    CTL_CALL_TIMEOUT_MS, &repo);
	if (rc != EXIT_OK)
		return rc;
	return call_done(ctx, repo, "name", update ? "updated" : "created", name);
}

int cmd_repo_create(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return repo_save(ctx, a, 0);
}

int cmd_repo_update(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return repo_save(ctx, a, 1);
}

/* A whole number for a cell: "3", or "-" when null or missing. */
static void repo_num(const cJSON *o, const char *key, char *buf, size_t n)
{
	int64_t v;

	if (json_int(o, key, &v) == 0)
		snprintf(buf, n, "%lld", (long long)v);
	else
		snprintf(buf, n, "-");
}

static void repo_size(const cJSON *o, const char *key, char *buf, size_t n)
{
	int64_t v;

	if (json_int(o, key, &v) == 0)
		out_size(v, buf, n);
	else
		snprintf(buf, n, "-");
}

int cmd_repo_list(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const headers[] = {
		"NAME", "FEED", "VERSION", "FILES", "SIZE", "PUBLISHED",
	};
	struct out_table *t = NULL;
	const cJSON *repo;
	cJSON *list;
	int rc;

	(void)a;
	if ((rc = call_for_people(ctx, CMD_repo_list, NULL, &list)) != EXIT_OK ||
	    list == NULL)
		return rc;
	if ((t = out_table_new(6, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 1, 60);
	cJSON_ArrayForEach(repo, list) {
		const cJSON *imp = cJSON_GetObjectItemCaseSensitive(repo, "importer");
		char version[24], files[24], size[32], published[24];

		repo_num(repo, "latest_version", version, sizeof version);
		repo_num(repo, "files", files, sizeof files);
		repo_size(repo, "size", size, sizeof size);
		repo_num(repo, "published_version", published, sizeof published);
		if (out_table_add(t, (const char *const[]){ json_str(repo, "name"),
		    json_str(imp, "feed"), version, files, size, published }) != 0)
			goto nomem;
	}
	out_table_print(t, stdout);
	out_table_free(t);
	cJSON_Delete(list);
	return EXIT_OK;
nomem:
	out_table_free(t);
	cJSON_Delete(list);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

/* One "key  value" line for any JSON value; strings cleaned of control characters. */
static void repo_show_value(int indent, const char *key, const cJSON *v)
{
	char *text, *clean;
	size_t n;

	if (v == NULL || cJSON_IsNull(v)) {
		out_kv(stdout, indent, key, "-");
		return;
	}
	if (cJSON_IsBool(v)) {
		out_kv(stdout, indent, key, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return;
	}
	if (cJSON_IsString(v))
		text = strdup(v->valuestring);
	else
		text = cJSON_PrintUnformatted(v);
	if (text == NULL) {
		out_kv(stdout, indent, key, "(out of memory)");
		return;
	}
	n = strlen(text) * 3 + 4;
	if ((clean = malloc(n)) == NULL) {
		free(text);
		out_kv(stdout, indent, key, "(out of memory)");
		return;
	}
	out_clean(text, 0, clean, n);
	out_kv(stdout, indent, key, "%s", clean[0] != '\0' ? clean : "\"\"");
	free(clean);
	free(text);
}

static int repo_show_versions(const cJSON *versions)
{
	static const char *const headers[] = {
		"VERSION", "CREATED", "FILES", "SIZE", "TASK",
	};
	struct out_table *t;
	const cJSON *v;

	if (cJSON_GetArraySize(versions) == 0) {
		printf("\nno versions yet: sync the repository to make one\n");
		return 0;
	}
	if ((t = out_table_new(5, headers)) == NULL)
		return -1;
	cJSON_ArrayForEach(v, versions) {
		char number[24], files[24], size[32], task[24];

		repo_num(v, "number", number, sizeof number);
		repo_num(v, "files", files, sizeof files);
		repo_size(v, "size", size, sizeof size);
		repo_num(v, "task", task, sizeof task);
		if (out_table_add(t, (const char *const[]){ number,
		    json_str(v, "created_at"), files, size, task }) != 0) {
			out_table_free(t);
			return -1;
		}
	}
	fputc('\n', stdout);
	out_table_print(t, stdout);
	out_table_free(t);
	return 0;
}

int cmd_repo_show(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const shown[] = {
		"name", "created_at", "importer", "latest_version", "files", "size",
		"published_version", "published_at", "versions", NULL,
	};
	const cJSON *imp, *item;
	char buf[64];
	cJSON *req, *repo;
	int64_t v;
	int rc;

	if ((rc = repo_check_name(a, a->argv[0])) != EXIT_OK)
		return rc;
	if ((req = repo_name_args(a->argv[0])) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_repo_show, req, &repo)) != EXIT_OK ||
	    repo == NULL)
		return rc;
	repo_show_value(0, "name", cJSON_GetObjectItemCaseSensitive(repo, "name"));
	out_kv_time("created", repo, "created_at");
	repo_num(repo, "latest_version", buf, sizeof buf);
	out_kv(stdout, 0, "latest version", "%s", buf);
	repo_num(repo, "files", buf, sizeof buf);
	out_kv(stdout, 0, "files", "%s", buf);
	if (json_int(repo, "size", &v) == 0) {
		out_size(v, buf, sizeof buf);
		out_kv(stdout, 0, "size", "%s (%lld bytes)", buf, (long long)v);
	} else
		out_kv(stdout, 0, "size", "-");
	repo_num(repo, "published_version", buf, sizeof buf);
	out_kv(stdout, 0, "published version", "%s", buf);
	out_kv_time("published", repo, "published_at");
	/* Fields this depotctl does not know yet, as JSON. */
	cJSON_ArrayForEach(item, repo) {
		int known = 0;

		for (int i = 0; shown[i] != NULL; i++)
			if (item->string != NULL && strcmp(item->string, shown[i]) == 0)
				known = 1;
		if (!known && item->string != NULL)
			repo_show_value(0, item->string, item);
	}
	/* The settings in the daemon's order and spelling, secrets as it masked them. */
	imp = cJSON_GetObjectItemCaseSensitive(repo, "importer");
	if (cJSON_GetArraySize(imp) == 0)
		out_kv(stdout, 0, "importer", "(no settings)");
	else {
		out_kv(stdout, 0, "importer", "%s", "");
		cJSON_ArrayForEach(item, imp)
			if (item->string != NULL)
				repo_show_value(2, item->string, item);
	}
	if (repo_show_versions(cJSON_GetObjectItemCaseSensitive(repo, "versions")) != 0) {
		cJSON_Delete(repo);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	cJSON_Delete(repo);
	return EXIT_OK;
}

int cmd_repo_delete(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *name = a->argv[0];
	int rc;

	if ((rc = repo_check_name(a, name)) != EXIT_OK)
		return rc;
	return call_delete_named(ctx, CMD_repo_delete, name);
}

/*
 * The task.submit args of a sync, publish or orphans task: what the
 * command sends, and what a schedule's sync or publish template holds
 * (cmd-schedule.c). *out is the caller's; EXIT_OK or the error, said.
 */
int repo_task_args(const struct ctl_args *a, const char *type,
    const char *name, const char *version, cJSON **out)
{
	long long n = 0;
	cJSON *req;
	int rc;

	*out = NULL;
	if (name != NULL && (rc = repo_check_name(a, name)) != EXIT_OK)
		return rc;
	if (version != NULL) {
		char *end;

		errno = 0;
		n = strtoll(version, &end, 10);
		if (*version == '\0' || *end != '\0' || errno != 0 || *version == '+' ||
		    *version == ' ' || n < 1 || n > REPO_VERSION_MAX)
			return ctl_usage_error(a->cmd, "invalid version '%s' for "
			    "--version: expected a positive whole number (see "
			    "'%s repo show %s')", version, ctl_prog, name);
	}
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "type", type) == NULL ||
	    (name != NULL && cJSON_AddStringToObject(req, "repository", name) == NULL) ||
	    (version != NULL && cJSON_AddNumberToObject(req, "version", (double)n) == NULL)) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = task_chain_args(a, req)) != EXIT_OK) {
		cJSON_Delete(req);
		return rc;
	}
	*out = req;
	return EXIT_OK;
}

/* A sync, publish or orphans task: task.submit, then as run does (task_submit). */
static int repo_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *name, const char *version)
{
	cJSON *req;
	int rc;

	if ((rc = repo_task_args(a, type, name, version, &req)) != EXIT_OK)
		return rc;
	return task_submit(ctx, req, args_has(a, "wait"));
}

int cmd_sync(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return repo_task(ctx, a, task_type_name(TASKTYPE_SYNC), a->argv[0], NULL);
}

int cmd_publish(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return repo_task(ctx, a, task_type_name(TASKTYPE_PUBLISH), a->argv[0],
	    args_get(a, "version"));
}

int cmd_orphans_clean(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return repo_task(ctx, a, task_type_name(TASKTYPE_ORPHANS), NULL, NULL);
}
