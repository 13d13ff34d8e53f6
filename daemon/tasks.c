/* tasks.c: the life of a task — submit, dispatch to a worker, cancel, finish — kept in memory and in the store. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * What follows from a task's end — its retry joining the active tasks,
 * its dependents admitted, its waiters answered — waits here for
 * tasks_tick, so that ending a task never ends or adds another under a
 * caller that is looping over them.
 */
struct ended {
	int64_t id;
	struct task *retry;	/* stored, not yet adopted; or NULL */
	int64_t *dependents;	/* the ended task's, taken over */
	size_t ndependents;
};
static struct ended *ended;
static size_t nended, ended_cap;

/*
 * Ended tasks whose processes survived the fence (fence.c): out of the
 * table, still holding their reservations until fence_gone says so.
 */
static struct task **fenced;
static size_t nfenced, fenced_cap;
static int64_t fenced_checked_mono;

/* Held tasks whose back-off has not passed: a min-heap by time, then id. */
struct backoff_entry {
	int64_t at, id;
};
static struct backoff_entry *backoff;
static size_t nbackoff, backoff_cap;

/*
 * Every change of an active task's state goes through here. An illegal
 * move is a bug that would corrupt what the database and the lock manager
 * say: depotd stops at once, and the next start recovers as after a crash.
 */
static void task_move(struct task *t, enum task_state to)
{
	if (!task_state_move_legal(t->state, to)) {
		log_error("task %lld: illegal move from %s to %s", (long long)t->id,
		    task_state_name(t->state), task_state_name(to));
		abort();
	}
	t->state = to;
}

/* The tasks read back at start, in the order read: id order (store_load_waiting). */
static struct task **restored;
static size_t nrestored, restored_cap;

/* Tasks whose assignment was lost, oldest first (task_requeue). */
static int64_t *requeued;
static size_t nrequeued, requeued_cap;

/*
 * Ids are handed out in sequence, so the id itself spreads them evenly,
 * and neighbours, read back at start one after another, share cache lines.
 */
static size_t task_slot(int64_t id)
{
	return (size_t)((uint64_t)id % D->task_hash_size);
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

/*
 * Resource names shared by the tasks that reserve them, counted: 100,000
 * waiting tasks on one resource hold its name once (task_shed).
 */
struct interned {
	struct interned *next;
	size_t refs;
	char s[];
};
static struct interned **interned;
static size_t interned_size, ninterned;

static size_t intern_slot(const char *s, size_t size)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % size);
}

const char *task_intern(const char *s)
{
	struct interned *e;
	size_t len = strlen(s);

	if (ninterned >= interned_size) {
		size_t size = interned_size ? interned_size * 2 : 64;
		struct interned **grown = calloc(size, sizeof *grown);

		if (grown == NULL && interned_size == 0)
			return NULL;
		if (grown != NULL) {
			for (size_t i = 0; i < interned_size; i++) {
				struct interned *next;
				for (e = interned[i]; e; e = next) {
					size_t slot = intern_slot(e->s, size);
					next = e->next;
					e->next = grown[slot];
					grown[slot] = e;
				}
			}
			free(interned);
			interned = grown;
			interned_size = size;
		}
	}
	for (e = interned[intern_slot(s, interned_size)]; e; e = e->next) {
		if (strcmp(e->s, s) == 0) {
			e->refs++;
			return e->s;
		}
	}
	if ((e = malloc(sizeof *e + len + 1)) == NULL)
		return NULL;
	memcpy(e->s, s, len + 1);
	e->refs = 1;
	size_t slot = intern_slot(s, interned_size);
	e->next = interned[slot];
	interned[slot] = e;
	ninterned++;
	return e->s;
}

void task_intern_release(const char *s)
{
	struct interned **p = &interned[intern_slot(s, interned_size)];

	for (; *p; p = &(*p)->next) {
		struct interned *e = *p;

		if (e->s != s)
			continue;
		if (--e->refs == 0) {
			*p = e->next;
			ninterned--;
			free(e);
		}
		return;
	}
}

struct task *task_new(void)
{
	struct task *t = calloc(1, sizeof *t);

