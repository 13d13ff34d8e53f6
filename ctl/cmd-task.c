/* cmd-task.c: run and the task commands: submit, list, show, log, cancel, wait for, restart, remove and clean tasks. */
#include "ctl.h"

#include "jsonutil.h"
#include "repeats.h"
#include "timeutil.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Limits of task.submit (doc/protocol.md), checked here to name the bad value early. */
#define TASK_ARGV_MAX 1024
#define TASK_NAME_MAX 200
#define TASK_RESOURCES_MAX 64
#define TASK_RETRIES_MAX 100
/* How often `task log -f` asks for more output. */
#define TASK_FOLLOW_MS 200
/* task show cuts an environment variable's value (and name) to this many columns. */
#define TASK_SHOW_VALUE_WIDTH 120
/* A wait with a timeout still gets its answer if the daemon is a little late. */
#define TASK_WAIT_GRACE_MS 30000
/* How often a progress line is redrawn: a worker's heartbeat brings news every 2 s by default. */
#define TASK_PROGRESS_MS 1000

/* How a command that submits a task waits for it (task_submit_with). */
struct task_waiting {
	int wait;		/* --wait */
	int command_status;	/* run --wait: exit with the command's status */
	int stream;		/* print the task's output as it comes */
	int progress;		/* draw a progress line on a terminal meanwhile */
	int64_t timeout_ms;	/* --wait-timeout; -1: for ever */
	const struct ctl_args *run;	/* run's arguments, for task_denied_note; or NULL */
	void (*completed)(const cJSON *task);	/* says more of a task that completed (backup's path) */
	int restart;		/* task restart: sends task.restart, with req its {"id"} */
};

static int task_ids_request(struct ctl_args *a, cJSON **req);
static int task_here(char *out, size_t n);
static int task_cwd(const struct ctl_args *a, char *out, size_t n);
static int task_env_name_ok(const char *name, size_t len);
static int task_env_set(const struct ctl_args *a, cJSON *env, const char *name,
    size_t len, const char *value, int from_option, int fresh);
static unsigned char *task_environ_repeats(void);
static int task_env(const struct ctl_args *a, const char *cwd, cJSON **out);
static int task_add_resources(const struct ctl_args *a, cJSON *list, const char *opt,
    const char *mode);
static int task_state_of(const cJSON *task, enum task_state *state);
static int task_exit_code(enum task_state state);
static void task_describe_error(const cJSON *task, char *buf, size_t n);
static int task_outcome(const cJSON *task);
static int task_command_status(const cJSON *task);
static void task_outcome_line(FILE *f, const cJSON *task);
static int task_wait_timeout(int64_t ms);
static int task_retried(const cJSON *task);
static int task_find_retry(struct ctl_ctx *ctx, int64_t id, int64_t *retry);
static void task_show_str(const char *key, const char *s);
static void task_show_command(const cJSON *task);
static void task_show_environment(const cJSON *args);
static int task_env_cmp(const void *a, const void *b);
static void task_show_when(const char *key, const char *t);
static void task_sleep_ms(int ms);
static int task_log_write(const char *data);
static int task_log_chunk(struct ctl_ctx *ctx, int64_t id, int64_t *offset, cJSON **reply);
static int task_stream(struct ctl_ctx *ctx, int64_t id, int64_t deadline, int *timed_out);
static int task_wait_one(struct ctl_ctx *ctx, int64_t id, int64_t deadline, cJSON **waited);
static int task_wait_shown(struct ctl_ctx *ctx, int64_t id, int64_t deadline,
    struct progress *bar, cJSON **waited);
static int task_own_failure(const struct task_waiting *w, int rc);
static int task_submit_with(struct ctl_ctx *ctx, cJSON *req, const struct task_waiting *w);
static int task_before(const struct ctl_args *a, const char *s, char *out);

/* {"ids": [...]}: every positional argument as a task id (task cancel, wait, remove). */
static int task_ids_request(struct ctl_args *a, cJSON **req)
{
	int64_t *ids;
	int rc = EXIT_OK;

	*req = NULL;
	if ((ids = calloc((size_t)a->argc, sizeof *ids)) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	for (int i = 0; i < a->argc && rc == EXIT_OK; i++)
		rc = args_task_id(a, a->argv[i], &ids[i]);
	if (rc == EXIT_OK && ((*req = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(*req, "ids", json_ids(ids, (size_t)a->argc)))) {
		cJSON_Delete(*req);
		*req = NULL;
		ctl_error("out of memory");
		rc = EXIT_REFUSED;
	}
	free(ids);
	return rc;
}

/* Appends {"name": R, "mode": mode} for each value of --opt, checking R as the daemon will. */
static int task_add_resources(const struct ctl_args *a, cJSON *list, const char *opt,
    const char *mode)
{
	char **vals;
	size_t n = args_values(a, opt, &vals);

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(vals[i]);
		cJSON *r;

		if (len == 0 || len > DEPOT_RESOURCE_MAX)
			return ctl_usage_error(a->cmd, "invalid resource '%s' for --%s: "
			    "a name is 1 to %d bytes", vals[i], opt, DEPOT_RESOURCE_MAX);
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)vals[i][k] < 0x20 || vals[i][k] == 0x7f)
				return ctl_usage_error(a->cmd, "invalid resource for --%s: "
				    "control characters are not allowed", opt);
		if (cJSON_GetArraySize(list) >= TASK_RESOURCES_MAX)
			return ctl_usage_error(a->cmd, "too many resources: at most %d",
			    TASK_RESOURCES_MAX);
		if ((r = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(list, r) ||
		    cJSON_AddStringToObject(r, "name", vals[i]) == NULL ||
		    cJSON_AddStringToObject(r, "mode", mode) == NULL) {
			ctl_error("out of memory");
			return EXIT_REFUSED;
		}
	}
	return EXIT_OK;
}

/* The task's state; -1 when it names none this depotctl knows. */
static int task_state_of(const cJSON *task, enum task_state *state)
{
	return task_state_parse(json_str(task, "state"), state);
}

/* DESIGN §11: what a final task's outcome makes depotctl exit with. */
static int task_exit_code(enum task_state state)
{
	switch (state) {
	case TASK_COMPLETED:
		return EXIT_OK;
	case TASK_CANCELED:
		return EXIT_CANCELED;
	default:
		return EXIT_REFUSED;
	}
}

/* "exit-status: 'sh' exited with status 3" from error and result, for one line. */
static void task_describe_error(const cJSON *task, char *buf, size_t n)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(task, "error");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(task, "result");
	const char *reason = json_str(error, "reason"), *msg = json_str(error, "message");
	int64_t sig, status;
	size_t l;

	snprintf(buf, n, "%s%s%s", reason != NULL ? reason : "",
	    reason != NULL && msg != NULL ? ": " : "", msg != NULL ? msg : "");
	l = strlen(buf);
	if (json_int(result, "signal", &sig) == 0 &&
	    (msg == NULL || strstr(msg, "signal") == NULL))
		snprintf(buf + l, n - l, "%skilled by signal %lld", l > 0 ? ", " : "",
		    (long long)sig);
	else if (json_int(result, "exit_status", &status) == 0 && status != 0 &&
	    (msg == NULL || strstr(msg, "status") == NULL))
		snprintf(buf + l, n - l, "%sexit status %lld", l > 0 ? ", " : "",
		    (long long)status);
}

/*
 * A waited-for task's id, final state and error in words: 0, or -1 when
 * the daemon answered with a task not final, said on stderr.
 */
