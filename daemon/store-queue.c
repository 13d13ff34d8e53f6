/* store-queue.c: the queue's rules as stored — the whole queue's pause and each resource's capacity and pause — so a restart keeps them. */
#include "depotd.h"
#include "store-sql.h"

#define SETTING_QUEUE_PAUSED "queue_paused"

int store_queue_rules(struct store *st, int *queue_paused,
    void (*fn)(const char *name, int capacity, int paused, void *arg), void *arg)
{
	struct sql s;

	*queue_paused = 0;
	sql_prepare(&s, store_db(st), "reading the queue's pause",
	    "SELECT value FROM settings WHERE key = '" SETTING_QUEUE_PAUSED "'");
	if (sql_step(&s) == 1)
		*queue_paused = sqlite3_column_int(s.q, 0) != 0;
	if (sql_end(&s) < 0)
		return -1;
	sql_prepare(&s, store_db(st), "reading the resources' rules",
	    "SELECT name, capacity, paused FROM resources ORDER BY name");
	while (sql_step(&s) == 1)
		fn((const char *)sqlite3_column_text(s.q, 0), sqlite3_column_int(s.q, 1),
		    sqlite3_column_int(s.q, 2), arg);
	return sql_end(&s);
}

int store_queue_set_paused(struct store *st, int paused)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "recording the queue's pause",
	    "INSERT INTO settings (key, value) VALUES ('" SETTING_QUEUE_PAUSED "', ?)"
	    " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	sql_int(&s, 1, paused != 0);
	return sql_run(&s);
}

/*
 * A resource's row holds what an administrator set; one with neither rule
 * left goes, so the table lists only what was set.
 */
static int resource_row(struct store *st, const char *name, const char *purpose,
    const char *upsert, int64_t value)
{
	struct sql s;

	sql_prepare(&s, store_db(st), purpose, upsert);
	sql_text(&s, 1, name);
	sql_opt(&s, 2, value);
	if (sql_run(&s) < 0)
		return -1;
	sql_prepare(&s, store_db(st), "forgetting a resource's rules", "DELETE FROM resources"
	    " WHERE name = ? AND capacity IS NULL AND paused = 0");
	sql_text(&s, 1, name);
	return sql_run(&s);
}

int store_resource_set_capacity(struct store *st, const char *name, int capacity)
{
	return resource_row(st, name, "recording a resource's capacity",
	    "INSERT INTO resources (name, capacity) VALUES (?, ?)"
	    " ON CONFLICT (name) DO UPDATE SET capacity = excluded.capacity", capacity);
}

int store_resource_set_paused(struct store *st, const char *name, int paused)
{
	return resource_row(st, name, "recording a resource's pause",
	    "INSERT INTO resources (name, paused) VALUES (?, coalesce(?, 0))"
	    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused", paused != 0);
}
