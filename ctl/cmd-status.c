/* cmd-status.c: status, ping and metrics: is the daemon up, is every component healthy, and its numbers. */
#include "ctl.h"

#include "proto.h"
#include "timeutil.h"

#include <string.h>

static void status_daemon(const cJSON *d);
static void status_database(const cJSON *db);
static void status_workers(const cJSON *workers);
static void status_monitor(const cJSON *m);
static void status_scheduler(const cJSON *s);
static void status_locks(const cJSON *l);
static void status_queue(const cJSON *q);
static void status_control(const cJSON *c);
static void status_storage(const cJSON *s);
static void status_config(const cJSON *c);
static void status_ms(int indent, const char *key, const cJSON *o, const char *field);
static void status_int(int indent, const char *key, const cJSON *o, const char *field);
static void status_bytes(int indent, const char *key, const cJSON *o, const char *field);
static void status_time(int indent, const char *key, const cJSON *o, const char *field);

/* The sections depotctl knows how to lay out; others are printed as JSON. */
static const char *const status_known[] = {
	"healthy", "problems", "daemon", "database", "workers", "monitor",
	"scheduler", "locks", "queue", "control", "storage", "config", NULL,
};

static void status_ms(int indent, const char *key, const cJSON *o, const char *field)
{
	char buf[32];
	int64_t ms;

	if (json_int(o, field, &ms) != 0) {
		out_kv(stdout, indent, key, "-");
		return;
	}
	time_format_duration(ms, buf, sizeof buf);
	out_kv(stdout, indent, key, "%s", buf);
}

static void status_int(int indent, const char *key, const cJSON *o, const char *field)
{
	int64_t v;

	if (json_int(o, field, &v) != 0)
		out_kv(stdout, indent, key, "-");
	else
		out_kv(stdout, indent, key, "%lld", (long long)v);
}

static void status_bytes(int indent, const char *key, const cJSON *o, const char *field)
{
	char buf[32];
	int64_t v;

	if (json_int(o, field, &v) != 0) {
		out_kv(stdout, indent, key, "-");
		return;
	}
	out_size(v, buf, sizeof buf);
	out_kv(stdout, indent, key, "%s", buf);
}

/* "2026-11-24T20:01:02.345Z (3.2s ago)", "… (in 59m00s)" for a time ahead, or "-" when null. */
static void status_time(int indent, const char *key, const cJSON *o, const char *field)
{
	const char *t = json_str(o, field);
	char when[48];

	if (t == NULL) {
		out_kv(stdout, indent, key, "-");
		return;
	}
	out_when(t, when, sizeof when);
	out_kv(stdout, indent, key, "%s (%s)", t, when);
}

static void status_daemon(const cJSON *d)
{
	const char *v = json_str(d, "version"), *dir = json_str(d, "data_dir");

	out_kv(stdout, 0, "daemon", "%s", d != NULL ? "up" : "-");
	out_kv(stdout, 2, "version", "%s", v != NULL ? v : "-");
	status_int(2, "pid", d, "pid");
	status_ms(2, "uptime", d, "uptime_ms");
	out_kv(stdout, 2, "data dir", "%s", dir != NULL ? dir : "-");
}

static void status_database(const cJSON *db)
{
	const char *path = json_str(db, "path");

	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(db, "ok");
	const char *message = json_str(db, "message");

	out_kv(stdout, 0, "database", "%s", cJSON_IsTrue(ok) ? "ok" : cJSON_IsFalse(ok) ?
	    "NOT OK" : "not checked yet");
	if (message != NULL)
		out_kv(stdout, 2, "check says", "%s", message);
	status_time(2, "checked", db, "checked_at");
	out_kv(stdout, 2, "path", "%s", path != NULL ? path : "-");
	status_bytes(2, "size", db, "size");
}

/* One line a worker: "online, pid 1235, supervised, heartbeat 0.8s ago, task 42". */
static void status_workers(const cJSON *workers)
{
	const cJSON *w;
	int total = 0, online = 0;

	cJSON_ArrayForEach(w, workers) {
		const char *state = json_str(w, "state");

		total++;
		if (state != NULL && strcmp(state, "online") == 0)
			online++;
	}
	out_kv(stdout, 0, "workers", "%d of %d online", online, total);
	cJSON_ArrayForEach(w, workers) {
		const char *name = json_str(w, "name"), *state = json_str(w, "state");
		char when[48], hb[64], task[32], clean[80];
		int64_t pid = 0, id;

		out_when(json_str(w, "last_heartbeat"), when, sizeof when);
		if (json_str(w, "last_heartbeat") != NULL)
			snprintf(hb, sizeof hb, "heartbeat %s", when);
		else
			snprintf(hb, sizeof hb, "no heartbeat yet");
		if (json_int(w, "task", &id) == 0)
			snprintf(task, sizeof task, "task %lld", (long long)id);
		else
			snprintf(task, sizeof task, "idle");
		if (json_int(w, "pid", &pid) != 0)
			pid = 0;
		out_clean(name != NULL ? name : "?", 17, clean, sizeof clean);
		out_kv(stdout, 2, clean, "%s, pid %lld, %s, %s, %s",
		    state != NULL ? state : "?", (long long)pid,
		    json_true(w, "supervised") ? "supervised" : "by hand", hb, task);
	}
}

