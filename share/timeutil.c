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
