/* store-restore.c: the database side of backup and restore (DESIGN §9) — the consistent copy a backup streams, and settling a restored database so no task id is ever reused. */
#include "depotd.h"
#include "store-sql.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int keep_ids_above(sqlite3 *db, int64_t floor);
static int64_t max_task_id(sqlite3 *db);

/*
 * A consistent copy of the database at from (DESIGN §15), made by the
 * backup's worker rather than depotd: a read connection of its own, whose
 * one sqlite3_backup_step(-1) reads one snapshot while depotd goes on
 * writing (WAL), so a large database never holds up depotd's loop.
 */
int store_copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc = -1;

	unlink(to);
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "opening %s: %s", from, sqlite3_errmsg(src));
		goto out;
	}
	sqlite3_busy_timeout(src, 10000);
	if (sqlite3_open(to, &dst) != SQLITE_OK) {
		snprintf(err, errlen, "creating %s: %s", to, sqlite3_errmsg(dst));
		goto out;
	}
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		snprintf(err, errlen, "copying the database: %s", sqlite3_errmsg(dst));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "copying the database: %s", sqlite3_errstr(rc));
		rc = -1;
		goto out;
	}
	/* One file, no WAL beside it, so the archive holds the whole database. */
	rc = sql_exec(dst, "making the database copy one file", "PRAGMA journal_mode = DELETE");
	if (rc < 0)
		snprintf(err, errlen, "making the database copy one file: %s", sqlite3_errmsg(dst));
	chmod(to, 0600);
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	return rc;
}

/* The highest task id ever handed out (AUTOINCREMENT keeps it in sqlite_sequence), or 0. */
static int64_t max_task_id(sqlite3 *db)
{
	struct sql s;
	int64_t n = 0;

	sql_prepare(&s, db, "reading the highest task id",
	    "SELECT max(seq) FROM sqlite_sequence WHERE name = 'tasks'");
	if (sql_step(&s) == 1)
		n = sqlite3_column_int64(s.q, 0);
	sql_end(&s);
	return n;
}

int64_t store_max_task_id(struct store *st)
{
	return max_task_id(store_db(st));
}

int64_t store_max_task_id_at(const char *path)
{
	sqlite3 *db = NULL;
	int64_t n = 0;

	if (access(path, F_OK) == 0 &&
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		n = max_task_id(db);
	sqlite3_close(db);
	return n;
}

int store_settle_restored(struct store *st, int64_t now, int disable_schedules)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "canceling the restored tasks not final",
	    "UPDATE tasks SET state = 'canceled', finished_at = ?, error ="
	    " '{\"reason\":\"restored\",\"message\":\"the data directory was restored from a"
	    " backup\"}' WHERE state IN ('waiting', 'running', 'canceling')");
	sql_int(&s, 1, now);
	if (sql_run(&s) < 0 || sql_exec(store_db(st), "dropping the restored reservations",
	    "DELETE FROM reservations") < 0)
		return -1;
	return disable_schedules ? sql_exec(store_db(st), "disabling the restored schedules",
	    "UPDATE schedules SET enabled = 0") : 0;
}

static int keep_ids_above(sqlite3 *db, int64_t floor)
{
	struct sql s;

	if (sql_exec(db, "keeping task ids above the old data's",
	    "INSERT OR IGNORE INTO sqlite_sequence (name, seq) VALUES ('tasks', 0)") < 0)
		return -1;
	sql_prepare(&s, db, "keeping task ids above the old data's",
	    "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'tasks'");
	sql_int(&s, 1, floor);
	return sql_run(&s);
}

int store_keep_ids_above(struct store *st, int64_t floor)
{
	return keep_ids_above(store_db(st), floor);
}

int store_keep_ids_above_at(const char *path, int64_t floor, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK || keep_ids_above(db, floor) < 0) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		rc = -1;
	}
	sqlite3_close(db);
	return rc;
}

int64_t store_move_task(struct store *st, int64_t from)
{
	/* Every column that names a task by id: its row's, its dependents', its retries' and restarts', its schedule's, its version's, its reservations and processes. */
	static const char *const sql[] = {
		"UPDATE tasks SET id = ?2 WHERE id = ?1",
		"UPDATE tasks SET after_id = ?2 WHERE after_id = ?1",
		"UPDATE tasks SET retry_of = ?2 WHERE retry_of = ?1",
		"UPDATE tasks SET restart_of = ?2 WHERE restart_of = ?1",
		"UPDATE schedules SET last_task = ?2 WHERE last_task = ?1",
		"UPDATE versions SET task_id = ?2 WHERE task_id = ?1",
		"UPDATE reservations SET task_id = ?2 WHERE task_id = ?1",
		"UPDATE task_processes SET task_id = ?2 WHERE task_id = ?1",
	};
	struct sql s;
	int64_t to = 0, found = 0;

	sql_prepare(&s, store_db(st), "finding a task's new id", "SELECT (SELECT count(*) FROM"
	    " tasks WHERE id = ?1), max((SELECT coalesce(max(id), 0) FROM tasks), (SELECT"
	    " coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'tasks')) + 1");
	sql_int(&s, 1, from);
	if (sql_step(&s) == 1) {
		found = sqlite3_column_int64(s.q, 0);
		to = sqlite3_column_int64(s.q, 1);
	}
	if (sql_end(&s) < 0)
		return -1;
	if (!found)
		return 0;
	/* The highest id now: the next task (AUTOINCREMENT) is given the one above it. */
	for (size_t k = 0; k < sizeof sql / sizeof sql[0]; k++) {
		sql_prepare(&s, store_db(st), "giving a task a new id", sql[k]);
		sql_int(&s, 1, from);
		sql_int(&s, 2, to);
		if (sql_run(&s) < 0)
			return -1;
	}
	return to;
}

int store_renumber_task(struct store *st, int64_t from, int64_t to)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "giving a task its id", "UPDATE tasks SET id = ? WHERE id = ?");
	sql_int(&s, 1, to);
	sql_int(&s, 2, from);
	return sql_run(&s);
}
