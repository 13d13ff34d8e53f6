/*
 * model.c: the console's picture of the daemon. Events are applied as they
 * come; a full re-read replaces what they built whenever some may have been
 * lost (after connecting, on a burst that may have overflowed PUB's queue,
 * and every MODEL_RESYNC_MS as a safety net). A task's state only moves
 * forward (waiting, running, canceling, final), so an event older than the
 * re-read it arrives after can never undo it.
 */
#include "model.h"

#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *xstrdup(const char *s);
static const char *jstr(const cJSON *o, const char *key);
static int jint(const cJSON *o, const char *key, int64_t *v);
static int64_t jtime(const cJSON *o, const char *key);
static int state_rank(enum task_state s);
static struct model_task *task_parse(const cJSON *j);
static void task_free(struct model_task *t);
static size_t task_find(const struct model *m, int64_t id, int *found);
static int tasks_reserve(struct model *m, size_t n);
static int task_upsert(struct model *m, const cJSON *json, int track_locks);
static void tasks_prune(struct model *m);
static void tasks_clear(struct model *m);
static void worker_clear(struct model_worker *w);
static int worker_parse(struct model_worker *w, const cJSON *j);
static void workers_sort(struct model *m);
static int worker_upsert(struct model *m, const cJSON *j);
static void lock_clear(struct model_lock *l);
static void locks_clear(struct model *m);
static size_t lock_find(const struct model *m, const char *res, int *found);
static struct model_lock *lock_get(struct model *m, const char *res);
static void lock_drop_if_empty(struct model *m, const char *res);
static int holders_has(const struct model_holder *h, size_t n, int64_t task);
static int holders_remove(struct model_holder *h, size_t *n, int64_t task);
static int holders_add(struct model_holder **h, size_t *n, int64_t task, enum lock_mode mode);
static enum lock_mode task_res_mode(const struct model_task *t, const char *res);
static enum lock_mode mode_of(const char *mode);
static const char *task_res_at(const struct model_task *t, size_t k);
static void locks_task_waiting(struct model *m, const struct model_task *t);
static void locks_task_holding(struct model *m, const struct model_task *t);
static void locks_task_gone(struct model *m, int64_t id);
static void lock_event(struct model *m, const cJSON *ev, int grant);
static void sched_clear(struct model_schedule *s);
static void scheds_clear(struct model *m);
static char *sched_what(const cJSON *tpl);
static void holders_load(const cJSON *arr, struct model_holder **h, size_t *n);
static int workers_cmp(const void *a, const void *b);
static void status_clear(struct model_status *s);
static int rows_group(const struct model_task *t);
static int id_cmp(const void *a, const void *b);
static size_t count_distinct_waiters(const struct model *m, size_t total);
static int rows_queue_cmp(const struct model_task *x, const struct model_task *y);
static int rows_cmp(const void *a, const void *b, void *arg);
static int64_t rows_since(const struct model_task *t);
static int str_cmp(const char *a, const char *b);

static const char *const filter_names[] = {
	[MODEL_FILTER_ACTIVE] = TASK_FILTER_ACTIVE,
	[MODEL_FILTER_FAILED] = "failed",
	[MODEL_FILTER_ALL] = "all",
};

static char *xstrdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static const char *jstr(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int jint(const cJSON *o, const char *key, int64_t *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n))
		return -1;
	*v = (int64_t)n->valuedouble;
	return 0;
}

/* An RFC 3339 member as ms since the epoch; 0 when null, absent or unreadable. */
static int64_t jtime(const cJSON *o, const char *key)
{
	const char *s = jstr(o, key);
	int64_t ms;

	if (s == NULL || time_parse_rfc3339(s, &ms) < 0)
		return 0;
	return ms;
}

enum task_state model_state_parse(const char *s)
{
	enum task_state state;

	return task_state_parse(s, &state) == 0 ? state : MODEL_STATE_UNKNOWN;
}

static const char *const sort_names[] = {
	[MODEL_SORT_QUEUE] = "queue order",
	[MODEL_SORT_ID] = "id",
	[MODEL_SORT_STATE] = "state",
	[MODEL_SORT_TYPE] = "type",
	[MODEL_SORT_NAME] = "name",
	[MODEL_SORT_RES] = "resources",
	[MODEL_SORT_WORKER] = "worker",
	[MODEL_SORT_AGE] = "age",
	[MODEL_SORT_PROGRESS] = "progress",
};

const char *model_filter_name(enum model_filter f)
{
	return f < MODEL_FILTER_COUNT ? filter_names[f] : "?";
}

const char *model_sort_name(enum model_sort s)
{
	return s < MODEL_SORT_COUNT ? sort_names[s] : "?";
}

/* "active+5m" when the active filter keeps tasks that ended in the last 5 minutes. */
void model_filter_label(enum model_filter f, int64_t recent_ms, char *out, size_t n)
{
	char age[32];

	if (f != MODEL_FILTER_ACTIVE || recent_ms <= 0) {
		snprintf(out, n, "%s", model_filter_name(f));
		return;
	}
	model_fmt_age(recent_ms, age, sizeof age);
	/* "5m00" reads better as "5m". */
	if (strlen(age) > 3 && strcmp(age + strlen(age) - 3, "m00") == 0)
		age[strlen(age) - 2] = '\0';
	snprintf(out, n, "%s+%s", model_filter_name(f), age);
}

