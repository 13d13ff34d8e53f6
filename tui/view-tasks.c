/*
 * view-tasks.c: the tasks pane: id, state, type, name, resources, worker,
 * age and progress (a bar and "done/total unit", STALLED marked; the
 * error's reason once a task failed or was canceled; the rate and time
 * left of a running one when there is room). Columns shrink and then go,
 * least useful first, to fit the width. The column the rows are sorted by
 * is marked in the heading.
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

enum col_id { COL_ID, COL_STATE, COL_TYPE, COL_NAME, COL_RES, COL_WORKER, COL_AGE, COL_PROGRESS, COL_N };

struct col {
	const char *title;
	int min, flex, max;
	int drop;		/* dropped first when higher */
	int right;		/* right-aligned */
	int w, x, shown;
};

static void tasks_layout(const struct console *con, struct col *c, int width);
static void tasks_heading(struct console *con, struct pane *p, const struct col *c);
static void tasks_progress(struct console *con, WINDOW *w, int y, const struct col *c,
    const struct model_task *t, int selected);

/* The column each sort order is marked on; -1 for the queue's order. */
static const int sort_col[MODEL_SORT_COUNT] = {
	[MODEL_SORT_QUEUE] = -1, [MODEL_SORT_ID] = COL_ID, [MODEL_SORT_STATE] = COL_STATE,
	[MODEL_SORT_TYPE] = COL_TYPE, [MODEL_SORT_NAME] = COL_NAME, [MODEL_SORT_RES] = COL_RES,
	[MODEL_SORT_WORKER] = COL_WORKER, [MODEL_SORT_AGE] = COL_AGE,
	[MODEL_SORT_PROGRESS] = COL_PROGRESS,
};
static void tasks_row(struct console *con, struct pane *p, int y, struct col *c,
    const struct model_task *t, int selected, int64_t now);

static const struct col col_defaults[COL_N] = {
	[COL_ID] = { "ID", 2, 0, 0, 0, 1, 0, 0, 0 },
	[COL_STATE] = { "STATE", 9, 0, 0, 0, 0, 0, 0, 0 },
	[COL_TYPE] = { "TYPE", 7, 0, 0, 5, 0, 0, 0, 0 },
	[COL_NAME] = { "NAME", 8, 3, 0, 1, 0, 0, 0, 0 },
	[COL_RES] = { "RESOURCES", 8, 2, 0, 3, 0, 0, 0, 0 },
	[COL_WORKER] = { "WORKER", 6, 0, 0, 6, 0, 0, 0, 0 },
	[COL_AGE] = { "AGE", 5, 0, 0, 4, 1, 0, 0, 0 },
	[COL_PROGRESS] = { "PROGRESS", 12, 2, 40, 2, 0, 0, 0, 0 },
};

/* Widths and positions of the columns shown in width cells. */
static void tasks_layout(const struct console *con, struct col *c, int width)
{
	int64_t maxid = con->m.ntasks > 0 ? con->m.tasks[con->m.ntasks - 1]->id : 1;
	int total, flex, extra, x = 0, given, sc;
	char digits[32];

	memcpy(c, col_defaults, sizeof col_defaults);
	c[COL_ID].min = snprintf(digits, sizeof digits, "%lld", (long long)maxid);
	if (c[COL_ID].min < 2)
		c[COL_ID].min = 2;
	/* The sorted column's title has room for its mark. */
	sc = sort_col[con->sort < MODEL_SORT_COUNT ? con->sort : 0];
	if (sc >= 0 && c[sc].min < (int)strlen(c[sc].title) + 1)
		c[sc].min = (int)strlen(c[sc].title) + 1;
	for (int i = 0; i < COL_N; i++)
		c[i].shown = 1;
	for (;;) {
		int worst = -1;

		total = -1;
		for (int i = 0; i < COL_N; i++)
			if (c[i].shown)
				total += c[i].min + 1;
		if (total <= width)
			break;
		for (int i = 0; i < COL_N; i++)
			if (c[i].shown && c[i].drop > 0 && (worst < 0 || c[i].drop > c[worst].drop))
				worst = i;
		if (worst < 0)
			break;
		c[worst].shown = 0;
	}
	extra = width - total;
	flex = 0;
	for (int i = 0; i < COL_N; i++)
		if (c[i].shown)
			flex += c[i].flex;
	given = 0;
	for (int i = 0; i < COL_N; i++) {
		c[i].w = c[i].min;
		if (c[i].shown && c[i].flex > 0 && extra > 0 && flex > 0) {
			int more = extra * c[i].flex / flex;

			if (c[i].max > 0 && c[i].w + more > c[i].max)
				more = c[i].max - c[i].w;
			c[i].w += more;
			given += more;
		}
	}
	/* What rounding and caps left goes to the name. */
	if (c[COL_NAME].shown && extra > given)
		c[COL_NAME].w += extra - given;
	for (int i = 0; i < COL_N; i++) {
		if (!c[i].shown)
			continue;
		c[i].x = x;
		x += c[i].w + 1;
	}
}