static int task_ended(const cJSON *task, int64_t *id, enum task_state *state, char *why,
    size_t whylen)
{
	const char *name = json_str(task, "state");

	*id = 0;
	(void)json_int(task, "id", id);
	task_describe_error(task, why, whylen);
	if (task_state_of(task, state) == 0 && task_state_final(*state))
		return 0;
	ctl_error("task %lld %s%s%s", (long long)*id, name != NULL ? name :
	    "ended in no known state", why[0] != '\0' ? ": " : "", why);
	return -1;
}

/*
 * The exit code of a submitting command's --wait (sync, publish, backup,
 * restore, orphans clean, run --quiet's peers): DESIGN §11's 0, 1 and 4,
 * the failure said on stderr.
 */
static int task_outcome(const cJSON *task)
{
	const char *name = json_str(task, "state");
	enum task_state state;
	char why[1024];
	int64_t id;

	if (task_ended(task, &id, &state, why, sizeof why) < 0)
		return EXIT_REFUSED;
	if (state == TASK_CANCELED)
		ctl_error("task %lld was canceled%s%s", (long long)id,
		    why[0] != '\0' ? ": " : "", why);
	else if (state == TASK_FAILED)
		ctl_error("task %lld %s%s%s", (long long)id, name,
		    why[0] != '\0' ? ": " : "", why);
	return task_exit_code(state);
}

/*
 * run --wait's exit code, as if the command had run in a shell here: its
 * exit status, 128+N for signal N, 126 or 127 when it could not be run
 * (exec.c records those as a shell would); and timeout(1)'s 124 when its
 * --timeout ran out, 125 when depot saw no status of it (canceled, its
 * worker lost, its working directory gone), said on stderr.
 */
static int task_command_status(const cJSON *task)
{
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(task, "result");
	const char *reason = json_str(cJSON_GetObjectItemCaseSensitive(task, "error"),
	    "reason");
	enum task_state state;
	int64_t id, v;
	char why[1024];

	if (task_ended(task, &id, &state, why, sizeof why) < 0)
		return EXIT_CMD_DEPOT_FAILED;
	if (reason != NULL && strcmp(reason, task_reason_name(REASON_TIMEOUT)) == 0) {
		ctl_error("task %lld timed out: %s", (long long)id, why);
		return EXIT_CMD_TIMED_OUT;
	}
	if (state != TASK_CANCELED && json_int(result, "exit_status", &v) == 0 &&
	    v >= 0 && v <= 255)
		return (int)v;
	if (state != TASK_CANCELED && json_int(result, "signal", &v) == 0 && v > 0 && v < 128)
		return 128 + (int)v;
	if (state == TASK_COMPLETED)
		return EXIT_OK;
	ctl_error("task %lld %s without an exit status of its command%s%s", (long long)id,
	    state == TASK_CANCELED ? "was canceled" : "failed",
	    why[0] != '\0' ? ": " : "", why);
	return EXIT_CMD_DEPOT_FAILED;
}

/*
 * "42 failed (exit-status: …)", "42 completed: version 3, 120 files, …
 * in 4.1s": what --wait and task wait print for each task.
 */
static void task_outcome_line(FILE *f, const cJSON *task)
{
	const char *state = json_str(task, "state");
	char why[1024], clean[1024];
	int64_t id = 0;

	(void)json_int(task, "id", &id);
	task_describe_error(task, why, sizeof why);
	out_clean(why, 0, clean, sizeof clean);
	if (state != NULL && strcmp(state, task_state_name(TASK_COMPLETED)) == 0) {
		progress_summary(task, why, sizeof why);
		out_clean(why, 0, clean, sizeof clean);
		fprintf(f, "%lld %s%s%s\n", (long long)id, state, clean[0] != '\0' ? ": " : "",
		    clean);
		return;
	}
	fprintf(f, "%lld %s%s%s%s\n", (long long)id, state != NULL ? state : "?",
	    clean[0] != '\0' ? " (" : "", clean, clean[0] != '\0' ? ")" : "");
}

/*
 * When the task may start: --at TIME (local time unless it names a zone)
 * or --in DUR, sent as an RFC 3339 time so the daemon and the listing
 * agree whatever their zones.
 */
static int task_start_time(const struct ctl_args *a, cJSON *req)
{
	const char *at = args_takes(a->cmd, "at") ? args_get(a, "at") : NULL;
	const char *in = args_takes(a->cmd, "in") ? args_get(a, "in") : NULL;
	char text[TIME_RFC3339_LEN];
	int64_t ms, now = time_now_ms();
	int rc;

	if (at != NULL && in != NULL)
		return ctl_usage_error(a->cmd, "give --at or --in, not both");
	if (at != NULL && time_parse_local(at, now, &ms) < 0)
		return ctl_usage_error(a->cmd, "invalid time '%s' for --at: expected 03:00, "
		    "'2026-12-24 18:00' (local time) or RFC 3339 (2026-12-24T17:00:00Z)", at);
	if (in != NULL) {
		if ((rc = args_duration(a, "in", in, &ms)) != EXIT_OK)
			return rc;
		ms += now;
	}
	if (at == NULL && in == NULL)
		return EXIT_OK;
	time_format_rfc3339(ms, text);
	if (cJSON_AddStringToObject(req, "at", text) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/*
 * retries, after, priority and the start time from --retries N, --after
 * ID, --priority N, --at TIME and --in DUR, for the commands that take
 * them (those that queue a task, and the templates of schedule add); the
 * daemon's defaults when not given.
 */
int task_chain_args(const struct ctl_args *a, cJSON *req)
{
	const char *retries = NULL, *after = NULL, *priority = NULL;
	long long n;
	int64_t id;
	int rc;

	if (args_takes(a->cmd, "retries"))
		retries = args_get(a, "retries");
	if (args_takes(a->cmd, "after"))
		after = args_get(a, "after");
	if (args_takes(a->cmd, "priority"))
		priority = args_get(a, "priority");
	if (priority != NULL) {
		if ((rc = args_int(a, "priority", priority, TASK_PRIORITY_MIN, TASK_PRIORITY_MAX,
		    &n)) != EXIT_OK)
			return rc;
		if (cJSON_AddNumberToObject(req, "priority", (double)n) == NULL)
			goto nomem;
	}
	if ((rc = task_start_time(a, req)) != EXIT_OK)
		return rc;
	if (retries != NULL) {
		if ((rc = args_int(a, "retries", retries, 0, TASK_RETRIES_MAX, &n)) != EXIT_OK)
			return rc;
		if (cJSON_AddNumberToObject(req, "retries", (double)n) == NULL)
			goto nomem;
	}
	if (after != NULL) {
		if ((rc = args_task_id(a, after, &id)) != EXIT_OK)
			return rc;
		if (cJSON_AddNumberToObject(req, "after", (double)id) == NULL)
			goto nomem;
	}
	return EXIT_OK;
nomem:
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

/*
 * Our working directory as the shell names it: $PWD while it is still
 * where we are (it keeps the symbolic links the user went through), else
 * what getcwd says. -1 when neither can be had (the directory was removed).
 */
static int task_here(char *out, size_t n)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < n && stat(pwd, &a) == 0 &&
	    stat(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		memcpy(out, pwd, strlen(pwd) + 1);
		return 0;
	}
	return getcwd(out, n) != NULL ? 0 : -1;
}

/* Where the task runs (DESIGN §5): --cwd DIR, relative to ours, else ours. */
static int task_cwd(const struct ctl_args *a, char *out, size_t n)
{
	const char *dir = args_get(a, "cwd");
	char here[TASK_CWD_MAX + 1];
	struct stat st;
	int len;

	if (dir != NULL && dir[0] == '\0')
		return ctl_usage_error(a->cmd, "invalid directory '' for --cwd");
	if (dir == NULL || dir[0] != '/') {
		if (task_here(here, sizeof here) < 0)
			return ctl_usage_error(a->cmd, "cannot tell the current directory "
			    "(%s): give the task's with --cwd DIR", strerror(errno));
		len = dir == NULL ? snprintf(out, n, "%s", here) :
		    snprintf(out, n, "%s%s%s", here, strcmp(here, "/") == 0 ? "" : "/", dir);
	} else
		len = snprintf(out, n, "%s", dir);
	if (len < 0 || (size_t)len >= n || len > TASK_CWD_MAX)
		return ctl_usage_error(a->cmd, "the task's working directory is longer "
		    "than %d bytes", TASK_CWD_MAX);
	/* A typo shows now, not when a worker tries to enter it. */
	if (dir != NULL && stat(out, &st) != 0)
		return ctl_usage_error(a->cmd, "invalid directory '%s' for --cwd: %s", dir,
		    strerror(errno));
	if (dir != NULL && !S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "invalid directory '%s' for --cwd: not a "
		    "directory", dir);
	return EXIT_OK;
}

/* A name the daemon takes (daemon/validate.c): no '=', no control character, not too long. */
static int task_env_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > TASK_ENV_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || name[i] == '=')
			return 0;
	return 1;
}

