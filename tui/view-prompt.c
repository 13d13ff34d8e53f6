/*
 * view-prompt.c: questions: a y/n box, a line of text in a box (a path,
 * the word that confirms a restore), and the search line typed on the
 * message line and applied as it is typed. What an answer does is the
 * loop's business (console_prompt_done).
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

#define CTRL(c)	((c) & 0x1f)

static void prompt_edit_done(struct console *con);
static int prompt_field(struct console *con, WINDOW *w, int y, int x, int width);

void prompt_open(struct console *con, enum prompt_kind kind, enum prompt_action action,
    const char *title, const char *question, const char *text)
{
	struct prompt *pr = &con->prompt;
	int64_t task = pr->task;
	char path[sizeof pr->path];

	/* The restore's word is asked with the path of the question before. */
	snprintf(path, sizeof path, "%s", pr->path);
	memset(pr, 0, sizeof *pr);
	pr->kind = kind;
	pr->action = action;
	pr->task = task;
	snprintf(pr->path, sizeof pr->path, "%s", path);
	snprintf(pr->title, sizeof pr->title, "%s", title);
	snprintf(pr->question, sizeof pr->question, "%s", question);
	snprintf(pr->text, sizeof pr->text, "%s", text != NULL ? text : "");
	pr->len = pr->cursor = strlen(pr->text);
	/* A default offered is replaced by typing, and kept by editing keys. */
	pr->fresh = kind == PROMPT_INPUT && pr->len > 0;
}

/* After each change of the search text: the list follows at once. */
static void prompt_edit_done(struct console *con)
{
	if (con->prompt.kind != PROMPT_SEARCH)
		return;
	snprintf(con->search, sizeof con->search, "%s", con->prompt.text);
	console_refresh_rows(con);
}

int prompt_key(struct console *con, int ch)
{
	struct prompt *pr = &con->prompt;

	if (pr->kind == PROMPT_CONFIRM) {
		if (ch == 'y' || ch == 'Y')
			console_prompt_done(con, 1);
		else if (ch == 'n' || ch == 'N' || console_is_back(ch) || ch == 'q')
			console_prompt_done(con, 0);
		/* Any other key is swallowed: the question stays until answered. */
		return PANE_HANDLED | PANE_REDRAW;
	}
	if (console_is_enter(ch)) {
		console_prompt_done(con, 1);
		return PANE_HANDLED | PANE_REDRAW;
	}
	if (pr->fresh && ch >= 32 && ch <= 255 && ch != 127) {
		pr->text[0] = '\0';
		pr->len = pr->cursor = 0;
	}
	pr->fresh = 0;
	switch (ch) {
	case 27:
		console_prompt_done(con, 0);
		return PANE_HANDLED | PANE_REDRAW;
	case KEY_BACKSPACE:
	case 127:
	case CTRL('h'):
		if (pr->cursor > 0) {
			size_t start = pr->cursor - 1;

			/* Back over a whole UTF-8 character. */
			while (start > 0 && ((unsigned char)pr->text[start] & 0xc0) == 0x80)
				start--;
			memmove(pr->text + start, pr->text + pr->cursor, pr->len - pr->cursor + 1);
			pr->len -= pr->cursor - start;
			pr->cursor = start;
		}
		break;
	case KEY_DC:
		if (pr->cursor < pr->len) {
			size_t end = pr->cursor + 1;

			while (end < pr->len && ((unsigned char)pr->text[end] & 0xc0) == 0x80)
				end++;
			memmove(pr->text + pr->cursor, pr->text + end, pr->len - end + 1);
			pr->len -= end - pr->cursor;
		}
		break;
	case KEY_LEFT:
		while (pr->cursor > 0) {
			pr->cursor--;
			if (((unsigned char)pr->text[pr->cursor] & 0xc0) != 0x80)
				break;
		}
		return PANE_HANDLED | PANE_REDRAW;
	case KEY_RIGHT:
		while (pr->cursor < pr->len) {
			pr->cursor++;
			if (((unsigned char)pr->text[pr->cursor] & 0xc0) != 0x80)
				break;
		}
		return PANE_HANDLED | PANE_REDRAW;
	case KEY_HOME:
	case CTRL('a'):
		pr->cursor = 0;
		return PANE_HANDLED | PANE_REDRAW;
	case KEY_END:
	case CTRL('e'):
		pr->cursor = pr->len;
		return PANE_HANDLED | PANE_REDRAW;
	case CTRL('u'):
		pr->text[0] = '\0';
		pr->len = pr->cursor = 0;
		break;
	default:
		/* Bytes as typed; a UTF-8 character comes as several. */
		if (ch < 32 || ch > 255 || ch == 127 || pr->len + 1 >= sizeof pr->text)
			return PANE_HANDLED;
		if (pr->kind == PROMPT_SEARCH && pr->len + 1 >= sizeof con->search)
			return PANE_HANDLED;
		memmove(pr->text + pr->cursor + 1, pr->text + pr->cursor, pr->len - pr->cursor + 1);
		pr->text[pr->cursor++] = (char)ch;
		pr->len++;
		break;
	}
	prompt_edit_done(con);
	return PANE_HANDLED | PANE_REDRAW;
}

