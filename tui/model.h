/*
 * model.h: what the daemon said, kept for the console's views: tasks,
 * workers, reservations, schedules, status and repositories, and the rates
 * and why-a-task-waits the views show. Fed by events (hints, which
 * PUB may drop) and by re-reads (the truth). No curses and no sockets here,
 * so the unit tests drive it with JSON alone.
 */
#ifndef DEPOT_TUI_MODEL_H
#define DEPOT_TUI_MODEL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "rate.h"
#include "vocab.h"

/* A full re-read at least this often, in case events were dropped. */
#define MODEL_RESYNC_MS		5000
/* A drain this large may have overflowed PUB's queue (16 by default). */
#define MODEL_BURST_EVENTS	16
/* Re-reads asked for by bursts come no closer together than this (a busy daemon is not flooded). */
#define MODEL_RESYNC_MIN_MS	2000
/* Finished tasks kept between re-reads; the oldest go first. */
#define MODEL_KEEP_FINAL	2000
/*
 * How many tasks a re-read asks for: the active ones (more are counted from
 * status but not listed: a console must not cost a daemon with 100,000
 * waiting tasks a huge answer every few seconds), recent and failed ones.
 */
#define MODEL_ACTIVE_LIMIT	5000
#define MODEL_RECENT_LIMIT	300
#define MODEL_FAILED_LIMIT	300

/* The default filter also lists tasks that ended this recently (the demo's sync and publish). */
#define MODEL_RECENT_MS		(5 * 60 * 1000)

/* A task's state this console does not know (a newer daemon's): shown as "?". */
#define MODEL_STATE_UNKNOWN TASK_STATE_COUNT

enum model_filter {
	MODEL_FILTER_ACTIVE,	/* waiting, running, canceling; and ended within recent_ms */
	MODEL_FILTER_FAILED,	/* failed */
	MODEL_FILTER_ALL,
	MODEL_FILTER_COUNT,
};

/* The tasks pane's order: the queue's (running, waiting in order, ended newest first), or a column's. */
enum model_sort {
	MODEL_SORT_QUEUE,
	MODEL_SORT_ID,
	MODEL_SORT_STATE,
	MODEL_SORT_TYPE,
	MODEL_SORT_NAME,
	MODEL_SORT_RES,
	MODEL_SORT_WORKER,
	MODEL_SORT_AGE,
	MODEL_SORT_PROGRESS,
	MODEL_SORT_COUNT,
};

/* Which tasks the tasks pane lists, and in what order. */
struct model_rows_spec {
	enum model_filter filter;
	int64_t recent_ms;		/* MODEL_FILTER_ACTIVE keeps tasks ended this recently; 0: none */
	int64_t now;			/* wall clock ms, for recent_ms */
	const char *query;		/* search text, or NULL */
	enum model_sort sort;
	int reverse;
};

struct model_task {
	int64_t id;
	enum task_state state;		/* MODEL_STATE_UNKNOWN when not known */
	char *type, *name, *worker;	/* worker NULL when none */
	char **res;			/* resource names */
	unsigned char *res_mode;	/* each reservation's enum lock_mode */
	size_t nres;
	char *res_text;			/* "repository:fedora, host:db1 (shared)" */
	int64_t created_ms, started_ms, finished_ms;	/* 0 when not set */
	int has_done, has_total;
	int64_t done, total;
	char *unit, *pmessage;
	int stalled;
	char *err_reason, *err_message;
	char *schedule;
	cJSON *json;			/* the whole task as last received */
};

struct model_worker {
	char *name, *state;
	int64_t pid, task;		/* task 0 when idle */
	int supervised;
	int64_t started_ms, heartbeat_ms;
};

struct model_holder {
	int64_t task;
	enum lock_mode mode;
};

struct model_lock {
	char *resource;
	int paused;			/* depotctl pause RESOURCE */
	int64_t capacity;		/* slots, 0 when not set */
	struct model_holder *holders, *waiting;
	size_t nholders, nwaiting;
};

