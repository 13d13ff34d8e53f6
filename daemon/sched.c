/* sched.c: the scheduler (DESIGN §13) — schedules stored in SQLite submit their task when due — and pruning of old finished tasks. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEDULE_MIN_EVERY_MS 1000
/* Pruning deletes this many finished tasks a tick, so requests are never held up. */
#define PRUNE_BATCH 500

static sqlite3 *db(void) { return store_db(D->store); }

static int64_t next_due_cache = -1;	/* -1: unknown, read the table again */

/* A nullable time column as RFC 3339 or null. */
static void add_time(cJSON *o, const char *key, sqlite3_stmt *q, int col)
{
	json_add_time(o, key, sqlite3_column_type(q, col) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(q, col));
}

#define SCHEDULE_COLUMNS "name, template, interval_ms, next_run, enabled, created_at," \
	" last_run, last_task, skipped, last_skipped"

static cJSON *schedule_row_json(sqlite3_stmt *q)
{
	cJSON *o = cJSON_CreateObject(), *tmpl, *last;
	int64_t last_id = sqlite3_column_int64(q, 7);

	cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(q, 0));
	cJSON_AddNumberToObject(o, "every_ms", (double)sqlite3_column_int64(q, 2));
	cJSON_AddBoolToObject(o, "enabled", sqlite3_column_int(q, 4));
	tmpl = cJSON_Parse((const char *)sqlite3_column_text(q, 1));
	cJSON_AddItemToObject(o, "template", tmpl ? tmpl : cJSON_CreateNull());
	add_time(o, "created_at", q, 5);
	add_time(o, "next_run", q, 3);
	add_time(o, "last_run", q, 6);
	if (last_id > 0 && (last = task_json_by_id(last_id)) != NULL) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddNumberToObject(l, "id", (double)last_id);
		cJSON_AddItemToObject(l, "state", cJSON_Duplicate(
		    cJSON_GetObjectItemCaseSensitive(last, "state"), 1));
		cJSON_AddItemToObject(o, "last_task", l);
		cJSON_Delete(last);
	} else
		cJSON_AddNullToObject(o, "last_task");
	cJSON_AddNumberToObject(o, "skipped", (double)sqlite3_column_int64(q, 8));
	add_time(o, "last_skipped", q, 9);
	return o;
}

cJSON *sched_json(const char *name)
{
	sqlite3_stmt *q;
	cJSON *o = NULL;

	if (sqlite3_prepare_v2(db(), "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE name = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		o = schedule_row_json(q);
	sqlite3_finalize(q);
	return o;
}

cJSON *sched_list_json(void)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db(), "SELECT " SCHEDULE_COLUMNS " FROM schedules ORDER BY name",
	    -1, &q, NULL) != SQLITE_OK)
		return arr;
	while (sqlite3_step(q) == SQLITE_ROW)
		cJSON_AddItemToArray(arr, schedule_row_json(q));
	sqlite3_finalize(q);
	return arr;
}