/*
 * Sets env's name (len bytes of it) to value, over what it held. A
 * variable of depotctl's environment the daemon could not take (not
 * UTF-8, too long) is left out with a word on stderr; one given with
 * --env is a usage error.
 */
static int task_env_set(const struct ctl_args *a, cJSON *env, const char *name,
    size_t len, const char *value, int from_option, int fresh)
{
	char key[TASK_ENV_NAME_MAX + 1];
	const char *why = NULL;

	if (!task_env_name_ok(name, len))
		why = "a name is 1 to 1024 bytes, without '=' or control characters";
	else if (!utf8_valid(name, len) || !utf8_valid(value, strlen(value)))
		why = "depot stores text: the name and value must be UTF-8";
	else if (strlen(value) > TASK_ENV_VALUE_MAX)
		why = "a value is at most 128KiB";
	if (why != NULL && from_option)
		return ctl_usage_error(a->cmd, "invalid variable '%.*s' for --env: %s",
		    (int)(len > 64 ? 64 : len), name, why);
	if (why != NULL) {
		ctl_error("leaving '%.*s' out of the task's environment: %s",
		    (int)(len > 64 ? 64 : len), name, why);
		return EXIT_OK;
	}
	memcpy(key, name, len);
	key[len] = '\0';
	if (!fresh)
		cJSON_DeleteItemFromObjectCaseSensitive(env, key);
	if (cJSON_AddStringToObject(env, key, value) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/*
 * For each entry of environ, whether an earlier one has its name: those
 * rare ones are looked up among the names taken so far; every other is
 * new, and added without a lookup (O(n log n), not O(n²), for a shell's
 * environment). NULL when out of memory: then every entry is looked up.
 */
static unsigned char *task_environ_repeats(void)
{
	size_t n = 0, k = 0;
	struct name_ref *names;
	unsigned char *repeat;

	while (environ[n] != NULL)
		n++;
	names = malloc((n ? n : 1) * sizeof *names);
	repeat = calloc(n ? n : 1, 1);
	if (names == NULL || repeat == NULL) {
		free(names);
		free(repeat);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');

		if (eq != NULL && eq > environ[i])
			names[k++] = (struct name_ref){ environ[i], (size_t)(eq - environ[i]), i };
	}
	names_mark_repeats(names, k, repeat);
	free(names);
	return repeat;
}

/*
 * The task's environment (DESIGN §5): ours, or nothing with --clean-env;
 * PWD made the task's working directory, as cd would; then each --env
 * NAME=VALUE, or NAME for our value of it. The daemon leaves out what
 * [tasks] env_deny names and says so in the task's env_denied.
 */
static int task_env(const struct ctl_args *a, const char *cwd, cJSON **out)
{
	int clean = args_has(a, "clean-env");
	size_t n, total = 0;
	char **vals;
	const cJSON *v;
	cJSON *env;
	unsigned char *repeat;
	int rc, count = 0;

	if ((*out = env = cJSON_CreateObject()) == NULL)
		goto nomem;
	repeat = clean ? NULL : task_environ_repeats();
	for (size_t i = 0; !clean && environ[i] != NULL; i++) {
		const char *e = environ[i], *eq = strchr(e, '=');
		size_t len = eq != NULL ? (size_t)(eq - e) : 0;
		int fresh = repeat != NULL && !repeat[i];
		char key[TASK_ENV_NAME_MAX + 1];

		if (len == 0)
			continue;
		/*
		 * The first of a name given twice is the one getenv sees (or,
		 * left out, the next that can be taken).
		 */
		if (!fresh && len <= TASK_ENV_NAME_MAX) {
			memcpy(key, e, len);
			key[len] = '\0';
			if (cJSON_GetObjectItemCaseSensitive(env, key) != NULL)
				continue;
		}
		if ((rc = task_env_set(a, env, e, len, eq + 1, 0, fresh)) != EXIT_OK) {
			free(repeat);
			return rc;
		}
	}
	free(repeat);
	if (!clean && (rc = task_env_set(a, env, "PWD", 3, cwd, 0, 0)) != EXIT_OK)
		return rc;
	n = args_values(a, "env", &vals);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(vals[i], '='), *value = eq != NULL ? eq + 1 : NULL;
		size_t len = eq != NULL ? (size_t)(eq - vals[i]) : strlen(vals[i]);

		if (value == NULL && task_env_name_ok(vals[i], len) &&
		    (value = getenv(vals[i])) == NULL)
			return ctl_usage_error(a->cmd, "invalid variable '%s' for --env: "
			    "it is not set here; give NAME=VALUE", vals[i]);
		if ((rc = task_env_set(a, env, vals[i], len, value != NULL ? value : "", 1, 0))
		    != EXIT_OK)
			return rc;
	}
	cJSON_ArrayForEach(v, env) {
		count++;
		total += strlen(v->string) + strlen(v->valuestring) + 2;
	}
	if (count > TASK_ENV_VARS_MAX || total > TASK_ENV_TOTAL_MAX)
		return ctl_usage_error(a->cmd, "the task's environment holds %d variables "
		    "in %zu bytes, more than depot takes (%d, %d bytes): give only what "
		    "the command needs, with --clean-env --env NAME", count, total,
		    TASK_ENV_VARS_MAX, TASK_ENV_TOTAL_MAX);
	return EXIT_OK;
nomem:
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

/*
 * The task.submit args of `run`: an exec task of the positional
 * arguments, with run's options. The one builder of them, for run, for a
 * schedule's run template (cmd-schedule.c) and for each line of run
 * --batch (batch.c). *out is the caller's; EXIT_OK or the error, said.
 */
int task_exec_args(const struct ctl_args *a, cJSON **out)
{
	int rc = task_exec_core(a, out);

	if (rc == EXIT_OK && (rc = task_exec_context(a, *out)) != EXIT_OK) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

/* Where and with what it runs (cwd, env): as it would in the submitter's shell. */
int task_exec_context(const struct ctl_args *a, cJSON *req)
{
	char cwd[TASK_CWD_MAX + 2];
	cJSON *env = NULL;
	int rc;

	if ((rc = task_cwd(a, cwd, sizeof cwd)) != EXIT_OK ||
	    (rc = task_env(a, cwd, &env)) != EXIT_OK) {
		cJSON_Delete(env);
		return rc;
	}
	if (cJSON_AddStringToObject(req, "cwd", cwd) == NULL ||
	    !cJSON_AddItemToObject(req, "env", env)) {
		cJSON_Delete(env);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* All of run's task.submit args but the context: the command, reservations, name, timing. */
int task_exec_core(const struct ctl_args *a, cJSON **out)
{
	const char *name = args_get(a, "name"), *timeout = args_get(a, "timeout");
	cJSON *req, *argv, *resources;
	int64_t timeout_ms = 0;
	int rc;

	*out = NULL;
	if (a->argc > TASK_ARGV_MAX)
		return ctl_usage_error(a->cmd, "too many arguments: a command line "
		    "holds at most %d", TASK_ARGV_MAX);
	if (name != NULL && (name[0] == '\0' || strlen(name) > TASK_NAME_MAX))
		return ctl_usage_error(a->cmd, "invalid name for --name: 1 to %d bytes",
		    TASK_NAME_MAX);
	if (timeout != NULL &&
	    (rc = args_duration(a, "timeout", timeout, &timeout_ms)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL)
		goto nomem;
	if (cJSON_AddStringToObject(req, "type", task_type_name(TASKTYPE_EXEC)) == NULL ||
	    (argv = cJSON_AddArrayToObject(req, "argv")) == NULL ||
	    (resources = cJSON_AddArrayToObject(req, "resources")) == NULL)
		goto nomem;
	for (int i = 0; i < a->argc; i++) {
		cJSON *s = cJSON_CreateString(a->argv[i]);

		if (s == NULL || !cJSON_AddItemToArray(argv, s)) {
			cJSON_Delete(s);
			goto nomem;
		}
	}
	/* No --lock or --shared: an empty list; the daemon adds `depot` shared itself. */
	if ((rc = task_add_resources(a, resources, "lock", "exclusive")) != EXIT_OK ||
	    (rc = task_add_resources(a, resources, "shared", "shared")) != EXIT_OK ||
	    (rc = task_add_resources(a, resources, "slot", "slot")) != EXIT_OK ||
	    (rc = task_chain_args(a, req)) != EXIT_OK) {
		cJSON_Delete(req);
		return rc;
	}
	if (name != NULL && cJSON_AddStringToObject(req, "name", name) == NULL)
		goto nomem;
	if (timeout != NULL &&
	    cJSON_AddNumberToObject(req, "timeout_ms", (double)timeout_ms) == NULL)
		goto nomem;
	*out = req;
	return EXIT_OK;
nomem:
	cJSON_Delete(req);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

/*
 * Whether the daemon retries this final task: it had retries left and
 * ended as share/reasons.def says --retries follows.
 */
static int task_retried(const cJSON *task)
{
	const char *reason = json_str(cJSON_GetObjectItemCaseSensitive(task, "error"),
	    "reason");
	enum task_state state;
	int64_t left;

	return task_state_of(task, &state) == 0 && json_int(task, "retries", &left) == 0 &&
	    left > 0 && task_retriable(state, reason);
}

/*
 * The id of the task that retries task id (its retry_of), or 0. The daemon
 * submits a retry before it answers the wait on the old task, so the
 * retry is among the unfinished tasks by then.
 */
static int task_find_retry(struct ctl_ctx *ctx, int64_t id, int64_t *retry)
{
	const cJSON *task;
	cJSON *req, *list;
	int64_t of;
	int rc;

	*retry = 0;
	/* Newest first, and the retry is among the newest: the default limit does. */
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "state", TASK_FILTER_ACTIVE) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, CMD_task_list, req, CTL_CALL_TIMEOUT_MS, &list)) != EXIT_OK)
		return rc;
	cJSON_ArrayForEach(task, list)
		if (json_int(task, "retry_of", &of) == 0 && of == id &&
		    json_int(task, "id", retry) == 0)
			break;
	cJSON_Delete(list);
	return EXIT_OK;
}

/*
 * Prints task id's output from the start as it is written, as `task log
 * -f` does, until the task is final and all of it is out; *timed_out
 * when deadline (time_mono_ms, 0 for none) passes first. A reader that
 * went away ends the printing, not the wait.
 */
static int task_stream(struct ctl_ctx *ctx, int64_t id, int64_t deadline, int *timed_out)
{
	int64_t offset = 0, size;
	cJSON *r = NULL;
	int rc;

	*timed_out = 0;
	for (;;) {
		const char *data;

		cJSON_Delete(r);
		if ((rc = task_log_chunk(ctx, id, &offset, &r)) != EXIT_OK) {
			cJSON_Delete(r);
			return rc;
		}
		data = json_str(r, "data");
		if (json_int(r, "size", &size) != 0)
			size = offset;
		if (task_log_write(data) != 0)
			break;
		if (data[0] != '\0' && offset < size)
			continue;
		if (json_true(r, "final"))
			break;
		if (deadline > 0 && time_mono_ms() >= deadline) {
			*timed_out = 1;
			break;
		}
		if (data[0] == '\0')
			task_sleep_ms(TASK_FOLLOW_MS);
	}
	cJSON_Delete(r);
	return EXIT_OK;
}

/*
 * One task.wait for id, answered when it is final or, with a deadline
 * (time_mono_ms; 0 for none), when that passes. *waited is the reply.
 */
static int task_wait_one(struct ctl_ctx *ctx, int64_t id, int64_t deadline, cJSON **waited)
{
	int64_t left = deadline > 0 ? deadline - time_mono_ms() : -1;
	cJSON *req;

	if (deadline > 0 && left < 0)
		left = 0;
	if ((req = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(req, "ids", json_ids(&id, 1)) ||
	    (left >= 0 && cJSON_AddNumberToObject(req, "timeout_ms", (double)left) == NULL)) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return call(ctx, CMD_task_wait, req, left >= 0 ? task_wait_timeout(left) : -1, waited);
}

/*
 * task_wait_one, and while it lasts a progress line on bar (when on),
 * redrawn each TASK_PROGRESS_MS from the task as task.wait answers it
 * when its short timeout passes. task.wait rather than the event stream:
 * PUB drops events for a slow reader and a subscription made after the
 * submit can miss the first ones, while each answer here is the whole
 * task as it is now, and the one after the task ends comes at once, not
 * at the next poll. Only a timeout of deadline's own reads as timed out.
 */
static int task_wait_shown(struct ctl_ctx *ctx, int64_t id, int64_t deadline,
    struct progress *bar, cJSON **waited)
{
	int rc;

	if (!bar->on)
		return task_wait_one(ctx, id, deadline, waited);
	for (;;) {
		int64_t tick = time_mono_ms() + TASK_PROGRESS_MS;
		const cJSON *task;

		if (deadline > 0 && deadline < tick)
			tick = deadline;
		if ((rc = task_wait_one(ctx, id, tick, waited)) != EXIT_OK)
			return rc;
		task = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(*waited, "tasks"), 0);
		if (task == NULL || !json_true(*waited, "timed_out") ||
		    (deadline > 0 && time_mono_ms() >= deadline))
			return EXIT_OK;
		progress_show(bar, task);
		cJSON_Delete(*waited);
		*waited = NULL;
	}
}

/*
 * A variable given with --env that [tasks] env_deny dropped is named on
 * stderr: asked for by name, its absence would surprise. What came from
 * the environment alone is only listed by task show, or every run from
 * a shell with a token exported would say so.
 */
void task_denied_note(char *const *vals, size_t n, const cJSON *denied)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, denied) {
		for (size_t i = 0; cJSON_IsString(d) && i < n; i++) {
			size_t len = strcspn(vals[i], "=");

			if (strlen(d->valuestring) == len &&
			    strncmp(vals[i], d->valuestring, len) == 0) {
				fflush(stdout);
				fprintf(stderr, "%s: --env %s was left out of the task's "
				    "environment: depot.conf's [tasks] env_deny names it\n",
				    ctl_prog, d->valuestring);
				break;
			}
		}
	}
}

/* run --wait's own failures are 125, apart from every status its command may exit with. */
static int task_own_failure(const struct task_waiting *w, int rc)
{
	return w->command_status && rc != EXIT_OK ? EXIT_CMD_DEPOT_FAILED : rc;
}

/*
 * What every command that submits a task does (run, sync, publish,
 * backup, restore, orphans clean): task.submit with req (consumed), then
 * print the new task's id, or the task with --json. With w->wait: the id
 * at once (not with --json), the task's output as it comes when
 * w->stream (then depotctl's own lines go to stderr, so stdout is the
 * command's alone), one task.wait, the final task in a line (or as JSON),
 * and the outcome as the exit code: task_command_status for run --wait,
 * else task_outcome. A task the daemon retries (--retries) is followed
 * to its last attempt, whose outcome counts; each retry is named on
 * stderr.
 */
static int task_submit_with(struct ctl_ctx *ctx, cJSON *req, const struct task_waiting *w)
{
	FILE *own = w->stream && !ctx->json ? stderr : stdout;
	cJSON *task = NULL, *waited = NULL, *final;
	int64_t id = 0, retry, deadline = 0;
	int rc, timed_out = 0;
	struct progress bar;
	char why[1024];

	progress_begin(&bar);
	/* Streamed output has the terminal: a line drawn over it would garble both. */
	bar.on = bar.on && w->wait && w->progress && !w->stream;

	if ((rc = call(ctx, w->restart ? CMD_task_restart : CMD_task_submit, req,
	    CTL_CALL_TIMEOUT_MS, &task)) != EXIT_OK)
		return task_own_failure(w, rc);
	if (json_int(task, "id", &id) != 0 || id <= 0) {
		ctl_error("depotd's answer to task.submit holds no task id");
		cJSON_Delete(task);
		return task_own_failure(w, EXIT_REFUSED);
	}
	if (w->run != NULL) {
		char **vals;
		size_t n = args_values(w->run, "env", &vals);

		task_denied_note(vals, n, cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(task, "args"), "env_denied"));
	}
	if (!w->wait) {
		rc = ctx->json ? json_print(task) : (printf("%lld\n", (long long)id), EXIT_OK);
		cJSON_Delete(task);
		return rc;
	}
	/* The id first, at once: whoever watches can follow or cancel it meanwhile. */
	if (!ctx->json) {
		fprintf(own, "%lld\n", (long long)id);
		fflush(own);
	}
	progress_show(&bar, task);
	cJSON_Delete(task);
	if (w->timeout_ms >= 0)
		deadline = time_mono_ms() + (w->timeout_ms > 0 ? w->timeout_ms : 1);
	for (;;) {
		if (w->stream && !ctx->json &&
		    (rc = task_stream(ctx, id, deadline, &timed_out)) != EXIT_OK)
			goto lost;
		if ((rc = task_wait_shown(ctx, id, deadline, &bar, &waited)) != EXIT_OK)
			goto lost;
		final = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(waited, "tasks"), 0);
		if (final == NULL) {
			progress_end(&bar);
			ctl_error("depotd's answer to task.wait holds no task %lld", (long long)id);
			cJSON_Delete(waited);
			return task_own_failure(w, EXIT_REFUSED);
		}
		timed_out = json_true(waited, "timed_out");
		if (timed_out || !task_retried(final))
			break;
		if ((rc = task_find_retry(ctx, id, &retry)) != EXIT_OK) {
			progress_end(&bar);
			cJSON_Delete(waited);
			return task_own_failure(w, rc);
		}
		if (retry == 0)
			break;
		task_describe_error(final, why, sizeof why);
		ctl_error("task %lld %s (%s); waiting for its retry, task %lld",
		    (long long)id, json_str(final, "state"), why, (long long)retry);
		cJSON_Delete(waited);
		id = retry;
	}
	progress_end(&bar);
	if (ctx->json && (rc = json_print(final)) != EXIT_OK) {
		cJSON_Delete(waited);
		return task_own_failure(w, rc);
	}
	if (timed_out) {
		ctl_note_failure(CTL_CODE_TIMEOUT, NULL);
		ctl_error("stopped waiting for task %lld, which is %s: see '%s task show %lld'",
		    (long long)id, json_str(final, "state") != NULL ? json_str(final, "state") :
		    "not finished", ctl_prog, (long long)id);
		rc = w->command_status ? EXIT_CMD_TIMED_OUT : EXIT_WAIT_TIMEOUT;
	} else {
		/* DESIGN §11: after the id, the final task — in a line, for people. */
		if (!ctx->json) {
			task_outcome_line(own, final);
			if (w->completed != NULL && json_str(final, "state") != NULL &&
			    strcmp(json_str(final, "state"), task_state_name(TASK_COMPLETED)) == 0)
				w->completed(final);
		}
		rc = w->command_status ? task_command_status(final) : task_outcome(final);
	}
	cJSON_Delete(waited);
	return rc;
