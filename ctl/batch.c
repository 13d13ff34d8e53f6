/* batch.c: run --batch FILE: a file of tasks, one a line, checked whole, then queued in one request. */
#include "ctl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Options that belong to the whole batch, given on the command line: a
 * line that gave them would mean something the batch cannot do.
 */
static const char *const batch_whole_opts[] = { "batch", "wait", "quiet", "wait-timeout", NULL };
/* How much longer than another request a batch's answer may take, per task. */
#define BATCH_MS_PER_TASK 5
/* Options a line sets the task's context with: such a line carries its own cwd and env. */
static const char *const batch_context_opts[] = { "cwd", "env", "clean-env", NULL };

/* The words of a batch: a growing array of owned strings. */
struct words {
	char **v;
	size_t n, cap;
};

/* The lines read: where each task came from, for errors after the file was read. */
struct batch {
	const char *file;	/* as the user named it; "-" is standard input */
	int *lines;		/* lines[i]: the line of the batch's task i */
	size_t n, cap;
	struct words env_names;	/* every --env the lines gave: env_deny's note names them */
	char where[4200];
};

static int words_push(struct words *w, const char *s, size_t len)
{
	char *copy;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		char **grown = realloc(w->v, cap * sizeof *grown);

		if (grown == NULL)
			return -1;
		w->v = grown;
		w->cap = cap;
	}
	if ((copy = strndup(s, len)) == NULL)
		return -1;
	w->v[w->n++] = copy;
	return 0;
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	memset(w, 0, sizeof *w);
}

/*
 * Splits line into words as sh does, without any expansion: blanks
 * separate words; '…' keeps everything; "…" keeps everything but \" \\ \$
 * and \` which lose their backslash; a backslash outside quotes keeps the
 * next character; a word starting with # starts a comment. Appends to w;
 * -1 with why for an unterminated quote, -2 when out of memory.
 */
static int batch_split(const char *line, struct words *w, const char **why)
{
	const char *p = line;
	char *word = malloc(strlen(line) + 1);
	size_t len;

	if (word == NULL)
		return -2;
	for (;;) {
		int quoted = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		len = 0;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			if (*p == '\'') {
				const char *end = strchr(p + 1, '\'');

				if (end == NULL) {
					*why = "a quote (') is not closed";
					free(word);
					return -1;
				}
				memcpy(word + len, p + 1, (size_t)(end - p - 1));
				len += (size_t)(end - p - 1);
				p = end + 1;
				quoted = 1;
			} else if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (*p == '\0') {
						*why = "a quote (\") is not closed";
						free(word);
						return -1;
					}
					if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
						p++;
					word[len++] = *p;
				}
				p++;
				quoted = 1;
			} else if (*p == '\\' && p[1] == '\0') {
				/* sh would read on; a line is a task here, so say so. */
				*why = "a backslash ends the line: a task is one line (no continuation)";
				free(word);
				return -1;
			} else if (*p == '\\') {
				word[len++] = p[1];
				p += 2;
			} else
				word[len++] = *p++;
		}
		/* '' is a word, as in sh; nothing at all is not. */
		if ((len > 0 || quoted) && words_push(w, word, len) < 0) {
			free(word);
			return -2;
		}
	}
	free(word);
	return 0;
}

/* A line that is wrong: said, with its place (ctl_where), as a usage error. */
static int batch_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int batch_bad(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ctl_error("%s", msg);
	return EXIT_USAGE;
}

/* A JSON line's field name as run's option: clean_env is clean-env. */
static void batch_option_name(const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s", key);
	for (char *p = out; *p != '\0'; p++)
		if (*p == '_')
			*p = '-';
}

