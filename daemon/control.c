/* control.c: the control socket's request handlers, one per command of share/commands.def. */
#include "calendar.h"
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* A handler gets its request checked by validate_request and may take what it owns. */
typedef void (*control_fn)(struct conn *conn, struct request *rq);

static const struct {
	enum access_level access;
	control_fn fn;
} handlers[CMD_COUNT] = {
#define X(ident, wire, access, summary) [CMD_##ident] = { access, cmd_##ident },
#include "commands.def"
#undef X
};

/* A parked task.wait: answered when all its tasks are final or at its deadline. */
struct waiter {
	struct conn *conn;
	int64_t *ids;
	size_t n;
	size_t open;			/* ids before it are final: a final task stays so */
	int64_t deadline_mono;		/* 0: none */
	struct waiter *next;
};

static int uid_in_group(uint64_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res) != 0 || res == NULL)
		return 0;
	if (pw.pw_gid == gid)
		return 1;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/*
 * DESIGN §10: owner and root do everything; socket_group reads and cancels.
 * Membership is the peer's primary group, or the group list of its user.
 */
static int peer_access(const struct peer *peer, enum access_level *level)
{
	uint64_t uid = peer->uid;

	if (peer->owner) {
		*level = ACCESS_WRITE;
		return 0;
	}
	if (uid != UINT64_MAX && D->have_socket_gid && (peer->gid == (uint64_t)D->socket_gid ||
	    uid_in_group(uid, D->socket_gid))) {
		*level = ACCESS_CANCEL;
		return 0;
	}
	return -1;
}

void control_handle(struct conn *conn, const struct peer *peer, cJSON *req)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));
	struct request rq;
	enum access_level level;
	enum command cmd;
	char err[512];

	/*
	 * Who may ask is answered before the arguments are even looked at:
	 * checking a batch costs memory and time no refused peer may spend.
	 */
	if (name != NULL && command_parse(name, &cmd) == 0) {
		if (peer_access(peer, &level) < 0) {
			server_reply_err(conn, ERR_FORBIDDEN, "uid %llu may not use depotd "
			    "(not its owner, root or a member of socket_group)",
			    (unsigned long long)peer->uid);
			return;
		}
		if (handlers[cmd].access > level) {
			server_reply_err(conn, ERR_FORBIDDEN, "'%s' needs the daemon's owner or "
			    "root; socket_group members may read and cancel", name);
			return;
		}
		if (D->stopping && handlers[cmd].access == ACCESS_WRITE) {
			server_reply_err(conn, ERR_UNAVAILABLE, "depotd is stopping");
			return;
		}
	}
	if (validate_request(req, &rq, err, sizeof err) < 0)
		server_reply_err_at(conn, ERR_BAD_REQUEST, rq.error_index, "%s", err);
	else
		handlers[rq.cmd].fn(conn, &rq);
	request_free(&rq);
}

void cmd_ping(struct conn *conn, struct request *rq)
{
	cJSON *r = cJSON_CreateObject();

	(void)rq;
	cJSON_AddBoolToObject(r, "pong", 1);
	cJSON_AddStringToObject(r, "version", DEPOT_VERSION);
	cJSON_AddNumberToObject(r, "protocol", DEPOT_PROTO_VERSION);
	cJSON_AddNumberToObject(r, "pid", D->pid);
	server_reply_ok(conn, r);
}

static int64_t file_size(const char *dir, const char *name)
{
	char path[4200];
	struct stat st;

	return paths_join(path, sizeof path, dir, name) == 0 && stat(path, &st) == 0 ?
	    (int64_t)st.st_size : 0;
}

static void count_running(struct task *t, void *ctx)
{
	if (t->state == TASK_RUNNING || t->state == TASK_CANCELING)
		(*(size_t *)ctx)++;
}

static size_t running_tasks(void)
{
	size_t n = 0;

	tasks_foreach(count_running, &n);
	return n;
}

int64_t control_db_bytes(void)
{
	return file_size(D->dir, "depot.db") + file_size(D->dir, "depot.db-wal");
}

