/*
 * console.c: depot-console's main and its one loop. Each turn reads what
 * the daemon sent (feed_tick), draws the panes of the view on screen into
 * their windows (werase, draw, wnoutrefresh, then one doupdate: only what
 * changed reaches the terminal), then waits for a key at most
 * CONSOLE_TICK_MS. Keys go to the prompt if one is open, else to the
 * pane in front, else to the loop's own (views, filter, search, actions).
 */
#include "console.h"

#include "paths.h"
#include "proto.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTRL(c)	((c) & 0x1f)
/* How long a message stays on the message line. */
#define MSG_INFO_MS	8000
#define MSG_ERROR_MS	20000
/* How long a finished backup's or restore's outcome stays. */
#define OP_SHOWN_MS	30000
/* A restore may take a while; a backup's submission should not. */
#define RESTORE_WAIT_MS	(30 * 60 * 1000)
#define SUBMIT_WAIT_MS	30000

static volatile sig_atomic_t console_signal;
static struct console console;

static void usage(FILE *f);
static void on_signal(int sig);
static int console_colors_wanted(void);
static void pane_place(struct pane *p, int h, int w, int y, int x);
static void pane_drop(struct pane *p);
static void console_layout(struct console *con, int force);
static void console_draw(struct console *con);
static void console_draw_pane(struct console *con, struct pane *p);
static struct pane *console_front(struct console *con);
static int console_key_alias(int ch);
static void console_define_keys(void);
static int console_key(struct console *con, int ch);
static void console_cancel(struct console *con, int64_t id);
static void console_restart(struct console *con, int64_t id);
static void console_queue(struct console *con, int pause);
static void console_sort_next(struct console *con, int reverse);
static void console_absolute(const char *in, char *out, size_t n);
static void console_start_job(struct console *con, enum job_kind kind, const char *path);
static int console_poll_job(struct console *con);
static void console_track_op(struct console *con);
static const char *job_name(enum job_kind kind);
static int64_t console_wanted_task(const struct console *con);
static void console_loop(struct console *con);
static void console_free(struct console *con);

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: depot-console [-d DIR] [--readonly] [--recent DURATION]\n"
	    "\n"
	    "A live view of depotd: workers, tasks and their progress, reservations,\n"
	    "schedules, repositories; cancel and restart tasks, pause the queue, back up\n"
	    "and restore from it. Press ? inside for the keys.\n"
	    "\n"
	    "Options:\n"
	    "  -d, --dir DIR   the daemon's data directory (default: $DEPOT_HOME, else\n"
	    "                  /var/lib/depot as root, else ~/.local/state/depot)\n"
	    "  -r, --readonly  watch only: cancel, restart, pause, backup and restore\n"
	    "                  are disabled\n"
	    "      --recent DURATION\n"
	    "                  the default filter also shows tasks that ended this\n"
	    "                  recently (default 5m; 0 for none)\n"
	    "  -h, --help      show this help\n"
	    "      --version   show the version\n"
	    "\n"
	    "NO_COLOR set (to anything but empty) turns colours off.\n");
}

static void on_signal(int sig)
{
	console_signal = sig;
}

/* Colours when the terminal has them, unless NO_COLOR says otherwise (no-color.org). */
static int console_colors_wanted(void)
{
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && nc[0] != '\0')
		return 0;
	return has_colors();
}

int64_t console_now_ms(void)
{
	return time_now_ms();
}

int console_is_enter(int ch)
{
	return ch == '\n' || ch == '\r' || ch == KEY_ENTER;
}

int console_is_back(int ch)
{
	return ch == 27 || ch == KEY_BACKSPACE || ch == 127 || ch == KEY_LEFT;
}

void console_message(struct console *con, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(con->msg, sizeof con->msg, fmt, ap);
	va_end(ap);
	con->msg_error = error;
	con->msg_until = time_mono_ms() + (error ? MSG_ERROR_MS : MSG_INFO_MS);
}

/* The tasks pane's rows again (the model may have changed), keeping the selection by id. */
void console_refresh_rows(struct console *con)
{
	struct model_rows_spec spec = {
		.filter = con->filter, .recent_ms = con->recent_ms, .now = console_now_ms(),
		.query = con->search, .sort = con->sort, .reverse = con->sort_reverse,
	};

	free(con->rows);
	con->nrows = model_task_rows(&con->m, &spec, &con->rows);
	if (con->nrows == 0) {
		con->sel = 0;
		return;
	}
	for (size_t i = 0; i < con->nrows; i++) {
		if (con->rows[i]->id == con->sel_id) {
			con->sel = i;
			return;
		}
	}
	/* The selected task left the list: the one now in its place is selected. */
	if (con->sel >= con->nrows)
		con->sel = con->nrows - 1;
	con->sel_id = con->rows[con->sel]->id;
}

