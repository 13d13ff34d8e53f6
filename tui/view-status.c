/*
 * view-status.c: the two lines at the bottom: messages (what an action
 * did, a backup's progress, the search being typed, what holds the
 * selected waiting task) with the filter and counts on the right, then the
 * keys of the view on screen.
 */
#include "console.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

struct keyitem {
	const char *key, *label;
	int action;		/* hidden with --readonly */
	int drop;		/* dropped first, highest first, when the line is too narrow */
};

static void status_op(struct console *con, char *out, size_t n);
static void status_message(struct console *con, struct pane *p);
static void status_why(struct console *con, char *out, size_t n);
static void status_keys(struct console *con, struct pane *p);

static const struct keyitem keys_main[] = {
	{ "Enter", "Info", 0, 2 }, { "c", "Cancel", 1, 0 }, { "a", "Restart", 1, 4 },
	{ "p", "Pause", 1, 4 }, { "f", "Filter", 0, 0 }, { "o", "Sort", 0, 2 },
	{ "/", "Search", 0, 0 }, { "l", "Locks", 0, 1 }, { "s", "Sched", 0, 1 },
	{ "r", "Repos", 0, 1 }, { "b", "Backup", 1, 3 }, { "R", "Restore", 1, 3 },
	{ "?", "Help", 0, 0 }, { "q", "Quit", 0, 0 }, { NULL, NULL, 0, 0 },
};
static const struct keyitem keys_details[] = {
	{ "Esc", "Back", 0, 0 }, { "Up/Dn", "Scroll log", 0, 1 }, { "End", "Follow", 0, 2 },
	{ "c", "Cancel", 1, 0 }, { "a", "Restart", 1, 1 }, { "?", "Help", 0, 0 },
	{ "q", "Quit", 0, 0 }, { NULL, NULL, 0, 0 },
};
static const struct keyitem keys_list[] = {
	{ "Esc", "Back", 0, 0 }, { "Up/Dn", "Scroll", 0, 1 }, { "?", "Help", 0, 0 },
	{ "q", "Quit", 0, 0 }, { NULL, NULL, 0, 0 },
};
static const struct keyitem keys_help[] = {
	{ "Esc", "Close", 0, 0 }, { "Up/Dn", "Scroll", 0, 1 }, { "q", "Quit", 0, 0 },
	{ NULL, NULL, 0, 0 },
};
static const struct keyitem keys_confirm[] = {
	{ "y", "Yes", 0, 0 }, { "n", "No", 0, 0 }, { "Esc", "No", 0, 0 }, { NULL, NULL, 0, 0 },
};
static const struct keyitem keys_input[] = {
	{ "Enter", "OK", 0, 0 }, { "Esc", "Cancel", 0, 0 }, { "^U", "Clear", 0, 1 },
	{ NULL, NULL, 0, 0 },
};
static const struct keyitem keys_search[] = {
	{ "Enter", "Keep", 0, 0 }, { "Esc", "Clear", 0, 0 }, { "^U", "Erase", 0, 1 },
	{ NULL, NULL, 0, 0 },
};

/* A backup or restore task as it goes: waiting, running with its progress, its end. */
static void status_op(struct console *con, char *out, size_t n)
{
	const struct model_task *t = model_task(&con->m, con->op_task);
	const char *what = con->op_kind == JOB_BACKUP ? "backup" : "restore";
	char prog[128];

	if (t == NULL) {
		snprintf(out, n, "%s #%lld queued: %s", what, (long long)con->op_task, con->op_path);
		return;
	}
	model_fmt_progress(t, prog, sizeof prog);
	switch (t->state) {
	case TASK_WAITING:
		snprintf(out, n, "%s #%lld waiting for the depot to be free (running tasks to end): %s",
		    what, (long long)t->id, con->op_path);
		break;
	case TASK_RUNNING:
	case TASK_CANCELING:
		snprintf(out, n, "%s #%lld %s: %s%s%s%s -- %s", what, (long long)t->id,
		    task_state_name(t->state), prog, t->stalled ? " STALLED" : "",
		    t->pmessage ? " " : "", t->pmessage ? t->pmessage : "", con->op_path);
		break;
	case TASK_COMPLETED:
		snprintf(out, n, "%s #%lld completed: %s", what, (long long)t->id, con->op_path);
		break;
	default:
		snprintf(out, n, "%s #%lld %s: %s%s%s", what, (long long)t->id,
		    task_state_name(t->state), t->err_reason ? t->err_reason : "",
		    t->err_message ? ": " : "", t->err_message ? t->err_message : "");
		break;
	}
}

