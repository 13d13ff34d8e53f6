/* cmd-task.c: run and the task commands: submit, list, show, log, cancel and wait for tasks. */
#include "ctl.h"

#include "timeutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Limits of task.submit (doc/protocol.md), checked here to name the bad value early. */
#define TASK_ARGV_MAX 1024
#define TASK_NAME_MAX 200
#define TASK_RESOURCES_MAX 64
#define TASK_RETRIES_MAX 100
/* How often `task log -f` asks for more output. */
#define TASK_FOLLOW_MS 200
/* A wait with a timeout still gets its answer if the daemon is a little late. */
#define TASK_WAIT_GRACE_MS 30000

static int task_ids(struct ctl_args *a, int64_t **ids);
static int task_add_resources(const struct ctl_args *a, cJSON *list, const char *opt,
    const char *mode);
static int task_state_of(const cJSON *task, enum task_state *state);
static int task_exit_code(enum task_state state);
static void task_describe_error(const cJSON *task, char *buf, size_t n);
static int task_run_outcome(const cJSON *task);
static void task_outcome_line(const cJSON *task);
static int task_wait_timeout(int64_t ms);
static int task_retried(const cJSON *task);
static int task_find_retry(struct ctl_ctx *ctx, int64_t id, int64_t *retry);
static void task_show_str(const char *key, const char *s);
static void task_show_command(const cJSON *task);
static void task_show_when(const char *key, const char *t);
static void task_sleep_ms(int ms);
static int task_log_write(const char *data);

