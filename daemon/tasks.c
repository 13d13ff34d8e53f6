/* tasks.c: the life of a task — submit, dispatch to a worker, cancel, finish — kept in memory and in the store. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
	[TASK_WAITING] = "waiting",	[TASK_RUNNING] = "running",
	[TASK_CANCELING] = "canceling",	[TASK_COMPLETED] = "completed",
	[TASK_FAILED] = "failed",	[TASK_CANCELED] = "canceled",
};

const char *task_state_name(enum task_state s) { return state_names[s]; }

int task_state_parse(const char *s, enum task_state *out)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum task_state)i;
			return 0;
		}
	}
	return -1;
}

int task_state_final(enum task_state s)
{
	return s == TASK_COMPLETED || s == TASK_FAILED || s == TASK_CANCELED;
}

/*
 * What follows from a task's end — its retry joining the active tasks,
 * its dependents admitted, its waiters answered — waits here for
 * tasks_tick, so that ending a task never ends or adds another under a
 * caller that is looping over them.
 */
struct ended {
	int64_t id;
	struct task *retry;	/* stored, not yet adopted; or NULL */
};
static struct ended *ended;
static size_t nended, ended_cap;

static size_t task_slot(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ULL >> 20) % D->task_hash_size;
}

struct task *task_find(int64_t id)
{
	struct task *t;

	if (D->task_hash_size == 0)
		return NULL;
	for (t = D->task_hash[task_slot(id)]; t; t = t->next_in_hash)
		if (t->id == id)
			return t;
	return NULL;
}

static void task_hash_grow(void)
{
	size_t old_size = D->task_hash_size, new_size = old_size ? old_size * 2 : 1024;
	struct task **old = D->task_hash, **grown = calloc(new_size, sizeof *grown);

	if (grown == NULL)
		return;	/* chains just get longer */
	D->task_hash = grown;
	D->task_hash_size = new_size;
	for (size_t i = 0; i < old_size; i++) {
		struct task *t = old[i], *next;
		for (; t; t = next) {
			next = t->next_in_hash;
			size_t s = task_slot(t->id);
			t->next_in_hash = grown[s];
			grown[s] = t;
		}
	}
	free(old);
}

void task_insert(struct task *t)
{
	size_t s;

	if (D->ntasks >= D->task_hash_size)
		task_hash_grow();
	s = task_slot(t->id);
	t->next_in_hash = D->task_hash[s];
	D->task_hash[s] = t;
	D->ntasks++;
}

static void task_remove(struct task *t)
{
	struct task **p = &D->task_hash[task_slot(t->id)];

	for (; *p; p = &(*p)->next_in_hash) {
		if (*p == t) {
			*p = t->next_in_hash;
			D->ntasks--;
			return;
		}
	}
}

void task_free(struct task *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nres; i++)
		free(t->res[i].name);
	free(t->res);
	free(t->type);
	free(t->name);
	cJSON_Delete(t->args);
	free(t->progress_unit);
	free(t->progress_message);
	free(t->cancel_reason);
	free(t->cancel_message);
	free(t->schedule);
	cJSON_Delete(t->error);
	cJSON_Delete(t->result);
	free(t);
}

/* Every task in the table, in no order; fn must not end or add tasks. */
static void each_task(void (*fn)(struct task *t, void *ctx), void *ctx)
{
	for (size_t i = 0; i < D->task_hash_size; i++)
		for (struct task *t = D->task_hash[i]; t; t = t->next_in_hash)
			fn(t, ctx);
}

static void collect_id(struct task *t, void *ctx)
{
	int64_t *ids = ctx;

	ids[++ids[0]] = t->id;
}

/*
 * By ids collected first: fn may end a task (freeing it) or submit one
 * (growing the table), and neither may pull the table from under the loop.
 */
void tasks_foreach(void (*fn)(struct task *t, void *ctx), void *ctx)
{
	int64_t *ids = malloc((D->ntasks + 1) * sizeof *ids);
	struct task *t;

	if (ids == NULL) {
		log_error("out of memory listing %zu tasks", D->ntasks);
		return;
	}
	ids[0] = 0;
	each_task(collect_id, ids);
	for (int64_t i = 1; i <= ids[0]; i++)
		if ((t = task_find(ids[i])) != NULL)
			fn(t, ctx);
	free(ids);
}

