/* workerproto.c: the worker socket — hello, next (long poll), ack, heartbeat, done — and the daemon's view of workers. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const worker_state_names[] = {
	[WORKER_ONLINE] = "online", [WORKER_MISSING] = "missing",
	[WORKER_STOPPED] = "stopped",
};

const char *worker_state_name(enum worker_state s) { return worker_state_names[s]; }

struct worker *worker_find(const char *name)
{
	for (struct worker *w = D->workers; w; w = w->next)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

cJSON *worker_to_json(const struct worker *w)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", w->name);
	cJSON_AddNumberToObject(o, "pid", w->pid);
	cJSON_AddStringToObject(o, "state", worker_state_name(w->state));
	cJSON_AddBoolToObject(o, "supervised", w->supervised);
	json_add_time(o, "started_at", w->started_at);
	json_add_time(o, "last_heartbeat", w->last_heartbeat);
	json_add_id(o, "task", w->task);
	return o;
}

static void worker_publish(const struct worker *w)
{
	cJSON *body = cJSON_CreateObject();

	cJSON_AddStringToObject(body, "event", "state");
	cJSON_AddItemToObject(body, "worker", worker_to_json(w));
	events_publish("worker", body);
}

static void worker_end_poll(struct worker *w)
{
	if (w->poll == NULL)
		return;
	/*
	 * While depotd stops, a worker is lost because it exited: a reply to
	 * its closing pipe could still be inside nng when the socket closes
	 * just after, and nng 1.5 then never frees it (LeakSanitizer saw it).
	 */
	if (D->stopping)
		server_forget(w->poll);
	else
		server_reply_ok(w->poll, NULL);
	w->poll = NULL;
}

/*
 * An assignment is a lease: the worker acknowledges it before it starts
 * anything (worker.c), within this long, or it goes back to its queues.
 * Long enough for a loaded worker to answer, short against a stalled one.
 */
static int64_t lease_ms(void)
{
	return D->cfg.heartbeat_interval_ms * 2 + 1000;
}

void worker_assign(struct worker *w, const struct task *t)
{
	w->task = t->id;
	w->lease_deadline_mono = time_mono_ms() + lease_ms();
}

/* Whether t is w's: a waiting task, which may lack its detail, is no worker's. */
static int given_to(const struct task *t, const struct worker *w)
{
	return t->state != TASK_WAITING && t->d != NULL && strcmp(t->d->worker, w->name) == 0;
}

/*
 * w's assignment, not acknowledged, is lost (the worker gave up the request
 * that carried it, exited, restarted or went silent): it never started, so
 * nothing of it is fenced or canceled. It waits again, first in line; one
 * the user canceled meanwhile simply ends as the cancel said. Returns 1
 * when w had such an assignment.
 */
static int assignment_lost(struct worker *w, const char *why)
{
	struct task *t = w->task != 0 && w->acked != w->task ? task_find(w->task) : NULL;

	if (t == NULL)
		return 0;
	w->task = 0;
	log_warn("task %lld: worker %s never acknowledged it (%s); it did not start and "
	    "goes back to its queues", (long long)t->id, w->name, why);
	if (t->state == TASK_CANCELING)
		task_finish(t, t->d->cancel_final, NULL, t->d->cancel_reason, t->d->cancel_message);
	else
		task_requeue(t);
	return 1;
}

/*
 * DESIGN §7 rules 1–3. The task's processes are killed before its
 * reservations go, so a stopped or dead worker's command can never run on
 * beside the next holder (rule 7).
 */
void worker_lost(struct worker *w, enum worker_state state, const char *reason,
    const char *message)
{
	struct task *t;

	w->state = state;
	worker_end_poll(w);
	assignment_lost(w, message);
	if ((t = w->task ? task_find(w->task) : NULL) != NULL) {
		fence_task(t);
		task_end_interrupted(t, reason, message);
	}
	w->task = 0;
	worker_publish(w);
}