	if (t != NULL && (t->d = calloc(1, sizeof *t->d)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static void detail_free(struct task_detail *d)
{
	if (d == NULL)
		return;
	free(d->name);
	cJSON_Delete(d->args);
	free(d->args_text);
	free(d->schedule);
	free(d->progress_unit);
	free(d->progress_message);
	free(d->cancel_reason);
	free(d->cancel_message);
	cJSON_Delete(d->error);
	cJSON_Delete(d->result);
	free(d);
}

void task_free(struct task *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nres; i++) {
		if (t->res_interned)
			task_intern_release(t->res[i].name);
		else
			free(t->res[i].name);
	}
	free(t->res);
	if (!t->type_static)
		free((char *)t->type);
	free(t->dependents);
	detail_free(t->d);
	free(t);
}

void task_shed(struct task *t)
{
	const char **names;
	size_t i;

	if (t->state != TASK_WAITING)
		return;
	detail_free(t->d);
	t->d = NULL;
	if (!t->type_static && t->tt != NULL) {
		free((char *)t->type);
		t->type = task_type_name(t->tt->id);
		t->type_static = 1;
	}
	if (t->res_interned)
		return;
	/* All or none, so task_free knows how to let them go. */
	if ((names = malloc((t->nres + 1) * sizeof *names)) == NULL)
		return;
	for (i = 0; i < t->nres; i++)
		if ((names[i] = task_intern(t->res[i].name)) == NULL)
			break;
	if (i < t->nres) {
		while (i-- > 0)
			task_intern_release(names[i]);
	} else {
		for (i = 0; i < t->nres; i++) {
			free(t->res[i].name);
			t->res[i].name = (char *)names[i];
		}
		t->res_interned = 1;
	}
	free(names);
}

struct task_detail *task_detail(struct task *t)
{
	struct task *row;

	if (t->d != NULL)
		return t->d;
	if ((row = store_load_task(D->store, t->id)) == NULL)
		return NULL;
	t->d = row->d;
	row->d = NULL;
	task_free(row);
	return t->d;
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
	for (size_t i = 0; i < nended; i++) {
		task_free(ended[i].retry);
		free(ended[i].dependents);
	}
	free(ended);
	ended = NULL;
	nended = ended_cap = 0;
	free(requeued);
	requeued = NULL;
	nrequeued = requeued_cap = 0;
	free(backoff);
	backoff = NULL;
	nbackoff = backoff_cap = 0;
	for (size_t i = 0; i < nfenced; i++)
		task_free(fenced[i]);
	free(fenced);
	fenced = NULL;
	nfenced = fenced_cap = 0;
	free(D->task_hash);
	D->task_hash = NULL;
	D->task_hash_size = D->ntasks = 0;
	free(restored);
	restored = NULL;
	nrestored = restored_cap = 0;
	/* Each task let its names go: what is left was nobody's. */
	for (size_t i = 0; i < interned_size; i++) {
		struct interned *e = interned[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(interned);
	interned = NULL;
	interned_size = ninterned = 0;
}

cJSON *task_resources_json(const struct task *t)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < t->nres; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "name", t->res[i].name);
		cJSON_AddStringToObject(r, "mode", lock_mode_name(t->res[i].mode));
		cJSON_AddItemToArray(arr, r);
	}
	return arr;
}

cJSON *task_progress_json(const struct task_detail *d)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "done", (double)d->progress_done);
	if (d->progress_total >= 0)
		cJSON_AddNumberToObject(p, "total", (double)d->progress_total);
	else
		cJSON_AddNullToObject(p, "total");
	json_add_string_or_null(p, "unit", d->progress_unit);
	json_add_string_or_null(p, "message", d->progress_message);
	return p;
}

/* Which of a task's args task_json gives. */
enum args_shown {
	ARGS_NO_ENV,	/* without an exec task's env, which is most of a task's bytes and may
			 * hold what env_deny did not name */
	ARGS_ALL,
	ARGS_STORED,	/* all, as the row's text (d->args_text): a raw item, for printing only */
};

cJSON *task_env(const struct task_detail *d)
{
	const char *text = d->env_id > 0 ? store_env_text(D->store, d->env_id) : NULL;

	return text != NULL ? cJSON_Parse(text) : NULL;
}

static cJSON *args_json(const struct task_detail *d, enum args_shown shown)
{
	const cJSON *args = d->args, *c;
	cJSON *o, *env;

	if (shown == ARGS_STORED && d->args_text != NULL)
		return cJSON_CreateRaw(d->args_text);
	if (args == NULL)
		return cJSON_CreateNull();
	/* All of it: with the environment its own row holds, where it was (store_insert_task). */
	if (shown == ARGS_ALL && cJSON_IsObject(args) && (env = task_env(d)) != NULL) {
		if ((o = cJSON_Duplicate(args, 1)) == NULL || !cJSON_AddItemToObject(o, "env", env)) {
			cJSON_Delete(env);
			return o != NULL ? o : cJSON_CreateNull();
		}
		return o;
	}
	if (shown != ARGS_NO_ENV || !cJSON_IsObject(args))
		return cJSON_Duplicate(args, 1);
	o = cJSON_CreateObject();
	cJSON_ArrayForEach(c, args)
		if (strcmp(c->string, "env") != 0)
			cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, 1));
	return o;
}