void cmd_status(struct conn *conn, struct request *rq)
{
	cJSON *r = cJSON_CreateObject(), *problems = cJSON_CreateArray(), *o, *ws, *sched;
	char msg[512], path[4200];
	int64_t content, checked_at;
	struct db_health db;
	struct statvfs vfs;
	int healthy = 1;

	(void)rq;
	o = cJSON_AddObjectToObject(r, "daemon");
	cJSON_AddStringToObject(o, "version", DEPOT_VERSION);
	cJSON_AddNumberToObject(o, "pid", D->pid);
	cJSON_AddNumberToObject(o, "uptime_ms", (double)(time_mono_ms() - D->started_mono));
	json_add_time(o, "started_at", D->started_at);
	cJSON_AddStringToObject(o, "data_dir", D->dir);
	cJSON_AddBoolToObject(o, "stopping", D->stopping);

	o = cJSON_AddObjectToObject(r, "database");
	/* The last check (dbhealth.c), made again once it is a minute old: null until the first ends. */
	checked_at = dbhealth_get(60000, &db);
	if (checked_at != 0)
		cJSON_AddBoolToObject(o, "ok", db.ok);
	else
		cJSON_AddNullToObject(o, "ok");
	json_add_time(o, "checked_at", checked_at);
	paths_join(path, sizeof path, D->dir, "depot.db");
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "size", (double)control_db_bytes());
	if (checked_at != 0 && !db.ok) {
		healthy = 0;
		cJSON_AddItemToArray(problems, cJSON_CreateString("database check failed"));
		cJSON_AddStringToObject(o, "message", db.message);
	}

	ws = cJSON_AddArrayToObject(r, "workers");
	for (struct worker *w = D->workers; w; w = w->next) {
		int64_t silent = time_mono_ms() - w->last_heartbeat_mono;
		cJSON_AddItemToArray(ws, worker_to_json(w));
		if (w->supervised && w->state != WORKER_ONLINE) {
			healthy = 0;
			snprintf(msg, sizeof msg, "worker %s is %s", w->name,
			    worker_state_name(w->state));
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		} else if (w->state == WORKER_ONLINE &&
		    silent > worker_late_after(w)) {
			/* Late, not yet missing: a hung worker shows before worker_timeout. */
			healthy = 0;
			snprintf(msg, sizeof msg, "worker %s has sent no heartbeat for %lld ms",
			    w->name, (long long)silent);
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		}
	}
	for (int i = 0; i < D->nslots; i++) {
		char name[16];
		snprintf(name, sizeof name, "w%d", i + 1);
		if (worker_find(name) == NULL) {
			healthy = 0;
			snprintf(msg, sizeof msg, "worker %s has not started", name);
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		}
	}

	cJSON_AddItemToObject(r, "config", reload_status_json());
	/* Running on, but the next start would stop at that line: said until a reload applies a good file. */
	if (reload_refused() != NULL) {
		healthy = 0;
		snprintf(msg, sizeof msg, "the last reload refused depot.conf (%s); depotd "
		    "would not start with it", reload_refused());
		cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
	}

	o = cJSON_AddObjectToObject(r, "monitor");
	cJSON_AddNumberToObject(o, "heartbeat_interval_ms", (double)D->cfg.heartbeat_interval_ms);
	cJSON_AddNumberToObject(o, "worker_timeout_ms", (double)D->cfg.worker_timeout_ms);
	cJSON_AddNumberToObject(o, "check_interval_ms", (double)D->cfg.check_interval_ms);
	cJSON_AddNumberToObject(o, "cancel_grace_ms", (double)D->cfg.cancel_grace_ms);
	cJSON_AddNumberToObject(o, "stall_after_ms", (double)D->cfg.stall_after_ms);
	json_add_time(o, "last_check", D->last_check);

	o = cJSON_AddObjectToObject(r, "scheduler");
	json_add_time(o, "last_tick", D->sched_last_tick);
	json_add_time(o, "next_due", D->sched_next_due);
	sched = sched_list_json();
	cJSON_AddNumberToObject(o, "schedules", cJSON_GetArraySize(sched));
	cJSON_Delete(sched);
	if (time_now_ms() - D->sched_last_tick > 5000) {
		healthy = 0;
		cJSON_AddItemToArray(problems, cJSON_CreateString("the scheduler has not ticked "
		    "for over 5 s"));
	}

	/* Requests answered later (task.wait, workers' next): dropped when their client goes. */
	o = cJSON_AddObjectToObject(r, "control");
	cJSON_AddNumberToObject(o, "parked", server_parked(D->control));
	cJSON_AddNumberToObject(o, "parked_requests_per_peer", D->cfg.parked_requests_per_peer);
	cJSON_AddNumberToObject(o, "worker_polls", server_parked(D->workersrv));

	cJSON_AddItemToObject(r, "queue", queue_pause_json());

	o = cJSON_AddObjectToObject(r, "locks");
	cJSON_AddNumberToObject(o, "held", (double)lockmgr_held_tasks(D->locks));
	cJSON_AddNumberToObject(o, "waiting", (double)lockmgr_waiting_tasks(D->locks));
	cJSON_AddNumberToObject(o, "running", (double)running_tasks());

	o = cJSON_AddObjectToObject(r, "storage");
	if ((content = contentsize_bytes(10000)) >= 0)
		cJSON_AddNumberToObject(o, "content_bytes", (double)content);
	else
		cJSON_AddNullToObject(o, "content_bytes");
	if (statvfs(D->dir, &vfs) == 0)
		cJSON_AddNumberToObject(o, "free_bytes", (double)vfs.f_bavail * (double)vfs.f_frsize);
	else
		cJSON_AddNullToObject(o, "free_bytes");
	/* Sizes measured by a thread, once each (prerestore.c): null until it has. */
	cJSON_AddItemToObject(o, "pre_restore", prerestore_status_json());

	cJSON_AddBoolToObject(r, "healthy", healthy);
	cJSON_AddItemToObject(r, "problems", problems);
	server_reply_ok(conn, r);
}