/* Rule 3 applies to any task that names the worker, however it got there. */
static void cancel_named(struct task *t, void *ctx)
{
	const char *name = ctx;

	/* A task whose version is being recorded is past its worker (recorder.c). */
	if ((t->state == TASK_RUNNING || t->state == TASK_CANCELING) && !t->d->recording &&
	    strcmp(t->d->worker, name) == 0) {
		fence_task(t);
		task_end_interrupted(t, task_reason_name(REASON_WORKER_RESTARTED),
		    "the worker restarted while the task ran");
	}
}

/* The counts become int64_t: a number past that range would be undefined to convert. */
static int check_progress(const cJSON *progress, char *err, size_t errlen)
{
	const char *s;
	int64_t n;

	if (progress == NULL || cJSON_IsNull(progress))
		return 0;
	if (!cJSON_IsObject(progress)) {
		snprintf(err, errlen, "'progress' must be an object");
		return -1;
	}
	if (validate_int(progress, "done", 0, 0, INT64_C(9000000000000000), &n, err, errlen) < 0 ||
	    validate_int(progress, "total", 0, 0, INT64_C(9000000000000000), &n, err, errlen) < 0 ||
	    validate_string(progress, "unit", 0, 64, &s, err, errlen) < 0 ||
	    validate_string(progress, "message", 0, 4096, &s, err, errlen) < 0)
		return -1;
	return 0;
}

/* The fields of done beyond name and progress. */
static int check_done(const cJSON *args, struct worker_msg *m, char *err, size_t errlen)
{
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(args, "result");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(args, "error"), *next;
	const char *state = NULL;

	if (validate_int(args, "task", 1, 1, INT64_C(9000000000000000), &m->task, err, errlen) < 0 ||
	    validate_string(args, "state", 1, 16, &state, err, errlen) < 0)
		return -1;
	if (task_state_parse(state, &m->state) < 0 || !task_state_final(m->state)) {
		char finals[128];

		task_states_join(finals, sizeof finals, 1, "", " or ");
		snprintf(err, errlen, "'state' must be %s", finals);
		return -1;
	}
	next = cJSON_GetObjectItemCaseSensitive(args, "next");
	if (next != NULL && !cJSON_IsBool(next)) {
		snprintf(err, errlen, "'next' must be true or false");
		return -1;
	}
	m->next = cJSON_IsTrue(next);
	m->result = cJSON_IsObject(result) ? result : NULL;
	m->reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "reason"));
	m->message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
	return 0;
}

int workerproto_parse(const cJSON *req, struct worker_msg *m, char *err, size_t errlen)
{
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");

	memset(m, 0, sizeof *m);
	m->cmd = WCMD_COUNT;
	if (cmd == NULL || !cJSON_IsObject(args)) {
		snprintf(err, errlen, "expected {\"cmd\": …, \"args\": {…}}");
		return -1;
	}
	if (worker_cmd_parse(cmd, &m->cmd) < 0) {
		snprintf(err, errlen, "unknown worker command '%.64s'", cmd);
		return -1;
	}
	if (validate_string(args, "name", 1, DEPOT_WORKER_NAME_MAX, &m->name, err, errlen) < 0)
		return -1;
	if (!validate_worker_name(m->name)) {
		snprintf(err, errlen, "bad worker name '%s' (letters, digits, '.', '_' and '-', "
		    "at most %d)", m->name, DEPOT_WORKER_NAME_MAX);
		return -1;
	}
	m->progress = cJSON_GetObjectItemCaseSensitive(args, "progress");
	if (check_progress(m->progress, err, errlen) < 0)
		return -1;
	if (!cJSON_IsObject(m->progress))
		m->progress = NULL;
	if (validate_int(args, "env_id", 0, 0, INT64_C(9000000000000000), &m->env_kept, err,
	    errlen) < 0 ||
	    validate_int(args, "env_epoch", 0, 0, INT64_C(9000000000000000), &m->env_epoch, err,
	    errlen) < 0)
		return -1;
	switch (m->cmd) {
	case WCMD_HELLO:
		m->supervised = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "supervised"));
		return validate_int(args, "pid", 1, 1, INT32_MAX, &m->pid, err, errlen) < 0 ? -1 : 0;
	case WCMD_HEARTBEAT:
		if (validate_int(args, "task", 0, 1, INT64_C(9000000000000000), &m->task,
		    err, errlen) < 0 ||
		    validate_int(args, "pgid", 0, 2, INT32_MAX, &m->pgid, err, errlen) < 0)
			return -1;
		return 0;
	case WCMD_ACK:
		return validate_int(args, "task", 1, 1, INT64_C(9000000000000000), &m->task,
		    err, errlen) < 0 ? -1 : 0;
	case WCMD_DONE:
		return check_done(args, m, err, errlen);
	default:
		return 0;
	}
}