struct model_schedule {
	char *name;
	int64_t every_ms;
	int enabled;
	char *what;			/* "sync fedora", "run: sleep 5" */
	char *calendar;			/* "Mon..Fri 02:00 Europe/Berlin" for a calendar schedule, else NULL */
	int64_t next_ms, last_ms;
	int64_t last_task;
	char *last_state;
	int64_t skipped;
};

struct model_status {
	int known;
	int queue_known;		/* the daemon says whether its queue is paused */
	int queue_paused;		/* the whole queue: no new task starts */
	char *paused_resources;		/* "host:db1, backup" or "" */
	char *version, *data_dir, *problems;
	int64_t pid;
	int64_t uptime_ms, uptime_at;	/* uptime as of uptime_at (monotonic ms) */
	int healthy, stopping;
	int64_t locks_held, locks_waiting, locks_running;
};

/* Samples of a running task's progress, to tell its rate. */
struct model_rate {
	int64_t task;
	struct rate r;			/* at: monotonic ms */
};

/* A repository (repo.list) and its last sync and publish (task.list of its resource). */
struct model_repo {
	char *name;
	int64_t latest;			/* latest version, 0 when none */
	int64_t files, size;
	int64_t published;		/* published version, 0 when none */
	int64_t published_ms;
	int tasks_known;		/* its tasks were read */
	int64_t sync_id;		/* 0: no sync among its recent tasks */
	enum task_state sync_state;
	int64_t sync_ms;		/* ended, else started, else submitted */
	char *sync_reason, *sync_message;
	char *sync_progress;		/* "120/300 files" while it runs */
	int64_t publish_id;
	enum task_state publish_state;
};

/* What task.why said of one waiting task. */
struct model_why {
	int64_t task;			/* 0: nothing asked */
	int known;			/* an answer came */
	int waiting;
	char **msgs;			/* the reasons' messages, in the daemon's order */
	size_t n;
	char err[256];			/* the refusal, when the daemon did not answer it */
	int64_t at;			/* monotonic ms of the request */
	enum task_state state_at;	/* the task's state when asked */
	unsigned long generation;
};

struct model {
	struct model_task **tasks;	/* sorted by id */
	size_t ntasks, cap;
	size_t nfinal;			/* how many of them are final */
	int tasks_truncated;		/* the last re-read hit MODEL_ACTIVE_LIMIT */
	struct model_worker *workers;
	size_t nworkers;
	struct model_lock *locks;	/* sorted by resource */
	size_t nlocks;
	struct model_schedule *scheds;
	size_t nscheds;
	struct model_status status;
	struct model_rate *rates;	/* of running tasks */
	size_t nrates;
	struct model_repo *repos;	/* by name */
	size_t nrepos;
	int repos_known;

	int up, ever_up;		/* the daemon answers; it ever did */
	int refused;			/* it answers, but refuses this user */
	int64_t down_since;		/* monotonic ms */
	char down_reason[256];
	int resync_pending;		/* events may have been dropped */
	int64_t last_resync;		/* monotonic ms of the last full re-read */
	unsigned long generation;	/* bumped by every change, for redraws */
	unsigned long events, resyncs, ignored;
};

/* One full re-read, each part a borrowed reply result (NULL: not read). */
struct model_snapshot {
	const cJSON *status, *workers, *active, *recent, *failed, *locks, *schedules;
};

struct model_counts {
	size_t workers_online, workers_total;
	size_t running, waiting, canceling, stalled;
	size_t held, held_resources;	/* reservations held, besides the implicit shared `depot` */
	size_t waiters;			/* tasks waiting for a reservation */
};

