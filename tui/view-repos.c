/*
 * view-repos.c: the repositories view: each repository's latest version,
 * its files and size, the version published and when, and its last sync:
 * when, and how it went (state, and the reason when it did not complete).
 * repo.list and task.list of each repository's resource, read again while
 * the view is open.
 */
#include "console.h"

#include <stdio.h>
#include <string.h>

static void repos_ago(int64_t ms, int64_t now, char *out, size_t n);
static void repos_outcome(const struct model_repo *r, char *out, size_t n);

/* "3m02 ago"; "-" for never. */
static void repos_ago(int64_t ms, int64_t now, char *out, size_t n)
{
	char d[32];

	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	model_fmt_age(now > ms ? now - ms : 0, d, sizeof d);
	snprintf(out, n, "%s ago", d);
}

/* "#12 completed", "#12 running 3/10 files", "#12 failed: exception: no such host". */
static void repos_outcome(const struct model_repo *r, char *out, size_t n)
{
	if (!r->tasks_known) {
		snprintf(out, n, "...");
		return;
	}
	if (r->sync_id == 0) {
		snprintf(out, n, "never synced");
		return;
	}
	if (r->sync_state == TASK_RUNNING && r->sync_progress != NULL)
		snprintf(out, n, "#%lld running %s", (long long)r->sync_id, r->sync_progress);
	else if (task_state_final(r->sync_state) && r->sync_state != TASK_COMPLETED)
		snprintf(out, n, "#%lld %s: %s%s%s", (long long)r->sync_id,
		    task_state_name(r->sync_state), r->sync_reason ? r->sync_reason : "?",
		    r->sync_message ? ": " : "", r->sync_message ? r->sync_message : "");
	else
		snprintf(out, n, "#%lld %s", (long long)r->sync_id, task_state_name(r->sync_state));
}

void repos_draw(struct console *con, struct pane *p)
{
	size_t visible = p->h > 1 ? (size_t)(p->h - 1) : 0;
	int64_t now = console_now_ms();
	/* Wide screens have room for the file count and a longer name. */
	int wide = p->w >= 100, nw = wide ? 24 : 14;
	int out_x = nw + 1 + 7 + (wide ? 8 : 0) + 9 + 15 + 10;
	char latest[32], files[32], size[32], pub[64], ago[32], outcome[1024];
	WINDOW *w = p->win;

	draw_fill(w, 0, 0, p->w, con->th.colhead);
	if (wide)
		draw_textf(con, w, 0, 0, p->w, con->th.colhead, "%-*s %-6s %7s %8s %-14s %-9s %s",
		    nw, "REPOSITORY", "LATEST", "FILES", "SIZE", "PUBLISHED", "LAST SYNC", "OUTCOME");
	else
		draw_textf(con, w, 0, 0, p->w, con->th.colhead, "%-*s %-6s %8s %-14s %-9s %s",
		    nw, "REPOSITORY", "LATEST", "SIZE", "PUBLISHED", "LAST SYNC", "OUTCOME");
	if (!con->m.repos_known) {
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim, con->m.up ?
		    "reading the repositories..." : "the daemon is down; Esc goes back");
		return;
	}
	if (con->m.nrepos == 0) {
		draw_text(con, w, 1, 1, p->w - 1, con->th.dim,
		    "no repositories (depotctl repo create NAME --feed URL); Esc goes back");
		return;
	}
	if (con->repos_top + visible > con->m.nrepos)
		con->repos_top = con->m.nrepos > visible ? con->m.nrepos - visible : 0;
	for (size_t i = 0; i < visible && con->repos_top + i < con->m.nrepos; i++) {
		const struct model_repo *r = &con->m.repos[con->repos_top + i];
		int y = (int)i + 1, x = 0;
		attr_t oa;

		if (r->latest > 0)
			snprintf(latest, sizeof latest, "v%lld", (long long)r->latest);
		else
			snprintf(latest, sizeof latest, "-");
		snprintf(files, sizeof files, "%lld", (long long)r->files);
		model_fmt_size(r->size, size, sizeof size);
		if (r->published > 0) {
			repos_ago(r->published_ms, now, ago, sizeof ago);
			snprintf(pub, sizeof pub, "v%lld %s", (long long)r->published, ago);
		} else
			snprintf(pub, sizeof pub, "-");
		repos_ago(r->sync_id ? r->sync_ms : 0, now, ago, sizeof ago);
		repos_outcome(r, outcome, sizeof outcome);
		oa = r->sync_id ? con->th.state[r->sync_state] : con->th.dim;

		draw_text(con, w, y, x, nw, A_BOLD, r->name);
		x += nw + 1;
		draw_text(con, w, y, x, 6, A_NORMAL, latest);
		x += 7;
		if (wide) {
			draw_textf(con, w, y, x, 7, A_NORMAL, "%7s", files);
			x += 8;
		}
		draw_textf(con, w, y, x, 8, A_NORMAL, "%8s", r->latest > 0 ? size : "-");
		x += 9;
		draw_text(con, w, y, x, 14, r->published > 0 ? con->th.ok : con->th.dim, pub);
		x += 15;
		draw_text(con, w, y, x, 9, A_NORMAL, ago);
		draw_text(con, w, y, out_x, p->w - out_x, oa, outcome);
	}
}

int repos_key(struct console *con, struct pane *p, int ch)
{
	size_t page = p->h > 2 ? (size_t)(p->h - 2) : 1;

	if (draw_scroll_key(ch, &con->repos_top, con->m.nrepos, page))
		return PANE_HANDLED | PANE_REDRAW;
	if (ch != 'r' && !console_is_back(ch))
		return PANE_IGNORED;
	console_close_view(con);
	return PANE_HANDLED | PANE_REDRAW;
}
