/* cmd-schedule.c: schedules (add, list, show, run, delete, enable, disable): a task template submitted every interval or at calendar times. */
#include "ctl.h"

#include "proto.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* schedule.add's every_ms is at least this (doc/protocol.md). */
#define SCHED_EVERY_MIN_MS 1000
/* Width of the TEMPLATE column of schedule list. */
#define SCHED_TEMPLATE_WIDTH 60
#define SCHED_DAY_MS 86400000LL

static int sched_template(struct ctl_ctx *ctx, const struct ctl_args *a,
    int argc, char **argv, cJSON **out);
static void sched_every(int64_t ms, char *buf, size_t n);
static void sched_when(const cJSON *sched, char *buf, size_t n);
static void sched_time(const char *rfc3339, char *buf, size_t n);
static char *sched_describe(const cJSON *tpl);
static void sched_print_next(const char *verb, const cJSON *sched, const char *name);
static int sched_set(struct ctl_ctx *ctx, struct ctl_args *a, int enabled);

/* What may follow "--" in schedule add, for its messages. */
#define SCHED_TASKS "sync REPO, publish REPO, backup [-o FILE] [--incremental], orphans clean or run ... -- CMD"

/*
 * The template after "--" (argv[0] names sync, publish, backup, orphans
 * clean or run, or a prefix of one), as task.submit's args: parsed with
 * that command's own options and built by its own request builder, so that
 * a template is exactly what the command would send. Errors show schedule
 * add's usage.
 */
static int sched_template(struct ctl_ctx *ctx, const struct ctl_args *a,
    int argc, char **argv, cJSON **out)
{
	const struct ctl_cmd *found;
	struct ctl_cmd tpl;
	struct ctl_args sub;
	char err[512];
	int used, help = 0, rc;

	*out = NULL;
	if (argc == 0)
		return ctl_usage_error(a->cmd, "missing the task to schedule: after "
		    "'--', " SCHED_TASKS);
	found = argv[0][0] == '-' ? NULL : cmd_lookup(argc, argv, &used, err, sizeof err);
	if (found == NULL || (found->exec != cmd_sync && found->exec != cmd_publish &&
	    found->exec != cmd_run && found->exec != cmd_backup &&
	    found->exec != cmd_orphans_clean))
		return ctl_usage_error(a->cmd, "cannot schedule '%s': the task is "
		    SCHED_TASKS, argv[0]);
	/* The command's options and checks, under schedule add's name and usage. */
	tpl = *found;
	memcpy(tpl.words, a->cmd->words, sizeof tpl.words);
	tpl.usage = a->cmd->usage;
	tpl.args_min = 0;
	tpl.args_max = CTL_ARGS_ANY;
	rc = args_parse(&tpl, argc - used + 1, argv + used - 1, &sub, &ctx->json, &help);
	if (rc != EXIT_OK)
		goto out;
	if (help) {
		cmd_print_help(a->cmd, stdout);
		rc = -1;	/* done: the caller exits 0 */
		goto out;
	}
	if (args_takes(&tpl, "wait") && args_has(&sub, "wait")) {
		rc = ctl_usage_error(a->cmd, "--wait cannot be scheduled: wait for "
		    "a scheduled task with '%s task wait ID'", ctl_prog);
		goto out;
	}
	/* A time in the template would be one instant, the same for every run. */
	if ((args_takes(&tpl, "at") && args_has(&sub, "at")) ||
	    (args_takes(&tpl, "in") && args_has(&sub, "in"))) {
		rc = ctl_usage_error(a->cmd, "--%s cannot be scheduled: the schedule "
		    "says when its task starts (--every, --at or --on before '--')",
		    args_has(&sub, "at") ? "at" : "in");
		goto out;
	}
	if (args_takes(&tpl, "after") && args_has(&sub, "after")) {
		rc = ctl_usage_error(a->cmd, "--after cannot be scheduled: every run "
		    "would wait for the same task");
		goto out;
	}
	if (found->exec == cmd_backup || found->exec == cmd_orphans_clean) {
		if (sub.argc > 0)
			rc = ctl_usage_error(a->cmd, "unexpected argument '%s' after %s",
			    sub.argv[0], found->words[0]);
		else if (found->exec == cmd_backup)
			rc = backup_task_args(&sub, out);
		else
			rc = repo_task_args(&sub, task_type_name(TASKTYPE_ORPHANS), NULL, NULL,
			    out);
		goto out;
	}
	if (found->exec == cmd_run) {
		if (args_has(&sub, "quiet") || args_has(&sub, "wait-timeout")) {
			rc = ctl_usage_error(a->cmd, "--%s goes with --wait, which cannot be "
			    "scheduled", args_has(&sub, "quiet") ? "quiet" : "wait-timeout");
			goto out;
		}
		if (sub.argc == 0)
			rc = ctl_usage_error(a->cmd, "missing CMD: run's command "
			    "follows a second '--'");
		else
			rc = task_exec_args(&sub, out);
		goto out;
	}
	if (sub.argc == 0)
		rc = ctl_usage_error(a->cmd, "missing REPO after %s", found->words[0]);
	else if (sub.argc > 1)
		rc = ctl_usage_error(a->cmd, "unexpected argument '%s' after %s %s",
		    sub.argv[1], found->words[0], sub.argv[0]);
	else if (found->exec == cmd_sync)
		rc = repo_task_args(&sub, task_type_name(TASKTYPE_SYNC), sub.argv[0],
		    NULL, out);
	else
		rc = repo_task_args(&sub, task_type_name(TASKTYPE_PUBLISH), sub.argv[0],
		    args_get(&sub, "version"), out);
out:
	args_free(&sub);
	return rc;
}

