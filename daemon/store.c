/* store.c: the SQLite database, depotd's only durable state; the daemon is its only writer. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "store-sql.h"
#include "timeutil.h"

#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
	sqlite3 *db;
	sqlite3_stmt *insert_task, *update_task, *finish_task, *del_res, *add_res;
	sqlite3_stmt *load_task, *set_procs, *del_procs, *set_progress;
	sqlite3_stmt *add_env, *find_env, *load_env;
	/*
	 * The environment the last task stored in this transaction referred
	 * to (a batch's tasks share one object: its children say which), so
	 * that 10,000 of them print and look it up once; forgotten at its end.
	 */
	const cJSON *env_children;
	int64_t env_children_id;
	/* The last environment read back, for the assignments of a batch's tasks one after another. */
	int64_t env_text_id;
	char *env_text;
	/* Transaction control, prepared once: sqlite3_exec would parse its text at every call. */
	sqlite3_stmt *begin, *commit, *rollback, *savepoint, *release, *rollback_to;
	/*
	 * store_batch_begin: the writes until store_batch_end go in one
	 * transaction, begun at the first of them (batch_open); a
	 * store_begin inside it is a savepoint.
	 */
	int batch, batch_open;
	/* task.list, prepared when first used: [state filter: none, active, one][resource filter]. */
	sqlite3_stmt *list[3][2];
	struct checkpointer *ckpt;		/* depotd's own store only */
};

/* The page cache's bound, in PRAGMA cache_size's terms (KiB when negative): 16 MiB (store_open). */
#define STORE_CACHE_SIZE "-16384"

/* Every column a struct task is read back from, in row_to_task's order. */
#define TASK_COLUMNS "id, type, name, state, args, resources, worker, created_at," \
	" started_at, finished_at, timeout_ms, progress, error, result, schedule," \
	" retry_of, after_id, retries, not_before, cancel, priority, restart_of, env_id"

/*
 * Each entry migrates from user_version i to i+1, inside the transaction
 * that sets the new version, so a crash never leaves half a migration.
 */
static const char *const migrations[] = {
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT," /* AUTOINCREMENT: ids never reused */
	"  type TEXT NOT NULL, name TEXT NOT NULL, args TEXT NOT NULL,"
	"  resources TEXT NOT NULL, state TEXT NOT NULL, worker TEXT,"
	"  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,"
	"  timeout_ms INTEGER, progress TEXT, error TEXT, result TEXT,"
	"  schedule TEXT, retry_of INTEGER);"
	"CREATE INDEX tasks_active ON tasks(state)"
	"  WHERE state IN ('waiting', 'running', 'canceling');"
	"CREATE TABLE reservations ("
	"  task_id INTEGER NOT NULL, resource TEXT NOT NULL, mode TEXT NOT NULL,"
	"  PRIMARY KEY (task_id, resource));",

	/* 2: file repositories (DESIGN §8). */
	"CREATE TABLE repositories ("
	"  name TEXT PRIMARY KEY, importer TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  published_version INTEGER, published_at INTEGER);"
	"CREATE TABLE versions ("
	"  repo TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,"
	"  number INTEGER NOT NULL, created_at INTEGER NOT NULL, task_id INTEGER,"
	"  files INTEGER NOT NULL, size INTEGER NOT NULL, digest TEXT NOT NULL,"
	"  PRIMARY KEY (repo, number));"
	"CREATE TABLE version_files ("
	"  repo TEXT NOT NULL, number INTEGER NOT NULL, path TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, number, path),"
	"  FOREIGN KEY (repo, number) REFERENCES versions(repo, number) ON DELETE CASCADE);"
	"CREATE INDEX version_files_sha256 ON version_files(sha256);",

	/* 3: dependencies, retries and schedules (DESIGN §11, §13). */
	"ALTER TABLE tasks ADD COLUMN after_id INTEGER;"
	"ALTER TABLE tasks ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN not_before INTEGER;"
	"CREATE INDEX tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL;"
	"CREATE TABLE schedules ("
	"  name TEXT PRIMARY KEY, template TEXT NOT NULL, interval_ms INTEGER NOT NULL,"
	"  next_run INTEGER NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL, last_run INTEGER, last_task INTEGER,"
	"  skipped INTEGER NOT NULL DEFAULT 0, last_skipped INTEGER);",

	/* 4: how a canceling task will end, so that a crash cannot change it (DESIGN §7 rule 11). */
	"ALTER TABLE tasks ADD COLUMN cancel TEXT;",

	/*
	 * 5: which processes a running task's may be (its worker, its group,
	 * each with its start time), so that the next start ends them before
	 * it releases the task's reservations (DESIGN §7 rule 7).
	 */
	"CREATE TABLE task_processes ("
	"  task_id INTEGER PRIMARY KEY, worker_pid INTEGER NOT NULL,"
	"  worker_start INTEGER NOT NULL, pgid INTEGER NOT NULL, pgid_start INTEGER NOT NULL);",

	/*
	 * 6: a version is recorded a slice at a time (recorder.c): 0 until its
	 * last file row is in. Readers skip it; the next open removes it.
	 */
	"ALTER TABLE versions ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;",

	/*
	 * 7: steering the queue (issue 12): a task's priority and the task it
	 * restarts; per-resource capacity and pause, and the queue's own pause,
	 * kept here so a restart keeps them; calendar schedules.
	 */
	"ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN restart_of INTEGER;"
	"CREATE TABLE resources ("
	"  name TEXT PRIMARY KEY, capacity INTEGER, paused INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"ALTER TABLE schedules ADD COLUMN calendar TEXT;"
	"ALTER TABLE schedules ADD COLUMN tz TEXT;",

	/*
	 * 8: an exec task's environment stored once for all the tasks that
	 * share it (a batch's, a shell's runs), not in each task's args: it
	 * was most of a task's bytes, read, parsed and sent at every dispatch
	 * (issue 14). AUTOINCREMENT: an id is never another environment's,
	 * so a worker may keep the last one it was sent. Rows from before
	 * keep theirs in args (env_id null).
	 */
	"CREATE TABLE environments (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  env TEXT NOT NULL UNIQUE);"
	"ALTER TABLE tasks ADD COLUMN env_id INTEGER;"
	"CREATE INDEX tasks_env ON tasks(env_id) WHERE env_id IS NOT NULL;",
};