struct model_task *console_selected(struct console *con)
{
	return con->nrows > 0 && con->sel < con->nrows ? con->rows[con->sel] : NULL;
}

void console_open_details(struct console *con, int64_t id)
{
	con->details_id = id;
	model_log_free(&con->log);
	model_log_init(&con->log, id);
	con->log_scroll = 0;
	con->view = VIEW_DETAILS;
	con->feed.last_log = 0;
}

void console_close_view(struct console *con)
{
	if (con->view == VIEW_HELP) {
		con->view = con->help_back;
		return;
	}
	if (con->view == VIEW_DETAILS) {
		model_log_free(&con->log);
		con->details_id = 0;
	}
	con->view = VIEW_MAIN;
}

void console_ask_cancel(struct console *con, int64_t id)
{
	const struct model_task *t = model_task(&con->m, id);
	char q[512];

	if (con->readonly) {
		console_message(con, 1, "read-only console (--readonly): canceling is disabled");
		return;
	}
	if (t == NULL) {
		console_message(con, 1, "task %lld is not known", (long long)id);
		return;
	}
	if (task_state_final(t->state)) {
		console_message(con, 1, "task %lld is already %s: nothing to cancel", (long long)id,
		    task_state_name(t->state));
		return;
	}
	if (!con->m.up) {
		console_message(con, 1, "depotd is down: task %lld cannot be canceled now",
		    (long long)id);
		return;
	}
	snprintf(q, sizeof q, "Cancel task %lld (%s, %s%s)?", (long long)t->id, t->name,
	    task_state_name(t->state), t->stalled ? ", STALLED" : "");
	con->prompt.task = id;
	prompt_open(con, PROMPT_CONFIRM, ACTION_CANCEL_TASK, "Cancel task", q, NULL);
}

void console_ask_restart(struct console *con, int64_t id)
{
	const struct model_task *t = model_task(&con->m, id);
	char q[512];

	if (con->readonly) {
		console_message(con, 1, "read-only console (--readonly): restarting is disabled");
		return;
	}
	if (t == NULL) {
		console_message(con, 1, "task %lld is not known", (long long)id);
		return;
	}
	if (!task_state_final(t->state)) {
		console_message(con, 1, "task %lld is %s: only a task that ended can be restarted",
		    (long long)id, task_state_name(t->state));
		return;
	}
	if (!con->m.up) {
		console_message(con, 1, "depotd is down: task %lld cannot be restarted now",
		    (long long)id);
		return;
	}
	snprintf(q, sizeof q, "Restart task %lld (%s, %s)? A new task runs with the same "
	    "specification.", (long long)t->id, t->name, task_state_name(t->state));
	con->prompt.task = id;
	prompt_open(con, PROMPT_CONFIRM, ACTION_RESTART_TASK, "Restart task", q, NULL);
}

/* Pauses the whole queue, or resumes it when the daemon says it is paused. */
void console_ask_pause(struct console *con)
{
	const struct model_status *s = &con->m.status;

	if (con->readonly) {
		console_message(con, 1, "read-only console (--readonly): pausing the queue is disabled");
		return;
	}
	if (!con->m.up) {
		console_message(con, 1, "depotd is down: its queue cannot be paused or resumed now");
		return;
	}
	if (s->queue_known && s->queue_paused)
		prompt_open(con, PROMPT_CONFIRM, ACTION_RESUME_QUEUE, "Resume the queue",
		    "Resume the queue? Waiting tasks start again as their reservations allow.", NULL);
	else
		prompt_open(con, PROMPT_CONFIRM, ACTION_PAUSE_QUEUE, "Pause the queue",
		    "Pause the whole queue? No new task starts until it is resumed (p again); "
		    "running tasks go on to their end.", NULL);
}

void console_ask_backup(struct console *con)
{
	char def[PATH_MAX + 64], cwd[PATH_MAX], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (con->readonly) {
		console_message(con, 1, "read-only console (--readonly): backup is disabled");
		return;
	}
	if (con->job != NULL) {
		console_message(con, 1, "a %s request is still waiting for depotd's answer",
		    job_name(con->job_kind));
		return;
	}
	if (getcwd(cwd, sizeof cwd) == NULL)
		snprintf(cwd, sizeof cwd, "/tmp");
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	snprintf(def, sizeof def, "%s/depot-backup-%s.tar.zst", strcmp(cwd, "/") ? cwd : "", stamp);
	prompt_open(con, PROMPT_INPUT, ACTION_BACKUP_PATH, "Backup",
	    "Write a backup archive of the whole depot (database, content, publications, "
	    "settings) to this file, on the daemon's host:", def);
}

void console_ask_restore(struct console *con)
{
	if (con->readonly) {
		console_message(con, 1, "read-only console (--readonly): restore is disabled");
		return;
	}
	if (con->job != NULL) {
		console_message(con, 1, "a %s request is still waiting for depotd's answer",
		    job_name(con->job_kind));
		return;
	}
	prompt_open(con, PROMPT_INPUT, ACTION_RESTORE_PATH, "Restore",
	    "Restore the depot from this backup archive (it is verified first; a bad "
	    "archive changes nothing):", con->last_backup);
}