/*
 * The text being typed in width cells at (y, x), scrolled so that the
 * cursor shows, the cursor drawn reversed (the terminal's own stays hidden).
 */
static int prompt_field(struct console *con, WINDOW *w, int y, int x, int width)
{
	struct prompt *pr = &con->prompt;
	size_t start = 0;
	char before[sizeof pr->text], under[8] = " ";
	int cw;

	if (width < 2)
		return 0;
	for (;;) {
		memcpy(before, pr->text + start, pr->cursor - start);
		before[pr->cursor - start] = '\0';
		if (model_text_width(before, con->utf8) < width - 1 || start >= pr->cursor)
			break;
		start++;
		while (start < pr->cursor && ((unsigned char)pr->text[start] & 0xc0) == 0x80)
			start++;
	}
	draw_fill(w, y, x, width, A_UNDERLINE);
	draw_text(con, w, y, x, width, pr->fresh ? (A_UNDERLINE | A_BOLD) : A_UNDERLINE,
	    pr->text + start);
	cw = model_text_width(before, con->utf8);
	if (pr->cursor < pr->len) {
		size_t l = 1;

		while (pr->cursor + l < pr->len && ((unsigned char)pr->text[pr->cursor + l] & 0xc0) == 0x80)
			l++;
		memcpy(under, pr->text + pr->cursor, l < sizeof under ? l : sizeof under - 1);
		under[l < sizeof under ? l : sizeof under - 1] = '\0';
	}
	draw_text(con, w, y, x + cw, 1, A_REVERSE, under);
	return width;
}

/* Where the box goes: centred, as wide as the screen allows up to 76 cells. */
void prompt_geometry(struct console *con, int *h, int *w, int *y, int *x)
{
	int q;

	*w = con->cols - 4 < 76 ? con->cols - 4 : 76;
	/* Border, blank, the question (6 lines at most), blank, [field,] keys, border. */
	q = draw_wrap(con, NULL, 0, 0, *w - 4, 6, A_NORMAL, con->prompt.question);
	*h = q + (con->prompt.kind == PROMPT_INPUT ? 6 : 5);
	if (*h > con->lines)
		*h = con->lines;
	*y = (con->lines - *h) / 2;
	*x = (con->cols - *w) / 2;
}

void prompt_draw(struct console *con, struct pane *p)
{
	struct prompt *pr = &con->prompt;
	WINDOW *w = p->win;
	int inner = p->w - 4, qlines = p->h - (pr->kind == PROMPT_INPUT ? 6 : 5);

	draw_box(con, w);
	draw_textf(con, w, 0, 2, p->w - 4, A_BOLD, " %s ", pr->title);
	draw_wrap(con, w, 2, 2, inner, qlines > 0 ? qlines : 1, A_NORMAL, pr->question);
	if (pr->kind == PROMPT_INPUT) {
		prompt_field(con, w, p->h - 3, 2, inner);
		draw_text(con, w, p->h - 2, 2, inner, con->th.dim, pr->fresh ?
		    "Enter: OK   Esc: cancel   typing replaces the text, arrows edit it" :
		    "Enter: OK   Esc: cancel   ^U: clear");
	} else
		draw_text(con, w, p->h - 2, 2, inner, A_BOLD, "y: yes   n or Esc: no");
}

void prompt_search_draw(struct console *con, WINDOW *w, int y, int width)
{
	int x = draw_text(con, w, y, 0, width, A_BOLD, "Search (id, name, resource): ");

	prompt_field(con, w, y, x, width - x - 1);
}
