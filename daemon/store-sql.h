/* store-sql.h: what the store files (daemon/store*.c) share, and nothing else includes: the connection and the one way to run a statement. */
#ifndef DEPOT_STORE_SQL_H
#define DEPOT_STORE_SQL_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdint.h>

struct store;

/*
 * A completed backup whose result names its archive: the newest is what
 * an incremental builds on (store-snapshot.c), so task.remove and
 * task.clean keep it (store-clean.c).
 */
#define SQL_BACKUP_BASE "type = 'backup' AND state = 'completed' AND json_valid(result)" \
	" AND json_extract(result, '$.sha256') IS NOT NULL"

/* store.c */
/* The store's connection, for the store files' own queries. */
sqlite3 *store_db(struct store *st);

/* store-checkpoint.c */
struct checkpointer;
/* A thread checkpointing path's log, which db's commits no longer do. */
struct checkpointer *checkpointer_start(sqlite3 *db, const char *path, char *err, size_t errlen);
void checkpointer_stop(struct checkpointer *c, sqlite3 *db);
uint64_t checkpointer_done(struct checkpointer *c);
int checkpointer_behind(struct checkpointer *c);
/*
 * Whether a commit that leaves pages in the log wakes the checkpoint
 * thread: once the log holds 1,000 pages, then each time it has grown by
 * 1,000 since *woke_at (the log at the last wake-up). *last_pages, the log
 * after the commit before, tells a restarted log. Updates both.
 */
int checkpoint_due(int pages, int *last_pages, int *woke_at);
/* Pages past which the thread makes the next commit write the log from its start again (32 MiB). */
#define CHECKPOINT_RESTART_PAGES 8192

/* store-sql.c */
/*
 * One statement's run. Every prepare, bind and step goes through these
 * calls, which check its result: the first failure is logged with the
 * statement's purpose and kept, every later call does nothing, and
 * sql_step and sql_end return -1. So a caller binds and steps straight
 * through and looks at one result. store_errmsg still says the failure
 * after sql_end.
 */
struct sql {
	sqlite3 *db;
	sqlite3_stmt *q;
	const char *purpose;	/* "recording a new task": what the log says failed */
	int kept;		/* a statement the store keeps: sql_end resets it */
	int rc;			/* SQLITE_OK, or the first failure */
};

/* Prepares sql for this run only; -1 (logged) when it cannot be. */
int sql_prepare(struct sql *s, sqlite3 *db, const char *purpose, const char *sql);
/* Runs q, a statement the store prepared once and keeps. */
void sql_use(struct sql *s, sqlite3 *db, sqlite3_stmt *q, const char *purpose);

/* Binds parameter col (from 1). Text is not copied: it must outlive the step. */
void sql_text(struct sql *s, int col, const char *v);		/* NULL binds null */
void sql_textn(struct sql *s, int col, const char *v, int n);	/* its first n bytes */
void sql_int(struct sql *s, int col, int64_t v);
void sql_opt(struct sql *s, int col, int64_t v);		/* v <= 0 binds null */
void sql_json(struct sql *s, int col, const cJSON *v);		/* NULL or null binds null */

/* One step: 1 for a row, 0 when done, -1 on failure. */
int sql_step(struct sql *s);
/* Ends the run (finalized, or a kept statement reset): 0, or -1 if anything failed. */
int sql_end(struct sql *s);
/* Makes the statement ready to step again, for the next row of a loop of writes. */
void sql_again(struct sql *s);
/* Steps once, for a statement that returns no rows, and ends the run: 0 or -1. */
int sql_run(struct sql *s);
/* Records a failure of the caller's own (SQLITE_NOMEM reading a row, say), logged as the others. */
void sql_fail(struct sql *s, int rc);

/*
 * Steps a kept statement of transaction control (BEGIN, COMMIT, SAVEPOINT,
 * ...), which takes no parameter and returns no row, and resets it: 0, or
 * -1, not logged (the caller knows what failing means; sqlite3_errmsg says why).
 */
int sql_control(sqlite3_stmt *q);

/* Runs statements that take no parameters (sqlite3_exec); 0, or -1 logged with purpose. */
int sql_exec(sqlite3 *db, const char *purpose, const char *sql);

#endif