static void status_monitor(const cJSON *m)
{
	out_kv(stdout, 0, "monitor", "%s", m != NULL ? "" : "-");
	status_ms(2, "heartbeat interval", m, "heartbeat_interval_ms");
	status_ms(2, "worker timeout", m, "worker_timeout_ms");
	status_ms(2, "check interval", m, "check_interval_ms");
	status_ms(2, "cancel grace", m, "cancel_grace_ms");
	status_ms(2, "stall after", m, "stall_after_ms");
	status_time(2, "last check", m, "last_check");
}

static void status_scheduler(const cJSON *s)
{
	out_kv(stdout, 0, "scheduler", "%s", s != NULL ? "" : "-");
	status_time(2, "last tick", s, "last_tick");
	status_time(2, "next due", s, "next_due");
}

static void status_locks(const cJSON *l)
{
	out_kv(stdout, 0, "lock manager", "%s", l != NULL ? "" : "-");
	status_int(2, "reservations held", l, "held");
	status_int(2, "tasks waiting", l, "waiting");
	status_int(2, "tasks running", l, "running");
}

static void status_queue(const cJSON *q)
{
	const cJSON *r;

	out_kv(stdout, 0, "queue", "%s", q == NULL ? "-" : json_true(q, "paused") ?
	    "PAUSED: no new task starts (depotctl resume)" : "runs");
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(q, "paused_resources")) {
		char name[1024];

		out_clean(cJSON_GetStringValue(r) ? cJSON_GetStringValue(r) : "?", 0, name,
		    sizeof name);
		out_kv(stdout, 2, "paused resource", "%s", name);
	}
}

/* Requests answered later: task.wait of clients, next of workers. */
static void status_control(const cJSON *c)
{
	out_kv(stdout, 0, "control", "%s", c != NULL ? "" : "-");
	status_int(2, "waits parked", c, "parked");
	status_int(2, "waits per uid", c, "parked_requests_per_peer");
	status_int(2, "worker polls", c, "worker_polls");
}

static void status_storage(const cJSON *s)
{
	const cJSON *d;

	out_kv(stdout, 0, "storage", "%s", s != NULL ? "" : "-");
	status_bytes(2, "content", s, "content_bytes");
	status_bytes(2, "free", s, "free_bytes");
	/* What restores replaced, kept as [backup] keep_pre_restore says: space an administrator may want back. */
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "pre_restore")) {
		char size[32] = "size not measured yet", path[4200];
		int64_t v;

		if (json_int(d, "bytes", &v) == 0)
			out_size(v, size, sizeof size);
		out_clean(json_str(d, "path") ? json_str(d, "path") : "?", 0, path, sizeof path);
		out_kv(stdout, 2, "pre-restore", "%s (%s)", path, size);
	}
}

/* depot.conf: when the settings in force were read, and how the last SIGHUP went. */
static void status_config(const cJSON *c)
{
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(c, "last_reload");
	char path[4200], err[1100];

	out_clean(json_str(c, "path") ? json_str(c, "path") : "-", 0, path, sizeof path);
	out_kv(stdout, 0, "config", "%s", c != NULL ? path : "-");
	status_time(2, "loaded", c, "loaded_at");
	status_int(2, "workers", c, "workers");
	out_kv(stdout, 2, "log level", "%s", json_str(c, "log_level") ? json_str(c, "log_level") : "-");
	if (!cJSON_IsObject(last)) {
		out_kv(stdout, 2, "last reload", "none since start");
		return;
	}
	status_time(2, "last reload", last, "at");
	if (json_true(last, "ok"))
		out_kv(stdout, 4, "result", "applied");
	else {
		out_clean(json_str(last, "error") ? json_str(last, "error") : "?", 0, err, sizeof err);
		out_kv(stdout, 4, "result", "REFUSED: %s (the settings loaded before stay)", err);
	}
}