/* A sync or publish names a repository that exists; a sync's has a feed. */
static int check_repo_task(struct conn *conn, const struct task *t)
{
	char err[512];
	int code;

	if (repo_task_check(t, &code, err, sizeof err) == 0)
		return 0;
	server_reply_err(conn, code, "%s", err);
	return -1;
}

static int check_after(const struct task *t, int *code, char *err, size_t errlen)
{
	cJSON *dep;

	if (t->after == 0 || task_find(t->after) != NULL)
		return 0;
	if ((dep = store_task_json(D->store, t->after)) == NULL) {
		*code = ERR_NOT_FOUND;
		snprintf(err, errlen, "no task %lld to run after", (long long)t->after);
		return -1;
	}
	cJSON_Delete(dep);
	return 0;
}

/*
 * restore --force: what runs, and what waits ahead of the restore, is
 * canceled instead of waited for (the restore would cancel it anyway).
 */
static void cancel_running_for_restore(struct task *t, void *ctx)
{
	(void)ctx;
	task_cancel(t, task_reason_name(REASON_RESTORED),
	    "canceled so that a restore could run (--force)",
	    TASK_CANCELED);
}

static void answer_submitted(cJSON *task, void *conn)
{
	server_reply_ok(conn, task);
}

void control_submit(struct conn *conn, struct task *t, const char *refused)
{
	int code = ERR_BAD_REQUEST;
	char err[512];

	if (repo_task_check(t, &code, err, sizeof err) < 0 ||
	    check_after(t, &code, err, sizeof err) < 0) {
		server_reply_err(conn, code, "%s%s%s", refused ? refused : "", refused ? ": " : "",
		    err);
		task_free(t);
		return;
	}
	if (t->tt->force_cancels &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t->d->args, "force")))
		tasks_foreach(cancel_running_for_restore, NULL);
	/* Answered from inside task_submit: stored, before its start is recorded. */
	if (task_submit(t, answer_submitted, conn, err, sizeof err) < 0)
		server_reply_err(conn, ERR_INTERNAL, "%s", err);
}

