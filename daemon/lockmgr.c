/* lockmgr.c: reservations on named resources, all-or-nothing, by priority then FIFO per resource (DESIGN §6). */
#include "lockmgr.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define LM_NAME_MAX	255
#define LM_TABLE_MIN	16

/* Intrusive chained hash: removal leaves no tombstones behind. */
struct lm_hnode {
	struct lm_hnode *next;
	uint64_t hash;
};

struct lm_table {
	struct lm_hnode **b;
	size_t nb;		/* 0 or a power of two */
	size_t n;
};

struct lm_res;
struct lm_task;

/* One task's reservation of one resource: in the waiting list, then in the holder list. */
struct lm_req {
	struct lm_task *task;
	struct lm_res *res;
	enum lock_mode mode;
	int ready;
	struct lm_req *prev, *next;
};

struct lm_list {
	struct lm_req *head, *tail;
	size_t n;
};

struct lm_res {
	struct lm_hnode h;	/* first, so a table node is the resource */
	size_t nshared;
	size_t nslots;		/* slot holders */
	size_t nready_slots;	/* slot requests waiting, ready: they will be holders */
	int exclusive;
	int capacity;		/* 0: LOCK_CAPACITY_DEFAULT */
	int paused;
	struct lm_list holders, waiting;
	/*
	 * Every waiting request before this one is ready and none from it on
	 * is, so advance() starts here and dispatch never rescans a queue;
	 * NULL when all are ready.
	 */
	struct lm_req *first_unready;
	char name[];
};

struct lm_task {
	struct lm_hnode h;	/* first, so a table node is the task */
	int64_t id;
	int priority;
	int held;
	int in_heap;
	size_t nready;		/* resources on which this task is ready */
	size_t nres;
	struct lm_req reqs[];
};

/* Ready tasks, highest priority then lowest id first. */
struct lm_heap_item {
	int64_t id;
	int priority;
};

struct lockmgr {
	struct lm_table res, tasks;
	/*
	 * Heap of ready tasks; ids granted, released or made unready again
	 * since they were pushed are dropped by next_ready.
	 */
	struct lm_heap_item *heap;
	size_t heap_len, heap_cap;
	/*
	 * Waiting tasks not yet pushed: each may need one heap slot later, so
	 * enqueue reserves them and grant/release never allocate.
	 */
	size_t unpushed;
	size_t nheld, nwaiting;
};

static uint64_t hash_name(const char *s);
static uint64_t hash_id(int64_t id);
static int table_resize(struct lm_table *t, size_t nb);
static int table_reserve(struct lm_table *t, size_t want);
static void table_shrink(struct lm_table *t);
static void table_insert(struct lm_table *t, struct lm_hnode *h);
static void table_remove(struct lm_table *t, struct lm_hnode *h);
static struct lm_res *res_find(const struct lockmgr *lm, const char *name, uint64_t hash);
static struct lm_res *res_new(const char *name, size_t len, uint64_t hash);
static void res_drop_if_empty(struct lockmgr *lm, struct lm_res *res);
static struct lm_task *task_find(const struct lockmgr *lm, int64_t id);
static void list_insert_after(struct lm_list *l, struct lm_req *at, struct lm_req *r);
static void list_unlink(struct lm_list *l, struct lm_req *r);
static void unlink_waiting(struct lm_res *res, struct lm_req *r);
static void queue_insert(struct lm_res *res, struct lm_req *r);
static void unready_from(struct lm_res *res, struct lm_req *r);
static void advance(struct lockmgr *lm, struct lm_res *res);
static struct lm_res *res_get(struct lockmgr *lm, const char *name);
static void mark_ready(struct lockmgr *lm, struct lm_task *t);
static int heap_reserve(struct lockmgr *lm, size_t want);
static int heap_before(const struct lm_heap_item *a, const struct lm_heap_item *b);
static void heap_push(struct lockmgr *lm, const struct lm_task *t);
static void heap_pop(struct lockmgr *lm);
static void heap_shrink(struct lockmgr *lm);
static int cmp_req_name(const void *a, const void *b);
static int cmp_res_name(const void *a, const void *b);