/* What an answered prompt does. */
void console_prompt_done(struct console *con, int accepted)
{
	struct prompt pr = con->prompt;
	char path[sizeof pr.text + PATH_MAX], real[PATH_MAX], q[4096], word[64];
	size_t n;

	con->prompt.kind = PROMPT_NONE;
	/* Leading and trailing blanks of what was typed do not count. */
	n = strlen(pr.text);
	while (n > 0 && pr.text[n - 1] == ' ')
		pr.text[--n] = '\0';
	memmove(pr.text, pr.text + strspn(pr.text, " "), strlen(pr.text + strspn(pr.text, " ")) + 1);
	switch (pr.action) {
	case ACTION_CANCEL_TASK:
		if (accepted)
			console_cancel(con, pr.task);
		else
			console_message(con, 0, "task %lld not canceled", (long long)pr.task);
		break;
	case ACTION_RESTART_TASK:
		if (accepted)
			console_restart(con, pr.task);
		else
			console_message(con, 0, "task %lld not restarted", (long long)pr.task);
		break;
	case ACTION_PAUSE_QUEUE:
	case ACTION_RESUME_QUEUE:
		if (accepted)
			console_queue(con, pr.action == ACTION_PAUSE_QUEUE);
		else
			console_message(con, 0, "the queue was left as it was");
		break;
	case ACTION_SEARCH:
		if (!accepted)
			con->search[0] = '\0';
		else
			snprintf(con->search, sizeof con->search, "%s", pr.text);
		console_refresh_rows(con);
		break;
	case ACTION_BACKUP_PATH:
		if (!accepted) {
			console_message(con, 0, "backup not started");
			break;
		}
		if (pr.text[0] == '\0') {
			console_message(con, 1, "backup not started: no path given");
			break;
		}
		console_absolute(pr.text, path, sizeof path);
		console_start_job(con, JOB_BACKUP, path);
		break;
	case ACTION_RESTORE_PATH:
		if (!accepted) {
			console_message(con, 0, "restore not started");
			break;
		}
		if (pr.text[0] == '\0') {
			console_message(con, 1, "restore not started: no path given");
			break;
		}
		console_absolute(pr.text, path, sizeof path);
		/* The daemon runs on this host: a missing file is said before anything is asked. */
		if (realpath(path, real) == NULL) {
			console_message(con, 1, "cannot restore from %s: %s", path, strerror(errno));
			break;
		}
		snprintf(path, sizeof path, "%s", real);
		snprintf(q, sizeof q, "This replaces every task, repository, schedule and setting "
		    "of %s with the backup %s, once running tasks end; the current data is kept "
		    "beside it. Type the word restore and Enter to go on, Esc to stop:",
		    con->m.status.data_dir ? con->m.status.data_dir : con->dir, path);
		snprintf(con->prompt.path, sizeof con->prompt.path, "%s", path);
		prompt_open(con, PROMPT_INPUT, ACTION_RESTORE_WORD, "Restore: type restore to go on", q, "");
		break;
	case ACTION_RESTORE_WORD:
		if (!accepted) {
			console_message(con, 0, "restore not started");
			break;
		}
		if (strcmp(pr.text, "restore") != 0) {
			snprintf(word, sizeof word, "%s", pr.text);
			console_message(con, 1, "restore not started: '%s' is not the word restore", word);
			break;
		}
		console_start_job(con, JOB_RESTORE, pr.path);
		break;
	}
}

/* Asks the daemon to cancel task id, and says what it answered. */
static void console_cancel(struct console *con, int64_t id)
{
	cJSON *args = cJSON_CreateObject(), *ids, *r, *t;
	const struct model_task *mt;
	char err[512];
	int rc;

	ids = cJSON_AddArrayToObject(args, "ids");
	cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)id));
	rc = conn_call(&con->conn, CMD_task_cancel, args, CONN_TIMEOUT_MS, &r, err, sizeof err);
	switch (rc) {
	case CONN_OK:
		cJSON_ArrayForEach(t, r)
			model_upsert_task(&con->m, t);
		cJSON_Delete(r);
		console_refresh_rows(con);
		mt = model_task(&con->m, id);
		if (mt != NULL && mt->state == TASK_CANCELING)
			console_message(con, 0, "task %lld canceling: its worker is stopping it",
			    (long long)id);
		else
			console_message(con, 0, "task %lld %s", (long long)id,
			    task_state_name(mt ? mt->state : TASK_CANCELED));
		break;
	case CONN_REFUSED:
		console_message(con, 1, "depotd refused to cancel task %lld: %s", (long long)id, err);
		break;
	case CONN_DOWN:
		model_set_down(&con->m, err, time_mono_ms());
		console_message(con, 1, "task %lld not canceled: depotd did not answer", (long long)id);
		break;
	default:
		console_message(con, 1, "task %lld not canceled: %s", (long long)id, err);
		break;
	}
}