static cJSON *task_json(const struct task *t, const struct task_detail *d, enum args_shown shown)
{
	static const struct task_detail none = { .progress_total = -1 };
	cJSON *o = cJSON_CreateObject();
	struct task *row = NULL;

	if (t->d != NULL)
		d = t->d;
	/* A waiting task's detail is read for the moment, not kept: lists and events come and go. */
	if (d == NULL && (row = store_load_task(D->store, t->id)) != NULL)
		d = row->d;
	if (d == NULL)
		d = &none;
	cJSON_AddNumberToObject(o, "id", (double)t->id);
	cJSON_AddStringToObject(o, "type", t->type);
	json_add_string_or_null(o, "name", d->name);
	cJSON_AddStringToObject(o, "state", task_state_name(t->state));
	cJSON_AddItemToObject(o, "args", args_json(d, shown));
	cJSON_AddItemToObject(o, "resources", task_resources_json(t));
	json_add_string_or_null(o, "worker", d->worker[0] ? d->worker : NULL);
	json_add_time(o, "created_at", t->created_at);
	json_add_time(o, "started_at", d->started_at);
	json_add_time(o, "finished_at", d->finished_at);
	if (d->timeout_ms > 0)
		cJSON_AddNumberToObject(o, "timeout", (double)d->timeout_ms);
	else
		cJSON_AddNullToObject(o, "timeout");
	cJSON_AddItemToObject(o, "progress", task_progress_json(d));
	cJSON_AddBoolToObject(o, "stalled", d->stalled);
	cJSON_AddItemToObject(o, "error", d->error ? cJSON_Duplicate(d->error, 1) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "result", d->result ? cJSON_Duplicate(d->result, 1) : cJSON_CreateNull());
	json_add_string_or_null(o, "schedule", d->schedule);
	json_add_id(o, "retry_of", d->retry_of);
	json_add_id(o, "restart_of", d->restart_of);
	cJSON_AddNumberToObject(o, "priority", t->priority);
	json_add_id(o, "after", t->after);
	cJSON_AddNumberToObject(o, "retries", t->retries);
	json_add_time(o, "not_before", t->not_before);
	task_free(row);
	return o;
}

cJSON *task_to_json(const struct task *t)
{
	return task_json(t, NULL, ARGS_ALL);
}

cJSON *task_summary_json(const struct task *t, const struct task_detail *d)
{
	return task_json(t, d, ARGS_NO_ENV);
}

cJSON *task_json_by_id(int64_t id)
{
	struct task *t = task_find(id);

	return t ? task_to_json(t) : store_task_json(D->store, id);
}

void tasks_publish(const struct task *t, const char *event)
{
	cJSON *body;

	if (!events_wanted())
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "event", event);
	cJSON_AddItemToObject(body, "task", task_summary_json(t, NULL));
	events_publish("task", body);
}

static void publish_final(int64_t id)
{
	struct task *t;
	cJSON *body, *task;

	if (!events_wanted())
		return;
	t = store_load_task(D->store, id);
	body = cJSON_CreateObject();
	task = t ? task_summary_json(t, NULL) : NULL;
	task_free(t);
	cJSON_AddStringToObject(body, "event", "state");
	cJSON_AddItemToObject(body, "task", task ? task : cJSON_CreateNull());
	events_publish("task", body);
}

static void publish_lock(const struct task *t, const char *event)
{
	cJSON *body, *res;

	if (!events_wanted())
		return;
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "event", event);
	cJSON_AddNumberToObject(body, "task", (double)t->id);
	res = cJSON_AddArrayToObject(body, "resources");
	cJSON_AddItemToArray(res, cJSON_CreateString("depot"));
	for (size_t i = 0; i < t->nres; i++)
		cJSON_AddItemToArray(res, cJSON_CreateString(t->res[i].name));
	events_publish("lock", body);
}

/* Keeps t (ended, out of the table) and its granted reservations in fenced[]. */
static int fence_hold(struct task *t)
{
	if (nfenced == fenced_cap) {
		size_t cap = fenced_cap ? fenced_cap * 2 : 4;
		struct task **grown = realloc(fenced, cap * sizeof *grown);

		if (grown == NULL)
			return -1;
		fenced = grown;
		fenced_cap = cap;
	}
	fenced[nfenced++] = t;
	return 0;
}

/* Releases the reservations of fenced tasks whose processes are now gone; twice a second at most. */
static void fenced_check(void)
{
	int64_t now = time_mono_ms();

	if (nfenced == 0 || now - fenced_checked_mono < 500)
		return;
	fenced_checked_mono = now;
	for (size_t i = 0; i < nfenced;) {
		struct task *t = fenced[i];

		if (!fence_gone(t)) {
			i++;
			continue;
		}
		log_info("task %lld: its processes are gone; its reservations are released",
		    (long long)t->id);
		lockmgr_release(D->locks, t->id);
		publish_lock(t, "release");
		task_free(t);
		fenced[i] = fenced[--nfenced];
	}
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
	rc = lockmgr_enqueue(D->locks, t->id, t->priority, reqs, t->nres + 1);
	free(reqs);
	return rc;
}

/* Active tasks not yet in the lock manager's queues (held by --after or a back-off). */
static size_t held_count;

/* A retry waits this long: long enough for a crashed worker to be replaced. */
#define RETRY_BACKOFF_MS 1000

static int task_admit(struct task *t);

static int held_oom(struct task *t)
{
	task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION), "out of memory holding the task");
	return -1;
}

/* t waits for dep to end: dep's end admits it (tasks_settle). 0, or -1 when t ended. */
static int depend_on(struct task *dep, struct task *t)
{
	if (t->held && t->after == dep->id)
		return 0;
	/* Full when its count is 0 or a power of two from 4 on: the room doubles. */
	if (dep->ndependents == 0 || (dep->ndependents >= 4 &&
	    (dep->ndependents & (dep->ndependents - 1)) == 0)) {
		size_t cap = dep->ndependents ? (size_t)dep->ndependents * 2 : 4;
		int64_t *grown = realloc(dep->dependents, cap * sizeof *grown);

		if (grown == NULL)
			return held_oom(t);
		dep->dependents = grown;
	}
	dep->dependents[dep->ndependents++] = t->id;
	t->held = 1;
	return 0;
}

