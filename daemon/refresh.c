/* refresh.c: a measurement made by a thread of its own and kept, so that a slow one (a walk of the content store, the database's check) never stalls the loop, which reads the last result and asks for a new one when it is old. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The first asker waits this long for the first result (a small store's is there by then); later ones do not wait. */
#define REFRESH_FIRST_WAIT_MS 200

/* How long a stopping daemon waits for a measurement to notice. */
#define REFRESH_STOP_WAIT_S 2

static void *refresh_thread(void *arg)
{
	struct refresh *r = arg;
	void *scratch = malloc(r->size);

	pthread_mutex_lock(&r->mu);
	for (;;) {
		int64_t t0;
		int rc;

		while (!r->wanted && !r->stop)
			pthread_cond_wait(&r->wake, &r->mu);
		if (r->stop)
			break;
		r->wanted = 0;
		r->running = 1;
		pthread_mutex_unlock(&r->mu);
		t0 = time_mono_ms();
		/* A stopping daemon does not wait for the rest of a long one (r->stop). */
		rc = scratch != NULL ? r->measure(scratch, &r->stop) : -1;
		pthread_mutex_lock(&r->mu);
		r->running = 0;
		if (r->stop)
			break;
		/* Failed (said by measure): asked again by the next caller that finds the last one old. */
		if (rc < 0)
			continue;
		memcpy(r->result, scratch, r->size);
		r->at = time_mono_ms();
		r->wall_at = time_now_ms();
		r->took_ms = r->at - t0;
		pthread_cond_broadcast(&r->done);
	}
	pthread_mutex_unlock(&r->mu);
	free(scratch);
	return NULL;
}

int64_t refresh_get(struct refresh *r, int64_t max_age_ms, void *out)
{
	int64_t wall_at;

	pthread_mutex_lock(&r->mu);
	/* A measurement that took long is not made again sooner than spacing times its length. */
	if (r->spacing > 0 && max_age_ms < r->took_ms * r->spacing)
		max_age_ms = r->took_ms * r->spacing;
	/* One under way will be fresh when it ends: asking again would only make another after it. */
	if ((r->at == 0 || time_mono_ms() - r->at >= max_age_ms) && !r->running) {
		/* Started here, from the loop: after loop_init, so it blocks the loop's signals too. */
		if (!r->started && pthread_create(&r->thread, NULL, refresh_thread, r) != 0)
			log_warn("starting the thread that measures %s: %m", r->what);
		else {
			r->started = 1;
			r->wanted = 1;
			pthread_cond_signal(&r->wake);
		}
	}
	if (r->at == 0 && r->started && !r->waited) {
		struct timespec until;

		r->waited = 1;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += REFRESH_FIRST_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (r->at == 0 && pthread_cond_timedwait(&r->done, &r->mu, &until) == 0)
			;
	}
	wall_at = r->at != 0 ? r->wall_at : 0;
	if (wall_at != 0)
		memcpy(out, r->result, r->size);
	pthread_mutex_unlock(&r->mu);
	return wall_at;
}

void refresh_stop(struct refresh *r)
{
	struct timespec until;

	pthread_mutex_lock(&r->mu);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	if (!r->started)
		return;
	/*
	 * A measurement stops at its next step, but one can hang (a stat on a
	 * dead network file system): the daemon's exit does not wait for it
	 * beyond this.
	 */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REFRESH_STOP_WAIT_S;
	if (pthread_timedjoin_np(r->thread, NULL, &until) != 0)
		log_warn("measuring %s did not stop within %d s; exiting without it", r->what,
		    REFRESH_STOP_WAIT_S);
	r->started = 0;
}
