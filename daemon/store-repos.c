/* store-repos.c: the rows of file repositories (DESIGN §8) — repositories, their versions and the files of each — as repos.c reads and writes them. */
#include "depotd.h"
#include "store-sql.h"

#include <stdio.h>
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
	" WHERE repo = r.name)";

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
	    " created_at, files, size, task_id FROM versions WHERE repo = ? ORDER BY number DESC");
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
	    " digest FROM versions WHERE repo = ? ORDER BY number DESC LIMIT 1");
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
	    " FROM version_files WHERE repo = ? AND number = ? ORDER BY path");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, number);
	return version_file_rows(&s, fn, arg);
}

int store_content_referenced(struct store *st,
    void (*fn)(const struct version_file *f, void *arg), void *arg)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "reading the referenced content",
	    "SELECT DISTINCT sha256 FROM version_files ORDER BY sha256");
	return version_file_rows(&s, fn, arg);
}

/*
 * A new version is gathered in the temporary table sync_new, inside the
 * caller's transaction: a rollback leaves nothing of it.
 */
int store_newversion_begin(struct store *st)
{
	return sql_exec(store_db(st), "making a new version's file table",
	    "CREATE TEMP TABLE IF NOT EXISTS sync_new (path TEXT PRIMARY KEY,"
	    " sha256 TEXT NOT NULL, size INTEGER NOT NULL); DELETE FROM sync_new;");
}

int store_newversion_fill(struct store *st,
    int (*next)(struct version_file *f, void *arg), void *arg)
{
	struct version_file f;
	struct sql s;
	int more = 0;

	sql_prepare(&s, store_db(st), "adding a file to a new version",
	    "INSERT OR REPLACE INTO sync_new (sha256, size, path) VALUES (?, ?, ?)");
	while (s.rc == SQLITE_OK && (more = next(&f, arg)) > 0) {
		sql_textn(&s, 1, f.sha256, 64);
		sql_int(&s, 2, f.size);
		sql_text(&s, 3, f.path);
		sql_step(&s);
		sql_again(&s);
	}
	return sql_end(&s) < 0 || more < 0 ? -1 : 0;
}

int store_newversion_keep(struct store *st, const char *repo, int64_t number)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "keeping a version's files in the next",
	    "INSERT OR IGNORE INTO sync_new (path, sha256, size)"
	    " SELECT path, sha256, size FROM version_files WHERE repo = ? AND number = ?");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, number);
	return sql_run(&s);
}

int store_newversion_files(struct store *st,
    void (*fn)(const struct version_file *f, void *arg), void *arg)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "reading a new version's files",
	    "SELECT sha256, size, path FROM sync_new ORDER BY path");
	return version_file_rows(&s, fn, arg);
}

int store_newversion_record(struct store *st, const struct version_row *v, const char *repo,
    const char *digest)
{
	struct sql s;

	sql_prepare(&s, store_db(st), "recording a new version", "INSERT INTO versions (repo,"
	    " number, created_at, task_id, files, size, digest) VALUES (?, ?, ?, ?, ?, ?, ?)");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, v->number);
	sql_int(&s, 3, v->created_at);
	sql_int(&s, 4, v->task);
	sql_int(&s, 5, v->files);
	sql_int(&s, 6, v->size);
	sql_text(&s, 7, digest);
	if (sql_run(&s) < 0)
		return -1;
	sql_prepare(&s, store_db(st), "recording a new version's files",
	    "INSERT INTO version_files (repo, number, path, sha256, size)"
	    " SELECT ?, ?, path, sha256, size FROM sync_new");
	sql_text(&s, 1, repo);
	sql_int(&s, 2, v->number);
	if (sql_run(&s) < 0)
		return -1;
	return sql_exec(store_db(st), "emptying a new version's file table", "DELETE FROM sync_new");
}