static int batch_is(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* "--name=value" for one value of a JSON line's field; 1 when it is neither text nor a whole number. */
static int batch_push_option(struct words *w, const char *opt, const cJSON *v)
{
	char num[64], *tok;
	const char *s = num;
	int rc;

	if (cJSON_IsString(v))
		s = v->valuestring;
	else if (cJSON_IsNumber(v) && v->valuedouble >= -1e15 && v->valuedouble <= 1e15 &&
	    v->valuedouble == floor(v->valuedouble))
		snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
	else
		return 1;
	if (asprintf(&tok, "--%s=%s", opt, s) < 0)
		return -1;
	rc = words_push(w, tok, strlen(tok));
	free(tok);
	return rc;
}

/*
 * A JSON line as run's words: {"argv": [...]} and run's options by name
 * ("lock": "R" or ["R", …], "env": {"NAME": "value"} or ["NAME=value", …],
 * "clean-env": true, "priority": 5, …), so that each is checked as on the
 * command line. EXIT_OK, or the error said.
 */
static int batch_json_words(const struct ctl_cmd *cmd, const char *line, struct words *w)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithOpts(line, &end, 0);
	const cJSON *f, *argv = NULL, *v;
	char opt[64];
	int rc = EXIT_USAGE;

	if (!cJSON_IsObject(o)) {
		batch_bad("not a JSON object (a line starting with '{' is read as one)");
		goto out;
	}
	if (end[strspn(end, " \t\r\n")] != '\0') {
		batch_bad("text after the JSON object: one object a line");
		goto out;
	}
	/* C strings end at the first NUL: a "\u0000" would cut a word short unseen. */
	if (strstr(line, "\\u0000") != NULL) {
		batch_bad("a NUL character (\\u0000) in a string");
		goto out;
	}
	cJSON_ArrayForEach(f, o) {
		batch_option_name(f->string, opt, sizeof opt);
		if (cJSON_GetObjectItemCaseSensitive(o, f->string) != f) {
			batch_bad("'%s' given twice", f->string);
			goto out;
		}
		if (strcmp(f->string, "argv") == 0) {
			argv = f;
			continue;
		}
		if (!args_takes(cmd, opt) || batch_is(batch_whole_opts, opt)) {
			ctl_error("unknown field '%s': a line takes \"argv\" and run's options "
			    "but %s", f->string, "--batch, --wait, --quiet and --wait-timeout");
			goto out;
		}
		if (cJSON_IsBool(f) != (args_opt(cmd, opt)->arg == NULL)) {
			batch_bad(cJSON_IsBool(f) ? "'%s' takes a value, not true or false" :
			    "'%s' is a flag: true or false", f->string);
			goto out;
		}
		if (cJSON_IsBool(f)) {
			char tok[80];

			snprintf(tok, sizeof tok, "--%s", opt);
			if (cJSON_IsTrue(f) && words_push(w, tok, strlen(tok)) < 0)
				goto nomem;
			continue;
		}
		if (cJSON_IsObject(f) && strcmp(opt, "env") == 0) {
			cJSON_ArrayForEach(v, f) {
				char *tok;

				if (!cJSON_IsString(v)) {
					ctl_error("'env' values must be strings ('%s' is not)",
					    v->string);
					goto out;
				}
				if (asprintf(&tok, "--env=%s=%s", v->string, v->valuestring) < 0)
					goto nomem;
				rc = words_push(w, tok, strlen(tok));
				free(tok);
				if (rc < 0)
					goto nomem;
				rc = EXIT_USAGE;
			}
			continue;
		}
		const cJSON *list = cJSON_IsArray(f) ? f : NULL;

		cJSON_ArrayForEach(v, list) {
			int pushed = batch_push_option(w, opt, v);

			if (pushed < 0)
				goto nomem;
			if (pushed > 0) {
				ctl_error("'%s' must be a string or a whole number, or an array "
				    "of them", f->string);
				goto out;
			}
		}
		if (!cJSON_IsArray(f)) {
			int pushed = batch_push_option(w, opt, f);

			if (pushed < 0)
				goto nomem;
			if (pushed > 0) {
				ctl_error("'%s' must be a string or a whole number%s", f->string,
				    strcmp(opt, "env") == 0 ? ", an object or an array" : "");
				goto out;
			}
		}
	}
	if (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) == 0) {
		ctl_error("missing \"argv\": the command and its arguments, an array of strings");
		goto out;
	}
	if (words_push(w, "--", 2) < 0)
		goto nomem;
	cJSON_ArrayForEach(v, argv) {
		if (!cJSON_IsString(v)) {
			ctl_error("\"argv\" must hold strings only");
			goto out;
		}
		if (words_push(w, v->valuestring, strlen(v->valuestring)) < 0)
			goto nomem;
	}
	rc = EXIT_OK;
	goto out;
nomem:
	ctl_error("out of memory");
	rc = EXIT_REFUSED;
out:
	cJSON_Delete(o);
	return rc;
}

