/* progress.c: what --wait shows of a task: a progress line redrawn in place on a terminal while it runs, and what it did when it completed. */
#include "ctl.h"

#include "timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Columns when the terminal does not say. */
#define PROGRESS_COLUMNS 80

/* The line on the screen now, for progress_erase; NULL when none is. */
static struct progress *progress_drawn;

static int progress_columns(void);
static void progress_rate(const char *unit, double per_s, char *buf, size_t n);
static void progress_format(struct progress *p, const cJSON *task, size_t width, char *buf,
    size_t n);
static const char *progress_plural(int64_t n, const char *one, const char *many);

/*
 * Only for a person watching: stderr a terminal that understands "erase
 * to the end of the line". A pipe or a file gets no line at all, so a
 * script's stderr holds only what went wrong.
 */
void progress_begin(struct progress *p)
{
	const char *term = getenv("TERM");

	memset(p, 0, sizeof *p);
	p->on = isatty(STDERR_FILENO) && term != NULL && term[0] != '\0' &&
	    strcmp(term, "dumb") != 0;
	rate_reset(&p->rate);
}

static int progress_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return PROGRESS_COLUMNS;
}

/* "3.0MiB/s" for bytes, "12 files/s", "0.4 files/s" for anything counted. */
static void progress_rate(const char *unit, double per_s, char *buf, size_t n)
{
	if (unit != NULL && strcmp(unit, "bytes") == 0) {
		char size[32];

		out_size((int64_t)(per_s + 0.5), size, sizeof size);
		snprintf(buf, n, "%s/s", size);
	} else
		snprintf(buf, n, per_s < 10 ? "%.1f%s%s/s" : "%.0f%s%s/s", per_s,
		    unit != NULL ? " " : "", unit != NULL ? unit : "");
}

/* The parts of a running task's line, in the order shown. */
enum progress_part { PART_COUNT, PART_MESSAGE, PART_RATE, PART_ETA, PART_ELAPSED, PART_N };

/*
 * "task 12: 40/120 files (33%), 1.2 MiB of 48.0 MiB downloaded, 3.1
 * files/s, ETA 26s, 9.0s elapsed": the task's progress (done/total, the
 * worker's message, which gives a sync's bytes) with the rate and time
 * left p's samples give. What does not fit in width columns goes, the
 * elapsed time first, then the message; "task 12 waiting for 3.2s"
 * before it starts (", to start in 4m58s at the earliest" after --at).
 */
static void progress_format(struct progress *p, const cJSON *task, size_t width, char *buf,
    size_t n)
{
	static const unsigned drops[] = { 0, 1u << PART_ELAPSED,
		1u << PART_ELAPSED | 1u << PART_MESSAGE };
	const cJSON *prog = cJSON_GetObjectItemCaseSensitive(task, "progress");
	const char *state = json_str(task, "state"), *unit = json_str(prog, "unit");
	const char *message = json_str(prog, "message");
	char part[PART_N][256], tmp[64];
	int64_t id = 0, done = 0, total = -1, eta;
	double per_s;

	(void)json_int(task, "id", &id);
	(void)json_int(prog, "done", &done);
	if (json_int(prog, "total", &total) != 0)
		total = -1;
	if (state == NULL || strcmp(state, task_state_name(TASK_RUNNING)) != 0) {
		/* How long it has waited: a queue that does not move shows. */
		out_age(json_str(task, "created_at"), tmp, sizeof tmp);
		snprintf(buf, n, "task %lld %s", (long long)id, state != NULL ? state : "?");
		if (state != NULL && strcmp(state, task_state_name(TASK_WAITING)) == 0) {
			const char *at = json_str(task, "not_before");
			size_t l = strlen(buf);

			snprintf(buf + l, n - l, " for %s", tmp);
			/* --at, --in or a retry's back-off: when it may start. */
			if (at != NULL && out_parse_time(at) > time_now_ms()) {
				out_when(at, tmp, sizeof tmp);
				l = strlen(buf);
				snprintf(buf + l, n - l, ", to start %s at the earliest", tmp);
			}
		}
		return;
	}
	memset(part, 0, sizeof part);
	out_progress(task, part[PART_COUNT], sizeof part[PART_COUNT]);
	if (strcmp(part[PART_COUNT], "-") == 0)
		snprintf(part[PART_COUNT], sizeof part[PART_COUNT], "%s",
		    message != NULL ? "" : state);
	else if (total > 0 && done <= total) {
		size_t l = strlen(part[PART_COUNT]);

		snprintf(part[PART_COUNT] + l, sizeof part[PART_COUNT] - l, " (%d%%)",
		    (int)(done * 100 / total));
	}
	if (message != NULL)
		snprintf(part[PART_MESSAGE], sizeof part[PART_MESSAGE], "%s", message);
	if ((per_s = rate_per_s(&p->rate)) >= 0)
		progress_rate(unit, per_s, part[PART_RATE], sizeof part[PART_RATE]);
	if ((eta = rate_eta_ms(&p->rate, total)) > 0) {
		time_format_duration(eta, tmp, sizeof tmp);
		snprintf(part[PART_ETA], sizeof part[PART_ETA], "ETA %s", tmp);
	}
	out_age(json_str(task, "started_at"), tmp, sizeof tmp);
	snprintf(part[PART_ELAPSED], sizeof part[PART_ELAPSED], "%s elapsed", tmp);
	for (size_t d = 0; d < sizeof drops / sizeof drops[0]; d++) {
		size_t l;
		int any = 0;

		l = (size_t)snprintf(buf, n, "task %lld", (long long)id);
		for (int i = 0; i < PART_N && l < n; i++) {
			if (part[i][0] == '\0' || (drops[d] & 1u << i) != 0)
				continue;
			l += (size_t)snprintf(buf + l, n - l, "%s%s", any ? ", " : ": ", part[i]);
			any = 1;
		}
		if (out_width(buf) <= width)
			break;
	}
}

