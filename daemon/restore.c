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

void restore_staging_remove(const char *staging, const char *pub_staging)
{
	fs_remove_tree(staging);
	if (pub_staging != NULL && pub_staging[0] != '\0')
		fs_remove_tree(pub_staging);
}

int restore_extract(const char *archive, const char *staging, const char *pub_staging,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen)
{
	const char *pub = pub_staging != NULL && pub_staging[0] != '\0' ? pub_staging : NULL;

	/* Whatever a killed restore left under these names goes first. */
	restore_staging_remove(staging, pub);
	if (mkdir(staging, 0700) < 0 || (pub != NULL && mkdir(pub, 0700) < 0)) {
		snprintf(err, errlen, "creating %s: %s", access(staging, F_OK) == 0 ? pub : staging,
		    strerror(errno));
		restore_staging_remove(staging, NULL);
		return -1;
	}
	if (backup_read_chain(archive, staging, pub, chain, lim, sum, err, errlen) < 0) {
		restore_staging_remove(staging, pub);
		return -1;
	}
	return 0;
}

static const char *suffix_of(const char *compression)
{
	return strcmp(compression, "zstd") == 0 ? ".tar.zst" :
	    strcmp(compression, "gzip") == 0 ? ".tar.gz" : ".tar";
}

int snapshot_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen)
{
	char path[4200], when[32], out[4200];
	const char *output;
	time_t now = time(NULL);
	struct tm tm;

	if (t->tt->id == TASKTYPE_RESTORE) {
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
	(void)err;
	(void)errlen;
	if (t->tt->id != TASKTYPE_BACKUP)
		return 0;
	/* Where the worker copies the database to (backup.c): not here, where a large one would stall the loop. */
	snprintf(path, sizeof path, "%s/tmp/backup-%lld.db", D->dir, (long long)t->id);
	output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "output"));
	if (output == NULL) {
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(out, sizeof out, "%s/backups/" BACKUP_DEFAULT_PREFIX "%s%s", D->dir, when,
		    suffix_of(D->cfg.compression));
		/* Two backups in one second must not replace each other. */
		if (access(out, F_OK) == 0)
			snprintf(out, sizeof out, "%s/backups/" BACKUP_DEFAULT_PREFIX "%s-%lld%s", D->dir,
			    when, (long long)t->id, suffix_of(D->cfg.compression));
		output = out;
	}
	cJSON_AddStringToObject(assignment, "db_copy", path);
	cJSON_AddStringToObject(assignment, "output", output);
	/* Once the archive is written, the worker prunes old chains there ([backup] keep: backup_prune). */
	snprintf(path, sizeof path, "%s/backups", D->dir);
	cJSON_AddStringToObject(assignment, "backups_dir", path);
	cJSON_AddNumberToObject(assignment, "keep", D->cfg.backup_keep);
	cJSON_AddStringToObject(assignment, "compression", D->cfg.compression);
	/* The modes a publish gives (publish.c): the archive's publications are made, not read. */
	if (D->cfg.publish_gid != (gid_t)-1)
		cJSON_AddNumberToObject(assignment, "publish_gid", D->cfg.publish_gid);
	return 0;
}

void snapshot_task_ended(const struct task *t, int completed)
{
	char path[4200], pub[4200], suffix[40];

	if (t->tt->id == TASKTYPE_BACKUP) {
		snprintf(path, sizeof path, "%s/tmp/backup-%lld.db", D->dir, (long long)t->id);
		unlink(path);
	} else if (t->tt->id == TASKTYPE_RESTORE && !completed) {
		snprintf(suffix, sizeof suffix, ".restore-%lld", (long long)t->id);
		snprintf(path, sizeof path, "%s%s", D->dir, suffix);
		publish_staging_of(D->dir, D->publish_dir, suffix, pub, sizeof pub);
		restore_staging_remove(path, pub);
	}
}

/*
 * The online restore task's row in the restored database, completed: in
 * it before the swap, so that whoever finds the new data — this daemon
 * after the swap, or the next start that finishes a swap a kill
 * interrupted — finds the restore that brought it, and its waiters end as
 * it did. (Undone, the swap leaves this database unused.)
 */
