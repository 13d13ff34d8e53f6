/* test_calendar.c: calendar expressions and zones (share/calendar.c): what is accepted, what is refused and why, and the next time across DST changes in named zones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "timeutil.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

static int64_t at(const char *rfc3339);
static void expect_next(const char *expr, const char *tz, const char *after, const char *want);
static void expect_series(const char *expr, const char *tz, const char *after,
    const char *const *want, size_t n);
static void expect_refused(const char *expr, const char *part);

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
	return ms;
}

/* The first time of expr in tz after after is want (NULL: none). */
static void expect_next(const char *expr, const char *tz, const char *after, const char *want)
{
	char err[256] = "", got[TIME_RFC3339_LEN] = "none";
	int64_t next = 0;
	int rc = calendar_next_in(expr, tz, at(after), &next, err, sizeof err);

	if (rc < 0)
		fail_msg("'%s' in %s refused: %s", expr, tz ? tz : "local", err);
	if (rc == 1)
		time_format_rfc3339(next, got);
	if (want == NULL ? rc != 0 : rc != 1 || next != at(want))
		fail_msg("'%s' in %s after %s: got %s, want %s", expr, tz ? tz : "local", after,
		    got, want ? want : "none");
}

/* The next n times of expr in tz, each after the one before, from after. */
static void expect_series(const char *expr, const char *tz, const char *after,
    const char *const *want, size_t n)
{
	char prev[TIME_RFC3339_LEN];

	snprintf(prev, sizeof prev, "%s", after);
	for (size_t i = 0; i < n; i++) {
		expect_next(expr, tz, prev, want[i]);
		snprintf(prev, sizeof prev, "%s", want[i]);
	}
}

/* expr is refused with a message that quotes part. */
static void expect_refused(const char *expr, const char *part)
{
	char err[256] = "";
	struct calendar *c = calendar_parse(expr, err, sizeof err);

	if (c != NULL) {
		calendar_free(c);
		fail_msg("'%s' was accepted", expr);
	}
	if (strstr(err, part) == NULL)
		fail_msg("'%s' refused with \"%s\", which does not name '%s'", expr, err, part);
}

static void shorthands_are_systemds(void **state)
{
	(void)state;
	/* 2026-11-29 is a Sunday. */
	expect_next("minutely", "UTC", "2026-11-29T10:15:30Z", "2026-11-29T10:16:00Z");
	expect_next("hourly", "UTC", "2026-11-29T10:15:00Z", "2026-11-29T11:00:00Z");
	expect_next("daily", "UTC", "2026-11-29T10:15:00Z", "2026-11-30T00:00:00Z");
	expect_next("weekly", "UTC", "2026-11-29T10:15:00Z", "2026-11-30T00:00:00Z");
	expect_next("monthly", "UTC", "2026-11-29T10:15:00Z", "2026-12-01T00:00:00Z");
	expect_next("quarterly", "UTC", "2026-11-29T10:15:00Z", "2027-01-01T00:00:00Z");
	expect_next("yearly", "UTC", "2026-11-29T10:15:00Z", "2027-01-01T00:00:00Z");
	expect_next("annually", "UTC", "2026-11-29T10:15:00Z", "2027-01-01T00:00:00Z");
	expect_next("DAILY", "UTC", "2026-11-29T10:15:00Z", "2026-11-30T00:00:00Z");
}

