/* test_rate.c: the rate and ETA of a progress line (share/rate.c), from samples with the times the tests choose. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rate.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

static void nothing_known_before_two_samples_a_second_apart(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	assert_true(rate_per_s(&r) < 0);
	assert_int_equal(rate_eta_ms(&r, 100), -1);
	rate_add(&r, 1000, 0);
	assert_true(rate_per_s(&r) < 0);
	/* Half a second is too short a span to tell a rate by. */
	rate_add(&r, 1500, 50);
	assert_true(rate_per_s(&r) < 0);
	assert_int_equal(rate_eta_ms(&r, 100), -1);
	rate_add(&r, 2000, 100);
	assert_float_equal(rate_per_s(&r), 100.0, 1e-9);
}

static void steady_count_gives_its_rate_and_the_time_left(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	/* 1 MiB a second, sampled every second for 5 s, of 20 MiB. */
	for (int64_t s = 0; s <= 5; s++)
		rate_add(&r, 100000 + s * 1000, s * 1048576);
	assert_float_equal(rate_per_s(&r), 1048576.0, 1e-6);
	assert_int_equal(rate_eta_ms(&r, 20 * 1048576), 15000);
}

static void rate_follows_the_last_window_only(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	/* 60 s at 10/s, then 60 s at 1/s: the rate is the recent one. */
	for (int64_t s = 0; s <= 60; s++)
		rate_add(&r, s * 1000, s * 10);
	assert_float_equal(rate_per_s(&r), 10.0, 1e-9);
	for (int64_t s = 61; s <= 120; s++)
		rate_add(&r, s * 1000, 600 + (s - 60));
	assert_float_equal(rate_per_s(&r), 1.0, 1e-9);
	assert_int_equal(rate_eta_ms(&r, 700), 40000);
}

/* A worker reports every 2 s, read every second: the rate is still about right. */
static void heartbeat_steps_are_smoothed_by_the_window(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	for (int64_t s = 0; s <= 30; s++)
		rate_add(&r, s * 1000, (s / 2) * 200);
	assert_true(rate_per_s(&r) >= 90.0 && rate_per_s(&r) <= 110.0);
}

static void a_count_that_stands_still_has_no_eta(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	for (int64_t s = 0; s <= 3; s++)
		rate_add(&r, s * 1000, 40);
	assert_float_equal(rate_per_s(&r), 0.0, 1e-9);
	assert_int_equal(rate_eta_ms(&r, 100), -1);
	/* Unless it is there already. */
	assert_int_equal(rate_eta_ms(&r, 40), 0);
	assert_int_equal(rate_eta_ms(&r, 10), 0);
}

static void no_total_no_eta(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	rate_add(&r, 0, 0);
	rate_add(&r, 2000, 200);
	assert_float_equal(rate_per_s(&r), 100.0, 1e-9);
	assert_int_equal(rate_eta_ms(&r, -1), -1);
}

static void a_count_that_goes_back_starts_afresh(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	rate_add(&r, 0, 0);
	rate_add(&r, 5000, 500);
	/* A retry counts from 0 again: the old attempt's rate is no guide. */
	rate_add(&r, 6000, 0);
	assert_true(rate_per_s(&r) < 0);
	rate_add(&r, 8000, 20);
	assert_float_equal(rate_per_s(&r), 10.0, 1e-9);
	/* A clock read out of order is the same. */
	rate_add(&r, 7000, 30);
	assert_true(rate_per_s(&r) < 0);
}

static void two_readings_of_one_instant_keep_the_later(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	rate_add(&r, 0, 0);
	rate_add(&r, 1000, 10);
	rate_add(&r, 1000, 30);
	assert_float_equal(rate_per_s(&r), 30.0, 1e-9);
}

static void many_samples_in_a_short_time_stay_bounded(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	/* More samples than the ring holds, 10 ms apart: the oldest go, the rate stays right. */
	for (int64_t i = 0; i < RATE_SAMPLES * 4; i++)
		rate_add(&r, i * 10, i);
	assert_int_equal(r.n, RATE_SAMPLES);
	assert_float_equal(rate_per_s(&r), 100.0, 1e-9);
}

static void an_eta_too_far_is_unknown(void **state)
{
	struct rate r;

	(void)state;
	rate_reset(&r);
	rate_add(&r, 0, 0);
	rate_add(&r, 10000, 1);
	assert_int_equal(rate_eta_ms(&r, INT64_C(1) << 50), -1);
	assert_int_equal(rate_eta_ms(&r, 11), 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_known_before_two_samples_a_second_apart),
		cmocka_unit_test(steady_count_gives_its_rate_and_the_time_left),
		cmocka_unit_test(rate_follows_the_last_window_only),
		cmocka_unit_test(heartbeat_steps_are_smoothed_by_the_window),
		cmocka_unit_test(a_count_that_stands_still_has_no_eta),
		cmocka_unit_test(no_total_no_eta),
		cmocka_unit_test(a_count_that_goes_back_starts_afresh),
		cmocka_unit_test(two_readings_of_one_instant_keep_the_later),
		cmocka_unit_test(many_samples_in_a_short_time_stay_bounded),
		cmocka_unit_test(an_eta_too_far_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