static int exec_sql(struct store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int migrate(struct store *st, char *err, size_t errlen)
{
	size_t target = sizeof migrations / sizeof migrations[0];
	sqlite3_stmt *q;
	int version = 0;
	char sql[64];

	if (exec_sql(st, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		goto fail_msg;
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version > (int)target) {
		snprintf(err, errlen, "database schema version %d is newer than this "
		    "depotd knows (%zu): refusing to touch it", version, target);
		store_rollback(st);
		return -1;
	}
	for (size_t v = (size_t)version; v < target; v++) {
		if (exec_sql(st, migrations[v], err, errlen) < 0)
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", v + 1);
		if (exec_sql(st, sql, err, errlen) < 0)
			goto fail;
	}
	return exec_sql(st, "COMMIT", err, errlen);
fail_msg:
	snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
fail:
	store_rollback(st);
	return -1;
}

static int prepare(struct store *st, const char *sql, sqlite3_stmt **out,
    char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "preparing statement: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int store_open(struct store **out, const char *path, int durability_full,
    char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof *st);
	char e[512];
	int swept;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* NOFOLLOW: a depot.db planted as a link (a hostile restore) must not take the state elsewhere. */
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) :
		    "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* synchronous is per connection: set at every open (DESIGN §15). */
	if (exec_sql(st, "PRAGMA journal_mode = WAL", e, sizeof e) < 0 ||
	    exec_sql(st, durability_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", e, sizeof e) < 0 ||
	    exec_sql(st, "PRAGMA foreign_keys = ON", e, sizeof e) < 0 ||
	    /*
	     * A version's record reads and writes index pages by the thousand:
	     * 16 MiB of cache instead of 2 MB keeps them from spilling to the
	     * WAL mid-transaction, and sync_new (a temporary table) stays in memory.
	     */
	    exec_sql(st, "PRAGMA cache_size = " STORE_CACHE_SIZE, e, sizeof e) < 0 ||
	    exec_sql(st, "PRAGMA temp_store = MEMORY", e, sizeof e) < 0 ||
	    /* A WAL grown by a big record shrinks back when it restarts. */
	    exec_sql(st, "PRAGMA journal_size_limit = 67108864", e, sizeof e) < 0 ||
	    migrate(st, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s", path, e);
		goto fail;
	}
	if (prepare(st, "INSERT INTO tasks (type, name, args, resources, state,"
	    " created_at, timeout_ms, progress, schedule, retry_of, after_id, retries,"
	    " not_before, priority, restart_of, env_id)"
	    " VALUES (?, ?, ?, ?, 'waiting', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
	    &st->insert_task, e, sizeof e) < 0 ||
	    prepare(st, "INSERT OR IGNORE INTO environments (env) VALUES (?)",
	    &st->add_env, e, sizeof e) < 0 ||
	    prepare(st, "SELECT id FROM environments WHERE env = ?", &st->find_env, e,
	    sizeof e) < 0 ||
	    prepare(st, "SELECT env FROM environments WHERE id = ?", &st->load_env, e,
	    sizeof e) < 0 ||
	    prepare(st, "UPDATE tasks SET state = ?, worker = ?, started_at = ?,"
	    " progress = ?, cancel = ? WHERE id = ?", &st->update_task, e, sizeof e) < 0 ||
	    prepare(st, "UPDATE tasks SET state = ?, finished_at = ?, result = ?,"
	    " error = ?, cancel = NULL, progress = coalesce(?, progress) WHERE id = ?",
	    &st->finish_task, e, sizeof e) < 0 ||
	    prepare(st, "DELETE FROM reservations WHERE task_id = ?",
	    &st->del_res, e, sizeof e) < 0 ||
	    prepare(st, "INSERT INTO reservations (task_id, resource, mode)"
	    " VALUES (?, ?, ?)", &st->add_res, e, sizeof e) < 0 ||
	    prepare(st, "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?",
	    &st->load_task, e, sizeof e) < 0 ||
	    prepare(st, "INSERT OR REPLACE INTO task_processes (task_id, worker_pid,"
	    " worker_start, pgid, pgid_start) VALUES (?, ?, ?, ?, ?)",
	    &st->set_procs, e, sizeof e) < 0 ||
	    prepare(st, "DELETE FROM task_processes WHERE task_id = ?",
	    &st->del_procs, e, sizeof e) < 0 ||
	    prepare(st, "UPDATE tasks SET progress = ? WHERE id = ?",
	    &st->set_progress, e, sizeof e) < 0 ||
	    prepare(st, "BEGIN IMMEDIATE", &st->begin, e, sizeof e) < 0 ||
	    prepare(st, "COMMIT", &st->commit, e, sizeof e) < 0 ||
	    prepare(st, "ROLLBACK", &st->rollback, e, sizeof e) < 0 ||
	    prepare(st, "SAVEPOINT unit", &st->savepoint, e, sizeof e) < 0 ||
	    prepare(st, "RELEASE unit", &st->release, e, sizeof e) < 0 ||
	    prepare(st, "ROLLBACK TO unit", &st->rollback_to, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s", path, e);
		goto fail;
	}
	/* Before anything reads them: what a crash or a stop left of versions being recorded. */
	if ((swept = store_versions_sweep(st)) < 0) {
		snprintf(err, errlen, "%s: %s", path, store_errmsg(st));
		goto fail;
	}
	if (swept > 0)
		log_warn("%s: removed %d incomplete version(s) left by an interrupted record",
		    path, swept);
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/* depotd's store: store_open, with its log checkpointed off the loop (store-checkpoint.c). */
int store_open_daemon(struct store **out, const char *path, int durability_full,
    char *err, size_t errlen)
{
	if (store_open(out, path, durability_full, err, errlen) < 0)
		return -1;
	if (((*out)->ckpt = checkpointer_start((*out)->db, path, err, errlen)) == NULL) {
		store_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

uint64_t store_checkpoints(struct store *st)
{
	return checkpointer_done(st->ckpt);
}

int store_wal_behind(struct store *st)
{
	return checkpointer_behind(st->ckpt);
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	checkpointer_stop(st->ckpt, st->db);
	sqlite3_finalize(st->insert_task);
	sqlite3_finalize(st->update_task);
	sqlite3_finalize(st->finish_task);
	sqlite3_finalize(st->del_res);
	sqlite3_finalize(st->add_res);
	sqlite3_finalize(st->load_task);
	sqlite3_finalize(st->set_procs);
	sqlite3_finalize(st->del_procs);
	sqlite3_finalize(st->set_progress);
	sqlite3_finalize(st->add_env);
	sqlite3_finalize(st->find_env);
	sqlite3_finalize(st->load_env);
	free(st->env_text);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	sqlite3_finalize(st->savepoint);
	sqlite3_finalize(st->release);
	sqlite3_finalize(st->rollback_to);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			sqlite3_finalize(st->list[i][j]);
	sqlite3_close(st->db);
	free(st);
}

const char *store_errmsg(struct store *st) { return sqlite3_errmsg(st->db); }
sqlite3 *store_db(struct store *st) { return st->db; }

/*
 * Inside a batch, the write about to be made joins its transaction, begun
 * now if it has not been: 0, or -1 when it cannot be begun.
 */
static int batch_join(struct store *st)
{
	if (!st->batch)
		return 0;
	/*
	 * Begun, but SQLite rolled the whole of it back on an error (a full
	 * disk, an I/O error): a write now would commit on its own, apart
	 * from the rest of the request. The batch fails; store_batch_end says so.
	 */
	if (st->batch_open)
		return sqlite3_get_autocommit(st->db) ? -1 : 0;
	if (sql_control(st->begin) < 0)
		return -1;
	st->batch_open = 1;
	return 0;
}

/* Writes go in BEGIN IMMEDIATE so a second connection (sqlite3 CLI) never makes them fail half-way. */
int store_begin(struct store *st)
{
	if (st->batch)
		return batch_join(st) < 0 ? -1 : sql_control(st->savepoint);
	return sql_control(st->begin);
}

/* What this transaction's inserts may have made: an id it rolls back may be given again. */
static void env_forget(struct store *st)
{
	st->env_children = NULL;
	st->env_children_id = 0;
	st->env_text_id = 0;
	free(st->env_text);
	st->env_text = NULL;
}

int store_commit(struct store *st)
{
	st->env_children = NULL;
	if (st->batch ? sql_control(st->release) == 0 : sql_control(st->commit) == 0)
		return 0;
	store_rollback(st);
	return -1;
}

void store_rollback(struct store *st)
{
	env_forget(st);
	/* In a batch only this unit goes; what the batch did before it stays. */
	if (st->batch) {
		if (sql_control(st->rollback_to) == 0)
			sql_control(st->release);
		return;
	}
	/* Nothing to undo (the failure was BEGIN's own, or the write's rolled back already): store_errmsg keeps why. */
	if (sqlite3_get_autocommit(st->db))
		return;
	/* A migration's, before the kept statements are prepared. */
	if (st->rollback == NULL)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	else
		(void)sql_control(st->rollback);
}

void store_batch_begin(struct store *st)
{
	st->batch = 1;
	st->batch_open = 0;
}

int store_batch_pending(struct store *st)
{
	return st->batch && st->batch_open;
}

int store_batch_end(struct store *st)
{
	int rc = 0;

	/* An error SQLite answered by rolling back the whole transaction leaves nothing to commit. */
	if (st->batch_open && (sqlite3_get_autocommit(st->db) || sql_control(st->commit) < 0)) {
		rc = -1;
		(void)sql_control(st->rollback);
		env_forget(st);
	}
	st->env_children = NULL;
	st->batch = st->batch_open = 0;
	return rc;
}

/* The id of env's row, added when no task had it yet; -1 (logged) when it cannot be had. */
static int64_t env_id_of(struct store *st, const cJSON *env)
{
	char *text;
	struct sql s;
	int64_t id = -1;

	/*
	 * Only a reference (a batch's tasks' env) is known by its children:
	 * they live as long as the request, and so as the transaction. A
	 * task's own env is freed once stored, and another could be given the
	 * same address.
	 */
	if ((env->type & cJSON_IsReference) && env->child != NULL && env->child == st->env_children)
		return st->env_children_id;
	if ((text = cJSON_PrintUnformatted(env)) == NULL)
		return -1;
	sql_use(&s, st->db, st->add_env, "recording a task's environment");
	sql_text(&s, 1, text);
	if (sql_run(&s) == 0) {
		sql_use(&s, st->db, st->find_env, "finding a task's environment");
		sql_text(&s, 1, text);
		if (sql_step(&s) == 1)
			id = sqlite3_column_int64(s.q, 0);
		if (sql_end(&s) < 0)
			id = -1;
	}
	free(text);
	if (id > 0 && (env->type & cJSON_IsReference)) {
		st->env_children = env->child;
		st->env_children_id = id;
	}
	return id;
}

int64_t store_insert_task(struct store *st, struct task *t)
{
	cJSON *res, *env = cJSON_GetObjectItemCaseSensitive(t->d->args, "env");
	struct sql s;
	int rc;

	/*
	 * The environment goes to its own row, shared, and leaves args here
	 * too: what is in memory is what the row holds (task_env reads it).
	 */
	if (cJSON_IsObject(env)) {
		int64_t id = env_id_of(st, env);

		if (id < 0)
			return -1;
		t->d->env_id = id;
		cJSON_Delete(cJSON_DetachItemViaPointer(t->d->args, env));
	}
	res = task_resources_json(t);
	sql_use(&s, st->db, st->insert_task, "recording a new task");
	sql_text(&s, 1, t->type);
	sql_text(&s, 2, t->d->name);
	sql_json(&s, 3, t->d->args);
	sql_json(&s, 4, res);
	sql_int(&s, 5, t->created_at);
	sql_opt(&s, 6, t->d->timeout_ms);
	sql_text(&s, 7, t->d->schedule);
	sql_opt(&s, 8, t->d->retry_of);
	sql_opt(&s, 9, t->after);
	sql_int(&s, 10, t->retries);
	sql_opt(&s, 11, t->not_before);
	sql_int(&s, 12, t->priority);
	sql_opt(&s, 13, t->d->restart_of);
	sql_opt(&s, 14, t->d->env_id);
	rc = sql_run(&s);
	cJSON_Delete(res);
	return rc < 0 ? -1 : sqlite3_last_insert_rowid(st->db);
}

/* {"state", "reason", "message"}: how a canceling task ends; NULL otherwise. */
static cJSON *cancel_json(const struct task *t)
{
	cJSON *c;

	if (t->state != TASK_CANCELING || t->d->cancel_reason == NULL)
		return NULL;
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "state", task_state_name(t->d->cancel_final));
	cJSON_AddStringToObject(c, "reason", t->d->cancel_reason);
	cJSON_AddStringToObject(c, "message", t->d->cancel_message ? t->d->cancel_message :
	    t->d->cancel_reason);
	return c;
}

static void cancel_from_json(struct task *t, const cJSON *c)
{
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "state"));
	const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "reason"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "message"));

	if (state == NULL || reason == NULL || task_state_parse(state, &t->d->cancel_final) < 0 ||
	    !task_state_final(t->d->cancel_final))
		return;
	t->d->cancel_reason = strdup(reason);
	t->d->cancel_message = msg ? strdup(msg) : NULL;
}

int store_update_task(struct store *st, const struct task *t)
{
	cJSON *p, *c;
	struct sql s;
	int rc;

	if (batch_join(st) < 0)
		return -1;
	p = task_progress_json(t->d);
	c = cancel_json(t);
	sql_use(&s, st->db, st->update_task, "recording a task's state");
	sql_text(&s, 1, task_state_name(t->state));
	sql_text(&s, 2, t->d->worker[0] ? t->d->worker : NULL);
	sql_opt(&s, 3, t->d->started_at);
	sql_json(&s, 4, p);
	sql_json(&s, 5, c);
	sql_int(&s, 6, t->id);
	rc = sql_run(&s);
	cJSON_Delete(p);
	cJSON_Delete(c);
	return rc;
}

int store_task_progress(struct store *st, const struct task *t)
{
	cJSON *p;
	struct sql s;
	int rc;

	if (batch_join(st) < 0)
		return -1;
	p = task_progress_json(t->d);
	sql_use(&s, st->db, st->set_progress, "recording a task's progress");
	sql_json(&s, 1, p);
	sql_int(&s, 2, t->id);
	rc = sql_run(&s);
	cJSON_Delete(p);
	return rc;
}

int store_finish_task(struct store *st, int64_t id, enum task_state state,
    int64_t finished_at, const cJSON *result, const cJSON *error, const cJSON *progress)
{
	struct sql s;

	sql_use(&s, st->db, st->finish_task, "recording a task's end");
	sql_text(&s, 1, task_state_name(state));
	sql_int(&s, 2, finished_at);
	sql_json(&s, 3, result);
	sql_json(&s, 4, error);
	sql_json(&s, 5, progress);
	sql_int(&s, 6, id);
	if (sql_run(&s) < 0)
		return -1;
	sql_use(&s, st->db, st->del_res, "releasing an ended task's reservations");
	sql_int(&s, 1, id);
	if (sql_run(&s) < 0)
		return -1;
	return store_task_processes(st, id, NULL);
}

int store_set_reservations(struct store *st, const struct task *t)
{
	struct sql s;

	/* A requeued task starts again holding what it held (tasks.c, task_requeue). */
	sql_use(&s, st->db, st->del_res, "clearing a task's reservations");
	sql_int(&s, 1, t->id);
	if (sql_run(&s) < 0)
		return -1;
	for (size_t i = 0; i < t->nres; i++) {
		sql_use(&s, st->db, st->add_res, "recording a task's reservation");
		sql_int(&s, 1, t->id);
		sql_text(&s, 2, t->res[i].name);
		sql_text(&s, 3, lock_mode_name(t->res[i].mode));
		if (sql_run(&s) < 0)
			return -1;
	}
	return 0;
}

/*
 * Ids of the tasks that were running or canceling when depotd last
 * stopped (DESIGN §7 rule 5), in id order (caller frees); tasks_recover
 * ends them. Their reservations are the new daemon's to hold again, from
 * task_processes, while what they started may still run (tasks.c).
 */
int store_interrupted(struct store *st, int64_t **ids, size_t *n)
{
	struct sql s;
	size_t cap = 0;
	char e[256];

	*ids = NULL;
	*n = 0;
	if (exec_sql(st, "DELETE FROM reservations", e, sizeof e) < 0) {
		log_error("recovering tasks: %s", e);
		return -1;
	}
	/* The second term is tasks_active's own: without it SQLite reads every row, waiting ones too. */
	sql_prepare(&s, st->db, "reading the interrupted tasks", "SELECT id FROM tasks"
	    " WHERE state IN ('running', 'canceling')"
	    " AND state IN ('waiting', 'running', 'canceling') ORDER BY id");
	while (sql_step(&s) == 1) {
		if (*n == cap) {
			int64_t *grown = realloc(*ids, (cap = cap ? cap * 2 : 16) * sizeof *grown);
			if (grown == NULL) {
				sql_fail(&s, SQLITE_NOMEM);
				break;
			}
			*ids = grown;
		}
		(*ids)[(*n)++] = sqlite3_column_int64(s.q, 0);
	}
	if (sql_end(&s) < 0) {
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* The waiting tasks that ran after old_id now run after new_id, its retry. */
int store_move_dependents(struct store *st, int64_t old_id, int64_t new_id)
{
	struct sql s;

	sql_prepare(&s, st->db, "moving dependents to a retry", "UPDATE tasks SET after_id = ?"
	    " WHERE after_id = ? AND state = 'waiting'");
	sql_int(&s, 1, new_id);
	sql_int(&s, 2, old_id);
	return sql_run(&s);
}

static cJSON *column_json(sqlite3_stmt *q, int col)
{
	const char *text = (const char *)sqlite3_column_text(q, col);
	/* The whole text or nothing: cJSON_Parse stops at the end of a value and ignores what follows. */
	cJSON *v = text ? cJSON_ParseWithOpts(text, NULL, 1) : NULL;

	return v ? v : cJSON_CreateNull();
}

/* What cannot be read back is taken as exclusive: the safe side. */
static enum lock_mode mode_of(const char *s)
{
	enum lock_mode mode = LOCK_EXCLUSIVE;

	(void)lock_mode_parse(s, &mode);
	return mode;
}

static char *column_strdup(sqlite3_stmt *q, int col)
{
	const char *text = (const char *)sqlite3_column_text(q, col);

	return text ? strdup(text) : NULL;
}

static void progress_from_json(struct task *t, const cJSON *p)
{
	const cJSON *done = cJSON_GetObjectItemCaseSensitive(p, "done");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(p, "total");
	const char *unit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "unit"));
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "message"));

	t->d->progress_done = cJSON_IsNumber(done) ? (int64_t)done->valuedouble : 0;
	t->d->progress_total = cJSON_IsNumber(total) ? (int64_t)total->valuedouble : -1;
	t->d->progress_unit = unit ? strdup(unit) : NULL;
	t->d->progress_message = msg ? strdup(msg) : NULL;
}