/* Asks the daemon to run final task id again; the new task is selected. */
static void console_restart(struct console *con, int64_t id)
{
	cJSON *args = cJSON_CreateObject(), *r, *nid;
	char err[512];
	int rc;

	cJSON_AddNumberToObject(args, "id", (double)id);
	rc = conn_call(&con->conn, CMD_task_restart, args, CONN_TIMEOUT_MS, &r, err, sizeof err);
	switch (rc) {
	case CONN_OK:
		nid = cJSON_GetObjectItemCaseSensitive(r, "id");
		if (model_upsert_task(&con->m, r) >= 0 && cJSON_IsNumber(nid)) {
			con->sel_id = (int64_t)nid->valuedouble;
			if (con->view == VIEW_DETAILS)
				console_open_details(con, con->sel_id);
			console_refresh_rows(con);
			console_message(con, 0, "task %lld restarted as task %lld", (long long)id,
			    (long long)con->sel_id);
		} else
			console_message(con, 0, "task %lld restarted", (long long)id);
		cJSON_Delete(r);
		break;
	case CONN_REFUSED:
		console_message(con, 1, "depotd refused to restart task %lld: %s", (long long)id, err);
		break;
	case CONN_DOWN:
		model_set_down(&con->m, err, time_mono_ms());
		console_message(con, 1, "task %lld not restarted: depotd did not answer", (long long)id);
		break;
	default:
		console_message(con, 1, "task %lld not restarted: %s", (long long)id, err);
		break;
	}
}

/* queue.pause or queue.resume of the whole queue; the header follows at once. */
static void console_queue(struct console *con, int pause)
{
	const char *what = pause ? "pause" : "resume";
	cJSON *r, *paused;
	char err[512];
	int rc;

	rc = conn_call(&con->conn, pause ? CMD_queue_pause : CMD_queue_resume, NULL, CONN_TIMEOUT_MS,
	    &r, err, sizeof err);
	switch (rc) {
	case CONN_OK:
		paused = cJSON_GetObjectItemCaseSensitive(r, "paused");
		if (cJSON_IsBool(paused)) {
			con->m.status.queue_known = 1;
			con->m.status.queue_paused = cJSON_IsTrue(paused);
			con->m.generation++;
		}
		console_message(con, 0, "%s", con->m.status.queue_paused ?
		    "queue paused: no new task starts; running tasks go on (p resumes)" :
		    "queue resumed: waiting tasks start as their reservations allow");
		/* The status (paused resources too) is read again soon. */
		con->m.resync_pending = 1;
		cJSON_Delete(r);
		break;
	case CONN_REFUSED:
		console_message(con, 1, "depotd refused to %s the queue: %s", what, err);
		break;
	case CONN_DOWN:
		model_set_down(&con->m, err, time_mono_ms());
		console_message(con, 1, "queue not %sd: depotd did not answer", what);
		break;
	default:
		console_message(con, 1, "queue not %sd: %s", what, err);
		break;
	}
}

/* The next column to sort the tasks by (o), or the order turned round (O). */
static void console_sort_next(struct console *con, int reverse)
{
	if (reverse)
		con->sort_reverse = !con->sort_reverse;
	else {
		con->sort = (con->sort + 1) % MODEL_SORT_COUNT;
		con->sort_reverse = 0;
	}
	if (con->view != VIEW_MAIN)
		console_close_view(con);
	console_refresh_rows(con);
	console_message(con, 0, "tasks sorted by %s%s", model_sort_name(con->sort),
	    con->sort_reverse ? ", reversed" : "");
}

/* in made absolute (the daemon's working directory is not ours); "~/" is $HOME. */
static void console_absolute(const char *in, char *out, size_t n)
{
	char cwd[PATH_MAX];
	const char *home = getenv("HOME");

	if (in[0] == '/')
		snprintf(out, n, "%s", in);
	else if (in[0] == '~' && in[1] == '/' && home != NULL)
		snprintf(out, n, "%s/%s", home, in + 2);
	else if (getcwd(cwd, sizeof cwd) != NULL)
		snprintf(out, n, "%s/%s", strcmp(cwd, "/") ? cwd : "", in);
	else
		snprintf(out, n, "%s", in);
}

static const char *job_name(enum job_kind kind)
{
	return kind == JOB_BACKUP ? "backup" : "restore";
}