static struct worker *known_worker(struct conn *conn, const char *name)
{
	struct worker *w;

	if ((w = worker_find(name)) == NULL || w->state == WORKER_STOPPED) {
		server_reply_err(conn, ERR_NOT_FOUND, "unknown worker '%s': say hello", name);
		return NULL;
	}
	return w;
}

static void heard_from(struct worker *w)
{
	w->last_heartbeat = time_now_ms();
	w->last_heartbeat_mono = time_mono_ms();
}

/*
 * The environment the worker says it keeps (next, done), for the next
 * assignment to leave out: only one numbered by this database (epoch).
 */
static void note_env_kept(struct worker *w, const struct worker_msg *m)
{
	w->env_kept = m->env_epoch == D->env_epoch ? m->env_kept : 0;
}

static void on_hello(struct conn *conn, const struct worker_msg *m)
{
	const char *name = m->name;
	struct worker *w;
	cJSON *r;

	/*
	 * The pid is whose descendants depotd may kill (fence.c): a worker
	 * names only its own, so that a rogue same-uid client cannot point
	 * depotd at another process tree.
	 */
	if (m->peer_pid != 0 && m->pid != m->peer_pid) {
		log_warn("hello from '%s' refused: it claims pid %lld but pid %d sent it", name,
		    (long long)m->pid, (int)m->peer_pid);
		server_reply_err(conn, ERR_FORBIDDEN, "'pid' must be the pid of the process "
		    "that sends hello (%d)", (int)m->peer_pid);
		return;
	}
	if ((w = worker_find(name)) != NULL)
		assignment_lost(w, "the worker restarted");
	tasks_foreach(cancel_named, (void *)name);
	if ((w = worker_find(name)) == NULL) {
		if ((w = calloc(1, sizeof *w)) == NULL) {
			server_reply_err(conn, ERR_INTERNAL, "out of memory");
			return;
		}
		snprintf(w->name, sizeof w->name, "%s", name);
		w->next = D->workers;
		D->workers = w;
	}
	worker_end_poll(w);
	w->pid = (pid_t)m->pid;
	w->pid_start = 0;
	w->supervised = m->supervised && supervisor_owns(w->pid);
	w->state = WORKER_ONLINE;
	w->task = 0;
	w->started_at = time_now_ms();
	heard_from(w);
	log_info("worker %s online (pid %d%s)", w->name, w->pid,
	    w->supervised ? ", supervised" : "");
	worker_publish(w);
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "heartbeat_interval_ms", (double)D->cfg.heartbeat_interval_ms);
	w->hb_told_ms = D->cfg.heartbeat_interval_ms;
	cJSON_AddNumberToObject(r, "protocol", DEPOT_PROTO_VERSION);
	server_reply_ok(conn, r);
}

/*
 * The worker's connection closed under its parked next (it exited, or its
 * socket was closed): no assignment may go there, where no one would run it.
 */
static void poll_gone(struct conn *conn, void *arg)
{
	struct worker *w = arg;

	if (w->poll == conn)
		w->poll = NULL;
}

/*
 * w asks for work without having said how its acknowledged task ended (a
 * done it sent was refused): whatever it started of it is stopped.
 */
static void abandoned(struct worker *w)
{
	struct task *t = task_find(w->task);

	w->task = 0;
	if (t == NULL)
		return;
	fence_task(t);
	task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION),
	    "the worker asked for new work without reporting how the task ended");
}

