/*
 * draw.c: what every pane draws with: the theme (colours from the
 * terminal's defaults, or attributes alone without colour or with
 * NO_COLOR), text fitted to a width, progress bars, key labels. Nothing
 * here writes past the width it is given.
 */
#include "console.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
	PAIR_GREEN = 1,
	PAIR_YELLOW,
	PAIR_RED,
	PAIR_MAGENTA,
	PAIR_CYAN,
	PAIR_BLUE,
	PAIR_BANNER,
};

/*
 * Colours are used only with colour on: every pair keeps the terminal's
 * own background (-1, use_default_colors). Without colour, attributes
 * alone tell states apart.
 */
void theme_init(struct theme *th, int color)
{
	memset(th, 0, sizeof *th);
	th->title = A_REVERSE | A_BOLD;
	th->colhead = A_REVERSE;
	th->selected = A_REVERSE;
	th->key = A_REVERSE;
	th->label = A_NORMAL;
	th->banner = A_REVERSE | A_BOLD;
	th->stalled = A_BOLD | A_UNDERLINE;
	th->error = A_BOLD;
	th->info = A_NORMAL;
	th->dim = A_DIM;
	th->ok = A_NORMAL;
	th->bar_done = A_REVERSE;
	th->bar_todo = A_NORMAL;
	th->state[TASK_RUNNING] = A_BOLD;
	th->state[TASK_CANCELING] = A_BOLD;
	th->state[TASK_FAILED] = A_BOLD | A_UNDERLINE;
	if (!color)
		return;
	init_pair(PAIR_GREEN, COLOR_GREEN, -1);
	init_pair(PAIR_YELLOW, COLOR_YELLOW, -1);
	init_pair(PAIR_RED, COLOR_RED, -1);
	init_pair(PAIR_MAGENTA, COLOR_MAGENTA, -1);
	init_pair(PAIR_CYAN, COLOR_CYAN, -1);
	init_pair(PAIR_BLUE, COLOR_BLUE, -1);
	init_pair(PAIR_BANNER, COLOR_WHITE, COLOR_RED);
	th->state[TASK_WAITING] = COLOR_PAIR(PAIR_CYAN);
	th->state[TASK_RUNNING] = COLOR_PAIR(PAIR_GREEN) | A_BOLD;
	th->state[TASK_CANCELING] = COLOR_PAIR(PAIR_YELLOW) | A_BOLD;
	th->state[TASK_COMPLETED] = A_NORMAL;
	th->state[TASK_FAILED] = COLOR_PAIR(PAIR_RED) | A_BOLD;
	th->state[TASK_CANCELED] = COLOR_PAIR(PAIR_MAGENTA);
	th->stalled = COLOR_PAIR(PAIR_RED) | A_BOLD | A_REVERSE;
	th->banner = COLOR_PAIR(PAIR_BANNER) | A_BOLD;
	th->key = COLOR_PAIR(PAIR_CYAN) | A_REVERSE;
	th->error = COLOR_PAIR(PAIR_RED) | A_BOLD;
	th->info = COLOR_PAIR(PAIR_CYAN);
	th->ok = COLOR_PAIR(PAIR_GREEN);
	th->bar_done = COLOR_PAIR(PAIR_GREEN) | A_REVERSE;
	th->colhead = COLOR_PAIR(PAIR_GREEN) | A_REVERSE;
}

/* s at (y, x) in at most width cells (and never past the window's edge); the cells used. */
int draw_text(struct console *con, WINDOW *w, int y, int x, int width, attr_t a, const char *s)
{
	char buf[4096];
	int maxx = getmaxx(w), n;

	if (y < 0 || y >= getmaxy(w) || x < 0 || x >= maxx)
		return 0;
	if (width > maxx - x)
		width = maxx - x;
	if (width <= 0)
		return 0;
	n = model_text_fit(s, width, con->utf8, buf, sizeof buf);
	wattrset(w, a);
	mvwaddstr(w, y, x, buf);
	wattrset(w, A_NORMAL);
	return n;
}

int draw_textf(struct console *con, WINDOW *w, int y, int x, int width, attr_t a,
    const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return draw_text(con, w, y, x, width, a, buf);
}

void draw_fill(WINDOW *w, int y, int x, int width, attr_t a)
{
	int maxx = getmaxx(w);

	if (y < 0 || y >= getmaxy(w) || x < 0 || x >= maxx)
		return;
	if (width > maxx - x)
		width = maxx - x;
	if (width <= 0)
		return;
	mvwhline(w, y, x, ' ' | a, width);
}

