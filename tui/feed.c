/*
 * feed.c: keeps the model filled. Each tick applies the events queued
 * since the last one; a full re-read follows whenever the model says some
 * may have been lost (a new connection, a burst, the periodic safety net);
 * workers are re-read every second for their heartbeats, and what a view
 * on screen needs (reservations, schedules, repositories, a log, why a
 * task waits) while it is there; and each turn samples the running tasks'
 * progress for their rates. A
 * daemon that does not answer is marked down and tried again every
 * CONN_RETRY_MS.
 */
#include "conn.h"

#include <stdio.h>
#include <string.h>

#define FEED_WORKERS_MS		1000
#define FEED_LOCKS_MS		1000
#define FEED_SCHEDS_MS		2000
#define FEED_LOG_MS		400
#define FEED_SHOW_MS		2000
#define FEED_REPOS_MS		2000
/* A waiting task's why is asked when it is selected, then again this often while it waits. */
#define FEED_WHY_MS		5000
/* Tasks of a repository read for its last sync and publish (newest first). */
#define FEED_REPO_TASKS		50
/* Repositories whose tasks are read in one refresh, at most. */
#define FEED_REPOS_MAX		200
/* Events applied in one tick at most, so a flood cannot freeze the screen. */
#define FEED_DRAIN_MAX		5000

static size_t feed_drain(struct feed *f);
static void feed_down(struct feed *f, const char *err, int64_t now);
static void feed_refused(struct feed *f, const char *err, int64_t now);
static cJSON *task_list_args(const char *state, int limit);
static void feed_log(struct feed *f, struct model_log *log, int64_t now);
static int feed_repos(struct feed *f, int64_t now);
static void feed_why(struct feed *f, struct model_why *why, int64_t id, int64_t now);

void feed_init(struct feed *f, struct conn *c, struct model *m)
{
	memset(f, 0, sizeof *f);
	f->conn = c;
	f->m = m;
}

static size_t feed_drain(struct feed *f)
{
	size_t n = 0, len;
	const char *buf;

	while (n < FEED_DRAIN_MAX && conn_recv_event(f->conn, &buf, &len)) {
		model_apply_message(f->m, buf, len);
		n++;
	}
	model_note_drain(f->m, n);
	return n;
}

static void feed_down(struct feed *f, const char *err, int64_t now)
{
	model_set_down(f->m, err, now);
	f->next_try = now + CONN_RETRY_MS;
}

static void feed_refused(struct feed *f, const char *err, int64_t now)
{
	model_set_refused(f->m, err, now);
	f->next_try = now + CONN_RETRY_MS;
}

static cJSON *task_list_args(const char *state, int limit)
{
	cJSON *a = cJSON_CreateObject();

	if (state != NULL)
		cJSON_AddStringToObject(a, "state", state);
	cJSON_AddNumberToObject(a, "limit", limit);
	return a;
}

/*
 * Reads everything again and replaces what events built. Events queued
 * before are applied first: they are older than the answers. 0 when done,
 * -1 when the daemon stopped answering.
 */
int feed_resync(struct feed *f, int64_t now)
{
	struct {
		enum command cmd;
		cJSON *args;
		cJSON *result;
	} part[] = {
		{ CMD_status, NULL, NULL },
		{ CMD_worker_list, NULL, NULL },
		{ CMD_task_list, task_list_args(TASK_FILTER_ACTIVE, MODEL_ACTIVE_LIMIT), NULL },
		{ CMD_task_list, task_list_args(NULL, MODEL_RECENT_LIMIT), NULL },
		{ CMD_task_list, task_list_args(task_state_name(TASK_FAILED), MODEL_FAILED_LIMIT), NULL },
		{ CMD_lock_list, NULL, NULL },
		{ CMD_schedule_list, NULL, NULL },
	};
	size_t n = sizeof part / sizeof part[0], i;
	struct model_snapshot s;
	char err[512];
	int rc = 0;

	feed_drain(f);
	for (i = 0; i < n; i++) {
		int r = conn_call(f->conn, part[i].cmd, part[i].args, CONN_TIMEOUT_MS,
		    &part[i].result, err, sizeof err);

		part[i].args = NULL;
		if (r == CONN_DOWN) {
			feed_down(f, err, now);
			rc = -1;
			break;
		}
		/* A part refused (an older daemon without schedules) keeps what the model had. */
	}
	for (i++; i < n; i++)
		cJSON_Delete(part[i].args);
	if (rc == 0) {
		s = (struct model_snapshot){
			.status = part[0].result, .workers = part[1].result,
			.active = part[2].result, .recent = part[3].result,
			.failed = part[4].result, .locks = part[5].result,
			.schedules = part[6].result,
		};
		/* Three lists or none: a partial set would drop tasks that exist. */
		if (!cJSON_IsArray(s.active) || !cJSON_IsArray(s.recent) || !cJSON_IsArray(s.failed))
			s.active = s.recent = s.failed = NULL;
		model_apply_snapshot(f->m, &s, now);
		f->last_workers = f->last_locks = f->last_scheds = now;
	}
	for (i = 0; i < n; i++)
		cJSON_Delete(part[i].result);
	return rc;
}