void tasks_free_all(void)
{
	for (size_t i = 0; i < D->task_hash_size; i++) {
		struct task *t = D->task_hash[i], *next;
		for (; t; t = next) {
			next = t->next_in_hash;
			task_free(t);
		}
	}
	for (size_t i = 0; i < nended; i++)
		task_free(ended[i].retry);
	free(ended);
	ended = NULL;
	nended = ended_cap = 0;
	free(D->task_hash);
	D->task_hash = NULL;
	D->task_hash_size = D->ntasks = 0;
}

cJSON *task_resources_json(const struct task *t)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < t->nres; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "name", t->res[i].name);
		cJSON_AddStringToObject(r, "mode",
		    t->res[i].mode == LOCK_EXCLUSIVE ? "exclusive" : "shared");
		cJSON_AddItemToArray(arr, r);
	}
	return arr;
}

cJSON *task_progress_json(const struct task *t)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "done", (double)t->progress_done);
	if (t->progress_total >= 0)
		cJSON_AddNumberToObject(p, "total", (double)t->progress_total);
	else
		cJSON_AddNullToObject(p, "total");
	json_add_string_or_null(p, "unit", t->progress_unit);
	json_add_string_or_null(p, "message", t->progress_message);
	return p;
}

cJSON *task_to_json(const struct task *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)t->id);
	cJSON_AddStringToObject(o, "type", t->type);
	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "state", task_state_name(t->state));
	cJSON_AddItemToObject(o, "args", cJSON_Duplicate(t->args, 1));
	cJSON_AddItemToObject(o, "resources", task_resources_json(t));
	json_add_string_or_null(o, "worker", t->worker[0] ? t->worker : NULL);
	json_add_time(o, "created_at", t->created_at);
	json_add_time(o, "started_at", t->started_at);
	json_add_time(o, "finished_at", t->finished_at);
	if (t->timeout_ms > 0)
		cJSON_AddNumberToObject(o, "timeout", (double)t->timeout_ms);
	else
		cJSON_AddNullToObject(o, "timeout");
	cJSON_AddItemToObject(o, "progress", task_progress_json(t));
	cJSON_AddBoolToObject(o, "stalled", t->stalled);
	cJSON_AddItemToObject(o, "error", t->error ? cJSON_Duplicate(t->error, 1) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "result", t->result ? cJSON_Duplicate(t->result, 1) : cJSON_CreateNull());
	json_add_string_or_null(o, "schedule", t->schedule);
	json_add_id(o, "retry_of", t->retry_of);
	json_add_id(o, "after", t->after);
	cJSON_AddNumberToObject(o, "retries", t->retries);
	json_add_time(o, "not_before", t->not_before);
	return o;
}

cJSON *task_json_by_id(int64_t id)
{
	struct task *t = task_find(id);

	return t ? task_to_json(t) : store_task_json(D->store, id);
}

void tasks_publish(const struct task *t, const char *event)
{
	cJSON *body = cJSON_CreateObject();

	cJSON_AddStringToObject(body, "event", event);
	cJSON_AddItemToObject(body, "task", task_to_json(t));
	events_publish("task", body);
}

static void publish_final(int64_t id)
{
	cJSON *body = cJSON_CreateObject(), *task = store_task_json(D->store, id);

	cJSON_AddStringToObject(body, "event", "state");
	cJSON_AddItemToObject(body, "task", task ? task : cJSON_CreateNull());
	events_publish("task", body);
}

static void publish_lock(const struct task *t, const char *event)
{
	cJSON *body = cJSON_CreateObject(), *res;

	cJSON_AddStringToObject(body, "event", event);
	cJSON_AddNumberToObject(body, "task", (double)t->id);
	res = cJSON_AddArrayToObject(body, "resources");
	cJSON_AddItemToArray(res, cJSON_CreateString("depot"));
	for (size_t i = 0; i < t->nres; i++)
		cJSON_AddItemToArray(res, cJSON_CreateString(t->res[i].name));
	events_publish("lock", body);
}

