/* test_workq.c: workq's threads run every queued job once, also jobs queued in bursts between idle spells, a failure stops the queue and drops the rest, a stop without drain drops what has not started, and the backlog counts what waits. */
#include "workq.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define JOBS 1000

/* The daemon's objects are linked in with every unit test, and they name this. */
struct depotd *D;

/* What the jobs did, by job number: run or dropped, each exactly once. */
struct rec {
	atomic_int ran[JOBS], dropped[JOBS];
	atomic_int running, most_running;
	int fail_at;			/* the job whose run fails; -1: none */
	/* While gate is closed, every job waits in its run: the test decides what has started. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int gate_open, started;
};

static int run_job(void *ctx, void *job)
{
	struct rec *r = ctx;
	int n = (int)(intptr_t)job, now;

	now = atomic_fetch_add(&r->running, 1) + 1;
	for (int m = atomic_load(&r->most_running); now > m &&
	    !atomic_compare_exchange_weak(&r->most_running, &m, now); )
		;
	pthread_mutex_lock(&r->mu);
	r->started++;
	pthread_cond_broadcast(&r->cv);
	while (!r->gate_open)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	atomic_fetch_add(&r->ran[n], 1);
	atomic_fetch_sub(&r->running, 1);
	return n == r->fail_at;
}

static void drop_job(void *ctx, void *job)
{
	struct rec *r = ctx;

	atomic_fetch_add(&r->dropped[(int)(intptr_t)job], 1);
}

static struct rec *rec_new(int gate_open, int fail_at)
{
	struct rec *r = calloc(1, sizeof *r);

	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->gate_open = gate_open;
	r->fail_at = fail_at;
	return r;
}

static void rec_free(struct rec *r)
{
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void open_gate(struct rec *r)
{
	pthread_mutex_lock(&r->mu);
	r->gate_open = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void *open_gate_thread(void *r)
{
	open_gate(r);
	return NULL;
}

/* The threads this process has, as the kernel lists them. */
static int threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Waits until n jobs have entered their run (and wait at the gate). */
static void wait_started(struct rec *r, int n)
{
	pthread_mutex_lock(&r->mu);
	while (r->started < n)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

static void test_drain_runs_every_job_once_on_every_thread(void **state)
{
	struct rec *r = rec_new(0, -1);
	struct workq *q = workq_start(run_job, drop_job, r, 2);

	(void)state;
	assert_non_null(q);
	for (int i = 0; i < JOBS; i++)
		assert_int_equal(workq_push(q, (void *)(intptr_t)i, 10), 0);
	/* Both threads hold a job at the gate: two run at once. */
	wait_started(r, 2);
	assert_int_equal(atomic_load(&r->most_running), 2);
	assert_int_equal(workq_backlog(q, NULL), (size_t)(JOBS - 2) * 10 + 2 * 10);
	open_gate(r);
	assert_int_equal(workq_stop(q, 1), 0);
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(atomic_load(&r->ran[i]), 1);
		assert_int_equal(atomic_load(&r->dropped[i]), 0);
	}
	rec_free(r);
}

static void test_backlog_falls_as_jobs_end(void **state)
{
	struct rec *r = rec_new(0, -1);
	struct workq *q = workq_start(run_job, drop_job, r, 1);

	(void)state;
	assert_int_equal(workq_backlog(q, NULL), 0);
	workq_push(q, (void *)(intptr_t)0, 100);
	workq_push(q, (void *)(intptr_t)1, 20);
	wait_started(r, 1);
	/* A job counts until its run ends, not when it starts. */
	assert_int_equal(workq_backlog(q, NULL), 120);
	open_gate(r);
	for (int tries = 0; workq_backlog(q, NULL) != 0 && tries < 5000; tries++)
		usleep(1000);
	assert_int_equal(workq_backlog(q, NULL), 0);
	assert_int_equal(workq_stop(q, 1), 0);
	rec_free(r);
}

static void test_failure_stops_the_queue_and_drops_the_rest(void **state)
{
	struct rec *r = rec_new(1, 3);
	struct workq *q = workq_start(run_job, drop_job, r, 1);
	int pushed_after = 0, failed = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		workq_push(q, (void *)(intptr_t)i, 1);
	for (int tries = 0; (workq_backlog(q, &failed), !failed) && tries < 5000; tries++)
		usleep(1000);
	assert_true(failed);
	/* A job queued after the failure is refused and dropped at once: the caller owns it no more. */
	if (workq_push(q, (void *)(intptr_t)10, 1) < 0)
		pushed_after = -1;
	assert_int_equal(pushed_after, -1);
	assert_int_equal(workq_stop(q, 1), 1);
	/* One thread, in order: 0-3 ran (3 failed), 4-10 were dropped, none both. */
	for (int i = 0; i <= 10; i++) {
		assert_int_equal(atomic_load(&r->ran[i]), i <= 3);
		assert_int_equal(atomic_load(&r->dropped[i]), i > 3);
	}
	rec_free(r);
}

static void test_stop_without_drain_drops_what_has_not_started(void **state)
{
	struct rec *r = rec_new(0, -1);
	struct workq *q = workq_start(run_job, drop_job, r, 2);
	pthread_t opener;
	int started;

	(void)state;
	for (int i = 0; i < 50; i++)
		workq_push(q, (void *)(intptr_t)i, 1);
	wait_started(r, 2);
	/* The stop waits for the two jobs at the gate; open it from beside. */
	assert_int_equal(pthread_create(&opener, NULL, open_gate_thread, r), 0);
	assert_int_equal(workq_stop(q, 0), 0);
	pthread_join(opener, NULL);
	started = 0;
	for (int i = 0; i < 50; i++) {
		assert_int_equal(atomic_load(&r->ran[i]) + atomic_load(&r->dropped[i]), 1);
		started += atomic_load(&r->ran[i]);
	}
	/* Those two, and perhaps one more each thread took before it saw the stop. */
	assert_in_range(started, 2, 4);
	rec_free(r);
}

/*
 * Jobs queued in bursts, the threads idle in between: a thread is woken
 * for a job only while more wait than are woken already, and none may be
 * left waiting beside a queued job (a lost wake-up hangs here).
 */
static void test_bursts_after_idle_all_run(void **state)
{
	struct rec *r = rec_new(1, -1);
	struct workq *q = workq_start(run_job, drop_job, r, 2);
	int n = 0;

	(void)state;
	assert_non_null(q);
	for (int burst = 0; n < JOBS; burst++) {
		for (int k = 0; k <= burst % 5 && n < JOBS; k++)
			assert_int_equal(workq_push(q, (void *)(intptr_t)n++, 1), 0);
		for (int tries = 0; workq_backlog(q, NULL) != 0 && tries < 5000; tries++)
			usleep(100);
		assert_int_equal(workq_backlog(q, NULL), 0);
	}
	assert_int_equal(workq_stop(q, 1), 0);
	for (int i = 0; i < JOBS; i++)
		assert_int_equal(atomic_load(&r->ran[i]), 1);
	rec_free(r);
}

static void test_thread_count_is_bounded(void **state)
{
	struct rec *r = rec_new(0, -1);
	int before = threads_now();
	struct workq *q = workq_start(run_job, drop_job, r, WORKQ_THREADS_MAX + 5);

	(void)state;
	assert_int_equal(threads_now() - before, WORKQ_THREADS_MAX);
	for (int i = 0; i < 2 * WORKQ_THREADS_MAX; i++)
		workq_push(q, (void *)(intptr_t)i, 1);
	wait_started(r, WORKQ_THREADS_MAX);
	open_gate(r);
	assert_int_equal(workq_stop(q, 1), 0);
	/* Every thread joined. */
	assert_int_equal(threads_now(), before);
	rec_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drain_runs_every_job_once_on_every_thread),
		cmocka_unit_test(test_backlog_falls_as_jobs_end),
		cmocka_unit_test(test_failure_stops_the_queue_and_drops_the_rest),
		cmocka_unit_test(test_stop_without_drain_drops_what_has_not_started),
		cmocka_unit_test(test_bursts_after_idle_all_run),
		cmocka_unit_test(test_thread_count_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
