/* contentsize.c: the bytes in content/, counted for status and metrics by a thread of their own, so that walking a large store never stalls the loop. */
#include "depotd.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * The walk stats every stored file: 0.7 s for 200,000 files with their
 * inodes cached, 3 s without (measured), done on the loop every 10 s
 * while anyone polled status. Here the loop only reads the last count
 * and, when it is older than its caller allows, asks for a new one.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake, counted;
	pthread_t thread;
	int started, stop, wanted, waited;
	int64_t bytes;		/* -1 until the first walk ended */
	int64_t at;		/* time_mono_ms when it ended, 0 before */
} C = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
	.counted = PTHREAD_COND_INITIALIZER, .bytes = -1,
};

/* The first asker waits this long for the first count (a small store's is there by then); later ones do not wait. */
#define FIRST_COUNT_WAIT_MS 200

/* How long a stopping daemon waits for a walk to notice. */
#define STOP_WAIT_S 2

static void *count_thread(void *arg)
{
	char path[4200];
	long long bytes;

	(void)arg;
	paths_join(path, sizeof path, D->dir, "content");
	pthread_mutex_lock(&C.mu);
	for (;;) {
		while (!C.wanted && !C.stop)
			pthread_cond_wait(&C.wake, &C.mu);
		if (C.stop)
			break;
		C.wanted = 0;
		pthread_mutex_unlock(&C.mu);
		/* A stopping daemon does not wait for the rest of a large store (C.stop). */
		if ((bytes = fs_tree_bytes(path, FS_TREE_FILE_BYTES, &C.stop)) < 0) {
			/* A store with no content/ yet holds nothing: 0, like an empty one. */
			if (errno == ENOENT)
				bytes = 0;
			else if (errno != EINTR)
				log_warn("counting the bytes in %s: %m", path);
		}
		pthread_mutex_lock(&C.mu);
		if (C.stop)
			break;
		if (bytes < 0) {
			/* Asked again at the next status or scrape that finds the count old. */
			continue;
		}
		C.bytes = bytes;
		C.at = time_mono_ms();
		pthread_cond_broadcast(&C.counted);
	}
	pthread_mutex_unlock(&C.mu);
	return NULL;
}

int64_t contentsize_bytes(int64_t max_age_ms)
{
	int64_t bytes;

	pthread_mutex_lock(&C.mu);
	if (C.at == 0 || time_mono_ms() - C.at >= max_age_ms) {
		/* Started here, from the loop: after loop_init, so it blocks the loop's signals too. */
		if (!C.started && pthread_create(&C.thread, NULL, count_thread, NULL) != 0)
			log_warn("starting the thread that counts the content store's bytes: %m");
		else {
			C.started = 1;
			C.wanted = 1;
			pthread_cond_signal(&C.wake);
		}
	}
	if (C.at == 0 && C.started && !C.waited) {
		struct timespec until;

		C.waited = 1;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += FIRST_COUNT_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (C.at == 0 && pthread_cond_timedwait(&C.counted, &C.mu, &until) == 0)
			;
	}
	bytes = C.bytes;
	pthread_mutex_unlock(&C.mu);
	return bytes;
}

void contentsize_stop(void)
{
	struct timespec until;

	pthread_mutex_lock(&C.mu);
	__atomic_store_n(&C.stop, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&C.wake);
	pthread_mutex_unlock(&C.mu);
	if (!C.started)
		return;
	/*
	 * A walk stops at its next file, but a stat can hang (a dead network
	 * file system): the daemon's exit does not wait for it beyond this.
	 */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_WAIT_S;
	if (pthread_timedjoin_np(C.thread, NULL, &until) != 0)
		log_warn("the count of the content store's bytes did not stop within %d s; "
		    "exiting without it", STOP_WAIT_S);
	C.started = 0;
}