/* Sends a backup's or restore's request in a thread: the screen goes on meanwhile. */
static void console_start_job(struct console *con, enum job_kind kind, const char *path)
{
	cJSON *args = cJSON_CreateObject();

	if (!con->m.up) {
		cJSON_Delete(args);
		console_message(con, 1, "%s not started: depotd is down", job_name(kind));
		return;
	}
	switch (kind) {
	case JOB_BACKUP:
		/* DESIGN §9: a task, online beside everything but orphan cleanup. */
		cJSON_AddStringToObject(args, "type", task_type_name(TASKTYPE_BACKUP));
		cJSON_AddStringToObject(args, "output", path);
		con->job = conn_job_start(&con->conn, command_name(CMD_task_submit), args,
		    SUBMIT_WAIT_MS);
		break;
	case JOB_RESTORE:
		cJSON_AddStringToObject(args, "type", task_type_name(TASKTYPE_RESTORE));
		cJSON_AddStringToObject(args, "path", path);
		con->job = conn_job_start(&con->conn, command_name(CMD_task_submit), args,
		    SUBMIT_WAIT_MS);
		break;
	default:
		cJSON_AddStringToObject(args, "path", path);
		con->job = conn_job_start(&con->conn, "restore", args, RESTORE_WAIT_MS);
		break;
	}
	if (con->job == NULL) {
		console_message(con, 1, "%s not started: cannot start a thread", job_name(kind));
		return;
	}
	con->job_kind = kind;
	snprintf(con->job_path, sizeof con->job_path, "%s", path);
	con->msg_until = 0;
}

/* The answer to a backup or restore request, once it came; 1 when something changed. */
static int console_poll_job(struct console *con)
{
	enum job_kind kind = con->job_kind;
	const char *what = job_name(kind);
	cJSON *r = NULL, *id;
	char err[512];
	int rc;

	if (con->job == NULL || !conn_job_done(con->job))
		return 0;
	rc = conn_job_result(con->job, &r, err, sizeof err);
	conn_job_free(con->job);
	con->job = NULL;
	id = cJSON_GetObjectItemCaseSensitive(r, "id");
	switch (rc) {
	case CONN_OK:
		if (cJSON_IsNumber(id) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "state"))) {
			/* A task: followed on the message line until it ends. */
			model_upsert_task(&con->m, r);
			console_refresh_rows(con);
			con->op_kind = kind == JOB_BACKUP ? JOB_BACKUP : JOB_RESTORE;
			con->op_task = (int64_t)id->valuedouble;
			con->op_done_until = 0;
			snprintf(con->op_path, sizeof con->op_path, "%s", con->job_path);
			if (kind == JOB_BACKUP)
				snprintf(con->last_backup, sizeof con->last_backup, "%s", con->job_path);
			/* The message line follows the task from now on. */
			con->msg_until = 0;
		} else {
			console_message(con, 0, "%s of %s done; reading everything again", what,
			    con->job_path);
			con->m.resync_pending = 1;
		}
		break;
	case CONN_REFUSED:
		/* A daemon without the restore task may have the restore command. */
		if (kind == JOB_RESTORE && strstr(err, "bad_request") != NULL &&
		    strstr(err, "restore") != NULL && strstr(err, "type") != NULL) {
			console_start_job(con, JOB_RESTORE_CMD, con->job_path);
			break;
		}
		console_message(con, 1, "%s refused by depotd: %s", what, err);
		break;
	case CONN_DOWN:
		console_message(con, 1, "%s: no answer from depotd (%s); the console reconnects by "
		    "itself", what, err);
		break;
	default:
		console_message(con, 1, "%s failed: %s", what, err);
		break;
	}
	cJSON_Delete(r);
	return 1;
}

/*
 * A finished backup's or restore's outcome stays a while, then the message
 * line is free again. A restore replaced everything: all is read again.
 */
static void console_track_op(struct console *con)
{
	const struct model_task *t;
	int64_t now = time_mono_ms();

	if (con->op_task <= 0)
		return;
	t = model_task(&con->m, con->op_task);
	if (t == NULL || !task_state_final(t->state))
		return;
	if (con->op_done_until == 0) {
		con->op_done_until = now + OP_SHOWN_MS;
		if (con->op_kind == JOB_RESTORE)
			con->m.resync_pending = 1;
	} else if (now > con->op_done_until) {
		con->op_task = 0;
		con->op_done_until = 0;
	}
}

/* Windows. */

static void pane_drop(struct pane *p)
{
	if (p->win != NULL)
		delwin(p->win);
	p->win = NULL;
	p->h = p->w = p->y = p->x = 0;
}

/* Gives p a window of that size and place, made anew only when either changed. */
static void pane_place(struct pane *p, int h, int w, int y, int x)
{
	if (h <= 0 || w <= 0) {
		pane_drop(p);
		return;
	}
	if (p->win != NULL && p->h == h && p->w == w && p->y == y && p->x == x)
		return;
	pane_drop(p);
	if ((p->win = newwin(h, w, y, x)) == NULL)
		return;
	p->h = h;
	p->w = w;
	p->y = y;
	p->x = x;
}

