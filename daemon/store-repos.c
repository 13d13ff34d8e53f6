/* store-repos.c: the rows of file repositories (DESIGN §8) — repositories, their versions and the files of each — as repos.c reads and writes them. */
#include "depotd.h"
#include "store-sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int repo_rows(struct sql *s, void (*fn)(const struct repo_row *r, void *arg), void *arg);
static int version_file_rows(struct sql *s, void (*fn)(const struct version_file *f, void *arg),
    void *arg);

cJSON *store_repo_importer(struct store *st, const char *name)
{
	struct sql s;
	cJSON *imp = NULL;

	sql_prepare(&s, store_db(st), "reading a repository's importer",
	    "SELECT importer FROM repositories WHERE name = ?");
	sql_text(&s, 1, name);
	if (sql_step(&s) == 1)
		imp = cJSON_Parse((const char *)sqlite3_column_text(s.q, 0));
	sql_end(&s);
	return imp;
}

/* Each repository with its latest version's counts, in the column order repo_rows reads. */
static const char repo_select[] =
	"SELECT r.name, r.importer, r.created_at, r.published_version, r.published_at,"
	" v.number, v.files, v.size FROM repositories r LEFT JOIN versions v"
	" ON v.repo = r.name AND v.number = (SELECT max(number) FROM versions"
	" WHERE repo = r.name AND complete)";

/* Rows of repo_select, each given to fn; then the run ends: 0, or -1. */
static int repo_rows(struct sql *s, void (*fn)(const struct repo_row *r, void *arg), void *arg)
{
	while (sql_step(s) == 1) {
		struct repo_row r = {
			.name = (const char *)sqlite3_column_text(s->q, 0),
			.importer = (const char *)sqlite3_column_text(s->q, 1),
			.created_at = sqlite3_column_int64(s->q, 2),
			.published_version = sqlite3_column_int64(s->q, 3),
			.published_at = sqlite3_column_int64(s->q, 4),
			.latest_version = sqlite3_column_int64(s->q, 5),
			.files = sqlite3_column_int64(s->q, 6),
			.size = sqlite3_column_int64(s->q, 7),
		};
		fn(&r, arg);
	}
	return sql_end(s);
}

int store_repos(struct store *st, const char *name,
    void (*fn)(const struct repo_row *r, void *arg), void *arg)
{
	char sql[sizeof repo_select + 32];
	struct sql s;

	snprintf(sql, sizeof sql, "%s%s", repo_select, name ? " WHERE r.name = ?" :
	    " ORDER BY r.name");
	sql_prepare(&s, store_db(st), "reading repositories", sql);
	if (name)
		sql_text(&s, 1, name);
	return repo_rows(&s, fn, arg);
}

int store_repo_versions(struct store *st, const char *name,
    void (*fn)(const struct version_row *v, void *arg), void *arg)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "reading a repository's versions", "SELECT number,"
	    " created_at, files, size, task_id FROM versions WHERE repo = ? AND complete"
	    " ORDER BY number DESC");
	sql_text(&s, 1, name);
	while (sql_step(&s) == 1) {
		struct version_row v = {
			.number = sqlite3_column_int64(s.q, 0),
			.created_at = sqlite3_column_int64(s.q, 1),
			.files = sqlite3_column_int64(s.q, 2),
			.size = sqlite3_column_int64(s.q, 3),
			.task = sqlite3_column_int64(s.q, 4),
		};
		fn(&v, arg);
	}
	return sql_end(&s);
}

int store_repo_create(struct store *st, const char *name, const cJSON *importer,
    int64_t created_at)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "creating a repository", "INSERT INTO repositories"
	    " (importer, name, created_at) VALUES (?, ?, ?)");
	sql_json(&s, 1, importer);
	sql_text(&s, 2, name);
	sql_int(&s, 3, created_at);
	return sql_run(&s);
}

int store_repo_update(struct store *st, const char *name, const cJSON *importer)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "changing a repository's importer",
	    "UPDATE repositories SET importer = ? WHERE name = ?");
	sql_json(&s, 1, importer);
	sql_text(&s, 2, name);
	return sql_run(&s);
}

int store_repo_delete(struct store *st, const char *name)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "deleting a repository",
	    "DELETE FROM repositories WHERE name = ?");
	sql_text(&s, 1, name);
	return sql_run(&s);
}

int64_t store_repo_latest(struct store *st, const char *name, char *digest, size_t digestlen)
{
	struct sql s;
	int64_t n = 0;

	if (digest)
		digest[0] = '\0';
	sql_prepare(&s, store_db(st), "reading a repository's latest version", "SELECT number,"
	    " digest FROM versions WHERE repo = ? AND complete ORDER BY number DESC LIMIT 1");
	sql_text(&s, 1, name);
	if (sql_step(&s) == 1) {
		n = sqlite3_column_int64(s.q, 0);
		if (digest)
			snprintf(digest, digestlen, "%s", sqlite3_column_text(s.q, 1));
	}
	return sql_end(&s) < 0 ? -1 : n;
}