/* The active filter also keeps tasks that ended within recent_ms of now (wall clock ms). */
int model_filter_task(enum model_filter f, const struct model_task *t, int64_t recent_ms,
    int64_t now)
{
	if (model_filter_has(f, t->state))
		return 1;
	return f == MODEL_FILTER_ACTIVE && recent_ms > 0 && task_state_final(t->state) &&
	    t->finished_ms > 0 && now - t->finished_ms <= recent_ms;
}

int model_filter_has(enum model_filter f, enum task_state s)
{
	switch (f) {
	case MODEL_FILTER_ACTIVE:
		return s != MODEL_STATE_UNKNOWN && !task_state_final(s);
	case MODEL_FILTER_FAILED:
		return s == TASK_FAILED;
	default:
		return 1;
	}
}

/*
 * DESIGN §5: states only move forward, in share/states.def's order, and a
 * final task never changes: every final state ranks last. Unknown: -1.
 */
static int state_rank(enum task_state s)
{
	if (s == MODEL_STATE_UNKNOWN)
		return -1;
	return task_state_final(s) ? TASK_STATE_COUNT : (int)s;
}

void model_init(struct model *m)
{
	memset(m, 0, sizeof *m);
	m->resync_pending = 1;
}

void model_free(struct model *m)
{
	tasks_clear(m);
	free(m->tasks);
	for (size_t i = 0; i < m->nworkers; i++)
		worker_clear(&m->workers[i]);
	free(m->workers);
	locks_clear(m);
	scheds_clear(m);
	status_clear(&m->status);
	model_rates_free(m);
	model_repos_free(m);
	memset(m, 0, sizeof *m);
}

/* Tasks. */

static struct model_task *task_parse(const cJSON *j)
{
	const cJSON *res, *r, *p, *e;
	struct model_task *t;
	size_t n, l = 0, cap = 1;
	int64_t id;

	if (!cJSON_IsObject(j) || jint(j, "id", &id) < 0 || id <= 0)
		return NULL;
	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->id = id;
	t->state = model_state_parse(jstr(j, "state"));
	t->type = xstrdup(jstr(j, "type") ? jstr(j, "type") : "?");
	t->name = xstrdup(jstr(j, "name") ? jstr(j, "name") : "");
	t->worker = xstrdup(jstr(j, "worker"));
	t->schedule = xstrdup(jstr(j, "schedule"));
	t->created_ms = jtime(j, "created_at");
	t->started_ms = jtime(j, "started_at");
	t->finished_ms = jtime(j, "finished_at");
	t->stalled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stalled"));

	res = cJSON_GetObjectItemCaseSensitive(j, "resources");
	n = cJSON_IsArray(res) ? (size_t)cJSON_GetArraySize(res) : 0;
	t->res = calloc(n + 1, sizeof *t->res);
	t->res_mode = calloc(n + 1, 1);
	cJSON_ArrayForEach(r, res) {
		const char *name = cJSON_IsString(r) ? r->valuestring : jstr(r, "name");
		const char *mode = cJSON_IsObject(r) ? jstr(r, "mode") : NULL;

		if (name == NULL || t->res == NULL || t->res_mode == NULL)
			continue;
		t->res_mode[t->nres] = (unsigned char)mode_of(mode);
		t->res[t->nres++] = xstrdup(name);
		cap += strlen(name) + 12;
	}
	if ((t->res_text = malloc(cap)) != NULL) {
		t->res_text[0] = '\0';
		for (size_t i = 0; i < t->nres; i++)
			l += (size_t)snprintf(t->res_text + l, cap - l, "%s%s%s%s%s", i ? ", " : "",
			    t->res[i], t->res_mode[i] == LOCK_EXCLUSIVE ? "" : " (",
			    t->res_mode[i] == LOCK_EXCLUSIVE ? "" : lock_mode_name(t->res_mode[i]),
			    t->res_mode[i] == LOCK_EXCLUSIVE ? "" : ")");
	}

	p = cJSON_GetObjectItemCaseSensitive(j, "progress");
	t->has_done = jint(p, "done", &t->done) == 0;
	t->has_total = jint(p, "total", &t->total) == 0;
	t->unit = xstrdup(jstr(p, "unit"));
	t->pmessage = xstrdup(jstr(p, "message"));

	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsObject(e)) {
		t->err_reason = xstrdup(jstr(e, "reason"));
		t->err_message = xstrdup(jstr(e, "message"));
	}
	t->json = cJSON_Duplicate(j, 1);
	if (t->type == NULL || t->name == NULL || t->res == NULL || t->res_mode == NULL ||
	    t->res_text == NULL || t->json == NULL) {
		task_free(t);
		return NULL;
	}
	return t;
}

static void task_free(struct model_task *t)
{
	if (t == NULL)
		return;
	free(t->type);
	free(t->name);
	free(t->worker);
	for (size_t i = 0; t->res != NULL && i < t->nres; i++)
		free(t->res[i]);
	free(t->res);
	free(t->res_mode);
	free(t->res_text);
	free(t->unit);
	free(t->pmessage);
	free(t->err_reason);
	free(t->err_message);
	free(t->schedule);
	cJSON_Delete(t->json);
	free(t);
}