/*
 * t's reservations from column col's JSON, their names shared (task_intern)
 * when share says so; t->res NULL when out of memory.
 */
static void column_res(struct task *t, sqlite3_stmt *q, int col, int share)
{
	cJSON *res = column_json(q, col), *r;
	size_t i = 0;

	t->nres = (uint32_t)cJSON_GetArraySize(res);
	t->res = calloc(t->nres + 1, sizeof *t->res);
	t->res_interned = share != 0;
	cJSON_ArrayForEach(r, res) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "name"));

		if (t->res == NULL)
			break;
		name = name ? name : "?";
		t->res[i].name = share ? (char *)task_intern(name) : strdup(name);
		t->res[i].mode = mode_of(cJSON_GetStringValue(cJSON_GetObjectItem(r, "mode")));
		if (t->res[i].name == NULL)
			break;
		i++;
	}
	cJSON_Delete(res);
	/* All or none: a task short of a reservation must not run. */
	if (t->res != NULL && i < t->nres) {
		for (size_t j = 0; j < i; j++) {
			if (share)
				task_intern_release(t->res[j].name);
			else
				free(t->res[j].name);
		}
		free(t->res);
		t->res = NULL;
		t->nres = 0;
	}
}

/* t's type, and its entry: tasktypes.def's own string when it knows it. */
static int column_type(struct task *t, sqlite3_stmt *q, int col)
{
	const char *type = (const char *)sqlite3_column_text(q, col);

	if (type == NULL)
		return -1;
	if ((t->tt = tasktype_find(type)) != NULL) {
		t->type = task_type_name(t->tt->id);
		t->type_static = 1;
		return 0;
	}
	return (t->type = strdup(type)) != NULL ? 0 : -1;
}