/* The task's reservations plus the implicit `depot` shared one (DESIGN §6). */
static int task_enqueue_locks(struct task *t)
{
	struct lock_req *reqs = calloc(t->nres + 1, sizeof *reqs);
	int rc;

	if (reqs == NULL)
		return -1;
	for (size_t i = 0; i < t->nres; i++) {
		reqs[i].resource = t->res[i].name;
		reqs[i].mode = t->res[i].mode;
	}
	reqs[t->nres].resource = "depot";
	reqs[t->nres].mode = LOCK_SHARED;
	rc = lockmgr_enqueue(D->locks, t->id, reqs, t->nres + 1);
	free(reqs);
	return rc;
}

/* Active tasks not yet in the lock manager's queues (held by --after or a back-off). */
static size_t held_count;

/* A retry waits this long: long enough for a crashed worker to be replaced. */
#define RETRY_BACKOFF_MS 1000

/*
 * Puts a waiting task into the lock manager's queues once nothing else
 * holds it back: its --after task has completed and its back-off has
 * passed. Returns 1 when queued, 0 while still held, -1 when it ended
 * (its dependency failed).
 */
static int task_admit(struct task *t)
{
	char msg[256];

	if (t->queued)
		return 1;
	/* Nothing starts before the next start anyway, which judges dependencies as a crash would. */
	if (D->stopping)
		return 0;
	if (t->after != 0) {
		struct task *dep = task_find(t->after);
		enum task_state s;

		if (dep != NULL)
			return 0;
		dep = store_load_task(D->store, t->after);
		s = dep ? dep->state : TASK_CANCELED;
		task_free(dep);
		if (s != TASK_COMPLETED) {
			snprintf(msg, sizeof msg, "task %lld, which this one runs after, ended %s",
			    (long long)t->after, task_state_name(s));
			task_finish(t, TASK_CANCELED, NULL, "dependency-failed", msg);
			return -1;
		}
	}
	if (t->not_before > time_now_ms())
		return 0;
	if (task_enqueue_locks(t) < 0) {
		task_finish(t, TASK_FAILED, NULL, "exception", "out of memory queueing reservations");
		return -1;
	}
	t->queued = 1;
	held_count--;
	return 1;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct held_scan {
	int64_t *ids;
	size_t n, cap;
	int64_t after;		/* 0: every held task */
};

static void collect_held(struct task *t, void *ctx)
{
	struct held_scan *h = ctx;

	if (t->queued || t->state != TASK_WAITING || (h->after && t->after != h->after))
		return;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		int64_t *grown = realloc(h->ids, cap * sizeof *grown);
		if (grown == NULL)
			return;
		h->ids = grown;
		h->cap = cap;
	}
	h->ids[h->n++] = t->id;
}

/*
 * Admits held tasks, in id order so FIFO holds (after: only those waiting
 * on that task; 0: all). By id, since admitting one may end others.
 */
static void admit_held(int64_t after, int64_t retried_as)
{
	struct held_scan h = { .after = after };

	if (held_count == 0)
		return;
	each_task(collect_held, &h);
	if (h.n > 1)
		qsort(h.ids, h.n, sizeof *h.ids, cmp_id);
	for (size_t i = 0; i < h.n; i++) {
		struct task *t = task_find(h.ids[i]);
		if (t == NULL || t->queued)
			continue;
		if (retried_as != 0) {
			/* Its dependency is being retried: wait for the retry instead. */
			t->after = retried_as;
			continue;
		}
		task_admit(t);
	}
	free(h.ids);
}

/* DESIGN §11: what a retry may follow; a user's cancel and a timeout never are. */
static int retriable(enum task_state state, const char *reason)
{
	if (reason == NULL)
		return 0;
	if (state == TASK_FAILED)
		return strcmp(reason, "exception") == 0;
	/* A SIGTERM interrupts a task as a SIGKILL does: both are retried (§7 rule 11). */
	return state == TASK_CANCELED && (strcmp(reason, "worker-missing") == 0 ||
	    strcmp(reason, "daemon-restarted") == 0 || strcmp(reason, "daemon-stopped") == 0);
}