/* Where id is, or would be inserted, in the sorted table. */
static size_t task_find(const struct model *m, int64_t id, int *found)
{
	size_t lo = 0, hi = m->ntasks;

	*found = 0;
	/* Ids mostly arrive in increasing order: try the end first. */
	if (hi > 0 && m->tasks[hi - 1]->id < id)
		return hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->tasks[mid]->id == id) {
			*found = 1;
			return mid;
		}
		if (m->tasks[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct model_task *model_task(const struct model *m, int64_t id)
{
	int found;
	size_t i = task_find(m, id, &found);

	return found ? m->tasks[i] : NULL;
}

static int tasks_reserve(struct model *m, size_t n)
{
	struct model_task **p;
	size_t cap;

	if (n <= m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 64;
	while (cap < n)
		cap *= 2;
	if ((p = realloc(m->tasks, cap * sizeof *p)) == NULL)
		return -1;
	m->tasks = p;
	m->cap = cap;
	return 0;
}

/*
 * Inserts or replaces one task; 1 when the model changed, 0 when the news
 * was older than what is known, -1 when unreadable. With track_locks, the
 * reservation queues follow the task (an event); a re-read loads them from
 * lock.list instead.
 */
static int task_upsert(struct model *m, const cJSON *json, int track_locks)
{
	struct model_task *t = task_parse(json), *old;
	enum task_state was = MODEL_STATE_UNKNOWN;
	int found;
	size_t i;

	if (t == NULL)
		return -1;
	i = task_find(m, t->id, &found);
	if (found) {
		old = m->tasks[i];
		was = old->state;
		if (task_state_final(old->state) || state_rank(t->state) < state_rank(old->state)) {
			task_free(t);
			m->ignored++;
			return 0;
		}
		if (task_state_final(t->state))
			m->nfinal++;
		task_free(old);
		m->tasks[i] = t;
	} else {
		if (tasks_reserve(m, m->ntasks + 1) < 0) {
			task_free(t);
			return -1;
		}
		memmove(m->tasks + i + 1, m->tasks + i, (m->ntasks - i) * sizeof *m->tasks);
		m->tasks[i] = t;
		m->ntasks++;
		if (task_state_final(t->state))
			m->nfinal++;
	}
	if (track_locks && t->state != was) {
		if (t->state == TASK_WAITING)
			locks_task_waiting(m, t);
		else if (t->state == TASK_RUNNING || t->state == TASK_CANCELING)
			locks_task_holding(m, t);
		else if (task_state_final(t->state))
			locks_task_gone(m, t->id);
	}
	if (task_state_final(t->state) && m->nfinal > MODEL_KEEP_FINAL)
		tasks_prune(m);
	m->generation++;
	return 1;
}

int model_upsert_task(struct model *m, const cJSON *task)
{
	return task_upsert(m, task, 1);
}

/* Drops the oldest final tasks beyond MODEL_KEEP_FINAL. */
static void tasks_prune(struct model *m)
{
	size_t drop = m->nfinal - MODEL_KEEP_FINAL, k = 0;

	for (size_t i = 0; i < m->ntasks; i++) {
		struct model_task *t = m->tasks[i];

		if (drop > 0 && task_state_final(t->state)) {
			task_free(t);
			drop--;
			m->nfinal--;
			continue;
		}
		m->tasks[k++] = t;
	}
	m->ntasks = k;
}

static void tasks_clear(struct model *m)
{
	for (size_t i = 0; i < m->ntasks; i++)
		task_free(m->tasks[i]);
	m->ntasks = 0;
	m->nfinal = 0;
}

/* Workers. */

static void worker_clear(struct model_worker *w)
{
	free(w->name);
	free(w->state);
	memset(w, 0, sizeof *w);
}

static int worker_parse(struct model_worker *w, const cJSON *j)
{
	const char *name = jstr(j, "name");

	memset(w, 0, sizeof *w);
	if (name == NULL)
		return -1;
	w->name = xstrdup(name);
	w->state = xstrdup(jstr(j, "state") ? jstr(j, "state") : "?");
	jint(j, "pid", &w->pid);
	if (jint(j, "task", &w->task) < 0)
		w->task = 0;
	w->supervised = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "supervised"));
	w->started_ms = jtime(j, "started_at");
	w->heartbeat_ms = jtime(j, "last_heartbeat");
	if (w->name == NULL || w->state == NULL) {
		worker_clear(w);
		return -1;
	}
	return 0;
}

static int workers_cmp(const void *a, const void *b)
{
	const struct model_worker *x = a, *y = b;

	if (x->supervised != y->supervised)
		return y->supervised - x->supervised;
	/* w2 before w10. */
	return strverscmp(x->name, y->name);
}

static void workers_sort(struct model *m)
{
	if (m->nworkers > 1)
		qsort(m->workers, m->nworkers, sizeof *m->workers, workers_cmp);
}

void model_set_workers(struct model *m, const cJSON *arr)
{
	const cJSON *j;
	size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0, k = 0;
	struct model_worker *ws;

	if (!cJSON_IsArray(arr))
		return;
	if ((ws = calloc(n + 1, sizeof *ws)) == NULL)
		return;
	cJSON_ArrayForEach(j, arr)
		if (worker_parse(&ws[k], j) == 0)
			k++;
	for (size_t i = 0; i < m->nworkers; i++)
		worker_clear(&m->workers[i]);
	free(m->workers);
	m->workers = ws;
	m->nworkers = k;
	workers_sort(m);
	m->generation++;
}

struct model_worker *model_worker(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->nworkers; i++)
		if (strcmp(m->workers[i].name, name) == 0)
			return &m->workers[i];
	return NULL;
}

