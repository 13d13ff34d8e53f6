/*
 * view-locks.c: the reservations view: each resource someone holds or
 * waits for, or that is paused or has a capacity, its holders and its
 * queue in order (lock.list, kept current by lock and task events).
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

static void locks_holders(const struct console *con, const struct model_holder *h, size_t n,
    int with_name, char *out, size_t len);

/*
 * "#12 sync fedora" for one exclusive holder, "shared: #12, #13" (or
 * "slot: …") when all hold it in one mode, "#12 (shared), #13 (slot)"
 * when mixed.
 */
static void locks_holders(const struct console *con, const struct model_holder *h, size_t n,
    int with_name, char *out, size_t len)
{
	size_t l = 0, same = 0;
	const struct model_task *t;

	out[0] = '\0';
	if (n == 0) {
		snprintf(out, len, "-");
		return;
	}
	for (size_t i = 0; i < n; i++)
		same += h[i].mode == h[0].mode;
	if (n == 1 && h[0].mode == LOCK_EXCLUSIVE && with_name &&
	    (t = model_task(&con->m, h[0].task)) != NULL) {
		snprintf(out, len, "#%lld %s", (long long)h[0].task, t->name);
		return;
	}
	if (same == n && h[0].mode != LOCK_EXCLUSIVE)
		l = (size_t)snprintf(out, len, "%s: ", lock_mode_name(h[0].mode));
	for (size_t i = 0; i < n && l < len; i++)
		l += (size_t)snprintf(out + l, len - l, "%s#%lld%s%s%s", i ? ", " : "",
		    (long long)h[i].task, same != n && h[i].mode != LOCK_EXCLUSIVE ? " (" : "",
		    same != n && h[i].mode != LOCK_EXCLUSIVE ? lock_mode_name(h[i].mode) : "",
		    same != n && h[i].mode != LOCK_EXCLUSIVE ? ")" : "");
}

void locks_draw(struct console *con, struct pane *p)
{
	size_t visible = p->h > 1 ? (size_t)(p->h - 1) : 0;
	int rw = 18, hw, ww;
	char hold[4096], wait[4096];
	WINDOW *w = p->win;

	/* The resource column as wide as the longest name and its marks, up to two fifths. */
	for (size_t i = 0; i < con->m.nlocks; i++) {
		const struct model_lock *l = &con->m.locks[i];
		int n = model_text_width(l->resource, con->utf8) + (l->paused ? 7 : 0) +
		    (l->capacity > 0 ? 10 : 0);

		if (n > rw)
			rw = n;
	}
	if (rw > p->w * 2 / 5)
		rw = p->w * 2 / 5;
	hw = (p->w - rw - 2) / 2;
	ww = p->w - rw - hw - 2;
	draw_fill(w, 0, 0, p->w, con->th.colhead);
	draw_textf(con, w, 0, 0, rw + 1, con->th.colhead, "RESERVATIONS (%zu)", con->m.nlocks);
	draw_text(con, w, 0, rw + 1, hw, con->th.colhead, "HELD BY");
	draw_text(con, w, 0, rw + hw + 2, ww, con->th.colhead, "WAITING, IN ORDER");
	if (con->m.nlocks == 0) {
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim,
		    "no resource is held, waited for, paused or counted (Esc goes back)");
		return;
	}
	if (con->locks_top + visible > con->m.nlocks)
		con->locks_top = con->m.nlocks > visible ? con->m.nlocks - visible : 0;
	for (size_t i = 0; i < visible && con->locks_top + i < con->m.nlocks; i++) {
		const struct model_lock *l = &con->m.locks[con->locks_top + i];
		int y = (int)i + 1, x;

		locks_holders(con, l->holders, l->nholders, 1, hold, sizeof hold);
		locks_holders(con, l->waiting, l->nwaiting, 0, wait, sizeof wait);
		x = draw_text(con, w, y, 0, rw, A_BOLD, l->resource);
		/* A pause and a capacity after the name, as room allows. */
		if (l->paused && x + 7 <= rw)
			x += 1 + draw_text(con, w, y, x + 1, rw - x - 1, con->th.error, "PAUSED");
		if (l->capacity > 0 && x + 4 <= rw)
			draw_textf(con, w, y, x + 1, rw - x - 1, con->th.dim, "%lld slot%s",
			    (long long)l->capacity, l->capacity == 1 ? "" : "s");
		draw_text(con, w, y, rw + 1, hw, l->nholders ? con->th.state[TASK_RUNNING] : A_NORMAL,
		    hold);
		if (l->nwaiting > 0)
			draw_textf(con, w, y, rw + hw + 2, ww, con->th.state[TASK_WAITING], "%zu: %s",
			    l->nwaiting, wait);
		else
			draw_text(con, w, y, rw + hw + 2, ww, A_NORMAL, "-");
	}
}

int locks_key(struct console *con, struct pane *p, int ch)
{
	size_t page = p->h > 2 ? (size_t)(p->h - 2) : 1;

	if (draw_scroll_key(ch, &con->locks_top, con->m.nlocks, page))
		return PANE_HANDLED | PANE_REDRAW;
	if (ch != 'l' && !console_is_back(ch))
		return PANE_IGNORED;
	console_close_view(con);
	return PANE_HANDLED | PANE_REDRAW;
}