void cmd_task_submit(struct conn *conn, struct request *rq)
{
	struct task *t = rq->task;

	rq->task = NULL;
	control_submit(conn, t, NULL);
}

/*
 * The names any task of the batch had left out of its environment
 * (env_deny), each once: what the submitter is told, as task.submit's
 * reply tells it of one task.
 */
static cJSON *batch_env_denied(struct task **ts, size_t n)
{
	cJSON *all = cJSON_CreateArray();
	const cJSON *name;

	for (size_t i = 0; all != NULL && i < n; i++)
		cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(ts[i]->d->args,
		    "env_denied")) {
			const cJSON *seen;
			int dup = 0;

			cJSON_ArrayForEach(seen, all)
				dup = dup || strcmp(seen->valuestring, name->valuestring) == 0;
			if (!dup)
				cJSON_AddItemToArray(all, cJSON_CreateString(name->valuestring));
		}
	return all;
}

/*
 * task.submit_batch: every task checked as task.submit checks one before
 * any is stored; then one transaction, and the ids in order.
 */
void cmd_task_submit_batch(struct conn *conn, struct request *rq)
{
	int code = ERR_BAD_REQUEST;
	cJSON *r, *ids;
	int64_t *id;
	char err[512];
	size_t n;

	for (size_t i = 0; i < rq->nbatch; i++) {
		const struct task *t = rq->batch[i];

		if (t->tt->force_cancels &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t->d->args, "force"))) {
			server_reply_err_at(conn, ERR_BAD_REQUEST, (int64_t)i, "tasks[%zu]: a "
			    "%s with force cancels what runs: submit it on its own", i, t->type);
			return;
		}
		if (repo_task_check(t, &code, err, sizeof err) < 0 ||
		    check_after(t, &code, err, sizeof err) < 0) {
			server_reply_err_at(conn, code, (int64_t)i, "tasks[%zu]: %s", i, err);
			return;
		}
	}
	r = cJSON_CreateObject();
	id = calloc(rq->nbatch, sizeof *id);
	if (r == NULL || id == NULL ||
	    !cJSON_AddItemToObject(r, "env_denied", batch_env_denied(rq->batch, rq->nbatch))) {
		cJSON_Delete(r);
		free(id);
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		return;
	}
	n = rq->nbatch;
	rq->nbatch = 0;	/* taken: tasks_submit_batch frees them if it fails */
	if (tasks_submit_batch(rq->batch, n, id, err, sizeof err) < 0) {
		cJSON_Delete(r);
		free(id);
		server_reply_err(conn, ERR_INTERNAL, "%s", err);
		return;
	}
	ids = cJSON_AddArrayToObject(r, "ids");
	for (size_t i = 0; ids != NULL && i < n; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)id[i]));
	free(id);
	server_reply_ok(conn, r);
}

/* What a task.list page collects: the tasks' JSON, and whether one more row was there. */
struct list_page {
	cJSON *arr;
	int n, max, more;
	int64_t last;
};

static void list_add(struct task *t, void *arg)
{
	struct list_page *p = arg;
	struct task *live;
	cJSON *o;

	if (p->n == p->max) {
		p->more = 1;
	} else {
		/* A task in memory is newer than its row (progress, stalled); a waiting one takes its detail from the row. */
		live = task_find(t->id);
		if ((o = task_summary_json(live ? live : t, t->d)) != NULL)
			cJSON_AddItemToArray(p->arr, o);
		p->last = t->id;
		p->n++;
	}
	task_free(t);
}

/*
 * One page of at most TASK_LIST_PAGE tasks, read by one statement, so that
 * a large listing never holds the loop (issue 10 item 8). When the limit
 * asks for more and more exist, the reply's "next" holds the args for the
 * rest: {"cursor": the last id sent, "limit": what is left of it}.
 */