/* A new attempt of t, ready to be stored; NULL when out of memory. */
static struct task *task_retry_of(const struct task *t)
{
	struct task *r = calloc(1, sizeof *r);

	if (r == NULL || (r->res = calloc(t->nres + 1, sizeof *r->res)) == NULL) {
		free(r);
		return NULL;
	}
	r->type = strdup(t->type);
	r->name = strdup(t->name);
	r->args = cJSON_Duplicate(t->args, 1);
	for (size_t i = 0; i < t->nres; i++) {
		r->res[i].name = strdup(t->res[i].name);
		r->res[i].mode = t->res[i].mode;
		r->nres++;
	}
	r->timeout_ms = t->timeout_ms;
	r->schedule = t->schedule ? strdup(t->schedule) : NULL;
	r->retry_of = t->id;
	r->retries = t->retries - 1;
	r->not_before = time_now_ms() + RETRY_BACKOFF_MS;
	r->state = TASK_WAITING;
	r->created_at = time_now_ms();
	r->progress_total = -1;
	return r;
}

/*
 * Records t's end and, when it is retried, the retry, its dependents'
 * move to the retry and its schedule's, all in one transaction: a crash
 * keeps all of them or none (item 9). Returns the retry, stored but not
 * yet in memory, or NULL.
 */
static struct task *task_record_end(const struct task *t, enum task_state state,
    const cJSON *result, const char *reason, const char *message)
{
	struct task *retry = NULL;
	cJSON *error = NULL;
	int64_t id;

	if (reason != NULL) {
		error = cJSON_CreateObject();
		cJSON_AddStringToObject(error, "reason", reason);
		cJSON_AddStringToObject(error, "message", message ? message : reason);
	}
	if (t->retries > 0 && retriable(state, reason) && (retry = task_retry_of(t)) == NULL)
		log_error("task %lld: out of memory retrying it", (long long)t->id);
	if (store_begin(D->store) < 0 || store_finish_task(D->store, t->id, state,
	    time_now_ms(), result, error) < 0)
		goto fail;
	if (retry != NULL) {
		if ((id = store_insert_task(D->store, retry)) < 0 ||
		    store_move_dependents(D->store, t->id, id) < 0 ||
		    sched_task_retried(t->id, id) < 0)
			goto fail;
		retry->id = id;
	}
	if (store_commit(D->store) < 0)
		goto fail;
	cJSON_Delete(error);
	return retry;
fail:
	/* The in-memory end still happens: the next start recovers the row. */
	log_error("task %lld: recording its end: %s", (long long)t->id, store_errmsg(D->store));
	store_rollback(D->store);
	cJSON_Delete(error);
	task_free(retry);
	return NULL;
}

/* A task already in the store joins the active ones. */
static void task_adopt(struct task *t)
{
	task_insert(t);
	held_count++;
	tasks_publish(t, "state");
	task_admit(t);
}

static void ended_push(int64_t id, struct task *retry)
{
	if (nended == ended_cap) {
		size_t cap = ended_cap ? ended_cap * 2 : 16;
		struct ended *grown = realloc(ended, cap * sizeof *grown);
		if (grown == NULL) {
			/* Its dependents and waiters are found again at the next start. */
			log_error("task %lld: out of memory noting its end", (long long)id);
			task_free(retry);
			return;
		}
		ended = grown;
		ended_cap = cap;
	}
	ended[nended].id = id;
	ended[nended].retry = retry;
	nended++;
}

/* In the order the tasks ended; admitting one may end more, which join the list. */
void tasks_settle(void)
{
	for (size_t i = 0; i < nended; i++) {
		struct ended e = ended[i];
		int64_t retry_id = e.retry ? e.retry->id : 0;

		if (e.retry != NULL) {
			log_info("task %lld: retrying as task %lld", (long long)e.id,
			    (long long)retry_id);
			task_adopt(e.retry);
		}
		admit_held(e.id, retry_id);
		waiters_check(e.id);
	}
	nended = 0;
}

void tasks_tick(void)
{
	tasks_settle();
	admit_held(0, 0);
	tasks_settle();
	tasks_dispatch();
}