/* One task from a row of TASK_COLUMNS: the one place a stored task is decoded. */
static struct task *row_to_task(sqlite3_stmt *q)
{
	struct task *t = task_new();
	const char *state = (const char *)sqlite3_column_text(q, 3);
	cJSON *p;

	if (t == NULL)
		return NULL;
	t->id = sqlite3_column_int64(q, 0);
	if (column_type(t, q, 1) < 0) {
		task_free(t);
		return NULL;
	}
	t->d->name = column_strdup(q, 2);
	if (state == NULL || task_state_parse(state, &t->state) < 0)
		t->state = TASK_FAILED;
	t->d->args = column_json(q, 4);
	column_res(t, q, 5, 0);
	if (sqlite3_column_text(q, 6))
		snprintf(t->d->worker, sizeof t->d->worker, "%s", sqlite3_column_text(q, 6));
	t->created_at = sqlite3_column_int64(q, 7);
	t->d->started_at = sqlite3_column_int64(q, 8);
	t->d->finished_at = sqlite3_column_int64(q, 9);
	t->d->timeout_ms = sqlite3_column_int64(q, 10);
	p = column_json(q, 11);
	progress_from_json(t, p);
	cJSON_Delete(p);
	t->d->error = column_json(q, 12);
	t->d->result = column_json(q, 13);
	t->d->schedule = column_strdup(q, 14);
	t->d->retry_of = sqlite3_column_int64(q, 15);
	t->after = sqlite3_column_int64(q, 16);
	t->retries = (int)sqlite3_column_int64(q, 17);
	t->not_before = sqlite3_column_int64(q, 18);
	p = column_json(q, 19);
	cancel_from_json(t, p);
	cJSON_Delete(p);
	t->priority = (int)sqlite3_column_int64(q, 20);
	t->d->restart_of = sqlite3_column_int64(q, 21);
	t->d->env_id = sqlite3_column_int64(q, 22);
	if (t->type == NULL || t->d->name == NULL || t->res == NULL) {
		task_free(t);
		return NULL;
	}
	return t;
}

