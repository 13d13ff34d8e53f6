/* timeutil.h: clocks, RFC 3339 times, and the duration and size syntax of depot.conf. */
#ifndef DEPOT_TIMEUTIL_H
#define DEPOT_TIMEUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch: what timestamps store. */
int64_t time_now_ms(void);
/* Monotonic milliseconds: what timers and timeouts measure. */
int64_t time_mono_ms(void);
/* "2026-11-24T20:01:02.345Z"; out must hold TIME_RFC3339_LEN bytes. */
#define TIME_RFC3339_LEN 32
void time_format_rfc3339(int64_t ms, char *out);
/* "2026-11-24T20:01:02.345Z" or with an offset ("+01:00"); -1 on error. */
int time_parse_rfc3339(const char *s, int64_t *ms);
/*
 * A time as a person gives it, in the local time zone unless it names one:
 * RFC 3339 ("2026-11-25T03:00:00Z", "...+01:00"), "2026-11-25 03:00[:SS]"
 * or with a 'T', "03:00[:SS]" (today's, or tomorrow's when today's has
 * passed at now_ms). A local time a DST change skips is taken as the
 * zone's offset before it; one that occurs twice, as the first. -1 on error.
 */
int time_parse_local(const char *s, int64_t now_ms, int64_t *ms);
/* "1500ms", "2s", "3m", "1h", "30d"; a bare number is seconds. -1 on error. */
int time_parse_duration(const char *s, int64_t *ms);
/* "1MiB", "512KiB", "2GiB", "100" (bytes). -1 on error. */
int time_parse_size(const char *s, int64_t *bytes);
/* "1.5s", "3m", "2h" for display. */
void time_format_duration(int64_t ms, char *out, size_t n);

#endif
