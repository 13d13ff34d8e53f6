/*
 * model_rate.c: how fast each running task goes and when it should end,
 * from samples of its progress taken as the console sees it move (the
 * daemon sends done and total, not a rate), and both as short text. The
 * arithmetic is share/rate.c's, the one depotctl's --wait line uses.
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
 * A sample of every running task's progress, now (monotonic ms); called
 * each turn of the loop. Tasks no longer running lose theirs.
 */
void model_rate_sample(struct model *m, int64_t now)
{
	size_t k = 0;

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
			r->task = t->id;
			rate_reset(&r->r);
		}
		rate_add(&r->r, now, t->done);
	}
}

/* Units a second of task id; -1 while not known. */
double model_task_rate(const struct model *m, int64_t id)
{
	const struct model_rate *r = rate_find(m, id);

	return r != NULL ? rate_per_s(&r->r) : -1;
}

/* Milliseconds until t reaches its total at its rate; -1 when not known (no total, no rate). */
int64_t model_task_eta(const struct model *m, const struct model_task *t)
{
	const struct model_rate *r = rate_find(m, t->id);

	if (r == NULL || !t->has_total)
		return -1;
	return rate_eta_ms(&r->r, t->total);
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
	if (t->state != TASK_RUNNING || (r = model_task_rate(m, t->id)) < 0)
		return;
	model_fmt_rate(r, t->unit, rate, sizeof rate);
	if ((ms = model_task_eta(m, t)) >= 0) {
		model_fmt_age(ms, eta, sizeof eta);
		snprintf(out, n, "%s, ETA %s", rate, eta);
	} else
		snprintf(out, n, "%s", rate);
}