/*
 * A waiting task as dispatch needs it, from a row of id, type, resources,
 * created_at, after_id, retries, not_before, priority: the rest is read
 * when it is needed (task_detail).
 */
static struct task *row_to_waiting(sqlite3_stmt *q)
{
	struct task *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->id = sqlite3_column_int64(q, 0);
	t->state = TASK_WAITING;
	if (column_type(t, q, 1) < 0) {
		free(t);
		return NULL;
	}
	column_res(t, q, 2, 1);
	t->created_at = sqlite3_column_int64(q, 3);
	t->after = sqlite3_column_int64(q, 4);
	t->retries = (int)sqlite3_column_int64(q, 5);
	t->not_before = sqlite3_column_int64(q, 6);
	t->priority = (int)sqlite3_column_int64(q, 7);
	if (t->res == NULL) {
		task_free(t);
		return NULL;
	}
	return t;
}

int store_load_waiting(struct store *st, void (*fn)(struct task *t))
{
	char e[256];
	struct sql s;
	int rc;

	/*
	 * The rows are read once, in order: a page cache of a few pages serves
	 * that, where a full one would be filled with the whole table and
	 * scattered among the tasks that stay (DESIGN §6).
	 */
	if (exec_sql(st, "PRAGMA cache_size = 64", e, sizeof e) < 0)
		log_warn("loading the waiting tasks: %s", e);
	sql_prepare(&s, st->db, "loading the waiting tasks", "SELECT id, type, resources,"
	    " created_at, after_id, retries, not_before, priority"
	    " FROM tasks WHERE state = 'waiting' ORDER BY id");
	while (sql_step(&s) == 1) {
		struct task *t = row_to_waiting(s.q);
		if (t == NULL) {
			sql_fail(&s, SQLITE_NOMEM);
			break;
		}
		fn(t);
	}
	rc = sql_end(&s);
	if (exec_sql(st, "PRAGMA cache_size = " STORE_CACHE_SIZE, e, sizeof e) < 0)
		log_warn("after loading the waiting tasks: %s", e);
	sqlite3_db_release_memory(st->db);
	return rc;
}