static int record_restore_task(struct store *st, const char *dir, struct task *t)
{
	int64_t moved = store_move_task(st, t->id), id;

	/*
	 * An archive from another depot may hold a task with this restore's
	 * id: it moves to a new one, its log with it, so that this id stays
	 * the restore's, which its waiters and `task show` ask for.
	 */
	if (moved < 0)
		return -1;
	if (moved > 0) {
		char from[64], to[64], logs[4200];
		int fd;

		snprintf(logs, sizeof logs, "%s/logs", dir);
		snprintf(from, sizeof from, "%lld.log", (long long)t->id);
		snprintf(to, sizeof to, "%lld.log", (long long)moved);
		/* The restored logs/, not a link an archive could have left in its place. */
		if ((fd = open(logs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			if (renameat(fd, from, fd, to) < 0 && errno != ENOENT)
				log_warn("restore: the restored task %lld, now %lld: renaming its "
				    "log: %m", (long long)t->id, (long long)moved);
			close(fd);
		}
		log_info("restore: the archive's task %lld is task %lld here: %lld is this "
		    "restore's", (long long)t->id, (long long)moved, (long long)t->id);
	}
	if ((id = store_insert_task(st, t)) < 0 ||
	    (id != t->id && store_renumber_task(st, id, t->id) < 0))
		return -1;
	return store_finish_task(st, t->id, TASK_COMPLETED, time_now_ms(), NULL, NULL, NULL);
}

/*
 * In the database now in dir: every task not final is canceled (restored),
 * and the id sequence starts above old_max, so no id is ever reused.
 */
static int settle_database(const char *dir, int64_t old_max, int trusted,
    struct task *restore, char *err, size_t errlen)
{
	char path[4200];
	struct store *st;
	int rc;

	snprintf(path, sizeof path, "%s/depot.db", dir);
	/* store_open migrates an archive made by an older depot. */
	if (store_open(&st, path, 1, err, errlen) < 0)
		return -1;
	/* What would run by itself waits for the administrator, from an archive made elsewhere. */
	rc = store_begin(st) == 0 &&
	    store_settle_restored(st, time_now_ms(), !trusted) == 0 &&
	    store_keep_ids_above(st, old_max) == 0 &&
	    (restore == NULL || record_restore_task(st, dir, restore) == 0) &&
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
 * A swap's intent record, DIR.swap (DESIGN §9): written and made durable
 * before the first rename, removed once the swap is complete and durable.
 * It names the restore's staging directories, the task id floor, and every
 * rename of the swap, in order:
 *
 *   depot-swap 1
 *   ids N
 *   staging PATH
 *   pub_staging PATH
 *   step FROM<TAB>TO
 *   ...
 *
 * A start that finds one (restore_recover) finishes or undoes the swap a
 * kill interrupted. The direction is decided by one rename, staging → DIR,
 * which is atomic: once the staging directory is gone, the new data is
 * whole in DIR and the swap rolls forward (the carried run/, backups/,
 * backup.key, depot.conf and the publish dir follow, and the ids are
 * raised); while it is still there, every rename done is undone and the old
 * data comes back. Each step is redone or undone only when its source is
 * there and its target is not, so running recovery again after a kill in
 * the middle of it is harmless.
 */
#define SWAP_MAX_STEPS 8

struct swap_step {
	char from[4300], to[4300];
};

struct swap_plan {
	char dir[4200], staging[4300], pub_staging[4300];
	int64_t ids;
	struct swap_step step[SWAP_MAX_STEPS];
	int nstep;
};

/* Test only: DEPOT_TEST_CRASH_AT=N kills this process right after the Nth rename of a swap (0: after its intent record). */
static void swap_crash_point(int n)
{
	const char *at = getenv("DEPOT_TEST_CRASH_AT");

	if (at != NULL && *at != '\0' && atoi(at) == n) {
		log_warn("restore: DEPOT_TEST_CRASH_AT=%d: killing this process (a test)", n);
		raise(SIGKILL);
	}
}

static void parent_of(const char *path, char *out, size_t n)
{
	char *slash;

	snprintf(out, n, "%s", path);
	if ((slash = strrchr(out, '/')) == NULL)
		snprintf(out, n, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

/* fsync path's parent directory, so that a rename of path survives a crash. */
static void sync_parent(const char *path)
{
	char parent[4300];

	parent_of(path, parent, sizeof parent);
	if (fs_sync_dir(parent) < 0)
		log_warn("restore: syncing %s: %s", parent, strerror(errno));
}

static void swap_record_path(const char *dir, char *out, size_t n)
{
	snprintf(out, n, "%s.swap", dir);
}

/*
 * Writes the plan to DIR.swap durably (temporary name, fsync, rename, fsync
 * of the parent); the fd returned holds a write lock on it for as long as
 * the swap runs, so that no other start mistakes a live swap for a killed one.
 */
static int swap_record_write(const struct swap_plan *p, char *err, size_t errlen)
{
	char path[4300], tmp[4400];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	FILE *f;
	int fd, ok;

	swap_record_path(p->dir, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    fcntl(fd, F_SETLK, &fl) < 0 || (f = fdopen(dup(fd), "w")) == NULL) {
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "depot-swap 1\nids %lld\nstaging %s\npub_staging %s\n", (long long)p->ids,
	    p->staging, p->pub_staging);
	for (int i = 0; i < p->nstep; i++)
		fprintf(f, "step %s\t%s\n", p->step[i].from, p->step[i].to);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
		unlink(tmp);
		close(fd);
		return -1;
	}
	sync_parent(path);
	return fd;
}

/* The swap is complete (or undone) and durable: its record goes. */
static void swap_record_remove(const char *dir, int fd)
{
	char path[4300];

	swap_record_path(dir, path, sizeof path);
	if (unlink(path) < 0 && errno != ENOENT)
		log_error("restore: removing %s: %s", path, strerror(errno));
	sync_parent(path);
	if (fd >= 0)
		close(fd);
}

static int swap_record_read(const char *path, struct swap_plan *p)
{
	char line[9000], *tab, *nl;
	FILE *f;
	int ok = 0;

	memset(p, 0, sizeof *p);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;	/* cut short: not a record this code wrote whole */
		*nl = '\0';
		if (strcmp(line, "depot-swap 1") == 0)
			ok = 1;
		else if (strncmp(line, "ids ", 4) == 0)
			p->ids = strtoll(line + 4, NULL, 10);
		else if (strncmp(line, "staging ", 8) == 0)
			snprintf(p->staging, sizeof p->staging, "%s", line + 8);
		else if (strncmp(line, "pub_staging ", 12) == 0)
			snprintf(p->pub_staging, sizeof p->pub_staging, "%s", line + 12);
		else if (strncmp(line, "step ", 5) == 0 && (tab = strchr(line, '\t')) != NULL &&
		    p->nstep < SWAP_MAX_STEPS) {
			*tab = '\0';
			snprintf(p->step[p->nstep].from, sizeof p->step[0].from, "%s", line + 5);
			snprintf(p->step[p->nstep].to, sizeof p->step[0].to, "%s", tab + 1);
			p->nstep++;
		}
	}
	fclose(f);
	return ok && p->staging[0] != '\0' && p->nstep > 0 ? 0 : -1;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Task ids of the new database start above the old data's, so none is ever reused. */
static int raise_ids(const char *dir, int64_t floor, char *err, size_t errlen)
{
	char path[4300], why[512];

	if (floor <= 0)
		return 0;
	snprintf(path, sizeof path, "%s/depot.db", dir);
	if (store_keep_ids_above_at(path, floor, why, sizeof why) < 0) {
		snprintf(err, errlen, "keeping task ids above %lld in %s: %s", (long long)floor, path,
		    why);
		return -1;
	}
	return 0;
}

/* The directories every data directory has, whatever the archive held. */
static void make_subdirs(const char *dir)
{
	const char *subdirs[] = { "tmp", "logs", "content", "publish", "run" };
	char to[4300];

	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(to, sizeof to, "%s/%s", dir, subdirs[i]);
		mkdir(to, strcmp(subdirs[i], "content") == 0 || strcmp(subdirs[i], "publish") == 0 ?
		    0755 : 0700);
	}
}

/* Every directory a step renamed in, fsynced, so that the renames survive a power loss. */
static void sync_steps(const struct swap_plan *p)
{
	for (int i = 0; i < p->nstep; i++) {
		sync_parent(p->step[i].from);
		sync_parent(p->step[i].to);
	}
}

/*
 * DIR.pre-restore-WHEN, or -N past the highest N a restore in the same
 * second left: the newest must sort last (keep_pre_restore prunes the
 * first), even when a lower name was freed by pruning meanwhile.
 */
static void kept_name(const char *dir, const char *when, char *out, size_t n)
{
	struct prerestore_dir *dirs = NULL;
	size_t ndirs = 0;
	long seq = -1;

	if (prerestore_list(dir, &dirs, &ndirs) == 0)
		for (size_t i = 0; i < ndirs; i++)
			if (strcmp(dirs[i].stamp, when) == 0 && dirs[i].seq > seq)
				seq = dirs[i].seq;
	free(dirs);
	seq = seq < 0 ? 0 : seq < 2 ? 2 : seq + 1;
	if (seq == 0)
		snprintf(out, n, "%s.pre-restore-%s", dir, when);
	else
		snprintf(out, n, "%s.pre-restore-%s-%ld", dir, when, seq);
	for (long i = seq + 1; exists(out) && i < seq + 1000; i++)
		snprintf(out, n, "%s.pre-restore-%s-%ld", dir, when, i);
}

/*
 * Swaps staging in for dir; the old data stays as DIR.pre-restore-TIMESTAMP.
 * What no backup holds moves across with the data directory: the running
 * daemon's run/ (sockets, pid lock) when keep_run, and backups/. When
 * pub_staging is not empty, it replaces pub (a [publish] dir outside the
 * data directory) the same way. All or nothing: if any step fails, every
 * step before it is undone, in reverse; a kill at any point is finished or
 * undone at the next start from the intent record (restore_recover).
 */
static int swap_in(const char *dir, const char *staging, const char *pub, const char *pub_staging,
    int keep_run, int trusted, int64_t old_max, char *kept, size_t keptlen, char *err,
    size_t errlen)
{
	/* run/ first: it is left behind when there is no running daemon's to keep. */
	const char *carried[] = { "run", "backups", BACKUP_KEY_FILE, "depot.conf" };
	size_t ncarried = trusted ? 3 : 4;
	char when[32], from[4300], to[4300], pub_kept[4300];
	struct swap_plan *p;
	int ndone = 0, fd, had_dir = access(dir, F_OK) == 0;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
	kept_name(dir, when, kept, keptlen);
	if ((p = calloc(1, sizeof *p)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(p->dir, sizeof p->dir, "%s", dir);
	snprintf(p->staging, sizeof p->staging, "%s", staging);
	snprintf(p->pub_staging, sizeof p->pub_staging, "%s", pub_staging);
	p->ids = old_max;
	/* Every rename, planned before the first, so that a kill can be finished or undone. */
#define PLAN(a, b) do { \
		snprintf(p->step[p->nstep].from, sizeof p->step[0].from, "%s", (a)); \
		snprintf(p->step[p->nstep].to, sizeof p->step[0].to, "%s", (b)); \
		p->nstep++; \
	} while (0)
	if (had_dir)
		PLAN(dir, kept);
	PLAN(staging, dir);
	for (size_t i = keep_run ? 0 : 1; had_dir && i < ncarried; i++) {
		snprintf(from, sizeof from, "%s/%s", kept, carried[i]);
		snprintf(to, sizeof to, "%s/%s", dir, carried[i]);
		/*
		 * Planned from what DIR holds now (to), before it becomes kept. Nothing
		 * of these names is in staging: the archive holds none, and
		 * distrust() moved depot.conf.
		 */
		if (access(to, F_OK) == 0)
			PLAN(from, to);
	}
	if (pub_staging[0] != '\0') {
		kept_name(pub, when, pub_kept, sizeof pub_kept);
		if (access(pub, F_OK) == 0)
			PLAN(pub, pub_kept);
		PLAN(pub_staging, pub);
	}
#undef PLAN
	for (int i = 0; i < p->nstep; i++)
		if (strpbrk(p->step[i].from, "\t\n") != NULL || strpbrk(p->step[i].to, "\t\n") != NULL) {
			snprintf(err, errlen, "%s: a tab or newline in the path", p->step[i].from);
			free(p);
			return -1;
		}
	if ((fd = swap_record_write(p, err, errlen)) < 0) {
		free(p);
		return -1;
	}
	swap_crash_point(0);
	for (; ndone < p->nstep; ndone++) {
		if (rename(p->step[ndone].from, p->step[ndone].to) < 0) {
			snprintf(err, errlen, "moving %s to %s: %s", p->step[ndone].from,
			    p->step[ndone].to, strerror(errno));
			goto undo;
		}
		swap_crash_point(ndone + 1);
	}
	make_subdirs(dir);
	sync_steps(p);
	/* The ids first: the record goes only once nothing is left to do. */
	if (raise_ids(dir, old_max, err, errlen) < 0)
		log_error("restore: %s", err);
	swap_record_remove(dir, fd);
	free(p);
	return 0;
undo:
	while (ndone-- > 0)
		if (rename(p->step[ndone].to, p->step[ndone].from) < 0)
			log_error("restore: moving %s back to %s: %s", p->step[ndone].to,
			    p->step[ndone].from, strerror(errno));
	sync_steps(p);
	swap_record_remove(dir, fd);
	free(p);
	return -1;
}

int restore_recover(const char *dir)
{
	char path[4300], err[1024];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct swap_plan *p;
	int fd, forward;

	swap_record_path(dir, path, sizeof path);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		log_error("restore: opening %s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		log_error("a restore is swapping %s in (%s is locked); try again when it is done",
		    dir, path);
		close(fd);
		return -1;
	}
	if ((p = malloc(sizeof *p)) == NULL || swap_record_read(path, p) < 0) {
		log_error("restore: %s is not a swap record this depotd can read; move it away "
		    "after checking %s and what lies beside it", path, dir);
		free(p);
		close(fd);
		return -1;
	}
	snprintf(p->dir, sizeof p->dir, "%s", dir);
	/* staging → DIR is the one rename that decides: atomic, and whole once done. */
	forward = !exists(p->staging);
	log_warn("restore: a swap into %s was interrupted; %s", dir, forward ?
	    "the restored data is in place: finishing it" :
	    "the restored data was not in place yet: putting the old data back");
	if (forward) {
		for (int i = 0; i < p->nstep; i++)
			if (exists(p->step[i].from) && !exists(p->step[i].to)) {
				if (rename(p->step[i].from, p->step[i].to) < 0) {
					log_error("restore: moving %s to %s: %s", p->step[i].from,
					    p->step[i].to, strerror(errno));
					free(p);
					close(fd);
					return -1;
				}
				log_info("restore: moved %s to %s", p->step[i].from, p->step[i].to);
			}
		make_subdirs(dir);
		sync_steps(p);
		if (raise_ids(dir, p->ids, err, sizeof err) < 0) {
			log_error("restore: %s", err);
			free(p);
			close(fd);
			return -1;
		}
	} else {
		/*
		 * Renames are done in order, so only those before staging → DIR can
		 * have been: a later step's target (DIR/run, say) names the old
		 * data's own file while DIR is still the old data.
		 */
		int first_not_done = 0;

		while (first_not_done < p->nstep &&
		    strcmp(p->step[first_not_done].from, p->staging) != 0)
			first_not_done++;
		/* An empty DIR made since the kill (systemd's StateDirectory=, say) does not stop the old data coming back. */
		for (int i = first_not_done - 1; i >= 0; i--)
			if (exists(p->step[i].to) &&
			    (!exists(p->step[i].from) || rmdir(p->step[i].from) == 0)) {
				if (rename(p->step[i].to, p->step[i].from) < 0) {
					log_error("restore: moving %s back to %s: %s", p->step[i].to,
					    p->step[i].from, strerror(errno));
					free(p);
					close(fd);
					return -1;
				}
				log_info("restore: moved %s back to %s", p->step[i].to,
				    p->step[i].from);
			}
		sync_steps(p);
	}
	swap_record_remove(dir, fd);
	/* Only now: a staging directory gone while the record stays would read as "roll forward". */
	if (!forward) {
		fs_remove_tree(p->staging);
		if (p->pub_staging[0] != '\0')
			fs_remove_tree(p->pub_staging);
	}
	log_info("restore: the interrupted swap into %s is %s", dir,
	    forward ? "finished" : "undone");
	free(p);
	return 0;
}

static void cancel_for_restore(struct task *t, void *ctx)
{
	int64_t keep = *(int64_t *)ctx;

	if (t->id == keep)
		return;
	fence_task(t);
	task_end_interrupted(t, task_reason_name(REASON_RESTORED),
	    "the data directory was replaced by a restore");
}

/* Task ids handed out after the settled copy was made (retries of what the restore canceled) are never reused either. */
static void keep_ids_above(int64_t old_max)
{
	if (store_keep_ids_above(D->store, old_max) < 0)
		log_warn("restore: keeping task ids above %lld: %s", (long long)old_max,
		    store_errmsg(D->store));
}

/*
 * A restore task's worker extracted and checked the archive in staging:
 * settle its database there (so a database the daemon cannot take is
 * refused before anything changes), stop the workers, swap the directories,
 * cancel what was not final, and start again on the restored data.
 */
static int restore_apply_online(struct task *t, cJSON *result, char *err, size_t errlen)
{
	char staging[4200], dbpath[4300], kept[4400], pub_staging[4200], suffix[40];
	int64_t id = t->id;
	struct worker *w;
	int failed, trusted;

	snprintf(staging, sizeof staging, "%s.restore-%lld", D->dir, (long long)id);
	trusted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "authenticated"));
	if (settle_database(staging, store_max_task_id(D->store), trusted, t, err, errlen) < 0 ||
	    (!trusted && distrust(staging, err, errlen) < 0))
		return -1;
	log_info("restore: stopping workers and swapping in %s", staging);
	tasks_foreach(cancel_for_restore, &id);
	/* Their waiters get their ends from this database, before another takes its place. */
	tasks_settle();
	/* Its worker has reported; stopping it must not end the restore task as worker-missing. */
	if ((w = worker_find(t->d->worker)) != NULL)
		w->task = 0;
	D->stopping = 1;	/* no restarts while the workers are stopped */
	supervisor_stop_all(D->cfg.cancel_grace_ms);
	D->stopping = 0;
	workers_free_all();
	int64_t old_max = store_max_task_id(D->store);
	/* A clean's next slice would remove rows of the restored database. */
	tasks_clean_abort("a restore replaced the data directory");
	store_close(D->store);
	D->store = NULL;
	/* On failure swap_in has put everything back: the daemon goes on with its old data. */
	snprintf(suffix, sizeof suffix, ".restore-%lld", (long long)id);
	publish_staging_of(D->dir, D->publish_dir, suffix, pub_staging, sizeof pub_staging);
	if ((failed = swap_in(D->dir, staging, D->publish_dir, pub_staging, 1, trusted, old_max,
	    kept, sizeof kept, err, errlen) < 0))
		log_error("restore: %s; the data directory is unchanged", err);
	daemon_data();	/* DIR is another directory now: open it again, and keep it private */
	snprintf(dbpath, sizeof dbpath, "%s/depot.db", D->dir);
	if (store_open_daemon(&D->store, dbpath, D->cfg.durability_full, err, errlen) < 0) {
		/* Nothing to serve from: stop rather than run on a half-state. */
		log_error("restore: reopening %s: %s; stopping", dbpath, err);
		D->stopping = 1;
		return -1;
	}
	/* Its environment rows are numbered on their own: what a worker keeps is not one of them. */
	D->env_epoch++;
	/* Its tasks are others: counted again from it. */
	metrics_tasks_forgotten();
	lockmgr_free(D->locks);
	/* The restored database's pauses and capacities are the ones that hold now. */
	if ((D->locks = lockmgr_new()) == NULL || queue_rules_load(err, errlen) < 0) {
		log_error("restore: %s; stopping", D->locks ? err : "out of memory");
		D->stopping = 1;
		return -1;
	}
	if (!failed) {
		keep_ids_above(old_max);
		cJSON_AddStringToObject(result, "previous_data", kept);
		/* Renamed aside now, removed by a thread: a whole old data directory is no loop turn's work. */
		prerestore_prune_later(D->dir, D->cfg.keep_pre_restore);
		if (pub_staging[0] != '\0')
			prerestore_prune_later(D->publish_dir, D->cfg.keep_pre_restore);
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

/* `depotd --restore FILE [--base FILE]... -d DIR`, with no daemon on DIR. */
int restore_offline(const char *archive, const char *const *bases, size_t nbases, const char *dir,
    const struct depot_config *cfg)
{
	char staging[4200], dbpath[4300], kept[4400], lock[4300], err[1024];
	char publish_dir[4096], pub_staging[4200], suffix[40];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	unsigned char key[BACKUP_KEY_LEN];
	struct backup_limits lim = { .max_members = cfg->restore_max_members,
	    .free_margin = cfg->restore_free_margin,
	    .key = backup_key_read(dir, key) == 0 ? key : NULL };
	struct backup_bases chain = { .files = bases, .nfiles = nbases };
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
	log_info("verifying and extracting %s", archive);
	snprintf(dbpath, sizeof dbpath, "%s/depot.db", dir);
	if (restore_extract(archive, staging, pub_staging, &chain, &lim, &sum, err, sizeof err) < 0) {
		log_error("refusing %s: %s; nothing was changed", archive, err);
		return 1;
	}
	/* An incremental's whole chain went in, each archive hashed and checked: say which. */
	for (size_t i = 1; i < chain.nread; i++)
		log_info("with its base %s (%s, made %s)", chain.read[i].path, chain.read[i].kind,
		    chain.read[i].created_at);
	backup_bases_free(&chain);
	if (
	    settle_database(staging, store_max_task_id_at(dbpath), sum.authenticated, NULL, err,
	    sizeof err) < 0 || (!sum.authenticated && distrust(staging, err, sizeof err) < 0) ||
	    swap_in(dir, staging, publish_dir, pub_staging, 0, sum.authenticated,
	    store_max_task_id_at(dbpath), kept, sizeof kept, err, sizeof err) < 0) {
		log_error("refusing %s: %s; nothing was changed", archive, err);
		restore_staging_remove(staging, pub_staging);
		return 1;
	}
	if (!sum.authenticated)
		log_warn("%s", distrust_note);
	prerestore_prune(dir, cfg->keep_pre_restore);
	if (pub_staging[0] != '\0')
		prerestore_prune(publish_dir, cfg->keep_pre_restore);
	if (access(kept, F_OK) == 0)
		log_info("restored %s into %s; the previous data is kept in %s", archive, dir, kept);
	else
		log_info("restored %s into %s", archive, dir);
	return 0;
}

/*
 * An online restore's swap stops every worker, closes the database and
 * opens another: a step of the loop (restore_tick), never something done
 * inside the done handler that reported the extraction. Until that turn
 * the task stays running, its reservations held, and its worker is free
 * (t->recording, as for a version being recorded). One at a time: a
 * restore reserves the whole depot.
 */
static struct {
	int64_t task;
	cJSON *result;
} swap_due;

int restore_done(struct task *t, cJSON *result, char *err, size_t errlen)
{
	if (swap_due.task != 0) {
		snprintf(err, errlen, "task %lld's swap is still due", (long long)swap_due.task);
		return -1;
	}
	swap_due.task = t->id;
	swap_due.result = result;
	t->d->recording = 1;
	return 1;
}

void restore_tick(void)
{
	struct task *t;
	cJSON *result;
	char err[1024];

	if (swap_due.task == 0)
		return;
	t = task_find(swap_due.task);
	result = swap_due.result;
	swap_due.task = 0;
	swap_due.result = NULL;
	/* Ended meanwhile (task_finish leaves a staging directory to tasktype_ended). */
	if (t == NULL || !t->d->recording) {
		cJSON_Delete(result);
		return;
	}
	t->d->recording = 0;
	if (D->stopping) {
		cJSON_Delete(result);
		task_finish(t, TASK_CANCELED, NULL, task_reason_name(REASON_DAEMON_STOPPED),
		    "depotd stopped before the restore's swap");
		return;
	}
	if (restore_apply_online(t, result, err, sizeof err) < 0) {
		cJSON_Delete(result);
		task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION), err);
	} else
		task_finish(t, TASK_COMPLETED, result, NULL, NULL);
}
