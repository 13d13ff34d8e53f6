/* restore.c: the daemon's half of backup and restore (DESIGN §9): the consistent database copy a backup streams, and swapping a restored data directory in — online or with the daemon stopped. */
#include "backupfmt.h"
#include "depotd.h"
#include "fsutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *suffix_of(const char *compression)
{
	return strcmp(compression, "zstd") == 0 ? ".tar.zst" :
	    strcmp(compression, "gzip") == 0 ? ".tar.gz" : ".tar";
}

/* sqlite3_backup_step(-1) copies the whole database in one consistent step (DESIGN §15). */
static int copy_database(sqlite3 *from, const char *to, char *err, size_t errlen)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	unlink(to);
	if (sqlite3_open(to, &dst) != SQLITE_OK) {
		snprintf(err, errlen, "creating %s: %s", to, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	if ((b = sqlite3_backup_init(dst, "main", from, "main")) == NULL) {
		snprintf(err, errlen, "copying the database: %s", sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "copying the database: %s", sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	/* One file, no WAL beside it, so the archive holds the whole database. */
	sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	sqlite3_close(dst);
	chmod(to, 0600);
	return 0;
}

int snapshot_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen)
{
	char path[4200], when[32], out[4200];
	const char *output;
	time_t now = time(NULL);
	struct tm tm;

	if (strcmp(t->type, "restore") == 0) {
		snprintf(path, sizeof path, "%s.restore-%lld", D->dir, (long long)t->id);
		cJSON_AddStringToObject(assignment, "staging", path);
		cJSON_AddNumberToObject(assignment, "max_members", D->cfg.restore_max_members);
		cJSON_AddNumberToObject(assignment, "free_margin", (double)D->cfg.restore_free_margin);
		return 0;
	}
	if (strcmp(t->type, "backup") != 0)
		return 0;
	snprintf(path, sizeof path, "%s/tmp/backup-%lld.db", D->dir, (long long)t->id);
	if (copy_database(store_db(D->store), path, err, errlen) < 0)
		return -1;
	output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->args, "output"));
	if (output == NULL) {
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(out, sizeof out, "%s/backups/depot-%s%s", D->dir, when,
		    suffix_of(D->cfg.compression));
		/* Two backups in one second must not replace each other. */
		if (access(out, F_OK) == 0)
			snprintf(out, sizeof out, "%s/backups/depot-%s-%lld%s", D->dir, when,
			    (long long)t->id, suffix_of(D->cfg.compression));
		output = out;
	}
	cJSON_AddStringToObject(assignment, "db_copy", path);
	cJSON_AddStringToObject(assignment, "output", output);
	cJSON_AddStringToObject(assignment, "compression", D->cfg.compression);
	return 0;
}

void snapshot_task_ended(const struct task *t, int completed)
{
	char path[4200];

	if (strcmp(t->type, "backup") == 0) {
		snprintf(path, sizeof path, "%s/tmp/backup-%lld.db", D->dir, (long long)t->id);
		unlink(path);
	} else if (strcmp(t->type, "restore") == 0 && !completed) {
		snprintf(path, sizeof path, "%s.restore-%lld", D->dir, (long long)t->id);
		fs_remove_tree(path);
	}
}