/*
 * Reading every waiting task fills the page cache with the whole table,
 * which the loop then never reads again in bulk: it goes back, and so does
 * what malloc holds free among the tasks that stay.
 */
void store_release_memory(struct store *st)
{
	sqlite3_db_release_memory(st->db);
	malloc_trim(0);
}

struct task *store_load_task(struct store *st, int64_t id)
{
	struct task *t = NULL;
	const char *args;
	struct sql s;

	sql_use(&s, st->db, st->load_task, "reading a task");
	sql_int(&s, 1, id);
	if (sql_step(&s) == 1 && (t = row_to_task(s.q)) != NULL) {
		/*
		 * The text beside what it parsed to, for an assignment to carry
		 * as it is (task_detail): not when it did not parse (args is then
		 * null) or is not UTF-8 (only a repaired copy may go out).
		 */
		args = (const char *)sqlite3_column_text(s.q, 4);
		if (args != NULL && !cJSON_IsNull(t->d->args) &&
		    utf8_valid(args, (size_t)sqlite3_column_bytes(s.q, 4)))
			t->d->args_text = strdup(args);
	}
	sql_end(&s);
	return t;
}

cJSON *store_task_json(struct store *st, int64_t id)
{
	struct task *t = store_load_task(st, id);
	cJSON *o = t ? task_to_json(t) : NULL;

	task_free(t);
	return o;
}

