/*
 * view-details.c: one task: every field the daemon gives, its error and
 * result, what holds it while it waits (task.why), its rate and time left
 * while it runs, and the last lines of its log, all live (events for the
 * fields, task.log read from where the last read ended for the log).
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

static int details_field(struct console *con, WINDOW *w, int y, int x, int width,
    const char *label, const char *value, attr_t a);
static void details_time(int64_t ms, char *out, size_t n);
static char *details_json(const cJSON *j, const char *key);
static int details_known_key(const char *key);
static int details_log(struct console *con, struct pane *p, int y);
static int details_why(struct console *con, struct pane *p, int y, const struct model_task *t);

/* The keys drawn in their own places; any other one is listed as it is. */
static const char *const known_keys[] = {
	"id", "type", "name", "state", "resources", "worker", "created_at", "started_at",
	"finished_at", "timeout", "progress", "stalled", "error", "result", "schedule",
	"retry_of", "after", "retries", "not_before", "args", "priority", "restart_of", NULL,
};

#define LABEL_W 10

static int details_field(struct console *con, WINDOW *w, int y, int x, int width,
    const char *label, const char *value, attr_t a)
{
	if (width <= LABEL_W)
		return draw_text(con, w, y, x, width, a, value);
	draw_text(con, w, y, x, LABEL_W, con->th.dim, label);
	return LABEL_W + draw_text(con, w, y, x + LABEL_W, width - LABEL_W, a, value);
}

/* "20:01:02 (3m02 ago)" today, "2026-11-23 20:01:02 (1d02 ago)" before; "-" for none. */
static void details_time(int64_t ms, char *out, size_t n)
{
	char clock[40], today[40], age[32];

	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	model_fmt_clock(ms, 1, clock, sizeof clock);
	model_fmt_clock(console_now_ms(), 1, today, sizeof today);
	if (strncmp(clock, today, 10) == 0)
		model_fmt_clock(ms, 0, clock, sizeof clock);
	model_fmt_age(console_now_ms() - ms, age, sizeof age);
	snprintf(out, n, "%s (%s ago)", clock, age);
}

/* A member as compact JSON ("-" for null or absent); free with cJSON_free. */
static char *details_json(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	return cJSON_PrintUnformatted(v);
}

static int details_known_key(const char *key)
{
	for (int i = 0; known_keys[i] != NULL; i++)
		if (strcmp(known_keys[i], key) == 0)
			return 1;
	return 0;
}

/* The log from row y down: its last lines, or earlier ones when scrolled back. */
static int details_log(struct console *con, struct pane *p, int y)
{
	struct model_log *l = &con->log;
	size_t n = model_log_count(l), rows, first;
	char size[32], head[256];

	if (y >= p->h)
		return y;
	model_fmt_size(l->size, size, sizeof size);
	if (l->offset < 0)
		snprintf(head, sizeof head, " log: reading...");
	else if (con->log_scroll > 0)
		snprintf(head, sizeof head, " log: %s, %zu lines back (End follows)", size,
		    con->log_scroll);
	else
		snprintf(head, sizeof head, " log: %s%s", size, l->final ? ", complete" : ", live");
	draw_fill(p->win, y, 0, p->w, con->th.colhead);
	draw_text(con, p->win, y, 0, p->w, con->th.colhead, head);
	y++;
	rows = (size_t)(p->h - y);
	if (n == 0) {
		draw_text(con, p->win, y, 1, p->w - 1, con->th.dim,
		    l->offset < 0 ? "" : "(no output)");
		return y + 1;
	}
	if (con->log_scroll > (n > rows ? n - rows : 0))
		con->log_scroll = n > rows ? n - rows : 0;
	first = n > rows + con->log_scroll ? n - rows - con->log_scroll : 0;
	for (size_t i = first; i < n && y < p->h; i++, y++)
		draw_text(con, p->win, y, 1, p->w - 1, A_NORMAL, model_log_line(l, i));
	return y;
}