/* The long poll of next, also what a done with next asks for after its report. */
static void park_next(struct conn *conn, struct worker *w)
{
	char err[256];

	/*
	 * Any request is a sign of life, as a heartbeat is. The poll is parked
	 * even while stopping (dispatch is off then), so the worker does not spin.
	 */
	if (w->state == WORKER_MISSING) {
		log_info("worker %s is back", w->name);
		w->state = WORKER_ONLINE;
		worker_publish(w);
	}
	worker_end_poll(w);
	/* Asking for work again, the worker says it runs nothing. */
	if (!assignment_lost(w, "it asked for work again") && w->task != 0)
		abandoned(w);
	if (server_park(conn, poll_gone, w, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_UNAVAILABLE, "%s", err);
		return;
	}
	w->poll = conn;
	w->next_pipe = server_conn_pipe(conn);
	w->poll_deadline_mono = time_mono_ms() + DEPOT_NEXT_POLL_MS;
	tasks_dispatch();
}

static void on_next(struct conn *conn, const struct worker_msg *m)
{
	struct worker *w = known_worker(conn, m->name);

	if (w == NULL)
		return;
	heard_from(w);
	note_env_kept(w, m);
	park_next(conn, w);
}

/*
 * The worker has the assignment and starts it only on this answer's "run":
 * false when the lease ran out first (the task went back to its queues, or
 * to another worker) or the task was canceled before it started.
 */
static void on_ack(struct conn *conn, const struct worker_msg *m)
{
	struct worker *w = known_worker(conn, m->name);
	struct task *t;
	int run = 0;
	cJSON *r;

	if (w == NULL)
		return;
	heard_from(w);
	t = task_find(m->task);
	if (t != NULL && w->task == m->task && given_to(t, w)) {
		if (t->state == TASK_CANCELING && w->acked != m->task) {
			w->task = 0;
			task_finish(t, t->d->cancel_final, NULL, t->d->cancel_reason, t->d->cancel_message);
		} else {
			/* Again after a lost answer, the same yes. */
			w->acked = m->task;
			run = 1;
		}
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "run", run);
	server_reply_ok(conn, r);
}

/*
 * DESIGN §7 rule 8: depotd will SIGKILL this group when the task is lost,
 * so it takes only a group the sender may speak for: sent by the worker's
 * own process, made only of that worker's descendants.
 */
static void accept_pgid(const struct worker *w, struct task *t, const struct worker_msg *m)
{
	uint64_t start = 0;
	int ok = m->peer_pid == 0 || m->peer_pid == w->pid ?
	    fence_group_verify((pid_t)m->pgid, w->pid, &start) : -1;

	if (ok > 0) {
		t->d->pgid = (pid_t)m->pgid;
		t->d->pgid_start = start;
		if (store_task_processes(D->store, t->id, t) < 0)
			log_warn("task %lld: recording its process group: %s", (long long)t->id,
			    store_errmsg(D->store));
	} else if (ok < 0)
		log_warn("task %lld: worker %s (pid %d, heartbeat from pid %d) reported process "
		    "group %lld, which is not its own: ignored", (long long)t->id, w->name,
		    (int)w->pid, (int)m->peer_pid, (long long)m->pgid);
}

static void on_heartbeat(struct conn *conn, const struct worker_msg *m)
{
	struct worker *w = known_worker(conn, m->name);
	int64_t id = m->task;
	struct task *t;
	int cancel = 0;
	cJSON *r;

	if (w == NULL)
		return;
	heard_from(w);
	if (w->state == WORKER_MISSING) {
		log_info("worker %s is back", w->name);
		w->state = WORKER_ONLINE;
		worker_publish(w);
	}
	if (id != 0) {
		t = task_find(id);
		/* A task that is no longer this worker's must stop: it lost its reservations. */
		if (t == NULL || w->task != id || !given_to(t, w))
			cancel = 1;
		else {
			/* Nothing of it runs before the ack: a group named earlier is not its. */
			if (m->pgid != 0 && m->pgid != t->d->pgid && w->acked == id)
				accept_pgid(w, t, m);
			cancel = t->state == TASK_CANCELING;
			if (m->progress != NULL)
				task_set_progress(t, m->progress);
		}
	}
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "cancel", cancel);
	/* A reload may have changed it: the worker's next heartbeat follows. */
	cJSON_AddNumberToObject(r, "heartbeat_interval_ms", (double)D->cfg.heartbeat_interval_ms);
	w->hb_told_ms = D->cfg.heartbeat_interval_ms;
	server_reply_ok(conn, r);
}

