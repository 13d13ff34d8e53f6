/* calendar.c: calendar expressions and their next time in a zone read from TZif files, without setenv("TZ") or the C library's one global zone. */
#include "calendar.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define YEAR_MIN 1970
#define YEAR_MAX 2225		/* YEAR_MIN + 255: the year set is 256 bits */
#define DAY_S 86400
#define TZIF_MAX (1 << 20)	/* a real TZif file is a few KiB */
#define ZONE_OFFS_MAX 64
#define ZONEINFO "/usr/share/zoneinfo"

struct calendar {
	uint64_t wday;		/* bit 0 Sunday … bit 6 Saturday */
	uint64_t month;		/* bits 0..11: January … December */
	uint64_t day;		/* bits 0..30: day 1 … 31 */
	uint64_t hour, minute, second;
	uint64_t year[4];	/* bit y - YEAR_MIN */
};

/* A POSIX TZ rule day: Jn (1..365, no Feb 29), n (0..365), or Mm.w.d. */
struct rule_day {
	char kind;		/* 'J', 'n' or 'M' */
	int n, m, w, d;
	int32_t time;		/* seconds after local midnight; may be negative or past 24h */
};

struct tzone {
	int64_t *trans;		/* transition instants, ascending */
	int32_t *after;		/* the offset from trans[i] on */
	int ntrans;
	int32_t initial;	/* before the first transition */
	int has_rule;		/* the footer's POSIX TZ string governs after the last */
	int32_t std_off, dst_off;	/* seconds east of UTC */
	int has_dst;
	struct rule_day start, end;
	int32_t offs[ZONE_OFFS_MAX];	/* the offsets wall_to_utc tries */
	int noffs;
	int32_t spread;		/* largest minus smallest of offs */
};

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- Civil dates (proleptic Gregorian), after H. Hinnant's algorithms. */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* 0 Sunday … 6 Saturday; 1970-01-01 was a Thursday. */
static int weekday(int64_t days)
{
	int w = (int)((days + 4) % 7);

	return w < 0 ? w + 7 : w;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- Parsing expressions. */

/* One field of an expression: its name, its range, where its bits go. */
struct field {
	const char *name;
	int lo, hi;
};

static const struct field F_YEAR = { "year", YEAR_MIN, YEAR_MAX };
static const struct field F_MONTH = { "month", 1, 12 };
static const struct field F_DAY = { "day", 1, 31 };
static const struct field F_HOUR = { "hour", 0, 23 };
static const struct field F_MINUTE = { "minute", 0, 59 };
static const struct field F_SECOND = { "second", 0, 59 };

static void bit_set(uint64_t *bits, int i)
{
	bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static int bit_get(const uint64_t *bits, int i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/* A decimal number of at most 4 digits at *p: 0, or -1 when none is there. */
static int number(const char **p, int *v)
{
	int n = 0;

	*v = 0;
	while (isdigit((unsigned char)**p)) {
		if (++n > 4)
			return -1;
		*v = *v * 10 + (*(*p)++ - '0');
	}
	return n > 0 ? 0 : -1;
}

/*
 * VALUES for field f, text s of length len ("*", "1,15", "0/15", "1..5", or
 * a star and a step), into bits (bit v - f->lo). whole is the token, for messages.
 */
static int parse_values(const struct field *f, const char *s, size_t len, uint64_t *bits,
    const char *whole, char *err, size_t errlen)
{
	char buf[64];
	char *item, *save = NULL;

	if (len == 0 || len >= sizeof buf) {
		fail(err, errlen, "'%s': the %s is %s", whole, f->name,
		    len == 0 ? "missing" : "too long");
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* strtok_r skips empty items: "1,,2" would pass unnoticed. */
	if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,") != NULL) {
		fail(err, errlen, "'%s': an empty item in the %s list", whole, f->name);
		return -1;
	}
	for (item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		const char *p = item;
		int lo, hi, step = 1, ranged = 0;

		if (*p == '*') {
			p++;
			lo = f->lo;
			hi = f->hi;
			ranged = 1;
		} else {
			if (number(&p, &lo) < 0)
				goto bad;
			hi = lo;
			if (strncmp(p, "..", 2) == 0) {
				p += 2;
				if (number(&p, &hi) < 0)
					goto bad;
				ranged = 1;
			}
		}
		if (*p == '/') {
			p++;
			if (number(&p, &step) < 0 || step == 0)
				goto bad;
			if (!ranged)
				hi = f->hi;
		}
		if (*p != '\0')
			goto bad;
		if (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi) {
			fail(err, errlen, "'%s': %s %d is out of range %d..%d", whole, f->name,
			    lo < f->lo || lo > f->hi ? lo : hi, f->lo, f->hi);
			return -1;
		}
		if (hi < lo) {
			fail(err, errlen, "'%s': the %s range %d..%d runs backwards", whole,
			    f->name, lo, hi);
			return -1;
		}
		for (int v = lo; v <= hi; v += step)
			bit_set(bits, v - f->lo);
		continue;
bad:
		fail(err, errlen, "'%s': '%s' is not a %s (N, N..M, N/STEP, * or */STEP)",
		    whole, item, f->name);
		return -1;
	}
	return 0;
}

static int weekday_name(const char *s, size_t len)
{
	static const char *const names[] = {
		"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
	};

	for (int i = 0; i < 7; i++)
		if ((len == 3 || len == strlen(names[i])) && strncasecmp(s, names[i], len) == 0)
			return i;
	return -1;
}

/* "Mon..Fri", "Sat,Sun", "Mon,Wed..Fri". */
static int parse_weekdays(const char *tok, uint64_t *bits, char *err, size_t errlen)
{
	const char *p = tok;

	*bits = 0;
	for (;;) {
		size_t n = strcspn(p, ",."), m;
		int a = weekday_name(p, n), b;

		if (a < 0) {
			fail(err, errlen, "'%s': '%.*s' is not a weekday (Mon, Tue, Wed, Thu, "
			    "Fri, Sat, Sun)", tok, (int)n, p);
			return -1;
		}
		p += n;
		b = a;
		if (strncmp(p, "..", 2) == 0) {
			p += 2;
			m = strcspn(p, ",.");
			if ((b = weekday_name(p, m)) < 0) {
				fail(err, errlen, "'%s': '%.*s' is not a weekday (Mon, Tue, Wed, "
				    "Thu, Fri, Sat, Sun)", tok, (int)m, p);
				return -1;
			}
			p += m;
		}
		/* Mon=1 … Sun=7, so that Mon..Sun and Fri..Sun read as people mean them. */
		{
			int ia = a == 0 ? 7 : a, ib = b == 0 ? 7 : b;

			if (ib < ia) {
				fail(err, errlen, "'%s': the weekday range runs backwards "
				    "(weeks run Mon..Sun)", tok);
				return -1;
			}
			for (int i = ia; i <= ib; i++)
				*bits |= UINT64_C(1) << (i % 7);
		}
		if (*p == '\0')
			return 0;
		if (*p != ',' || p[1] == '\0') {
			fail(err, errlen, "'%s': weekdays are a list such as Mon..Fri or "
			    "Sat,Sun", tok);
			return -1;
		}
		p++;
	}
}

/* DATE token: [YEAR-]MONTH-DAY. */
static int parse_date(struct calendar *c, const char *tok, char *err, size_t errlen)
{
	const char *d1 = strchr(tok, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;

	if (d2 != NULL && strchr(d2 + 1, '-') != NULL) {
		fail(err, errlen, "'%s': a date is [YEAR-]MONTH-DAY", tok);
		return -1;
	}
	memset(c->year, 0, sizeof c->year);
	c->month = c->day = 0;
	if (d2 == NULL) {
		c->year[0] = c->year[1] = c->year[2] = c->year[3] = UINT64_MAX;
		return parse_values(&F_MONTH, tok, (size_t)(d1 - tok), &c->month, tok, err,
		    errlen) < 0 || parse_values(&F_DAY, d1 + 1, strlen(d1 + 1), &c->day, tok,
		    err, errlen) < 0 ? -1 : 0;
	}
	return parse_values(&F_YEAR, tok, (size_t)(d1 - tok), c->year, tok, err, errlen) < 0 ||
	    parse_values(&F_MONTH, d1 + 1, (size_t)(d2 - d1 - 1), &c->month, tok, err,
	    errlen) < 0 ||
	    parse_values(&F_DAY, d2 + 1, strlen(d2 + 1), &c->day, tok, err, errlen) < 0 ? -1 : 0;
}

/* TIME token: HOUR:MINUTE[:SECOND]. */
static int parse_time(struct calendar *c, const char *tok, char *err, size_t errlen)
{
	const char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (c2 != NULL && strchr(c2 + 1, ':') != NULL) {
		fail(err, errlen, "'%s': a time is HOUR:MINUTE[:SECOND]", tok);
		return -1;
	}
	if (strchr(tok, '.') != NULL && strstr(tok, "..") == NULL) {
		fail(err, errlen, "'%s': fractions of a second are not supported", tok);
		return -1;
	}
	c->hour = c->minute = c->second = 0;
	if (parse_values(&F_HOUR, tok, (size_t)(c1 - tok), &c->hour, tok, err, errlen) < 0 ||
	    parse_values(&F_MINUTE, c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1),
	    &c->minute, tok, err, errlen) < 0)
		return -1;
	if (c2 == NULL) {
		c->second = 1;
		return 0;
	}
	return parse_values(&F_SECOND, c2 + 1, strlen(c2 + 1), &c->second, tok, err, errlen);
}

/* systemd's shorthands, as the expressions they stand for. */
static const struct { const char *name, *expr; } shorthands[] = {
	{ "minutely", "*-*-* *:*:00" },
	{ "hourly", "*-*-* *:00:00" },
	{ "daily", "*-*-* 00:00:00" },
	{ "weekly", "Mon *-*-* 00:00:00" },
	{ "monthly", "*-*-01 00:00:00" },
	{ "quarterly", "*-01,04,07,10-01 00:00:00" },
	{ "yearly", "*-01-01 00:00:00" },
	{ "annually", "*-01-01 00:00:00" },
};

struct calendar *calendar_parse(const char *expr, char *err, size_t errlen)
{
	char buf[256], *tok[4], *save = NULL, *t;
	int n = 0, i = 0;
	struct calendar *c;

	if (expr == NULL || strlen(expr) >= sizeof buf) {
		fail(err, errlen, "a calendar expression is at most %zu characters",
		    sizeof buf - 1);
		return NULL;
	}
	for (size_t k = 0; k < sizeof shorthands / sizeof shorthands[0]; k++)
		if (strcasecmp(expr, shorthands[k].name) == 0)
			return calendar_parse(shorthands[k].expr, err, errlen);
	snprintf(buf, sizeof buf, "%s", expr);
	for (t = strtok_r(buf, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (n == 3) {
			fail(err, errlen, "'%s': unexpected after [WEEKDAYS] [DATE] [TIME]", t);
			return NULL;
		}
		tok[n++] = t;
	}
	if (n == 0) {
		fail(err, errlen, "an empty calendar expression: give e.g. daily, "
		    "Mon..Fri 02:00, *-*-01 03:00 or *:0/15");
		return NULL;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	c->wday = 0x7f;
	c->year[0] = c->year[1] = c->year[2] = c->year[3] = UINT64_MAX;
	c->month = UINT64_MAX;
	c->day = UINT64_MAX;
	c->hour = c->minute = c->second = 1;	/* 00:00:00 */
	for (size_t k = 0; n > 1 && k < sizeof shorthands / sizeof shorthands[0]; k++)
		if (strcasecmp(tok[0], shorthands[k].name) == 0) {
			fail(err, errlen, "'%s' stands alone: write the full form, such as "
			    "'%s', to change it", tok[0], shorthands[k].expr);
			goto bad;
		}
	if (isalpha((unsigned char)tok[0][0]) && strpbrk(tok[0], ":-") == NULL) {
		if (parse_weekdays(tok[0], &c->wday, err, errlen) < 0)
			goto bad;
		i++;
	}
	if (i < n && strchr(tok[i], '-') != NULL) {
		if (parse_date(c, tok[i], err, errlen) < 0)
			goto bad;
		i++;
	}
	if (i < n && strchr(tok[i], ':') != NULL) {
		if (parse_time(c, tok[i], err, errlen) < 0)
			goto bad;
		i++;
	}
	if (i < n) {
		if (isalpha((unsigned char)tok[i][0]))
			fail(err, errlen, "'%s': not understood here (weekdays come first; "
			    "a time zone goes in --tz)", tok[i]);
		else
			fail(err, errlen, "'%s': not a DATE (YEAR-MONTH-DAY) or TIME "
			    "(HOUR:MINUTE[:SECOND]) in its place", tok[i]);
		goto bad;
	}
	return c;
bad:
	free(c);
	return NULL;
}

void calendar_free(struct calendar *c)
{
	free(c);
}

/* ---- Time zones. */

static int32_t be32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)(uint32_t)be32(p) << 32 | (uint32_t)be32(p + 4));
}

/* A POSIX TZ offset "[+-]hh[:mm[:ss]]" at *p, in seconds as written (west positive). */
static int tz_seconds(const char **p, int32_t *v, int max_hours)
{
	int sign = 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		sign = *(*p)++ == '-' ? -1 : 1;
	if (number(p, &h) < 0 || h > max_hours)
		return -1;
	if (**p == ':') {
		(*p)++;
		if (number(p, &m) < 0 || m > 59)
			return -1;
		if (**p == ':') {
			(*p)++;
			if (number(p, &s) < 0 || s > 59)
				return -1;
		}
	}
	*v = sign * (h * 3600 + m * 60 + s);
	return 0;
}

static int tz_name(const char **p)
{
	const char *s = *p;

	if (*s == '<') {
		while (*s != '\0' && *s != '>')
			s++;
		if (*s != '>')
			return -1;
		s++;
	} else
		while (isalpha((unsigned char)*s))
			s++;
	if (s - *p < 3)
		return -1;
	*p = s;
	return 0;
}

static int tz_rule_day(const char **p, struct rule_day *r)
{
	r->time = 7200;
	if (**p == 'J') {
		(*p)++;
		r->kind = 'J';
		if (number(p, &r->n) < 0 || r->n < 1 || r->n > 365)
			return -1;
	} else if (**p == 'M') {
		(*p)++;
		r->kind = 'M';
		if (number(p, &r->m) < 0 || r->m < 1 || r->m > 12 || *(*p)++ != '.' ||
		    number(p, &r->w) < 0 || r->w < 1 || r->w > 5 || *(*p)++ != '.' ||
		    number(p, &r->d) < 0 || r->d > 6)
			return -1;
	} else {
		r->kind = 'n';
		if (number(p, &r->n) < 0 || r->n > 365)
			return -1;
	}
	if (**p == '/') {
		(*p)++;
		/* RFC 8536 allows -167..167 hours here. */
		if (tz_seconds(p, &r->time, 167) < 0)
			return -1;
	}
	return 0;
}

/* A POSIX TZ string, "CET-1CEST,M3.5.0,M10.5.0/3", into z's rule. */
static int tz_parse_rule(struct tzone *z, const char *s)
{
	const char *p = s;
	int32_t v;

	if (tz_name(&p) < 0 || tz_seconds(&p, &v, 24) < 0)
		return -1;
	z->std_off = z->dst_off = -v;
	z->has_dst = 0;
	if (*p != '\0') {
		if (tz_name(&p) < 0)
			return -1;
		z->has_dst = 1;
		z->dst_off = z->std_off + 3600;
		if (*p != ',' && *p != '\0') {
			if (tz_seconds(&p, &v, 24) < 0)
				return -1;
			z->dst_off = -v;
		}
		if (*p == '\0') {
			/* No rule given: the US rules POSIX names as the default. */
			z->start = (struct rule_day){ 'M', 0, 3, 2, 0, 7200 };
			z->end = (struct rule_day){ 'M', 0, 11, 1, 0, 7200 };
		} else if (*p++ != ',' || tz_rule_day(&p, &z->start) < 0 || *p++ != ',' ||
		    tz_rule_day(&p, &z->end) < 0)
			return -1;
	}
	if (*p != '\0')
		return -1;
	z->has_rule = 1;
	return 0;
}

/* The day (days since the epoch) rule r names in year y. */
static int64_t rule_day_of(const struct rule_day *r, int64_t y)
{
	int64_t first;

	switch (r->kind) {
	case 'J':
		return days_from_civil(y, 1, 1) + r->n - 1 + (leap(y) && r->n >= 60);
	case 'n':
		return days_from_civil(y, 1, 1) + r->n;
	default:
		first = days_from_civil(y, r->m, 1);
		first += (r->d - weekday(first) + 7) % 7;
		first += 7 * (r->w - 1);
		if (r->w == 5)
			while (first >= days_from_civil(y, r->m, 1) + month_days(y, r->m))
				first -= 7;
		return first;
	}
}

/* The rule's last transition at or before u: 1 with its instant and offsets, or 0. */
static int rule_transition(const struct tzone *z, int64_t u, int64_t *at, int32_t *before,
    int32_t *after)
{
	int64_t y0;
	int m, d, found = 0;

	if (!z->has_dst) {
		*before = *after = z->std_off;
		return 0;
	}
	civil_from_days(floor_div(u + z->std_off, DAY_S), &y0, &m, &d);
	for (int64_t y = y0 - 1; y <= y0 + 1; y++) {
		int64_t s = rule_day_of(&z->start, y) * DAY_S + z->start.time - z->std_off;
		int64_t e = rule_day_of(&z->end, y) * DAY_S + z->end.time - z->dst_off;

		if (s <= u && (!found || s > *at)) {
			*at = s;
			*before = z->std_off;
			*after = z->dst_off;
			found = 1;
		}
		if (e <= u && (!found || e > *at)) {
			*at = e;
			*before = z->dst_off;
			*after = z->std_off;
			found = 1;
		}
	}
	return found;
}

/* The last transition at or before u: 1 with its instant and offsets; 0 with *after in force. */
static int zone_transition(const struct tzone *z, int64_t u, int64_t *at, int32_t *before,
    int32_t *after)
{
	int lo = 0, hi = z->ntrans;	/* the first transition after u is in [lo, hi] */

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= u)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == z->ntrans && z->has_rule) {
		int64_t rat = 0;
		int32_t rb, ra;

		if (rule_transition(z, u, &rat, &rb, &ra) &&
		    (z->ntrans == 0 || rat > z->trans[z->ntrans - 1])) {
			*at = rat;
			*before = rb;
			*after = ra;
			return 1;
		}
		if (z->ntrans == 0) {
			*before = *after = z->std_off;
			return 0;
		}
	}
	if (lo == 0) {
		*before = *after = z->initial;
		return 0;
	}
	*at = z->trans[lo - 1];
	*before = lo >= 2 ? z->after[lo - 2] : z->initial;
	*after = z->after[lo - 1];
	return 1;
}