/* Every positional argument as a task id. */
static int task_ids(struct ctl_args *a, int64_t **ids)
{
	int rc;

	if ((*ids = calloc((size_t)a->argc, sizeof **ids)) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	for (int i = 0; i < a->argc; i++) {
		if ((rc = args_task_id(a, a->argv[i], &(*ids)[i])) != EXIT_OK) {
			free(*ids);
			*ids = NULL;
			return rc;
		}
	}
	return EXIT_OK;
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
 * run --wait's exit code, as if the command had run here: its exit status
 * when it ran to an end, 1 for any other failure, 4 when canceled.
 */
static int task_run_outcome(const cJSON *task)
{
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(task, "result");
	const char *name = json_str(task, "state");
	enum task_state state;
	char why[1024];
	int64_t id = 0, status;

	(void)json_int(task, "id", &id);
	task_describe_error(task, why, sizeof why);
	if (task_state_of(task, &state) < 0 || !task_state_final(state)) {
		ctl_error("task %lld %s%s%s", (long long)id,
		    name != NULL ? name : "ended in no known state",
		    why[0] != '\0' ? ": " : "", why);
		return EXIT_REFUSED;
	}
	if ((state == TASK_COMPLETED || state == TASK_FAILED) &&
	    json_int(result, "exit_status", &status) == 0 && status >= 0 && status <= 255 &&
	    (status != 0 || state == TASK_COMPLETED))
		return (int)status;
	if (state == TASK_CANCELED)
		ctl_error("task %lld was canceled%s%s", (long long)id,
		    why[0] != '\0' ? ": " : "", why);
	else if (state == TASK_FAILED)
		ctl_error("task %lld %s%s%s", (long long)id, name,
		    why[0] != '\0' ? ": " : "", why);
	return task_exit_code(state);
}

/* "42 failed (exit-status: …)": what cancel and wait print for each task. */
static void task_outcome_line(const cJSON *task)
{
	const char *state = json_str(task, "state");
	char why[1024], clean[1024];
	int64_t id = 0;

	(void)json_int(task, "id", &id);
	task_describe_error(task, why, sizeof why);
	out_clean(why, 0, clean, sizeof clean);
	printf("%lld %s%s%s%s\n", (long long)id, state != NULL ? state : "?",
	    clean[0] != '\0' ? " (" : "", clean, clean[0] != '\0' ? ")" : "");
}

/*
 * retries and after from --retries N and --after ID, for the commands that
 * take them (run, sync, publish, and the templates of schedule add); the
 * daemon's defaults when not given.
 */
int task_chain_args(const struct ctl_args *a, cJSON *req)
{
	const char *retries = NULL, *after = NULL;
	long long n;
	int64_t id;
	int rc;

	if (args_takes(a->cmd, "retries"))
		retries = args_get(a, "retries");
	if (args_takes(a->cmd, "after"))
		after = args_get(a, "after");
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
 * The task.submit args of `run`: an exec task of the positional
 * arguments, with run's options. The one builder of them, for run and for
 * a schedule's run template (cmd-schedule.c). *out is the caller's;
 * EXIT_OK or the error, said.
 */
int task_exec_args(const struct ctl_args *a, cJSON **out)
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

int cmd_run(struct ctl_ctx *ctx, struct ctl_args *a)
{
	cJSON *req;
	int rc;

	if ((rc = task_exec_args(a, &req)) != EXIT_OK)
		return rc;
	return task_submit(ctx, req, args_has(a, "wait"));
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
 * What every command that submits a task does (run, sync, publish,
 * orphans clean): task.submit with req (consumed), then print the new
 * task's id, or the task with --json. With wait: the id at once (not with
 * --json), then one task.wait, the final task with --json, and the
 * task's outcome as the exit code (task_run_outcome). A task the daemon
 * retries (--retries) is followed to its last attempt, whose outcome
 * counts; each retry is named on stderr.
 */
int task_submit(struct ctl_ctx *ctx, cJSON *req, int wait)
{
	return task_submit_then(ctx, req, wait, NULL);
}

int task_submit_then(struct ctl_ctx *ctx, cJSON *req, int wait,
    void (*completed)(const cJSON *task))
{
	cJSON *task = NULL, *waited = NULL, *final;
	int64_t id = 0, retry;
	char why[1024];
	int rc;

	if ((rc = call(ctx, CMD_task_submit, req, CTL_CALL_TIMEOUT_MS, &task)) != EXIT_OK)
		return rc;
	if (json_int(task, "id", &id) != 0 || id <= 0) {
		ctl_error("depotd's answer to task.submit holds no task id");
		cJSON_Delete(task);
		return EXIT_REFUSED;
	}
	if (!wait) {
		rc = ctx->json ? json_print(task) : (printf("%lld\n", (long long)id), EXIT_OK);
		cJSON_Delete(task);
		return rc;
	}
	cJSON_Delete(task);
	/* The id first, at once: whoever watches can follow or cancel it meanwhile. */
	if (!ctx->json) {
		printf("%lld\n", (long long)id);
		fflush(stdout);
	}
	for (;;) {
		if ((req = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToObject(req, "ids", json_ids(&id, 1)))
			goto nomem;
		if ((rc = call(ctx, CMD_task_wait, req, -1, &waited)) != EXIT_OK) {
			/* The task is queued whatever happened to the wait: say where it is. */
			ctl_error("task %lld was submitted; see '%s task show %lld'",
			    (long long)id, ctl_prog, (long long)id);
			return rc;
		}
		final = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(waited, "tasks"), 0);
		if (final == NULL) {
			ctl_error("depotd's answer to task.wait holds no task %lld", (long long)id);
			cJSON_Delete(waited);
			return EXIT_REFUSED;
		}
		if (json_true(waited, "timed_out") || !task_retried(final))
			break;
		if ((rc = task_find_retry(ctx, id, &retry)) != EXIT_OK) {
			cJSON_Delete(waited);
			return rc;
		}
		if (retry == 0)
			break;
		task_describe_error(final, why, sizeof why);
		ctl_error("task %lld %s (%s); waiting for its retry, task %lld",
		    (long long)id, json_str(final, "state"), why, (long long)retry);
		cJSON_Delete(waited);
		id = retry;
	}
	if (ctx->json && (rc = json_print(final)) != EXIT_OK) {
		cJSON_Delete(waited);
		return rc;
	}
	/* DESIGN §11: after the id, the final task — in a line, for people. */
	if (!ctx->json && !json_true(waited, "timed_out")) {
		task_outcome_line(final);
		if (completed != NULL && json_str(final, "state") != NULL &&
		    strcmp(json_str(final, "state"), task_state_name(TASK_COMPLETED)) == 0)
			completed(final);
	}
	rc = json_true(waited, "timed_out") ? EXIT_WAIT_TIMEOUT : task_run_outcome(final);
	cJSON_Delete(waited);
	return rc;
nomem:
	cJSON_Delete(req);
	ctl_error("out of memory");
	return EXIT_REFUSED;
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
	int64_t id, v;
	int rc;

	if ((rc = args_task_id(a, a->argv[0], &id)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(req, "id", (double)id) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_task_show, req, &task)) != EXIT_OK ||
	    task == NULL)
		return rc;
	(void)json_int(task, "id", &v);
	out_kv(stdout, 0, "id", "%lld", (long long)v);
	task_show_str("type", json_str(task, "type"));
	task_show_str("name", json_str(task, "name"));
	task_show_str("state", json_str(task, "state"));
	args = cJSON_GetObjectItemCaseSensitive(task, "args");
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(args, "argv")))
		task_show_command(task);
	else if (args != NULL && !cJSON_IsNull(args)) {
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
 * Reads the log from offset 0 in the chunks the daemon hands out. Without
 * --follow it stops at the end of what is written; with it, it polls until
 * the task is final and nothing is left. With --json, one document with
 * all the data (the last reply's offset, size and final); with --json
 * --follow, each reply as one line, as they come.
 */
int cmd_task_log(struct ctl_ctx *ctx, struct ctl_args *a)
{
	int follow = args_has(a, "follow");
	int64_t id, offset = 0, next, size;
	char *all = NULL;
	size_t alllen = 0;
	cJSON *req, *r = NULL;
	int rc;

	if ((rc = args_task_id(a, a->argv[0], &id)) != EXIT_OK)
		return rc;
	for (;;) {
		const char *data;
		int final;

		cJSON_Delete(r);
		r = NULL;
		if ((req = cJSON_CreateObject()) == NULL ||
		    cJSON_AddNumberToObject(req, "id", (double)id) == NULL ||
		    cJSON_AddNumberToObject(req, "offset", (double)offset) == NULL) {
			cJSON_Delete(req);
			goto nomem;
		}
		if ((rc = call(ctx, CMD_task_log, req, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
			goto out;
		data = json_str(r, "data");
		final = json_true(r, "final");
		if (data == NULL || json_int(r, "offset", &next) != 0) {
			ctl_error("depotd's answer to task.log holds no data or offset");
			rc = EXIT_REFUSED;
			goto out;
		}
		if (json_int(r, "size", &size) != 0)
			size = next;
		/* The offset must move with the data, or we would print it again forever. */
		if (data[0] != '\0' && next <= offset) {
			ctl_error("depotd's answer to task.log did not move the offset "
			    "past %lld", (long long)offset);
			rc = EXIT_REFUSED;
			goto out;
		}
		offset = next;
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
	int64_t *ids;
	cJSON *req, *r;
	int rc;

	if ((rc = task_ids(a, &ids)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(req, "ids", json_ids(ids, (size_t)a->argc))) {
		free(ids);
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	free(ids);
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
	const cJSON *tasks, *task;
	int64_t *ids, timeout_ms = -1;
	int rc, worst = EXIT_OK, unfinished = 0;
	cJSON *req, *r;

	if (timeout != NULL &&
	    (rc = args_duration(a, "timeout", timeout, &timeout_ms)) != EXIT_OK)
		return rc;
	if ((rc = task_ids(a, &ids)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(req, "ids", json_ids(ids, (size_t)a->argc)) ||
	    (timeout != NULL &&
	    cJSON_AddNumberToObject(req, "timeout_ms", (double)timeout_ms) == NULL)) {
		free(ids);
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	free(ids);
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
			task_outcome_line(task);
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
