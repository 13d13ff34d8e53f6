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

/*
 * Where a restore stages publish/ when [publish] dir lives outside the data
 * directory: beside that directory, so it can be renamed into place. Empty
 * when publish/ is the data directory's own.
 */
static void publish_staging_of(const char *dir, const char *publish_dir, const char *suffix,
    char *out, size_t n)
{
	char own[4200];

	snprintf(own, sizeof own, "%s/publish", dir);
	if (strcmp(own, publish_dir) == 0)
		out[0] = '\0';
	else
		snprintf(out, n, "%s%s", publish_dir, suffix);
}

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
		snprintf(when, sizeof when, ".restore-%lld", (long long)t->id);
		publish_staging_of(D->dir, D->publish_dir, when, out, sizeof out);
		if (out[0] != '\0')
			cJSON_AddStringToObject(assignment, "publish_staging", out);
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
	publish_staging_of(D->dir, D->publish_dir, "", out, sizeof out);
	if (out[0] != '\0')
		cJSON_AddStringToObject(assignment, "publish_dir", out);
	return 0;
}

void snapshot_task_ended(const struct task *t, int completed)
{
	char path[4200], suffix[40];

	if (strcmp(t->type, "backup") == 0) {
		snprintf(path, sizeof path, "%s/tmp/backup-%lld.db", D->dir, (long long)t->id);
		unlink(path);
	} else if (strcmp(t->type, "restore") == 0 && !completed) {
		snprintf(path, sizeof path, "%s.restore-%lld", D->dir, (long long)t->id);
		fs_remove_tree(path);
		snprintf(suffix, sizeof suffix, ".restore-%lld", (long long)t->id);
		publish_staging_of(D->dir, D->publish_dir, suffix, path, sizeof path);
		if (path[0] != '\0')
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
static int settle_database(const char *dir, int64_t old_max, int trusted, char *err,
    size_t errlen)
{
	char path[4200], sql[1024];
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
	    "UPDATE sqlite_sequence SET seq = max(seq, %lld) WHERE name = 'tasks';"
	    /* What would run by itself waits for the administrator, from an archive made elsewhere. */
	    "%s",
	    (long long)time_now_ms(), (long long)old_max,
	    trusted ? "" : "UPDATE schedules SET enabled = 0;");
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
 * An archive this depot's key did not authenticate may come from anywhere:
 * its depot.conf (a publish dir, a socket_group) is kept aside as
 * depot.conf.restored for the administrator, and the running one stays.
 */
static int distrust(const char *staging, char *err, size_t errlen)
{
	char from[4300], to[4300];

	snprintf(from, sizeof from, "%s/depot.conf", staging);
	snprintf(to, sizeof to, "%s/depot.conf.restored", staging);
	if (rename(from, to) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "setting %s aside: %s", from, strerror(errno));
		return -1;
	}
	return 0;
}

static const char distrust_note[] = "the archive is not authenticated by this depot's "
    BACKUP_KEY_FILE ": its schedules are restored disabled and its depot.conf is kept as "
    "depot.conf.restored; review them, then 'depotctl schedule enable NAME'";

/*
 * Swaps staging in for dir; the old data stays as DIR.pre-restore-TIMESTAMP.
 * What no backup holds moves across with the data directory: the running
 * daemon's run/ (sockets, pid lock) when keep_run, and backups/. When
 * pub_staging is not empty, it replaces pub (a [publish] dir outside the
 * data directory) the same way. All or nothing: if any step fails, every
 * step before it is undone, in reverse.
 */
static int swap_in(const char *dir, const char *staging, const char *pub, const char *pub_staging,
    int keep_run, int trusted, char *kept, size_t keptlen, char *err, size_t errlen)
{
	/* run/ first: it is left behind when there is no running daemon's to keep. */
	const char *carried[] = { "run", "backups", BACKUP_KEY_FILE, "depot.conf" };
	size_t ncarried = trusted ? 3 : 4;
	const char *subdirs[] = { "tmp", "logs", "content", "publish", "run" };
	char when[32], from[4300], to[4300], pub_kept[4300] = "";
	struct { char from[4300], to[4300]; } done[6];
	int ndone = 0, had_dir = access(dir, F_OK) == 0;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(kept, keptlen, "%s.pre-restore-%s", dir, when);
	/* Each rename, remembered so that it can be undone. */
#define STEP(a, b) do { \
		if (rename((a), (b)) < 0) { \
			snprintf(err, errlen, "moving %s to %s: %s", (a), (b), strerror(errno)); \
			goto undo; \
		} \
		snprintf(done[ndone].from, sizeof done[ndone].from, "%s", (a)); \
		snprintf(done[ndone].to, sizeof done[ndone].to, "%s", (b)); \
		ndone++; \
	} while (0)
	if (had_dir)
		STEP(dir, kept);
	STEP(staging, dir);
	for (size_t i = keep_run ? 0 : 1; had_dir && i < ncarried; i++) {
		snprintf(from, sizeof from, "%s/%s", kept, carried[i]);
		snprintf(to, sizeof to, "%s/%s", dir, carried[i]);
		/* Nothing of these names is there: the archive holds none, and distrust() moved depot.conf. */
		if (access(from, F_OK) == 0)
			STEP(from, to);
	}
	if (pub_staging[0] != '\0') {
		snprintf(pub_kept, sizeof pub_kept, "%s.pre-restore-%s", pub, when);
		if (access(pub, F_OK) == 0)
			STEP(pub, pub_kept);
		STEP(pub_staging, pub);
	}
#undef STEP
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(to, sizeof to, "%s/%s", dir, subdirs[i]);
		mkdir(to, strcmp(subdirs[i], "content") == 0 || strcmp(subdirs[i], "publish") == 0 ?
		    0755 : 0700);
	}
	return 0;