static void weekdays_dates_and_times(void **state)
{
	static const char *const workdays[] = {
		"2026-11-30T02:00:00Z", "2026-12-01T02:00:00Z", "2026-12-02T02:00:00Z",
		"2026-12-03T02:00:00Z", "2026-12-04T02:00:00Z", "2026-12-07T02:00:00Z",
	};
	static const char *const weekend[] = {
		"2026-11-29T10:30:00Z", "2026-12-05T10:30:00Z", "2026-12-06T10:30:00Z",
	};
	static const char *const quarter[] = {
		"2026-11-29T10:15:00Z", "2026-11-29T10:30:00Z", "2026-11-29T10:45:00Z",
		"2026-11-29T11:00:00Z",
	};

	(void)state;
	expect_series("Mon..Fri 02:00", "UTC", "2026-11-29T00:00:00Z", workdays, 6);
	expect_series("Sat,Sun 10:30", "UTC", "2026-11-29T00:00:00Z", weekend, 3);
	expect_series("*:0/15", "UTC", "2026-11-29T10:00:00Z", quarter, 4);
	expect_next("*-*-01 03:00", "UTC", "2026-11-29T00:00:00Z", "2026-12-01T03:00:00Z");
	expect_next("2026-12-24 18:00", "UTC", "2026-11-29T00:00:00Z", "2026-12-24T18:00:00Z");
	/* Once past, a dated expression has no next time. */
	expect_next("2026-12-24 18:00", "UTC", "2026-12-24T18:00:00Z", NULL);
	expect_next("12-24 18:00", "UTC", "2026-12-24T18:00:00Z", "2027-12-24T18:00:00Z");
	/* Seconds, lists, ranges with steps, a weekday alone. */
	expect_next("*:*:0/2", "UTC", "2026-11-29T10:00:00.500Z", "2026-11-29T10:00:02Z");
	expect_next("*:*:0/2", "UTC", "2026-11-29T10:00:01Z", "2026-11-29T10:00:02Z");
	expect_next("8..18/5:00", "UTC", "2026-11-29T13:30:00Z", "2026-11-29T18:00:00Z");
	expect_next("1,15:45", "UTC", "2026-11-29T02:00:00Z", "2026-11-29T15:45:00Z");
	expect_next("Wed", "UTC", "2026-11-29T02:00:00Z", "2026-12-02T00:00:00Z");
	expect_next("Monday *-*-* 09:00", "UTC", "2026-11-29T02:00:00Z", "2026-11-30T09:00:00Z");
	/* Days a month lacks are skipped, not moved: February 29 comes in leap years. */
	expect_next("*-*-31", "UTC", "2026-11-29T00:00:00Z", "2026-12-31T00:00:00Z");
	expect_next("*-02-29", "UTC", "2026-11-29T00:00:00Z", "2028-02-29T00:00:00Z");
	expect_next("*-02-30", "UTC", "2026-11-29T00:00:00Z", NULL);
	/* A weekday and a date together: both must hold (Friday the 13th). */
	expect_next("Fri *-*-13", "UTC", "2026-11-29T00:00:00Z", "2027-08-13T00:00:00Z");
	/* Strictly after: at the very time, the next one. */
	expect_next("daily", "UTC", "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z");
}

static void refusals_name_the_bad_part(void **state)
{
	(void)state;
	expect_refused("", "empty");
	expect_refused("   ", "empty");
	expect_refused("Mon..Fry 02:00", "Fry");
	expect_refused("Fri..Mon", "backwards");
	expect_refused("25:00", "hour 25");
	expect_refused("12:60", "minute 60");
	expect_refused("12:00:61", "second 61");
	expect_refused("*-13-01", "month 13");
	expect_refused("*-*-32", "day 32");
	expect_refused("1969-01-01", "year 1969");
	expect_refused("*:0/0", "0/0");
	expect_refused("*-*-~1", "~1");
	expect_refused("10:00:00.5", "fractions");
	expect_refused("daily 03:00", "'daily' stands alone");
	expect_refused("Mon..Fri 02:00 Europe/Berlin", "--tz");
	expect_refused("02:00 *-*-01", "'*-*-01'");
	expect_refused("1,,2:00", "empty item");
	expect_refused("5..3:00", "backwards");
	expect_refused("x:00", "'x'");
	expect_refused("1:2:3:4", "HOUR:MINUTE");
	expect_refused("2026-01-02-03", "[YEAR-]MONTH-DAY");
	expect_refused("Mon Tue", "'Tue'");
	expect_refused("99999:00", "'99999'");
}