static int backoff_before(const struct backoff_entry *a, const struct backoff_entry *b)
{
	return a->at < b->at || (a->at == b->at && a->id < b->id);
}

/* t waits for its not_before: tasks_tick admits it then. 0, or -1 when t ended. */
static int backoff_push(struct task *t)
{
	size_t i;

	if (t->in_backoff)
		return 0;
	if (nbackoff == backoff_cap) {
		size_t cap = backoff_cap ? backoff_cap * 2 : 16;
		struct backoff_entry *grown = realloc(backoff, cap * sizeof *grown);

		if (grown == NULL)
			return held_oom(t);
		backoff = grown;
		backoff_cap = cap;
	}
	for (i = nbackoff++; i > 0; i = (i - 1) / 2) {
		struct backoff_entry *parent = &backoff[(i - 1) / 2];

		if (!backoff_before(&(struct backoff_entry){ t->not_before, t->id }, parent))
			break;
		backoff[i] = *parent;
	}
	backoff[i] = (struct backoff_entry){ t->not_before, t->id };
	t->in_backoff = 1;
	return 0;
}

static struct backoff_entry backoff_pop(void)
{
	struct backoff_entry top = backoff[0], last = backoff[--nbackoff];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= nbackoff)
			break;
		if (c + 1 < nbackoff && backoff_before(&backoff[c + 1], &backoff[c]))
			c++;
		if (!backoff_before(&backoff[c], &last))
			break;
		backoff[i] = backoff[c];
		i = c;
	}
	if (nbackoff > 0)
		backoff[i] = last;
	return top;
}

/* Admits the held tasks whose back-off has passed, earliest first. */
static void admit_due(void)
{
	int64_t now = time_now_ms();

	while (nbackoff > 0 && backoff[0].at <= now) {
		struct task *t = task_find(backoff_pop().id);

		/* Entries of tasks ended since are dropped here. */
		if (t != NULL && t->in_backoff) {
			t->in_backoff = 0;
			task_admit(t);
		}
	}
}

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
			return depend_on(dep, t);
		dep = store_load_task(D->store, t->after);
		s = dep ? dep->state : TASK_CANCELED;
		task_free(dep);
		if (s != TASK_COMPLETED) {
			snprintf(msg, sizeof msg, "task %lld, which this one runs after, ended %s",
			    (long long)t->after, task_state_name(s));
			task_finish(t, TASK_CANCELED, NULL,
			    task_reason_name(REASON_DEPENDENCY_FAILED), msg);
			return -1;
		}
	}
	if (t->not_before > time_now_ms())
		return backoff_push(t);
	if (task_enqueue_locks(t) < 0) {
		task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION),
		    "out of memory queueing reservations");
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

/*
 * At start: admits every task read back, in id order so FIFO holds; those
 * still held join the indexes. Admitting one may end it (its dependency
 * failed), never another: what follows from an end waits for
 * tasks_settle, so the pointers after it stay good.
 */
static void admit_all(void)
{
	for (size_t i = 0; i < nrestored; i++)
		if (!restored[i]->queued)
			task_admit(restored[i]);
	free(restored);
	restored = NULL;
	nrestored = restored_cap = 0;
}

/*
 * The held tasks that waited for task e->id: admitted in id order, or,
 * when it is being retried, waiting for the retry instead.
 */
static void admit_dependents(const struct ended *e)
{
	int64_t retry_id = e->retry ? e->retry->id : 0;

	if (e->ndependents > 1)
		qsort(e->dependents, e->ndependents, sizeof *e->dependents, cmp_id);
	for (size_t i = 0; i < e->ndependents; i++) {
		struct task *t = task_find(e->dependents[i]);

		if (t == NULL || t->queued || !t->held || t->after != e->id)
			continue;
		t->held = 0;
		if (retry_id != 0)
			t->after = retry_id;
		task_admit(t);
	}
}

/* A new attempt of t, ready to be stored; NULL when out of memory. */
static struct task *task_retry_of(const struct task *t)
{
	struct task *r;

	/* Its detail is read back first (task_finish): without it there is nothing to repeat. */
	if (t->d == NULL || (r = task_new()) == NULL)
		return NULL;
	if ((r->res = calloc(t->nres + 1, sizeof *r->res)) == NULL) {
		task_free(r);
		return NULL;
	}
	r->type = strdup(t->type);
	r->tt = t->tt;
	r->d->name = strdup(t->d->name);
	r->d->args = cJSON_Duplicate(t->d->args, 1);
	r->d->env_id = t->d->env_id;
	for (size_t i = 0; i < t->nres; i++) {
		r->res[i].name = strdup(t->res[i].name);
		r->res[i].mode = t->res[i].mode;
		r->nres++;
	}
	r->d->timeout_ms = t->d->timeout_ms;
	r->priority = t->priority;
	r->d->schedule = t->d->schedule ? strdup(t->d->schedule) : NULL;
	r->d->retry_of = t->id;
	r->retries = t->retries - 1;
	r->not_before = time_now_ms() + RETRY_BACKOFF_MS;
	r->state = TASK_WAITING;
	r->created_at = time_now_ms();
	r->d->progress_total = -1;
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
	cJSON *error = NULL, *progress = NULL;
	int64_t id;