int cmd_status(struct ctl_ctx *ctx, struct ctl_args *args)
{
	const cJSON *problems, *p, *item;
	cJSON *r;
	int rc, healthy;

	(void)args;
	if ((rc = call(ctx, CMD_status, NULL, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
		return rc;
	healthy = json_true(r, "healthy");
	if (ctx->json) {
		rc = json_print(r);
		cJSON_Delete(r);
		return rc != EXIT_OK ? rc : healthy ? EXIT_OK : EXIT_REFUSED;
	}
	status_daemon(cJSON_GetObjectItemCaseSensitive(r, "daemon"));
	status_database(cJSON_GetObjectItemCaseSensitive(r, "database"));
	status_workers(cJSON_GetObjectItemCaseSensitive(r, "workers"));
	status_monitor(cJSON_GetObjectItemCaseSensitive(r, "monitor"));
	status_scheduler(cJSON_GetObjectItemCaseSensitive(r, "scheduler"));
	status_locks(cJSON_GetObjectItemCaseSensitive(r, "locks"));
	status_queue(cJSON_GetObjectItemCaseSensitive(r, "queue"));
	status_control(cJSON_GetObjectItemCaseSensitive(r, "control"));
	status_storage(cJSON_GetObjectItemCaseSensitive(r, "storage"));
	status_config(cJSON_GetObjectItemCaseSensitive(r, "config"));
	/* A component added to the daemon after this depotctl still shows. */
	cJSON_ArrayForEach(item, r) {
		int known = 0;
		char *text;

		for (int i = 0; status_known[i] != NULL; i++)
			if (item->string != NULL && strcmp(item->string, status_known[i]) == 0)
				known = 1;
		if (known || item->string == NULL)
			continue;
		if ((text = cJSON_PrintUnformatted(item)) != NULL) {
			out_kv(stdout, 0, item->string, "%s", text);
			cJSON_free(text);
		}
	}
	problems = cJSON_GetObjectItemCaseSensitive(r, "problems");
	if (healthy) {
		out_kv(stdout, 0, "healthy", "yes");
	} else {
		out_kv(stdout, 0, "healthy", "NO, %d problem%s",
		    cJSON_GetArraySize(problems),
		    cJSON_GetArraySize(problems) == 1 ? "" : "s");
		cJSON_ArrayForEach(p, problems)
			if (cJSON_IsString(p))
				printf("  - %s\n", p->valuestring);
	}
	cJSON_Delete(r);
	return healthy ? EXIT_OK : EXIT_REFUSED;
}

int cmd_ping(struct ctl_ctx *ctx, struct ctl_args *args)
{
	const char *version;
	int64_t proto = 0, pid = 0;
	cJSON *r;
	int rc;

	(void)args;
	if ((rc = call(ctx, CMD_ping, NULL, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
		return rc;
	version = json_str(r, "version");
	if (json_int(r, "protocol", &proto) == 0 && proto != DEPOT_PROTO_VERSION)
		ctl_error("warning: depotd speaks protocol %lld, this depotctl %d; "
		    "upgrade the older one", (long long)proto, DEPOT_PROTO_VERSION);
	if (ctx->json)
		rc = json_print(r);
	else {
		(void)json_int(r, "pid", &pid);
		printf("depotd %s is up (pid %lld, protocol %lld, data %s)\n",
		    version != NULL ? version : "?", (long long)pid,
		    (long long)proto, ctx->dir);
	}
	cJSON_Delete(r);
	return rc;
}

int cmd_metrics(struct ctl_ctx *ctx, struct ctl_args *args)
{
	const char *text;
	cJSON *r;
	int rc;

	(void)args;
	if ((rc = call(ctx, CMD_metrics, NULL, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(r);
	else if ((text = json_str(r, "text")) != NULL)
		fputs(text, stdout);
	else {
		ctl_error("depotd's metrics reply has no text");
		rc = EXIT_REFUSED;
	}
	cJSON_Delete(r);
	return rc;
}

int cmd_reload(struct ctl_ctx *ctx, struct ctl_args *args)
{
	const char *at;
	cJSON *r;
	int rc;

	(void)args;
	if ((rc = call(ctx, CMD_config_reload, NULL, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
		return rc;
	if (ctx->json)
		rc = json_print(r);
	else {
		at = json_str(r, "loaded_at");
		printf("reloaded %s (loaded at %s)\n", json_str(r, "path") ? json_str(r, "path") : "depot.conf",
		    at != NULL ? at : "?");
	}
	cJSON_Delete(r);
	return rc;
}
