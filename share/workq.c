/* workq.c: threads that run a caller's function on queued jobs, beside the caller, who never waits to queue one. */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct workq_item {
	struct workq_item *next;
	void *job;
	size_t cost;
};

struct workq {
	pthread_t thread[WORKQ_THREADS_MAX];
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	workq_run_fn run;
	workq_drop_fn drop;
	void *ctx;
	struct workq_item *head, *tail;
	size_t backlog;
	size_t queued;			/* jobs in the list, not yet taken */
	int stopping, drain, failed;
	/* Threads in the wait, and wake-ups sent that none of them has taken yet. */
	int waiting, woken;
};

/*
 * Drops every queued job; called with mu held, whose holder then owns none
 * of them. The backlog is then 0, though another thread may still run a
 * job: its end takes that job's cost off again, below 0, and drops
 * everything in the same locked turn, so no caller sees the wrap.
 */
static void workq_drop_all(struct workq *q)
{
	while (q->head != NULL) {
		struct workq_item *it = q->head;

		q->head = it->next;
		q->drop(q->ctx, it->job);
		free(it);
	}
	q->tail = NULL;
	q->backlog = 0;
	q->queued = 0;
}

static void *workq_thread(void *arg)
{
	struct workq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct workq_item *it;
		int rc;

		while (q->head == NULL && !q->stopping && !q->failed) {
			q->waiting++;
			pthread_cond_wait(&q->cv, &q->mu);
			q->waiting--;
			if (q->woken > 0)
				q->woken--;
		}
		if (q->head == NULL || q->failed || (q->stopping && !q->drain))
			break;
		it = q->head;
		q->head = it->next;
		q->queued--;
		if (q->head == NULL)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		/* The job runs unlocked: the caller goes on queueing meanwhile. */
		rc = q->run(q->ctx, it->job);
		pthread_mutex_lock(&q->mu);
		q->backlog -= it->cost;
		free(it);
		if (rc != 0) {
			q->failed = 1;
			/* The other threads end too, once the job they run is done. */
			pthread_cond_broadcast(&q->cv);
			break;
		}
	}
	workq_drop_all(q);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct workq *workq_start(workq_run_fn run, workq_drop_fn drop, void *ctx, int threads)
{
	struct workq *q = calloc(1, sizeof *q);
	int e = 0;

	if (q == NULL)
		return NULL;
	q->run = run;
	q->drop = drop;
	q->ctx = ctx;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (threads > WORKQ_THREADS_MAX)
		threads = WORKQ_THREADS_MAX;
	while (q->nthreads < threads &&
	    (e = pthread_create(&q->thread[q->nthreads], NULL, workq_thread, q)) == 0)
		q->nthreads++;
	if (q->nthreads == 0) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		errno = e != 0 ? e : EINVAL;
		return NULL;
	}
	return q;
}

int workq_push(struct workq *q, void *job, size_t cost)
{
	struct workq_item *it = malloc(sizeof *it);
	int wake;

	pthread_mutex_lock(&q->mu);
	if (it == NULL || q->failed) {
		pthread_mutex_unlock(&q->mu);
		free(it);
		q->drop(q->ctx, job);
		errno = it == NULL ? ENOMEM : ECANCELED;
		return -1;
	}
	*it = (struct workq_item){ NULL, job, cost };
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->backlog += cost;
	q->queued++;
	/*
	 * A thread is woken for each job queued while more wait than are woken
	 * already, not for every job: a sync queues about seven at a time, and
	 * a wake-up each was a tenth of its transfers' thread. A thread takes
	 * jobs until none is left before it waits again.
	 */
	wake = q->waiting > q->woken && q->queued > (size_t)q->woken;
	if (wake)
		q->woken++;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->cv);
	return 0;
}

size_t workq_backlog(struct workq *q, int *failed)
{
	size_t b;

	pthread_mutex_lock(&q->mu);
	b = q->backlog;
	if (failed != NULL)
		*failed = q->failed;
	pthread_mutex_unlock(&q->mu);
	return b;
}

int workq_stop(struct workq *q, int drain)
{
	int failed;

	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	q->drain = drain;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->thread[i], NULL);
	failed = q->failed;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	return failed;
}