lost:
	progress_end(&bar);
	/* The task is queued whatever happened to the wait: say where it is. */
	ctl_error("task %lld was submitted; see '%s task show %lld'", (long long)id,
	    ctl_prog, (long long)id);
	return task_own_failure(w, rc);
}

int task_submit(struct ctl_ctx *ctx, cJSON *req, int wait)
{
	struct task_waiting w = { .wait = wait, .progress = 1, .timeout_ms = -1 };

	return task_submit_with(ctx, req, &w);
}

int task_submit_then(struct ctl_ctx *ctx, cJSON *req, int wait,
    void (*completed)(const cJSON *task))
{
	struct task_waiting w = { .wait = wait, .progress = 1, .timeout_ms = -1,
		.completed = completed };

	return task_submit_with(ctx, req, &w);
}

/*
 * run: with --wait its exit code is the command's, so each of depotctl's
 * own failures is 125 (124 for a wait that ran out), never a code the
 * command could have exited with.
 */
int cmd_run(struct ctl_ctx *ctx, struct ctl_args *a)
{
	struct task_waiting w = { .wait = args_has(a, "wait"), .timeout_ms = -1, .run = a };
	const char *wait_timeout = args_get(a, "wait-timeout");
	cJSON *req;
	int rc;

	if (args_has(a, "batch"))
		return cmd_run_batch(ctx, a);
	if (a->argc == 0)
		return ctl_usage_error(a->cmd, "missing CMD (or --batch FILE)");
	ctl_command_status = w.command_status = w.wait;
	w.stream = w.wait && !args_has(a, "quiet");
	if (!w.wait && (args_has(a, "quiet") || wait_timeout != NULL))
		return ctl_usage_error(a->cmd, "--%s goes with --wait",
		    args_has(a, "quiet") ? "quiet" : "wait-timeout");
	if (wait_timeout != NULL &&
	    (rc = args_duration(a, "wait-timeout", wait_timeout, &w.timeout_ms)) != EXIT_OK)
		return w.wait ? EXIT_CMD_DEPOT_FAILED : rc;
	if ((rc = task_exec_args(a, &req)) != EXIT_OK)
		return w.wait ? EXIT_CMD_DEPOT_FAILED : rc;
	return task_submit_with(ctx, req, &w);
}