/*
 * DESIGN §7 rule 5: what ran or was being canceled when depotd last
 * stopped ends now — as its pending cancel said (a user's cancel, a
 * timeout), else daemon-restarted — retried as any end is. Before the
 * waiting tasks are loaded, so that the retries are among them.
 */
int tasks_recover(void)
{
	int64_t *ids = NULL;
	size_t n = 0;

	if (store_interrupted(D->store, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct task *t = store_load_task(D->store, ids[i]), *retry;

		if (t == NULL)
			continue;
		if (t->state == TASK_CANCELING && t->cancel_reason != NULL)
			retry = task_record_end(t, t->cancel_final, NULL, t->cancel_reason,
			    t->cancel_message);
		else
			retry = task_record_end(t, TASK_CANCELED, NULL, "daemon-restarted",
			    "depotd restarted while the task ran");
		if (retry != NULL)
			log_info("task %lld: retrying as task %lld", (long long)t->id,
			    (long long)retry->id);
		task_free(retry);
		task_free(t);
	}
	free(ids);
	return (int)n;
}

int64_t task_submit(struct task *t, char *err, size_t errlen)
{
	return task_submit_with(t, NULL, NULL, err, errlen);
}

int64_t task_submit_with(struct task *t, int (*also)(int64_t id, void *ctx), void *ctx,
    char *err, size_t errlen)
{
	int64_t id;

	t->state = TASK_WAITING;
	t->created_at = time_now_ms();
	t->progress_total = -1;
	if (store_begin(D->store) < 0 || (id = store_insert_task(D->store, t)) < 0 ||
	    (also != NULL && also(id, ctx) < 0) || store_commit(D->store) < 0) {
		snprintf(err, errlen, "recording the task: %s", store_errmsg(D->store));
		store_rollback(D->store);
		task_free(t);
		return -1;
	}
	t->id = id;
	log_info("task %lld submitted: %s", (long long)id, t->name);
	task_adopt(t);
	tasks_dispatch();
	return id;
}

/* Adds a waiting task read back at start-up; tasks_admit_restored queues them. */
void task_restore_waiting(struct task *t)
{
	task_insert(t);
	held_count++;
}

void tasks_admit_restored(void)
{
	admit_held(0, 0);
	tasks_settle();
}

void task_log_path(int64_t id, char *out, size_t n)
{
	snprintf(out, n, "logs/%lld.log", (long long)id);
}

/* What a worker needs to run t; paths in it are relative to the data directory. */
static cJSON *task_assignment(const struct task *t, char *err, size_t errlen)
{
	cJSON *o = task_to_json(t);
	char path[64];

	task_log_path(t->id, path, sizeof path);
	cJSON_AddStringToObject(o, "log_path", path);
	cJSON_AddNumberToObject(o, "log_max", (double)D->cfg.log_max);
	if (strcmp(t->type, "exec") == 0)
		cJSON_AddNumberToObject(o, "umask", D->task_umask);
	if (repos_prepare_assignment(t, o, err, errlen) < 0 ||
	    snapshot_prepare_assignment(t, o, err, errlen) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static struct worker *idle_worker(void)
{
	struct worker *best = NULL;

	for (struct worker *w = D->workers; w; w = w->next)
		if (w->state == WORKER_ONLINE && w->task == 0 && w->poll != NULL &&
		    (best == NULL || w->poll_deadline_mono < best->poll_deadline_mono))
			best = w;
	return best;
}

static int task_start(struct task *t, struct worker *w, char *err, size_t errlen)
{
	int64_t now_mono = time_mono_ms();
	cJSON *assignment;

	t->state = TASK_RUNNING;
	snprintf(t->worker, sizeof t->worker, "%s", w->name);
	t->started_at = time_now_ms();
	t->started_mono = t->progress_mono = now_mono;
	/* Running state and reservations in one transaction (DESIGN §6). */
	if (store_begin(D->store) < 0 || store_update_task(D->store, t) < 0 ||
	    store_set_reservations(D->store, t) < 0 || store_commit(D->store) < 0) {
		log_error("task %lld: recording its start: %s", (long long)t->id,
		    store_errmsg(D->store));
		store_rollback(D->store);
		t->state = TASK_WAITING;
		t->worker[0] = '\0';
		t->started_at = 0;
		return -1;
	}
	if ((assignment = task_assignment(t, err, errlen)) == NULL)
		return -1;
	w->task = t->id;
	server_reply_ok(w->poll, assignment);
	w->poll = NULL;
	publish_lock(t, "grant");
	tasks_publish(t, "state");
	log_debug("task %lld started on %s", (long long)t->id, w->name);
	return 0;
}

void tasks_dispatch(void)
{
	struct worker *w;
	int64_t id;

	if (D->stopping)
		return;
	while ((w = idle_worker()) != NULL && (id = lockmgr_next_ready(D->locks)) != 0) {
		struct task *t = task_find(id);
		char err[1024] = "the database refused to record the task's start";

		if (t == NULL || lockmgr_grant(D->locks, id) < 0) {
			log_error("lock manager offered task %lld it cannot grant", (long long)id);
			lockmgr_release(D->locks, id);
			continue;
		}
		if (task_start(t, w, err, sizeof err) < 0)
			task_finish(t, TASK_FAILED, NULL, "exception", err);
	}
}

void task_finish(struct task *t, enum task_state state, cJSON *result,
    const char *reason, const char *message)
{
	int64_t id = t->id;
	struct task *retry;
	struct worker *w;
	int held;

	retry = task_record_end(t, state, result, reason, message);
	cJSON_Delete(result);
	if (!t->queued)
		held_count--;
	held = lockmgr_is_held(D->locks, id);
	lockmgr_release(D->locks, id);
	if (held == 1)
		publish_lock(t, "release");
	if (t->worker[0] && (w = worker_find(t->worker)) != NULL && w->task == id)
		w->task = 0;
	repos_task_ended(t);
	snapshot_task_ended(t, state == TASK_COMPLETED);
	log_info("task %lld %s%s%s", (long long)id, task_state_name(state),
	    reason ? ": " : "", reason ? reason : "");
	task_remove(t);
	task_free(t);
	publish_final(id);
	ended_push(id, retry);
}

void task_cancel(struct task *t, const char *reason, const char *message,
    enum task_state final)
{
	switch (t->state) {
	case TASK_WAITING:
		task_finish(t, final, NULL, reason, message);
		return;
	case TASK_RUNNING:
		t->state = TASK_CANCELING;
		free(t->cancel_reason);
		free(t->cancel_message);
		t->cancel_reason = strdup(reason);
		t->cancel_message = strdup(message);
		t->cancel_final = final;
		t->canceling_mono = time_mono_ms();
		/* Stored with the state, so that a crash before the worker answers ends it the same way. */
		if (store_update_task(D->store, t) < 0)
			log_warn("task %lld: recording canceling: %s", (long long)t->id,
			    store_errmsg(D->store));
		tasks_publish(t, "state");
		return;
	default:
		return;	/* already canceling: the first reason stands */
	}
}

static int replace_string(char **field, const char *value)
{
	if ((*field == NULL) != (value == NULL) ||
	    (value != NULL && strcmp(*field, value) != 0)) {
		free(*field);
		*field = value ? strdup(value) : NULL;
		return 1;
	}
	return 0;
}

void task_set_progress(struct task *t, const cJSON *progress)
{
	const cJSON *done = cJSON_GetObjectItemCaseSensitive(progress, "done");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(progress, "total");
	int changed = 0;

	if (cJSON_IsNumber(done) && (int64_t)done->valuedouble != t->progress_done) {
		t->progress_done = (int64_t)done->valuedouble;
		changed = 1;
	}
	if (cJSON_IsNumber(total) && (int64_t)total->valuedouble != t->progress_total) {
		t->progress_total = (int64_t)total->valuedouble;
		changed = 1;
	}
	changed |= replace_string(&t->progress_unit, cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(progress, "unit")));
	changed |= replace_string(&t->progress_message, cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(progress, "message")));
	if (!changed)
		return;
	t->progress_mono = time_mono_ms();
	t->stalled = 0;
	if (store_update_task(D->store, t) < 0)
		log_warn("task %lld: recording progress: %s", (long long)t->id,
		    store_errmsg(D->store));
	tasks_publish(t, "progress");
}