static void feed_log(struct feed *f, struct model_log *log, int64_t now)
{
	cJSON *args = cJSON_CreateObject(), *r;
	int64_t offset, max;
	char err[512];
	int rc;

	model_log_request(log, &offset, &max);
	cJSON_AddNumberToObject(args, "id", (double)log->task);
	cJSON_AddNumberToObject(args, "offset", (double)offset);
	cJSON_AddNumberToObject(args, "max", (double)max);
	rc = conn_call(f->conn, CMD_task_log, args, CONN_TIMEOUT_MS, &r, err, sizeof err);
	f->last_log = now;
	f->log_more = 0;
	if (rc == CONN_DOWN) {
		feed_down(f, err, now);
		return;
	}
	if (rc == CONN_REFUSED) {
		/* No such task any more: nothing will come. */
		log->final = 1;
		log->generation++;
		return;
	}
	if (rc == CONN_OK) {
		model_log_apply(log, r);
		f->log_more = !log->final && log->offset < log->size;
	}
	cJSON_Delete(r);
}

/*
 * repo.list, then task.list of each repository's resource for its last
 * sync and publish. -1 when the daemon stopped answering.
 */
static int feed_repos(struct feed *f, int64_t now)
{
	char err[512], res[128];
	cJSON *r, *a;
	int rc;

	f->last_repos = now;
	rc = conn_call(f->conn, CMD_repo_list, NULL, CONN_TIMEOUT_MS, &r, err, sizeof err);
	if (rc == CONN_DOWN) {
		feed_down(f, err, now);
		return -1;
	}
	if (rc == CONN_OK)
		model_set_repos(f->m, r);
	cJSON_Delete(r);
	for (size_t i = 0; i < f->m->nrepos && i < FEED_REPOS_MAX; i++) {
		/* The name is copied: the answer may replace the table. */
		snprintf(res, sizeof res, "repository:%s", f->m->repos[i].name);
		a = task_list_args(NULL, FEED_REPO_TASKS);
		cJSON_AddStringToObject(a, "resource", res);
		rc = conn_call(f->conn, CMD_task_list, a, CONN_TIMEOUT_MS, &r, err, sizeof err);
		if (rc == CONN_DOWN) {
			feed_down(f, err, now);
			return -1;
		}
		if (rc == CONN_OK)
			model_set_repo_tasks(f->m, res + strlen("repository:"), r);
		cJSON_Delete(r);
	}
	return 0;
}

/*
 * task.why of id while the model says it waits: at once when it becomes
 * the one asked about, then every FEED_WHY_MS (what holds it changes as
 * other tasks end), never each frame.
 */
static void feed_why(struct feed *f, struct model_why *why, int64_t id, int64_t now)
{
	const struct model_task *t = id > 0 ? model_task(f->m, id) : NULL;
	cJSON *a, *r;
	char err[512];
	int rc;

	if (t == NULL || t->state != TASK_WAITING) {
		if (why->task != 0)
			model_why_free(why);
		return;
	}
	if (why->task == id && why->state_at == t->state && now - why->at < FEED_WHY_MS)
		return;
	a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "id", (double)id);
	rc = conn_call(f->conn, CMD_task_why, a, CONN_TIMEOUT_MS, &r, err, sizeof err);
	if (rc == CONN_DOWN) {
		feed_down(f, err, now);
		return;
	}
	if (rc == CONN_OK)
		model_why_apply(why, id, t->state, r, now);
	else
		model_why_fail(why, id, t->state, err, now);
	cJSON_Delete(r);
}