/* For a waiting task, each reason task.why gave on a line of its own (a few at most). */
static int details_why(struct console *con, struct pane *p, int y, const struct model_task *t)
{
	const struct model_why *why = &con->why;
	int most = p->h - y > 14 ? 4 : 1;
	WINDOW *w = p->win;

	if (t->state != TASK_WAITING)
		return y;
	draw_text(con, w, y, 0, LABEL_W, con->th.dim, "waits for");
	if (why->task != t->id || (!why->known && why->err[0] == '\0')) {
		draw_text(con, w, y, LABEL_W, p->w - LABEL_W, con->th.dim, "asking depotd...");
		return y + 1;
	}
	if (!why->known) {
		draw_textf(con, w, y, LABEL_W, p->w - LABEL_W, con->th.dim, "not known: %s", why->err);
		return y + 1;
	}
	if (why->n == 0) {
		draw_text(con, w, y, LABEL_W, p->w - LABEL_W, A_NORMAL,
		    "nothing: it starts at the next dispatch");
		return y + 1;
	}
	for (size_t i = 0; i < why->n && (int)i < most; i++, y++) {
		if ((int)i == most - 1 && why->n > (size_t)most)
			draw_textf(con, w, y, LABEL_W, p->w - LABEL_W, con->th.state[TASK_WAITING],
			    "%s (and %zu more)", why->msgs[i], why->n - i - 1);
		else
			draw_text(con, w, y, LABEL_W, p->w - LABEL_W, con->th.state[TASK_WAITING],
			    why->msgs[i]);
	}
	return y;
}