/*
 * Header 2 lines, status 2 lines at the bottom, the view between; in the
 * main view the workers take what they need of it (a quarter at most) and
 * the tasks the rest. force makes every window anew (after a resize, when
 * ncurses may have clipped them).
 */
static void console_layout(struct console *con, int force)
{
	struct pane *all[] = { &con->header, &con->workers, &con->tasks, &con->details,
		&con->locks, &con->schedules, &con->repos, &con->help, &con->status, &con->dialog,
		&con->small };
	int lines, cols, mainh, wh;

	getmaxyx(stdscr, lines, cols);
	con->lines = lines;
	con->cols = cols;
	if (force)
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			pane_drop(all[i]);
	if (lines < CONSOLE_MIN_LINES || cols < CONSOLE_MIN_COLS) {
		pane_place(&con->small, lines, cols, 0, 0);
		return;
	}
	pane_drop(&con->small);
	mainh = lines - 4;
	wh = workers_rows_wanted(con, mainh);
	pane_place(&con->header, 2, cols, 0, 0);
	pane_place(&con->status, 2, cols, lines - 2, 0);
	pane_place(&con->workers, wh, cols, 2, 0);
	pane_place(&con->tasks, mainh - wh, cols, 2 + wh, 0);
	pane_place(&con->details, mainh, cols, 2, 0);
	pane_place(&con->locks, mainh, cols, 2, 0);
	pane_place(&con->schedules, mainh, cols, 2, 0);
	pane_place(&con->repos, mainh, cols, 2, 0);
	pane_place(&con->help, mainh, cols, 2, 0);
	if (con->prompt.kind == PROMPT_CONFIRM || con->prompt.kind == PROMPT_INPUT) {
		int h, w, y, x;

		prompt_geometry(con, &h, &w, &y, &x);
		pane_place(&con->dialog, h, w, y, x);
	}
}

/* The pane that gets keys first. */
static struct pane *console_front(struct console *con)
{
	switch (con->view) {
	case VIEW_DETAILS:
		return &con->details;
	case VIEW_LOCKS:
		return &con->locks;
	case VIEW_SCHEDULES:
		return &con->schedules;
	case VIEW_REPOS:
		return &con->repos;
	case VIEW_HELP:
		return &con->help;
	default:
		return &con->tasks;
	}
}

static void console_draw_pane(struct console *con, struct pane *p)
{
	if (p->win == NULL)
		return;
	werase(p->win);
	p->draw(con, p);
	wnoutrefresh(p->win);
}

static void console_draw(struct console *con)
{
	console_layout(con, 0);
	/* stdscr is never drawn on; refreshing it first keeps getch from painting it over the panes. */
	wnoutrefresh(stdscr);
	if (con->small.win != NULL) {
		werase(con->small.win);
		draw_textf(con, con->small.win, 0, 0, con->small.w, A_BOLD,
		    "depot-console needs %dx%d at least (now %dx%d)", CONSOLE_MIN_COLS,
		    CONSOLE_MIN_LINES, con->cols, con->lines);
		draw_text(con, con->small.win, 1, 0, con->small.w, A_NORMAL, "q quits");
		wnoutrefresh(con->small.win);
		doupdate();
		return;
	}
	console_refresh_rows(con);
	console_draw_pane(con, &con->header);
	if (con->view == VIEW_MAIN) {
		console_draw_pane(con, &con->workers);
		console_draw_pane(con, &con->tasks);
	} else
		console_draw_pane(con, console_front(con));
	console_draw_pane(con, &con->status);
	if (con->prompt.kind == PROMPT_CONFIRM || con->prompt.kind == PROMPT_INPUT)
		console_draw_pane(con, &con->dialog);
	doupdate();
}

/*
 * The same key by every name terminals give it: tmux, screen and the Linux
 * console send Home and End as VT220's Find and Select (ESC [1~, ESC [4~),
 * which xterm's terminfo reads as KEY_FIND and KEY_SELECT; the keypad's
 * corners are KEY_A1 and KEY_C1.
 */
static int console_key_alias(int ch)
{
	switch (ch) {
	case KEY_FIND:
	case KEY_A1:
	case KEY_BEG:
		return KEY_HOME;
	case KEY_SELECT:
	case KEY_C1:
		return KEY_END;
	case KEY_A3:
		return KEY_PPAGE;
	case KEY_C3:
		return KEY_NPAGE;
	default:
		return ch;
	}
}

/*
 * Home and End as other terminals send them, when the terminal description
 * in TERM does not name them: VT220 style (tmux and screen, whatever TERM
 * says inside), rxvt, and xterm outside keypad mode.
 */
