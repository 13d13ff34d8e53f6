/* workq.h: threads that run a caller's function on queued jobs, beside the caller, who never waits to queue one (a sync's small downloads are written to disk this way while the next ones arrive). */
#ifndef DEPOT_WORKQ_H
#define DEPOT_WORKQ_H
#include <stddef.h>

struct workq;

/*
 * Runs one job on one of the queue's threads, perhaps while another runs
 * the next: jobs start in the order queued, and may end in any. 0 to go
 * on; nonzero stops the queue: the jobs not started are dropped.
 */
typedef int (*workq_run_fn)(void *ctx, void *job);
/*
 * Frees a job that will not run (after a failure, or at workq_stop without
 * drain). It runs with the queue's lock held: it must not call workq_*.
 */
typedef void (*workq_drop_fn)(void *ctx, void *job);

/*
 * Starts threads threads (1 to WORKQ_THREADS_MAX); with fewer to be had,
 * as many as could be. NULL with errno when not one thread or no memory
 * could be had.
 */
#define WORKQ_THREADS_MAX 8
struct workq *workq_start(workq_run_fn run, workq_drop_fn drop, void *ctx, int threads);
/*
 * Queues job, which weighs cost (bytes it holds, say): never waits. -1 with
 * errno ENOMEM, or ECANCELED when the queue has stopped on a failure; job
 * is dropped then, so the caller owns it no more either way.
 */
int workq_push(struct workq *q, void *job, size_t cost);
/*
 * The cost queued and not yet run (a caller bounds its memory by holding
 * back while this is high), and in *failed (when not NULL) whether a job's
 * run stopped the queue: one look, one lock.
 */
size_t workq_backlog(struct workq *q, int *failed);
/*
 * With drain, waits until every queued job has run (or the queue stopped
 * on a failure); without, drops what has not started and waits only for
 * the jobs running. Then joins the threads and frees q. Returns whether a
 * job stopped the queue.
 */
int workq_stop(struct workq *q, int drain);

#endif