static int worker_upsert(struct model *m, const cJSON *j)
{
	struct model_worker w, *old, *p;

	if (worker_parse(&w, j) < 0)
		return -1;
	if ((old = model_worker(m, w.name)) != NULL) {
		/* An event does not carry a heartbeat newer than the one a re-read saw. */
		if (w.heartbeat_ms < old->heartbeat_ms)
			w.heartbeat_ms = old->heartbeat_ms;
		worker_clear(old);
		*old = w;
	} else {
		if ((p = realloc(m->workers, (m->nworkers + 1) * sizeof *p)) == NULL) {
			worker_clear(&w);
			return -1;
		}
		m->workers = p;
		m->workers[m->nworkers++] = w;
	}
	workers_sort(m);
	m->generation++;
	return 1;
}

/* Reservations. */

static void lock_clear(struct model_lock *l)
{
	free(l->resource);
	free(l->holders);
	free(l->waiting);
	memset(l, 0, sizeof *l);
}

static void locks_clear(struct model *m)
{
	for (size_t i = 0; i < m->nlocks; i++)
		lock_clear(&m->locks[i]);
	free(m->locks);
	m->locks = NULL;
	m->nlocks = 0;
}

static size_t lock_find(const struct model *m, const char *res, int *found)
{
	size_t lo = 0, hi = m->nlocks;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->locks[mid].resource, res);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entry of res, created empty if need be; NULL when out of memory. */
static struct model_lock *lock_get(struct model *m, const char *res)
{
	struct model_lock *p;
	int found;
	size_t i = lock_find(m, res, &found);

	if (found)
		return &m->locks[i];
	if ((p = realloc(m->locks, (m->nlocks + 1) * sizeof *p)) == NULL)
		return NULL;
	m->locks = p;
	memmove(m->locks + i + 1, m->locks + i, (m->nlocks - i) * sizeof *m->locks);
	memset(&m->locks[i], 0, sizeof m->locks[i]);
	if ((m->locks[i].resource = strdup(res)) == NULL) {
		memmove(m->locks + i, m->locks + i + 1, (m->nlocks - i) * sizeof *m->locks);
		return NULL;
	}
	m->nlocks++;
	return &m->locks[i];
}

/* lock.list shows only resources someone holds or waits for, or with a pause or capacity. */
static void lock_drop_if_empty(struct model *m, const char *res)
{
	int found;
	size_t i = lock_find(m, res, &found);

	if (!found || m->locks[i].nholders > 0 || m->locks[i].nwaiting > 0 || m->locks[i].paused ||
	    m->locks[i].capacity > 0)
		return;
	lock_clear(&m->locks[i]);
	memmove(m->locks + i, m->locks + i + 1, (m->nlocks - i - 1) * sizeof *m->locks);
	m->nlocks--;
}

static int holders_has(const struct model_holder *h, size_t n, int64_t task)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].task == task)
			return 1;
	return 0;
}

static int holders_remove(struct model_holder *h, size_t *n, int64_t task)
{
	for (size_t i = 0; i < *n; i++) {
		if (h[i].task == task) {
			memmove(h + i, h + i + 1, (*n - i - 1) * sizeof *h);
			(*n)--;
			return 1;
		}
	}
	return 0;
}

static int holders_add(struct model_holder **h, size_t *n, int64_t task, enum lock_mode mode)
{
	struct model_holder *p;

	if (holders_has(*h, *n, task))
		return 0;
	if ((p = realloc(*h, (*n + 1) * sizeof *p)) == NULL)
		return -1;
	*h = p;
	p[*n].task = task;
	p[*n].mode = mode;
	(*n)++;
	return 1;
}

/* A reservation's mode as sent; what cannot be read is taken as exclusive, the safe side. */
static enum lock_mode mode_of(const char *mode)
{
	enum lock_mode m = LOCK_EXCLUSIVE;

	(void)lock_mode_parse(mode, &m);
	return m;
}

/* The mode a task reserves res in; `depot` is shared unless named (DESIGN §6). */
static enum lock_mode task_res_mode(const struct model_task *t, const char *res)
{
	enum lock_mode unnamed = strcmp(res, "depot") == 0 ? LOCK_SHARED : LOCK_EXCLUSIVE;

	if (t == NULL)
		return unnamed;
	for (size_t i = 0; i < t->nres; i++)
		if (strcmp(t->res[i], res) == 0)
			return (enum lock_mode)t->res_mode[i];
	return unnamed;
}

/*
 * The k-th resource t reserves, the implicit `depot` last when t does not
 * name it; NULL past the end.
 */
static const char *task_res_at(const struct model_task *t, size_t k)
{
	if (k < t->nres)
		return t->res[k];
	if (k > t->nres)
		return NULL;
	for (size_t i = 0; i < t->nres; i++)
		if (strcmp(t->res[i], "depot") == 0)
			return NULL;
	return "depot";
}

