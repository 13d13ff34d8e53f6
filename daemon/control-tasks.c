/* control-tasks.c: the handlers that act on final tasks: restart, remove, clean. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* task.clean removes at most this many rows a slice, in one transaction... */
#define CLEAN_BATCH 250
/* ...and reads at most this many ids' rows for them, so a slice stays short however few match. */
#define CLEAN_WINDOW 20000
/*
 * What a loop turn gives to removing: slices of rows, and unlinking logs
 * one at a time, which may take milliseconds each on a busy disk.
 */
#define FORGET_TURN_MS 10
/* How long a clean waits for the checkpointer when the WAL has grown large. */
#define CLEAN_WAL_WAIT_MS 10

/*
 * A task.remove whose rows went and whose logs are being unlinked, or a
 * task.clean under way; answered once done (tasks_clean_tick).
 */
struct forget_job {
	struct conn *conn;	/* NULL once its client has gone: it finishes all the same */
	int clean;		/* task.clean: more slices of rows may follow */
	int expired;		/* keep_finished's: no client, logged as a prune */
	struct clean_filter f;	/* clean: f.from, the ids up to it are done */
	char *state;
	int64_t max_id;		/* clean: the newest task when it was asked; later ones are not its */
	int64_t *ids;		/* rows gone, their logs unlinked up to ids[unlinked] */
	size_t nids, unlinked;
	int64_t removed;
	struct forget_job *next;
};

static struct forget_job *jobs, **jobs_tail = &jobs;
static int64_t next_slice_mono;
static int expiring;		/* a keep_finished job is queued */