undo:
	while (ndone-- > 0)
		if (rename(done[ndone].to, done[ndone].from) < 0)
			log_error("restore: moving %s back to %s: %s", done[ndone].to,
			    done[ndone].from, strerror(errno));
	return -1;
}

static void cancel_for_restore(struct task *t, void *ctx)
{
	int64_t keep = *(int64_t *)ctx;

	if (t->id == keep)
		return;
	fence_task(t);
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
	char staging[4200], dbpath[4300], kept[4400], pub_staging[4200], suffix[40];
	int64_t id = t->id;
	struct worker *w;
	int failed, trusted;

	snprintf(staging, sizeof staging, "%s.restore-%lld", D->dir, (long long)id);
	trusted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "authenticated"));
	if (settle_database(staging, max_task_id(store_db(D->store)), trusted, err, errlen) < 0 ||
	    (!trusted && distrust(staging, err, errlen) < 0))
		return -1;
	log_info("restore: stopping workers and swapping in %s", staging);
	tasks_foreach(cancel_for_restore, &id);
	/* Their waiters get their ends from this database, before another takes its place. */
	tasks_settle();
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
	snprintf(suffix, sizeof suffix, ".restore-%lld", (long long)id);
	publish_staging_of(D->dir, D->publish_dir, suffix, pub_staging, sizeof pub_staging);
	if ((failed = swap_in(D->dir, staging, D->publish_dir, pub_staging, 1, trusted, kept,
	    sizeof kept, err, errlen) < 0))
		log_error("restore: %s; the data directory is unchanged", err);
	daemon_data();	/* DIR is another directory now: open it again, and keep it private */
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
	if (!trusted) {
		log_warn("restore: %s", distrust_note);
		cJSON_AddStringToObject(result, "note", distrust_note);
	}
	log_info("restore: done; the previous data is kept in %s", kept);
	return 0;
}

/* `depotd --restore FILE -d DIR`, with no daemon on DIR. */
int restore_offline(const char *archive, const char *dir, const struct depot_config *cfg)
{
	char staging[4200], dbpath[4300], kept[4400], lock[4300], err[1024];
	char publish_dir[4096], pub_staging[4200], suffix[40];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	unsigned char key[BACKUP_KEY_LEN];
	struct backup_limits lim = { .max_members = cfg->restore_max_members,
	    .free_margin = cfg->restore_free_margin,
	    .key = backup_key_read(dir, key) == 0 ? key : NULL };
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
	if (config_publish_dir(cfg, dir, publish_dir, sizeof publish_dir) < 0) {
		log_error("the publish directory of %s is too long", dir);
		return 1;
	}
	snprintf(suffix, sizeof suffix, ".restore-%d", (int)getpid());
	snprintf(staging, sizeof staging, "%s%s", dir, suffix);
	publish_staging_of(dir, publish_dir, suffix, pub_staging, sizeof pub_staging);
	fs_remove_tree(staging);
	if (pub_staging[0] != '\0')
		fs_remove_tree(pub_staging);
	if (mkdir(staging, 0700) < 0 || (pub_staging[0] != '\0' && mkdir(pub_staging, 0700) < 0)) {
		log_error("creating %s: %s", access(staging, F_OK) == 0 ? pub_staging : staging,
		    strerror(errno));
		fs_remove_tree(staging);
		return 1;
	}
	log_info("verifying and extracting %s", archive);
	snprintf(dbpath, sizeof dbpath, "%s/depot.db", dir);
	if (backup_read_split(archive, staging, pub_staging[0] ? pub_staging : NULL, &lim, &sum,
	    err, sizeof err) < 0 ||
	    settle_database(staging, max_task_id_of(dbpath), sum.authenticated, err,
	    sizeof err) < 0 || (!sum.authenticated && distrust(staging, err, sizeof err) < 0) ||
	    swap_in(dir, staging, publish_dir, pub_staging, 0, sum.authenticated, kept,
	    sizeof kept, err, sizeof err) < 0) {
		log_error("refusing %s: %s; nothing was changed", archive, err);
		fs_remove_tree(staging);
		if (pub_staging[0] != '\0')
			fs_remove_tree(pub_staging);
		return 1;
	}
	if (!sum.authenticated)
		log_warn("%s", distrust_note);
	if (access(kept, F_OK) == 0)
		log_info("restored %s into %s; the previous data is kept in %s", archive, dir, kept);
	else
		log_info("restored %s into %s", archive, dir);
	return 0;
}