/* How w's task ended, as done reports it; no reply yet. */
static void record_done(struct worker *w, const struct worker_msg *m)
{
	const char *reason = m->reason, *message = m->message;
	enum task_state state = m->state;
	int64_t id = m->task;
	cJSON *result_copy;
	struct task *t;
	char err[512];
	int rc = 0;

	t = task_find(id);
	/* Already ended by the monitor or a restart: the late report changes nothing. */
	if (t == NULL || !given_to(t, w) || w->task != id)
		return;
	/*
	 * The last output may have come after the last heartbeat. The row
	 * that records the end (task_finish) carries it: one write, not two.
	 */
	if (m->progress != NULL)
		task_take_progress(t, m->progress);
	if (t->state == TASK_CANCELING && state != TASK_COMPLETED) {
		/* Stopped on our request: it ends as the cancel said (canceled, or failed by timeout). */
		state = t->d->cancel_final;
		reason = t->d->cancel_reason;
		message = t->d->cancel_message;
	} else if (state == TASK_CANCELED) {
		state = TASK_FAILED;
		reason = task_reason_name(REASON_EXCEPTION);
		message = "the worker stopped the task unasked";
	} else if (state == TASK_COMPLETED)
		reason = message = NULL;
	else if (reason == NULL)
		reason = task_reason_name(REASON_EXCEPTION);
	result_copy = m->result != NULL ? cJSON_Duplicate(m->result, 1) : NULL;
	if (state == TASK_COMPLETED && (rc = tasktype_done(t, result_copy, err, sizeof err)) < 0) {
		state = TASK_FAILED;
		reason = task_reason_name(REASON_EXCEPTION);
		message = err;
	}
	if (rc == 1) {
		/*
		 * Its version is recorded in slices (recorder.c), which end the
		 * task: it stays running, its reservations held, while the worker
		 * is free for other work at once.
		 */
		/* Also what earlier heartbeats left unwritten: the task runs on without a worker to send more. */
		if (t->d->progress_unsaved)
			task_store_progress(t);
		w->task = 0;
		return;
	}
	task_finish(t, state, result_copy, reason, message);
}

/*
 * With next, the report is also the request for the next task: one round
 * trip fewer for each task a busy worker runs, and the task's end is
 * recorded before any other can be assigned to it.
 */
static void on_done(struct conn *conn, const struct worker_msg *m)
{
	struct worker *w = known_worker(conn, m->name);

	if (w == NULL)
		return;
	heard_from(w);
	record_done(w, m);
	note_env_kept(w, m);
	if (m->next)
		park_next(conn, w);
	else
		server_reply_ok(conn, cJSON_CreateObject());
}

static void (*const worker_handlers[WCMD_COUNT])(struct conn *, const struct worker_msg *) = {
	[WCMD_HELLO] = on_hello, [WCMD_NEXT] = on_next, [WCMD_ACK] = on_ack,
	[WCMD_HEARTBEAT] = on_heartbeat, [WCMD_DONE] = on_done,
};

/*
 * Test only: DEPOT_TEST_CRASH_AT=worker-CMD (worker-done, worker-heartbeat,
 * …) kills this process after such a request was handled, before what it
 * changed is committed.
 */
static void crash_point(const struct worker_msg *m)
{
	static const char *at;
	static int looked;

	/* Read once: this runs at every worker request. */
	if (!looked) {
		at = getenv("DEPOT_TEST_CRASH_AT");
		looked = 1;
	}
	if (at != NULL && strncmp(at, "worker-", 7) == 0 &&
	    strcmp(at + 7, worker_cmd_name(m->cmd)) == 0 && store_batch_pending(D->store)) {
		log_warn("DEPOT_TEST_CRASH_AT=%s: killing this process before the commit (a test)",
		    at);
		raise(SIGKILL);
	}
}