/* Runs one statement with text and integer parameters given as "t"/"i" in types. */
static int run(const char *sql, const char *types, ...)
{
	sqlite3_stmt *q;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(db(), sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(q, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	next_due_cache = -1;
	return rc == SQLITE_DONE ? sqlite3_changes(db()) : -1;
}

int sched_add(const char *name, const cJSON *tmpl, int64_t every_ms, int64_t first_run)
{
	char *text = cJSON_PrintUnformatted(tmpl);
	int rc;

	if (text == NULL)
		return -1;
	rc = run("INSERT INTO schedules (name, template, interval_ms, next_run, created_at)"
	    " VALUES (?, ?, ?, ?, ?)", "ttiii", name, text, every_ms, first_run, time_now_ms());
	free(text);
	return rc < 0 ? -1 : 0;
}

int sched_delete(const char *name)
{
	return run("DELETE FROM schedules WHERE name = ?", "t", name);
}

int sched_set_enabled(const char *name, int enabled)
{
	return run("UPDATE schedules SET enabled = ? WHERE name = ?", "it", (int64_t)enabled, name);
}

/* The first run after now on the schedule's grid: missed runs collapse into one. */
static int64_t next_after(int64_t next_run, int64_t every, int64_t now)
{
	if (next_run > now)
		return next_run;
	return next_run + ((now - next_run) / every + 1) * every;
}

struct firing {
	const char *name;
	int64_t next, now;
};

/* In the transaction that stores the task: a crash keeps both or neither (item 9). */
static int record_run(int64_t id, void *ctx)
{
	const struct firing *f = ctx;

	return run("UPDATE schedules SET next_run = ?, last_run = ?, last_task = ? WHERE name = ?",
	    "iiit", f->next, f->now, id, f->name) < 0 ? -1 : 0;
}

static void fire(const char *name, const char *tmpl_text, int64_t every, int64_t next_run,
    int64_t last_task, int64_t now)
{
	int64_t next = next_after(next_run, every, now);
	struct firing f;
	char err[512];
	cJSON *tmpl;
	struct task *t;

	if (last_task > 0 && task_find(last_task) != NULL) {
		/* Never a second task while the previous one is unfinished (DESIGN §13). */
		log_info("schedule %s: task %lld still unfinished, skipping this run", name,
		    (long long)last_task);
		run("UPDATE schedules SET next_run = ?, skipped = skipped + 1, last_skipped = ?"
		    " WHERE name = ?", "iit", next, now, name);
		return;
	}
	tmpl = cJSON_Parse(tmpl_text);
	t = tmpl ? validate_submit(tmpl, err, sizeof err) : NULL;
	cJSON_Delete(tmpl);
	if (t == NULL) {
		log_warn("schedule %s: its task template is refused (%s); skipping", name,
		    tmpl ? err : "unreadable");
		run("UPDATE schedules SET next_run = ?, skipped = skipped + 1, last_skipped = ?"
		    " WHERE name = ?", "iit", next, now, name);
		return;
	}
	t->schedule = strdup(name);
	f.name = name;
	f.next = next;
	f.now = now;
	/* A failure leaves next_run as it was: the next tick tries again. */
	if (task_submit_with(t, record_run, &f, err, sizeof err) < 0)
		log_error("schedule %s: submitting its task: %s", name, err);
}

/* Finished tasks past keep_finished go, with their logs, a batch at a time. */
static void prune(int64_t now)
{
	static int64_t last_prune;
	sqlite3_stmt *q, *del;
	int64_t ids[PRUNE_BATCH];
	char path[4200];
	int n = 0;

	if (now - last_prune < 1000)
		return;
	last_prune = now;
	if (sqlite3_prepare_v2(db(), "SELECT id FROM tasks WHERE finished_at < ?"
	    " ORDER BY finished_at LIMIT ?", -1, &q, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(q, 1, now - D->cfg.keep_finished_ms);
	sqlite3_bind_int(q, 2, PRUNE_BATCH);
	while (n < PRUNE_BATCH && sqlite3_step(q) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (n == 0)
		return;
	if (store_begin(D->store) < 0 || sqlite3_prepare_v2(db(),
	    "DELETE FROM tasks WHERE id = ?", -1, &del, NULL) != SQLITE_OK) {
		store_rollback(D->store);
		return;
	}
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int64(del, 1, ids[i]);
		sqlite3_step(del);
		sqlite3_reset(del);
	}
	sqlite3_finalize(del);
	if (store_commit(D->store) < 0) {
		log_warn("pruning finished tasks: %s", store_errmsg(D->store));
		return;
	}
	for (int i = 0; i < n; i++) {
		task_log_path(ids[i], path, sizeof path);
		if (fs_unlink_beneath(daemon_data()->fd, path) < 0)
			log_warn("removing %s/%s: %m", D->dir, path);
	}
	log_info("pruned %d finished task(s) older than keep_finished", n);
}

/* A schedule's retried task lives on in its retry: the schedule waits for that one (DESIGN §13). */
int sched_task_retried(int64_t old_id, int64_t new_id)
{
	return run("UPDATE schedules SET last_task = ? WHERE last_task = ?", "ii", new_id, old_id);
}

void sched_tick(void)
{
	int64_t now = time_now_ms();
	sqlite3_stmt *q;

	D->sched_last_tick = now;
	if (D->stopping)
		return;
	if (next_due_cache < 0 || now >= next_due_cache) {
		if (sqlite3_prepare_v2(db(), "SELECT name, template, interval_ms, next_run,"
		    " last_task FROM schedules WHERE enabled AND next_run <= ? ORDER BY next_run",
		    -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, now);
			/* Collected first: fire() writes to the table being read. */
			struct due { char *name, *tmpl; int64_t every, next, last; } due[64];
			int n = 0;
			while (n < 64 && sqlite3_step(q) == SQLITE_ROW) {
				due[n].name = strdup((const char *)sqlite3_column_text(q, 0));
				due[n].tmpl = strdup((const char *)sqlite3_column_text(q, 1));
				due[n].every = sqlite3_column_int64(q, 2);
				due[n].next = sqlite3_column_int64(q, 3);
				due[n].last = sqlite3_column_int64(q, 4);
				n++;
			}
			sqlite3_finalize(q);
			for (int i = 0; i < n; i++) {
				if (due[i].name && due[i].tmpl)
					fire(due[i].name, due[i].tmpl, due[i].every, due[i].next,
					    due[i].last, now);
				free(due[i].name);
				free(due[i].tmpl);
			}
		}
		next_due_cache = INT64_MAX;
		if (sqlite3_prepare_v2(db(), "SELECT min(next_run) FROM schedules WHERE enabled",
		    -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
				next_due_cache = sqlite3_column_int64(q, 0);
			sqlite3_finalize(q);
		}
	}
	D->sched_next_due = next_due_cache == INT64_MAX ? 0 : next_due_cache;
	prune(now);
}