static void tasks_progress(struct console *con, WINDOW *w, int y, const struct col *c,
    const struct model_task *t, int selected)
{
	attr_t base = selected ? con->th.selected : A_NORMAL;
	int x = c->x, width = c->w, tw;
	char text[128];
	double f;

	if (task_state_final(t->state) && t->state != TASK_COMPLETED && t->err_reason != NULL) {
		draw_text(con, w, y, x, width, selected ? base : con->th.state[t->state], t->err_reason);
		return;
	}
	if (t->stalled && !task_state_final(t->state)) {
		int n = draw_text(con, w, y, x, width,
		    selected ? (base | A_BOLD | A_UNDERLINE) : con->th.stalled, "STALLED");

		x += n + 1;
		width -= n + 1;
	}
	if (width <= 0)
		return;
	model_fmt_progress(t, text, sizeof text);
	{
		char rate[96];
		size_t l = strlen(text);

		/* The rate and time left when the column has room for them and a bar. */
		model_fmt_rate_eta(&con->m, t, rate, sizeof rate);
		if (rate[0] != '\0' && model_text_width(text, con->utf8) +
		    model_text_width(rate, con->utf8) + 3 + 6 <= width)
			snprintf(text + l, sizeof text - l, " (%s)", rate);
	}
	tw = model_text_width(text, con->utf8);
	if (!t->stalled && !task_state_final(t->state) && model_progress_fraction(t, &f) == 0 &&
	    width >= tw + 6) {
		draw_bar(con, w, y, x, width - tw - 1, f);
		x += width - tw;
		width = tw;
	}
	draw_text(con, w, y, x, width, base, text);
}

static void tasks_row(struct console *con, struct pane *p, int y, struct col *c,
    const struct model_task *t, int selected, int64_t now)
{
	attr_t base = selected ? con->th.selected : A_NORMAL;
	char buf[64];
	int64_t age;

	if (selected)
		draw_fill(p->win, y, 0, p->w, base);
	if (c[COL_ID].shown)
		draw_textf(con, p->win, y, c[COL_ID].x, c[COL_ID].w, base, "%*lld", c[COL_ID].w,
		    (long long)t->id);
	if (c[COL_STATE].shown)
		draw_text(con, p->win, y, c[COL_STATE].x, c[COL_STATE].w,
		    selected ? (base | A_BOLD) : con->th.state[t->state], task_state_name(t->state));
	if (c[COL_TYPE].shown)
		draw_text(con, p->win, y, c[COL_TYPE].x, c[COL_TYPE].w, base, t->type);
	if (c[COL_NAME].shown)
		draw_text(con, p->win, y, c[COL_NAME].x, c[COL_NAME].w, base, t->name);
	if (c[COL_RES].shown)
		draw_text(con, p->win, y, c[COL_RES].x, c[COL_RES].w, base,
		    t->res_text[0] ? t->res_text : "-");
	if (c[COL_WORKER].shown)
		draw_text(con, p->win, y, c[COL_WORKER].x, c[COL_WORKER].w, base,
		    t->worker ? t->worker : "-");
	if (c[COL_AGE].shown) {
		age = model_task_age(t, now);
		if (age < 0)
			snprintf(buf, sizeof buf, "-");
		else
			model_fmt_age(age, buf, sizeof buf);
		draw_textf(con, p->win, y, c[COL_AGE].x, c[COL_AGE].w, base, "%*s", c[COL_AGE].w, buf);
	}
	if (c[COL_PROGRESS].shown)
		tasks_progress(con, p->win, y, &c[COL_PROGRESS], t, selected);
}

/*
 * The column titles; the one sorted by carries v (ascending) or ^
 * (reversed), and when that column is not shown the order is named at the
 * right.
 */