static int restart_retries(const struct task *o);
static cJSON *restart_args(const struct task *o);
static int restart_keep_denied(const struct task *o, struct task *t);
static int cmp_id(const void *a, const void *b);
static void forget_log(int64_t id);
static void publish_removed(const int64_t *ids, size_t n);
static void job_gone(struct conn *conn, void *arg);
static void job_queue(struct forget_job *j, struct conn *conn);
static void job_free(struct forget_job *j);
static void job_reply(struct forget_job *j);
static void job_done(struct forget_job *j);
static void job_fail(struct forget_job *j, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int clean_bounds(struct forget_job *j);
static int clean_slice(struct forget_job *j);

/*
 * The retries o was submitted with: a retry counts one down from the
 * attempt it retries, so each retry_of link followed adds one back (a
 * link whose row was removed still counts, though the walk stops there).
 */
static int restart_retries(const struct task *o)
{
	int64_t prev = o->d->retry_of;
	int retries = o->retries;

	while (prev != 0 && retries < 100) {
		struct task *p = store_load_task(D->store, prev);

		retries++;
		prev = p != NULL ? p->d->retry_of : 0;
		task_free(p);
	}
	return retries;
}

/*
 * task.submit's args for o's specification: its type's own args as
 * stored (an exec task's argv, cwd and env), its name, timeout, retries
 * and priority, and, for a type whose submitter names them, its
 * reservations. Its --after and start time are not part of it: they were
 * about the moment it was first submitted.
 */
static cJSON *restart_args(const struct task *o)
{
	cJSON *a = cJSON_IsObject(o->d->args) ? cJSON_Duplicate(o->d->args, 1) : cJSON_CreateObject();
	cJSON *env = task_env(o->d);
	int ok = a != NULL;

	/* An environment kept in its own row is the submitter's as much as one in args. */
	if (env != NULL && (!ok || !cJSON_AddItemToObject(a, "env", env))) {
		cJSON_Delete(env);
		ok = 0;
	}
	if (!ok) {
		cJSON_Delete(a);
		return NULL;
	}
	/* Said again by validation, against env_deny as it is now. */
	cJSON_DeleteItemFromObjectCaseSensitive(a, "env_denied");
	ok = cJSON_AddStringToObject(a, "type", o->type) != NULL &&
	    cJSON_AddStringToObject(a, "name", o->d->name) != NULL &&
	    cJSON_AddNumberToObject(a, "retries", restart_retries(o)) != NULL &&
	    cJSON_AddNumberToObject(a, "priority", o->priority) != NULL &&
	    (o->d->timeout_ms <= 0 ||
	    cJSON_AddNumberToObject(a, "timeout_ms", (double)o->d->timeout_ms) != NULL);
	if (ok && o->tt != NULL && o->tt->validate == validate_exec_task)
		ok = cJSON_AddItemToObject(a, "resources", task_resources_json(o));
	if (!ok) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

/*
 * The variables the original left out were never stored: the restart
 * lacks them too, and its env_denied says so beside what env_deny drops
 * now. 0, or -1 out of memory.
 */
static int restart_keep_denied(const struct task *o, struct task *t)
{
	const cJSON *was = cJSON_GetObjectItemCaseSensitive(o->d->args, "env_denied"), *d, *n;
	cJSON *now;

	if (!cJSON_IsArray(was) || cJSON_GetArraySize(was) == 0)
		return 0;
	if ((now = cJSON_GetObjectItemCaseSensitive(t->d->args, "env_denied")) == NULL &&
	    (now = cJSON_AddArrayToObject(t->d->args, "env_denied")) == NULL)
		return -1;
	cJSON_ArrayForEach(d, was) {
		int seen = !cJSON_IsString(d);

		cJSON_ArrayForEach(n, now)
			seen |= cJSON_IsString(n) && strcmp(n->valuestring, d->valuestring) == 0;
		if (!seen && !cJSON_AddItemToArray(now, cJSON_CreateString(d->valuestring)))
			return -1;
	}
	return 0;
}

/*
 * A restart is a new submission of o's specification: validated as one
 * (env_deny applied as it is now, a repository that was deleted refused),
 * and checked and queued by the path task.submit takes.
 */
void cmd_task_restart(struct conn *conn, struct request *rq)
{
	struct task *live = task_find(rq->id), *o, *t;
	char err[512], refused[64];
	cJSON *args;

	if (live != NULL) {
		server_reply_err(conn, ERR_CONFLICT, "task %lld is %s: only a final task can be "
		    "restarted", (long long)rq->id, task_state_name(live->state));
		return;
	}
	if ((o = store_load_task(D->store, rq->id)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no task %lld", (long long)rq->id);
		return;
	}
	snprintf(refused, sizeof refused, "task %lld cannot be restarted", (long long)o->id);
	if (!task_state_final(o->state)) {
		server_reply_err(conn, ERR_CONFLICT, "%s: it is %s", refused,
		    task_state_name(o->state));
		task_free(o);
		return;
	}
	if ((args = restart_args(o)) == NULL) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		task_free(o);
		return;
	}
	t = validate_submit(args, err, sizeof err);
	cJSON_Delete(args);
	if (t == NULL) {
		server_reply_err(conn, ERR_BAD_REQUEST, "%s: %s", refused, err);
		task_free(o);
		return;
	}
	t->priority = o->priority;
	t->d->restart_of = o->id;
	if (restart_keep_denied(o, t) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		task_free(o);
		task_free(t);
		return;
	}
	log_info("task %lld: restarted", (long long)o->id);
	task_free(o);
	control_submit(conn, t, refused);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* After its row went: a log whose row is gone is no one's, and one a failure left is only litter. */
static void forget_log(int64_t id)
{
	char path[64];

	task_log_path(id, path, sizeof path);
	if (fs_unlink_beneath(daemon_data()->fd, path) < 0 && errno != ENOENT)
		log_warn("removing %s/%s: %m", D->dir, path);
}

/* Watchers (the console) drop the tasks from their lists. */
static void publish_removed(const int64_t *ids, size_t n)
{
	cJSON *body = cJSON_CreateObject(), *arr = cJSON_CreateArray();

	for (size_t i = 0; arr != NULL && i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)ids[i]));
	cJSON_AddStringToObject(body, "event", "removed");
	cJSON_AddItemToObject(body, "ids", arr);
	events_publish("task", body);
}

/*
 * All or nothing: every id is judged before anything is removed, and the
 * rows go in one transaction. Their logs go after it commits, a few a
 * loop turn (tasks_clean_tick), and the answer once they are gone.
 */
void cmd_task_remove(struct conn *conn, struct request *rq)
{
	int64_t last_backup = store_last_backup(D->store), *ids;
	struct forget_job *j;
	size_t n = 0;
	char why[512];

	if (last_backup < 0) {
		server_reply_err(conn, ERR_INTERNAL, "%s", store_errmsg(D->store));
		return;
	}
	for (size_t i = 0; i < rq->nids; i++) {
		struct task *t = task_find(rq->ids[i]);
		int kept;

		if (t != NULL && t->d != NULL && t->d->fence_pending) {
			server_reply_err(conn, ERR_CONFLICT, "task %lld ended, but processes of it "
			    "survive and still hold its reservations (nothing was removed)",
			    (long long)t->id);
			return;
		}
		if (t != NULL) {
			server_reply_err(conn, ERR_CONFLICT, "task %lld is %s: only a final task can "
			    "be removed (nothing was removed)", (long long)t->id,
			    task_state_name(t->state));
			return;
		}
		if ((t = store_load_task(D->store, rq->ids[i])) == NULL) {
			server_reply_err(conn, ERR_NOT_FOUND, "no task %lld (nothing was removed)",
			    (long long)rq->ids[i]);
			return;
		}
		task_free(t);
		if ((kept = store_task_kept(D->store, rq->ids[i], last_backup, why,
		    sizeof why)) != 0) {
			if (kept < 0)
				server_reply_err(conn, ERR_INTERNAL, "%s", store_errmsg(D->store));
			else
				server_reply_err(conn, ERR_CONFLICT, "%s (nothing was removed)", why);
			return;
		}
	}
	if ((j = calloc(1, sizeof *j)) == NULL) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		return;
	}
	/* Each id once: validation allows repeats. */
	ids = rq->ids;
	qsort(ids, rq->nids, sizeof *ids, cmp_id);
	for (size_t i = 0; i < rq->nids; i++)
		if (n == 0 || ids[n - 1] != ids[i])
			ids[n++] = ids[i];
	if (store_begin(D->store) < 0 || store_forget_tasks(D->store, ids, n) < 0 ||
	    store_commit(D->store) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "removing tasks: %s", store_errmsg(D->store));
		store_rollback(D->store);
		free(j);
		return;
	}
	publish_removed(ids, n);
	metrics_tasks_forgotten();
	log_info("removed %zu final task(s)", n);
	j->ids = ids;
	j->nids = n;
	j->removed = (int64_t)n;
	rq->ids = NULL;
	job_queue(j, conn);
}