void cmd_task_list(struct conn *conn, struct request *rq)
{
	struct list_page p = { .arr = cJSON_CreateArray() };
	cJSON *r, *next;

	p.max = rq->limit < TASK_LIST_PAGE ? (int)rq->limit : TASK_LIST_PAGE;
	if (p.arr == NULL || store_list_tasks(D->store, rq->state, rq->resource, rq->cursor,
	    p.max + (rq->limit > p.max), list_add, &p) < 0) {
		cJSON_Delete(p.arr);
		server_reply_err(conn, ERR_INTERNAL, "listing tasks: %s", store_errmsg(D->store));
		return;
	}
	if (!p.more) {
		server_reply_ok(conn, p.arr);
		return;
	}
	if ((r = cJSON_CreateObject()) == NULL || (next = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(r);
		cJSON_Delete(p.arr);
		server_reply_err(conn, ERR_INTERNAL, "listing tasks: out of memory");
		return;
	}
	cJSON_AddBoolToObject(r, "ok", 1);
	cJSON_AddItemToObject(r, "result", p.arr);
	cJSON_AddNumberToObject(next, "cursor", (double)p.last);
	cJSON_AddNumberToObject(next, "limit", (double)(rq->limit - p.n));
	cJSON_AddItemToObject(r, "next", next);
	server_reply(conn, r);
}

void cmd_task_show(struct conn *conn, struct request *rq)
{
	cJSON *t;

	if ((t = task_json_by_id(rq->id)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no task %lld", (long long)rq->id);
		return;
	}
	server_reply_ok(conn, t);
}

void cmd_task_log(struct conn *conn, struct request *rq)
{
	int64_t id = rq->id, offset = rq->offset, max = rq->max;
	char path[4200], *buf;
	cJSON *t, *r;
	struct stat st;
	ssize_t got = 0;
	int fd, final;

	if ((t = task_json_by_id(id)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no task %lld", (long long)id);
		return;
	}
	cJSON_Delete(t);
	/* Read final-ness before the file, so output written before the end is never missed. */
	final = task_find(id) == NULL;
	task_log_path(id, path, sizeof path);
	if ((buf = malloc((size_t)max + 1)) == NULL) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		return;
	}
	/* Beneath the data directory: a link there must not show a client some other file. */
	fd = fs_open_beneath(daemon_data()->fd, path, O_RDONLY, 0);
	if (fd >= 0) {
		got = pread(fd, buf, (size_t)max, offset);
		if (fstat(fd, &st) != 0)
			st.st_size = 0;
		close(fd);
	} else
		st.st_size = 0;
	if (got < 0)
		got = 0;
	/*
	 * A chunk may end inside a character the next read completes: leave
	 * those bytes for the next request rather than send them as U+FFFD.
	 */
	if (!(final && offset + got >= (int64_t)st.st_size) && utf8_cut(buf, (size_t)got) > 0)
		got = (ssize_t)utf8_cut(buf, (size_t)got);
	/* JSON strings cannot carry NUL; output is text for the reader anyway. */
	for (ssize_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	buf[got] = '\0';
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "data", buf);
	cJSON_AddNumberToObject(r, "offset", (double)(offset + got));
	cJSON_AddNumberToObject(r, "size", (double)st.st_size);
	cJSON_AddBoolToObject(r, "final", final && offset + got >= (int64_t)st.st_size);
	free(buf);
	server_reply_ok(conn, r);
}

static int check_ids_exist(struct conn *conn, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cJSON *t;
		if (task_find(ids[i]) != NULL)
			continue;
		if ((t = store_task_json(D->store, ids[i])) == NULL) {
			server_reply_err(conn, ERR_NOT_FOUND, "no task %lld", (long long)ids[i]);
			return -1;
		}
		cJSON_Delete(t);
	}
	return 0;
}

void cmd_task_cancel(struct conn *conn, struct request *rq)
{
	const int64_t *ids = rq->ids;
	size_t n = rq->nids;
	cJSON *arr;

	if (check_ids_exist(conn, ids, n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct task *t = task_find(ids[i]);
		if (t != NULL) {
			log_info("task %lld: cancel requested", (long long)ids[i]);
			task_cancel(t, task_reason_name(REASON_CANCELED_BY_USER), "canceled by request",
			    TASK_CANCELED);
		}
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *t = task_json_by_id(ids[i]);
		if (t)
			cJSON_AddItemToArray(arr, t);
	}
	server_reply_ok(conn, arr);
}

/*
 * From the first id not yet seen final: each id is passed once in the
 * wait's life, so a wait for 10,000 tasks costs O(1) a task's end, not a
 * scan of all its ids.
 */
static int waiter_done(struct waiter *w)
{
	while (w->open < w->n && task_find(w->ids[w->open]) == NULL)
		w->open++;
	return w->open == w->n;
}

static void waiter_answer(struct waiter *w, int timed_out)
{
	cJSON *r = cJSON_CreateObject(), *arr;

	cJSON_AddBoolToObject(r, "timed_out", timed_out);
	arr = cJSON_AddArrayToObject(r, "tasks");
	for (size_t i = 0; i < w->n; i++) {
		cJSON *t = task_json_by_id(w->ids[i]);
		if (t)
			cJSON_AddItemToArray(arr, t);
	}
	server_reply_ok(w->conn, r);
}

static void waiter_free(struct waiter *w)
{
	free(w->ids);
	free(w);
}

/* Its client went away: the wait is dropped unanswered. */
static void waiter_gone(struct conn *conn, void *arg)
{
	struct waiter **p = &D->waiters, *w = arg;

	(void)conn;
	while (*p != NULL && *p != w)
		p = &(*p)->next;
	if (*p == w) {
		*p = w->next;
		waiter_free(w);
	}
}

static int cmp_wait_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Each id once, in the order first asked: validation allows an id 100,000
 * times, and each copy cost a task's JSON (from the store, for a final
 * one) in the answer: 40 KiB asked, 100 MiB built on the main thread.
 */
static size_t wait_ids_once(int64_t *ids, size_t n)
{
	int64_t *sorted = malloc(n * sizeof *sorted);
	unsigned char *seen;
	size_t m = 0, out = 0;

	if (sorted == NULL)
		return n;
	memcpy(sorted, ids, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_wait_id);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || sorted[m - 1] != sorted[i])
			sorted[m++] = sorted[i];
	if (m == n || (seen = calloc(m, 1)) == NULL) {
		free(sorted);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t *at = bsearch(&ids[i], sorted, m, sizeof *sorted, cmp_wait_id);
		size_t k = (size_t)(at - sorted);

		if (!seen[k]) {
			seen[k] = 1;
			ids[out++] = ids[i];
		}
	}
	free(seen);
	free(sorted);
	return out;
}