	if (!task_state_final(state) || !task_state_move_legal(t->state, state)) {
		log_error("task %lld: illegal end from %s as %s", (long long)t->id,
		    task_state_name(t->state), task_state_name(state));
		abort();
	}
	if (reason != NULL) {
		error = cJSON_CreateObject();
		cJSON_AddStringToObject(error, "reason", reason);
		cJSON_AddStringToObject(error, "message", message ? message : reason);
	}
	if (t->retries > 0 && task_retriable(state, reason) && (retry = task_retry_of(t)) == NULL)
		log_error("task %lld: %s", (long long)t->id, t->d ? "out of memory retrying it" :
		    "not retried: its record could not be read back");
	/* A running task's progress as memory has it: a done's last one is stored only here. */
	progress = t->d != NULL ? task_progress_json(t->d) : NULL;
	if (store_begin(D->store) < 0 || store_finish_task(D->store, t->id, state,
	    time_now_ms(), result, error, progress) < 0)
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
	cJSON_Delete(progress);
	return retry;
fail:
	/* The in-memory end still happens: the next start recovers the row. */
	log_error("task %lld: recording its end: %s", (long long)t->id, store_errmsg(D->store));
	store_rollback(D->store);
	cJSON_Delete(error);
	cJSON_Delete(progress);
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

/* Takes retry and t's dependents over; t is about to be freed. */
static void ended_push(struct task *t, struct task *retry)
{
	if (nended == ended_cap) {
		size_t cap = ended_cap ? ended_cap * 2 : 16;
		struct ended *grown = realloc(ended, cap * sizeof *grown);
		if (grown == NULL) {
			/* Its dependents and waiters are found again at the next start. */
			log_error("task %lld: out of memory noting its end", (long long)t->id);
			task_free(retry);
			return;
		}
		ended = grown;
		ended_cap = cap;
	}
	ended[nended] = (struct ended){ t->id, retry, t->dependents, t->ndependents };
	t->dependents = NULL;
	t->ndependents = 0;
	nended++;
}

/* In the order the tasks ended; admitting one may end more, which join the list. */
void tasks_settle(void)
{
	for (size_t i = 0; i < nended; i++) {
		struct ended e = ended[i];

		if (e.retry != NULL) {
			int64_t id = e.retry->id;
			struct task *r;

			log_info("task %lld: retrying as task %lld", (long long)e.id, (long long)id);
			task_adopt(e.retry);
			if ((r = task_find(id)) != NULL)
				task_shed(r);
		}
		admit_dependents(&e);
		free(e.dependents);
		waiters_check(e.id);
	}
	nended = 0;
}

void tasks_tick(void)
{
	fenced_check();
	tasks_settle();
	admit_due();
	tasks_settle();
	tasks_dispatch();
}

/*
 * What an interrupted task ends as: what its pending cancel said (a user's
 * cancel, a timeout: never retried), else canceled with reason.
 */
static void interrupted_end(const struct task *t, const char *reason, const char *message,
    enum task_state *state, const char **why, const char **msg)
{
	if (t->state == TASK_CANCELING && t->d->cancel_reason != NULL) {
		*state = t->d->cancel_final;
		*why = t->d->cancel_reason;
		*msg = t->d->cancel_message;
	} else {
		*state = TASK_CANCELED;
		*why = reason;
		*msg = message;
	}
}

void task_end_interrupted(struct task *t, const char *reason, const char *message)
{
	enum task_state state;
	const char *why, *msg;

	interrupted_end(t, reason, message, &state, &why, &msg);
	task_finish(t, state, NULL, why, msg);
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
		enum task_state state;
		const char *why, *msg;

		if (t == NULL)
			continue;
		/*
		 * A hand-started worker outlives a crashed depotd, and the command
		 * it ran may still run: ended before any reservation is given again,
		 * or its reservations held again until it is (DESIGN §7 rule 7).
		 */
		if (store_load_task_processes(D->store, t) < 0)
			log_warn("task %lld: reading its processes: %s", (long long)t->id,
			    store_errmsg(D->store));
		fence_task(t);
		if (t->d->fence_pending && (task_enqueue_locks(t) < 0 ||
		    lockmgr_grant(D->locks, t->id) < 0 || fence_hold(t) < 0)) {
			log_error("task %lld: cannot hold its reservations while its processes "
			    "survive", (long long)t->id);
			lockmgr_release(D->locks, t->id);
			t->d->fence_pending = 0;
		}
		interrupted_end(t, task_reason_name(REASON_DAEMON_RESTARTED),
		    "depotd restarted while the task ran", &state, &why, &msg);
		retry = task_record_end(t, state, NULL, why, msg);
		if (retry != NULL)
			log_info("task %lld: retrying as task %lld", (long long)t->id,
			    (long long)retry->id);
		task_free(retry);
		if (!t->d->fence_pending)
			task_free(t);
	}
	free(ids);
	return (int)n;
}

