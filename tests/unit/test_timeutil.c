/* test_timeutil.c: times as people give them, in a named zone across DST changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <time.h>

#include "timeutil.h"
#include "depotd.h"

/* The daemon objects linked into every unit test refer to the global state. */
struct depotd *D;

static int64_t utc(const char *rfc3339)
{
	int64_t ms;

	assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
	return ms;
}

static int berlin(void **state)
{
	(void)state;
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	return 0;
}

static void test_local_dates_in_a_named_zone(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(time_parse_local("2026-12-24 18:00", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-12-24T17:00:00Z"));
	assert_int_equal(time_parse_local("2026-07-01T08:30:15", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-07-01T06:30:15Z"));
	/* A zone given wins over the local one. */
	assert_int_equal(time_parse_local("2026-07-01T08:30:00Z", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-07-01T08:30:00Z"));
	assert_int_equal(time_parse_local("2026-07-01T08:30:00-05:00", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-07-01T13:30:00Z"));
}

static void test_dst_gap_and_repeat(void **state)
{
	int64_t ms;

	(void)state;
	/* 29 March 2026, 02:00 CET becomes 03:00 CEST: 02:30 does not exist. */
	assert_int_equal(time_parse_local("2026-03-29 02:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-03-29T01:30:00Z"));
	/* 25 October 2026, 03:00 CEST becomes 02:00 CET: 02:30 happens twice; the first. */
	assert_int_equal(time_parse_local("2026-10-25 02:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-10-25T00:30:00Z"));
}

/* Dublin's winter time is, in the tz database, a negative DST: the hint must not decide. */
static void test_dst_gap_with_negative_dst(void **state)
{
	int64_t ms;

	(void)state;
	setenv("TZ", "Europe/Dublin", 1);
	tzset();
	/* 29 March 2026, 01:00 GMT becomes 02:00 IST: 01:30 is read with GMT's offset. */
	assert_int_equal(time_parse_local("2026-03-29 01:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-03-29T01:30:00Z"));
	assert_int_equal(time_parse_local("2026-07-01 12:00", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-07-01T11:00:00Z"));
	/* 25 October 2026, 02:00 IST becomes 01:00 GMT: the first 01:30, in IST. */
	assert_int_equal(time_parse_local("2026-10-25 01:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-10-25T00:30:00Z"));
	setenv("TZ", "America/New_York", 1);
	tzset();
	assert_int_equal(time_parse_local("2026-03-08 02:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-03-08T07:30:00Z"));
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(time_parse_local("2026-03-08 02:30", 0, &ms), 0);
	assert_int_equal(ms, utc("2026-03-08T02:30:00Z"));
}

static void test_time_of_day_is_next(void **state)
{
	int64_t ms, now = utc("2026-03-28T21:00:00Z");	/* 22:00 CET */

	(void)state;
	/* Later today. */
	assert_int_equal(time_parse_local("23:15", now, &ms), 0);
	assert_int_equal(ms, utc("2026-03-28T22:15:00Z"));
	/* Passed today: tomorrow's, which is after the change to CEST. */
	assert_int_equal(time_parse_local("09:00", now, &ms), 0);
	assert_int_equal(ms, utc("2026-03-29T07:00:00Z"));
	/* At the end of a month. */
	now = utc("2026-01-31T22:30:00Z");
	assert_int_equal(time_parse_local("06:00:30", now, &ms), 0);
	assert_int_equal(ms, utc("2026-02-01T05:00:30Z"));
}

static void test_bad_times_refused(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(time_parse_local("tomorrow", 0, &ms), -1);
	assert_int_equal(time_parse_local("25:00", 0, &ms), -1);
	assert_int_equal(time_parse_local("2026-13-01 00:00", 0, &ms), -1);
	assert_int_equal(time_parse_local("12:00 junk", 0, &ms), -1);
	assert_int_equal(time_parse_local("", 0, &ms), -1);
	assert_int_equal(time_parse_local(NULL, 0, &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_local_dates_in_a_named_zone, berlin),
		cmocka_unit_test_setup(test_dst_gap_and_repeat, berlin),
		cmocka_unit_test_setup(test_time_of_day_is_next, berlin),
		cmocka_unit_test(test_dst_gap_with_negative_dst),
		cmocka_unit_test_setup(test_bad_times_refused, berlin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