static void tasks_heading(struct console *con, struct pane *p, const struct col *c)
{
	int sc = sort_col[con->sort < MODEL_SORT_COUNT ? con->sort : 0];
	const char *mark = con->sort_reverse ? "^" : "v";
	char title[64];

	draw_fill(p->win, 0, 0, p->w, con->th.colhead);
	for (int i = 0; i < COL_N; i++) {
		if (!c[i].shown)
			continue;
		/* The mark on the side the column's text is aligned to keeps the title in place. */
		snprintf(title, sizeof title, "%s%s%s", i == sc && c[i].right ? mark : "", c[i].title,
		    i == sc && !c[i].right ? mark : "");
		draw_textf(con, p->win, 0, c[i].x, c[i].w, con->th.colhead | (i == sc ? A_BOLD : 0),
		    c[i].right ? "%*s" : "%-*s", c[i].w, title);
	}
	if (sc >= 0 && !c[sc].shown)
		draw_textf(con, p->win, 0, p->w - 14, 14, con->th.colhead | A_BOLD, "%13.13s%s",
		    model_sort_name(con->sort), mark);
	else if (sc < 0 && con->sort_reverse)
		draw_text(con, p->win, 0, p->w - 10, 10, con->th.colhead | A_BOLD, " reversed^");
}

void tasks_draw(struct console *con, struct pane *p)
{
	struct col c[COL_N];
	size_t visible = p->h > 1 ? (size_t)(p->h - 1) : 0;
	int64_t now = console_now_ms();

	tasks_layout(con, c, p->w);
	tasks_heading(con, p, c);
	con->top = draw_scroll(con->sel, con->top, visible, con->nrows);
	if (con->nrows == 0) {
		if (con->search[0] != '\0')
			draw_textf(con, p->win, 1, 1, p->w - 1, con->th.dim,
			    "no %s tasks match '%s' (/ to change, Esc in the search to clear)",
			    con->filter == MODEL_FILTER_ALL ? "known" : model_filter_name(con->filter),
			    con->search);
		else
			draw_textf(con, p->win, 1, 1, p->w - 1, con->th.dim, "no %s tasks%s",
			    con->filter == MODEL_FILTER_ALL ? "known" : model_filter_name(con->filter),
			    con->filter == MODEL_FILTER_ALL ? "" : " (f shows others)");
		return;
	}
	for (size_t i = 0; i < visible && con->top + i < con->nrows; i++) {
		size_t k = con->top + i;

		tasks_row(con, p, (int)i + 1, c, con->rows[k], k == con->sel, now);
	}
}

int tasks_key(struct console *con, struct pane *p, int ch)
{
	size_t page = p->h > 2 ? (size_t)(p->h - 2) : 1, old = con->sel;
	struct model_task *t;

	switch (ch) {
	case KEY_UP:
	case 'k':
		if (con->sel > 0)
			con->sel--;
		break;
	case KEY_DOWN:
	case 'j':
		if (con->sel + 1 < con->nrows)
			con->sel++;
		break;
	case KEY_PPAGE:
		con->sel = con->sel > page ? con->sel - page : 0;
		break;
	case KEY_NPAGE:
		con->sel = con->sel + page < con->nrows ? con->sel + page :
		    (con->nrows > 0 ? con->nrows - 1 : 0);
		break;
	case KEY_HOME:
	case 'g':
		con->sel = 0;
		break;
	case KEY_END:
	case 'G':
		con->sel = con->nrows > 0 ? con->nrows - 1 : 0;
		break;
	case 'c':
		if ((t = console_selected(con)) == NULL)
			console_message(con, 1, "no task selected");
		else
			console_ask_cancel(con, t->id);
		return PANE_HANDLED | PANE_REDRAW;
	case 'a':
		if ((t = console_selected(con)) == NULL)
			console_message(con, 1, "no task selected");
		else
			console_ask_restart(con, t->id);
		return PANE_HANDLED | PANE_REDRAW;
	default:
		if (console_is_enter(ch)) {
			if ((t = console_selected(con)) == NULL)
				console_message(con, 1, "no task selected");
			else
				console_open_details(con, t->id);
			return PANE_HANDLED | PANE_REDRAW;
		}
		return PANE_IGNORED;
	}
	if (con->sel != old && con->sel < con->nrows)
		con->sel_id = con->rows[con->sel]->id;
	return PANE_HANDLED | PANE_REDRAW;
}
