/*
 * model_rate.c: how fast a running task goes and when it should end, from
 * samples of its progress taken as the console sees it move (the daemon
 * sends done and total, not a rate), and both as short text.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct model_rate *rate_find(const struct model *m, int64_t id);

static struct model_rate *rate_find(const struct model *m, int64_t id)
{
	for (size_t i = 0; i < m->nrates; i++)
		if (m->rates[i].task == id)
			return &m->rates[i];
	return NULL;
}

/*
 * One sample at monotonic time at. Samples older than the window go, so
 * that the rate is the recent one and falls to 0 when the task stops
 * moving; a count that went back (a task started over) starts afresh.
 */
void model_rate_add(struct model_rate *r, int64_t at, int64_t done)
{
	size_t last;

	if (r->n > 0) {
		last = (r->first + r->n - 1) % MODEL_RATE_SAMPLES;
		if (done < r->done[last])
			r->n = 0;
		else if (at - r->at[last] < MODEL_RATE_EVERY_MS)
			return;
	}
	while (r->n > 0 && at - r->at[r->first] > MODEL_RATE_WINDOW_MS) {
		r->first = (r->first + 1) % MODEL_RATE_SAMPLES;
		r->n--;
	}
	if (r->n == MODEL_RATE_SAMPLES) {
		r->first = (r->first + 1) % MODEL_RATE_SAMPLES;
		r->n--;
	}
	last = (r->first + r->n) % MODEL_RATE_SAMPLES;
	r->at[last] = at;
	r->done[last] = done;
	r->n++;
}

/* Units a second between the oldest and newest sample; -1 when they are too close to tell. */
int model_rate_compute(const struct model_rate *r, double *per_sec)
{
	size_t last;
	int64_t span;

	if (r->n < 2)
		return -1;
	last = (r->first + r->n - 1) % MODEL_RATE_SAMPLES;
	span = r->at[last] - r->at[r->first];
	if (span < MODEL_RATE_MIN_SPAN_MS)
		return -1;
	*per_sec = (double)(r->done[last] - r->done[r->first]) * 1000.0 / (double)span;
	return 0;
}

/*
 * A sample of every running task's progress, now (monotonic ms); called
 * each turn of the loop. Tasks no longer running lose theirs.
 */
void model_rate_sample(struct model *m, int64_t now)
{
	size_t k = 0;

	/* Forget the tasks that stopped running. */
	for (size_t i = 0; i < m->nrates; i++) {
		const struct model_task *t = model_task(m, m->rates[i].task);

		if (t != NULL && t->state == TASK_RUNNING && t->has_done)
			m->rates[k++] = m->rates[i];
	}
	m->nrates = k;
	for (size_t i = 0; i < m->ntasks; i++) {
		const struct model_task *t = m->tasks[i];
		struct model_rate *r, *p;

		if (t->state != TASK_RUNNING || !t->has_done)
			continue;
		if ((r = rate_find(m, t->id)) == NULL) {
			if ((p = realloc(m->rates, (m->nrates + 1) * sizeof *p)) == NULL)
				return;
			m->rates = p;
			r = &m->rates[m->nrates++];
			memset(r, 0, sizeof *r);
			r->task = t->id;
		}
		model_rate_add(r, now, t->done);
	}
}

int model_task_rate(const struct model *m, int64_t id, double *per_sec)
{
	const struct model_rate *r = rate_find(m, id);

	return r != NULL ? model_rate_compute(r, per_sec) : -1;
}

/* Time left at that rate, in ms; -1 without a total or a rate above 0. */
int model_eta(const struct model_task *t, double per_sec, int64_t *ms)
{
	int64_t left;

	if (!t->has_total || !t->has_done || t->total <= 0 || per_sec <= 0)
		return -1;
	left = t->total - t->done;
	if (left < 0)
		left = 0;
	*ms = (int64_t)((double)left * 1000.0 / per_sec + 0.5);
	return 0;
}

void model_rates_free(struct model *m)
{
	free(m->rates);
	m->rates = NULL;
	m->nrates = 0;
}

/* "1.2MiB/s" for bytes, "12 files/s" or "0.5 files/s" otherwise. */
void model_fmt_rate(double per_sec, const char *unit, char *out, size_t n)
{
	char size[32];

	if (unit != NULL && strcmp(unit, "bytes") == 0) {
		model_fmt_size((int64_t)(per_sec + 0.5), size, sizeof size);
		snprintf(out, n, "%s/s", size);
	} else if (per_sec < 10)
		snprintf(out, n, "%.1f%s%s/s", per_sec, unit ? " " : "", unit ? unit : "");
	else
		snprintf(out, n, "%.0f%s%s/s", per_sec, unit ? " " : "", unit ? unit : "");
}

/* "12 files/s, ETA 1m05" for a running task moving at a known rate; "" otherwise. */
void model_fmt_rate_eta(const struct model *m, const struct model_task *t, char *out, size_t n)
{
	char rate[48], eta[32];
	double r;
	int64_t ms;

	out[0] = '\0';
	/* Nothing moved yet (progress "-"): no rate to speak of either. */
	if ((!t->has_done || t->done == 0) && !t->has_total)
		return;
	if (t->state != TASK_RUNNING || model_task_rate(m, t->id, &r) < 0)
		return;
	model_fmt_rate(r, t->unit, rate, sizeof rate);
	if (model_eta(t, r, &ms) == 0) {
		model_fmt_age(ms, eta, sizeof eta);
		snprintf(out, n, "%s, ETA %s", rate, eta);
	} else
		snprintf(out, n, "%s", rate);
}
