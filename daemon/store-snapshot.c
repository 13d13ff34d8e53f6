/* store-snapshot.c: a backup's private copy of the database — its own task recorded completed in it, and what the archive must hold read from it. */
#include "depotd.h"
#include "store-sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snapshot {
	sqlite3 *db;
};

int snapshot_open(struct snapshot **out, const char *path, char *err, size_t errlen)
{
	struct snapshot *s = calloc(1, sizeof *s);

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "opening the database copy %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sqlite3_close(s->db);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void snapshot_close(struct snapshot *s)
{
	if (s != NULL) {
		sqlite3_close(s->db);
		free(s);
	}
}

static int failed(struct snapshot *s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s in the database copy: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

/*
 * The backup task as its own archive will bring it back: completed, with
 * its result, holding nothing — not canceled `restored` like the tasks
 * that were running at the copy's instant.
 */
int snapshot_complete_task(struct snapshot *s, int64_t id, int64_t finished_at,
    const cJSON *result, char *err, size_t errlen)
{
	struct sql q;

	sql_prepare(&q, s->db, "recording the backup completed",
	    "UPDATE tasks SET state = 'completed', finished_at = ?1, result = ?2, error = NULL,"
	    " progress = NULL, cancel = NULL WHERE id = ?3");
	sql_int(&q, 1, finished_at);
	sql_json(&q, 2, result);
	sql_int(&q, 3, id);
	if (sql_run(&q) < 0)
		return failed(s, "recording the backup completed", err, errlen);
	sql_prepare(&q, s->db, "releasing the backup's reservations",
	    "DELETE FROM reservations WHERE task_id = ?1");
	sql_int(&q, 1, id);
	if (sql_run(&q) < 0)
		return failed(s, "releasing the backup's reservations", err, errlen);
	sql_prepare(&q, s->db, "forgetting the backup's processes",
	    "DELETE FROM task_processes WHERE task_id = ?1");
	sql_int(&q, 1, id);
	if (sql_run(&q) < 0)
		return failed(s, "forgetting the backup's processes", err, errlen);
	return 0;
}

/*
 * The newest completed backup before self whose result names its archive's
 * sha256: the base an incremental builds on. 1 and *result (the caller's),
 * 0 when there is none.
 */
int snapshot_last_backup(struct snapshot *s, int64_t self, cJSON **result, char *err,
    size_t errlen)
{
	struct sql q;
	int rc;

	*result = NULL;
	sql_prepare(&q, s->db, "finding the last backup",
	    "SELECT result FROM tasks WHERE " SQL_BACKUP_BASE " AND id <> ?1"
	    " ORDER BY id DESC LIMIT 1");
	sql_int(&q, 1, self);
	if ((rc = sql_step(&q)) == 1)
		*result = cJSON_Parse((const char *)sqlite3_column_text(q.q, 0));
	if (sql_end(&q) < 0)
		return failed(s, "finding the last backup", err, errlen);
	return *result != NULL;
}

int snapshot_content(struct snapshot *s, snapshot_content_fn each, void *ctx, char *err,
    size_t errlen)
{
	struct sql q;
	int rc, stop = 0;

	/* A version still being recorded (complete = 0) is removed by the next open: not part of the state. */
	sql_prepare(&q, s->db, "listing the content to back up",
	    "SELECT DISTINCT f.sha256 FROM version_files f JOIN versions v"
	    " ON v.repo = f.repo AND v.number = f.number WHERE v.complete ORDER BY f.sha256");
	while (!stop && (rc = sql_step(&q)) == 1)
		stop = each(ctx, (const char *)sqlite3_column_text(q.q, 0)) < 0;
	if (sql_end(&q) < 0)
		return failed(s, "listing the content to back up", err, errlen);
	return stop ? -1 : 0;
}

int snapshot_publications(struct snapshot *s, snapshot_publication_fn each, void *ctx,
    char *err, size_t errlen)
{
	struct sql q;
	int rc, stop = 0;

	sql_prepare(&q, s->db, "listing the publications to back up",
	    "SELECT r.name, r.published_version FROM repositories r JOIN versions v"
	    " ON v.repo = r.name AND v.number = r.published_version WHERE v.complete"
	    " ORDER BY r.name");
	while (!stop && (rc = sql_step(&q)) == 1)
		stop = each(ctx, (const char *)sqlite3_column_text(q.q, 0),
		    sqlite3_column_int64(q.q, 1)) < 0;
	if (sql_end(&q) < 0)
		return failed(s, "listing the publications to back up", err, errlen);
	return stop ? -1 : 0;
}

int snapshot_version_files(struct snapshot *s, const char *repo, int64_t number,
    snapshot_file_fn each, void *ctx, char *err, size_t errlen)
{
	struct sql q;
	int rc, stop = 0;

	sql_prepare(&q, s->db, "listing a publication's files",
	    "SELECT path, sha256, size FROM version_files WHERE repo = ?1 AND number = ?2"
	    " ORDER BY path");
	sql_text(&q, 1, repo);
	sql_int(&q, 2, number);
	while (!stop && (rc = sql_step(&q)) == 1)
		stop = each(ctx, (const char *)sqlite3_column_text(q.q, 0),
		    (const char *)sqlite3_column_text(q.q, 1), sqlite3_column_int64(q.q, 2)) < 0;
	if (sql_end(&q) < 0)
		return failed(s, "listing a publication's files", err, errlen);
	return stop ? -1 : 0;
}

int snapshot_tasks(struct snapshot *s, snapshot_task_fn each, void *ctx, char *err,
    size_t errlen)
{
	struct sql q;
	int rc, stop = 0;

	sql_prepare(&q, s->db, "listing the tasks", "SELECT id FROM tasks ORDER BY id");
	while (!stop && (rc = sql_step(&q)) == 1)
		stop = each(ctx, sqlite3_column_int64(q.q, 0)) < 0;
	if (sql_end(&q) < 0)
		return failed(s, "listing the tasks", err, errlen);
	return stop ? -1 : 0;
}