static void job_gone(struct conn *conn, void *arg)
{
	struct forget_job *j = arg;

	(void)conn;
	j->conn = NULL;
}

/*
 * j waits its turn, its client parked until it is done. A client over its
 * cap is refused a clean, and told of a removal at once (its rows are gone
 * already; the logs follow).
 */
static void job_queue(struct forget_job *j, struct conn *conn)
{
	char err[256];

	j->conn = conn;
	if (server_park(conn, job_gone, j, err, sizeof err) < 0) {
		if (j->clean) {
			server_reply_err(conn, ERR_UNAVAILABLE, "%s", err);
			job_free(j);
			return;
		}
		job_reply(j);
	}
	*jobs_tail = j;
	jobs_tail = &j->next;
}

static void job_free(struct forget_job *j)
{
	if (j->expired)
		expiring = 0;
	free(j->state);
	free(j->ids);
	free(j);
}

/* Answers j's client, if it is still there to answer: the ids removed, or how many. */
static void job_reply(struct forget_job *j)
{
	cJSON *r = j->conn != NULL ? cJSON_CreateObject() : NULL, *arr;

	if (r != NULL && j->clean)
		cJSON_AddNumberToObject(r, "removed", (double)j->removed);
	else if (r != NULL && (arr = cJSON_AddArrayToObject(r, "removed")) != NULL)
		for (size_t i = 0; i < j->nids; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)j->ids[i]));
	if (r != NULL)
		server_reply_ok(j->conn, r);
	j->conn = NULL;
}

/* j, the first job, is done: answered and forgotten. */
static void job_done(struct forget_job *j)
{
	job_reply(j);
	if (j->expired && j->removed > 0)
		log_info("pruned %lld finished task(s) older than keep_finished",
		    (long long)j->removed);
	else if (j->clean && j->removed > 0)
		log_info("cleaned %lld final task(s)", (long long)j->removed);
	if ((jobs = j->next) == NULL)
		jobs_tail = &jobs;
	job_free(j);
}

/* A clean that cannot go on: the slices done stay done, and the answer says how many they removed. */
static void job_fail(struct forget_job *j, enum err_code code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!j->clean) {
		job_done(j);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (j->conn != NULL)
		server_reply_err(j->conn, code, "%s (%lld removed before)", msg,
		    (long long)j->removed);
	j->conn = NULL;
	job_done(j);
}

/*
 * The request is answered when every slice is done: the daemon's loop
 * goes on between slices, each a bounded transaction (tasks_clean_tick).
 */
void cmd_task_clean(struct conn *conn, struct request *rq)
{
	struct forget_job *j = calloc(1, sizeof *j);

	if (j == NULL || (rq->state != NULL && (j->state = strdup(rq->state)) == NULL) ||
	    (j->ids = calloc(CLEAN_BATCH, sizeof *j->ids)) == NULL) {
		if (j != NULL)
			job_free(j);
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		return;
	}
	j->clean = 1;
	j->f.state = j->state;
	j->f.before = rq->before;
	if (clean_bounds(j) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "%s", store_errmsg(D->store));
		job_free(j);
		return;
	}
	job_queue(j, conn);
}