const char *store_env_text(struct store *st, int64_t id)
{
	struct sql s;

	if (id == st->env_text_id && st->env_text != NULL)
		return st->env_text;
	free(st->env_text);
	st->env_text = NULL;
	st->env_text_id = 0;
	sql_use(&s, st->db, st->load_env, "reading a task's environment");
	sql_int(&s, 1, id);
	if (sql_step(&s) == 1) {
		const char *text = (const char *)sqlite3_column_text(s.q, 0);

		if (text != NULL && (st->env_text = strdup(text)) != NULL)
			st->env_text_id = id;
	}
	sql_end(&s);
	return st->env_text;
}

/* The cached statement for a filter: one per shape, so a page costs no prepare. */
static sqlite3_stmt *list_stmt(struct store *st, int by_state, int by_resource)
{
	char sql[1024], e[512];
	sqlite3_stmt **q = &st->list[by_state][by_resource];

	if (*q != NULL)
		return *q;
	/* ?1 the cursor, ?2 the state, ?3 the resource, ?4 the limit. */
	snprintf(sql, sizeof sql, "SELECT " TASK_COLUMNS " FROM tasks WHERE id < ?1%s%s"
	    " ORDER BY id DESC LIMIT ?4",
	    by_state == 0 ? "" : by_state == 1 ?
	    " AND state IN ('waiting', 'running', 'canceling')" : " AND state = ?2",
	    by_resource ? " AND EXISTS (SELECT 1 FROM json_each(tasks.resources)"
	    " WHERE json_extract(value, '$.name') = ?3)" : "");
	if (prepare(st, sql, q, e, sizeof e) < 0) {
		log_error("database: %s", e);
		*q = NULL;
	}
	return *q;
}