int store_repo_published(struct store *st, const char *name, int64_t version, int64_t at)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "recording a publication", "UPDATE repositories"
	    " SET published_version = ?, published_at = ? WHERE name = ?");
	sql_int(&s, 1, version);
	sql_int(&s, 2, at);
	sql_text(&s, 3, name);
	return sql_run(&s);
}

/* Rows of (sha256, size, path), each given to fn (a query of one column gives sha256 only); then the run ends: 0, or -1. */
static int version_file_rows(struct sql *s, void (*fn)(const struct version_file *f, void *arg),
    void *arg)
{
	int columns = sqlite3_column_count(s->q);

	while (sql_step(s) == 1) {
		struct version_file f = {
			.sha256 = (const char *)sqlite3_column_text(s->q, 0),
			.size = columns > 1 ? sqlite3_column_int64(s->q, 1) : 0,
			.path = columns > 2 ? (const char *)sqlite3_column_text(s->q, 2) : NULL,
		};
		fn(&f, arg);
	}
	return sql_end(s);
}

int store_version_files(struct store *st, const char *repo, int64_t number,
    void (*fn)(const struct version_file *f, void *arg), void *arg)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "reading a version's files", "SELECT sha256, size, path"
	    " FROM version_files WHERE repo = ?1 AND number = ?2 AND EXISTS (SELECT 1 FROM"
	    " versions WHERE repo = ?1 AND number = ?2 AND complete) ORDER BY path");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, number);
	return version_file_rows(&s, fn, arg);
}

int store_content_referenced(struct store *st,
    void (*fn)(const struct version_file *f, void *arg), void *arg)
{
	struct sql s;

	/*
	 * Unfiltered: a version still being recorded holds its content too.
	 * (Orphans reserves content exclusively and a sync holds it shared
	 * until its version is complete, so the two never meet; this keeps it
	 * so.)
	 */
	sql_prepare(&s, store_db(st), "reading the referenced content",
	    "SELECT DISTINCT sha256 FROM version_files ORDER BY sha256");
	return version_file_rows(&s, fn, arg);
}

/*
 * A new version is gathered in the temporary table sync_new (in memory:
 * store_open sets temp_store), then recorded a slice at a time, each slice
 * its own transaction: the version's row goes in first with complete = 0,
 * which every read above skips, and complete = 1 ends it. One version is
 * gathered at a time (the recorder's queue). Paths are never empty
 * (manifest.c), so "" is the cursor before the first.
 */
int store_newversion_begin(struct store *st)
{
	return sql_exec(store_db(st), "making a new version's file table",
	    "CREATE TEMP TABLE IF NOT EXISTS sync_new (path TEXT PRIMARY KEY,"
	    " sha256 TEXT NOT NULL, size INTEGER NOT NULL); DELETE FROM sync_new;");
}

int store_newversion_fill(struct store *st,
    int (*next)(struct version_file *f, void *arg), void *arg, int64_t max)
{
	struct version_file f;
	struct sql s;
	int64_t n = 0;
	int more = 0;

	sql_prepare(&s, store_db(st), "adding a file to a new version",
	    "INSERT OR REPLACE INTO sync_new (sha256, size, path) VALUES (?, ?, ?)");
	while (s.rc == SQLITE_OK && (max <= 0 || n < max) && (more = next(&f, arg)) > 0) {
		sql_textn(&s, 1, f.sha256, 64);
		sql_int(&s, 2, f.size);
		sql_text(&s, 3, f.path);
		sql_step(&s);
		sql_again(&s);
		n++;
	}
	if (sql_end(&s) < 0 || more < 0)
		return -1;
	return max > 0 && n == max ? 1 : 0;
}

/*
 * The last path of the next slice of at most max rows of query (which
 * selects one path and binds repo ?1, number ?2, the cursor ?3 and max
 * ?4, or with repo NULL the cursor ?1 and max ?2) into *cursor: 1, or 0
 * when no row is left.
 */
static int slice_end(struct store *st, const char *purpose, const char *query,
    const char *repo, int64_t number, char **cursor, int64_t max)
{
	struct sql s;
	char *last = NULL;
	int rc;

	sql_prepare(&s, store_db(st), purpose, query);
	if (repo != NULL) {
		sql_text(&s, 1, repo);
		sql_int(&s, 2, number);
	}
	sql_text(&s, repo != NULL ? 3 : 1, *cursor ? *cursor : "");
	sql_int(&s, repo != NULL ? 4 : 2, max);
	if ((rc = sql_step(&s)) == 1 && sqlite3_column_type(s.q, 0) != SQLITE_NULL &&
	    (last = strdup((const char *)sqlite3_column_text(s.q, 0))) == NULL)
		sql_fail(&s, SQLITE_NOMEM);
	if (sql_end(&s) < 0 || rc < 0) {
		free(last);
		return -1;
	}
	if (last == NULL)
		return 0;
	free(*cursor);
	*cursor = last;
	return 1;
}