/* A newly submitted task joins the queue of each of its resources. */
static void locks_task_waiting(struct model *m, const struct model_task *t)
{
	const char *name;

	for (size_t k = 0; (name = task_res_at(t, k)) != NULL; k++) {
		struct model_lock *l = lock_get(m, name);

		if (l != NULL && !holders_has(l->holders, l->nholders, t->id))
			holders_add(&l->waiting, &l->nwaiting, t->id, task_res_mode(t, name));
	}
}

/* A running task holds all its reservations (its grant event may have been lost). */
static void locks_task_holding(struct model *m, const struct model_task *t)
{
	const char *name;

	for (size_t k = 0; (name = task_res_at(t, k)) != NULL; k++) {
		struct model_lock *l = lock_get(m, name);

		if (l != NULL) {
			holders_remove(l->waiting, &l->nwaiting, t->id);
			holders_add(&l->holders, &l->nholders, t->id, task_res_mode(t, name));
		}
	}
}

/* A final task holds and waits for nothing. */
static void locks_task_gone(struct model *m, int64_t id)
{
	for (size_t i = 0; i < m->nlocks;) {
		struct model_lock *l = &m->locks[i];

		size_t before = m->nlocks;

		holders_remove(l->holders, &l->nholders, id);
		holders_remove(l->waiting, &l->nwaiting, id);
		/* Kept (in use, paused, counted): the next one; dropped: the next moved into i. */
		lock_drop_if_empty(m, l->resource);
		if (m->nlocks == before)
			i++;
	}
}

/* lock grant/release: {"task": id, "resources": [names, `depot` included]}. */
static void lock_event(struct model *m, const cJSON *ev, int grant)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(ev, "resources"), *r;
	struct model_task *t;
	int64_t id;

	if (jint(ev, "task", &id) < 0 || !cJSON_IsArray(res))
		return;
	t = model_task(m, id);
	cJSON_ArrayForEach(r, res) {
		struct model_lock *l;

		if (!cJSON_IsString(r))
			continue;
		if (grant) {
			if ((l = lock_get(m, r->valuestring)) == NULL)
				continue;
			holders_remove(l->waiting, &l->nwaiting, id);
			holders_add(&l->holders, &l->nholders, id, task_res_mode(t, r->valuestring));
		} else {
			int found;
			size_t i = lock_find(m, r->valuestring, &found);

			if (!found)
				continue;
			holders_remove(m->locks[i].holders, &m->locks[i].nholders, id);
			lock_drop_if_empty(m, r->valuestring);
		}
	}
	m->generation++;
}

static void holders_load(const cJSON *arr, struct model_holder **h, size_t *n)
{
	const cJSON *x;
	int64_t id;

	cJSON_ArrayForEach(x, arr) {
		const char *mode = jstr(x, "mode");

		if (jint(x, "task", &id) == 0)
			holders_add(h, n, id, mode_of(mode));
	}
}

void model_set_locks(struct model *m, const cJSON *arr)
{
	const cJSON *j;

	if (!cJSON_IsArray(arr))
		return;
	locks_clear(m);
	cJSON_ArrayForEach(j, arr) {
		const char *res = jstr(j, "resource");
		struct model_lock *l;

		if (res == NULL || (l = lock_get(m, res)) == NULL)
			continue;
		l->paused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "paused"));
		if (jint(j, "capacity", &l->capacity) < 0)
			l->capacity = 0;
		holders_load(cJSON_GetObjectItemCaseSensitive(j, "holders"), &l->holders, &l->nholders);
		holders_load(cJSON_GetObjectItemCaseSensitive(j, "waiting"), &l->waiting, &l->nwaiting);
	}
	m->generation++;
}

/* Schedules. */

static void sched_clear(struct model_schedule *s)
{
	free(s->name);
	free(s->what);
	free(s->last_state);
	free(s->calendar);
	memset(s, 0, sizeof *s);
}

static void scheds_clear(struct model *m)
{
	for (size_t i = 0; i < m->nscheds; i++)
		sched_clear(&m->scheds[i]);
	free(m->scheds);
	m->scheds = NULL;
	m->nscheds = 0;
}

/* What a schedule submits, in a few words: "sync fedora", "run: sleep 5". */
static char *sched_what(const cJSON *tpl)
{
	const char *type = jstr(tpl, "type"), *repo = jstr(tpl, "repository");
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(tpl, "argv"), *a;
	char buf[512];
	enum task_type_id k;
	size_t l = 0;
	int64_t v;

	if (type == NULL)
		return strdup("?");
	if (repo != NULL) {
		if (jint(tpl, "version", &v) == 0)
			snprintf(buf, sizeof buf, "%s %s v%lld", type, repo, (long long)v);
		else
			snprintf(buf, sizeof buf, "%s %s", type, repo);
		return strdup(buf);
	}
	if (task_type_parse(type, &k) == 0 && k == TASKTYPE_EXEC && cJSON_IsArray(argv)) {
		l = (size_t)snprintf(buf, sizeof buf, "run:");
		cJSON_ArrayForEach(a, argv)
			if (cJSON_IsString(a) && l < sizeof buf)
				l += (size_t)snprintf(buf + l, sizeof buf - l, " %s", a->valuestring);
		return strdup(buf);
	}
	return strdup(type);
}

