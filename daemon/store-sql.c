/* store-sql.c: the store files' one way to run a statement: every prepare, bind and step checked, and a failure logged with what the statement was for. */
#include "store-sql.h"
#include "log.h"

#include <stdlib.h>

static void bound(struct sql *s, int rc);

int sql_prepare(struct sql *s, sqlite3 *db, const char *purpose, const char *sql)
{
	*s = (struct sql){ .db = db, .purpose = purpose, .rc = SQLITE_OK };
	if (sqlite3_prepare_v2(db, sql, -1, &s->q, NULL) != SQLITE_OK) {
		sql_fail(s, sqlite3_errcode(db));
		sqlite3_finalize(s->q);
		s->q = NULL;
		return -1;
	}
	return 0;
}

void sql_use(struct sql *s, sqlite3 *db, sqlite3_stmt *q, const char *purpose)
{
	*s = (struct sql){ .db = db, .q = q, .purpose = purpose, .kept = 1, .rc = SQLITE_OK };
}

/*
 * The first failure is the one that explains the rest; SQLite's message
 * when it is about this failure, else the code's own words (a failure of
 * the caller's, such as no memory for a JSON text).
 */
void sql_fail(struct sql *s, int rc)
{
	if (s->rc != SQLITE_OK)
		return;
	s->rc = rc != SQLITE_OK ? rc : SQLITE_ERROR;
	log_error("database: %s: %s", s->purpose, sqlite3_errcode(s->db) == s->rc ?
	    sqlite3_errmsg(s->db) : sqlite3_errstr(s->rc));
}

static void bound(struct sql *s, int rc)
{
	if (rc != SQLITE_OK)
		sql_fail(s, rc);
}

void sql_text(struct sql *s, int col, const char *v)
{
	if (s->rc == SQLITE_OK)
		bound(s, v ? sqlite3_bind_text(s->q, col, v, -1, SQLITE_STATIC) :
		    sqlite3_bind_null(s->q, col));
}

void sql_textn(struct sql *s, int col, const char *v, int n)
{
	if (s->rc == SQLITE_OK)
		bound(s, sqlite3_bind_text(s->q, col, v, n, SQLITE_STATIC));
}

void sql_int(struct sql *s, int col, int64_t v)
{
	if (s->rc == SQLITE_OK)
		bound(s, sqlite3_bind_int64(s->q, col, v));
}

void sql_opt(struct sql *s, int col, int64_t v)
{
	if (s->rc == SQLITE_OK)
		bound(s, v > 0 ? sqlite3_bind_int64(s->q, col, v) : sqlite3_bind_null(s->q, col));
}

void sql_json(struct sql *s, int col, const cJSON *v)
{
	char *text;

	if (s->rc != SQLITE_OK)
		return;
	if (v == NULL || cJSON_IsNull(v)) {
		bound(s, sqlite3_bind_null(s->q, col));
		return;
	}
	if ((text = cJSON_PrintUnformatted(v)) == NULL) {
		sql_fail(s, SQLITE_NOMEM);
		return;
	}
	bound(s, sqlite3_bind_text(s->q, col, text, -1, SQLITE_TRANSIENT));
	free(text);
}

int sql_step(struct sql *s)
{
	int rc;

	if (s->rc != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s->q);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	sql_fail(s, rc);
	return -1;
}

void sql_again(struct sql *s)
{
	if (s->q != NULL)
		sqlite3_reset(s->q);
}

int sql_end(struct sql *s)
{
	/* Reset at once: a statement left stepping would hold the WAL snapshot. */
	if (s->kept) {
		sqlite3_reset(s->q);
		sqlite3_clear_bindings(s->q);
	} else
		sqlite3_finalize(s->q);
	s->q = NULL;
	return s->rc == SQLITE_OK ? 0 : -1;
}

int sql_run(struct sql *s)
{
	sql_step(s);
	return sql_end(s);
}

int sql_control(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int sql_exec(sqlite3 *db, const char *purpose, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	log_error("database: %s: %s", purpose, sqlite3_errmsg(db));
	return -1;
}