int32_t tzone_offset(const struct tzone *z, int64_t utc)
{
	int64_t at;
	int32_t before, after;

	zone_transition(z, utc, &at, &before, &after);
	return after;
}

int64_t tzone_wall_to_utc(const struct tzone *z, int64_t wall)
{
	int64_t best = 0, at = 0;
	int32_t before, after, lo = z->offs[0];
	int found = 0;

	/* Each instant whose offset gives wall; the first when the clock shows wall twice. */
	for (int i = 0; i < z->noffs; i++) {
		int64_t u = wall - z->offs[i];

		if (z->offs[i] < lo)
			lo = z->offs[i];
		if (tzone_offset(z, u) == z->offs[i] && (!found || u < best)) {
			best = u;
			found = 1;
		}
	}
	if (found)
		return best;
	/*
	 * None: wall is in a gap the clock jumped over. Read with the offset
	 * before the jump, it lands as far past the jump as wall is into the
	 * gap (02:30 in a 02:00→03:00 jump is 03:30).
	 */
	if (zone_transition(z, wall - lo, &at, &before, &after))
		return wall - before;
	return wall - after;
}

static void zone_add_off(struct tzone *z, int32_t off)
{
	for (int i = 0; i < z->noffs; i++)
		if (z->offs[i] == off)
			return;
	if (z->noffs < ZONE_OFFS_MAX)
		z->offs[z->noffs++] = off;
}