/* What a task is when it is first stored. */
static void task_mark_new(struct task *t, int64_t now)
{
	t->state = TASK_WAITING;
	t->created_at = now;
	t->d->progress_total = -1;
}

int tasks_submit_batch(struct task **ts, size_t n, int64_t *ids, char *err, size_t errlen)
{
	int64_t now = time_now_ms();
	size_t i;

	if (store_begin(D->store) < 0)
		goto failed;
	for (i = 0; i < n; i++) {
		task_mark_new(ts[i], now);
		if ((ids[i] = store_insert_task(D->store, ts[i])) < 0)
			goto failed;
	}
	if (store_commit(D->store) < 0)
		goto failed;
	/* Queued in id order, so each resource's queue holds them as submitted. */
	for (i = 0; i < n; i++) {
		ts[i]->id = ids[i];
		task_adopt(ts[i]);
	}
	log_info("tasks %lld to %lld submitted in one batch", (long long)ids[0],
	    (long long)ids[n - 1]);
	tasks_dispatch();
	/*
	 * Those not started at once wait without their detail, as a single
	 * submission's do. None refers to the batch's env, which goes with the
	 * request: storing them took it out (store_insert_task).
	 */
	for (i = 0; i < n; i++)
		if ((ts[i] = task_find(ids[i])) != NULL)
			task_shed(ts[i]);
	return 0;
failed:
	snprintf(err, errlen, "recording the tasks: %s", store_errmsg(D->store));
	store_rollback(D->store);
	for (i = 0; i < n; i++)
		task_free(ts[i]);
	return -1;
}

static int64_t submit_one(struct task *t, int (*also)(int64_t id, void *ctx), void *ctx,
    void (*answer)(cJSON *task, void *ctx), char *err, size_t errlen);

int64_t task_submit(struct task *t, void (*answer)(cJSON *task, void *ctx), void *ctx,
    char *err, size_t errlen)
{
	return submit_one(t, NULL, ctx, answer, err, errlen);
}

int64_t task_submit_with(struct task *t, int (*also)(int64_t id, void *ctx), void *ctx,
    char *err, size_t errlen)
{
	return submit_one(t, also, ctx, NULL, err, errlen);
}

static int64_t submit_one(struct task *t, int (*also)(int64_t id, void *ctx), void *ctx,
    void (*answer)(cJSON *task, void *ctx), char *err, size_t errlen)
{
	int64_t id;

	task_mark_new(t, time_now_ms());
	if (store_begin(D->store) < 0 || (id = store_insert_task(D->store, t)) < 0 ||
	    (also != NULL && also(id, ctx) < 0) || store_commit(D->store) < 0) {
		snprintf(err, errlen, "recording the task: %s", store_errmsg(D->store));
		store_rollback(D->store);
		task_free(t);
		return -1;
	}
	t->id = id;
	log_info("task %lld submitted: %s", (long long)id, t->d->name);
	task_adopt(t);
	/*
	 * Stored, so the submitter hears now, before the task's start is
	 * recorded and handed to a worker: that is not the submitter's to
	 * wait for. Its detail is at hand, not read back from the row.
	 * Admitting it may have ended it already (its dependency failed).
	 */
	if (answer != NULL) {
		t = task_find(id);
		answer(t != NULL ? task_to_json(t) : store_task_json(D->store, id), ctx);
	}
	tasks_dispatch();
	/* Not started at once: it waits as 100,000 others may, without its detail. */
	if ((t = task_find(id)) != NULL)
		task_shed(t);
	return id;
}

/* Adds a waiting task read back at start-up; tasks_admit_restored queues them. */
void task_restore_waiting(struct task *t)
{
	if (nrestored == restored_cap) {
		size_t cap = restored_cap ? restored_cap * 2 : 1024;
		struct task **grown = realloc(restored, cap * sizeof *grown);

		if (grown == NULL) {
			/* Not lost: it waits in the database for the next start. */
			log_error("task %lld: out of memory reading it back", (long long)t->id);
			task_free(t);
			return;
		}
		restored = grown;
		restored_cap = cap;
	}
	restored[nrestored++] = t;
	task_shed(t);
	task_insert(t);
	held_count++;
}

void tasks_admit_restored(void)
{
	admit_all();
	tasks_settle();
}

void task_log_path(int64_t id, char *out, size_t n)
{
	snprintf(out, n, "logs/%lld.log", (long long)id);
}

/*
 * What worker w needs to run t; paths in it are relative to the data
 * directory. The environment (env_id) comes along only when it is not the
 * one w said it keeps (its next): a batch's tasks share one. Taken from
 * the worker, not counted here: one restarted, or whose assignment was
 * lost, says so itself.
 */