/* One turn of the loop's work on the sockets; 1 when the model or log changed. */
int feed_tick(struct feed *f, const struct feed_wants *w, int64_t now)
{
	struct model *m = f->m;
	unsigned long gen = m->generation, lgen = w->log != NULL ? w->log->generation : 0;
	unsigned long wgen = w->why != NULL ? w->why->generation : 0;
	cJSON *r;
	char err[512];
	int rc;

	if (!m->up) {
		if (now < f->next_try)
			return 0;
		rc = conn_call(f->conn, CMD_ping, NULL, CONN_PING_MS, &r, err, sizeof err);
		cJSON_Delete(r);
		if (rc == CONN_REFUSED) {
			feed_refused(f, err, now);
			return m->generation != gen;
		}
		if (rc != CONN_OK) {
			feed_down(f, err, now);
			return m->generation != gen;
		}
		model_set_up(m, now);
	}
	if (conn_sub_lost(f->conn)) {
		/* Is the daemon still there? A fresh dial answers at once when it is not. */
		conn_reset(f->conn);
		rc = conn_call(f->conn, CMD_ping, NULL, CONN_PING_MS, &r, err, sizeof err);
		cJSON_Delete(r);
		if (rc == CONN_DOWN) {
			feed_down(f, err, now);
			return 1;
		}
		m->resync_pending = 1;
	}
	feed_drain(f);
	if (conn_sub_reconnected(f->conn))
		m->resync_pending = 1;
	if (model_resync_due(m, now) && feed_resync(f, now) < 0)
		return 1;
	if (now - f->last_workers >= FEED_WORKERS_MS) {
		f->last_workers = now;
		rc = conn_call(f->conn, CMD_worker_list, NULL, CONN_TIMEOUT_MS, &r, err, sizeof err);
		if (rc == CONN_DOWN) {
			feed_down(f, err, now);
			return 1;
		}
		if (rc == CONN_OK)
			model_set_workers(m, r);
		cJSON_Delete(r);
	}
	if (w->locks && now - f->last_locks >= FEED_LOCKS_MS) {
		f->last_locks = now;
		rc = conn_call(f->conn, CMD_lock_list, NULL, CONN_TIMEOUT_MS, &r, err, sizeof err);
		if (rc == CONN_OK)
			model_set_locks(m, r);
		cJSON_Delete(r);
	}
	if (w->schedules && now - f->last_scheds >= FEED_SCHEDS_MS) {
		f->last_scheds = now;
		rc = conn_call(f->conn, CMD_schedule_list, NULL, CONN_TIMEOUT_MS, &r, err, sizeof err);
		if (rc == CONN_OK)
			model_set_schedules(m, r);
		cJSON_Delete(r);
	}
	if (w->show > 0 && model_task(m, w->show) == NULL && now - f->last_show >= FEED_SHOW_MS) {
		cJSON *a = cJSON_CreateObject();

		f->last_show = now;
		cJSON_AddNumberToObject(a, "id", (double)w->show);
		if (conn_call(f->conn, CMD_task_show, a, CONN_TIMEOUT_MS, &r, err, sizeof err) == CONN_OK)
			model_upsert_task(m, r);
		cJSON_Delete(r);
	}
	if (w->repos && now - f->last_repos >= FEED_REPOS_MS && feed_repos(f, now) < 0)
		return 1;
	if (m->up && w->why != NULL)
		feed_why(f, w->why, w->why_task, now);
	if (m->up && w->log != NULL && w->log->task > 0 && !w->log->final &&
	    (f->log_more || now - f->last_log >= FEED_LOG_MS))
		feed_log(f, w->log, now);
	model_rate_sample(m, now);
	return m->generation != gen || (w->log != NULL && w->log->generation != lgen) ||
	    (w->why != NULL && w->why->generation != wgen);
}