static int64_t max_task_id(sqlite3 *db)
{
	sqlite3_stmt *q;
	int64_t n = 0;

	if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM sqlite_sequence WHERE name = 'tasks'",
	    -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static int64_t max_task_id_of(const char *dbpath)
{
	sqlite3 *db = NULL;
	int64_t n = 0;

	if (access(dbpath, F_OK) == 0 &&
	    sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
		n = max_task_id(db);
	sqlite3_close(db);
	return n;
}

/*
 * In the database now in dir: every task not final is canceled (restored),
 * and the id sequence starts above old_max, so no id is ever reused.
 */
static int settle_database(const char *dir, int64_t old_max, char *err, size_t errlen)
{
	char path[4200], sql[768];
	struct store *st;
	int rc;

	snprintf(path, sizeof path, "%s/depot.db", dir);
	/* store_open migrates an archive made by an older depot. */
	if (store_open(&st, path, 1, err, errlen) < 0)
		return -1;
	snprintf(sql, sizeof sql,
	    "UPDATE tasks SET state = 'canceled', finished_at = %lld, error ="
	    " '{\"reason\":\"restored\",\"message\":\"the data directory was restored from a"
	    " backup\"}' WHERE state IN ('waiting', 'running', 'canceling');"
	    "DELETE FROM reservations;"
	    "INSERT OR IGNORE INTO sqlite_sequence (name, seq) VALUES ('tasks', 0);"
	    "UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name = 'tasks';",
	    (long long)time_now_ms(), (long long)old_max);
	rc = store_begin(st) == 0 &&
	    sqlite3_exec(store_db(st), sql, NULL, NULL, NULL) == SQLITE_OK &&
	    store_commit(st) == 0 ? 0 : -1;
	if (rc < 0) {
		snprintf(err, errlen, "settling the restored database: %s", store_errmsg(st));
		store_rollback(st);
	}
	store_close(st);
	return rc;
}

/*
 * Swaps staging in for dir; the old data stays as DIR.pre-restore-TIMESTAMP.
 * What no backup holds moves across with the data directory: the running
 * daemon's run/ (sockets, pid lock) when keep_run, and backups/. All or
 * nothing: if any step fails, everything is put back as it was and staging
 * is where it was.
 */
static int swap_in(const char *dir, const char *staging, int keep_run, char *kept,
    size_t keptlen, char *err, size_t errlen)
{
	const char *carried[] = { "run", "backups" };
	const char *subdirs[] = { "tmp", "logs", "content", "publish", "run" };
	char when[32], from[4300], to[4300];
	time_t now = time(NULL);
	size_t moved = 0, first = keep_run ? 0 : 1;
	struct tm tm;
	int had_dir = access(dir, F_OK) == 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(kept, keptlen, "%s.pre-restore-%s", dir, when);
	if (had_dir && rename(dir, kept) < 0) {
		snprintf(err, errlen, "moving %s aside: %s", dir, strerror(errno));
		return -1;
	}
	if (rename(staging, dir) < 0) {
		snprintf(err, errlen, "moving %s into place: %s", staging, strerror(errno));
		goto undo_dir;
	}
	for (size_t i = first; had_dir && i < sizeof carried / sizeof carried[0]; i++, moved++) {
		snprintf(from, sizeof from, "%s/%s", kept, carried[i]);
		snprintf(to, sizeof to, "%s/%s", dir, carried[i]);
		/* rename would replace an empty directory there; the archive never holds one. */
		if (access(from, F_OK) == 0 && rename(from, to) < 0) {
			snprintf(err, errlen, "moving %s into the restored data: %s", from,
			    strerror(errno));
			goto undo_carried;
		}
	}
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(to, sizeof to, "%s/%s", dir, subdirs[i]);
		mkdir(to, strcmp(subdirs[i], "content") == 0 || strcmp(subdirs[i], "publish") == 0 ?
		    0755 : 0700);
	}
	return 0;
undo_carried:
	while (moved-- > 0) {
		snprintf(from, sizeof from, "%s/%s", dir, carried[first + moved]);
		snprintf(to, sizeof to, "%s/%s", kept, carried[first + moved]);
		if (access(from, F_OK) == 0 && rename(from, to) < 0)
			log_error("restore: putting %s back: %s", from, strerror(errno));
	}
	if (rename(dir, staging) < 0)
		log_error("restore: moving %s back to %s: %s", dir, staging, strerror(errno));
undo_dir:
	if (had_dir && rename(kept, dir) < 0)
		log_error("restore: moving %s back to %s: %s", kept, dir, strerror(errno));
	return -1;
}

static void cancel_for_restore(struct task *t, void *ctx)
{
	int64_t keep = *(int64_t *)ctx;

	if (t->id == keep)
		return;
	if (t->pgid > 0)
		kill(-t->pgid, SIGKILL);
	task_finish(t, TASK_CANCELED, NULL, "restored",
	    "the data directory was replaced by a restore");
}

/* The restore task's row in the new database, so waiting on it ends as it should. */
static int record_restore_task(const struct task *t)
{
	int64_t id;

	if (store_begin(D->store) < 0)
		return -1;
	id = store_insert_task(D->store, t);
	if (id < 0) {
		store_rollback(D->store);
		return -1;
	}
	if (id != t->id) {
		char sql[128];
		snprintf(sql, sizeof sql, "UPDATE tasks SET id = %lld WHERE id = %lld",
		    (long long)t->id, (long long)id);
		sqlite3_exec(store_db(D->store), sql, NULL, NULL, NULL);
	}
	return store_update_task(D->store, t) == 0 && store_commit(D->store) == 0 ? 0 : -1;
}

/* Task ids handed out after the settled copy was made (retries of what the restore canceled) are never reused either. */
static void keep_ids_above(int64_t old_max)
{
	char sql[160];

	snprintf(sql, sizeof sql, "UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name = 'tasks'",
	    (long long)old_max);
	if (sqlite3_exec(store_db(D->store), sql, NULL, NULL, NULL) != SQLITE_OK)
		log_warn("restore: keeping task ids above %lld: %s", (long long)old_max,
		    store_errmsg(D->store));
}

/*
 * A restore task's worker extracted and checked the archive in staging:
 * settle its database there (so a database the daemon cannot take is
 * refused before anything changes), stop the workers, swap the directories,
 * cancel what was not final, and start again on the restored data.
 */
int restore_apply_online(struct task *t, cJSON *result, char *err, size_t errlen)
{
	char staging[4200], dbpath[4300], kept[4400];
	int64_t id = t->id;
	struct worker *w;
	int failed;

	snprintf(staging, sizeof staging, "%s.restore-%lld", D->dir, (long long)id);
	if (settle_database(staging, max_task_id(store_db(D->store)), err, errlen) < 0)
		return -1;
	log_info("restore: stopping workers and swapping in %s", staging);
	tasks_foreach(cancel_for_restore, &id);
	/* Its worker has reported; stopping it must not end the restore task as worker-missing. */
	if ((w = worker_find(t->worker)) != NULL)
		w->task = 0;
	D->stopping = 1;	/* no restarts while the workers are stopped */
	supervisor_stop_all(D->cfg.cancel_grace_ms);
	D->stopping = 0;
	workers_free_all();
	int64_t old_max = max_task_id(store_db(D->store));
	store_close(D->store);
	D->store = NULL;
	/* On failure swap_in has put everything back: the daemon goes on with its old data. */
	if ((failed = swap_in(D->dir, staging, 1, kept, sizeof kept, err, errlen) < 0))
		log_error("restore: %s; the data directory is unchanged", err);
	snprintf(dbpath, sizeof dbpath, "%s/depot.db", D->dir);
	if (store_open(&D->store, dbpath, D->cfg.durability_full, err, errlen) < 0) {
		/* Nothing to serve from: stop rather than run on a half-state. */
		log_error("restore: reopening %s: %s; stopping", dbpath, err);
		D->stopping = 1;
		return -1;
	}
	lockmgr_free(D->locks);
	D->locks = lockmgr_new();
	if (!failed) {
		keep_ids_above(old_max);
		if (record_restore_task(t) < 0)
			log_warn("restore: recording task %lld in the restored database: %s",
			    (long long)id, store_errmsg(D->store));
		cJSON_AddStringToObject(result, "previous_data", kept);
	}
	supervisor_start();
	if (failed)
		return -1;
	log_info("restore: done; the previous data is kept in %s", kept);
	return 0;
}

/* `depotd --restore FILE -d DIR`, with no daemon on DIR. */
int restore_offline(const char *archive, const char *dir, const struct depot_config *cfg)
{
	char staging[4200], dbpath[4300], kept[4400], lock[4300], err[1024];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct backup_limits lim = { .max_members = cfg->restore_max_members,
	    .free_margin = cfg->restore_free_margin };
	struct backup_summary sum;
	int fd;

	snprintf(lock, sizeof lock, "%s/run/%s", dir, DEPOT_PID_FILE);
	if ((fd = open(lock, O_RDWR | O_CLOEXEC)) >= 0) {
		if (fcntl(fd, F_SETLK, &fl) < 0) {
			log_error("a depotd is running on %s: use depotctl restore %s", dir, archive);
			close(fd);
			return 1;
		}
		close(fd);
	}
	snprintf(staging, sizeof staging, "%s.restore-%d", dir, (int)getpid());
	fs_remove_tree(staging);
	if (mkdir(staging, 0700) < 0) {
		log_error("creating %s: %s", staging, strerror(errno));
		return 1;
	}
	log_info("verifying and extracting %s", archive);
	snprintf(dbpath, sizeof dbpath, "%s/depot.db", dir);
	if (backup_read(archive, staging, &lim, &sum, err, sizeof err) < 0 ||
	    settle_database(staging, max_task_id_of(dbpath), err, sizeof err) < 0) {
		log_error("refusing %s: %s; nothing was changed", archive, err);
		fs_remove_tree(staging);
		return 1;
	}
	if (swap_in(dir, staging, 0, kept, sizeof kept, err, sizeof err) < 0) {
		log_error("%s; nothing was changed", err);
		fs_remove_tree(staging);
		return 1;
	}
	if (access(kept, F_OK) == 0)
		log_info("restored %s into %s; the previous data is kept in %s", archive, dir, kept);
	else
		log_info("restored %s into %s", archive, dir);
	return 0;
}