static cJSON *task_assignment(struct worker *w, const struct task *t, char *err, size_t errlen)
{
	cJSON *o = task_json(t, NULL, ARGS_STORED);
	char path[64];

	if (t->d->env_id > 0) {
		const char *env = w->env_kept != t->d->env_id ?
		    store_env_text(D->store, t->d->env_id) : NULL;

		cJSON_AddNumberToObject(o, "env_id", (double)t->d->env_id);
		cJSON_AddNumberToObject(o, "env_epoch", (double)D->env_epoch);
		if (env != NULL)
			cJSON_AddItemToObject(o, "env", cJSON_CreateRaw(env));
		else if (w->env_kept != t->d->env_id) {
			snprintf(err, errlen, "its environment (%lld) is not in the database",
			    (long long)t->d->env_id);
			cJSON_Delete(o);
			return NULL;
		}
	}

	task_log_path(t->id, path, sizeof path);
	cJSON_AddStringToObject(o, "log_path", path);
	cJSON_AddNumberToObject(o, "log_max", (double)D->cfg.log_max);
	if (tasktype_prepare(t, o, err, errlen) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void task_requeue(struct task *t)
{
	if (nrequeued == requeued_cap) {
		size_t cap = requeued_cap ? requeued_cap * 2 : 8;
		int64_t *grown = realloc(requeued, cap * sizeof *grown);

		if (grown == NULL) {
			task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION),
			    "out of memory putting back a task no worker acknowledged");
			return;
		}
		requeued = grown;
		requeued_cap = cap;
	}
	task_move(t, TASK_WAITING);
	t->d->worker[0] = '\0';
	t->d->started_at = 0;
	t->d->pgid = 0;
	t->d->pgid_start = 0;
	t->d->worker_pid = 0;
	t->d->worker_start = 0;
	t->requeued = 1;
	requeued[nrequeued++] = t->id;
	if (store_update_task(D->store, t) < 0)
		log_warn("task %lld: recording it waiting again: %s", (long long)t->id,
		    store_errmsg(D->store));
	tasks_publish(t, "state");
}

/* The oldest requeued task still waiting; entries of tasks ended since are dropped. */
static struct task *next_requeued(void)
{
	while (nrequeued > 0) {
		struct task *t = task_find(requeued[0]);

		memmove(requeued, requeued + 1, --nrequeued * sizeof *requeued);
		if (t != NULL && t->requeued && t->state == TASK_WAITING) {
			t->requeued = 0;
			return t;
		}
	}
	return NULL;
}

static struct worker *idle_worker(void)
{
	struct worker *best = NULL;

	for (struct worker *w = D->workers; w; w = w->next)
		if (w->state == WORKER_ONLINE && w->task == 0 && w->poll != NULL &&
		    !supervisor_retiring(w) &&
		    (best == NULL || w->poll_deadline_mono < best->poll_deadline_mono))
			best = w;
	return best;
}

int tasks_worker_idle(void)
{
	return idle_worker() != NULL;
}

/* regrant: t kept its reservations from a lost assignment, already announced. */
static int task_start(struct task *t, struct worker *w, int regrant, char *err, size_t errlen)
{
	int64_t now_mono = time_mono_ms();
	cJSON *assignment;

	/* What the worker runs is what was stored: read back now, if it waited without it. */
	if (task_detail(t) == NULL) {
		snprintf(err, errlen, "its record is gone from the database or cannot be read");
		return -1;
	}
	task_move(t, TASK_RUNNING);
	snprintf(t->d->worker, sizeof t->d->worker, "%s", w->name);
	t->d->started_at = time_now_ms();
	t->d->started_mono = t->d->progress_mono = t->d->progress_saved_mono = now_mono;
	t->d->worker_pid = w->pid;
	/*
	 * Read once for the worker, not at every task: its pid names the same
	 * process while it is online, and a pid reused by a stranger since
	 * would then not match (fence.c), which is the safe side.
	 */
	if (w->pid_start == 0 && fence_proc_start(w->pid, &w->pid_start) < 0)
		w->pid_start = 0;
	t->d->worker_start = w->pid_start;
	/* Running state, reservations and whose processes it may be in one transaction (DESIGN §6). */
	if (store_begin(D->store) < 0 || store_update_task(D->store, t) < 0 ||
	    store_set_reservations(D->store, t) < 0 ||
	    store_task_processes(D->store, t->id, t) < 0 || store_commit(D->store) < 0) {
		log_error("task %lld: recording its start: %s", (long long)t->id,
		    store_errmsg(D->store));
		store_rollback(D->store);
		task_move(t, TASK_WAITING);
		t->d->worker[0] = '\0';
		t->d->started_at = 0;
		return -1;
	}
	if ((assignment = task_assignment(w, t, err, errlen)) == NULL)
		return -1;
	worker_assign(w, t);
	server_reply_ok(w->poll, assignment);
	w->poll = NULL;
	if (!regrant) {
		publish_lock(t, "grant");
		metrics_task_started(t);
	}
	tasks_publish(t, "state");
	log_debug("task %lld started on %s", (long long)t->id, w->name);
	return 0;
}