static void zones_unknown_or_outside_the_database_are_refused(void **state)
{
	char err[256];
	int64_t next;

	(void)state;
	assert_int_equal(calendar_next_in("daily", "Europe/Nowhere", 0, &next, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown time zone 'Europe/Nowhere'"));
	assert_int_equal(calendar_next_in("daily", "../../etc/passwd", 0, &next, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a time zone name"));
	assert_int_equal(calendar_next_in("daily", "/etc/localtime", 0, &next, err, sizeof err), -1);
	assert_int_equal(calendar_next_in("daily", "", 0, &next, err, sizeof err), -1);
	/* A directory of zones is not one. */
	assert_int_equal(calendar_next_in("daily", "Europe", 0, &next, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown time zone 'Europe'"));
	/* A file there that is not TZif. */
	assert_int_equal(calendar_next_in("daily", "zone1970.tab", 0, &next, err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown time zone"));
}

static void offsets_of_named_zones(void **state)
{
	char err[256];
	struct tzone *z = tzone_load("Europe/Berlin", err, sizeof err);

	(void)state;
	assert_non_null(z);
	assert_int_equal(tzone_offset(z, at("2026-01-15T12:00:00Z") / 1000), 3600);
	assert_int_equal(tzone_offset(z, at("2026-07-15T12:00:00Z") / 1000), 7200);
	/* The change itself, 2026-03-29T01:00Z: before, CET; at it, CEST. */
	assert_int_equal(tzone_offset(z, at("2026-03-29T00:59:59Z") / 1000), 3600);
	assert_int_equal(tzone_offset(z, at("2026-03-29T01:00:00Z") / 1000), 7200);
	/* Past the table's last transition: the footer's rule (M3.5.0, M10.5.0/3). */
	assert_int_equal(tzone_offset(z, at("2199-07-01T00:00:00Z") / 1000), 7200);
	assert_int_equal(tzone_offset(z, at("2199-12-01T00:00:00Z") / 1000), 3600);
	tzone_free(z);

	z = tzone_load("America/New_York", err, sizeof err);
	assert_non_null(z);
	assert_int_equal(tzone_offset(z, at("2026-01-15T12:00:00Z") / 1000), -5 * 3600);
	assert_int_equal(tzone_offset(z, at("2026-07-15T12:00:00Z") / 1000), -4 * 3600);
	tzone_free(z);

	/* The southern hemisphere: summer time spans the new year. */
	z = tzone_load("Australia/Sydney", err, sizeof err);
	assert_non_null(z);
	assert_int_equal(tzone_offset(z, at("2026-01-15T12:00:00Z") / 1000), 11 * 3600);
	assert_int_equal(tzone_offset(z, at("2026-07-15T12:00:00Z") / 1000), 10 * 3600);
	assert_int_equal(tzone_offset(z, at("2190-01-15T12:00:00Z") / 1000), 11 * 3600);
	tzone_free(z);
}

/*
 * Europe/Berlin springs forward on 2026-03-29 at 02:00 CET to 03:00 CEST:
 * 02:30 does not exist that day. The run comes as much later as the clock
 * jumped, 03:30 CEST (01:30Z), once; the days around it are at 02:30.
 */
static void berlin_spring_forward_runs_a_skipped_time_once_after_the_jump(void **state)
{
	static const char *const want[] = {
		"2026-03-28T01:30:00Z",		/* 02:30 CET */
		"2026-03-29T01:30:00Z",		/* 02:30 does not exist: 03:30 CEST */
		"2026-03-30T00:30:00Z",		/* 02:30 CEST */
		"2026-03-31T00:30:00Z",
	};
	static const char *const quarter[] = {
		"2026-03-29T00:45:00Z",		/* 01:45 CET */
		"2026-03-29T01:00:00Z",		/* 02:00 skipped, read as 03:00 CEST */
		"2026-03-29T01:15:00Z",		/* 03:15 CEST, which 02:15 also names: once */
		"2026-03-29T01:30:00Z",
	};

	(void)state;
	expect_series("*-*-* 02:30", "Europe/Berlin", "2026-03-27T12:00:00Z", want, 4);
	expect_series("*:0/15", "Europe/Berlin", "2026-03-29T00:30:00Z", quarter, 4);
	/* Daily at midnight is untouched by the change at 02:00. */
	expect_next("daily", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
}

/*
 * Europe/Berlin falls back on 2026-10-25 at 03:00 CEST to 02:00 CET: 02:30
 * happens twice that day. It runs once, at the first (02:30 CEST, 00:30Z),
 * not again an hour later.
 */
static void berlin_fall_back_runs_a_repeated_time_once(void **state)
{
	static const char *const want[] = {
		"2026-10-24T00:30:00Z",		/* 02:30 CEST */
		"2026-10-25T00:30:00Z",		/* the first 02:30 (CEST) */
		"2026-10-26T01:30:00Z",		/* 02:30 CET: the second 02:30 of the 25th was skipped */
	};
	static const char *const hourly[] = {
		"2026-10-25T00:00:00Z",		/* 02:00 CEST */
		"2026-10-25T02:00:00Z",		/* 03:00 CET: 02:00 CET was 02:00 again */
		"2026-10-25T03:00:00Z",
	};

	(void)state;
	expect_series("*-*-* 02:30", "Europe/Berlin", "2026-10-23T12:00:00Z", want, 3);
	expect_series("hourly", "Europe/Berlin", "2026-10-24T23:30:00Z", hourly, 3);
	/* Asked during the second 02:xx, the first 02:30 is past: tomorrow. */
	expect_next("*-*-* 02:30", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-26T01:30:00Z");
}

static void other_zones_and_their_changes(void **state)
{
	(void)state;
	/* New York springs forward 2026-03-08 02:00 EST -> 03:00 EDT. */
	expect_next("*-*-* 02:30", "America/New_York", "2026-03-08T05:00:00Z",
	    "2026-03-08T07:30:00Z");
	expect_next("2026-12-24 18:00", "America/New_York", "2026-11-29T00:00:00Z",
	    "2026-12-24T23:00:00Z");
	/* Sydney: monthly, in summer time (+11). */
	expect_next("monthly", "Australia/Sydney", "2026-11-29T00:00:00Z", "2026-11-30T13:00:00Z");
	/* Half-hour zones. */
	expect_next("quarterly", "Asia/Kolkata", "2026-11-29T00:00:00Z", "2026-12-31T18:30:00Z");
	expect_next("daily", "UTC", "2026-11-29T10:00:00Z", "2026-11-30T00:00:00Z");
}

/* With no zone named, the local one: $TZ as a zone name or a POSIX string. */
static void the_local_zone_follows_TZ(void **state)
{
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;

	(void)state;
	/* This test alone sets TZ; it is single-threaded. */
	setenv("TZ", "Europe/Berlin", 1);
	expect_next("daily", NULL, "2026-11-29T12:00:00Z", "2026-11-29T23:00:00Z");
	setenv("TZ", ":Asia/Tokyo", 1);
	expect_next("daily", NULL, "2026-11-29T12:00:00Z", "2026-11-29T15:00:00Z");
	setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
	expect_next("daily", NULL, "2026-07-01T12:00:00Z", "2026-07-02T04:00:00Z");
	expect_next("daily", NULL, "2026-12-01T12:00:00Z", "2026-12-02T05:00:00Z");
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else
		unsetenv("TZ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shorthands_are_systemds),
		cmocka_unit_test(weekdays_dates_and_times),
		cmocka_unit_test(refusals_name_the_bad_part),
		cmocka_unit_test(zones_unknown_or_outside_the_database_are_refused),
		cmocka_unit_test(offsets_of_named_zones),
		cmocka_unit_test(berlin_spring_forward_runs_a_skipped_time_once_after_the_jump),
		cmocka_unit_test(berlin_fall_back_runs_a_repeated_time_once),
		cmocka_unit_test(other_zones_and_their_changes),
		cmocka_unit_test(the_local_zone_follows_TZ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