void model_set_schedules(struct model *m, const cJSON *arr)
{
	const cJSON *j;
	size_t n, k = 0;
	struct model_schedule *ss;

	if (!cJSON_IsArray(arr))
		return;
	n = (size_t)cJSON_GetArraySize(arr);
	if ((ss = calloc(n + 1, sizeof *ss)) == NULL)
		return;
	cJSON_ArrayForEach(j, arr) {
		struct model_schedule *s = &ss[k];
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(j, "last_task");
		const char *name = jstr(j, "name");

		if (name == NULL)
			continue;
		s->name = strdup(name);
		jint(j, "every_ms", &s->every_ms);
		if (jstr(j, "calendar") != NULL) {
			const char *tz = jstr(j, "tz");
			size_t n = strlen(jstr(j, "calendar")) + (tz ? strlen(tz) + 1 : 0) + 1;

			/* The zone after the expression, as schedule add takes it (--tz). */
			if ((s->calendar = malloc(n)) != NULL)
				snprintf(s->calendar, n, "%s%s%s", jstr(j, "calendar"), tz ? " " : "",
				    tz ? tz : "");
		}
		s->enabled = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "enabled"));
		s->what = sched_what(cJSON_GetObjectItemCaseSensitive(j, "template"));
		s->next_ms = jtime(j, "next_run");
		s->last_ms = jtime(j, "last_run");
		if (cJSON_IsObject(last)) {
			jint(last, "id", &s->last_task);
			s->last_state = xstrdup(jstr(last, "state"));
		}
		jint(j, "skipped", &s->skipped);
		if (s->name == NULL || s->what == NULL) {
			sched_clear(s);
			continue;
		}
		k++;
	}
	scheds_clear(m);
	m->scheds = ss;
	m->nscheds = k;
	m->generation++;
}

/* Status. */

static void status_clear(struct model_status *s)
{
	free(s->version);
	free(s->data_dir);
	free(s->problems);
	free(s->paused_resources);
	memset(s, 0, sizeof *s);
}

void model_set_status(struct model *m, const cJSON *st, int64_t now)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(st, "daemon");
	const cJSON *locks = cJSON_GetObjectItemCaseSensitive(st, "locks");
	const cJSON *probs = cJSON_GetObjectItemCaseSensitive(st, "problems"), *p;
	const cJSON *queue = cJSON_GetObjectItemCaseSensitive(st, "queue");
	struct model_status *s = &m->status;
	char buf[1024];
	size_t l = 0;

	if (!cJSON_IsObject(st))
		return;
	status_clear(s);
	s->known = 1;
	s->version = xstrdup(jstr(d, "version"));
	s->data_dir = xstrdup(jstr(d, "data_dir"));
	jint(d, "pid", &s->pid);
	jint(d, "uptime_ms", &s->uptime_ms);
	s->uptime_at = now;
	s->stopping = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "stopping"));
	s->healthy = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(st, "healthy"));
	buf[0] = '\0';
	cJSON_ArrayForEach(p, probs)
		if (cJSON_IsString(p) && l < sizeof buf)
			l += (size_t)snprintf(buf + l, sizeof buf - l, "%s%s", l ? "; " : "", p->valuestring);
	s->problems = strdup(buf);
	jint(locks, "held", &s->locks_held);
	jint(locks, "waiting", &s->locks_waiting);
	jint(locks, "running", &s->locks_running);
	/* A daemon without queue pauses has no "queue": nothing is said of it. */
	s->queue_known = cJSON_IsObject(queue);
	s->queue_paused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(queue, "paused"));
	buf[0] = '\0';
	l = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(queue, "paused_resources"))
		if (cJSON_IsString(p) && l < sizeof buf)
			l += (size_t)snprintf(buf + l, sizeof buf - l, "%s%s", l ? ", " : "", p->valuestring);
	s->paused_resources = strdup(buf);
	m->generation++;
}

int64_t model_uptime(const struct model *m, int64_t now)
{
	if (!m->status.known)
		return -1;
	if (!m->up)
		return m->status.uptime_ms;
	return m->status.uptime_ms + (now - m->status.uptime_at);
}

/* Events. */

int model_apply_event(struct model *m, const cJSON *ev)
{
	const char *topic = jstr(ev, "topic"), *event = jstr(ev, "event");
	int rc = 1;

	if (topic == NULL)
		return -1;
	if (strcmp(topic, "task") == 0) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "task");

		rc = cJSON_IsObject(t) ? task_upsert(m, t, 1) : 0;
		rc = rc < 0 ? -1 : rc == 0 ? 1 : 0;
	} else if (strcmp(topic, "worker") == 0) {
		rc = worker_upsert(m, cJSON_GetObjectItemCaseSensitive(ev, "worker")) < 0 ? -1 : 0;
	} else if (strcmp(topic, "lock") == 0 && event != NULL &&
	    (strcmp(event, "grant") == 0 || strcmp(event, "release") == 0)) {
		lock_event(m, ev, strcmp(event, "grant") == 0);
		rc = 0;
	}
	m->events++;
	return rc;
}

/*
 * One message of the events socket, "topic {json}". 0 when applied, 1 when
 * it told nothing new, -1 when unreadable.
 */