static void console_define_keys(void)
{
	static const struct {
		const char *seq;
		int key;
	} keys[] = {
		{ "\033[1~", KEY_HOME }, { "\033[4~", KEY_END },
		{ "\033[7~", KEY_HOME }, { "\033[8~", KEY_END },
		{ "\033[H", KEY_HOME }, { "\033[F", KEY_END },
		{ "\033OH", KEY_HOME }, { "\033OF", KEY_END },
		{ "\033[5~", KEY_PPAGE }, { "\033[6~", KEY_NPAGE },
	};

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (key_defined(keys[i].seq) == 0)
			define_key(keys[i].seq, keys[i].key);
}

/* One key; PANE_* flags. */
static int console_key(struct console *con, int ch)
{
	struct pane *p;
	int r;

	ch = console_key_alias(ch);
	if (ch == KEY_RESIZE) {
		console_layout(con, 1);
		return PANE_HANDLED | PANE_REDRAW;
	}
	if (con->small.win != NULL && con->header.win == NULL)
		return ch == 'q' ? PANE_QUIT : PANE_HANDLED;
	console_refresh_rows(con);
	if (con->prompt.kind != PROMPT_NONE)
		return prompt_key(con, ch);
	p = console_front(con);
	if (p->key != NULL && p->win != NULL && (r = p->key(con, p, ch)) != PANE_IGNORED)
		return r;
	switch (ch) {
	case 'q':
	case 'Q':
		return PANE_QUIT;
	case '?':
	case KEY_F(1):
		if (con->view != VIEW_HELP) {
			con->help_back = con->view;
			con->help_top = 0;
			con->view = VIEW_HELP;
		}
		break;
	case 'f':
		con->filter = (con->filter + 1) % MODEL_FILTER_COUNT;
		if (con->view != VIEW_MAIN)
			console_close_view(con);
		console_refresh_rows(con);
		console_message(con, 0, "showing %s tasks", model_filter_name(con->filter));
		break;
	case '/':
		if (con->view != VIEW_MAIN)
			console_close_view(con);
		snprintf(con->prompt.saved, sizeof con->prompt.saved, "%s", con->search);
		prompt_open(con, PROMPT_SEARCH, ACTION_SEARCH, "Search", "", con->search);
		break;
	case 'l':
		con->view = VIEW_LOCKS;
		con->locks_top = 0;
		con->feed.last_locks = 0;
		break;
	case 's':
		con->view = VIEW_SCHEDULES;
		con->scheds_top = 0;
		con->feed.last_scheds = 0;
		break;
	case 'r':
		con->view = VIEW_REPOS;
		con->repos_top = 0;
		con->feed.last_repos = 0;
		break;
	case 'o':
	case 'O':
		console_sort_next(con, ch == 'O');
		break;
	case 'p':
		console_ask_pause(con);
		break;
	case 'b':
		console_ask_backup(con);
		break;
	case 'R':
		console_ask_restore(con);
		break;
	case 'c':
		if (con->readonly)
			console_message(con, 1, "read-only console (--readonly): canceling is disabled");
		else
			console_message(con, 1, "select a task in the tasks view (Esc) to cancel it");
		break;
	case 'a':
		if (con->readonly)
			console_message(con, 1, "read-only console (--readonly): restarting is disabled");
		else
			console_message(con, 1, "select a task in the tasks view (Esc) to restart it");
		break;
	case CTRL('l'):
		clearok(curscr, TRUE);
		break;
	default:
		if (console_is_back(ch) && con->view != VIEW_MAIN) {
			console_close_view(con);
			break;
		}
		if (console_is_back(ch) && con->search[0] != '\0' && ch == 27) {
			con->search[0] = '\0';
			console_refresh_rows(con);
			break;
		}
		return PANE_IGNORED;
	}
	return PANE_HANDLED | PANE_REDRAW;
}

/*
 * A task to read by itself: the one whose details are open, or the one a
 * search names by id ("#42") when the lists read did not include it.
 */
static int64_t console_wanted_task(const struct console *con)
{
	char *end;
	long long id;

	if (con->view == VIEW_DETAILS)
		return con->details_id;
	if (con->view != VIEW_MAIN || con->search[0] != '#')
		return 0;
	id = strtoll(con->search + 1, &end, 10);
	return *end == '\0' && end != con->search + 1 && id > 0 ? id : 0;
}

