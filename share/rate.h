/* rate.h: how fast a count moves and when it reaches its total, from timed samples of it. */
#ifndef DEPOT_RATE_H
#define DEPOT_RATE_H
#include <stddef.h>
#include <stdint.h>

/* Samples kept; beyond it the second oldest goes, so the oldest still spans the window. */
#define RATE_SAMPLES 64
/* The rate is the count's move over about this long: long enough to smooth out a worker's
 * heartbeat steps, short enough to follow a transfer that speeds up or slows down. */
#define RATE_WINDOW_MS 10000
/* No rate before the samples span this long: two close samples say nothing. */
#define RATE_MIN_SPAN_MS 1000
/* An ETA further than this is no estimate worth showing. */
#define RATE_ETA_MAX_MS ((int64_t)100 * 86400000)

/*
 * A count sampled over time (a task's progress "done"), oldest first in a
 * ring. Zeroed (or rate_reset) is empty. Pure arithmetic: the caller
 * gives the times (monotonic milliseconds), so that tests give theirs.
 */
struct rate {
	int64_t at[RATE_SAMPLES];
	int64_t done[RATE_SAMPLES];
	size_t first;
	size_t n;
};

void rate_reset(struct rate *r);
/*
 * Adds done as seen at at_ms. A count that went back (a new attempt, a
 * new phase) or a time that did starts afresh; samples older than the
 * window go, save the newest of them, so the window stays spanned.
 */
void rate_add(struct rate *r, int64_t at_ms, int64_t done);
/* Units a second over the window; -1 while it is not known (too few samples, too short a span). */
double rate_per_s(const struct rate *r);
/*
 * Milliseconds until the count reaches total at the current rate, from
 * the last sample; 0 when it has; -1 when unknown: no total (negative),
 * no rate, a count standing still, or further than RATE_ETA_MAX_MS.
 */
int64_t rate_eta_ms(const struct rate *r, int64_t total);

#endif
