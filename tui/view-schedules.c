/*
 * view-schedules.c: the schedules view: name, enabled, interval or calendar
 * expression (with its zone), next and last run, the last task it
 * submitted and its state, runs skipped, and what it submits
 * (schedule.list, read again while the view is open).
 */
#include "console.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

static void sched_when(int64_t ms, int64_t now, char *out, size_t n);

/* "in 3m02" or "3m02 ago"; "-" for never. */
static void sched_when(int64_t ms, int64_t now, char *out, size_t n)
{
	char d[32];

	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	model_fmt_age(ms > now ? ms - now : now - ms, d, sizeof d);
	snprintf(out, n, ms > now ? "in %s" : "%s ago", d);
}

void schedules_draw(struct console *con, struct pane *p)
{
	size_t visible = p->h > 1 ? (size_t)(p->h - 1) : 0;
	int64_t now = console_now_ms();
	/* Narrow screens leave out the last run's time and the skipped count. */
	int wide = p->w >= 100, nw = wide ? 20 : 14, ew = 7, what_x;
	char every[256], next[32], last[32], task[64];
	WINDOW *w = p->win;

	/*
	 * A calendar expression is wider than an interval: the column grows for
	 * it, as far as leaves SUBMITS 16 cells (and 32 at most).
	 */
	for (size_t i = 0; i < con->m.nscheds; i++)
		if (con->m.scheds[i].calendar != NULL &&
		    model_text_width(con->m.scheds[i].calendar, con->utf8) > ew)
			ew = model_text_width(con->m.scheds[i].calendar, con->utf8);
	what_x = nw + 1 + 9 + 1 + 10 + 17 + (wide ? 10 + 5 : 0);
	if (ew > 32)
		ew = 32;
	if (ew > p->w - what_x - 16)
		ew = p->w - what_x - 16;
	if (ew < 7)
		ew = 7;
	what_x += ew;
	draw_fill(w, 0, 0, p->w, con->th.colhead);
	if (wide)
		draw_textf(con, w, 0, 0, p->w, con->th.colhead, "%-*s %-8s %-*s %-9s %-9s %-16s %4s %s",
		    nw, "SCHEDULE", "STATE", ew, "WHEN", "NEXT", "LAST", "LAST TASK", "SKIP", "SUBMITS");
	else
		draw_textf(con, w, 0, 0, p->w, con->th.colhead, "%-*s %-8s %-*s %-9s %-16s %s",
		    nw, "SCHEDULE", "STATE", ew, "WHEN", "NEXT", "LAST TASK", "SUBMITS");
	if (con->m.nscheds == 0) {
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim,
		    "no schedules (depotctl schedule add NAME --every DUR -- sync REPO); Esc goes back");
		return;
	}
	if (con->scheds_top + visible > con->m.nscheds)
		con->scheds_top = con->m.nscheds > visible ? con->m.nscheds - visible : 0;
	for (size_t i = 0; i < visible && con->scheds_top + i < con->m.nscheds; i++) {
		const struct model_schedule *s = &con->m.scheds[con->scheds_top + i];
		int y = (int)i + 1, x = 0;

		if (s->calendar != NULL)
			snprintf(every, sizeof every, "%s", s->calendar);
		else
			time_format_duration(s->every_ms, every, sizeof every);
		sched_when(s->next_ms, now, next, sizeof next);
		sched_when(s->last_ms, now, last, sizeof last);
		if (s->last_task > 0)
			snprintf(task, sizeof task, "#%lld %s", (long long)s->last_task,
			    s->last_state ? s->last_state : "");
		else
			snprintf(task, sizeof task, "-");
		draw_text(con, w, y, x, nw, A_BOLD, s->name);
		x += nw + 1;
		draw_text(con, w, y, x, 8, s->enabled ? con->th.ok : con->th.dim,
		    s->enabled ? "enabled" : "disabled");
		x += 9;
		draw_text(con, w, y, x, ew, A_NORMAL, every);
		x += ew + 1;
		draw_text(con, w, y, x, 9, A_NORMAL, s->enabled ? next : "-");
		x += 10;
		if (wide) {
			draw_text(con, w, y, x, 9, A_NORMAL, last);
			x += 10;
		}
		draw_text(con, w, y, x, 16, con->th.state[model_state_parse(s->last_state)], task);
		x += 17;
		if (wide)
			draw_textf(con, w, y, x, 4, A_NORMAL, "%4lld", (long long)s->skipped);
		draw_text(con, w, y, what_x, p->w - what_x, A_NORMAL, s->what);
	}
}

int schedules_key(struct console *con, struct pane *p, int ch)
{
	size_t page = p->h > 2 ? (size_t)(p->h - 2) : 1;

	if (draw_scroll_key(ch, &con->scheds_top, con->m.nscheds, page))
		return PANE_HANDLED | PANE_REDRAW;
	if (ch != 's' && !console_is_back(ch))
		return PANE_IGNORED;
	console_close_view(con);
	return PANE_HANDLED | PANE_REDRAW;
}