int model_apply_message(struct model *m, const char *msg, size_t len)
{
	const char *sp = memchr(msg, ' ', len);
	cJSON *ev;
	int rc;

	if (sp == NULL)
		return -1;
	ev = cJSON_ParseWithLength(sp + 1, len - (size_t)(sp + 1 - msg));
	if (ev == NULL)
		return -1;
	if (jstr(ev, "topic") == NULL) {
		char topic[16];
		size_t tl = (size_t)(sp - msg);

		if (tl >= sizeof topic) {
			cJSON_Delete(ev);
			return -1;
		}
		memcpy(topic, msg, tl);
		topic[tl] = '\0';
		cJSON_AddStringToObject(ev, "topic", topic);
	}
	rc = model_apply_event(m, ev);
	cJSON_Delete(ev);
	return rc;
}

/* count messages were read at once: that many may mean PUB dropped some. */
void model_note_drain(struct model *m, size_t count)
{
	if (count >= MODEL_BURST_EVENTS)
		m->resync_pending = 1;
}

/* Re-reads. */

void model_apply_snapshot(struct model *m, const struct model_snapshot *s, int64_t now)
{
	const cJSON *lists[3] = { s->active, s->recent, s->failed }, *t;

	if (s->status != NULL)
		model_set_status(m, s->status, now);
	if (s->workers != NULL)
		model_set_workers(m, s->workers);
	if (s->active != NULL || s->recent != NULL || s->failed != NULL) {
		tasks_clear(m);
		/* The lists were read one after the other: the later may be newer, never older. */
		for (int i = 0; i < 3; i++)
			cJSON_ArrayForEach(t, lists[i])
				task_upsert(m, t, 0);
		m->tasks_truncated = cJSON_IsArray(s->active) &&
		    cJSON_GetArraySize(s->active) >= MODEL_ACTIVE_LIMIT;
	}
	if (s->locks != NULL)
		model_set_locks(m, s->locks);
	if (s->schedules != NULL)
		model_set_schedules(m, s->schedules);
	m->resync_pending = 0;
	m->last_resync = now;
	m->resyncs++;
	m->generation++;
}

/* Connection. */

void model_set_down(struct model *m, const char *reason, int64_t now)
{
	if (m->up || m->down_since == 0)
		m->down_since = now;
	if (m->up || strcmp(m->down_reason, reason) != 0)
		m->generation++;
	m->up = 0;
	m->refused = 0;
	snprintf(m->down_reason, sizeof m->down_reason, "%s", reason);
	/* Whatever happened while away was not heard. */
	m->resync_pending = 1;
}

/* The daemon answered, but with a refusal (forbidden): as good as down for this user. */
void model_set_refused(struct model *m, const char *reason, int64_t now)
{
	model_set_down(m, reason, now);
	m->refused = 1;
}

void model_set_up(struct model *m, int64_t now)
{
	(void)now;
	if (!m->up)
		m->generation++;
	m->up = 1;
	m->ever_up = 1;
	m->refused = 0;
	m->down_reason[0] = '\0';
	/* Connected (again): everything is read at once. */
	m->resync_pending = 1;
	m->last_resync = 0;
}

int model_resync_due(const struct model *m, int64_t now)
{
	if (!m->up)
		return 0;
	if (m->resync_pending)
		return m->last_resync == 0 || now - m->last_resync >= MODEL_RESYNC_MIN_MS;
	return now - m->last_resync >= MODEL_RESYNC_MS;
}

/* Queries. */

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Tasks waiting for a reservation, each once however many it waits for. */
static size_t count_distinct_waiters(const struct model *m, size_t total)
{
	int64_t *ids;
	size_t n = 0, distinct = 0;

	if (total == 0)
		return 0;
	if ((ids = malloc(total * sizeof *ids)) == NULL)
		return total;
	for (size_t i = 0; i < m->nlocks; i++)
		for (size_t k = 0; k < m->locks[i].nwaiting; k++)
			ids[n++] = m->locks[i].waiting[k].task;
	qsort(ids, n, sizeof *ids, id_cmp);
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || ids[i] != ids[i - 1];
	free(ids);
	return distinct;
}

void model_counts(const struct model *m, struct model_counts *c)
{
	size_t nwait = 0;

	memset(c, 0, sizeof *c);
	c->workers_total = m->nworkers;
	for (size_t i = 0; i < m->nworkers; i++)
		if (strcmp(m->workers[i].state, "online") == 0)
			c->workers_online++;
	for (size_t i = 0; i < m->ntasks; i++) {
		const struct model_task *t = m->tasks[i];

		c->running += t->state == TASK_RUNNING;
		c->waiting += t->state == TASK_WAITING;
		c->canceling += t->state == TASK_CANCELING;
		c->stalled += t->stalled && !task_state_final(t->state);
	}
	/* More active tasks than a re-read lists: the daemon's own count. */
	if (m->tasks_truncated && m->status.known && (size_t)m->status.locks_waiting > c->waiting)
		c->waiting = (size_t)m->status.locks_waiting;
	for (size_t i = 0; i < m->nlocks; i++) {
		const struct model_lock *l = &m->locks[i];
		int implicit = strcmp(l->resource, "depot") == 0;
		size_t explicit_holders = 0;

		for (size_t k = 0; k < l->nholders; k++)
			explicit_holders += !(implicit && l->holders[k].mode == LOCK_SHARED);
		c->held += explicit_holders;
		c->held_resources += explicit_holders > 0;
		nwait += l->nwaiting;
	}
	c->waiters = count_distinct_waiters(m, nwait);
}

