/* rate.c: how fast a count moves and when it reaches its total, from timed samples of it. */
#include "rate.h"

#include <string.h>

static size_t rate_slot(const struct rate *r, size_t i);
static void rate_drop_oldest(struct rate *r);
static void rate_drop_second(struct rate *r);

/* The ring index of the i-th sample, oldest first. */
static size_t rate_slot(const struct rate *r, size_t i)
{
	return (r->first + i) % RATE_SAMPLES;
}

static void rate_drop_oldest(struct rate *r)
{
	r->first = rate_slot(r, 1);
	r->n--;
}

/* The oldest takes the second's place: the ring shrinks by one, its span stays. */
static void rate_drop_second(struct rate *r)
{
	r->at[rate_slot(r, 1)] = r->at[rate_slot(r, 0)];
	r->done[rate_slot(r, 1)] = r->done[rate_slot(r, 0)];
	rate_drop_oldest(r);
}

void rate_reset(struct rate *r)
{
	memset(r, 0, sizeof *r);
}

void rate_add(struct rate *r, int64_t at_ms, int64_t done)
{
	size_t last;

	if (r->n > 0) {
		last = rate_slot(r, r->n - 1);
		if (done < r->done[last] || at_ms < r->at[last])
			rate_reset(r);
		else if (at_ms == r->at[last]) {
			/* Two readings of one instant: the later one stands. */
			r->done[last] = done;
			return;
		}
	}
	/* Samples faster than the ring holds a window of: thin them, keep the span. */
	if (r->n == RATE_SAMPLES)
		rate_drop_second(r);
	last = rate_slot(r, r->n);
	r->at[last] = at_ms;
	r->done[last] = done;
	r->n++;
	/* The oldest may go once the next one alone still reaches back a whole window. */
	while (r->n > 2 && r->at[rate_slot(r, 1)] <= at_ms - RATE_WINDOW_MS)
		rate_drop_oldest(r);
}

double rate_per_s(const struct rate *r)
{
	size_t a, b;
	int64_t span;

	if (r->n < 2)
		return -1;
	a = rate_slot(r, 0);
	b = rate_slot(r, r->n - 1);
	span = r->at[b] - r->at[a];
	if (span < RATE_MIN_SPAN_MS)
		return -1;
	return (double)(r->done[b] - r->done[a]) * 1000.0 / (double)span;
}

int64_t rate_eta_ms(const struct rate *r, int64_t total)
{
	double per_s = rate_per_s(r), ms;
	int64_t left;

	if (total < 0 || r->n == 0)
		return -1;
	left = total - r->done[rate_slot(r, r->n - 1)];
	if (left <= 0)
		return 0;
	if (per_s <= 0)
		return -1;
	ms = (double)left * 1000.0 / per_s;
	return ms > (double)RATE_ETA_MAX_MS ? -1 : (int64_t)(ms + 0.5);
}
