/* test_refresh.c: refresh.c's rules with a measurement the test steers: the first asker waits for the first result, later ones never wait, an old one is made again, a failed one keeps the last, and a long one spaces out the next. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "depotd.h"
#include "timeutil.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

/* What the measurement does next, set by the test under steer.mu. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	int calls;		/* measurements begun */
	int fail;		/* the next ones return -1 */
	int hold;		/* the next ones wait until it is 0 */
	int64_t sleep_ms;	/* each takes this long */
} steer = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0 };

static int measure(void *result, const int *stop)
{
	int n, rc;

	pthread_mutex_lock(&steer.mu);
	n = ++steer.calls;
	pthread_cond_broadcast(&steer.changed);
	/* Looks at stop every 10 ms, as a walk does at each file. */
	while (steer.hold && !__atomic_load_n(stop, __ATOMIC_RELAXED)) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 10000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&steer.changed, &steer.mu, &until);
	}
	rc = steer.fail ? -1 : 0;
	pthread_mutex_unlock(&steer.mu);
	if (steer.sleep_ms > 0) {
		struct timespec t = { steer.sleep_ms / 1000, (steer.sleep_ms % 1000) * 1000000L };
		nanosleep(&t, NULL);
	}
	if (rc == 0)
		*(int *)result = n;
	return rc;
}

static void set(int *field, int value)
{
	pthread_mutex_lock(&steer.mu);
	*field = value;
	pthread_cond_broadcast(&steer.changed);
	pthread_mutex_unlock(&steer.mu);
}

/* Waits (5 s at most) until n measurements have begun. */
static void wait_calls(int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&steer.mu);
	while (steer.calls < n && pthread_cond_timedwait(&steer.changed, &steer.mu, &until) == 0)
		;
	assert_true(steer.calls >= n);
	pthread_mutex_unlock(&steer.mu);
}

/* Reads the result until it is want (5 s at most), asking for no new one. */
static void wait_result(struct refresh *r, int want)
{
	int64_t deadline = time_mono_ms() + 5000;
	int got = 0;

	while (time_mono_ms() < deadline) {
		if (refresh_get(r, 60000, &got) != 0 && got == want)
			return;
		struct timespec t = { 0, 5000000L };
		nanosleep(&t, NULL);
	}
	fail_msg("the result stayed %d, not %d", got, want);
}

static int calls_now(void)
{
	int n;

	pthread_mutex_lock(&steer.mu);
	n = steer.calls;
	pthread_mutex_unlock(&steer.mu);
	return n;
}

/* Asks for a new result (max age 0) until n measurements have begun, each answer still the one of at. */
static void ask_until_calls(struct refresh *r, int n, int64_t at)
{
	int64_t deadline = time_mono_ms() + 5000;
	int got;

	while (calls_now() < n && time_mono_ms() < deadline) {
		struct timespec t = { 0, 5000000L };

		assert_int_equal(refresh_get(r, 0, &got), at);
		nanosleep(&t, NULL);
	}
	assert_true(calls_now() >= n);
}

static int reset(void **state)
{
	(void)state;
	steer.calls = steer.fail = steer.hold = 0;
	steer.sleep_ms = 0;
	return 0;
}

static void the_first_asker_waits_for_the_first_result(void **state)
{
	static int result;
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 0);
	int64_t before = time_now_ms(), at;
	int got = 0;

	(void)state;
	at = refresh_get(&r, 60000, &got);
	assert_true(at >= before);
	assert_int_equal(got, 1);
	/* Fresh: the next asker gets it again, and nothing is measured anew. */
	assert_int_equal(refresh_get(&r, 60000, &got), at);
	assert_int_equal(got, 1);
	assert_int_equal(calls_now(), 1);
	refresh_stop(&r);
}

static void later_askers_never_wait_and_an_old_result_is_made_again(void **state)
{
	static int result;
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 0);
	int got = 0;

	(void)state;
	assert_int_not_equal(refresh_get(&r, 60000, &got), 0);
	set(&steer.hold, 1);
	/* Old at once (max age 0): a new one is asked for, and the last one answered meanwhile. */
	assert_int_not_equal(refresh_get(&r, 0, &got), 0);
	assert_int_equal(got, 1);
	wait_calls(2);
	assert_int_not_equal(refresh_get(&r, 0, &got), 0);
	assert_int_equal(got, 1);
	set(&steer.hold, 0);
	wait_result(&r, 2);
	refresh_stop(&r);
}

static void a_first_result_that_is_held_is_not_waited_for_past_200_ms(void **state)
{
	static int result;
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 0);
	int got = -7;

	(void)state;
	set(&steer.hold, 1);
	assert_int_equal(refresh_get(&r, 60000, &got), 0);
	assert_int_equal(got, -7);
	/* Only the very first asker waits. */
	assert_int_equal(refresh_get(&r, 60000, &got), 0);
	set(&steer.hold, 0);
	wait_result(&r, 1);
	refresh_stop(&r);
}

static void a_failed_measurement_keeps_the_last_result(void **state)
{
	static int result;
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 0);
	int64_t at;
	int got = 0;

	(void)state;
	at = refresh_get(&r, 60000, &got);
	assert_int_equal(got, 1);
	set(&steer.fail, 1);
	ask_until_calls(&r, 3, at);
	assert_int_equal(refresh_get(&r, 0, &got), at);
	assert_int_equal(got, 1);
	/* Succeeding again, the next one asked for replaces it. */
	set(&steer.fail, 0);
	for (int64_t deadline = time_mono_ms() + 5000; time_mono_ms() < deadline;) {
		struct timespec t = { 0, 5000000L };

		if (refresh_get(&r, 0, &got) != at)
			break;
		nanosleep(&t, NULL);
	}
	assert_true(got > 3);
	refresh_stop(&r);
}

static void a_long_measurement_spaces_out_the_next(void **state)
{
	static int result;
	/* 20 times a 100 ms measurement: none again for 2 s, whatever the asker allows. */
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 20);
	int got = 0, i;

	(void)state;
	steer.sleep_ms = 100;
	assert_int_not_equal(refresh_get(&r, 60000, &got), 0);
	assert_int_equal(got, 1);
	for (i = 0; i < 20; i++) {
		struct timespec t = { 0, 10000000L };
		refresh_get(&r, 0, &got);
		nanosleep(&t, NULL);
	}
	assert_int_equal(calls_now(), 1);
	refresh_stop(&r);
}

static void stop_ends_a_measurement_that_heeds_it(void **state)
{
	static int result;
	static struct refresh r = REFRESH_INIT("a test's figure", measure, &result, 0);
	int got = 0;

	(void)state;
	set(&steer.hold, 1);
	refresh_get(&r, 60000, &got);
	wait_calls(1);
	/* The held measurement sees stop and returns: the thread is joined, not left behind. */
	refresh_stop(&r);
	assert_int_equal(r.started, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(the_first_asker_waits_for_the_first_result, reset),
		cmocka_unit_test_setup(later_askers_never_wait_and_an_old_result_is_made_again, reset),
		cmocka_unit_test_setup(a_first_result_that_is_held_is_not_waited_for_past_200_ms, reset),
		cmocka_unit_test_setup(a_failed_measurement_keeps_the_last_result, reset),
		cmocka_unit_test_setup(a_long_measurement_spaces_out_the_next, reset),
		cmocka_unit_test_setup(stop_ends_a_measurement_that_heeds_it, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