/* model.c */
void model_init(struct model *m);
void model_free(struct model *m);
int model_apply_message(struct model *m, const char *msg, size_t len);
int model_apply_event(struct model *m, const cJSON *ev);
void model_note_drain(struct model *m, size_t count);
void model_apply_snapshot(struct model *m, const struct model_snapshot *s, int64_t now);
int model_upsert_task(struct model *m, const cJSON *task);
void model_set_workers(struct model *m, const cJSON *arr);
void model_set_locks(struct model *m, const cJSON *arr);
void model_set_schedules(struct model *m, const cJSON *arr);
void model_set_status(struct model *m, const cJSON *status, int64_t now);
void model_set_down(struct model *m, const char *reason, int64_t now);
void model_set_refused(struct model *m, const char *reason, int64_t now);
void model_set_up(struct model *m, int64_t now);
int model_resync_due(const struct model *m, int64_t now);
struct model_task *model_task(const struct model *m, int64_t id);
struct model_worker *model_worker(const struct model *m, const char *name);
void model_counts(const struct model *m, struct model_counts *c);
size_t model_task_rows(const struct model *m, const struct model_rows_spec *spec,
    struct model_task ***rows);
int model_task_matches(const struct model_task *t, const char *query);
int model_filter_has(enum model_filter f, enum task_state s);
int model_filter_task(enum model_filter f, const struct model_task *t, int64_t recent_ms,
    int64_t now);
const char *model_filter_name(enum model_filter f);
void model_filter_label(enum model_filter f, int64_t recent_ms, char *out, size_t n);
const char *model_sort_name(enum model_sort s);
/* s's state (s may be NULL), or MODEL_STATE_UNKNOWN. */
enum task_state model_state_parse(const char *s);
int64_t model_uptime(const struct model *m, int64_t now);

/* model_rate.c */
void model_rate_sample(struct model *m, int64_t now);
double model_task_rate(const struct model *m, int64_t id);
int64_t model_task_eta(const struct model *m, const struct model_task *t);
void model_fmt_rate(double per_sec, const char *unit, char *out, size_t n);
void model_fmt_rate_eta(const struct model *m, const struct model_task *t, char *out, size_t n);
void model_rates_free(struct model *m);

/* model_repos.c */
void model_set_repos(struct model *m, const cJSON *arr);
void model_set_repo_tasks(struct model *m, const char *name, const cJSON *tasks);
struct model_repo *model_repo(const struct model *m, const char *name);
void model_repos_free(struct model *m);

/* model_why.c */
void model_why_init(struct model_why *w);
void model_why_free(struct model_why *w);
void model_why_apply(struct model_why *w, int64_t task, enum task_state state, const cJSON *result,
    int64_t now);
void model_why_fail(struct model_why *w, int64_t task, enum task_state state, const char *err,
    int64_t now);

/* model_format.c */
void model_fmt_age(int64_t ms, char *out, size_t n);
void model_fmt_size(int64_t bytes, char *out, size_t n);
void model_fmt_progress(const struct model_task *t, char *out, size_t n);
int model_progress_fraction(const struct model_task *t, double *f);
int64_t model_task_age(const struct model_task *t, int64_t now_ms);
void model_fmt_clock(int64_t ms, int with_date, char *out, size_t n);
int model_text_width(const char *s, int utf8);
int model_text_fit(const char *s, int width, int utf8, char *out, size_t n);
size_t model_text_prefix(const char *s, int width, int utf8);
void model_text_clean(char *s);

/* model_log.c */
#define MODEL_LOG_LINES		500	/* lines of a task's log kept */
#define MODEL_LOG_TAIL		16384	/* bytes read back when opening a long log */
#define MODEL_LOG_CHUNK		65536	/* bytes asked for at a time */

struct model_log {
	int64_t task;
	int64_t offset;		/* next byte to ask for; -1 before the first read */
	int64_t size;		/* the log's size at the last read */
	int skip_partial;	/* drop text up to the first newline (read started mid-line) */
	int final;		/* the task is final and everything was read */
	int64_t skipped;	/* bytes jumped over to keep up */
	char *lines[MODEL_LOG_LINES];	/* ring of complete lines */
	size_t first, count;
	char *partial;		/* the last line, not yet ended */
	unsigned long generation;
};

void model_log_init(struct model_log *l, int64_t task);
void model_log_free(struct model_log *l);
void model_log_request(const struct model_log *l, int64_t *offset, int64_t *max);
int model_log_apply(struct model_log *l, const cJSON *result);
size_t model_log_count(const struct model_log *l);
const char *model_log_line(const struct model_log *l, size_t i);

#endif