void tasks_dispatch(void)
{
	struct worker *w;
	int64_t id;

	if (D->stopping || D->queue_paused)
		return;
	while ((w = idle_worker()) != NULL) {
		char err[1024] = "the database refused to record the task's start";
		struct task *t = next_requeued();
		int regrant = t != NULL;

		if (t == NULL) {
			if ((id = lockmgr_next_ready(D->locks)) == 0)
				break;
			if ((t = task_find(id)) == NULL || lockmgr_grant(D->locks, id) < 0) {
				log_error("lock manager offered task %lld it cannot grant",
				    (long long)id);
				lockmgr_release(D->locks, id);
				continue;
			}
		}
		if (task_start(t, w, regrant, err, sizeof err) < 0) {
			/* Said here too: with its row gone, the log is the one place it shows. */
			log_error("task %lld: not started: %s", (long long)t->id, err);
			task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION), err);
		}
	}
}

void task_finish(struct task *t, enum task_state state, cJSON *result,
    const char *reason, const char *message)
{
	int64_t id = t->id;
	struct task *retry;
	struct worker *w;
	int held, fenced_now;

	/* A waiting task lacks its detail: its retry repeats what it holds. */
	if (t->d == NULL && t->retries > 0 && task_detail(t) == NULL)
		log_warn("task %lld: reading it back: %s", (long long)id, store_errmsg(D->store));
	/* Ended by anything but its record's end (a stop, a restore): the record goes. */
	if (t->d != NULL && t->d->recording)
		recorder_drop(t);
	retry = task_record_end(t, state, result, reason, message);
	metrics_task_finished(t, state, result);
	cJSON_Delete(result);
	if (!t->queued)
		held_count--;
	held = lockmgr_is_held(D->locks, id);
	/* Survivors of the fence keep the reservations until they are gone (fenced_check). */
	fenced_now = t->d != NULL && t->d->fence_pending && held == 1 && fence_hold(t) == 0;
	if (!fenced_now) {
		lockmgr_release(D->locks, id);
		if (held == 1)
			publish_lock(t, "release");
	}
	if (t->d != NULL && t->d->worker[0] && (w = worker_find(t->d->worker)) != NULL &&
	    w->task == id)
		w->task = 0;
	tasktype_ended(t, state == TASK_COMPLETED);
	/*
	 * A worker that ends its task removes its temps; one killed or gone
	 * missing mid-task leaves them (partial downloads, gigabytes maybe),
	 * which only the next start's wipe of tmp/ would take.
	 */
	if (t->d != NULL && t->d->fenced)
		datadir_remove_task_temps(id);
	log_info("task %lld %s%s%s", (long long)id, task_state_name(state),
	    reason ? ": " : "", reason ? reason : "");
	task_remove(t);
	ended_push(t, retry);
	if (!fenced_now)
		task_free(t);
	publish_final(id);
}

void task_cancel(struct task *t, const char *reason, const char *message,
    enum task_state final)
{
	if (t->d != NULL && t->d->recording) {
		/* Its worker completed it; a cancel now comes after its end, as a late one always did. */
		log_info("task %lld: not canceled (%s): its worker completed it and depotd is "
		    "completing it", (long long)t->id, reason);
		return;
	}
	switch (t->state) {
	case TASK_WAITING:
		task_finish(t, final, NULL, reason, message);
		return;
	case TASK_RUNNING:
		task_move(t, TASK_CANCELING);
		free(t->d->cancel_reason);
		free(t->d->cancel_message);
		t->d->cancel_reason = strdup(reason);
		t->d->cancel_message = strdup(message);
		t->d->cancel_final = final;
		t->d->canceling_mono = time_mono_ms();
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

void task_take_progress(struct task *t, const cJSON *progress)
{
	const cJSON *done = cJSON_GetObjectItemCaseSensitive(progress, "done");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(progress, "total");
	int changed = 0;

	if (cJSON_IsNumber(done) && (int64_t)done->valuedouble != t->d->progress_done) {
		t->d->progress_done = (int64_t)done->valuedouble;
		changed = 1;
	}
	if (cJSON_IsNumber(total) && (int64_t)total->valuedouble != t->d->progress_total) {
		t->d->progress_total = (int64_t)total->valuedouble;
		changed = 1;
	}
	changed |= replace_string(&t->d->progress_unit, cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(progress, "unit")));
	changed |= replace_string(&t->d->progress_message, cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(progress, "message")));
	if (!changed)
		return;
	t->d->progress_mono = time_mono_ms();
	t->d->stalled = 0;
	t->d->progress_unsaved = 1;
	tasks_publish(t, "progress");
}

void task_store_progress(struct task *t)
{
	/* A failed write leaves it unsaved, tried again at the next heartbeat. */
	t->d->progress_saved_mono = time_mono_ms();
	if (store_task_progress(D->store, t) < 0) {
		log_warn("task %lld: recording progress: %s", (long long)t->id,
		    store_errmsg(D->store));
		return;
	}
	t->d->progress_unsaved = 0;
}

void task_set_progress(struct task *t, const cJSON *progress)
{
	task_take_progress(t, progress);
	/*
	 * The row follows memory a heartbeat interval behind at most: only a
	 * restart reads it while the task runs, and ends it anyway. So the
	 * heartbeat that reports a command's process group, right after the
	 * start row was written, writes no progress of its own (issue 14).
	 */
	if (t->d->progress_unsaved &&
	    time_mono_ms() - t->d->progress_saved_mono >= D->cfg.heartbeat_interval_ms)
		task_store_progress(t);
}
