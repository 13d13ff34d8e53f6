/* lockmgr.h: reservations on named resources; all-or-nothing grants, by priority then FIFO per resource. */
#ifndef DEPOT_LOCKMGR_H
#define DEPOT_LOCKMGR_H
#include <stddef.h>
#include <stdint.h>

/*
 * The modes are share/lockmodes.def's. Shared holders are never counted;
 * slot holders are, up to the resource's capacity (semaphores, as
 * Slurm's licenses); an exclusive holder excludes every other.
 */
#include "vocab.h"

/* A resource's capacity when none was set: one slot, as GNU parallel's sem. */
#define LOCK_CAPACITY_DEFAULT 1

struct lock_req {
	const char *resource;	/* 1..255 bytes; copied */
	enum lock_mode mode;
};

struct lockmgr_entry {
	int64_t task;
	enum lock_mode mode;
	int held;		/* 1: granted, 0: waiting */
	int priority;
};

/* What lockmgr_visit tells of a resource besides its queue. */
struct lockmgr_resource {
	const char *name;
	int capacity;		/* 0: never set (LOCK_CAPACITY_DEFAULT applies) */
	int paused;
	size_t slots_held;
};

struct lockmgr;

struct lockmgr *lockmgr_new(void);
void lockmgr_free(struct lockmgr *lm);

/*
 * Queues task id's reservations on each resource in order of priority,
 * then of id: a task admitted late (its --at passed, the task it runs
 * after ended) takes the place its submission gives it, as it does when
 * the queues are rebuilt at start, so equal priorities stay first come,
 * first served and none starves. The same resource named twice in one
 * task is one reservation: exclusive if either asked for it, else a slot
 * if either did. Returns 0, or -1 (id already known, n == 0, or out of
 * memory). Cost O(resources) for the newest task of its priority, else
 * also the requests it goes ahead of.
 */
int lockmgr_enqueue(struct lockmgr *lm, int64_t id, int priority,
    const struct lock_req *reqs, size_t n);

/*
 * The queued task whose reservations can all be granted now, highest
 * priority first, then oldest; or 0. A task is ready when, on each of its
 * resources, nothing pauses it, the holders and every request queued ahead
 * of it are compatible with it, and a slot is free. Amortised O(log n).
 */
int64_t lockmgr_next_ready(struct lockmgr *lm);

/*
 * A resource's capacity of slots (0 for the default) and its pause (no waiting request of it is granted; holders
 * keep it). A resource with either set is remembered while nobody uses
 * it. Lowering a capacity below the slots held takes none back: later
 * slots wait until enough are released. -1 for a bad name or capacity,
 * or out of memory.
 */
int lockmgr_set_capacity(struct lockmgr *lm, const char *resource, int capacity);
int lockmgr_set_paused(struct lockmgr *lm, const char *resource, int paused);

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
 * Calls fn once per resource that has holders, waiters, a capacity or a
 * pause, in resource name order: holders first, then waiters in queue
 * order.
 */
typedef void (*lockmgr_visit_fn)(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *entries, size_t n);
void lockmgr_visit(const struct lockmgr *lm, lockmgr_visit_fn fn, void *ctx);

/* Why one of a waiting task's reservations is not ready. */
enum lockmgr_hold {
	LOCKMGR_PAUSED,		/* the resource is paused */
	LOCKMGR_CAPACITY,	/* every slot is taken: by the entries given */
	LOCKMGR_BLOCKED,	/* holders or requests ahead conflict, or wait themselves */
};

/*
 * Calls fn for each resource on which waiting task id's request is not
 * ready, with the reason and the tasks in its way (holders, then requests
 * queued ahead): those that conflict with it, and those ahead that wait
 * themselves (FIFO keeps it behind them). Returns how many calls were
 * made, or -1 if id is unknown or held. Cost O(queue ahead of it).
 */
typedef void (*lockmgr_why_fn)(void *ctx, const char *resource, enum lockmgr_hold why,
    const struct lockmgr_entry *entries, size_t n);
int lockmgr_why(const struct lockmgr *lm, int64_t id, lockmgr_why_fn fn, void *ctx);

#endif