static void console_loop(struct console *con)
{
	int64_t last_sec = -1, waited;
	int dirty = 1, instant_errs = 0;

	while (!console_signal) {
		struct feed_wants w = {
			.locks = con->view == VIEW_LOCKS,
			.schedules = con->view == VIEW_SCHEDULES,
			.log = con->view == VIEW_DETAILS ? &con->log : NULL,
			.show = console_wanted_task(con),
			.repos = con->view == VIEW_REPOS,
			.why = &con->why,
			.why_task = con->view == VIEW_DETAILS ? con->details_id :
			    con->view == VIEW_MAIN ? con->sel_id : 0,
		};
		int64_t sec = time_now_ms() / 1000;
		int ch, r;

		if (feed_tick(&con->feed, &w, time_mono_ms()))
			dirty = 1;
		if (console_poll_job(con))
			dirty = 1;
		console_track_op(con);
		/* The clock, ages and heartbeats move every second. */
		if (sec != last_sec) {
			last_sec = sec;
			dirty = 1;
		}
		if (dirty) {
			console_draw(con);
			dirty = 0;
		}
		waited = time_mono_ms();
		ch = wgetch(stdscr);
		if (ch == ERR) {
			/*
			 * getch gives up at once, again and again, only when the
			 * terminal is gone (end of input): stop rather than spin.
			 */
			if (time_mono_ms() - waited < CONSOLE_TICK_MS / 10) {
				if (++instant_errs >= 100)
					break;
			} else
				instant_errs = 0;
			continue;
		}
		instant_errs = 0;
		r = console_key(con, ch);
		if (r & PANE_QUIT)
			break;
		dirty = 1;
	}
}

static void console_free(struct console *con)
{
	struct pane *all[] = { &con->header, &con->workers, &con->tasks, &con->details,
		&con->locks, &con->schedules, &con->repos, &con->help, &con->status, &con->dialog,
		&con->small };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		pane_drop(all[i]);
	free(con->rows);
	con->rows = NULL;
	model_log_free(&con->log);
	model_why_free(&con->why);
	model_free(&con->m);
	conn_job_free(con->job);
	con->job = NULL;
	conn_close(&con->conn);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "recent", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct console *con = &console;
	const char *dir_opt = NULL;
	int64_t recent = MODEL_RECENT_MS;
	struct sigaction sa;
	SCREEN *scr;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "d:rh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir_opt = optarg;
			break;
		case 'r':
			con->readonly = 1;
			break;
		case 'T':
			if (strcmp(optarg, "0") == 0)
				recent = 0;
			else if (time_parse_duration(optarg, &recent) < 0 || recent < 0) {
				fprintf(stderr, "depot-console: --recent: '%s' is not a duration "
				    "(5m, 90s, 1h; 0 for none)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("depot-console %s (protocol %d)\n", DEPOT_VERSION, DEPOT_PROTO_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "depot-console: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (paths_data_dir(dir_opt, con->dir, sizeof con->dir, err, sizeof err) != 0) {
		fprintf(stderr, "depot-console: %s\n", err);
		return EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "depot-console: needs a terminal on stdin and stdout "
		    "(for scripts, use depotctl --json)\n");
		return EXIT_USAGE;
	}
	if (conn_open(&con->conn, con->dir, err, sizeof err) != 0) {
		fprintf(stderr, "depot-console: %s\n", err);
		return EXIT_USAGE;
	}
	model_init(&con->m);
	model_log_init(&con->log, 0);
	model_why_init(&con->why);
	con->recent_ms = recent;
	feed_init(&con->feed, &con->conn, &con->m);
	con->header = (struct pane){ .name = "header", .draw = header_draw };
	con->workers = (struct pane){ .name = "workers", .draw = workers_draw };
	con->tasks = (struct pane){ .name = "tasks", .draw = tasks_draw, .key = tasks_key };
	con->details = (struct pane){ .name = "details", .draw = details_draw, .key = details_key };
	con->locks = (struct pane){ .name = "locks", .draw = locks_draw, .key = locks_key };
	con->schedules = (struct pane){ .name = "schedules", .draw = schedules_draw,
		.key = schedules_key };
	con->repos = (struct pane){ .name = "repositories", .draw = repos_draw, .key = repos_key };
	con->help = (struct pane){ .name = "help", .draw = help_draw, .key = help_key };
	con->status = (struct pane){ .name = "status", .draw = status_draw };
	con->dialog = (struct pane){ .name = "prompt", .draw = prompt_draw };
	con->small = (struct pane){ .name = "small" };

	/* Set before curses starts, so that it leaves them to us: quit cleanly, terminal restored. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	setlocale(LC_ALL, "");
	con->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
		const char *term = getenv("TERM");

		fprintf(stderr, "depot-console: cannot use the terminal type '%s': set TERM to "
		    "your terminal's (TERM=xterm-256color, say)\n", term ? term : "(unset)");
		console_free(con);
		return EXIT_USAGE;
	}
	set_term(scr);
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	console_define_keys();
	curs_set(0);
	set_escdelay(25);
	wtimeout(stdscr, CONSOLE_TICK_MS);
	con->color = console_colors_wanted();
	/* Colours on the terminal's own background only, or none at all. */
	if (con->color && (start_color() == ERR || use_default_colors() == ERR))
		con->color = 0;
	theme_init(&con->th, con->color);
	refresh();

	console_loop(con);

	endwin();
	/* The panes' windows first: delscreen frees every window of the screen, and a delwin after it read freed memory (a crash at exit). */
	console_free(con);
	delscreen(scr);
	return EXIT_OK;
}