/* offs and spread: the offsets in force since 1970, which are all a schedule meets. */
static void zone_offsets(struct tzone *z)
{
	int32_t lo, hi;

	z->noffs = 0;
	zone_add_off(z, tzone_offset(z, 0));
	for (int i = 0; i < z->ntrans; i++)
		if (z->trans[i] >= 0)
			zone_add_off(z, z->after[i]);
	if (z->has_rule) {
		zone_add_off(z, z->std_off);
		zone_add_off(z, z->dst_off);
	}
	lo = hi = z->offs[0];
	for (int i = 1; i < z->noffs; i++) {
		if (z->offs[i] < lo)
			lo = z->offs[i];
		if (z->offs[i] > hi)
			hi = z->offs[i];
	}
	z->spread = hi - lo;
}

/* A TZif file's contents (RFC 8536), version 1 or later, into z. */
static int tzif_parse(struct tzone *z, const unsigned char *b, size_t len)
{
	const unsigned char *p = b, *end = b + len;
	int64_t cnt[6];
	int v2 = 0, tsize = 4;

	for (int pass = 0; pass < 2; pass++) {
		size_t need;
		const unsigned char *times, *idx, *types;

		if (end - p < 44 || memcmp(p, "TZif", 4) != 0)
			return -1;
		v2 = p[4] >= '2';
		for (int i = 0; i < 6; i++)
			cnt[i] = (uint32_t)be32(p + 20 + 4 * i);
		/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
		if (cnt[4] == 0 || cnt[4] > 256 || cnt[3] > 100000 || cnt[2] > 100000 ||
		    cnt[5] > 100000)
			return -1;
		p += 44;
		need = (size_t)(cnt[3] * tsize + cnt[3] + cnt[4] * 6 + cnt[5] +
		    cnt[2] * (tsize + 4) + cnt[1] + cnt[0]);
		if ((size_t)(end - p) < need)
			return -1;
		if (pass == 0 && v2) {
			/* The 32-bit block only stands in for readers of version 1. */
			p += need;
			tsize = 8;
			continue;
		}
		times = p;
		idx = times + cnt[3] * tsize;
		types = idx + cnt[3];
		z->ntrans = (int)cnt[3];
		z->trans = calloc(cnt[3] ? (size_t)cnt[3] : 1, sizeof *z->trans);
		z->after = calloc(cnt[3] ? (size_t)cnt[3] : 1, sizeof *z->after);
		if (z->trans == NULL || z->after == NULL)
			return -1;
		for (int i = 0; i < z->ntrans; i++) {
			if (idx[i] >= cnt[4])
				return -1;
			z->trans[i] = tsize == 8 ? be64(times + 8 * i) : be32(times + 4 * i);
			z->after[i] = be32(types + 6 * idx[i]);
			if (i > 0 && z->trans[i] <= z->trans[i - 1])
				return -1;
		}
		z->initial = be32(types);
		p += need;
		break;
	}
	if (v2 && p < end && *p == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char rule[128];

		if (nl != NULL && nl - p - 1 > 0 && (size_t)(nl - p - 1) < sizeof rule) {
			memcpy(rule, p + 1, (size_t)(nl - p - 1));
			rule[nl - p - 1] = '\0';
			if (tz_parse_rule(z, rule) < 0)
				return -1;
		}
	}
	return 0;
}