/*
 * The next slice of at most max rows (found by find, as slice_end says)
 * inserted by insert, which binds repo ?1, number ?2 and the slice's
 * bounds ?3 (after) and ?4 (up to and with); filter_repo names find's own
 * repo and number, or is NULL. As store_newversion_keep returns.
 */
static int slice_insert(struct store *st, const char *find, const char *filter_repo,
    const char *purpose, const char *insert, const char *repo, int64_t number, char **cursor,
    int64_t max)
{
	char *from = strdup(*cursor ? *cursor : "");
	struct sql s;
	int rc;

	if (from == NULL)
		return -1;
	rc = slice_end(st, purpose, find, filter_repo, number, cursor, max);
	if (rc == 1) {
		sql_prepare(&s, store_db(st), purpose, insert);
		sql_text(&s, 1, repo);
		sql_int(&s, 2, number);
		sql_text(&s, 3, from);
		sql_text(&s, 4, *cursor);
		if (sql_run(&s) < 0)
			rc = -1;
	}
	free(from);
	return rc;
}

int store_newversion_keep(struct store *st, const char *repo, int64_t number, char **cursor,
    int64_t max)
{
	return slice_insert(st, "SELECT max(path) FROM (SELECT path FROM version_files"
	    " WHERE repo = ?1 AND number = ?2 AND path > ?3 ORDER BY path LIMIT ?4)", repo,
	    "keeping a version's files in the next", "INSERT OR IGNORE INTO sync_new (path,"
	    " sha256, size) SELECT path, sha256, size FROM version_files WHERE repo = ?1"
	    " AND number = ?2 AND path > ?3 AND path <= ?4", repo, number, cursor, max);
}

int store_newversion_files(struct store *st, char **cursor, int64_t max,
    void (*fn)(const struct version_file *f, void *arg), void *arg)
{
	struct sql s;
	char *last = NULL;
	int64_t n = 0;

	sql_prepare(&s, store_db(st), "reading a new version's files", "SELECT sha256, size,"
	    " path FROM sync_new WHERE path > ? ORDER BY path LIMIT ?");
	sql_text(&s, 1, *cursor ? *cursor : "");
	sql_int(&s, 2, max > 0 ? max : -1);
	while (sql_step(&s) == 1) {
		struct version_file f = {
			.sha256 = (const char *)sqlite3_column_text(s.q, 0),
			.size = sqlite3_column_int64(s.q, 1),
			.path = (const char *)sqlite3_column_text(s.q, 2),
		};
		fn(&f, arg);
		if (++n == max) {
			free(last);
			if ((last = strdup(f.path)) == NULL)
				sql_fail(&s, SQLITE_NOMEM);
		}
	}
	if (sql_end(&s) < 0) {
		free(last);
		return -1;
	}
	if (last == NULL)
		return 0;
	free(*cursor);
	*cursor = last;
	return 1;
}

int store_newversion_start(struct store *st, const struct version_row *v, const char *repo,
    const char *digest)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "starting a new version", "INSERT INTO versions (repo,"
	    " number, created_at, task_id, files, size, digest, complete)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, 0)");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, v->number);
	sql_int(&s, 3, v->created_at);
	sql_int(&s, 4, v->task);
	sql_int(&s, 5, v->files);
	sql_int(&s, 6, v->size);
	sql_text(&s, 7, digest);
	return sql_run(&s);
}

int store_newversion_copy(struct store *st, const char *repo, int64_t number, char **cursor,
    int64_t max)
{
	return slice_insert(st, "SELECT max(path) FROM (SELECT path FROM sync_new"
	    " WHERE path > ?1 ORDER BY path LIMIT ?2)", NULL,
	    "recording a slice of a new version's files", "INSERT INTO version_files (repo,"
	    " number, path, sha256, size) SELECT ?1, ?2, path, sha256, size FROM sync_new"
	    " WHERE path > ?3 AND path <= ?4 ORDER BY path", repo, number, cursor, max);
}

int store_newversion_complete(struct store *st, const char *repo, int64_t number)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "completing a new version",
	    "UPDATE versions SET complete = 1 WHERE repo = ? AND number = ?");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, number);
	return sql_run(&s);
}

int store_newversion_discard(struct store *st, const char *repo, int64_t number)
{
	struct sql s;

	/* Its file rows go with it (ON DELETE CASCADE). */
	sql_prepare(&s, store_db(st), "removing an incomplete version",
	    "DELETE FROM versions WHERE repo = ? AND number = ? AND complete = 0");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, number);
	return sql_run(&s);
}

int store_newversion_end(struct store *st)
{
	return sql_exec(store_db(st), "emptying a new version's file table",
	    "DELETE FROM sync_new");
}

int store_versions_sweep(struct store *st)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "removing incomplete versions",
	    "DELETE FROM versions WHERE complete = 0");
	if (sql_run(&s) < 0)
		return -1;
	return sqlite3_changes(store_db(st));
}