/* The batch's own options as words, in front of each line's: they apply to every task. */
static int batch_common_words(const struct ctl_args *a, struct words *w)
{
	const struct ctl_cmd *cmd = a->cmd;

	if (words_push(w, "run", 3) < 0)
		return -1;
	for (int i = 0; cmd_opts(cmd)[i].name != NULL; i++) {
		if (batch_is(batch_whole_opts, cmd_opts(cmd)[i].name))
			continue;
		for (size_t k = 0; k < a->nvals[i]; k++) {
			char *tok;
			int rc;

			if (cmd_opts(cmd)[i].arg != NULL ?
			    asprintf(&tok, "--%s=%s", cmd_opts(cmd)[i].name, a->vals[i][k]) < 0 :
			    asprintf(&tok, "--%s", cmd_opts(cmd)[i].name) < 0)
				return -1;
			rc = words_push(w, tok, strlen(tok));
			free(tok);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* Whether line's args set the context beyond what the batch's own options did. */
static int batch_own_context(const struct ctl_args *batch, const struct ctl_args *line)
{
	char **vals;

	for (size_t i = 0; batch_context_opts[i] != NULL; i++)
		if (args_values(line, batch_context_opts[i], &vals) !=
		    args_values(batch, batch_context_opts[i], &vals))
			return 1;
	return 0;
}

/*
 * One line's task.submit args into tasks: parsed as run's arguments
 * after the batch's own options. Its cwd and env are left to the batch's
 * defaults unless the line set them. EXIT_OK or the error, said.
 */
static int batch_line_task(const struct ctl_args *a, const struct words *common,
    const char *line, cJSON *tasks, struct words *env_names)
{
	struct words w = { 0 };
	struct ctl_args la;
	cJSON *req = NULL;
	int rc, json = 0, help = 0;
	const char *why = NULL;

	for (size_t i = 0; i < common->n; i++)
		if (words_push(&w, common->v[i], strlen(common->v[i])) < 0)
			goto nomem;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '{')
		rc = batch_json_words(a->cmd, line, &w);
	else if ((rc = batch_split(line, &w, &why)) == -1) {
		ctl_error("%s", why);
		rc = EXIT_USAGE;
	} else if (rc == -2)
		goto nomem;
	if (rc != EXIT_OK) {
		words_free(&w);
		return rc;
	}
	rc = args_parse(a->cmd, (int)w.n, w.v, &la, &json, &help);
	if (rc == EXIT_OK && (json || help))
		rc = batch_bad("--json and --help are the command's, not a line's");
	for (size_t i = 0; rc == EXIT_OK && batch_whole_opts[i] != NULL; i++)
		if (args_has(&la, batch_whole_opts[i]))
			rc = batch_bad("--%s is for the whole batch: give it on the command "
			    "line", batch_whole_opts[i]);
	if (rc == EXIT_OK && la.argc == 0)
		rc = batch_bad("missing CMD: a line holds run's options and a command");
	if (rc == EXIT_OK && (rc = task_exec_core(&la, &req)) == EXIT_OK &&
	    batch_own_context(a, &la))
		rc = task_exec_context(&la, req);
	if (rc == EXIT_OK && !cJSON_AddItemToArray(tasks, req)) {
		rc = EXIT_REFUSED;
		ctl_error("out of memory");
	}
	if (rc == EXIT_OK) {
		char **vals;
		size_t n = args_values(&la, "env", &vals);

		for (size_t i = 0; i < n && rc == EXIT_OK; i++)
			if (words_push(env_names, vals[i], strlen(vals[i])) < 0) {
				ctl_error("out of memory");
				rc = EXIT_REFUSED;
			}
	}
	if (rc != EXIT_OK)
		cJSON_Delete(req);
	args_free(&la);
	words_free(&w);
	return rc;
nomem:
	words_free(&w);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

static int batch_note_line(struct batch *b, int line)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		int *grown = realloc(b->lines, cap * sizeof *grown);

		if (grown == NULL)
			return -1;
		b->lines = grown;
		b->cap = cap;
	}
	b->lines[b->n++] = line;
	return 0;
}

/* call()'s hook: a refusal naming task i is about the line it came from. */
static const char *batch_where(void *arg, int64_t i)
{
	struct batch *b = arg;

	if (i < 0 || (size_t)i >= b->n)
		return NULL;
	snprintf(b->where, sizeof b->where, "%s:%d", strcmp(b->file, "-") == 0 ?
	    "(stdin)" : b->file, b->lines[i]);
	return b->where;
}

/* Reads every line of f into tasks; the first bad line refuses the batch. */
static int batch_read(const struct ctl_args *a, FILE *f, struct batch *b, cJSON *tasks)
{
	struct words common = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = EXIT_OK, no = 0;

	if (batch_common_words(a, &common) < 0) {
		words_free(&common);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	while (rc == EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
		const char *p = line;

		no++;
		/* The line's end, \n or \r\n, is no part of it. */
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		/* A UTF-8 byte order mark is no part of the first line either. */
		if (no == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
			p += 3;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (batch_note_line(b, no) < 0) {
			ctl_error("out of memory");
			rc = EXIT_REFUSED;
			break;
		}
		ctl_where = batch_where(b, (int64_t)b->n - 1);
		if (strlen(line) != (size_t)len) {
			ctl_error("a NUL byte in the line");
			rc = EXIT_USAGE;
			break;
		}
		rc = batch_line_task(a, &common, p, tasks, &b->env_names);
	}
	if (rc == EXIT_OK && ferror(f)) {
		ctl_where = NULL;
		ctl_error("reading %s: %s", strcmp(b->file, "-") == 0 ? "standard input" :
		    b->file, strerror(errno));
		rc = EXIT_REFUSED;
	}
	ctl_where = NULL;
	free(line);
	words_free(&common);
	return rc;
}

/* The batch's context, sent once: the cwd and env of every line that set none. */
static int batch_defaults(const struct ctl_args *a, cJSON *req)
{
	cJSON *defaults = cJSON_AddObjectToObject(req, "defaults");

	if (defaults == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return task_exec_context(a, defaults);
}

int cmd_run_batch(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = args_get(a, "batch"), *wait_timeout = args_get(a, "wait-timeout");
	struct batch b = { .file = file };
	int wait = args_has(a, "wait"), rc;
	int64_t timeout_ms = -1;
	struct stat st;
	cJSON *req = NULL, *tasks, *reply = NULL, *ids, *id, *waitreq, *shown;
	FILE *f;

	if (a->argc > 0)
		return ctl_usage_error(a->cmd, "unexpected argument '%s': with --batch the "
		    "commands come from FILE, one a line", a->argv[0]);
	if (args_has(a, "quiet"))
		return ctl_usage_error(a->cmd, "--quiet: a batch's output is not shown; see "
		    "task log ID");
	if (!wait && wait_timeout != NULL)
		return ctl_usage_error(a->cmd, "--wait-timeout goes with --wait");
	if (wait_timeout != NULL &&
	    (rc = args_duration(a, "wait-timeout", wait_timeout, &timeout_ms)) != EXIT_OK)
		return rc;
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (f == NULL)
		return ctl_usage_error(a->cmd, "cannot read --batch file '%s': %s", file,
		    strerror(errno));
	if (f != stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		return ctl_usage_error(a->cmd, "cannot read --batch file '%s': %s", file,
		    strerror(EISDIR));
	}
	if ((req = cJSON_CreateObject()) == NULL ||
	    (tasks = cJSON_AddArrayToObject(req, "tasks")) == NULL) {
		ctl_error("out of memory");
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = batch_read(a, f, &b, tasks)) != EXIT_OK ||
	    (rc = batch_defaults(a, req)) != EXIT_OK)
		goto out;
	if (b.n == 0) {
		rc = ctl_usage_error(a->cmd, "%s holds no task (blank lines and # comments "
		    "only)", strcmp(file, "-") == 0 ? "standard input" : file);
		goto out;
	}
	if (b.n > TASK_BATCH_MAX) {
		rc = ctl_usage_error(a->cmd, "%s holds %zu tasks: a batch is at most %d; "
		    "split it", strcmp(file, "-") == 0 ? "standard input" : file, b.n,
		    TASK_BATCH_MAX);
		goto out;
	}
	ctx->index_where = batch_where;
	ctx->index_arg = &b;
	/* depotd checks and stores the whole batch before it answers. */
	rc = call(ctx, CMD_task_submit_batch, req, CTL_CALL_TIMEOUT_MS +
	    (int)b.n * BATCH_MS_PER_TASK, &reply);
	req = NULL;
	ctx->index_where = NULL;
	if (rc == EXIT_UNREACHABLE)
		ctl_error("if depotd got the batch, it queued all of it or none: see '%s "
		    "task list' before sending it again", ctl_prog);
	if (rc != EXIT_OK)
		goto out;
	task_denied_note(b.env_names.v, b.env_names.n,
	    cJSON_GetObjectItemCaseSensitive(reply, "env_denied"));
	ids = cJSON_GetObjectItemCaseSensitive(reply, "ids");
	if (cJSON_GetArraySize(ids) != (int)b.n) {
		ctl_error("depotd's answer to task.submit_batch holds %d ids for %zu tasks",
		    cJSON_GetArraySize(ids), b.n);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (ctx->json && !wait)
		rc = json_print(reply);
	/* The ids first, at once, whether or not we wait: whoever watches can follow them. */
	shown = ctx->json ? NULL : ids;
	cJSON_ArrayForEach(id, shown)
		printf("%lld\n", (long long)id->valuedouble);
	fflush(stdout);
	if (rc != EXIT_OK || !wait)
		goto out;
	waitreq = cJSON_CreateObject();
	if (waitreq == NULL || !cJSON_AddItemToObject(waitreq, "ids",
	    cJSON_DetachItemFromObjectCaseSensitive(reply, "ids"))) {
		cJSON_Delete(waitreq);
		ctl_error("out of memory");
		rc = EXIT_REFUSED;
		goto out;
	}
	rc = task_wait_ids(ctx, waitreq, wait_timeout, timeout_ms);
out:
	if (f != stdin)
		fclose(f);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	free(b.lines);
	words_free(&b.env_names);
	return rc;
}