/* Whether two reservations of one resource may be held at once, slots' capacity aside. */
static int modes_compatible(enum lock_mode a, enum lock_mode b)
{
	return a != LOCK_EXCLUSIVE && b != LOCK_EXCLUSIVE;
}

static size_t res_capacity(const struct lm_res *res)
{
	return res->capacity > 0 ? (size_t)res->capacity : LOCK_CAPACITY_DEFAULT;
}

struct lockmgr *lockmgr_new(void)
{
	return calloc(1, sizeof(struct lockmgr));
}

void lockmgr_free(struct lockmgr *lm)
{
	struct lm_hnode *h, *next;
	size_t i;

	if (lm == NULL)
		return;
	for (i = 0; i < lm->tasks.nb; i++) {
		for (h = lm->tasks.b[i]; h != NULL; h = next) {
			next = h->next;
			free(h);
		}
	}
	for (i = 0; i < lm->res.nb; i++) {
		for (h = lm->res.b[i]; h != NULL; h = next) {
			next = h->next;
			free(h);
		}
	}
	free(lm->tasks.b);
	free(lm->res.b);
	free(lm->heap);
	free(lm);
}

int lockmgr_enqueue(struct lockmgr *lm, int64_t id, int priority,
    const struct lock_req *reqs, size_t n)
{
	const struct lock_req **sorted = NULL;
	struct lm_task *t = NULL;
	/* New resources, chained on h.next until the task is committed. */
	struct lm_res *fresh = NULL, *res, *next;
	size_t i, j, k, nu, nfresh = 0;

	/* 0 is next_ready's "nothing", so it cannot be a task. */
	if (lm == NULL || reqs == NULL || n == 0 || id <= 0 || task_find(lm, id) != NULL)
		return -1;
	if (n > SIZE_MAX / sizeof *sorted ||
	    n > (SIZE_MAX - sizeof *t) / sizeof t->reqs[0])
		return -1;
	for (i = 0; i < n; i++) {
		if (reqs[i].resource == NULL)
			return -1;
		j = strnlen(reqs[i].resource, LM_NAME_MAX + 1);
		if (j == 0 || j > LM_NAME_MAX)
			return -1;
		if ((unsigned)reqs[i].mode >= LOCK_MODE_COUNT)
			return -1;
	}

	/* Sorting brings a name's duplicates together so they merge into one reservation. */
	if ((sorted = malloc(n * sizeof *sorted)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		sorted[i] = &reqs[i];
	qsort(sorted, n, sizeof *sorted, cmp_req_name);
	for (i = 0, nu = 0; i < n; i++) {
		if (i == 0 || strcmp(sorted[i]->resource, sorted[i - 1]->resource) != 0)
			nu++;
	}

	if ((t = calloc(1, sizeof *t + nu * sizeof t->reqs[0])) == NULL)
		goto fail;
	t->id = id;
	t->priority = priority;
	t->nres = nu;
	t->h.hash = hash_id(id);
	for (i = 0, k = 0; i < n; i = j, k++) {
		struct lm_req *r = &t->reqs[k];
		const char *name = sorted[i]->resource;
		uint64_t hash = hash_name(name);

		r->task = t;
		r->mode = LOCK_SHARED;
		for (j = i; j < n && strcmp(sorted[j]->resource, name) == 0; j++) {
			if (sorted[j]->mode == LOCK_EXCLUSIVE ||
			    (sorted[j]->mode == LOCK_SLOT && r->mode == LOCK_SHARED))
				r->mode = sorted[j]->mode;
		}
		if ((res = res_find(lm, name, hash)) == NULL) {
			if ((res = res_new(name, strlen(name), hash)) == NULL)
				goto fail;
			res->h.next = fresh != NULL ? &fresh->h : NULL;
			fresh = res;
			nfresh++;
		}
		r->res = res;
	}

	/* Every allocation happens before the first change, so failure leaves lm as it was. */
	if (table_reserve(&lm->res, lm->res.n + nfresh) != 0 ||
	    table_reserve(&lm->tasks, lm->tasks.n + 1) != 0 ||
	    heap_reserve(lm, lm->heap_len + lm->unpushed + 1) != 0)
		goto fail;

	for (res = fresh; res != NULL; res = next) {
		next = (struct lm_res *)res->h.next;
		table_insert(&lm->res, &res->h);
	}
	table_insert(&lm->tasks, &t->h);
	lm->unpushed++;
	lm->nwaiting++;
	for (k = 0; k < nu; k++)
		queue_insert(t->reqs[k].res, &t->reqs[k]);
	for (k = 0; k < nu; k++)
		advance(lm, t->reqs[k].res);
	free(sorted);
	return 0;

fail:
	for (res = fresh; res != NULL; res = next) {
		next = (struct lm_res *)res->h.next;
		free(res);
	}
	free(t);
	free(sorted);
	return -1;
}

int64_t lockmgr_next_ready(struct lockmgr *lm)
{
	struct lm_task *t;

	if (lm == NULL)
		return 0;
	/* Ids granted, released or made unready since they were pushed are dropped here, lazily. */
	while (lm->heap_len > 0) {
		t = task_find(lm, lm->heap[0].id);
		if (t != NULL && !t->held && t->nready == t->nres)
			return t->id;
		heap_pop(lm);
		/* Waiting again: its slot in the heap's reserve is kept for its next push. */
		if (t != NULL && !t->held) {
			t->in_heap = 0;
			lm->unpushed++;
		}
	}
	heap_shrink(lm);
	return 0;
}

int lockmgr_grant(struct lockmgr *lm, int64_t id)
{
	struct lm_task *t;
	size_t k;

	if (lm == NULL || (t = task_find(lm, id)) == NULL || t->held || t->nready != t->nres)
		return -1;
	for (k = 0; k < t->nres; k++) {
		struct lm_req *r = &t->reqs[k];
		struct lm_res *res = r->res;

		unlink_waiting(res, r);
		list_insert_after(&res->holders, res->holders.tail, r);
		if (r->mode == LOCK_EXCLUSIVE)
			res->exclusive = 1;
		else if (r->mode == LOCK_SLOT)
			res->nslots++;
		else
			res->nshared++;
		advance(lm, res);
	}
	t->held = 1;
	lm->nwaiting--;
	lm->nheld++;
	return 0;
}

int lockmgr_release(struct lockmgr *lm, int64_t id)
{
	struct lm_task *t;
	size_t k;

	if (lm == NULL || (t = task_find(lm, id)) == NULL)
		return -1;
	for (k = 0; k < t->nres; k++) {
		struct lm_req *r = &t->reqs[k];
		struct lm_res *res = r->res;

		if (t->held) {
			list_unlink(&res->holders, r);
			if (r->mode == LOCK_EXCLUSIVE)
				res->exclusive = 0;
			else if (r->mode == LOCK_SLOT)
				res->nslots--;
			else
				res->nshared--;
		} else {
			unlink_waiting(res, r);
		}
		advance(lm, res);
		res_drop_if_empty(lm, res);
	}
	if (t->held) {
		lm->nheld--;
	} else {
		lm->nwaiting--;
		if (!t->in_heap)
			lm->unpushed--;
	}
	table_remove(&lm->tasks, &t->h);
	free(t);
	table_shrink(&lm->tasks);
	table_shrink(&lm->res);
	heap_shrink(lm);
	return 0;
}

int lockmgr_is_held(const struct lockmgr *lm, int64_t id)
{
	const struct lm_task *t;

	if (lm == NULL || (t = task_find(lm, id)) == NULL)
		return -1;
	return t->held ? 1 : 0;
}

size_t lockmgr_held_tasks(const struct lockmgr *lm)
{
	return lm == NULL ? 0 : lm->nheld;
}

size_t lockmgr_waiting_tasks(const struct lockmgr *lm)
{
	return lm == NULL ? 0 : lm->nwaiting;
}

/*
 * A change of a resource's rules may make waiting requests unready again,
 * so its whole queue is judged anew: O(its waiting requests), an admin's
 * rare act.
 */
static void res_rejudge(struct lockmgr *lm, struct lm_res *res)
{
	if (res->waiting.head != NULL)
		unready_from(res, res->waiting.head);
	advance(lm, res);
	res_drop_if_empty(lm, res);
	table_shrink(&lm->res);
}

int lockmgr_set_capacity(struct lockmgr *lm, const char *resource, int capacity)
{
	struct lm_res *res;

	if (lm == NULL || capacity < 0 || (res = res_get(lm, resource)) == NULL)
		return -1;
	res->capacity = capacity;
	res_rejudge(lm, res);
	return 0;
}

int lockmgr_set_paused(struct lockmgr *lm, const char *resource, int paused)
{
	struct lm_res *res;

	if (lm == NULL || (res = res_get(lm, resource)) == NULL)
		return -1;
	res->paused = paused != 0;
	res_rejudge(lm, res);
	return 0;
}

int lockmgr_why(const struct lockmgr *lm, int64_t id, lockmgr_why_fn fn, void *ctx)
{
	const struct lm_task *t;
	struct lockmgr_entry *entries;
	size_t k, most = 0;
	int calls = 0;

	if (lm == NULL || fn == NULL || (t = task_find(lm, id)) == NULL || t->held)
		return -1;
	for (k = 0; k < t->nres; k++) {
		const struct lm_res *res = t->reqs[k].res;

		if (res->holders.n + res->waiting.n > most)
			most = res->holders.n + res->waiting.n;
	}
	if ((entries = malloc(most * sizeof *entries)) == NULL)
		return -1;
	for (k = 0; k < t->nres; k++) {
		const struct lm_req *r = &t->reqs[k], *q;
		const struct lm_res *res = r->res;
		int conflict = 0, full = r->mode == LOCK_SLOT &&
		    res->nslots + res->nready_slots >= res_capacity(res);
		size_t m = 0;

		if (r->ready)
			continue;
		calls++;
		if (res->paused) {
			fn(ctx, res->name, LOCKMGR_PAUSED, NULL, 0);
			continue;
		}
		for (q = res->holders.head; q != NULL; q = q->next) {
			if (!modes_compatible(q->mode, r->mode))
				conflict = 1;
			else if (!(full && q->mode == LOCK_SLOT))
				continue;
			entries[m++] = (struct lockmgr_entry){ q->task->id, q->mode, 1, q->task->priority };
		}
		for (q = res->waiting.head; q != r; q = q->next) {
			if (!modes_compatible(q->mode, r->mode) || !q->ready)
				conflict = 1;
			else if (!(full && q->mode == LOCK_SLOT))
				continue;
			entries[m++] = (struct lockmgr_entry){ q->task->id, q->mode, 0, q->task->priority };
		}
		fn(ctx, res->name, conflict || !full ? LOCKMGR_BLOCKED : LOCKMGR_CAPACITY, entries, m);
	}
	free(entries);
	return calls;
}

/*
 * An admin listing, so sorting here is fine. fn must not change lm. Without
 * memory for the sorted list nothing is visited: the signature has no way
 * to say so, and a partial or unsorted listing would mislead.
 */
void lockmgr_visit(const struct lockmgr *lm, lockmgr_visit_fn fn, void *ctx)
{
	struct lm_res **all;
	struct lockmgr_entry *entries;
	struct lm_hnode *h;
	const struct lm_req *r;
	size_t i, n = 0, most = 0, k;

	if (lm == NULL || fn == NULL || lm->res.n == 0)
		return;
	if ((all = malloc(lm->res.n * sizeof *all)) == NULL)
		return;
	for (i = 0; i < lm->res.nb; i++) {
		for (h = lm->res.b[i]; h != NULL; h = h->next) {
			struct lm_res *res = (struct lm_res *)h;

			all[n++] = res;
			if (res->holders.n + res->waiting.n > most)
				most = res->holders.n + res->waiting.n;
		}
	}
	qsort(all, n, sizeof *all, cmp_res_name);
	if ((entries = malloc((most ? most : 1) * sizeof *entries)) == NULL) {
		free(all);
		return;
	}
	for (i = 0; i < n; i++) {
		struct lockmgr_resource view = { all[i]->name, all[i]->capacity, all[i]->paused,
		    all[i]->nslots };

		k = 0;
		for (r = all[i]->holders.head; r != NULL; r = r->next)
			entries[k++] = (struct lockmgr_entry){ r->task->id, r->mode, 1, r->task->priority };
		for (r = all[i]->waiting.head; r != NULL; r = r->next)
			entries[k++] = (struct lockmgr_entry){ r->task->id, r->mode, 0, r->task->priority };
		fn(ctx, &view, entries, k);
	}
	free(entries);
	free(all);
}

/* FNV-1a: names are short, and this is all a chained table needs. */
static uint64_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Sequential ids would fill buckets in runs; the splitmix64 finaliser spreads them. */
/*
 * Task ids are handed out in sequence: the id itself spreads them over the
 * buckets, and the tasks a start-up queues one after another (100,000 of
 * them) share cache lines instead of each missing it.
 */
static uint64_t hash_id(int64_t id)
{
	return (uint64_t)id;
}

static int table_resize(struct lm_table *t, size_t nb)
{
	struct lm_hnode **b, *h, *next;
	size_t i;

	if ((b = calloc(nb, sizeof *b)) == NULL)
		return -1;
	for (i = 0; i < t->nb; i++) {
		for (h = t->b[i]; h != NULL; h = next) {
			next = h->next;
			h->next = b[h->hash & (nb - 1)];
			b[h->hash & (nb - 1)] = h;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

/* Keeps chains at one node on average once want entries are in. */
static int table_reserve(struct lm_table *t, size_t want)
{
	size_t nb = t->nb != 0 ? t->nb : LM_TABLE_MIN;

	if (want <= t->nb)
		return 0;
	while (nb < want) {
		if (nb > SIZE_MAX / 2 / sizeof(struct lm_hnode *))
			return -1;
		nb *= 2;
	}
	return table_resize(t, nb);
}

/*
 * Buckets follow the live count down, so memory tracks what is queued now,
 * not the peak. Shrinking only below an eighth keeps it amortised O(1); if
 * memory is short the table just stays large.
 */
static void table_shrink(struct lm_table *t)
{
	size_t nb = t->nb;

	if (nb <= LM_TABLE_MIN || t->n >= nb / 8)
		return;
	while (nb > LM_TABLE_MIN && t->n < nb / 4)
		nb /= 2;
	(void)table_resize(t, nb);
}

static void table_insert(struct lm_table *t, struct lm_hnode *h)
{
	size_t i = h->hash & (t->nb - 1);

	h->next = t->b[i];
	t->b[i] = h;
	t->n++;
}

static void table_remove(struct lm_table *t, struct lm_hnode *h)
{
	struct lm_hnode **p = &t->b[h->hash & (t->nb - 1)];

	while (*p != h)
		p = &(*p)->next;
	*p = h->next;
	t->n--;
}

static struct lm_res *res_find(const struct lockmgr *lm, const char *name, uint64_t hash)
{
	struct lm_hnode *h;

	if (lm->res.nb == 0)
		return NULL;
	for (h = lm->res.b[hash & (lm->res.nb - 1)]; h != NULL; h = h->next) {
		if (h->hash == hash && strcmp(((struct lm_res *)h)->name, name) == 0)
			return (struct lm_res *)h;
	}
	return NULL;
}

static struct lm_res *res_new(const char *name, size_t len, uint64_t hash)
{
	struct lm_res *res = calloc(1, sizeof *res + len + 1);

	if (res == NULL)
		return NULL;
	res->h.hash = hash;
	memcpy(res->name, name, len + 1);
	return res;
}

/*
 * Nobody holds or waits and no rule is set: forget the name, so memory
 * does not grow with every name ever seen.
 */
static void res_drop_if_empty(struct lockmgr *lm, struct lm_res *res)
{
	if (res->holders.n != 0 || res->waiting.n != 0 || res->capacity != 0 || res->paused)
		return;
	table_remove(&lm->res, &res->h);
	free(res);
}

/* The resource of that name, made if it is new; NULL for a bad name or out of memory. */
static struct lm_res *res_get(struct lockmgr *lm, const char *name)
{
	uint64_t hash;
	struct lm_res *res;
	size_t len;

	if (name == NULL || (len = strnlen(name, LM_NAME_MAX + 1)) == 0 || len > LM_NAME_MAX)
		return NULL;
	hash = hash_name(name);
	if ((res = res_find(lm, name, hash)) != NULL)
		return res;
	if (table_reserve(&lm->res, lm->res.n + 1) != 0 ||
	    (res = res_new(name, len, hash)) == NULL)
		return NULL;
	table_insert(&lm->res, &res->h);
	return res;
}

static struct lm_task *task_find(const struct lockmgr *lm, int64_t id)
{
	uint64_t hash = hash_id(id);
	struct lm_hnode *h;

	if (lm->tasks.nb == 0)
		return NULL;
	for (h = lm->tasks.b[hash & (lm->tasks.nb - 1)]; h != NULL; h = h->next) {
		if (((struct lm_task *)h)->id == id)
			return (struct lm_task *)h;
	}
	return NULL;
}

/* at == NULL: at the head. */
static void list_insert_after(struct lm_list *l, struct lm_req *at, struct lm_req *r)
{
	r->prev = at;
	r->next = at != NULL ? at->next : l->head;
	if (r->next != NULL)
		r->next->prev = r;
	else
		l->tail = r;
	if (at != NULL)
		at->next = r;
	else
		l->head = r;
	l->n++;
}

static void list_unlink(struct lm_list *l, struct lm_req *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

/* first_unready must never point at a node that left the queue. */
static void unlink_waiting(struct lm_res *res, struct lm_req *r)
{
	if (res->first_unready == r)
		res->first_unready = r->next;
	if (r->ready && r->mode == LOCK_SLOT)
		res->nready_slots--;
	list_unlink(&res->waiting, r);
}

/*
 * In order of priority, then of id: behind every request of a higher
 * priority or of its own and an older id. Walking from the tail costs
 * nothing for a new task of an equal priority, the usual case.
 */
static void queue_insert(struct lm_res *res, struct lm_req *r)
{
	struct lm_req *at = res->waiting.tail;

	while (at != NULL && (at->task->priority < r->task->priority ||
	    (at->task->priority == r->task->priority && at->task->id > r->task->id)))
		at = at->prev;
	list_insert_after(&res->waiting, at, r);
	/*
	 * Ready requests form a prefix of the queue. If r landed inside it,
	 * those it went ahead of were judged without it and are judged again.
	 */
	if (r->prev == NULL || r->prev->ready)
		unready_from(res, r);
}

/*
 * Every request before r must be ready. Makes r and every ready request
 * after it unready, for advance() to judge again; a task already in the
 * heap is dropped from it by next_ready if it is not ready by then.
 */
static void unready_from(struct lm_res *res, struct lm_req *r)
{
	struct lm_req *q;

	for (q = r; q != NULL && q != res->first_unready; q = q->next) {
		if (!q->ready)
			continue;
		q->ready = 0;
		if (q->mode == LOCK_SLOT)
			res->nready_slots--;
		q->task->nready--;
	}
	res->first_unready = r;
}

/*
 * Marks ready the waiting requests that have become compatible with the
 * holders and with everything queued ahead of them. Readiness only ever
 * grows while a request waits (holders come only from ready requests, which
 * are all shared or a single exclusive at the head), so the walk resumes at
 * first_unready and stops at the first request that must still wait: that
 * is FIFO, and the cost is the number of requests made ready.
 */
static void advance(struct lockmgr *lm, struct lm_res *res)
{
	struct lm_req *r;

	while ((r = res->first_unready) != NULL && !res->paused) {
		if (r->mode == LOCK_EXCLUSIVE) {
			if (res->exclusive || res->nshared != 0 || res->nslots != 0 || r->prev != NULL)
				break;
		} else {
			/* Requests ahead are ready, so only the one just ahead can be exclusive. */
			if (res->exclusive || (r->prev != NULL && r->prev->mode == LOCK_EXCLUSIVE))
				break;
			/* Ready slots ahead will be held: they count against the capacity. */
			if (r->mode == LOCK_SLOT &&
			    res->nslots + res->nready_slots >= res_capacity(res))
				break;
		}
		r->ready = 1;
		if (r->mode == LOCK_SLOT)
			res->nready_slots++;
		res->first_unready = r->next;
		mark_ready(lm, r->task);
	}
}

static void mark_ready(struct lockmgr *lm, struct lm_task *t)
{
	t->nready++;
	if (t->nready == t->nres && !t->in_heap) {
		t->in_heap = 1;
		lm->unpushed--;
		heap_push(lm, t);
	}
}

static int heap_reserve(struct lockmgr *lm, size_t want)
{
	size_t cap = lm->heap_cap != 0 ? lm->heap_cap : 64;
	struct lm_heap_item *heap;

	if (want <= lm->heap_cap)
		return 0;
	while (cap < want) {
		if (cap > SIZE_MAX / 2 / sizeof *heap)
			return -1;
		cap *= 2;
	}
	if ((heap = realloc(lm->heap, cap * sizeof *heap)) == NULL)
		return -1;
	lm->heap = heap;
	lm->heap_cap = cap;
	return 0;
}

static int heap_before(const struct lm_heap_item *a, const struct lm_heap_item *b)
{
	return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
}

/* Never allocates: enqueue reserved a slot for every task that may be pushed. */
static void heap_push(struct lockmgr *lm, const struct lm_task *t)
{
	struct lm_heap_item item = { t->id, t->priority };
	size_t i = lm->heap_len++, parent;

	assert(lm->heap_len <= lm->heap_cap);
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!heap_before(&item, &lm->heap[parent]))
			break;
		lm->heap[i] = lm->heap[parent];
		i = parent;
	}
	lm->heap[i] = item;
}

static void heap_pop(struct lockmgr *lm)
{
	struct lm_heap_item last = lm->heap[--lm->heap_len];
	size_t i = 0, child, n = lm->heap_len;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && heap_before(&lm->heap[child + 1], &lm->heap[child]))
			child++;
		if (!heap_before(&lm->heap[child], &last))
			break;
		lm->heap[i] = lm->heap[child];
		i = child;
	}
	if (n > 0)
		lm->heap[i] = last;
}

/* Like the tables, gives memory back after a burst; the reserve stays honoured. */
static void heap_shrink(struct lockmgr *lm)
{
	size_t need = lm->heap_len + lm->unpushed, cap = lm->heap_cap;
	struct lm_heap_item *heap;

	if (cap <= 64 || need >= cap / 8)
		return;
	while (cap > 64 && need < cap / 4)
		cap /= 2;
	if ((heap = realloc(lm->heap, cap * sizeof *heap)) == NULL)
		return;
	lm->heap = heap;
	lm->heap_cap = cap;
}

static int cmp_req_name(const void *a, const void *b)
{
	const struct lock_req *x = *(const struct lock_req *const *)a;
	const struct lock_req *y = *(const struct lock_req *const *)b;

	return strcmp(x->resource, y->resource);
}

static int cmp_res_name(const void *a, const void *b)
{
	const struct lm_res *x = *(const struct lm_res *const *)a;
	const struct lm_res *y = *(const struct lm_res *const *)b;

	return strcmp(x->name, y->name);
}