/*
 * Takes task (as task.submit or task.wait gave it) as the latest word
 * on it and draws it over the line before. The rate starts afresh for a
 * new task (a retry), when it starts running, and when the unit changes.
 */
void progress_show(struct progress *p, const cJSON *task)
{
	const cJSON *prog = cJSON_GetObjectItemCaseSensitive(task, "progress");
	const char *unit = json_str(prog, "unit"), *state = json_str(task, "state");
	int running = state != NULL && strcmp(state, task_state_name(TASK_RUNNING)) == 0;
	int64_t id = 0, done = 0;
	char line[1024], clean[1024 * 3 + 4];
	size_t width;
	int cols;

	if (!p->on)
		return;
	(void)json_int(task, "id", &id);
	(void)json_int(prog, "done", &done);
	if (id != p->id || running != p->running ||
	    strcmp(unit != NULL ? unit : "", p->unit) != 0) {
		rate_reset(&p->rate);
		p->id = id;
		p->running = running;
		snprintf(p->unit, sizeof p->unit, "%s", unit != NULL ? unit : "");
	}
	if (running)
		rate_add(&p->rate, time_mono_ms(), done);
	/* One row, never wrapped: a wrapped line could not be drawn over. */
	cols = progress_columns();
	width = cols > 1 ? (size_t)cols - 1 : 1;
	progress_format(p, task, width, line, sizeof line);
	out_clean(line, width, clean, sizeof clean);
	fflush(stdout);
	fprintf(stderr, "\r%s\033[K", clean);
	fflush(stderr);
	p->drawn = 1;
	progress_drawn = p;
}

void progress_end(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->drawn = 0;
	}
	if (progress_drawn == p)
		progress_drawn = NULL;
}

void progress_erase(void)
{
	if (progress_drawn != NULL)
		progress_end(progress_drawn);
}

static const char *progress_plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * What a completed task did, for its outcome line: "version 3, 120 files,
 * 48.0MiB (downloaded 12 files, 1.2MiB) in 4.1s" for a sync, and the like
 * for publish, backup, restore and orphans (doc/protocol.md's results);
 * "" for a type whose result says nothing more (exec: its status).
 */
void progress_summary(const cJSON *task, char *buf, size_t n)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(task, "result");
	const char *type = json_str(task, "type");
	int64_t a = 0, b = 0, c = 0, d = 0, v = 0, start, end;
	char s1[32], s2[32], took[32];
	size_t l;

	buf[0] = '\0';
	if (type == NULL || !cJSON_IsObject(r))
		return;
	if (strcmp(type, task_type_name(TASKTYPE_SYNC)) == 0 &&
	    json_int(r, "version", &v) == 0) {
		(void)json_int(r, "files", &a);
		(void)json_int(r, "bytes", &b);
		(void)json_int(r, "downloaded_files", &c);
		(void)json_int(r, "downloaded_bytes", &d);
		out_size(b, s1, sizeof s1);
		out_size(d, s2, sizeof s2);
		snprintf(buf, n, "version %lld%s, %lld %s, %s (downloaded %lld %s, %s)",
		    (long long)v, json_true(r, "new_version") ? "" : " unchanged",
		    (long long)a, progress_plural(a, "file", "files"), s1, (long long)c,
		    progress_plural(c, "file", "files"), s2);
	} else if (strcmp(type, task_type_name(TASKTYPE_PUBLISH)) == 0 &&
	    json_int(r, "version", &v) == 0) {
		(void)json_int(r, "files", &a);
		snprintf(buf, n, "version %lld, %lld %s", (long long)v, (long long)a,
		    progress_plural(a, "file", "files"));
	} else if (strcmp(type, task_type_name(TASKTYPE_BACKUP)) == 0 &&
	    json_int(r, "size", &b) == 0) {
		const char *kind = json_str(r, "kind");

		(void)json_int(r, "content_files", &a);
		(void)json_int(r, "content_bytes", &c);
		out_size(b, s1, sizeof s1);
		out_size(c, s2, sizeof s2);
		snprintf(buf, n, "%s backup, %lld content %s (%s), archive %s",
		    kind != NULL ? kind : "a", (long long)a,
		    progress_plural(a, "file", "files"), s2, s1);
	} else if (strcmp(type, task_type_name(TASKTYPE_RESTORE)) == 0 &&
	    json_int(r, "members", &a) == 0) {
		const char *made = json_str(r, "backup_created_at");

		snprintf(buf, n, "the backup of %s, %lld %s", made != NULL ? made : "?",
		    (long long)a, progress_plural(a, "member", "members"));
	} else if (strcmp(type, task_type_name(TASKTYPE_ORPHANS)) == 0 &&
	    json_int(r, "removed_files", &a) == 0) {
		(void)json_int(r, "removed_bytes", &b);
		out_size(b, s1, sizeof s1);
		snprintf(buf, n, "removed %lld %s, %s", (long long)a,
		    progress_plural(a, "file", "files"), s1);
	} else
		return;
	start = out_parse_time(json_str(task, "started_at"));
	end = out_parse_time(json_str(task, "finished_at"));
	if (start >= 0 && end >= start) {
		time_format_duration(end - start, took, sizeof took);
		l = strlen(buf);
		snprintf(buf + l, n - l, " in %s", took);
	}
}
