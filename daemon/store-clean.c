/* store-clean.c: the rows task.remove and task.clean forget, and the final tasks they must keep. */
#include "depotd.h"
#include "store-sql.h"

#include <stdio.h>
#include <string.h>

/*
 * The final tasks something still reads from the tasks table, which
 * neither command removes:
 * - one an unfinished task runs after: its --after is judged again from
 *   this row at the next start and after a back-off, and a missing row
 *   reads as a dependency that failed;
 * - a schedule's last task, which schedule list shows;
 * - the newest backup an incremental can build on (SQL_BACKUP_BASE):
 *   without its row the next incremental would quietly build on an older
 *   archive, or be written full.
 * ?9 is that backup's id (store_last_backup), 0 when there is none.
 */
#define CLEAN_NOT_KEPT \
	" AND id NOT IN (SELECT after_id FROM tasks WHERE after_id IS NOT NULL" \
	" AND state IN ('waiting', 'running', 'canceling'))" \
	" AND id NOT IN (SELECT last_task FROM schedules WHERE last_task IS NOT NULL)" \
	" AND id <> ?9"

int64_t store_last_backup(struct store *st)
{
	struct sql s;
	int64_t id = 0;

	sql_prepare(&s, store_db(st), "finding the last backup", "SELECT id FROM tasks WHERE "
	    SQL_BACKUP_BASE " ORDER BY id DESC LIMIT 1");
	if (sql_step(&s) == 1)
		id = sqlite3_column_int64(s.q, 0);
	return sql_end(&s) < 0 ? -1 : id;
}

int store_task_kept(struct store *st, int64_t id, int64_t last_backup, char *why, size_t n)
{
	struct sql s;
	int kept = 0;

	if (id == last_backup) {
		snprintf(why, n, "task %lld is the last completed backup: the next incremental "
		    "backup builds on it", (long long)id);
		return 1;
	}
	sql_prepare(&s, store_db(st), "finding the tasks that run after a task", "SELECT id,"
	    " state FROM tasks WHERE after_id = ?1 AND state IN ('waiting', 'running',"
	    " 'canceling') ORDER BY id LIMIT 1");
	sql_int(&s, 1, id);
	if (sql_step(&s) == 1) {
		snprintf(why, n, "task %lld (%s) runs after task %lld, which it reads when it "
		    "is admitted", (long long)sqlite3_column_int64(s.q, 0),
		    (const char *)sqlite3_column_text(s.q, 1), (long long)id);
		kept = 1;
	}
	if (sql_end(&s) < 0)
		return -1;
	if (kept)
		return 1;
	sql_prepare(&s, store_db(st), "finding the schedules a task was the last of",
	    "SELECT name FROM schedules WHERE last_task = ?1 ORDER BY name LIMIT 1");
	sql_int(&s, 1, id);
	if (sql_step(&s) == 1) {
		snprintf(why, n, "task %lld is the last task of schedule '%s', which schedule "
		    "list shows", (long long)id, (const char *)sqlite3_column_text(s.q, 0));
		kept = 1;
	}
	return sql_end(&s) < 0 ? -1 : kept;
}

int store_forget_tasks(struct store *st, const int64_t *ids, size_t n)
{
	static const char *const sql[] = {
		"DELETE FROM reservations WHERE task_id = ?1",
		"DELETE FROM task_processes WHERE task_id = ?1",
		/*
		 * Its environment's row, when no other task shares it (tasks_env
		 * finds one at once when one does). Task by task, each row gone
		 * before the next is looked at: the last of those being forgotten
		 * that shared it takes it.
		 */
		("DELETE FROM environments WHERE id = (SELECT env_id FROM tasks WHERE id = ?1)"
		" AND NOT EXISTS (SELECT 1 FROM tasks WHERE env_id = environments.id AND id <> ?1)"),
		"DELETE FROM tasks WHERE id = ?1",
	};
	enum { NSQL = sizeof sql / sizeof sql[0] };
	struct sql s[NSQL];
	int rc = 0;
	size_t k;

	/* A final task holds no reservation or process row; one left by a bug goes with it. */
	for (k = 0; k < NSQL; k++)
		sql_prepare(&s[k], store_db(st), "forgetting tasks", sql[k]);
	for (size_t i = 0; i < n; i++)
		for (k = 0; k < NSQL && s[k].rc == SQLITE_OK; k++) {
			sql_int(&s[k], 1, ids[i]);
			sql_step(&s[k]);
			sql_again(&s[k]);
		}
	for (k = 0; k < NSQL; k++)
		if (sql_end(&s[k]) < 0)
			rc = -1;
	return rc;
}

int store_clean_select(struct store *st, const struct clean_filter *f, int64_t *ids, int max)
{
	struct sql s;
	int n = 0;

	sql_prepare(&s, store_db(st), "finding the tasks to clean", "SELECT id FROM tasks"
	    " WHERE id > ?1 AND id <= ?2 AND state NOT IN ('waiting', 'running', 'canceling')"
	    " AND (?3 IS NULL OR state = ?3) AND (?4 = 0 OR finished_at < ?4)"
	    CLEAN_NOT_KEPT " ORDER BY id LIMIT ?5");
	sql_int(&s, 1, f->from);
	sql_int(&s, 2, f->to);
	sql_text(&s, 3, f->state);
	sql_int(&s, 4, f->before);
	sql_int(&s, 5, max);
	sql_int(&s, 9, f->last_backup);
	while (n < max && sql_step(&s) == 1)
		ids[n++] = sqlite3_column_int64(s.q, 0);
	return sql_end(&s) < 0 ? -1 : n;
}

int store_finished_before(struct store *st, int64_t before)
{
	struct sql s;
	int found;

	sql_prepare(&s, store_db(st), "finding the tasks to clean", "SELECT 1 FROM tasks"
	    " WHERE finished_at < ?1 LIMIT 1");
	sql_int(&s, 1, before);
	found = sql_step(&s) == 1;
	return sql_end(&s) < 0 ? -1 : found;
}

int store_clean_range(struct store *st, const struct clean_filter *f, int64_t *lo, int64_t *hi)
{
	struct sql s;
	int found = 0;

	/* finished_at < ?4 reads the tasks_finished index: only the tasks that finished before. */
	sql_prepare(&s, store_db(st), "finding the tasks to clean", "SELECT min(id), max(id)"
	    " FROM tasks WHERE finished_at < ?4 AND state NOT IN ('waiting', 'running',"
	    " 'canceling') AND (?3 IS NULL OR state = ?3)" CLEAN_NOT_KEPT);
	sql_text(&s, 3, f->state);
	sql_int(&s, 4, f->before);
	sql_int(&s, 9, f->last_backup);
	if (sql_step(&s) == 1 && sqlite3_column_type(s.q, 0) != SQLITE_NULL) {
		*lo = sqlite3_column_int64(s.q, 0);
		*hi = sqlite3_column_int64(s.q, 1);
		found = 1;
	}
	return sql_end(&s) < 0 ? -1 : found;
}