static void commit_batch(const struct worker_msg *m)
{
	crash_point(m);
	if (store_batch_end(D->store) < 0) {
		/*
		 * Memory has moved on (a task ended, the next assigned) and the
		 * database has not: carrying on could run a task twice. Stopped
		 * here, the next start recovers from what the database holds, as
		 * after a crash; the assigned worker never had its ack answered.
		 */
		log_error("database: committing what a worker's %s changed: %s; depotd stops "
		    "so that its next start recovers from the database", worker_cmd_name(m->cmd),
		    store_errmsg(D->store));
		abort();
	}
	events_release(1);
}

void workerproto_handle(struct conn *conn, const struct peer *peer, cJSON *req)
{
	struct worker_msg m;
	char err[512];

	if (!peer->owner) {
		server_reply_err(conn, ERR_FORBIDDEN, "workers must run as the daemon's user");
		return;
	}
	if (workerproto_parse(req, &m, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_BAD_REQUEST, "%s", err);
		return;
	}
	m.peer_pid = peer->pid;
	/*
	 * What one request changes is committed at once, in one transaction
	 * (issue 14): a done with next ends one task and starts the next, a
	 * heartbeat records a process group and progress. Its events wait for
	 * the commit. An assignment may be sent before it: the worker starts
	 * nothing before its ack is answered, which comes after.
	 */
	store_batch_begin(D->store);
	events_hold();
	worker_handlers[m.cmd](conn, &m);
	commit_batch(&m);
}

void workers_expire_polls(void)
{
	int64_t now = time_mono_ms();

	for (struct worker *w = D->workers; w; w = w->next) {
		if (w->poll != NULL && now >= w->poll_deadline_mono)
			worker_end_poll(w);
		if (w->task != 0 && w->acked != w->task && now >= w->lease_deadline_mono)
			assignment_lost(w, "its lease ran out");
	}
}

/* An assignment sent on a connection that closed before the ack cannot be read any more. */
void workers_pipe_gone(uint32_t pipe_id)
{
	for (struct worker *w = D->workers; w; w = w->next)
		if (w->next_pipe == pipe_id)
			assignment_lost(w, "its connection closed");
}

void workers_free_all(void)
{
	struct worker *w;

	while ((w = D->workers) != NULL) {
		D->workers = w->next;
		worker_end_poll(w);
		free(w);
	}
}

int worker_retire(struct worker *w)
{
	cJSON *r;

	if (w->poll == NULL || w->task != 0)
		return 0;
	/* An answer to its own request: it reads it whole, then closes its connections itself. */
	r = cJSON_CreateObject();
	cJSON_AddBoolToObject(r, "retire", 1);
	server_reply_ok(w->poll, r);
	w->poll = NULL;
	return 1;
}

int64_t worker_timeout_of(const struct worker *w)
{
	int64_t extra = w->hb_told_ms - D->cfg.heartbeat_interval_ms;

	return D->cfg.worker_timeout_ms + (extra > 0 ? extra : 0);
}

int64_t worker_late_after(const struct worker *w)
{
	int64_t interval = w->hb_told_ms > D->cfg.heartbeat_interval_ms ? w->hb_told_ms :
	    D->cfg.heartbeat_interval_ms;

	return 2 * interval + D->cfg.check_interval_ms;
}

void worker_forget(const char *name)
{
	for (struct worker **p = &D->workers; *p != NULL; p = &(*p)->next) {
		struct worker *w = *p;

		/* Another process may have taken the name since (a hand-started worker): it stays. */
		if (strcmp(w->name, name) != 0 || w->state != WORKER_STOPPED)
			continue;
		/* Its parked poll answered, nothing (poll_gone) can reach w any more. */
		worker_end_poll(w);
		*p = w->next;
		free(w);
		return;
	}
}