void cmd_task_wait(struct conn *conn, struct request *rq)
{
	struct waiter *w = calloc(1, sizeof *w);
	char err[256];

	if (w == NULL) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory");
		return;
	}
	w->conn = conn;
	w->ids = rq->ids;
	w->n = wait_ids_once(rq->ids, rq->nids);
	rq->ids = NULL;
	if (check_ids_exist(conn, w->ids, w->n) < 0) {
		waiter_free(w);
		return;
	}
	if (waiter_done(w) || rq->timeout_ms == 0) {
		waiter_answer(w, !waiter_done(w));
		waiter_free(w);
		return;
	}
	if (server_park(conn, waiter_gone, w, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_UNAVAILABLE, "%s", err);
		waiter_free(w);
		return;
	}
	w->deadline_mono = rq->timeout_ms > 0 ? time_mono_ms() + rq->timeout_ms : 0;
	w->next = D->waiters;
	D->waiters = w;
}

/* Answers the waits that a task's end completes; with finished_id 0, also those whose deadline passed. */
static void waiters_scan(int64_t finished_id, int64_t now_mono)
{
	struct waiter **p = &D->waiters, *w;

	while ((w = *p) != NULL) {
		int done, expired;

		done = waiter_done(w);
		expired = !done && finished_id == 0 && w->deadline_mono &&
		    now_mono >= w->deadline_mono;
		if (done || expired) {
			*p = w->next;
			waiter_answer(w, expired);
			waiter_free(w);
		} else
			p = &w->next;
	}
}