int cmd_task_list(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const headers[] = {
		"ID", "STATE", "TYPE", "NAME", "RESOURCES", "WORKER", "AGE", "PROGRESS",
	};
	const char *state = args_get(a, "state"), *resource = args_get(a, "resource");
	const char *limit = args_get(a, "limit");
	struct out_table *t;
	enum task_state s;
	cJSON *req, *list;
	const cJSON *task;
	long long n = 0;
	int rc;

	if (state != NULL && strcmp(state, TASK_FILTER_ACTIVE) != 0 &&
	    task_state_parse(state, &s) < 0) {
		char states[256];

		task_states_join(states, sizeof states, -1, "", ", ");
		return ctl_usage_error(a->cmd, "invalid state '%s' for --state: "
		    "expected %s or %s", state, states, TASK_FILTER_ACTIVE);
	}
	if (resource != NULL && (resource[0] == '\0' || strlen(resource) > DEPOT_RESOURCE_MAX))
		return ctl_usage_error(a->cmd, "invalid resource '%s' for --resource: "
		    "a name is 1 to %d bytes", resource, DEPOT_RESOURCE_MAX);
	if (limit != NULL) {
		char *end;

		n = strtoll(limit, &end, 10);
		if (*limit == '\0' || *end != '\0' || n < 1 || n > TASK_LIST_MAX)
			return ctl_usage_error(a->cmd, "invalid limit '%s' for --limit: "
			    "expected 1 to %d", limit, TASK_LIST_MAX);
	}
	if ((req = cJSON_CreateObject()) == NULL ||
	    (state != NULL && cJSON_AddStringToObject(req, "state", state) == NULL) ||
	    (resource != NULL && cJSON_AddStringToObject(req, "resource", resource) == NULL) ||
	    (limit != NULL && cJSON_AddNumberToObject(req, "limit", (double)n) == NULL)) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_task_list, req, &list)) != EXIT_OK ||
	    list == NULL)
		return rc;
	if ((t = out_table_new(8, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 3, 32);
	out_table_limit(t, 4, 40);
	cJSON_ArrayForEach(task, list) {
		char id[24], age[32], res[2048], prog[96];
		int64_t v = 0;

		(void)json_int(task, "id", &v);
		snprintf(id, sizeof id, "%lld", (long long)v);
		out_age(json_str(task, "created_at"), age, sizeof age);
		out_resources(cJSON_GetObjectItemCaseSensitive(task, "resources"), res, sizeof res);
		out_progress(task, prog, sizeof prog);
		if (out_table_add(t, (const char *const[]){ id, json_str(task, "state"),
		    json_str(task, "type"), json_str(task, "name"), res,
		    json_str(task, "worker"), age, prog }) != 0)
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

/* A string field for a terminal: control characters shown as '?'. */
static void task_show_str(const char *key, const char *s)
{
	size_t n;
	char *clean;

	if (s == NULL) {
		out_kv(stdout, 0, key, "-");
		return;
	}
	n = strlen(s) * 3 + 4;
	if ((clean = malloc(n)) == NULL) {
		out_kv(stdout, 0, key, "(out of memory)");
		return;
	}
	out_clean(s, 0, clean, n);
	out_kv(stdout, 0, key, "%s", clean);
	free(clean);
}

/*
 * An exec task's argv as a shell would need it typed ("sh -c 'exit 3'"),
 * for task show and schedule list; NULL when argv is not an array or
 * memory ran out. The caller frees it.
 */
char *task_argv_line(const cJSON *argv)
{
	const cJSON *arg;
	char *line;
	size_t n = 1, l = 0;

	if (!cJSON_IsArray(argv))
		return NULL;
	cJSON_ArrayForEach(arg, argv)
		n += (cJSON_IsString(arg) ? strlen(arg->valuestring) * 4 : 1) + 3;
	if ((line = malloc(n)) == NULL)
		return NULL;
	cJSON_ArrayForEach(arg, argv) {
		const char *s = cJSON_IsString(arg) ? arg->valuestring : "?";
		int plain = *s != '\0' &&
		    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_@%+=:,./-") == strlen(s);

		if (l > 0)
			line[l++] = ' ';
		if (plain) {
			memcpy(line + l, s, strlen(s));
			l += strlen(s);
			continue;
		}
		line[l++] = '\'';
		for (; *s != '\0'; s++) {
			if (*s == '\'') {
				memcpy(line + l, "'\\''", 4);
				l += 4;
			} else
				line[l++] = *s;
		}
		line[l++] = '\'';
	}
	line[l] = '\0';
	return line;
}

static void task_show_command(const cJSON *task)
{
	char *line = task_argv_line(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "argv"));

	if (line != NULL)
		task_show_str("command", line);
	free(line);
}

static int task_env_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/*
 * An exec task's working directory and environment, a variable a line
 * (long values cut: --json has them whole), and the names [tasks]
 * env_deny kept out of it, which were never stored.
 */
static void task_show_environment(const cJSON *args)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(args, "env"), *v;
	const cJSON *denied = cJSON_GetObjectItemCaseSensitive(args, "env_denied");
	char line[TASK_SHOW_VALUE_WIDTH * 4 + 8];
	const cJSON **sorted;
	size_t n = 0;

	task_show_str("cwd", json_str(args, "cwd"));
	if (!cJSON_IsObject(env))
		out_kv(stdout, 0, "environment", "-");
	else
		out_kv(stdout, 0, "environment", "%d variable%s", cJSON_GetArraySize(env),
		    cJSON_GetArraySize(env) == 1 ? "" : "s");
	/* By name, as env | sort shows them; stored in the submitter's order. */
	if ((sorted = calloc((size_t)cJSON_GetArraySize(env) + 1, sizeof *sorted)) == NULL)
		return;
	cJSON_ArrayForEach(v, env)
		sorted[n++] = v;
	qsort(sorted, n, sizeof *sorted, task_env_cmp);
	for (size_t i = 0; i < n; i++) {
		char name[TASK_SHOW_VALUE_WIDTH * 4 + 8];

		v = sorted[i];
		out_clean(v->string, TASK_SHOW_VALUE_WIDTH, name, sizeof name);
		out_clean(cJSON_IsString(v) ? v->valuestring : "?", TASK_SHOW_VALUE_WIDTH,
		    line, sizeof line);
		out_kv(stdout, 2, name, "%s", line);
	}
	free(sorted);
	if (cJSON_GetArraySize(denied) > 0) {
		char *names = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&names, &len);

		if (f == NULL)
			return;
		cJSON_ArrayForEach(v, denied)
			fprintf(f, "%s%s", v == denied->child ? "" : " ",
			    cJSON_IsString(v) ? v->valuestring : "?");
		fclose(f);
		task_show_str("env left out", names);
		free(names);
	}
}

