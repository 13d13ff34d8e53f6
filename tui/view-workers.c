/*
 * view-workers.c: the workers pane: name, state, pid, how long since the
 * last heartbeat, and the task each one runs.
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

static attr_t worker_attr(const struct console *con, const char *state);

/* Rows the pane would like (its column header included) out of room. */
int workers_rows_wanted(const struct console *con, int room)
{
	int most = room / 4, n = (int)con->m.nworkers;

	if (most < 1)
		most = 1;
	if (n < 1)
		n = 1;
	return (n < most ? n : most) + 1;
}

static attr_t worker_attr(const struct console *con, const char *state)
{
	if (strcmp(state, "online") == 0)
		return con->th.ok;
	if (strcmp(state, "missing") == 0)
		return con->th.error;
	return con->th.dim;
}

void workers_draw(struct console *con, struct pane *p)
{
	int64_t now = console_now_ms();
	int rows = p->h - 1, y;
	char hb[32], pid[32], task[512];
	WINDOW *w = p->win;

	draw_fill(w, 0, 0, p->w, con->th.colhead);
	draw_textf(con, w, 0, 0, p->w, con->th.colhead, "%-10s %-8s %7s %9s  %s",
	    "WORKER", "STATE", "PID", "HEARTBEAT", "TASK");
	if (con->m.nworkers == 0) {
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim,
		    con->m.up ? "no workers yet" : "no workers known");
		return;
	}
	for (size_t i = 0; i < con->m.nworkers && (int)i < rows; i++) {
		const struct model_worker *wk = &con->m.workers[i];
		const struct model_task *t = wk->task > 0 ? model_task(&con->m, wk->task) : NULL;
		y = (int)i + 1;
		if ((int)i == rows - 1 && con->m.nworkers > (size_t)rows) {
			draw_textf(con, w, y, 1, p->w - 1, con->th.dim, "... and %zu more workers",
			    con->m.nworkers - i);
			break;
		}
		if (wk->heartbeat_ms > 0 && strcmp(wk->state, "stopped") != 0) {
			int64_t age = now - wk->heartbeat_ms;

			if (age < 10000)
				snprintf(hb, sizeof hb, "%.1fs", (age < 0 ? 0 : age) / 1000.0);
			else
				model_fmt_age(age, hb, sizeof hb);
		} else
			snprintf(hb, sizeof hb, "-");
		snprintf(pid, sizeof pid, "%lld", (long long)wk->pid);
		if (wk->task > 0 && t != NULL)
			snprintf(task, sizeof task, "#%lld %s", (long long)t->id, t->name);
		else if (wk->task > 0)
			snprintf(task, sizeof task, "#%lld", (long long)wk->task);
		else
			snprintf(task, sizeof task, "%s", strcmp(wk->state, "online") == 0 ? "idle" : "-");
		/* Columns as in the header: "%-10s %-8s %7s %9s  %s". */
		draw_text(con, w, y, 0, 10, A_NORMAL, wk->name);
		draw_text(con, w, y, 11, 8, worker_attr(con, wk->state), wk->state);
		draw_textf(con, w, y, 20, 7, A_NORMAL, "%7s", pid);
		draw_textf(con, w, y, 28, 9, A_NORMAL, "%9s", hb);
		draw_text(con, w, y, 39, p->w - 39, wk->supervised ? A_NORMAL : con->th.dim, task);
	}
}