/* A bar width cells wide, f (0..1) of it done: eighths of a cell with UTF-8. */
void draw_bar(struct console *con, WINDOW *w, int y, int x, int width, double f)
{
	static const char *const eighths[] = { "", "\xe2\x96\x8f", "\xe2\x96\x8e",
		"\xe2\x96\x8d", "\xe2\x96\x8c", "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89" };
	char buf[1024];
	size_t l = 0;
	int cells, full, part;

	if (width < 3 || x + width > getmaxx(w))
		return;
	if (!con->utf8) {
		cells = width - 2;
		full = (int)(f * cells + 0.5);
		buf[l++] = '[';
		for (int i = 0; i < cells; i++)
			buf[l++] = i < full ? '#' : '-';
		buf[l++] = ']';
		buf[l] = '\0';
		wattrset(w, A_NORMAL);
		mvwaddstr(w, y, x, buf);
		return;
	}
	cells = width;
	full = (int)(f * cells * 8 + 0.5);
	part = full % 8;
	full /= 8;
	for (int i = 0; i < full && l + 4 < sizeof buf; i++)
		l += (size_t)snprintf(buf + l, sizeof buf - l, "\xe2\x96\x88");
	if (part > 0 && full < cells)
		l += (size_t)snprintf(buf + l, sizeof buf - l, "%s", eighths[part]);
	buf[l] = '\0';
	wattrset(w, con->th.ok);
	mvwaddstr(w, y, x, buf);
	/* The rest of the bar, dotted, so its length shows. */
	wattrset(w, con->th.dim);
	for (int i = full + (part > 0); i < cells; i++)
		mvwaddstr(w, y, x + i, "\xc2\xb7");
	wattrset(w, A_NORMAL);
}

/* A key and its label, htop style ("q" reversed, then "Quit"); the cells used, 0 when it does not fit. */
int draw_key(struct console *con, WINDOW *w, int y, int x, int width, const char *key,
    const char *label)
{
	int kw = model_text_width(key, con->utf8), lw = model_text_width(label, con->utf8);

	if (kw + lw + 1 > width)
		return 0;
	draw_text(con, w, y, x, kw, con->th.key, key);
	draw_text(con, w, y, x + kw, lw, con->th.label, label);
	return kw + lw + 1;
}

/* The first row to show so that sel is visible, with no empty rows past the end. */
size_t draw_scroll(size_t sel, size_t top, size_t visible, size_t n)
{
	if (visible == 0)
		return sel;
	if (sel < top)
		top = sel;
	if (sel >= top + visible)
		top = sel - visible + 1;
	if (n <= visible)
		top = 0;
	else if (top > n - visible)
		top = n - visible;
	return top;
}

/* s wrapped on spaces into at most maxlines lines of width cells; the lines used (w NULL: only counted). */
int draw_wrap(struct console *con, WINDOW *w, int y, int x, int width, int maxlines,
    attr_t a, const char *s)
{
	char line[2048];
	int used = 0;

	while (*s == ' ')
		s++;
	while (*s != '\0' && used < maxlines) {
		size_t n = model_text_prefix(s, width, con->utf8);

		if (n == 0)
			break;
		if (s[n] != '\0' && used + 1 == maxlines) {
			/* The last line: what does not fit ends in an ellipsis. */
			if (w != NULL)
				draw_text(con, w, y + used, x, width, a, s);
			return used + 1;
		}
		if (s[n] != '\0' && s[n] != ' ') {
			size_t k = n;

			while (k > 0 && s[k - 1] != ' ')
				k--;
			if (k > n / 2)
				n = k;
		}
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, s, n);
		line[n] = '\0';
		if (w != NULL)
			draw_text(con, w, y + used, x, width, a, line);
		used++;
		s += n;
		while (*s == ' ')
			s++;
	}
	return used;
}

/*
 * A frame around w: box-drawing characters with UTF-8, ASCII otherwise.
 * Drawn as text rather than with the alternate character set, which a
 * terminal (or a multiplexer in between) may not switch to.
 */
void draw_box(struct console *con, WINDOW *w)
{
	const char *h = con->utf8 ? "\xe2\x94\x80" : "-", *v = con->utf8 ? "\xe2\x94\x82" : "|";
	const char *tl = con->utf8 ? "\xe2\x94\x8c" : "+", *tr = con->utf8 ? "\xe2\x94\x90" : "+";
	const char *bl = con->utf8 ? "\xe2\x94\x94" : "+", *br = con->utf8 ? "\xe2\x94\x98" : "+";
	int rows = getmaxy(w), cols = getmaxx(w);

	if (rows < 2 || cols < 2)
		return;
	wattrset(w, A_NORMAL);
	for (int x = 1; x < cols - 1; x++) {
		mvwaddstr(w, 0, x, h);
		mvwaddstr(w, rows - 1, x, h);
	}
	for (int y = 1; y < rows - 1; y++) {
		mvwaddstr(w, y, 0, v);
		mvwaddstr(w, y, cols - 1, v);
	}
	mvwaddstr(w, 0, 0, tl);
	mvwaddstr(w, 0, cols - 1, tr);
	mvwaddstr(w, rows - 1, 0, bl);
	/* The last cell of a window: ncurses writes it and reports that the cursor cannot move on. */
	mvwaddstr(w, rows - 1, cols - 1, br);
}

int draw_scroll_key(int ch, size_t *top, size_t count, size_t page)
{
	switch (ch) {
	case KEY_UP:
	case 'k':
		if (*top > 0)
			(*top)--;
		return 1;
	case KEY_DOWN:
	case 'j':
		(*top)++;
		return 1;
	case KEY_PPAGE:
		*top = *top > page ? *top - page : 0;
		return 1;
	case KEY_NPAGE:
		*top += page;
		return 1;
	case KEY_HOME:
	case 'g':
		*top = 0;
		return 1;
	case KEY_END:
	case 'G':
		*top = count;
		return 1;
	default:
		return 0;
	}
}