/* A time that may be ahead (not_before) or behind: "… (in 0.8s)", "… (2.0s ago)". */
static void task_show_when(const char *key, const char *t)
{
	char when[48];

	out_when(t, when, sizeof when);
	out_kv(stdout, 0, key, "%s (%s)", t, when);
}

int cmd_task_show(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const shown[] = {
		"id", "type", "name", "state", "args", "resources", "worker",
		"created_at", "started_at", "finished_at", "timeout", "progress",
		"stalled", "error", "result", "schedule", "retry_of", "after",
		"retries", "not_before", NULL,
	};
	const cJSON *progress, *args, *result, *item;
	char buf[2048], why[1024];
	cJSON *req, *task;
	int64_t v;
	int rc;

	if ((rc = args_id_request(a, a->argv[0], &req)) != EXIT_OK)
		return rc;
	if ((rc = call_for_people(ctx, CMD_task_show, req, &task)) != EXIT_OK ||
	    task == NULL)
		return rc;
	(void)json_int(task, "id", &v);
	out_kv(stdout, 0, "id", "%lld", (long long)v);
	task_show_str("type", json_str(task, "type"));
	task_show_str("name", json_str(task, "name"));
	task_show_str("state", json_str(task, "state"));
	args = cJSON_GetObjectItemCaseSensitive(task, "args");
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(args, "argv"))) {
		task_show_command(task);
		task_show_environment(args);
	} else if (args != NULL && !cJSON_IsNull(args)) {
		char *text = cJSON_PrintUnformatted(args);

		task_show_str("args", text);
		cJSON_free(text);
	}
	out_resources(cJSON_GetObjectItemCaseSensitive(task, "resources"), buf, sizeof buf);
	task_show_str("resources", buf);
	task_show_str("worker", json_str(task, "worker"));
	out_kv_time("created", task, "created_at");
	out_kv_time("started", task, "started_at");
	out_kv_time("finished", task, "finished_at");
	if (json_int(task, "timeout", &v) == 0) {
		time_format_duration(v, buf, sizeof buf);
		out_kv(stdout, 0, "timeout", "%s", buf);
	} else
		out_kv(stdout, 0, "timeout", "-");
	progress = cJSON_GetObjectItemCaseSensitive(task, "progress");
	out_progress(task, buf, sizeof buf);
	if (json_str(progress, "message") != NULL) {
		size_t l = strlen(buf);

		snprintf(buf + l, sizeof buf - l, " (%s)", json_str(progress, "message"));
	}
	task_show_str("progress", buf);
	out_kv(stdout, 0, "stalled", "%s", json_true(task, "stalled") ? "yes" : "no");
	task_describe_error(task, why, sizeof why);
	task_show_str("error", cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(task, "error"))
	    ? why : NULL);
	result = cJSON_GetObjectItemCaseSensitive(task, "result");
	if (json_int(result, "exit_status", &v) == 0 && cJSON_GetArraySize(result) == 1)
		out_kv(stdout, 0, "result", "exit status %lld", (long long)v);
	else if (json_int(result, "signal", &v) == 0 && cJSON_GetArraySize(result) == 1)
		out_kv(stdout, 0, "result", "killed by signal %lld", (long long)v);
	else if (result != NULL && !cJSON_IsNull(result)) {
		char *text = cJSON_PrintUnformatted(result);

		task_show_str("result", text);
		cJSON_free(text);
	} else
		out_kv(stdout, 0, "result", "-");
	/* What chains and schedules a task: only when set. */
	item = cJSON_GetObjectItemCaseSensitive(task, "schedule");
	if (cJSON_IsString(item))
		task_show_str("schedule", item->valuestring);
	else if (item != NULL && !cJSON_IsNull(item)) {
		char *text = cJSON_PrintUnformatted(item);

		task_show_str("schedule", text);
		cJSON_free(text);
	}
	if (json_int(task, "retry_of", &v) == 0)
		out_kv(stdout, 0, "retry of", "%lld", (long long)v);
	if (json_int(task, "after", &v) == 0)
		out_kv(stdout, 0, "after", "%lld", (long long)v);
	if (json_int(task, "retries", &v) == 0 && v > 0)
		out_kv(stdout, 0, "retries", "%lld", (long long)v);
	if (json_str(task, "not_before") != NULL)
		task_show_when("not before", json_str(task, "not_before"));
	/* Fields this depotctl does not know yet, as JSON. */
	cJSON_ArrayForEach(item, task) {
		int known = 0;
		char *text;

		for (int i = 0; shown[i] != NULL; i++)
			if (item->string != NULL && strcmp(item->string, shown[i]) == 0)
				known = 1;
		if (known || item->string == NULL)
			continue;
		if (cJSON_IsNull(item))
			out_kv(stdout, 0, item->string, "-");
		else if (cJSON_IsString(item))
			task_show_str(item->string, item->valuestring);
		else if ((text = cJSON_PrintUnformatted(item)) != NULL) {
			task_show_str(item->string, text);
			cJSON_free(text);
		}
	}
	cJSON_Delete(task);
	return EXIT_OK;
}

