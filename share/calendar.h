/* calendar.h: calendar expressions (a subset of systemd's OnCalendar) and time zones read from the tz database, for schedules. */
#ifndef DEPOT_CALENDAR_H
#define DEPOT_CALENDAR_H
#include <stddef.h>
#include <stdint.h>

/*
 * What calendar_parse accepts (doc/guide.md, "Schedules", says the same):
 *
 *   minutely | hourly | daily | weekly | monthly | quarterly | yearly | annually
 *   [WEEKDAYS] [DATE] [TIME]        at least one of the three
 *
 *   WEEKDAYS  Mon, Tue … Sun (or full names), as a list "Sat,Sun" and
 *             ranges "Mon..Fri"
 *   DATE      [YEAR-]MONTH-DAY, each a VALUES: 2026-12-24, *-*-01
 *   TIME      HOUR:MINUTE[:SECOND], each a VALUES: 02:00, *:0/15
 *   VALUES    "*", or a list of N, N..M, N/STEP (N, N+STEP, … to the
 *             field's end), N..M/STEP, or * followed by /STEP
 *
 * Omitted DATE is *-*-*, omitted TIME 00:00:00, omitted SECOND 00. Years
 * run 1970..2225. Everything else (~, time zone names inside the
 * expression, fractions of seconds) is refused with a message naming the
 * part.
 *
 * Wall-clock times are those of a zone: a time the clock skips (spring
 * forward) runs as much later as the clock jumped (02:30 runs at 03:30);
 * a time the clock shows twice (fall back) runs once, at the first.
 */
struct calendar;
struct tzone;

/* expr parsed; NULL with err naming what is wrong. Free with calendar_free. */
struct calendar *calendar_parse(const char *expr, char *err, size_t errlen);
void calendar_free(struct calendar *c);

/*
 * The zone name as the tz database names it ("Europe/Berlin", "UTC"),
 * read from $TZDIR or /usr/share/zoneinfo; or, name NULL, the local zone
 * as the C library would take it: $TZ (a zone name, ":name" or a POSIX
 * TZ string), else /etc/localtime, else UTC. Never touches the
 * environment or the C library's zone. NULL with err when unknown.
 */
struct tzone *tzone_load(const char *name, char *err, size_t errlen);
void tzone_free(struct tzone *z);
/* Seconds east of UTC in force at utc (seconds since the epoch). */
int32_t tzone_offset(const struct tzone *z, int64_t utc);
/* The instant the wall-clock time wall (seconds since the epoch, as if UTC) names, by the rules above. */
int64_t tzone_wall_to_utc(const struct tzone *z, int64_t wall);

/* The first time of c in z strictly after after_ms, in ms: 0, or -1 when there is none. */
int calendar_next(const struct calendar *c, const struct tzone *z, int64_t after_ms,
    int64_t *next_ms);

/*
 * calendar_next for expression expr in zone tz (NULL: local): 1 with
 * *next_ms, 0 when expr has no time after after_ms, -1 with err when expr
 * or tz is refused.
 */
int calendar_next_in(const char *expr, const char *tz, int64_t after_ms, int64_t *next_ms,
    char *err, size_t errlen);

#endif