void details_draw(struct console *con, struct pane *p)
{
	const struct model_task *t = model_task(&con->m, con->details_id);
	int half = p->w / 2, y = 1, x;
	char a[256], b[256], *js;
	const cJSON *item;
	WINDOW *w = p->win;
	double f;

	draw_fill(w, 0, 0, p->w, con->th.title);
	if (t == NULL) {
		draw_textf(con, w, 0, 0, p->w, con->th.title, " Task #%lld", (long long)con->details_id);
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim,
		    con->m.up ? "reading the task..." : "the daemon is down; the task is not known yet");
		details_log(con, p, 3);
		return;
	}
	draw_textf(con, w, 0, 0, p->w, con->th.title, " Task #%lld: %s", (long long)t->id, t->name);

	/* state, worker */
	x = details_field(con, w, y, 0, half, "state", task_state_name(t->state),
	    con->th.state[t->state]);
	if (t->stalled && !task_state_final(t->state))
		draw_text(con, w, y, x + 1, half - x - 1, con->th.stalled, "STALLED");
	details_field(con, w, y++, half, p->w - half, "worker", t->worker ? t->worker : "-", A_NORMAL);
	details_field(con, w, y, 0, half, "type", t->type, A_NORMAL);
	details_field(con, w, y++, half, p->w - half, "schedule", t->schedule ? t->schedule : "-",
	    A_NORMAL);
	details_field(con, w, y++, 0, p->w, "name", t->name, A_NORMAL);
	{
		char res[1024];
		int named = 0;

		for (size_t i = 0; i < t->nres; i++)
			named |= strcmp(t->res[i], "depot") == 0;
		snprintf(res, sizeof res, "%s%s%s", t->res_text, t->res_text[0] && !named ? ", " : "",
		    named ? "" : "depot (shared, implicit)");
		details_field(con, w, y++, 0, p->w, "resources", res, A_NORMAL);
	}
	y = details_why(con, p, y, t);
	details_time(t->created_ms, a, sizeof a);
	details_time(t->started_ms, b, sizeof b);
	details_field(con, w, y, 0, half, "created", a, A_NORMAL);
	details_field(con, w, y++, half, p->w - half, "started", b, A_NORMAL);
	details_time(t->finished_ms, a, sizeof a);
	details_field(con, w, y, 0, half, "finished", a, A_NORMAL);
	js = details_json(t->json, "timeout");
	snprintf(b, sizeof b, "%s%s", js ? js : "-", js ? " ms" : "");
	cJSON_free(js);
	details_field(con, w, y++, half, p->w - half, "timeout", b, A_NORMAL);
	{
		char *retry = details_json(t->json, "retry_of"), *after = details_json(t->json, "after");
		char *retries = details_json(t->json, "retries"), *nb = details_json(t->json, "not_before");

		snprintf(a, sizeof a, "%s   retry of: %s   after: %s   not before: %s",
		    retries ? retries : "0", retry ? retry : "-", after ? after : "-", nb ? nb : "-");
		cJSON_free(retry);
		cJSON_free(after);
		cJSON_free(retries);
		cJSON_free(nb);
		details_field(con, w, y++, 0, p->w, "retries", a, A_NORMAL);
	}
	{
		char *prio = details_json(t->json, "priority"), *again = details_json(t->json, "restart_of");

		snprintf(a, sizeof a, "%s   restart of: %s%s", prio ? prio : "0", again ? "#" : "",
		    again ? again : "-");
		cJSON_free(prio);
		cJSON_free(again);
		details_field(con, w, y++, 0, p->w, "priority", a, A_NORMAL);
	}
	/* progress: bar, numbers, message */
	model_fmt_progress(t, a, sizeof a);
	x = LABEL_W;
	draw_text(con, w, y, 0, LABEL_W, con->th.dim, "progress");
	if (model_progress_fraction(t, &f) == 0 && p->w - x > 40) {
		draw_bar(con, w, y, x, 20, f);
		x += 21;
	}
	{
		char rate[96];

		model_fmt_rate_eta(&con->m, t, rate, sizeof rate);
		snprintf(b, sizeof b, "%s%s%s%s%s", a, rate[0] ? " at " : "", rate,
		    t->pmessage ? " -- " : "", t->pmessage ? t->pmessage : "");
	}
	draw_text(con, w, y++, x, p->w - x, A_NORMAL, b);

	js = details_json(t->json, "args");
	details_field(con, w, y++, 0, p->w, "args", js ? js : "-", A_NORMAL);
	cJSON_free(js);
	if (t->err_reason != NULL || t->err_message != NULL) {
		char err[1024];

		snprintf(err, sizeof err, "%s: %s", t->err_reason ? t->err_reason : "?",
		    t->err_message ? t->err_message : "");
		draw_text(con, w, y, 0, LABEL_W, con->th.dim, "error");
		y += draw_wrap(con, w, y, LABEL_W, p->w - LABEL_W, p->h - y > 8 ? 3 : 1,
		    con->th.error, err);
	} else
		details_field(con, w, y++, 0, p->w, "error", "-", A_NORMAL);
	js = details_json(t->json, "result");
	if (js != NULL && p->h - y > 6) {
		draw_text(con, w, y, 0, LABEL_W, con->th.dim, "result");
		y += draw_wrap(con, w, y, LABEL_W, p->w - LABEL_W, 2, A_NORMAL, js);
	} else
		details_field(con, w, y++, 0, p->w, "result", js ? js : "-", A_NORMAL);
	cJSON_free(js);
	/* Fields this console does not know (a newer daemon) are shown too. */
	cJSON_ArrayForEach(item, t->json) {
		if (item->string == NULL || details_known_key(item->string) || y >= p->h - 3)
			continue;
		js = cJSON_PrintUnformatted(item);
		details_field(con, w, y++, 0, p->w, item->string, js ? js : "?", A_NORMAL);
		cJSON_free(js);
	}
	details_log(con, p, y);
}

int details_key(struct console *con, struct pane *p, int ch)
{
	size_t page = p->h > 4 ? (size_t)(p->h / 2) : 1;

	switch (ch) {
	case KEY_UP:
	case 'k':
		con->log_scroll++;
		break;
	case KEY_DOWN:
	case 'j':
		if (con->log_scroll > 0)
			con->log_scroll--;
		break;
	case KEY_PPAGE:
		con->log_scroll += page;
		break;
	case KEY_NPAGE:
		con->log_scroll = con->log_scroll > page ? con->log_scroll - page : 0;
		break;
	case KEY_HOME:
	case 'g':
		con->log_scroll = MODEL_LOG_LINES;
		break;
	case KEY_END:
	case 'G':
		con->log_scroll = 0;
		break;
	case 'c':
		console_ask_cancel(con, con->details_id);
		break;
	case 'a':
		console_ask_restart(con, con->details_id);
		break;
	default:
		if (console_is_back(ch) || console_is_enter(ch)) {
			console_close_view(con);
			break;
		}
		return PANE_IGNORED;
	}
	return PANE_HANDLED | PANE_REDRAW;
}
