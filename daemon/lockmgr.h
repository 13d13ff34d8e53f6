/* lockmgr.h: reservations on named resources; all-or-nothing grants, FIFO per resource. */
#ifndef DEPOT_LOCKMGR_H
#define DEPOT_LOCKMGR_H
#include <stddef.h>
#include <stdint.h>

enum lock_mode { LOCK_SHARED = 0, LOCK_EXCLUSIVE = 1 };

struct lock_req {
	const char *resource;	/* 1..255 bytes; copied */
	enum lock_mode mode;
};

struct lockmgr_entry {
	int64_t task;
	enum lock_mode mode;
	int held;		/* 1: granted, 0: waiting */
};

struct lockmgr;

struct lockmgr *lockmgr_new(void);
void lockmgr_free(struct lockmgr *lm);

/*
 * Queues task id's reservations behind every earlier request on each
 * resource. Ids must be enqueued in increasing order (task ids are); the
 * same resource named twice in one task is one reservation, exclusive if
 * either asked for it. Returns 0, or -1 (id already known, n == 0, or out
 * of memory).
 */
int lockmgr_enqueue(struct lockmgr *lm, int64_t id, const struct lock_req *reqs, size_t n);

/*
 * The oldest queued task whose reservations can all be granted now, or 0.
 * A task is ready when, on each of its resources, the holders and every
 * request queued ahead of it are compatible with it. Amortised O(log n).
 */
int64_t lockmgr_next_ready(struct lockmgr *lm);

/* Grants a ready task its reservations. -1 if it is not ready. */
int lockmgr_grant(struct lockmgr *lm, int64_t id);

/*
 * Releases a holder's reservations, or takes a waiting task out of its
 * queues; either may make later tasks ready. Cost O(resources of the task
 * + tasks it makes ready). -1 if the id is unknown.
 */
int lockmgr_release(struct lockmgr *lm, int64_t id);

/* 1 if id holds its reservations, 0 if waiting, -1 if unknown. */
int lockmgr_is_held(const struct lockmgr *lm, int64_t id);

/* Counts of tasks holding and waiting. */
size_t lockmgr_held_tasks(const struct lockmgr *lm);
size_t lockmgr_waiting_tasks(const struct lockmgr *lm);

/*
 * Calls fn once per resource that has holders or waiters, in resource name
 * order: holders first, then waiters in queue order.
 */
typedef void (*lockmgr_visit_fn)(void *ctx, const char *resource,
    const struct lockmgr_entry *entries, size_t n);
void lockmgr_visit(const struct lockmgr *lm, lockmgr_visit_fn fn, void *ctx);

#endif