/* Case-insensitive match of id (exact), name or a resource (substrings). */
int model_task_matches(const struct model_task *t, const char *query)
{
	char q[256], *end;
	size_t n;
	long long id;

	if (query == NULL)
		return 1;
	while (*query == ' ')
		query++;
	snprintf(q, sizeof q, "%s", query);
	n = strlen(q);
	while (n > 0 && q[n - 1] == ' ')
		q[--n] = '\0';
	if (n == 0)
		return 1;
	if (q[0] == '#') {
		id = strtoll(q + 1, &end, 10);
		return *end == '\0' && end != q + 1 && id == t->id;
	}
	id = strtoll(q, &end, 10);
	if (*end == '\0' && id == t->id)
		return 1;
	if (strcasestr(t->name, q) != NULL)
		return 1;
	for (size_t i = 0; i < t->nres; i++)
		if (strcasestr(t->res[i], q) != NULL)
			return 1;
	return 0;
}

/* Running first, then the queue in order, then finished ones newest first. */
static int rows_group(const struct model_task *t)
{
	if (t->state == TASK_RUNNING || t->state == TASK_CANCELING)
		return 0;
	if (t->state == TASK_WAITING)
		return 1;
	return 2;
}

/* The queue's order: running, waiting in order, ended newest first. */
static int rows_queue_cmp(const struct model_task *x, const struct model_task *y)
{
	int gx = rows_group(x), gy = rows_group(y);

	if (gx != gy)
		return gx - gy;
	if (x->id == y->id)
		return 0;
	if (gx == 2)
		return x->id < y->id ? 1 : -1;
	return x->id < y->id ? -1 : 1;
}

/* When the AGE column counts from: the oldest since sorts first, as the longest age. */
static int64_t rows_since(const struct model_task *t)
{
	/* Any now past every since gives the same order. */
	int64_t age = model_task_age(t, INT64_MAX / 2);

	return age < 0 ? INT64_MAX : INT64_MAX / 2 - age;
}

static int str_cmp(const char *a, const char *b)
{
	int c = strcasecmp(a ? a : "", b ? b : "");

	return c != 0 ? c : strcmp(a ? a : "", b ? b : "");
}

/*
 * A column's order, ties in the queue's order; reverse turns the column's
 * order only. Tasks without a value (no worker, no progress) come last.
 */
static int rows_cmp(const void *a, const void *b, void *arg)
{
	const struct model_task *x = *(struct model_task *const *)a;
	const struct model_task *y = *(struct model_task *const *)b;
	const struct model_rows_spec *spec = arg;
	int c = 0;

	switch (spec->sort) {
	case MODEL_SORT_ID:
		c = x->id < y->id ? -1 : x->id > y->id;
		break;
	case MODEL_SORT_STATE:
		c = (int)x->state - (int)y->state;
		break;
	case MODEL_SORT_TYPE:
		c = str_cmp(x->type, y->type);
		break;
	case MODEL_SORT_NAME:
		c = str_cmp(x->name, y->name);
		break;
	case MODEL_SORT_RES:
		if ((x->nres == 0) != (y->nres == 0))
			return x->nres == 0 ? 1 : -1;
		c = str_cmp(x->res_text, y->res_text);
		break;
	case MODEL_SORT_WORKER:
		if ((x->worker == NULL) != (y->worker == NULL))
			return x->worker == NULL ? 1 : -1;
		c = x->worker ? strverscmp(x->worker, y->worker) : 0;
		break;
	case MODEL_SORT_AGE: {
		int64_t sx = rows_since(x), sy = rows_since(y);

		if ((sx == INT64_MAX) != (sy == INT64_MAX))
			return sx == INT64_MAX ? 1 : -1;
		c = sx < sy ? -1 : sx > sy;
		break;
	}
	case MODEL_SORT_PROGRESS: {
		double fx, fy;
		int hx = model_progress_fraction(x, &fx) == 0, hy = model_progress_fraction(y, &fy) == 0;

		if (hx != hy)
			return hx ? -1 : 1;
		/* Furthest along first. */
		c = hx ? (fx > fy ? -1 : fx < fy) : 0;
		break;
	}
	default:
		break;
	}
	if (c != 0)
		return spec->reverse ? -c : c;
	c = rows_queue_cmp(x, y);
	return spec->sort == MODEL_SORT_QUEUE && spec->reverse ? -c : c;
}

/*
 * The tasks the tasks pane lists, in its order, in *rows (malloc'd, may be
 * NULL when none); returns how many.
 */
size_t model_task_rows(const struct model *m, const struct model_rows_spec *spec,
    struct model_task ***rows)
{
	struct model_task **r = malloc((m->ntasks + 1) * sizeof *r);
	size_t n = 0;

	*rows = r;
	if (r == NULL)
		return 0;
	for (size_t i = 0; i < m->ntasks; i++)
		if (model_filter_task(spec->filter, m->tasks[i], spec->recent_ms, spec->now) &&
		    model_task_matches(m->tasks[i], spec->query))
			r[n++] = m->tasks[i];
	qsort_r(r, n, sizeof *r, rows_cmp, (void *)spec);
	return n;
}