void tasks_clean_expired(int64_t before)
{
	struct forget_job *j;

	if (expiring || before <= 0)
		return;
	if ((j = calloc(1, sizeof *j)) == NULL ||
	    (j->ids = calloc(CLEAN_BATCH, sizeof *j->ids)) == NULL) {
		free(j);
		return;
	}
	j->clean = j->expired = 1;
	j->f.before = before;
	if (clean_bounds(j) < 0 || j->max_id <= j->f.from) {
		job_free(j);
		return;
	}
	expiring = 1;
	*jobs_tail = j;
	jobs_tail = &j->next;
}

/*
 * The ids clean j walks: those up to the newest task there is; with a
 * before, only from the lowest to the highest of the tasks it would
 * remove, as the finished_at index finds them. 0, or -1.
 */
static int clean_bounds(struct forget_job *j)
{
	int64_t lo, hi;
	int got;

	/*
	 * keep_finished asks every second: when nothing finished before, the
	 * index says so at once, where finding the last backup may read every
	 * row (all of 100,000 waiting tasks, into the page cache).
	 */
	if (j->f.before != 0 && (got = store_finished_before(D->store, j->f.before)) <= 0) {
		j->f.from = j->max_id = 0;
		return got;
	}
	if ((j->f.last_backup = store_last_backup(D->store)) < 0 ||
	    (j->max_id = store_max_task_id(D->store)) < 0)
		return -1;
	if (j->f.before == 0)
		return 0;
	if ((got = store_clean_range(D->store, &j->f, &lo, &hi)) < 0)
		return -1;
	j->f.from = got ? lo - 1 : 0;
	j->max_id = got ? hi : 0;
	return 0;
}

/* The next rows of clean j go, in one transaction; their logs are j's to unlink next. 0, or -1. */
static int clean_slice(struct forget_job *j)
{
	size_t kept = 0;
	int n;

	j->f.to = j->max_id - j->f.from > CLEAN_WINDOW ? j->f.from + CLEAN_WINDOW : j->max_id;
	if ((n = store_clean_select(D->store, &j->f, j->ids, CLEAN_BATCH)) < 0)
		return -1;
	j->f.from = n == CLEAN_BATCH ? j->ids[n - 1] : j->f.to;
	/* Final in the database and still in memory: its surviving processes still hold its reservations. */
	for (int i = 0; i < n; i++)
		if (task_find(j->ids[i]) == NULL)
			j->ids[kept++] = j->ids[i];
	j->nids = j->unlinked = 0;
	if (kept == 0)
		return 0;
	if (store_begin(D->store) < 0 || store_forget_tasks(D->store, j->ids, kept) < 0 ||
	    store_commit(D->store) < 0) {
		store_rollback(D->store);
		return -1;
	}
	j->nids = kept;
	j->removed += (int64_t)kept;
	publish_removed(j->ids, kept);
	metrics_tasks_forgotten();
	return 0;
}

void tasks_clean_tick(void)
{
	int64_t start = time_mono_ms();
	struct forget_job *j;
	const char *pause;

	if (jobs == NULL)
		return;
	/* The logs of rows already gone are still unlinked: a restart would not find them. */
	if (D->stopping) {
		while ((j = jobs) != NULL) {
			while (j->unlinked < j->nids)
				forget_log(j->ids[j->unlinked++]);
			job_fail(j, ERR_UNAVAILABLE, "depotd is stopping");
		}
		return;
	}
	if (start < next_slice_mono)
		return;
	while ((j = jobs) != NULL && time_mono_ms() - start < FORGET_TURN_MS) {
		if (j->unlinked < j->nids) {
			forget_log(j->ids[j->unlinked++]);
			continue;
		}
		if (!j->clean || j->f.from >= j->max_id) {
			job_done(j);
			continue;
		}
		if (store_wal_behind(D->store)) {
			next_slice_mono = time_mono_ms() + CLEAN_WAL_WAIT_MS;
			return;
		}
		if (clean_slice(j) < 0) {
			job_fail(j, ERR_INTERNAL, "removing tasks: %s", store_errmsg(D->store));
			continue;
		}
		/* DEPOT_TEST_CLEAN_PAUSE_MS: slices spaced out, so that a test can stop depotd mid-clean. */
		if ((pause = getenv("DEPOT_TEST_CLEAN_PAUSE_MS")) != NULL) {
			next_slice_mono = time_mono_ms() + atoi(pause);
			return;
		}
	}
}

void tasks_clean_abort(const char *why)
{
	struct forget_job *j;

	/* Their logs are in the data directory that goes: left there with it. */
	while ((j = jobs) != NULL) {
		j->unlinked = j->nids;
		job_fail(j, ERR_UNAVAILABLE, "%s", why);
	}
}

int tasks_clean_wait_ms(void)
{
	int64_t now = time_mono_ms();

	if (jobs == NULL)
		return -1;
	return next_slice_mono > now ? (int)(next_slice_mono - now) : 0;
}
