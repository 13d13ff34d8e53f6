/* dbcheck.c: a database file's schema version and integrity, checked for backup verify (depotd --verify, run by depotctl) and restore. */
/*
 * The one place outside daemon/store*.c that calls SQLite: the rule is
 * "sqlite3_ only in daemon/store*.c and share/dbcheck.c" (tests/run-rules
 * checks it). This file only reads a file that is not the store yet; the
 * store's own SQL stays behind store_ in the daemon.
 */
#include "dbcheck.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int dbcheck_file(const char *path, char *why, size_t whylen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	const char *answer;
	int version = 0, rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		snprintf(why, whylen, "cannot be read as a database: %s",
		    db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	q = NULL;
	if (version <= 0) {
		snprintf(why, whylen, "is not a depot database (no schema version)");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		snprintf(why, whylen, "cannot be checked: %s", sqlite3_errmsg(db));
		goto out;
	}
	answer = (const char *)sqlite3_column_text(q, 0);
	if (answer == NULL || strcmp(answer, "ok") != 0) {
		snprintf(why, whylen, "fails its integrity check: %s", answer ? answer : "no answer");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

/* The schema versions (daemon/store.c) that brought the versions table, and its complete column. */
#define SCHEMA_VERSIONS 2
#define SCHEMA_COMPLETE 6

int dbcheck_references(const char *path, int (*held)(const char *sha256, void *ctx), void *ctx,
    struct dbcheck_ref *first, char *why, size_t whylen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int version, st, rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW)
		goto fail;
	version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	q = NULL;
	if (version < SCHEMA_VERSIONS) {
		rc = 0;
		goto out;
	}
	/* Before the complete column, every version was complete. */
	if (sqlite3_prepare_v2(db, version < SCHEMA_COMPLETE ?
	    "SELECT f.sha256, f.repo, f.number FROM version_files f "
	    "ORDER BY f.sha256, f.repo, f.number" :
	    "SELECT f.sha256, f.repo, f.number FROM version_files f JOIN versions v "
	    "ON v.repo = f.repo AND v.number = f.number WHERE v.complete <> 0 "
	    "ORDER BY f.sha256, f.repo, f.number", -1, &q, NULL) != SQLITE_OK)
		goto fail;
	while ((st = sqlite3_step(q)) == SQLITE_ROW) {
		const char *sha = (const char *)sqlite3_column_text(q, 0);
		const char *repo = (const char *)sqlite3_column_text(q, 1);
		if (sha != NULL && held(sha, ctx))
			continue;
		snprintf(first->sha256, sizeof first->sha256, "%s", sha ? sha : "");
		snprintf(first->repo, sizeof first->repo, "%s", repo ? repo : "");
		first->number = sqlite3_column_int64(q, 2);
		rc = 1;
		goto out;
	}
	if (st != SQLITE_DONE)
		goto fail;
	rc = 0;
	goto out;
fail:
	snprintf(why, whylen, "cannot be read for the content its versions reference: %s",
	    db ? sqlite3_errmsg(db) : "out of memory");
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}
