/*
 * view-help.c: the keys, what the states (share/states.def) and marks
 * mean, and where the data comes from.
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

struct help_line {
	const char *key, *text;
	int action;		/* disabled with --readonly */
};

static const struct help_line help_lines[] = {
	{ NULL, "Keys", 0 },
	{ "Up Down  j k", "move the selection (scroll in the other views)", 0 },
	{ "PgUp PgDn", "a page up or down", 0 },
	{ "Home End  g G", "first or last", 0 },
	{ "Enter", "details of the selected task: fields, error, result, live log", 0 },
	{ "c", "cancel the selected task (asks y/n)", 1 },
	{ "a", "run the selected ended task again, as a new task (asks y/n)", 1 },
	{ "p", "pause the whole queue, or resume it when paused (asks y/n)", 1 },
	{ "f", "filter: active (and ended in the last minutes), failed, all", 0 },
	{ "o O", "sort the tasks by the next column; O reverses the order", 0 },
	{ "/", "search the tasks by id, name or resource (Esc clears)", 0 },
	{ "l", "reservations: resources, their holders and queues of waiters", 0 },
	{ "s", "schedules: interval or calendar times, next run, last task", 0 },
	{ "r", "repositories: version, publication, last sync and how it went", 0 },
	{ "b", "back up the depot into a file (asks for the path)", 1 },
	{ "R", "restore the depot from a backup (a path, then the word restore)", 1 },
	{ "Esc", "back to the tasks", 0 },
	{ "?", "this help", 0 },
	{ "q", "quit (the daemon and its tasks go on)", 0 },
	{ NULL, "", 0 },
	{ NULL, "Tasks", 0 },
#define X(ident, wire, final, summary) { wire, summary, 0 },
#include "states.def"
#undef X
	{ "reason", "of a failed or canceled task: shown in place of its progress", 0 },
	{ "STALLED", "running, no progress for stall_after: cancel it if it is stuck", 0 },
	{ "rate, ETA", "of a running task, from its progress over the last 10 s", 0 },
	{ "waits for", "a waiting task's details: what holds it (task.why)", 0 },
	{ "QUEUE PAUSED", "in the header: no new task starts (depotctl pause, or p)", 0 },
	{ NULL, "", 0 },
	{ NULL, "Workers", 0 },
	{ "online", "heartbeating; missing: silent past worker_timeout; stopped", 0 },
	{ "grey", "a worker started by hand (not supervised by depotd)", 0 },
	{ NULL, "", 0 },
	{ NULL, "The console follows the daemon's events, and reads everything again after", 0 },
	{ NULL, "connecting and every few seconds, in case events were lost. When depotd is", 0 },
	{ NULL, "down it says so and reconnects by itself.", 0 },
};

void help_draw(struct console *con, struct pane *p)
{
	size_t n = sizeof help_lines / sizeof help_lines[0], visible;
	WINDOW *w = p->win;
	int y = 1;

	draw_fill(w, 0, 0, p->w, con->th.title);
	draw_textf(con, w, 0, 0, p->w, con->th.title, " Help: depot-console %s%s",
	    "(Esc or ? closes)", con->readonly ? "  READ-ONLY: c, a, p, b and R are disabled" : "");
	visible = p->h > 1 ? (size_t)(p->h - 1) : 0;
	if (con->help_top + visible > n)
		con->help_top = n > visible ? n - visible : 0;
	for (size_t i = con->help_top; i < n && y < p->h; i++, y++) {
		const struct help_line *h = &help_lines[i];

		if (h->key == NULL) {
			draw_text(con, w, y, 1, p->w - 1, A_BOLD, h->text);
			continue;
		}
		draw_text(con, w, y, 2, 14, con->readonly && h->action ? con->th.dim : con->th.key, h->key);
		draw_textf(con, w, y, 17, p->w - 17, con->readonly && h->action ? con->th.dim : A_NORMAL,
		    "%s%s", h->text, con->readonly && h->action ? " (disabled: read-only)" : "");
	}
}

int help_key(struct console *con, struct pane *p, int ch)
{
	(void)p;
	switch (ch) {
	case KEY_UP:
	case 'k':
		if (con->help_top > 0)
			con->help_top--;
		break;
	case KEY_DOWN:
	case 'j':
		con->help_top++;
		break;
	case 'q':
		return PANE_IGNORED;
	default:
		/* Any other key closes the help. */
		console_close_view(con);
		break;
	}
	return PANE_HANDLED | PANE_REDRAW;
}