static void task_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int task_log_write(const char *data)
{
	size_t n = strlen(data);

	if (n > 0 && (fwrite(data, 1, n, stdout) != n || fflush(stdout) != 0))
		return -1;
	return 0;
}

/*
 * One task.log request for id from *offset: *reply (the caller's) holds
 * data, offset, size and final, checked; *offset moves past the data.
 */
static int task_log_chunk(struct ctl_ctx *ctx, int64_t id, int64_t *offset, cJSON **reply)
{
	int64_t next;
	cJSON *req;
	int rc;

	*reply = NULL;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(req, "id", (double)id) == NULL ||
	    cJSON_AddNumberToObject(req, "offset", (double)*offset) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, CMD_task_log, req, CTL_CALL_TIMEOUT_MS, reply)) != EXIT_OK)
		return rc;
	if (json_str(*reply, "data") == NULL || json_int(*reply, "offset", &next) != 0) {
		ctl_error("depotd's answer to task.log holds no data or offset");
		return EXIT_REFUSED;
	}
	/* The offset must move with the data, or we would print it again forever. */
	if (json_str(*reply, "data")[0] != '\0' && next <= *offset) {
		ctl_error("depotd's answer to task.log did not move the offset past %lld",
		    (long long)*offset);
		return EXIT_REFUSED;
	}
	*offset = next;
	return EXIT_OK;
}

/*
 * Reads the log from offset 0 in the chunks the daemon hands out. Without
 * --follow it stops at the end of what is written; with it, it polls until
 * the task is final and nothing is left. With --json, one document with
 * all the data (the last reply's offset, size and final); with --json
 * --follow, each reply as one line, as they come.
 */
int cmd_task_log(struct ctl_ctx *ctx, struct ctl_args *a)
{
	int follow = args_has(a, "follow");
	int64_t id, offset = 0, size;
	char *all = NULL;
	size_t alllen = 0;
	cJSON *r = NULL;
	int rc;

	if ((rc = args_task_id(a, a->argv[0], &id)) != EXIT_OK)
		return rc;
	for (;;) {
		const char *data;
		int final;

		cJSON_Delete(r);
		if ((rc = task_log_chunk(ctx, id, &offset, &r)) != EXIT_OK)
			goto out;
		data = json_str(r, "data");
		final = json_true(r, "final");
		if (json_int(r, "size", &size) != 0)
			size = offset;
		if (ctx->json && follow) {
			/* Polls that found nothing new are not news; the last reply is. */
			if ((data[0] != '\0' || final) && (rc = json_print_line(r)) != EXIT_OK)
				goto out;
		} else if (ctx->json) {
			size_t n = strlen(data);
			char *grown = realloc(all, alllen + n + 1);

			if (grown == NULL)
				goto nomem;
			all = grown;
			memcpy(all + alllen, data, n + 1);
			alllen += n;
		} else if (task_log_write(data) != 0) {
			rc = EXIT_OK;	/* the reader went away: ctl_finish reports it */
			goto out;
		}
		/* More is written already: read it at once. */
		if (data[0] != '\0' && offset < size)
			continue;
		if (!follow || final)
			break;
		if (data[0] == '\0')
			task_sleep_ms(TASK_FOLLOW_MS);
	}
	rc = EXIT_OK;
	if (ctx->json && !follow) {
		cJSON *s = cJSON_CreateString(all != NULL ? all : "");

		if (s == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(r, "data", s)) {
			cJSON_Delete(s);
			goto nomem;
		}
		rc = json_print(r);
	}
out:
	free(all);
	cJSON_Delete(r);
	return rc;
nomem:
	ctl_error("out of memory");
	rc = EXIT_REFUSED;
	goto out;
}