int cmd_schedule_add(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *name = a->argv[0], *every = args_get(a, "every");
	const char *at = args_get(a, "at"), *on = args_get(a, "on"), *tz = args_get(a, "tz");
	char at_text[TIME_RFC3339_LEN];
	int64_t every_ms = 0, at_ms;
	cJSON *req, *tpl, *sched;
	int rc;

	if ((rc = args_name(a, "schedule", name)) != EXIT_OK)
		return rc;
	if (every == NULL && on == NULL)
		return ctl_usage_error(a->cmd, "missing --every DUR or --on EXPR: when to "
		    "submit the task");
	if (every != NULL && on != NULL)
		return ctl_usage_error(a->cmd, "--every and --on exclude each other: a "
		    "schedule runs every interval or at calendar times");
	if (tz != NULL && on == NULL)
		return ctl_usage_error(a->cmd, "--tz goes with --on: an interval has no "
		    "time zone");
	if (at != NULL && on != NULL)
		return ctl_usage_error(a->cmd, "--at goes with --every: a calendar "
		    "schedule first runs at its next calendar time");
	/* The daemon judges EXPR and ZONE: one parser, one message for every client. */
	if (every != NULL && (rc = args_duration(a, "every", every, &every_ms)) != EXIT_OK)
		return rc;
	if (every != NULL && every_ms < SCHED_EVERY_MIN_MS)
		return ctl_usage_error(a->cmd, "invalid duration '%s' for --every: "
		    "must be at least 1s", every);
	if (at != NULL) {
		if (time_parse_local(at, time_now_ms(), &at_ms) != 0)
			return ctl_usage_error(a->cmd, "invalid time '%s' for --at: expected "
			    "03:00, '2026-12-24 18:00' (local time) or RFC 3339 "
			    "(2026-12-24T17:00:00Z)", at);
		time_format_rfc3339(at_ms, at_text);
	}
	rc = sched_template(ctx, a, a->argc - 1, a->argv + 1, &tpl);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "name", name) == NULL ||
	    (every != NULL && cJSON_AddNumberToObject(req, "every_ms", (double)every_ms) == NULL) ||
	    (on != NULL && cJSON_AddStringToObject(req, "calendar", on) == NULL) ||
	    (tz != NULL && cJSON_AddStringToObject(req, "tz", tz) == NULL) ||
	    (at != NULL && cJSON_AddStringToObject(req, "at", at_text) == NULL) ||
	    !cJSON_AddItemToObject(req, "template", tpl)) {
		cJSON_Delete(tpl);
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, CMD_schedule_add, req, CTL_CALL_TIMEOUT_MS, &sched)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(sched);
	else
		sched_print_next("added", sched, name);
	cJSON_Delete(sched);
	return rc;
}

