/* store-sched.c: the rows of the scheduler (DESIGN §13), schedules, as sched.c reads and writes them (the finished tasks pruning removes: store-clean.c). */
#include "depotd.h"
#include "store-sql.h"

#define SCHEDULE_COLUMNS "name, template, interval_ms, next_run, enabled, created_at," \
	" last_run, last_task, skipped, last_skipped, calendar, tz"

static int schedule_rows(struct sql *s, void (*fn)(const struct schedule_row *r, void *arg),
    void *arg);
static int changes(struct store *st, struct sql *s);

/* Rows of SCHEDULE_COLUMNS, each given to fn; then the run ends: 0, or -1. */
static int schedule_rows(struct sql *s, void (*fn)(const struct schedule_row *r, void *arg),
    void *arg)
{
	while (sql_step(s) == 1) {
		struct schedule_row r = {
			.name = (const char *)sqlite3_column_text(s->q, 0),
			.tmpl = (const char *)sqlite3_column_text(s->q, 1),
			.every_ms = sqlite3_column_int64(s->q, 2),
			.next_run = sqlite3_column_int64(s->q, 3),
			.enabled = sqlite3_column_int(s->q, 4),
			.created_at = sqlite3_column_int64(s->q, 5),
			.last_run = sqlite3_column_int64(s->q, 6),
			.last_task = sqlite3_column_int64(s->q, 7),
			.skipped = sqlite3_column_int64(s->q, 8),
			.last_skipped = sqlite3_column_int64(s->q, 9),
			.calendar = (const char *)sqlite3_column_text(s->q, 10),
			.tz = (const char *)sqlite3_column_text(s->q, 11),
		};
		fn(&r, arg);
	}
	return sql_end(s);
}

int store_schedules(struct store *st, const char *name,
    void (*fn)(const struct schedule_row *r, void *arg), void *arg)
{
	struct sql s;

	if (name == NULL)
		sql_prepare(&s, store_db(st), "reading the schedules",
		    "SELECT " SCHEDULE_COLUMNS " FROM schedules ORDER BY name");
	else {
		sql_prepare(&s, store_db(st), "reading a schedule",
		    "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE name = ?");
		sql_text(&s, 1, name);
	}
	return schedule_rows(&s, fn, arg);
}

int store_schedules_due(struct store *st, int64_t now, int limit,
    void (*fn)(const struct schedule_row *r, void *arg), void *arg)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "reading the schedules due", "SELECT " SCHEDULE_COLUMNS
	    " FROM schedules WHERE enabled AND next_run <= ? ORDER BY next_run LIMIT ?");
	sql_int(&s, 1, now);
	sql_int(&s, 2, limit);
	return schedule_rows(&s, fn, arg);
}

int store_schedules_next_due(struct store *st, int64_t *next)
{
	struct sql s;
	int found = 0;

	sql_prepare(&s, store_db(st), "reading the next schedule due",
	    "SELECT min(next_run) FROM schedules WHERE enabled");
	if (sql_step(&s) == 1 && sqlite3_column_type(s.q, 0) != SQLITE_NULL) {
		*next = sqlite3_column_int64(s.q, 0);
		found = 1;
	}
	return sql_end(&s) < 0 ? -1 : found;
}

/* Runs a write prepared in s: the rows it changed, or -1. */
static int changes(struct store *st, struct sql *s)
{
	return sql_run(s) < 0 ? -1 : sqlite3_changes(store_db(st));
}

int store_schedule_add(struct store *st, const char *name, const cJSON *tmpl,
    int64_t every_ms, const char *calendar, const char *tz, int64_t first_run,
    int64_t created_at)
{
	struct sql s;

	/* A calendar schedule's interval_ms (NOT NULL since schema 3) is 0. */
	sql_prepare(&s, store_db(st), "adding a schedule", "INSERT INTO schedules (name,"
	    " template, interval_ms, next_run, created_at, calendar, tz)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)");
	sql_text(&s, 1, name);
	sql_json(&s, 2, tmpl);
	sql_int(&s, 3, calendar != NULL ? 0 : every_ms);
	sql_int(&s, 4, first_run);
	sql_int(&s, 5, created_at);
	sql_text(&s, 6, calendar);
	sql_text(&s, 7, tz);
	return sql_run(&s);
}

int store_schedule_delete(struct store *st, const char *name)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "deleting a schedule", "DELETE FROM schedules WHERE name = ?");
	sql_text(&s, 1, name);
	return changes(st, &s);
}

int store_schedule_enable(struct store *st, const char *name, int enabled)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "enabling or disabling a schedule",
	    "UPDATE schedules SET enabled = ? WHERE name = ?");
	sql_int(&s, 1, enabled);
	sql_text(&s, 2, name);
	return changes(st, &s);
}

int store_schedule_fired(struct store *st, const char *name, int64_t next, int64_t now,
    int64_t task)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "recording a schedule's run", "UPDATE schedules"
	    " SET next_run = ?, last_run = ?, last_task = ? WHERE name = ?");
	sql_int(&s, 1, next);
	sql_int(&s, 2, now);
	sql_int(&s, 3, task);
	sql_text(&s, 4, name);
	return sql_run(&s);
}

int store_schedule_skipped(struct store *st, const char *name, int64_t next, int64_t now)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "recording a schedule's skipped run", "UPDATE schedules"
	    " SET next_run = ?, skipped = skipped + 1, last_skipped = ? WHERE name = ?");
	sql_int(&s, 1, next);
	sql_int(&s, 2, now);
	sql_text(&s, 3, name);
	return sql_run(&s);
}

int store_schedule_retried(struct store *st, int64_t old_task, int64_t new_task)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "moving a schedule to its task's retry",
	    "UPDATE schedules SET last_task = ? WHERE last_task = ?");
	sql_int(&s, 1, new_task);
	sql_int(&s, 2, old_task);
	return changes(st, &s);
}