void waiters_check(int64_t finished_id) { waiters_scan(finished_id, 0); }
void waiters_tick(void) { waiters_scan(0, time_mono_ms()); }

void waiters_fail_all(void)
{
	struct waiter *w;

	while ((w = D->waiters) != NULL) {
		D->waiters = w->next;
		server_reply_err(w->conn, ERR_UNAVAILABLE,
		    "depotd stopped before the tasks ended; they will run after it starts");
		waiter_free(w);
	}
}

void cmd_worker_list(struct conn *conn, struct request *rq)
{
	cJSON *arr = cJSON_CreateArray();

	(void)rq;
	for (struct worker *w = D->workers; w; w = w->next)
		cJSON_AddItemToArray(arr, worker_to_json(w));
	server_reply_ok(conn, arr);
}

static void visit_lock(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *holders, *waiting;

	cJSON_AddStringToObject(o, "resource", res->name);
	holders = cJSON_AddArrayToObject(o, "holders");
	waiting = cJSON_AddArrayToObject(o, "waiting");
	for (size_t i = 0; i < n; i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "task", (double)e[i].task);
		cJSON_AddStringToObject(x, "mode", lock_mode_name(e[i].mode));
		if (e[i].priority != 0)
			cJSON_AddNumberToObject(x, "priority", e[i].priority);
		cJSON_AddItemToArray(e[i].held ? holders : waiting, x);
	}
	cJSON_AddBoolToObject(o, "paused", res->paused);
	if (res->capacity != 0)
		cJSON_AddNumberToObject(o, "capacity", res->capacity);
	else
		cJSON_AddNullToObject(o, "capacity");
	cJSON_AddItemToArray((cJSON *)ctx, o);
}

void cmd_lock_list(struct conn *conn, struct request *rq)
{
	cJSON *arr = cJSON_CreateArray();

	(void)rq;
	lockmgr_visit(D->locks, visit_lock, arr);
	server_reply_ok(conn, arr);
}

void cmd_repo_create(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	cJSON *imp, *existing;
	char err[512];

	if ((existing = repo_importer(name)) != NULL) {
		cJSON_Delete(existing);
		server_reply_err(conn, ERR_CONFLICT, "repository '%s' already exists", name);
		return;
	}
	imp = cJSON_CreateObject();
	if (repo_importer_apply(imp, rq->importer, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_BAD_REQUEST, "%s", err);
	} else if (repo_create(name, imp) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "creating repository '%s': %s", name,
		    store_errmsg(D->store));
	} else {
		log_info("repository %s created", name);
		server_reply_ok(conn, repo_json(name, 1));
	}
	cJSON_Delete(imp);
}

void cmd_repo_update(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	char err[512];
	cJSON *imp;

	if ((imp = repo_importer(name)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no repository '%s'", name);
		return;
	}
	if (repo_importer_apply(imp, rq->importer, err, sizeof err) < 0)
		server_reply_err(conn, ERR_BAD_REQUEST, "%s", err);
	else if (repo_update(name, imp) < 0)
		server_reply_err(conn, ERR_INTERNAL, "updating repository '%s': %s", name,
		    store_errmsg(D->store));
	else
		server_reply_ok(conn, repo_json(name, 1));
	cJSON_Delete(imp);
}

void cmd_repo_list(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_ok(conn, repo_list_json());
}

void cmd_repo_show(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	cJSON *r;

	if ((r = repo_json(name, 1)) == NULL)
		server_reply_err(conn, ERR_NOT_FOUND, "no repository '%s'", name);
	else
		server_reply_ok(conn, r);
}

struct repo_busy {
	const char *name;
	int64_t task;
};

static void find_repo_task(struct task *t, void *ctx)
{
	struct repo_busy *b = ctx;
	char res[DEPOT_RESOURCE_MAX + 1];

	snprintf(res, sizeof res, "repository:%s", b->name);
	for (size_t i = 0; i < t->nres && b->task == 0; i++)
		if (strcmp(t->res[i].name, res) == 0)
			b->task = t->id;
}

void cmd_repo_delete(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	struct repo_busy busy = { .name = name };
	cJSON *imp, *r;

	if ((imp = repo_importer(name)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no repository '%s'", name);
		return;
	}
	cJSON_Delete(imp);
	tasks_foreach(find_repo_task, &busy);
	if (busy.task != 0) {
		server_reply_err(conn, ERR_CONFLICT, "repository '%s' has an unfinished task "
		    "(%lld): wait for it or cancel it first", name, (long long)busy.task);
		return;
	}
	if (repo_delete(name) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "deleting repository '%s': %s", name,
		    store_errmsg(D->store));
		return;
	}
	log_info("repository %s deleted", name);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "deleted", name);
	server_reply_ok(conn, r);
}