int store_list_tasks(struct store *st, const char *state, const char *resource,
    int64_t before, int limit, void (*fn)(struct task *t, void *arg), void *arg)
{
	int by_state = state == NULL ? 0 : strcmp(state, TASK_FILTER_ACTIVE) == 0 ? 1 : 2;
	sqlite3_stmt *q = list_stmt(st, by_state, resource != NULL);
	struct sql s;
	int n = 0;

	if (q == NULL)
		return -1;
	sql_use(&s, st->db, q, "listing tasks");
	sql_int(&s, 1, before);
	if (by_state == 2)
		sql_text(&s, 2, state);
	if (resource != NULL)
		sql_text(&s, 3, resource);
	sql_int(&s, 4, limit);
	while (sql_step(&s) == 1) {
		struct task *t = row_to_task(s.q);

		if (t == NULL) {
			sql_fail(&s, SQLITE_NOMEM);
			break;
		}
		fn(t, arg);
		n++;
	}
	return sql_end(&s) < 0 ? -1 : n;
}

/* SQLite's progress handler: a non-zero answer interrupts the statement. */
static int check_stopped(void *stop)
{
	return __atomic_load_n((const int *)stop, __ATOMIC_RELAXED);
}

int store_check_file(const char *path, const int *stop, char *msg, size_t msglen)
{
	sqlite3 *db = NULL;
	struct sql s;
	int ok = 0, rc;

	/*
	 * A connection of its own, read-only: its read transaction sees one
	 * instant of the store while depotd goes on writing (WAL), and the
	 * pages it reads leave with it. quick_check, not integrity_check:
	 * status shows the result.
	 */
	if ((rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) != SQLITE_OK) {
		snprintf(msg, msglen, "cannot open %s: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 2000);
	sqlite3_progress_handler(db, 10000, check_stopped, (void *)stop);
	sql_prepare(&s, db, "checking the database", "PRAGMA quick_check");
	if (sql_step(&s) == 1) {
		const char *r = (const char *)sqlite3_column_text(s.q, 0);

		ok = r != NULL && strcmp(r, "ok") == 0;
		snprintf(msg, msglen, "%s", r != NULL ? r : "no answer");
		/* "*** in database main ***\nPage 13: …": one line for status and the log. */
		for (char *nl = msg; (nl = strchr(nl, '\n')) != NULL;)
			*nl = ' ';
	} else
		snprintf(msg, msglen, "cannot check %s: %s", path, sqlite3_errmsg(db));
	sql_end(&s);
	sqlite3_close(db);
	return ok ? 0 : -1;
}

/*
 * Records t's processes as fence.c knows them (worker and group), or with
 * t NULL forgets task id's. Start times are 64-bit ticks; SQLite keeps
 * them as signed integers, which they fit.
 */
int store_task_processes(struct store *st, int64_t id, const struct task *t)
{
	struct sql s;

	if (batch_join(st) < 0)
		return -1;
	if (t == NULL) {
		sql_use(&s, st->db, st->del_procs, "forgetting a task's processes");
		sql_int(&s, 1, id);
		return sql_run(&s);
	}
	sql_use(&s, st->db, st->set_procs, "recording a task's processes");
	sql_int(&s, 1, id);
	sql_int(&s, 2, t->d->worker_pid);
	sql_int(&s, 3, (int64_t)t->d->worker_start);
	sql_int(&s, 4, t->d->pgid);
	sql_int(&s, 5, (int64_t)t->d->pgid_start);
	return sql_run(&s);
}

/* Fills t's recorded processes in from the database; none recorded leaves them 0. */
int store_load_task_processes(struct store *st, struct task *t)
{
	struct sql s;

	sql_prepare(&s, st->db, "reading a task's processes", "SELECT worker_pid,"
	    " worker_start, pgid, pgid_start FROM task_processes WHERE task_id = ?");
	sql_int(&s, 1, t->id);
	if (sql_step(&s) == 1) {
		t->d->worker_pid = (pid_t)sqlite3_column_int64(s.q, 0);
		t->d->worker_start = (uint64_t)sqlite3_column_int64(s.q, 1);
		t->d->pgid = (pid_t)sqlite3_column_int64(s.q, 2);
		t->d->pgid_start = (uint64_t)sqlite3_column_int64(s.q, 3);
	}
	return sql_end(&s);
}