int cmd_task_cancel(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const cJSON *task;
	cJSON *req, *r;
	int rc;

	if ((rc = task_ids_request(a, &req)) != EXIT_OK)
		return rc;
	if ((rc = call_for_people(ctx, CMD_task_cancel, req, &r)) != EXIT_OK ||
	    r == NULL)
		return rc;
	cJSON_ArrayForEach(task, r) {
		const char *name = json_str(task, "state");
		enum task_state state;
		int64_t id = 0;

		(void)json_int(task, "id", &id);
		/* Canceled may be this request's doing; completed and failed never are. */
		if (task_state_of(task, &state) == 0 && task_state_final(state) &&
		    state != TASK_CANCELED)
			printf("%lld %s (had already ended)\n", (long long)id, name);
		else
			printf("%lld %s\n", (long long)id, name != NULL ? name : "?");
	}
	cJSON_Delete(r);
	return EXIT_OK;
}

/* The request's own timeout: the daemon's, plus grace, or forever when that does not fit. */
static int task_wait_timeout(int64_t ms)
{
	if (ms <= 0 || ms > INT_MAX - TASK_WAIT_GRACE_MS)
		return -1;
	return (int)ms + TASK_WAIT_GRACE_MS;
}

/*
 * One task.wait request, answered by the daemon when every task is final
 * or the timeout passed: no polling. Exits 5 on timeout, else 1 if any
 * failed, 4 if any was canceled, 0 when all completed.
 */
int cmd_task_wait(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *timeout = args_get(a, "timeout");
	int64_t timeout_ms = -1;
	cJSON *req;
	int rc;

	if (timeout != NULL &&
	    (rc = args_duration(a, "timeout", timeout, &timeout_ms)) != EXIT_OK)
		return rc;
	if ((rc = task_ids_request(a, &req)) != EXIT_OK)
		return rc;
	return task_wait_ids(ctx, req, timeout, timeout_ms);
}

int task_wait_ids(struct ctl_ctx *ctx, cJSON *req, const char *timeout, int64_t timeout_ms)
{
	const cJSON *tasks, *task;
	int rc, worst = EXIT_OK, unfinished = 0;
	cJSON *r;

	if (timeout != NULL &&
	    cJSON_AddNumberToObject(req, "timeout_ms", (double)timeout_ms) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	rc = call(ctx, CMD_task_wait, req,
	    timeout != NULL ? task_wait_timeout(timeout_ms) : -1, &r);
	if (rc != EXIT_OK)
		return rc;
	tasks = cJSON_GetObjectItemCaseSensitive(r, "tasks");
	cJSON_ArrayForEach(task, tasks) {
		enum task_state state;

		if (task_state_of(task, &state) < 0 || !task_state_final(state))
			unfinished++;
		else if (task_exit_code(state) == EXIT_REFUSED)
			worst = EXIT_REFUSED;
		else if (task_exit_code(state) == EXIT_CANCELED && worst == EXIT_OK)
			worst = EXIT_CANCELED;
		if (!ctx->json)
			task_outcome_line(stdout, task);
	}
	if (ctx->json && (rc = json_print(r)) != EXIT_OK) {
		cJSON_Delete(r);
		return rc;
	}
	if (json_true(r, "timed_out")) {
		ctl_error("timed out after %s with %d task%s not finished",
		    timeout != NULL ? timeout : "the daemon's limit", unfinished,
		    unfinished == 1 ? "" : "s");
		rc = EXIT_WAIT_TIMEOUT;
	} else
		rc = unfinished > 0 ? EXIT_REFUSED : worst;
	cJSON_Delete(r);
	return rc;
}

/* task restart: the new task's id, and with --wait its end, as every submitting command prints them. */
int cmd_task_restart(struct ctl_ctx *ctx, struct ctl_args *a)
{
	struct task_waiting w = { .wait = args_has(a, "wait"), .timeout_ms = -1, .restart = 1 };
	cJSON *req;
	int rc;

	if ((rc = args_id_request(a, a->argv[0], &req)) != EXIT_OK)
		return rc;
	return task_submit_with(ctx, req, &w);
}

/* The ids a task.remove or task.clean answer lists or counts, a line each. */
int cmd_task_remove(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const cJSON *id;
	cJSON *req, *r;
	int rc;

	if ((rc = task_ids_request(a, &req)) != EXIT_OK)
		return rc;
	/* The answer comes once the logs are unlinked, which a slow disk may take its time over. */
	if ((rc = call(ctx, CMD_task_remove, req, -1, &r)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(r);
	else
		cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(r, "removed"))
			printf("removed %lld\n", (long long)id->valuedouble);
	cJSON_Delete(r);
	return rc;
}

/*
 * --before TIME: a duration that long ago (7d), or a date and time as
 * --at takes them (local unless it names a zone), sent as RFC 3339 in
 * UTC. A time of day alone is refused: --at reads it as the next one,
 * which would clean everything up to now.
 */
static int task_before(const struct ctl_args *a, const char *s, char *out)
{
	int64_t now = time_now_ms(), ms;

	if (time_parse_duration(s, &ms) == 0 && ms >= 0) {
		time_format_rfc3339(now - ms, out);
		return EXIT_OK;
	}
	if (strchr(s, '-') != NULL && time_parse_local(s, now, &ms) == 0) {
		time_format_rfc3339(ms, out);
		return EXIT_OK;
	}
	return ctl_usage_error(a->cmd, "invalid --before '%s': expected a duration ago (7d, "
	    "12h), '2026-11-25 03:00' (local time) or RFC 3339 (2026-11-25T03:00:00Z)", s);
}

int cmd_task_clean(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *state = args_get(a, "state"), *before = args_get(a, "before");
	char before_text[TIME_RFC3339_LEN];
	enum task_state s;
	int64_t removed = 0;
	cJSON *req, *r;
	int rc;

	if (state != NULL && (task_state_parse(state, &s) < 0 || !task_state_final(s))) {
		char states[128];

		task_states_join(states, sizeof states, 1, "", " or ");
		return ctl_usage_error(a->cmd, "invalid --state '%s': a final state, %s",
		    state, states);
	}
	if (before != NULL && (rc = task_before(a, before, before_text)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    (state != NULL && cJSON_AddStringToObject(req, "state", state) == NULL) ||
	    (before != NULL && cJSON_AddStringToObject(req, "before", before_text) == NULL)) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	/* Slices of a big clean take their time: no deadline but the daemon's answer. */
	if ((rc = call(ctx, CMD_task_clean, req, -1, &r)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(r);
	else {
		(void)json_int(r, "removed", &removed);
		printf("removed %lld task%s\n", (long long)removed, removed == 1 ? "" : "s");
	}
	cJSON_Delete(r);
	return rc;
}