void cmd_schedule_add(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	const cJSON *tmpl = rq->tmpl;	/* as validate.c kept it */
	int64_t every = rq->every_ms, first = rq->first_run;
	char err[512];
	cJSON *existing;
	int rc;

	if ((existing = sched_json(name)) != NULL) {
		cJSON_Delete(existing);
		server_reply_err(conn, ERR_CONFLICT, "schedule '%s' already exists", name);
		return;
	}
	/* A template naming a repository that does not exist is refused now, not at each run. */
	if (check_repo_task(conn, rq->task) < 0)
		return;
	if (rq->calendar != NULL) {
		rc = calendar_next_in(rq->calendar, rq->tz, time_now_ms(), &first, err, sizeof err);
		if (rc <= 0) {
			server_reply_err(conn, ERR_BAD_REQUEST, "calendar '%s': %s", rq->calendar,
			    rc < 0 ? err : "no time after now");
			return;
		}
	} else if (rq->at == NULL)
		first = time_now_ms() + every;
	if (sched_add(name, tmpl, every, rq->calendar, rq->tz, first) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "adding schedule '%s': %s", name,
		    store_errmsg(D->store));
		return;
	}
	if (rq->calendar != NULL)
		log_info("schedule %s added (calendar '%s'%s%s)", name, rq->calendar,
		    rq->tz ? " in " : "", rq->tz ? rq->tz : "");
	else
		log_info("schedule %s added (every %lld ms)", name, (long long)every);
	server_reply_ok(conn, sched_json(name));
}

void cmd_schedule_list(struct conn *conn, struct request *rq)
{
	cJSON *one;

	if (rq->name == NULL) {
		server_reply_ok(conn, sched_list_json());
		return;
	}
	if ((one = sched_json(rq->name)) == NULL) {
		server_reply_err(conn, ERR_NOT_FOUND, "no schedule '%s'", rq->name);
		return;
	}
	server_reply_ok(conn, one);
}

void cmd_schedule_delete(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	cJSON *r;
	int n;

	if ((n = sched_delete(name)) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "deleting schedule '%s': %s", name,
		    store_errmsg(D->store));
		return;
	}
	if (n == 0) {
		server_reply_err(conn, ERR_NOT_FOUND, "no schedule '%s'", name);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "deleted", name);
	server_reply_ok(conn, r);
}

void cmd_schedule_set(struct conn *conn, struct request *rq)
{
	const char *name = rq->name;
	int n;

	if ((n = sched_set_enabled(name, rq->enabled)) <= 0) {
		if (n == 0)
			server_reply_err(conn, ERR_NOT_FOUND, "no schedule '%s'", name);
		else
			server_reply_err(conn, ERR_INTERNAL, "%s", store_errmsg(D->store));
		return;
	}
	server_reply_ok(conn, sched_json(name));
}

void cmd_schedule_run(struct conn *conn, struct request *rq)
{
	char err[512];
	int64_t id;
	int code;

	if ((id = sched_run_now(rq->name, &code, err, sizeof err)) < 0) {
		server_reply_err(conn, code, "%s", err);
		return;
	}
	server_reply_ok(conn, task_json_by_id(id));
}