/* An interval as --every would take it: "1d", "90m", "1500ms". */
static void sched_every(int64_t ms, char *buf, size_t n)
{
	static const struct { int64_t factor; const char *unit; } units[] = {
		{ SCHED_DAY_MS, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ms >= units[i].factor && ms % units[i].factor == 0) {
			snprintf(buf, n, "%lld%s", (long long)(ms / units[i].factor),
			    units[i].unit);
			return;
		}
	snprintf(buf, n, "%lldms", (long long)ms);
}

/* "every 1d", or "Mon..Fri 02:00" with " (Europe/Berlin)" when it has a zone. */
static void sched_when(const cJSON *sched, char *buf, size_t n)
{
	const char *cal = json_str(sched, "calendar"), *tz = json_str(sched, "tz");
	char every[32];
	int64_t v;

	if (cal != NULL)
		snprintf(buf, n, "%s%s%s%s", cal, tz ? " (" : "", tz ? tz : "", tz ? ")" : "");
	else if (json_int(sched, "every_ms", &v) == 0) {
		sched_every(v, every, sizeof every);
		snprintf(buf, n, "every %s", every);
	} else
		snprintf(buf, n, "-");
}

/* "2026-11-25T03:00:00Z (in 5h59m)"; "-" for none. */
static void sched_time(const char *rfc3339, char *buf, size_t n)
{
	char when[48];
	int64_t t;

	if (rfc3339 == NULL) {
		snprintf(buf, n, "-");
		return;
	}
	out_when(rfc3339, when, sizeof when);
	if ((t = out_parse_time(rfc3339)) >= 0) {
		char full[TIME_RFC3339_LEN];

		/* To the second, as --at takes it: the column stays narrow. */
		time_format_rfc3339(t, full);
		snprintf(buf, n, "%.19sZ (%s)", full, when);
	} else
		snprintf(buf, n, "%s (%s)", rfc3339, when);
}

/* "sync fedora", "publish fedora version 3", "backup -o FILE", "run: sh -c 'exit 3'", with " (retries N)". */
static char *sched_describe(const cJSON *tpl)
{
	const char *type = json_str(tpl, "type"), *repo = json_str(tpl, "repository");
	char *line = NULL, *text = NULL, retries[48] = "";
	enum task_type_id k;
	int64_t v;
	int n;

	if (json_int(tpl, "retries", &v) == 0 && v > 0)
		snprintf(retries, sizeof retries, " (retries %lld)", (long long)v);
	if (task_type_parse(type, &k) == 0 && k == TASKTYPE_EXEC) {
		line = task_argv_line(cJSON_GetObjectItemCaseSensitive(tpl, "argv"));
		n = asprintf(&text, "run: %s%s", line != NULL ? line : "?", retries);
	} else if (type != NULL && repo != NULL && json_int(tpl, "version", &v) == 0)
		n = asprintf(&text, "%s %s version %lld%s", type, repo, (long long)v,
		    retries);
	else if (type != NULL && repo != NULL)
		n = asprintf(&text, "%s %s%s", type, repo, retries);
	else if (task_type_parse(type, &k) == 0 && k == TASKTYPE_BACKUP)
		n = asprintf(&text, "backup%s%s%s", json_true(tpl, "incremental") ?
		    " --incremental" : "", json_str(tpl, "output") != NULL ? " -o " : "",
		    json_str(tpl, "output") != NULL ? json_str(tpl, "output") : "");
	else if (task_type_parse(type, &k) == 0 && k == TASKTYPE_ORPHANS)
		n = asprintf(&text, "orphans clean%s", retries);
	else if (type != NULL)
		n = asprintf(&text, "%s%s", type, retries);
	else
		n = asprintf(&text, "?");
	free(line);
	return n < 0 ? NULL : text;
}

int cmd_schedule_list(struct ctl_ctx *ctx, struct ctl_args *args)
{
	static const char *const headers[] = {
		"NAME", "WHEN", "NEXT RUN", "LAST TASK", "SKIPPED", "ENABLED",
		"TEMPLATE",
	};
	struct out_table *t;
	const cJSON *s;
	cJSON *list;
	int rc;

	(void)args;
	if ((rc = call_for_people(ctx, CMD_schedule_list, NULL, &list)) != EXIT_OK ||
	    list == NULL)
		return rc;
	if ((t = out_table_new(7, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 6, SCHED_TEMPLATE_WIDTH);
	cJSON_ArrayForEach(s, list) {
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "last_task");
		char when[256], next[96], task[64] = "-", skipped[24] = "0";
		const char *state = json_str(last, "state");
		char *tpl;
		int64_t v;
		int added;

		sched_when(s, when, sizeof when);
		sched_time(json_str(s, "next_run"), next, sizeof next);
		if (json_int(last, "id", &v) == 0)
			snprintf(task, sizeof task, "%lld %s", (long long)v,
			    state != NULL ? state : "?");
		if (json_int(s, "skipped", &v) == 0)
			snprintf(skipped, sizeof skipped, "%lld", (long long)v);
		if ((tpl = sched_describe(cJSON_GetObjectItemCaseSensitive(s, "template"))) == NULL)
			goto nomem;
		added = out_table_add(t, (const char *const[]){ json_str(s, "name"),
		    when, next, task, skipped, json_true(s, "enabled") ? "yes" : "no",
		    tpl });
		free(tpl);
		if (added != 0)
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

int cmd_schedule_show(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *name = a->argv[0];
	const cJSON *last;
	char when[256], next[96], task[64] = "-";
	char *tpl;
	cJSON *req, *s;
	int64_t v;
	int rc;

	if ((rc = args_name(a, "schedule", name)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "name", name) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_schedule_list, req, &s)) != EXIT_OK || s == NULL)
		return rc;
	last = cJSON_GetObjectItemCaseSensitive(s, "last_task");
	sched_when(s, when, sizeof when);
	sched_time(json_str(s, "next_run"), next, sizeof next);
	if (json_int(last, "id", &v) == 0)
		snprintf(task, sizeof task, "%lld %s", (long long)v,
		    json_str(last, "state") ? json_str(last, "state") : "?");
	out_kv(stdout, 0, "name", "%s", name);
	out_kv(stdout, 0, "when", "%s", when);
	out_kv(stdout, 0, "enabled", "%s", json_true(s, "enabled") ? "yes" : "no");
	out_kv(stdout, 0, "next run", "%s", json_true(s, "enabled") ? next : "- (disabled)");
	out_kv(stdout, 0, "last task", "%s", task);
	out_kv_time("last run", s, "last_run");
	out_kv(stdout, 0, "skipped", "%lld", json_int(s, "skipped", &v) == 0 ? (long long)v : 0LL);
	out_kv_time("last skipped", s, "last_skipped");
	out_kv_time("created", s, "created_at");
	tpl = sched_describe(cJSON_GetObjectItemCaseSensitive(s, "template"));
	out_kv(stdout, 0, "template", "%s", tpl ? tpl : "?");
	free(tpl);
	cJSON_Delete(s);
	return EXIT_OK;
}

/* schedule.run {name}: the task's id, as a submitting command prints it. */
int cmd_schedule_run(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *name = a->argv[0];
	cJSON *req, *task;
	int64_t id;
	int rc;

	if ((rc = args_name(a, "schedule", name)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "name", name) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, CMD_schedule_run, req, CTL_CALL_TIMEOUT_MS, &task)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(task);
	else if (json_int(task, "id", &id) == 0)
		printf("%lld\n", (long long)id);
	cJSON_Delete(task);
	return rc;
}

int cmd_schedule_delete(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *name = a->argv[0];
	int rc;

	if ((rc = args_name(a, "schedule", name)) != EXIT_OK)
		return rc;
	return call_delete_named(ctx, CMD_schedule_delete, name);
}

/* "added nightly, next run 2026-11-25T03:00:00Z (in 5h59m)": what add and enable print. */
static void sched_print_next(const char *verb, const cJSON *sched, const char *name)
{
	const char *next = json_str(sched, "next_run");
	char when[96];

	if (json_str(sched, "name") != NULL)
		name = json_str(sched, "name");
	if (next == NULL) {
		printf("%s %s\n", verb, name);
		return;
	}
	/* Overdue (enabled again, or --at in the past): the daemon submits it now. */
	if (out_parse_time(next) >= 0 && out_parse_time(next) <= time_now_ms()) {
		printf("%s %s, next run due now\n", verb, name);
		return;
	}
	sched_time(next, when, sizeof when);
	printf("%s %s, next run %s\n", verb, name, when);
}

/* schedule.set {name, enabled}. */
static int sched_set(struct ctl_ctx *ctx, struct ctl_args *a, int enabled)
{
	const char *name = a->argv[0];
	cJSON *req, *sched;
	int rc;

	if ((rc = args_name(a, "schedule", name)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "name", name) == NULL ||
	    cJSON_AddBoolToObject(req, "enabled", enabled) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, CMD_schedule_set, req, CTL_CALL_TIMEOUT_MS, &sched)) != EXIT_OK)
		return rc;
	if (!enabled)
		return call_done(ctx, sched, "name", "disabled", name);
	if (ctx->json)
		rc = json_print(sched);
	else
		sched_print_next("enabled", sched, name);
	cJSON_Delete(sched);
	return rc;
}

int cmd_schedule_enable(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return sched_set(ctx, a, 1);
}

int cmd_schedule_disable(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return sched_set(ctx, a, 0);
}