/* A zone name that stays inside the zone directory: "Europe/Berlin", "Etc/GMT+5", "UTC". */
static int zone_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 200 || name[0] == '/' || name[0] == '.' || strstr(name, "/.") != NULL ||
	    strstr(name, "//") != NULL || name[n - 1] == '/')
		return 0;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-.", *p) == NULL)
			return 0;
	return 1;
}

/* The whole of a regular file of at most TZIF_MAX bytes: 0, or -1. */
static int read_all(const char *path, unsigned char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *b;
	struct stat st;
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_MAX ||
	    (b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (n < (size_t)st.st_size && ((r = read(fd, b + n, (size_t)st.st_size - n)) > 0 ||
	    (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	close(fd);
	*out = b;
	*len = n;
	return 0;
}

static struct tzone *zone_from_file(const char *path)
{
	struct tzone *z = calloc(1, sizeof *z);
	unsigned char *b = NULL;
	size_t len;

	if (z == NULL)
		return NULL;
	if (read_all(path, &b, &len) < 0 || tzif_parse(z, b, len) < 0) {
		free(b);
		tzone_free(z);
		return NULL;
	}
	free(b);
	zone_offsets(z);
	return z;
}

static struct tzone *zone_from_rule(const char *rule)
{
	struct tzone *z = calloc(1, sizeof *z);

	if (z == NULL)
		return NULL;
	if (tz_parse_rule(z, rule) < 0) {
		tzone_free(z);
		return NULL;
	}
	z->initial = z->std_off;
	zone_offsets(z);
	return z;
}

struct tzone *tzone_load(const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR"), *env;
	char path[512];
	struct tzone *z;

	if (dir == NULL || dir[0] == '\0')
		dir = ZONEINFO;
	if (name != NULL) {
		if (!zone_name_valid(name)) {
			fail(err, errlen, "'%s' is not a time zone name (such as Europe/Berlin "
			    "or UTC)", name);
			return NULL;
		}
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if ((z = zone_from_file(path)) == NULL)
			fail(err, errlen, "unknown time zone '%s': no zone of that name in %s",
			    name, dir);
		return z;
	}
	/* As the C library reads the local zone, so that depotd's local time is everyone's. */
	env = getenv("TZ");
	if (env != NULL && env[0] != '\0') {
		const char *n = env[0] == ':' ? env + 1 : env;

		if (n[0] == '/')
			z = zone_from_file(n);
		else if (zone_name_valid(n)) {
			snprintf(path, sizeof path, "%s/%s", dir, n);
			z = zone_from_file(path);
		} else
			z = NULL;
		if (z == NULL && env[0] != ':')
			z = zone_from_rule(env);
		if (z == NULL)
			fail(err, errlen, "the local time zone TZ='%s' is not a zone in %s nor a "
			    "POSIX TZ string", env, dir);
		return z;
	}
	if ((z = zone_from_file("/etc/localtime")) != NULL)
		return z;
	return zone_from_rule("UTC0");
}

void tzone_free(struct tzone *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->after);
	free(z);
}

/* ---- The next time. */

struct civil {
	int64_t y;
	int mo, d, h, mi, s;
};

static int64_t civil_seconds(const struct civil *t)
{
	return days_from_civil(t->y, t->mo, t->d) * DAY_S + t->h * 3600 + t->mi * 60 + t->s;
}

static void civil_of(int64_t secs, struct civil *t)
{
	int64_t days = floor_div(secs, DAY_S), rest = secs - days * DAY_S;

	civil_from_days(days, &t->y, &t->mo, &t->d);
	t->h = (int)(rest / 3600);
	t->mi = (int)(rest / 60 % 60);
	t->s = (int)(rest % 60);
}

/* The first wall-clock time at or after t that c matches: 0, or -1 past YEAR_MAX. */
static int next_match(const struct calendar *c, struct civil *t)
{
	if (t->y < YEAR_MIN)
		*t = (struct civil){ YEAR_MIN, 1, 1, 0, 0, 0 };
	for (;;) {
		/* Carry what the steps below push past its field's end. */
		if (t->s > 59) {
			t->s = 0;
			t->mi++;
		}
		if (t->mi > 59) {
			t->mi = 0;
			t->h++;
		}
		if (t->h > 23) {
			t->h = 0;
			t->d++;
		}
		if (t->mo > 12) {
			t->mo = 1;
			t->y++;
		}
		if (t->d > month_days(t->y, t->mo)) {
			t->d = 1;
			if (++t->mo > 12) {
				t->mo = 1;
				t->y++;
			}
		}
		if (t->y > YEAR_MAX)
			return -1;
		if (!bit_get(c->year, (int)(t->y - YEAR_MIN))) {
			*t = (struct civil){ t->y + 1, 1, 1, 0, 0, 0 };
			continue;
		}
		if (!((c->month >> (t->mo - 1)) & 1)) {
			t->mo++;
			t->d = 1;
			t->h = t->mi = t->s = 0;
			continue;
		}
		if (!((c->day >> (t->d - 1)) & 1) ||
		    !((c->wday >> weekday(days_from_civil(t->y, t->mo, t->d))) & 1)) {
			t->d++;
			t->h = t->mi = t->s = 0;
			continue;
		}
		if (!((c->hour >> t->h) & 1)) {
			t->h++;
			t->mi = t->s = 0;
			continue;
		}
		if (!((c->minute >> t->mi) & 1)) {
			t->mi++;
			t->s = 0;
			continue;
		}
		if (!((c->second >> t->s) & 1)) {
			t->s++;
			continue;
		}
		return 0;
	}
}

int calendar_next(const struct calendar *c, const struct tzone *z, int64_t after_ms,
    int64_t *next_ms)
{
	int64_t after = floor_div(after_ms, 1000), best = 0, best_wall = 0;
	struct civil t;
	int found = 0;

	/*
	 * Wall-clock times in order, from far enough back that a time read in
	 * a gap (which lands later) is not missed; the earliest instant after
	 * 'after' wins. Wall order and instant order differ only within
	 * spread, so the search stops spread past the first one found.
	 */
	civil_of(after + tzone_offset(z, after) - z->spread, &t);
	while (next_match(c, &t) == 0) {
		int64_t wall = civil_seconds(&t), u;

		if (found && wall > best_wall + z->spread)
			break;
		u = tzone_wall_to_utc(z, wall);
		if (u > after && (!found || u < best)) {
			best = u;
			best_wall = wall;
			found = 1;
		}
		civil_of(wall + 1, &t);
	}
	if (!found)
		return -1;
	*next_ms = best * 1000;
	return 0;
}

int calendar_next_in(const char *expr, const char *tz, int64_t after_ms, int64_t *next_ms,
    char *err, size_t errlen)
{
	struct calendar *c = calendar_parse(expr, err, errlen);
	struct tzone *z;
	int rc;

	if (c == NULL)
		return -1;
	if ((z = tzone_load(tz, err, errlen)) == NULL) {
		calendar_free(c);
		return -1;
	}
	rc = calendar_next(c, z, after_ms, next_ms) == 0 ? 1 : 0;
	calendar_free(c);
	tzone_free(z);
	return rc;
}
