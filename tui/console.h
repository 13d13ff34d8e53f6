/*
 * console.h: depot-console's screen. One loop (console.c) owns the panes;
 * a pane draws itself from the model and handles its keys, returning
 * PANE_* flags, as htop's panels do. A pane never talks to the daemon: it
 * asks the loop (console_* actions), which does.
 */
#ifndef DEPOT_TUI_CONSOLE_H
#define DEPOT_TUI_CONSOLE_H

#include "conn.h"
#include "model.h"

#include <curses.h>
#include <stddef.h>
#include <stdint.h>

/* The loop's getch timeout: how often events and the clock are looked at. */
#define CONSOLE_TICK_MS		150
/* Smallest screen drawn; below it the console says it needs more room. */
#define CONSOLE_MIN_COLS	40
#define CONSOLE_MIN_LINES	10

/* What a key handler tells the loop. */
enum {
	PANE_IGNORED = 0,	/* not this pane's key: the loop tries its own */
	PANE_HANDLED = 1 << 0,
	PANE_REDRAW = 1 << 1,	/* draw again now, not at the next tick */
	PANE_QUIT = 1 << 2,
};

enum view {
	VIEW_MAIN,		/* workers and tasks */
	VIEW_DETAILS,		/* one task and its log */
	VIEW_LOCKS,
	VIEW_SCHEDULES,
	VIEW_REPOS,
	VIEW_HELP,
};

enum prompt_kind {
	PROMPT_NONE,
	PROMPT_CONFIRM,		/* y or n */
	PROMPT_INPUT,		/* a line of text in a box */
	PROMPT_SEARCH,		/* a line of text on the message line, applied as typed */
};

enum prompt_action {
	ACTION_CANCEL_TASK,
	ACTION_RESTART_TASK,
	ACTION_PAUSE_QUEUE,
	ACTION_RESUME_QUEUE,
	ACTION_BACKUP_PATH,
	ACTION_RESTORE_PATH,
	ACTION_RESTORE_WORD,
	ACTION_SEARCH,
};

struct prompt {
	enum prompt_kind kind;
	enum prompt_action action;
	char title[64];
	char question[512];
	char text[1024];
	size_t len, cursor;	/* bytes of text; cursor on a character boundary */
	int fresh;		/* text is the default offered, not yet touched */
	int64_t task;
	char path[1024];	/* restore: the path asked for first */
	char saved[256];	/* search: what to go back to on Esc */
};

struct theme {
	attr_t state[TASK_STATE_COUNT + 1];	/* by task state, MODEL_STATE_UNKNOWN too */
	attr_t title, colhead, selected, stalled, banner, key, label;
	attr_t error, info, dim, bar_done, bar_todo, ok;
};

struct console;

struct pane {
	const char *name;
	WINDOW *win;
	int y, x, h, w;
	void (*draw)(struct console *con, struct pane *p);
	int (*key)(struct console *con, struct pane *p, int ch);
};

/*
 * A backup or restore: a request in a thread (the job), then, when the
 * daemon made it a task, that task followed until its end (the op).
 */
enum job_kind {
	JOB_NONE,
	JOB_BACKUP,		/* task.submit {"type": "backup", "output": PATH} */
	JOB_RESTORE,		/* task.submit {"type": "restore", "path": PATH} */
	JOB_RESTORE_CMD,	/* {"cmd": "restore", "args": {"path": PATH}}, for a daemon without the task */
};

struct console {
	char dir[4096];
	int readonly, utf8, color;
	struct model m;
	struct conn conn;
	struct feed feed;
	struct theme th;
	enum view view, help_back;

	/* Tasks pane: the rows shown, the selection (kept by id) and scroll. */
	enum model_filter filter;
	int64_t recent_ms;		/* the active filter keeps tasks that ended this recently */
	enum model_sort sort;
	int sort_reverse;
	char search[256];
	struct model_task **rows;
	size_t nrows, sel, top;
	int64_t sel_id;