/* "#12 waits: <what holds it>; <and what else>" for the selected waiting task, once known. */
static void status_why(struct console *con, char *out, size_t n)
{
	const struct model_why *why = &con->why;
	const struct model_task *t = console_selected(con);
	size_t l;

	out[0] = '\0';
	if (t == NULL || t->state != TASK_WAITING || why->task != t->id || !why->known || why->n == 0)
		return;
	l = (size_t)snprintf(out, n, "#%lld waits: ", (long long)t->id);
	for (size_t i = 0; i < why->n && l < n; i++)
		l += (size_t)snprintf(out + l, n - l, "%s%s", i ? "; " : "", why->msgs[i]);
}

static void status_message(struct console *con, struct pane *p)
{
	char left[1024] = "", right[512] = "";
	int64_t now = time_mono_ms();
	attr_t la = A_NORMAL;
	int rw = 0;

	if (con->prompt.kind == PROMPT_SEARCH) {
		prompt_search_draw(con, p->win, 0, p->w);
		return;
	}
	if (con->msg[0] != '\0' && now < con->msg_until) {
		snprintf(left, sizeof left, "%s", con->msg);
		la = con->msg_error ? con->th.error : con->th.info;
	} else if (con->job != NULL) {
		snprintf(left, sizeof left, "%s: waiting for depotd's answer... (%s)",
		    con->job_kind == JOB_BACKUP ? "backup" : "restore", con->job_path);
		la = con->th.info;
	} else if (con->op_task > 0) {
		const struct model_task *t = model_task(&con->m, con->op_task);

		status_op(con, left, sizeof left);
		la = t != NULL && (t->state == TASK_FAILED || t->state == TASK_CANCELED) ?
		    con->th.error : con->th.info;
	} else if (con->view == VIEW_MAIN) {
		status_why(con, left, sizeof left);
		la = con->th.state[TASK_WAITING];
	}
	if (con->view == VIEW_MAIN) {
		int64_t wall = console_now_ms();
		size_t total = 0;
		char label[64];

		model_filter_label(con->filter, con->recent_ms, label, sizeof label);
		for (size_t i = 0; i < con->m.ntasks; i++)
			total += model_filter_task(con->filter, con->m.tasks[i], con->recent_ms, wall);
		if (con->search[0] != '\0')
			snprintf(right, sizeof right, "search '%s': %zu of %zu tasks (%s) ", con->search,
			    con->nrows, total, label);
		else
			snprintf(right, sizeof right, "filter %s: %zu%s task%s ",
			    label, con->nrows,
			    con->m.tasks_truncated && con->filter != MODEL_FILTER_FAILED ? "+" : "",
			    con->nrows == 1 ? "" : "s");
		rw = model_text_width(right, con->utf8);
		if (rw > p->w / 2)
			rw = p->w / 2;
	}
	/* A message that needs the whole line gets it. */
	if (model_text_width(left, con->utf8) > p->w - rw - 2)
		rw = 0;
	draw_text(con, p->win, 0, 1, p->w - rw - 2, la, left);
	if (rw > 0)
		draw_text(con, p->win, 0, p->w - rw, rw, con->th.dim | A_BOLD, right);
}

static void status_keys(struct console *con, struct pane *p)
{
	const struct keyitem *items = keys_main;
	int keep[32], n = 0, total, x = 0, ro_w = con->readonly ? 10 : 0;

	switch (con->prompt.kind) {
	case PROMPT_CONFIRM:
		items = keys_confirm;
		break;
	case PROMPT_INPUT:
		items = keys_input;
		break;
	case PROMPT_SEARCH:
		items = keys_search;
		break;
	default:
		items = con->view == VIEW_DETAILS ? keys_details :
		    con->view == VIEW_HELP ? keys_help :
		    con->view == VIEW_MAIN ? keys_main : keys_list;
		break;
	}
	for (n = 0; items[n].key != NULL && n < 32; n++)
		keep[n] = !(con->readonly && items[n].action && con->prompt.kind == PROMPT_NONE);
	/* Too narrow: leave out the least needed keys (all are in the help). */
	for (;;) {
		int worst = -1;

		total = ro_w;
		for (int i = 0; i < n; i++)
			if (keep[i])
				total += model_text_width(items[i].key, con->utf8) +
				    model_text_width(items[i].label, con->utf8) + 1;
		if (total <= p->w)
			break;
		for (int i = 0; i < n; i++)
			if (keep[i] && items[i].drop > 0 && (worst < 0 || items[i].drop > items[worst].drop))
				worst = i;
		if (worst < 0)
			break;
		keep[worst] = 0;
	}
	for (int i = 0; i < n; i++)
		if (keep[i])
			x += draw_key(con, p->win, 1, x, p->w - x - ro_w, items[i].key, items[i].label);
	if (con->readonly && con->prompt.kind == PROMPT_NONE)
		draw_text(con, p->win, 1, p->w - ro_w, ro_w, con->th.error, " READ-ONLY");
}

void status_draw(struct console *con, struct pane *p)
{
	status_message(con, p);
	if (p->h > 1)
		status_keys(con, p);
}
