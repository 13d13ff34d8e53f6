/* timeutil.c: clocks, RFC 3339 times, and the duration and size syntax of depot.conf. */
#include "timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_now_ms(void) { return clock_ms(CLOCK_REALTIME); }
int64_t time_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

void time_format_rfc3339(int64_t ms, char *out)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, TIME_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Reads no further than a byte that is not a digit, so never past the end. */
static int two_digits(const char *p, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return 0;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return 1;
}

int time_parse_rfc3339(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0, scale = 1000, offset = 0;
	int oh, om;

	if (p == NULL)
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && two_digits(p + 1, &oh) && p[3] == ':' &&
	    two_digits(p + 4, &om) && oh <= 23 && om <= 59) {
		offset = (oh * 60 + om) * 60000LL * (*p == '+' ? 1 : -1);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac - offset;
	return 0;
}

/* Whether mktime's normalised result still shows the wall time asked for. */
static int same_wall(const struct tm *got, const struct tm *want)
{
	return got->tm_year == want->tm_year && got->tm_mon == want->tm_mon &&
	    got->tm_mday == want->tm_mday && got->tm_hour == want->tm_hour &&
	    got->tm_min == want->tm_min && got->tm_sec == want->tm_sec;
}

/*
 * The instant of a local wall time, which a DST change may make occur
 * twice (the first is taken) or not at all (read with the offset before
 * the change: the later of the two readings, as the clock jumped ahead).
 * Both readings, with and without DST, are tried rather than trusting
 * mktime's own guess, which zones with a negative DST (Europe/Dublin)
 * lead astray.
 */
static int64_t local_mktime(const struct tm *tm)
{
	struct tm want = *tm, reading[2];
	time_t t[2], best = (time_t)-1;
	int valid = 0, i;

	/* The date normalised first (a day past the month's end), by the calendar alone. */
	struct tm noon = { .tm_year = tm->tm_year, .tm_mon = tm->tm_mon, .tm_mday = tm->tm_mday,
	    .tm_hour = 12 };
	time_t day = timegm(&noon);

	if (day == (time_t)-1 || gmtime_r(&day, &noon) == NULL)
		return -1;
	want.tm_year = noon.tm_year;
	want.tm_mon = noon.tm_mon;
	want.tm_mday = noon.tm_mday;
	for (i = 0; i < 2; i++) {
		reading[i] = want;
		reading[i].tm_isdst = i;
		t[i] = mktime(&reading[i]);
	}
	for (i = 0; i < 2; i++) {
		if (t[i] != (time_t)-1 && same_wall(&reading[i], &want) &&
		    (!valid || t[i] < best)) {
			best = t[i];
			valid = 1;
		}
	}
	if (valid)
		return (int64_t)best;
	/* In a gap: neither reading shows that wall time. */
	if (t[0] == (time_t)-1 && t[1] == (time_t)-1)
		return -1;
	return (int64_t)(t[0] > t[1] ? t[0] : t[1]);
}

int time_parse_local(const char *s, int64_t now_ms, int64_t *ms)
{
	static const char *const dated[] = {
		"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
	};
	static const char *const timed[] = { "%H:%M:%S", "%H:%M" };
	struct tm tm;
	const char *p;
	int64_t t;
	size_t i;

	if (s == NULL)
		return -1;
	if (time_parse_rfc3339(s, ms) == 0)
		return 0;
	for (i = 0; i < sizeof dated / sizeof dated[0]; i++) {
		memset(&tm, 0, sizeof tm);
		if ((p = strptime(s, dated[i], &tm)) != NULL && *p == '\0') {
			if ((t = local_mktime(&tm)) < 0)
				return -1;
			*ms = t * 1000;
			return 0;
		}
	}
	for (i = 0; i < sizeof timed / sizeof timed[0]; i++) {
		time_t now = (time_t)(now_ms / 1000);
		struct tm day;

		memset(&tm, 0, sizeof tm);
		if ((p = strptime(s, timed[i], &tm)) == NULL || *p != '\0')
			continue;
		if (localtime_r(&now, &day) == NULL)
			return -1;
		/* Today's, else tomorrow's: mktime carries a day past the month's end. */
		for (int days = 0; days < 2; days++) {
			struct tm when = day;

			when.tm_mday += days;
			when.tm_hour = tm.tm_hour;
			when.tm_min = tm.tm_min;
			when.tm_sec = tm.tm_sec;
			if ((t = local_mktime(&when)) < 0)
				return -1;
			if (t * 1000 > now_ms || days == 1) {
				*ms = t * 1000;
				return 0;
			}
		}
	}
	return -1;
}

struct unit { const char *suffix; int64_t factor; };

/* Parse "<non-negative number><unit>" where the unit comes from table. */
static int parse_with_units(const char *s, const struct unit *units,
    int64_t bare_factor, int64_t *out)
{
	char *end;
	double v;
	int64_t factor = -1;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	if (*end == '\0')
		factor = bare_factor;
	else {
		for (const struct unit *u = units; u->suffix != NULL; u++) {
			if (strcmp(end, u->suffix) == 0) {
				factor = u->factor;
				break;
			}
		}
	}
	if (factor < 0 || v * (double)factor > 9.0e15)
		return -1;
	*out = (int64_t)(v * (double)factor + 0.5);
	return 0;
}

int time_parse_duration(const char *s, int64_t *ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { NULL, 0 },
	};
	return parse_with_units(s, units, 1000, ms);
}

int time_parse_size(const char *s, int64_t *bytes)
{
	static const struct unit units[] = {
		{ "B", 1 }, { "KiB", 1024 }, { "MiB", 1024 * 1024 },
		{ "GiB", 1024LL * 1024 * 1024 }, { NULL, 0 },
	};
	return parse_with_units(s, units, 1, bytes);
}

void time_format_duration(int64_t ms, char *out, size_t n)
{
	if (ms < 0)
		ms = 0;
	if (ms < 10000)
		snprintf(out, n, "%.1fs", (double)ms / 1000);
	else if (ms < 60000)
		snprintf(out, n, "%llds", (long long)(ms / 1000));
	else if (ms < 3600000)
		snprintf(out, n, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60));
	else if (ms < 86400000)
		snprintf(out, n, "%lldh%02lldm", (long long)(ms / 3600000),
		    (long long)(ms / 60000 % 60));
	else
		snprintf(out, n, "%lldd%02lldh", (long long)(ms / 86400000),
		    (long long)(ms / 3600000 % 24));
}