	/* Other views. */
	int64_t details_id;
	struct model_log log;
	size_t log_scroll;	/* lines back from the end of the log */
	size_t locks_top, scheds_top, repos_top, help_top;
	struct model_why why;		/* of the selected waiting task, or the one in details */

	struct prompt prompt;

	char msg[512];
	int msg_error;
	int64_t msg_until;	/* monotonic ms */

	struct conn_job *job;
	enum job_kind job_kind;
	char job_path[1024];
	enum job_kind op_kind;	/* JOB_BACKUP or JOB_RESTORE */
	int64_t op_task;
	char op_path[1024];
	char last_backup[1024];	/* offered by the next restore */
	int64_t op_done_until;

	struct pane header, workers, tasks, details, locks, schedules, repos, help, status, dialog,
	    small;
	int lines, cols;
};

/* console.c */
void console_message(struct console *con, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void console_open_details(struct console *con, int64_t id);
void console_close_view(struct console *con);
void console_ask_cancel(struct console *con, int64_t id);
void console_ask_restart(struct console *con, int64_t id);
void console_ask_pause(struct console *con);
void console_ask_backup(struct console *con);
void console_ask_restore(struct console *con);
void console_prompt_done(struct console *con, int accepted);
void console_refresh_rows(struct console *con);
struct model_task *console_selected(struct console *con);
int64_t console_now_ms(void);
int console_is_enter(int ch);
int console_is_back(int ch);

/* draw.c */
void theme_init(struct theme *th, int color);
int draw_text(struct console *con, WINDOW *w, int y, int x, int width, attr_t a, const char *s);
void draw_fill(WINDOW *w, int y, int x, int width, attr_t a);
int draw_textf(struct console *con, WINDOW *w, int y, int x, int width, attr_t a,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void draw_bar(struct console *con, WINDOW *w, int y, int x, int width, double f);
int draw_key(struct console *con, WINDOW *w, int y, int x, int width, const char *key,
    const char *label);
size_t draw_scroll(size_t sel, size_t top, size_t visible, size_t n);
void draw_box(struct console *con, WINDOW *w);
/* Arrows, j/k, PgUp/PgDn, Home/End (g/G) move *top in a list of count rows; 1 if ch was one. */
int draw_scroll_key(int ch, size_t *top, size_t count, size_t page);
int draw_wrap(struct console *con, WINDOW *w, int y, int x, int width, int maxlines,
    attr_t a, const char *s);

/* view-header.c */
void header_draw(struct console *con, struct pane *p);

/* view-workers.c */
void workers_draw(struct console *con, struct pane *p);
int workers_rows_wanted(const struct console *con, int room);

/* view-tasks.c */
void tasks_draw(struct console *con, struct pane *p);
int tasks_key(struct console *con, struct pane *p, int ch);

/* view-details.c */
void details_draw(struct console *con, struct pane *p);
int details_key(struct console *con, struct pane *p, int ch);

/* view-locks.c */
void locks_draw(struct console *con, struct pane *p);
int locks_key(struct console *con, struct pane *p, int ch);

/* view-schedules.c */
void schedules_draw(struct console *con, struct pane *p);
int schedules_key(struct console *con, struct pane *p, int ch);

/* view-repos.c */
void repos_draw(struct console *con, struct pane *p);
int repos_key(struct console *con, struct pane *p, int ch);

/* view-help.c */
void help_draw(struct console *con, struct pane *p);
int help_key(struct console *con, struct pane *p, int ch);

/* view-status.c */
void status_draw(struct console *con, struct pane *p);

/* view-prompt.c */
void prompt_open(struct console *con, enum prompt_kind kind, enum prompt_action action,
    const char *title, const char *question, const char *text);
int prompt_key(struct console *con, int ch);
void prompt_draw(struct console *con, struct pane *p);
void prompt_search_draw(struct console *con, WINDOW *w, int y, int width);
void prompt_geometry(struct console *con, int *h, int *w, int *y, int *x);

#endif
