/*
 * view-header.c: the two lines at the top: the daemon (version, pid,
 * uptime, health), the clock, then the counts (workers online, tasks
 * running and waiting, reservations held) and whether the queue or some of
 * its resources are paused, or the banner saying the daemon is down.
 */
#include "console.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

static void header_title(struct console *con, struct pane *p, int64_t now);
static void header_counts(struct console *con, struct pane *p);
static int header_paused(struct console *con, struct pane *p, int x);
static void header_banner(struct console *con, struct pane *p, int64_t now);

/*
 * " depot-console | depotd 0.1.0 up 3m02 | healthy | pid 12 | /data" with
 * the clock on the right; what does not fit goes from the end.
 */
static void header_title(struct console *con, struct pane *p, int64_t now)
{
	const struct model_status *s = &con->m.status;
	char left[2048], right[128], clock[32], up[32];
	int rw, width = p->w;

	model_fmt_clock(console_now_ms(), 0, clock, sizeof clock);
	snprintf(right, sizeof right, " %s%s ", con->readonly ? "READ-ONLY  " : "", clock);
	draw_fill(p->win, 0, 0, width, con->th.title);
	if (!con->m.up && con->m.down_since > 0)
		snprintf(left, sizeof left, " depot-console | depotd %s | %s",
		    con->m.refused ? "REFUSES ACCESS" : "DOWN", con->dir);
	else if (!s->known)
		snprintf(left, sizeof left, " depot-console | depotd: connecting | %s", con->dir);
	else {
		model_fmt_age(model_uptime(&con->m, now), up, sizeof up);
		snprintf(left, sizeof left, " depot-console | depotd %s up %s%s | %s%s | pid %lld | %s",
		    s->version ? s->version : "?", up, s->stopping ? " STOPPING" : "",
		    s->healthy ? "healthy" : "UNHEALTHY: ",
		    s->healthy ? "" : (s->problems ? s->problems : ""), (long long)s->pid,
		    s->data_dir ? s->data_dir : con->dir);
	}
	rw = model_text_width(right, con->utf8);
	if (rw + 20 > width)
		rw = 0;
	draw_text(con, p->win, 0, 0, width - rw, con->th.title, left);
	if (rw > 0)
		draw_text(con, p->win, 0, width - rw, rw, con->th.title, right);
}

/*
 * A pause, right after the workers so that narrow screens cut the
 * reservation counts rather than it: "QUEUE PAUSED" (nothing new starts),
 * or "paused: host:db1, backup" for resources paused one by one (at most
 * a third of the width). Returns the column after it, x when no pause.
 */
static int header_paused(struct console *con, struct pane *p, int x)
{
	const struct model_status *s = &con->m.status;
	char text[512];
	int w;

	if (!s->queue_known || (!s->queue_paused && (s->paused_resources == NULL ||
	    s->paused_resources[0] == '\0')))
		return x;
	if (s->queue_paused)
		snprintf(text, sizeof text, " QUEUE PAUSED ");
	else
		snprintf(text, sizeof text, " paused: %s ", s->paused_resources);
	w = model_text_width(text, con->utf8);
	if (w > p->w / 3)
		w = p->w / 3;
	x += draw_text(con, p->win, 1, x, w, s->queue_paused ? con->th.banner : con->th.error, text);
	return x + draw_text(con, p->win, 1, x, p->w - x, A_BOLD, "|");
}

static void header_counts(struct console *con, struct pane *p)
{
	struct model_counts c;
	char buf[512];
	size_t l = 0;
	int x;

	model_counts(&con->m, &c);
	snprintf(buf, sizeof buf, " workers %zu/%zu online |", c.workers_online, c.workers_total);
	x = draw_text(con, p->win, 1, 0, p->w, A_BOLD, buf);
	x = header_paused(con, p, x);
	l += (size_t)snprintf(buf + l, sizeof buf - l, " tasks %zu running", c.running);
	if (c.canceling > 0)
		l += (size_t)snprintf(buf + l, sizeof buf - l, ", %zu canceling", c.canceling);
	l += (size_t)snprintf(buf + l, sizeof buf - l, ", %zu waiting", c.waiting);
	if (c.stalled > 0)
		l += (size_t)snprintf(buf + l, sizeof buf - l, ", %zu STALLED", c.stalled);
	snprintf(buf + l, sizeof buf - l, " | reservations %zu held, %zu waiting",
	    c.held, c.waiters);
	if (x < p->w)
		draw_text(con, p->win, 1, x, p->w - x, A_BOLD, buf);
}

static void header_banner(struct console *con, struct pane *p, int64_t now)
{
	char down[32];

	model_fmt_age(now - con->m.down_since, down, sizeof down);
	draw_fill(p->win, 1, 0, p->w, con->th.banner);
	if (con->m.refused) {
		draw_textf(con, p->win, 1, 0, p->w, con->th.banner,
		    " DEPOTD REFUSES THIS USER -- trying again -- %s", con->m.down_reason);
		return;
	}
	draw_textf(con, p->win, 1, 0, p->w, con->th.banner,
	    " DAEMON DOWN %s -- %s -- %s", down,
	    con->m.ever_up ? "reconnecting by itself, below is the last state seen"
	    : "waiting for depotd to start",
	    con->m.down_reason[0] ? con->m.down_reason : "no answer");
}

void header_draw(struct console *con, struct pane *p)
{
	int64_t now = time_mono_ms();

	header_title(con, p, now);
	if (p->h < 2)
		return;
	if (!con->m.up && con->m.down_since > 0)
		header_banner(con, p, now);
	else
		header_counts(con, p);
}
