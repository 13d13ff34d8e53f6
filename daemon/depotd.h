/* depotd.h: the daemon's shared types and every module's prototypes, by file. */
#ifndef DEPOT_DEPOTD_H
#define DEPOT_DEPOTD_H

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "fsutil.h"
#include "lockmgr.h"
#include "proto.h"
#include "vocab.h"

struct conn;
struct request;
struct server;
struct store;
struct task_type;
struct worker_shared;

/*
 * The content store as a resource: a backup reserves it shared, orphan
 * cleanup exclusive, so nothing a backup's snapshot references is deleted
 * under it (DESIGN §5, §9).
 */
#define CONTENT_RESOURCE "content"
/* What the daemon names a backup written without -o: DIR/backups/depot-TIME…; stale ones of these it removes. */
#define BACKUP_DEFAULT_PREFIX "depot-"
/* Held exclusive by a backup: one at a time. */
#define BACKUP_RESOURCE "backup"

enum worker_state { WORKER_ONLINE, WORKER_MISSING, WORKER_STOPPED };

struct task_res {
	char *name;
	enum lock_mode mode;
};

/*
 * All of a task that dispatch does not need: read back from the database
 * on demand (task_detail), and held in memory only while it is needed — a
 * task being submitted, one that runs, one read back whole (DESIGN §6).
 */
struct task_detail {
	char *name;
	cJSON *args;
	/*
	 * args as the row holds them (store_load_task), when that text is the
	 * same object as args and UTF-8: an assignment carries it as it is,
	 * rather than a copy of args printed again (issue 14); else NULL.
	 */
	char *args_text;
	int64_t env_id;				/* its environment's row (store_env_text), or 0: none, or in args */
	char *schedule;				/* the schedule that made it, or NULL */
	int64_t retry_of;			/* the attempt it retries, or 0 */
	int64_t restart_of;			/* the task `task restart` copied, or 0 */
	char worker[DEPOT_WORKER_NAME_MAX + 1];
	int64_t started_at;			/* wall ms; 0 = null */
	int64_t timeout_ms;			/* 0 = none */
	int64_t progress_done, progress_total;	/* total < 0: unknown */
	char *progress_unit, *progress_message;
	int64_t started_mono, progress_mono;	/* for timeout and stall */
	int64_t progress_saved_mono;		/* when its row last took the progress */
	int progress_unsaved;			/* memory's progress is newer than the row's */
	int stalled;
	pid_t pgid;				/* exec task's process group, once verified */
	uint64_t pgid_start;			/* its leader's start time (fence.c) */
	pid_t worker_pid;			/* the worker it was given to, and that */
	uint64_t worker_start;			/* worker's start time (fence.c) */
	int fence_pending;			/* processes of it survived the fence: hold its reservations */
	int fenced;				/* its worker could not end it: what it left in tmp/ goes */
	int recording;				/* its worker is done; depotd completes it: recorder.c
						 * records its version, restore_tick swaps its data in */
	/* Why a canceling task is being stopped, and what it will end as. */
	char *cancel_reason, *cancel_message;
	enum task_state cancel_final;
	int64_t canceling_mono;
	/* Final tasks read back from the database. */
	int64_t finished_at;
	cJSON *error, *result;
};

/*
 * A task not yet final; final tasks live only in the database. What
 * dispatch needs stays here; the rest is d, which a waiting task may lack
 * (NULL: read it with task_detail). Every task that is not waiting has it.
 */
struct task {
	int64_t id;
	struct task *next_in_hash;
	const char *type;			/* as stored: a name tasktypes.def may not know */
	const struct task_type *tt;		/* its entry (tasktype.c); NULL when unknown */
	struct task_res *res;
	struct task_detail *d;
	int64_t after;				/* runs only after this task completed, or 0 */
	int64_t not_before;			/* wall ms; 0 = now (a retry's back-off, --at) */
	int64_t created_at;			/* wall ms */
	/* Held tasks are indexed (tasks.c): admitting one never scans the others. */
	int64_t *dependents;			/* held tasks waiting for this one to end */
	uint32_t ndependents;			/* room for 4, doubled at each power of two after (tasks.c) */
	uint32_t nres;
	int priority;				/* higher goes first in each resource's queue */
	int retries;				/* attempts left after this one */
	enum task_state state;
	unsigned queued : 1;			/* in the lock manager's queues */
	unsigned requeued : 1;			/* granted, its assignment lost: goes first */
	unsigned in_backoff : 1;		/* in the back-off heap */
	unsigned held : 1;			/* in the dependents list of its after task */
	unsigned type_static : 1;		/* type is tasktypes.def's string, not ours to free */
	unsigned res_interned : 1;		/* res names are task_intern's (tasks.c) */
};

struct worker {
	char name[DEPOT_WORKER_NAME_MAX + 1];
	pid_t pid;
	uint64_t pid_start;			/* pid's start (fence.c), read once per hello; 0 until read */
	int supervised;
	enum worker_state state;
	int64_t started_at, last_heartbeat;	/* wall ms */
	int64_t last_heartbeat_mono;
	int64_t task;				/* 0 = idle */
	struct conn *poll;			/* parked `next` request, if any */
	int64_t poll_deadline_mono;
	uint32_t next_pipe;			/* the connection its last next came on */
	int64_t acked;				/* the last task it acknowledged */
	int64_t lease_deadline_mono;		/* task goes back to its queues if not acked by then */
	int64_t hb_told_ms;			/* the heartbeat interval it was last told (a reload may change it) */
	int64_t env_kept;			/* the environment (env_id) it said it keeps, in its last next */
	struct worker *next;
};

/* The daemon's whole state, owned by the main thread. */
struct depotd {
	char dir[4096];
	struct fs_root data;			/* dir, opened once: use daemon_data() */
	char publish_dir[4096];			/* [publish] dir, or DIR/publish */
	mode_t task_umask;			/* depotd's umask at start, for exec tasks */
	struct depot_config cfg;
	struct store *store;
	struct lockmgr *locks;
	struct server *control, *workersrv;
	nng_socket events;
	int events_open;
	struct task **task_hash;		/* active tasks by id */
	size_t task_hash_size, ntasks;
	struct worker *workers;
	struct waiter *waiters;
	pid_t pid;
	int64_t started_at, started_mono;
	/*
	 * Whose environment ids a worker's claim (next's env_id) is about: new
	 * at each start and each restore, whose database numbers its own rows,
	 * so that a worker that outlived either is sent its task's env again.
	 */
	int64_t env_epoch;
	int64_t last_check;			/* wall ms of the monitor's last pass */
	int64_t sched_last_tick, sched_next_due;	/* wall ms; 0 = none */
	int stopping;				/* SIGTERM seen: dispatch nothing more */
	int queue_paused;			/* queue.pause: start no new task (queue.c) */
	int64_t stop_deadline_mono;
	char self_exe[4096];
	struct slot *slots;			/* supervised worker slots */
	int nslots;
	gid_t socket_gid;
	int have_socket_gid;
};

extern struct depotd *D;

/* main.c */
int daemon_main(const char *dir, const struct depot_config *cfg);

/* datadir.c */
/*
 * The data directory for the *_beneath calls; opened again (and made
 * private again) when a restore swapped another one in: call it right after
 * such a swap.
 */
const struct fs_root *daemon_data(void);
/* DIR 0700, or 0710 group socket_group: what its members need to reach run/, no more. */
void datadir_secure(void);
/* The directory open as fd gets exactly mode and, unless gid is -1, group gid; failures are logged. */
void datadir_set_mode(int fd, const char *path, mode_t mode, gid_t gid);
/* Removes what task left in tmp/ (a worker killed mid-task cannot): every temp is named KIND-ID…. */
void datadir_remove_task_temps(int64_t task);

/* loop.c */
struct loop_watch;
/* Called with the epoll events that came, or 0 when kicked (loop_watch_kick). */
typedef void (*loop_watch_fn)(struct loop_watch *w, uint32_t events);
/* A file descriptor the main loop waits on; embedded in its owner. */
struct loop_watch {
	int fd;
	uint32_t events;
	loop_watch_fn fn;
	int kicked;
	struct loop_watch *next_kicked;
};
int loop_init(void);
int loop_watch_add(struct loop_watch *w, int fd, uint32_t events, loop_watch_fn fn);
/* Changes what w waits for; nothing when it is the same. */
void loop_watch_set(struct loop_watch *w, uint32_t events);
/* Calls w at the next turn, which then does not wait: for work its owner left for later. */
void loop_watch_kick(struct loop_watch *w);
/* Before its fd is closed. */
void loop_watch_del(struct loop_watch *w);
/* Waits up to timeout_ms for requests or signals; handles what came. */
void loop_run_once(int timeout_ms);
void loop_fini(void);

/* server.c */
/* Who is on the other end of a request, from the socket's credentials. */
struct peer {
	uint64_t uid, gid;	/* UINT64_MAX when unknown */
	pid_t pid;		/* the process that connected; 0 when unknown */
	uint32_t pipe_id;
	int owner;		/* its uid is the daemon's own or root's: may do everything */
};
typedef void (*server_handler)(struct conn *conn, const struct peer *peer, cJSON *req);
/* Parked requests per uid are capped at park_cap (0: no cap). */
struct server *server_open(const char *url, int mode, size_t max_message,
    int park_cap, server_handler handler, char *err, size_t errlen);
void server_close(struct server *srv);
/* A reload's parked_requests_per_peer: requests parked already stay. */
void server_set_park_cap(struct server *srv, int park_cap);
/* Called each turn of the main loop: a listener that rested (no descriptors, too many clients) listens again. */
void server_tick(struct server *srv);
/*
 * Tells the owner of a parked request that its client has gone: it must
 * forget conn and not answer it (the server does, harmlessly).
 */
typedef void (*server_gone_fn)(struct conn *conn, void *arg);
/*
 * Before a handler keeps conn to answer later: 0, or -1 with err when its
 * client is over a cap or already gone; the handler then answers at once
 * (ERR_UNAVAILABLE). A parked request is released by its reply.
 */
int server_park(struct conn *conn, server_gone_fn gone, void *arg, char *err, size_t errlen);
int server_parked(const struct server *srv);
/* The pipe conn's request came on. */
uint32_t server_conn_pipe(const struct conn *conn);
/* fn hears of every pipe of srv that ends, after its parked requests went. */
void server_on_pipe_gone(struct server *srv, void (*fn)(uint32_t pipe_id));
void server_reply(struct conn *conn, cJSON *reply);
/*
 * Leaves conn's parked request unanswered for good: its client is known to
 * be gone. server_close frees its context.
 */
void server_forget(struct conn *conn);
void server_reply_ok(struct conn *conn, cJSON *result);
void server_reply_err(struct conn *conn, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, naming the entry of a list request the refusal is about (error.index). */
void server_reply_err_at(struct conn *conn, enum err_code code, int64_t index,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* store.c */
/* 1 while the WAL is large and its checkpoints have not caught up: a bulk writer waits a turn. */
int store_wal_behind(struct store *st);
int store_open(struct store **out, const char *path, int durability_full,
    char *err, size_t errlen);
/* depotd's own store: as store_open, and its write-ahead log checkpointed by a thread, never by a commit on the loop. */
int store_open_daemon(struct store **out, const char *path, int durability_full,
    char *err, size_t errlen);
/* Checkpoints that thread has run (tests). */
uint64_t store_checkpoints(struct store *st);
void store_close(struct store *st);
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/*
 * A batch: every write until store_batch_end goes in one transaction,
 * begun at the first write (none, none begun); store_begin, store_commit
 * and store_rollback inside it keep, undo or make a savepoint of their
 * own part. store_batch_end commits: 0, or -1 when nothing of the batch
 * could be kept (it is rolled back; the caller decides what that means).
 */
void store_batch_begin(struct store *st);
/* 1 while the batch has begun its transaction: something in it is not yet committed. */
int store_batch_pending(struct store *st);
int store_batch_end(struct store *st);
const char *store_errmsg(struct store *st);
/*
 * Records t as waiting and returns its id, or -1. An env in t's args goes
 * to the row of environments it shares with other tasks: it leaves args,
 * and t->d->env_id names that row.
 */
int64_t store_insert_task(struct store *st, struct task *t);
/*
 * The environment row id as JSON text (an object), or NULL when there is
 * none; valid until the next call (the last one is kept: a batch's tasks
 * share one).
 */
const char *store_env_text(struct store *st, int64_t id);
int store_update_task(struct store *st, const struct task *t);
/* The progress column alone: no index of the row is rewritten. */
int store_task_progress(struct store *st, const struct task *t);
/* progress NULL keeps the stored one: the end row is written once, with the last progress. */
int store_finish_task(struct store *st, int64_t id, enum task_state state,
    int64_t finished_at, const cJSON *result, const cJSON *error, const cJSON *progress);
int store_set_reservations(struct store *st, const struct task *t);
int store_interrupted(struct store *st, int64_t **ids, size_t *n);
int store_task_processes(struct store *st, int64_t id, const struct task *t);
int store_load_task_processes(struct store *st, struct task *t);
int store_move_dependents(struct store *st, int64_t old_id, int64_t new_id);
/*
 * Calls fn for each waiting task in id order: a fresh struct task each,
 * without its detail (what dispatch needs, no more).
 */
int store_load_waiting(struct store *st, void (*fn)(struct task *t));
/* Hands back to the system what the page cache and the allocator hold unused (after a bulk read). */
void store_release_memory(struct store *st);
/* Task JSON for one id from the database (final tasks), or NULL. */
cJSON *store_task_json(struct store *st, int64_t id);
struct task *store_load_task(struct store *st, int64_t id);
/*
 * Calls fn for at most limit tasks with ids below before, newest first (a
 * fresh struct task each, fn's to free); state may be NULL or TASK_FILTER_ACTIVE,
 * resource NULL. One cached statement a call. Returns the count, or -1.
 */
int store_list_tasks(struct store *st, const char *state, const char *resource,
    int64_t before, int limit, void (*fn)(struct task *t, void *arg), void *arg);
/*
 * PRAGMA quick_check of the database file at path, on a read-only
 * connection of its own (any thread); 0 when it says ok, else -1 with its
 * first complaint or why it could not run in msg. Ends early, as a
 * failure, once *stop is set.
 */
int store_check_file(const char *path, const int *stop, char *msg, size_t msglen);

/* tasks.c */
struct task *task_find(int64_t id);
void task_insert(struct task *t);
/* A zeroed task with a zeroed detail, or NULL when out of memory. */
struct task *task_new(void);
void task_free(struct task *t);
/*
 * t's detail, read back from the database when t lacks it (it is kept);
 * NULL when its row is gone or unreadable.
 */
struct task_detail *task_detail(struct task *t);
/* A waiting task drops its detail and shares its names: what 100,000 of them cost (tasks.c). */
void task_shed(struct task *t);
/*
 * Resource names as waiting tasks hold them (res_interned): one copy of
 * each, counted. task_intern returns the shared copy of s (NULL when out
 * of memory); each is let go once by task_intern_release.
 */
const char *task_intern(const char *s);
void task_intern_release(const char *s);
/* A task whole: task.show, a submission's answer, a worker's assignment. */
cJSON *task_to_json(const struct task *t);
/* d's environment when its own row holds it (env_id), parsed: the caller's to free; else NULL. */
cJSON *task_env(const struct task_detail *d);
/*
 * A task as lists and events show it: its args without an exec task's env
 * (task.show has it); its detail taken from d (a row read back with it)
 * when t lacks one.
 */
cJSON *task_summary_json(const struct task *t, const struct task_detail *d);
cJSON *task_resources_json(const struct task *t);
cJSON *task_progress_json(const struct task_detail *d);
/* logs/ID.log: where task id's output goes, relative to the data directory. */
void task_log_path(int64_t id, char *out, size_t n);
/* Task JSON for any id, active or final; NULL if unknown. */
cJSON *task_json_by_id(int64_t id);
/*
 * Takes t (freed on failure); returns the new id, or -1. t may be final
 * already on return. With answer, answer(the task as stored, which it
 * takes, ctx) is called once t is committed, before it may start.
 */
int64_t task_submit(struct task *t, void (*answer)(cJSON *task, void *ctx), void *ctx,
    char *err, size_t errlen);
/*
 * Stores the n tasks of ts in one transaction and queues them in order;
 * their ids in ids. Takes every task, freeing all on failure (-1 with err:
 * nothing was stored).
 */
int tasks_submit_batch(struct task **ts, size_t n, int64_t *ids, char *err, size_t errlen);
/* The same, with also(new id, ctx) run in the transaction that stores it (-1 undoes both). */
int64_t task_submit_with(struct task *t, int (*also)(int64_t id, void *ctx), void *ctx,
    char *err, size_t errlen);
void task_finish(struct task *t, enum task_state state, cJSON *result,
    const char *reason, const char *message);
/* Cancels with reason; waiting tasks end at once, running ones go canceling. */
void task_cancel(struct task *t, const char *reason, const char *message,
    enum task_state final);
/*
 * A worker's progress report: taken into memory (and told), and stored
 * when it changed, at most once a heartbeat interval (the end, a cancel
 * and a requeue store the newest with the row).
 */
void task_set_progress(struct task *t, const cJSON *progress);
/*
 * The same in two steps, for a report a write of the task's row follows
 * anyway (done: its end row carries the progress): take puts it in memory
 * (d->progress_unsaved until the row has it), store writes the row.
 */
void task_take_progress(struct task *t, const cJSON *progress);
void task_store_progress(struct task *t);
void task_restore_waiting(struct task *t);
void tasks_admit_restored(void);
/* Ends the tasks a stop or crash interrupted; returns how many, or -1. */
int tasks_recover(void);
/*
 * Once per loop turn: what follows from the tasks that ended (retries,
 * dependents, waiters), then held tasks whose back-off passed, then dispatch.
 */
void tasks_tick(void);
/* What follows from the tasks ended so far, now; never from inside a loop over tasks. */
void tasks_settle(void);
/* Whether a worker waits for a task now (task.why). */
int tasks_worker_idle(void);
void tasks_dispatch(void);
/*
 * t was interrupted (its worker lost or restarted, depotd stopping, a
 * restore): it ends as its pending cancel said, a user's or a timeout,
 * never retried; else canceled with reason.
 */
void task_end_interrupted(struct task *t, const char *reason, const char *message);
/*
 * A running task no worker acknowledged (it never started) goes back to
 * waiting, keeping its reservations, and is the next dispatched.
 */
void task_requeue(struct task *t);
void tasks_publish(const struct task *t, const char *event);
void tasks_foreach(void (*fn)(struct task *t, void *ctx), void *ctx);
void tasks_free_all(void);

/* control.c */
/* One handler per command of share/commands.def, in control.c or a control-*.c beside it. */
#define X(ident, wire, access, summary) void cmd_##ident(struct conn *conn, struct request *rq);
#include "commands.def"
#undef X
void control_handle(struct conn *conn, const struct peer *peer, cJSON *req);
/*
 * Submits t (validate_submit's, taken) as task.submit does: checked
 * against the daemon's state (its repository, its --after task), then
 * queued; replies with the new task, or the refusal prefixed "refused: "
 * when refused is not NULL.
 */
void control_submit(struct conn *conn, struct task *t, const char *refused);

/*
 * Bytes of depot.db and its write-ahead log; of the content store, walked
 * on the loop when the last walk is older than max_age_ms (status: 10 s;
 * the metrics, rendered each second, 60 s).
 */
int64_t control_db_bytes(void);

/* metrics.c */
/* The metrics in Prometheus' text format (malloc'd, *len bytes), or NULL when out of memory. */
char *metrics_render(size_t *len);
/* Hooks of tasks.c: a task started on a worker (not a regrant), a task ended. */
void metrics_task_started(const struct task *t);
void metrics_task_finished(const struct task *t, enum task_state state, const cJSON *result);
/* Final tasks' rows went (task.remove, task.clean, a restore): counted again at the next render. */
void metrics_tasks_forgotten(void);
/* [metrics] listen: serve GET /metrics there ("" serves nothing). 0, or -1 with err. */
int metrics_listen(const char *addr, char *err, size_t errlen);
/* Each loop turn: renders the text the endpoint serves, once a second while it listens. */
void metrics_tick(void);
void metrics_stop(void);

/* store-metrics.c */
/* fn for each (type, final state) with its count of tasks. 0, or -1. */
int store_count_final_tasks(struct store *st,
    void (*fn)(const char *type, enum task_state state, int64_t n, void *arg), void *arg);
/* The newest completed backup's end (wall ms) and archive size: 1, 0 when there is none, -1. */
int store_last_good_backup(struct store *st, int64_t *finished_at, int64_t *size);

/* control-tasks.c */
/* Each loop turn: a few milliseconds of the task.remove and task.clean requests under way. */
void tasks_clean_tick(void);
/* When the next slice is due: -1 when none is under way, 0 for now. */
int tasks_clean_wait_ms(void);
/* Before the data directory is replaced (a restore): those requests end, answered with why. */
void tasks_clean_abort(const char *why);
/*
 * [tasks] keep_finished: the final tasks that finished before `before`
 * go as a task.clean's do, unless the last such pass is still going.
 */
void tasks_clean_expired(int64_t before);
void waiters_check(int64_t finished_id);
void waiters_tick(void);
void waiters_fail_all(void);

/* tasktype.c */
/*
 * A type of task (share/tasktypes.def) and everything the daemon and its
 * workers do differently for it, declared once as tmux declares a
 * cmd_entry per command. Its name is task_type_name(id). Each function
 * lives in its type's own file; a NULL one does nothing.
 */
struct task_type {
	enum task_type_id id;
	/* task.submit's args checked into a new task, or NULL with err (validate.c). */
	struct task *(*validate)(const struct task_type *tt, const cJSON *args,
	    char *err, size_t errlen);
	int needs_feed;			/* submitted only for a repository with a feed */
	int force_cancels;		/* with force, every unfinished task is canceled first */
	int with_umask;			/* its assignment carries depotd's umask at start */
	/* Adds to its assignment what its worker needs; -1 with err fails the task. */
	int (*prepare)(const struct task *t, cJSON *assignment, char *err, size_t errlen);
	/*
	 * What its completion changes in the daemon's records; -1 with err fails
	 * it instead; 1: it took result and ends t itself later (recorder.c).
	 */
	int (*done)(struct task *t, cJSON *result, char *err, size_t errlen);
	/* What the daemon releases once it ended, however it ended. */
	void (*ended)(const struct task *t, int completed);
	/* In its worker: runs it to its end, filling state (a final one). */
	void (*run)(struct worker_shared *ws, const cJSON *task, cJSON **result,
	    cJSON **error, enum task_state *state);
};
/* The entry of the type named name, or NULL when name (which may be NULL) names none. */
const struct task_type *tasktype_find(const char *name);
/* The entry of id, or NULL past TASKTYPE_COUNT. */
const struct task_type *tasktype_get(enum task_type_id id);
/* t's hooks, doing nothing for a type not known (t->tt NULL) or a hook it lacks. */
int tasktype_prepare(const struct task *t, cJSON *assignment, char *err, size_t errlen);
int tasktype_done(struct task *t, cJSON *result, char *err, size_t errlen);
void tasktype_ended(const struct task *t, int completed);

/* validate.c */
/*
 * A control request whose arguments have been checked: what its handler
 * reads, so that every refusal is decided before any state is touched.
 */
struct request {
	enum command cmd;		/* CMD_COUNT: unknown */
	const cJSON *args;		/* as sent; NULL when none */
	const char *name;		/* repository or schedule, repo_name_valid */
	const char *state, *resource;	/* task.list filters; NULL: any */
	int64_t id, limit, offset, max;
	int64_t cursor;			/* task.list: ids below it; INT64_MAX when not given */
	int64_t *ids;			/* task.cancel, task.wait, task.remove */
	size_t nids;
	int64_t timeout_ms;		/* task.wait; -1 when not given */
	const char *at;			/* schedule.add: first run, or NULL for one interval from now */
	int64_t every_ms, first_run;	/* schedule.add; first_run is 'at' parsed */
	int enabled;			/* schedule.set */
	int64_t before;			/* task.clean: finished before (wall ms); 0: any time */
	const cJSON *importer;		/* repo.create, repo.update: settings, checked */
	struct task *task;		/* task.submit: owned here until a handler takes it */
	struct task **batch;		/* task.submit_batch: the tasks, in order, owned here too */
	size_t nbatch;
	cJSON *batch_env;		/* the defaults' env, checked: the tasks' env refer to it */
	int64_t error_index;		/* the batch entry a refusal is about; -1: none */
	cJSON *tmpl;			/* schedule.add: the template to store, as checked */
	const char **resources;		/* queue.pause, queue.resume: names, checked */
	size_t nresources;
	int64_t capacity;		/* resource.set: 0 for the default */
	const char *calendar, *tz;	/* schedule.add: a calendar expression and its zone, checked; NULL when not given */
};
/*
 * Checks req, {"cmd": …, "args": {…}}, as its command expects. Returns 0,
 * or -1 with err; rq->cmd is known whenever the command is, even when its
 * arguments are bad. Touches no daemon state. Free with request_free.
 */
int validate_request(const cJSON *req, struct request *rq, char *err, size_t errlen);
void request_free(struct request *rq);
struct task *validate_submit(const cJSON *args, char *err, size_t errlen);
/* Each type's validate (struct task_type): exec; sync, publish and orphans; backup and restore. */
struct task *validate_exec_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen);
struct task *validate_repo_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen);
struct task *validate_snapshot_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen);
int validate_ids(const cJSON *args, const char *field, int64_t **ids,
    size_t *n, char *err, size_t errlen);
int validate_int(const cJSON *args, const char *field, int required,
    int64_t min, int64_t max, int64_t *out, char *err, size_t errlen);
int validate_string(const cJSON *args, const char *field, int required,
    size_t maxlen, const char **out, char *err, size_t errlen);
int validate_resource_name(const char *s);
int validate_worker_name(const char *s);
/* A variable name an exec task's env may hold: 1 to 1024 bytes, no '=' or control character. */
int validate_env_name(const char *name);
/* [tasks] env_deny for the submissions that follow (read at once: patterns need not outlive the call). */
void validate_set_env_deny(const char *patterns);
/* index: the task.submit_batch entry the bad text is in, or -1. */
int validate_utf8(const cJSON *req, int64_t *index, char *err, size_t errlen);

/* restore.c */
int snapshot_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen);
void snapshot_task_ended(const struct task *t, int completed);
struct backup_bases;
struct backup_limits;
struct backup_summary;
/*
 * A restore's one pass: the staging directories (pub_staging NULL or "" when
 * publish/ is DIR's own) made empty, the archive (with its chain's bases,
 * chain may be NULL) checked and extracted into them, and both removed
 * again if it is refused. 0, or -1 with err.
 */
int restore_extract(const char *archive, const char *staging, const char *pub_staging,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen);
void restore_staging_remove(const char *staging, const char *pub_staging);
/* A restore's done: its swap is due at the loop's next turn (restore_tick); returns 1. */
int restore_done(struct task *t, cJSON *result, char *err, size_t errlen);
void restore_tick(void);
int restore_offline(const char *archive, const char *const *bases, size_t nbases, const char *dir,
    const struct depot_config *cfg);
/* Finishes or undoes a swap a kill interrupted (DIR.swap), before anything opens dir; -1: do not start. */
int restore_recover(const char *dir);

/* backupcheck.c */
/*
 * depotd --verify: FILE (with an incremental's bases) read as a restore
 * would, with the limits and key of the data directory dir_opt resolves
 * to (the defaults and none when it does not), the outcome recorded beside
 * FILE, and one JSON object printed: backup verify --json's, and "key_read".
 * 0 when the archive may be restored, 1 when it is refused, 2 when nothing
 * could be said.
 */
int backupcheck_verify(const char *file, const char *const *bases, size_t nbases,
    const char *dir_opt);
/*
 * depotd --list-backups: the archives in dir as backup list --json gives
 * them, one JSON array; or {"error"} and 1 when dir cannot be read; 2 when
 * nothing could be said.
 */
int backupcheck_list(const char *dir);

/* backupprune.c */
/*
 * After a successful backup (in its worker): the archives of backups_dir
 * this depot wrote (a BACKUP.json first) are grouped in chains, a full and
 * the incrementals that name it, transitively (an incremental whose base
 * is gone stays in that base's chain); all but the newest keep chains go,
 * never the chain of the archive at just_written (NULL: none), nor a
 * format 1 archive, any other file, or anything through a link. Each name
 * removed is added to pruned (an array, or NULL). The count, or -1 with err.
 */
int backup_prune(const char *backups_dir, int keep, const char *just_written, cJSON *pruned,
    char *err, size_t errlen);

/* prerestore.c */
/* A DIR.pre-restore-STAMP[-N] directory: the data a restore replaced. */
struct prerestore_dir {
	char path[4300];
	size_t mark;			/* where ".pre-restore-" starts in path */
	char stamp[17];			/* YYYYMMDDTHHMMSSZ */
	long seq;			/* N, 0 when absent */
	int64_t made_at;		/* the stamp, wall ms */
	dev_t dev;
	ino_t ino;
};
/*
 * base's pre-restore directories (base a data directory, or a [publish]
 * dir outside one), oldest first; links and other files are not. 0, or -1
 * with errno. Free *out.
 */
int prerestore_list(const char *base, struct prerestore_dir **out, size_t *n);
/*
 * All but the newest keep of them go: each is first renamed out of the
 * pre-restore names (BASE.pruning-pre-restore-…), so that a kill never
 * leaves a half-removed one that looks whole. _prune removes them now
 * (depotd --restore); _prune_later leaves that to the thread, off the loop.
 * Failures are logged; _prune returns -1 after one.
 */
int prerestore_prune(const char *base, int keep);
void prerestore_prune_later(const char *base, int keep);
/* At start: what a stopped prune left beside base goes, by the thread. */
void prerestore_resume(const char *base);
/*
 * For status: [{"path", "made_at", "bytes"}] of the data directory's and
 * the outside publish dir's, bytes null until the thread has measured the
 * directory (once: nothing writes there).
 */
cJSON *prerestore_status_json(void);
/* Stops the thread (a walk stops at its next file) and frees what it kept. */
void prerestore_stop(void);

/* refresh.c */
/*
 * One measurement kept for the loop and made again, on a thread of its
 * own, when a caller finds it old. measure fills result (size bytes) and
 * returns 0, or says why in the log and returns -1 (the last one stays);
 * it should end soon once *stop is set. Define one with REFRESH_INIT.
 */
struct refresh {
	const char *what;			/* for the log: "the content store's bytes" */
	int (*measure)(void *result, const int *stop);
	void *result;				/* the last one, size bytes */
	size_t size;
	int spacing;				/* none sooner than this many times the last one's length; 0: no such rule */
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	pthread_t thread;
	int started, stop, wanted, running, waited;
	int64_t at, wall_at, took_ms;		/* mono and wall ms the last one ended (0 before), its length */
};
#define REFRESH_INIT(what_, measure_, result_, spacing_) {				\
	.what = (what_), .measure = (measure_), .result = (result_),			\
	.size = sizeof *(result_), .spacing = (spacing_),					\
	.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,		\
	.done = PTHREAD_COND_INITIALIZER }
/*
 * Copies the last result into out and returns the wall ms it was made,
 * or 0 when there is none yet. One older than max_age_ms (or none) asks
 * the thread for a new one; the very first call waits up to 200 ms for
 * it, later ones never wait.
 */
int64_t refresh_get(struct refresh *r, int64_t max_age_ms, void *out);
/* Stops its thread; a measurement that does not stop within 2 s is left behind. */
void refresh_stop(struct refresh *r);

/* contentsize.c */
/* The bytes in content/ as last counted, -1 before the first count (refresh_get's rules). */
int64_t contentsize_bytes(int64_t max_age_ms);
void contentsize_stop(void);

/* dbhealth.c */
struct db_health {
	int ok;
	char message[512];			/* quick_check's first complaint, or why it could not run */
};
/* The last check of depot.db (refresh_get's rules): its wall ms, 0 before the first. */
int64_t dbhealth_get(int64_t max_age_ms, struct db_health *out);
void dbhealth_stop(void);

/* store-snapshot.c: a backup's copy of the database, read and written by its worker alone. */
struct snapshot;
typedef int (*snapshot_content_fn)(void *ctx, const char *sha);
typedef int (*snapshot_publication_fn)(void *ctx, const char *repo, int64_t version);
typedef int (*snapshot_file_fn)(void *ctx, const char *path, const char *sha, int64_t size);
typedef int (*snapshot_task_fn)(void *ctx, int64_t id);
int snapshot_open(struct snapshot **out, const char *path, char *err, size_t errlen);
void snapshot_close(struct snapshot *s);
int snapshot_complete_task(struct snapshot *s, int64_t id, int64_t finished_at,
    const cJSON *result, char *err, size_t errlen);
int snapshot_last_backup(struct snapshot *s, int64_t self, cJSON **result, char *err,
    size_t errlen);
/* Each call runs each per row, in order, and stops at the first that returns -1 (then -1). */
/* Every sha256 a complete version references, ascending. */
int snapshot_content(struct snapshot *s, snapshot_content_fn each, void *ctx, char *err,
    size_t errlen);
/* Every repository's publication (a complete version), by name. */
int snapshot_publications(struct snapshot *s, snapshot_publication_fn each, void *ctx,
    char *err, size_t errlen);
/* Every task's id, ascending. */
int snapshot_tasks(struct snapshot *s, snapshot_task_fn each, void *ctx, char *err,
    size_t errlen);
/* A version's files, by path. */
int snapshot_version_files(struct snapshot *s, const char *repo, int64_t number,
    snapshot_file_fn each, void *ctx, char *err, size_t errlen);

/* store-restore.c */
/* A consistent copy of the whole database in the file to (one file, mode 0600); -1 with err. */
int store_copy_file(const char *from, const char *to, char *err, size_t errlen);
/* The highest task id ever handed out, or 0; _at reads the database file at path, if any. */
int64_t store_max_task_id(struct store *st);
int64_t store_max_task_id_at(const char *path);
/*
 * In a restored database, inside the caller's transaction: every task not
 * final ends canceled (restored) at now, no reservation is left, and with
 * disable_schedules no schedule runs by itself. 0, or -1.
 */
int store_settle_restored(struct store *st, int64_t now, int disable_schedules);
/* Task ids handed out from now on are above floor. 0, or -1; _at, on the database file at path, with err. */
int store_keep_ids_above(struct store *st, int64_t floor);
int store_keep_ids_above_at(const char *path, int64_t floor, char *err, size_t errlen);
/* Task from becomes task to. 0, or -1. */
int store_renumber_task(struct store *st, int64_t from, int64_t to);
/*
 * Gives the task from, when there is one, the id above every task's (and
 * the sequence's), and every row that names it that id too; returns it,
 * 0 when there is no such task, -1 on failure.
 */
int64_t store_move_task(struct store *st, int64_t from);

/* sched.c */
cJSON *sched_json(const char *name);
cJSON *sched_list_json(void);
int sched_add(const char *name, const cJSON *tmpl, int64_t every_ms, const char *calendar,
    const char *tz, int64_t first_run);
/*
 * schedule.run: submits schedule name's task now and records it as its last
 * task (next_run unchanged). The task's id, or -1 with *code (ERR_NOT_FOUND,
 * ERR_CONFLICT while its last task is unfinished, ERR_BAD_REQUEST, ERR_INTERNAL)
 * and err.
 */
int64_t sched_run_now(const char *name, int *code, char *err, size_t errlen);
int sched_delete(const char *name);
int sched_set_enabled(const char *name, int enabled);
void sched_tick(void);
/* Inside the caller's transaction; -1 on failure. */
int sched_task_retried(int64_t old_id, int64_t new_id);

/* store-queue.c */
/*
 * The queue's pause into *queue_paused, and fn for each resource with a
 * stored rule (capacity 0: none set). 0, or -1.
 */
int store_queue_rules(struct store *st, int *queue_paused,
    void (*fn)(const char *name, int capacity, int paused, void *arg), void *arg);
int store_queue_set_paused(struct store *st, int paused);
/* A resource's rules as an administrator set them; capacity 0: none set. 0, or -1. */
int store_resource_set_capacity(struct store *st, const char *name, int capacity);
int store_resource_set_paused(struct store *st, const char *name, int paused);

/* queue.c */
/*
 * Applies the stored rules and depot.conf's [resources] to a new lock
 * manager (at start, after a restore). 0, or -1 with err.
 */
int queue_rules_load(char *err, size_t errlen);
/*
 * A reload's [resources] (old: the capacities until now): each resource
 * gets its new capacity, or the default when the file no longer names it,
 * unless an administrator's resource set holds it. 0, or -1 with err.
 */
int queue_config_reapply(const struct depot_config *old, char *err, size_t errlen);
/* Pauses or resumes the whole queue (n == 0) or the named resources, stored first. */
int queue_set_paused(const char *const *resources, size_t n, int paused, char *err, size_t errlen);
/* A resource's capacity as an administrator set it; 0 goes back to depot.conf's, or the default. */
int queue_set_capacity(const char *resource, int capacity, char *err, size_t errlen);
/* {"paused": bool, "paused_resources": [R…]} */
cJSON *queue_pause_json(void);
/* resource.list's reply. */
cJSON *queue_resources_json(void);

/* store-sched.c */
/* A schedule as stored. 0 is null; the strings last the call. */
struct schedule_row {
	const char *name;
	const char *tmpl;		/* its task template, as JSON text */
	int64_t every_ms, next_run, created_at, last_run, last_task, skipped, last_skipped;
	int enabled;
	const char *calendar, *tz;	/* a calendar schedule's expression and zone (NULL: local); NULL for --every */
};
/* Calls fn for schedule name, or (name NULL) for each by name; 0, or -1. */
int store_schedules(struct store *st, const char *name,
    void (*fn)(const struct schedule_row *r, void *arg), void *arg);
/* Calls fn for at most limit enabled schedules due at now, soonest first; 0, or -1. */
int store_schedules_due(struct store *st, int64_t now, int limit,
    void (*fn)(const struct schedule_row *r, void *arg), void *arg);
/* When the next enabled schedule is due: 1 with *next, 0 when none is enabled, -1. */
int store_schedules_next_due(struct store *st, int64_t *next);
/* Exactly one of every_ms and calendar (then every_ms is ignored); tz only with calendar, may be NULL. */
int store_schedule_add(struct store *st, const char *name, const cJSON *tmpl,
    int64_t every_ms, const char *calendar, const char *tz, int64_t first_run,
    int64_t created_at);
/* These two return the rows changed (0: no such schedule), or -1. */
int store_schedule_delete(struct store *st, const char *name);
int store_schedule_enable(struct store *st, const char *name, int enabled);
/* A run: task submitted at now, the next one at next. */
int store_schedule_fired(struct store *st, const char *name, int64_t next, int64_t now,
    int64_t task);
int store_schedule_skipped(struct store *st, const char *name, int64_t next, int64_t now);
/* The schedules whose last task was old_task now wait for new_task: the rows changed, or -1. */
int store_schedule_retried(struct store *st, int64_t old_task, int64_t new_task);

/* repos.c */
int repo_name_valid(const char *s);
/* Checks importer settings to change (an object, or NULL/null for none) without applying them. */
int repo_importer_check(const cJSON *changes, char *err, size_t errlen);
int repo_importer_apply(cJSON *importer, const cJSON *changes, char *err, size_t errlen);
cJSON *repo_importer(const char *name);
/*
 * Whether a sync or publish t can run: 0 (also when t names no repository),
 * or -1 with err and *code ERR_NOT_FOUND when its repository does not
 * exist, ERR_BAD_REQUEST when a sync's has no feed.
 */
int repo_task_check(const struct task *t, int *code, char *err, size_t errlen);
cJSON *repo_json(const char *name, int with_versions);
cJSON *repo_list_json(void);
int repo_create(const char *name, const cJSON *importer);
int repo_update(const char *name, const cJSON *importer);
int repo_delete(const char *name);
int repos_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen);
int repos_sync_done(struct task *t, cJSON *result, char *err, size_t errlen);
void repos_list_path(const struct task *t, char *out, size_t n);
/* Opens a task's list path beneath the data directory, as fopen would with "r" or "wx". */
FILE *repos_list_open(const char *path, int write, char *err, size_t errlen);
int repos_publish_done(const struct task *t, const cJSON *result);
void repos_task_ended(const struct task *t, int completed);

/* store-clean.c */
/* The newest completed backup an incremental builds on: its id, 0 when there is none, -1. */
int64_t store_last_backup(struct store *st);
/*
 * Whether final task id must stay (an unfinished task runs after it, a
 * schedule names it as its last, it is last_backup): 1 with why, 0, or -1.
 */
int store_task_kept(struct store *st, int64_t id, int64_t last_backup, char *why, size_t n);
/* Forgets tasks ids (their rows, reservations, processes) inside the caller's transaction: 0, or -1. */
int store_forget_tasks(struct store *st, const int64_t *ids, size_t n);
/* What task.clean removes: final tasks with from < id <= to, of state (NULL: any), finished before before (0: any). */
struct clean_filter {
	const char *state;
	int64_t before, from, to, last_backup;
};
/* At most max ids of f's tasks that nothing keeps (store_task_kept), in id order: their count, or -1. */
int store_clean_select(struct store *st, const struct clean_filter *f, int64_t *ids, int max);
/*
 * For f with a before (its from and to not read): 1 with the lowest and
 * highest id of its tasks that nothing keeps, 0 when there is none, -1.
 */
int store_clean_range(struct store *st, const struct clean_filter *f, int64_t *lo, int64_t *hi);
/* Whether a task finished before before (wall ms), from the tasks_finished index: 1, 0, or -1. */
int store_finished_before(struct store *st, int64_t before);

/* store-repos.c */
/* A repository as stored, with its latest version's counts. 0 is null; the strings last the call. */
struct repo_row {
	const char *name;
	const char *importer;		/* its settings, secrets included, as JSON text */
	int64_t created_at, published_version, published_at;
	int64_t latest_version, files, size;
};
struct version_row {
	int64_t number, created_at, files, size, task;
};
/* A file of a version; the strings last the call. */
struct version_file {
	const char *sha256;		/* 64 hex digits */
	const char *path;		/* NULL where only the content is asked for */
	int64_t size;
};
/* The importer settings of name (secrets included), or NULL if none or unreadable. */
cJSON *store_repo_importer(struct store *st, const char *name);
/* Calls fn for repository name, or (name NULL) for each by name; 0, or -1. */
int store_repos(struct store *st, const char *name,
    void (*fn)(const struct repo_row *r, void *arg), void *arg);
/* Calls fn for each version of name, newest first; 0, or -1. */
int store_repo_versions(struct store *st, const char *name,
    void (*fn)(const struct version_row *v, void *arg), void *arg);
int store_repo_create(struct store *st, const char *name, const cJSON *importer,
    int64_t created_at);
int store_repo_update(struct store *st, const char *name, const cJSON *importer);
/* Its versions and their files go with it. */
int store_repo_delete(struct store *st, const char *name);
/* The number of name's latest version (0: none; -1: failed) and, unless NULL, its digest. */
int64_t store_repo_latest(struct store *st, const char *name, char *digest, size_t digestlen);
int store_repo_published(struct store *st, const char *name, int64_t version, int64_t at);
/* Calls fn for each file of a version, by path; 0, or -1. */
int store_version_files(struct store *st, const char *repo, int64_t number,
    void (*fn)(const struct version_file *f, void *arg), void *arg);
/* Calls fn for each sha256 any version holds (path NULL), in order; 0, or -1. */
int store_content_referenced(struct store *st,
    void (*fn)(const struct version_file *f, void *arg), void *arg);
/*
 * A new version, gathered then recorded a slice at a time (recorder.c),
 * each call its own transaction or none. begin empties the gathering;
 * fill adds up to max (0: all) of the files next gives (1 a file, 0 at the
 * end, -1 to stop: then fill returns -1); keep adds up to max files of
 * version number after path *cursor whose paths are not there yet; files
 * calls fn for up to max (0: all) gathered files after *cursor, by path;
 * copy records up to max gathered files after *cursor as version number's.
 * Those four return 1 when more may follow (*cursor, malloc'd, NULL before
 * the first, moved past the slice), 0 when none is left, -1 on failure.
 * start inserts version v of repo (number, created_at, task, files, size)
 * incomplete, which no read sees; complete makes it visible; discard
 * removes it and its files if still incomplete; end empties the gathering.
 * Each 0, or -1.
 */
int store_newversion_begin(struct store *st);
int store_newversion_fill(struct store *st,
    int (*next)(struct version_file *f, void *arg), void *arg, int64_t max);
int store_newversion_keep(struct store *st, const char *repo, int64_t number, char **cursor,
    int64_t max);
int store_newversion_files(struct store *st, char **cursor, int64_t max,
    void (*fn)(const struct version_file *f, void *arg), void *arg);
int store_newversion_start(struct store *st, const struct version_row *v, const char *repo,
    const char *digest);
int store_newversion_copy(struct store *st, const char *repo, int64_t number, char **cursor,
    int64_t max);
int store_newversion_complete(struct store *st, const char *repo, int64_t number);
int store_newversion_discard(struct store *st, const char *repo, int64_t number);
int store_newversion_end(struct store *st);
/* Removes every incomplete version (store_open does, before any read): how many, or -1. */
int store_versions_sweep(struct store *st);

/* recorder.c */
/*
 * Takes over a completed sync t whose worker's file list is at list_path:
 * its version is recorded a slice a loop turn, and t ends (completed with
 * result, which it owns, or failed) when the last slice is in. 0, or -1
 * with err (result untouched).
 */
int recorder_start(struct task *t, cJSON *result, char *err, size_t errlen);
/* One slice of the first pending record, when due. */
void recorder_tick(void);
/* Milliseconds until the next slice is due; -1 when none is pending. */
int recorder_wait_ms(void);
/* t ends otherwise (a stop, a restore): its record is dropped, its incomplete version removed. */
void recorder_drop(struct task *t);

/* workerproto.c */
/* A worker's message, checked: all its handler reads of it. */
struct worker_msg {
	enum worker_cmd cmd;
	const char *name;		/* validate_worker_name */
	int64_t pid;			/* hello */
	pid_t peer_pid;			/* who sent it (peer credentials), 0 when unknown */
	int supervised;			/* hello: what the worker claims; supervisor_owns decides */
	int64_t task, pgid;		/* heartbeat (0: none), ack, done */
	enum task_state state;		/* done: a final state */
	const cJSON *progress;		/* heartbeat, done: an object of checked fields, or NULL */
	const cJSON *result;		/* done: an object, or NULL */
	const char *reason, *message;	/* done: its error's, or NULL */
	int next;			/* done: and the next task, as next would answer */
	int64_t env_kept, env_epoch;	/* next, done: the environment (env_id, env_epoch) the worker keeps, or 0 */
};
/*
 * Checks req, {"cmd": …, "args": {…}}, as the worker protocol expects.
 * Returns 0, or -1 with err. Touches no daemon state.
 */
int workerproto_parse(const cJSON *req, struct worker_msg *m, char *err, size_t errlen);
void workerproto_handle(struct conn *conn, const struct peer *peer, cJSON *req);
struct worker *worker_find(const char *name);
cJSON *worker_to_json(const struct worker *w);
const char *worker_state_name(enum worker_state s);
/* The worker lost (exited, missing): its task ends canceled with reason. */
void worker_lost(struct worker *w, enum worker_state state, const char *reason,
    const char *message);
/* t is now w's, to be acknowledged within its lease. */
void worker_assign(struct worker *w, const struct task *t);
/* Ends parked polls and leases that ran out. */
void workers_expire_polls(void);
void workers_pipe_gone(uint32_t pipe_id);
void workers_free_all(void);
/*
 * How long w may be silent before it is missing: worker_timeout, plus what
 * the interval it was last told exceeds the one in force (after a reload
 * shortened it, its next heartbeat may still wait the old interval).
 */
int64_t worker_timeout_of(const struct worker *w);
/* The same slack on status's "late" mark: twice the interval it follows, plus check_interval. */
int64_t worker_late_after(const struct worker *w);
/*
 * Tells idle w, through its parked next, to exit ({"retire": true}): 1, or
 * 0 when it holds a task or has no next parked (it asks again soon).
 */
int worker_retire(struct worker *w);
/* A worker retired by a reload: its stopped record goes, so status no longer lists it. */
void worker_forget(const char *name);

/* monitor.c */
void monitor_tick(void);

/* notify.c: all no-ops unless systemd started depotd (NOTIFY_SOCKET). */
void notify_init(void);
void notify_ready(void);
void notify_reloading(void);
void notify_tick(void);
void notify_watchdog(void);
int notify_wait_ms(void);

/* fence.c */
/*
 * SIGKILLs and reaps every child of this process that spare (may be NULL)
 * does not claim, pass after pass, until none is left: as a child
 * subreaper, that is everything below us that lost its parent.
 * Async-signal-safe when spare is.
 */
void fence_kill_children(int (*spare)(pid_t));
/*
 * The one check of a process group a worker reports, before depotd takes
 * it as a task's (and will SIGKILL it): 1 when its leader lives and every
 * member descends from worker (a pid), with the leader's start time in
 * *leader_start; 0 when it has no leader; -1 when it is not that worker's,
 * or pgid <= 1.
 */
int fence_group_verify(pid_t pgid, pid_t worker, uint64_t *leader_start);
/*
 * Ends what depotd can reach of t's processes before its reservations go:
 * its process group once verified, and every process below its worker
 * (both as recorded when they were verified, pid and start time). When
 * something survives SIGKILL for FENCE_DESCENDANTS_MS, sets
 * t->fence_pending: task_finish then keeps its reservations until
 * fence_gone says so.
 */
void fence_task(struct task *t);
/*
 * DEPOT_TASK_TAG=DEV.INO.ID, which an exec task's command gets in its
 * environment (exec.c): its task's id in this data directory (the
 * directory's device and inode, whatever path names it). What escaped a
 * worker that was then killed outright is found by it (fence.c).
 */
#define FENCE_TAG_VAR "DEPOT_TASK_TAG"
/* The task's id, for its command; set by the worker (exec.c) like the tag. */
#define TASK_ID_VAR "DEPOT_TASK_ID"
/* Whether name is one the worker sets in every task's environment, whatever was submitted. */
int exec_env_reserved(const char *name);
int fence_tag(int data_fd, int64_t task, char *out, size_t n);
/* Whether none of t's recorded processes runs any more; SIGKILLs those that do. */
int fence_gone(const struct task *t);
/* pid's start time (ticks after boot), which with the pid names one process; -1 when gone. */
int fence_proc_start(pid_t pid, uint64_t *start);

/* supervisor.c */
int supervisor_start(void);
void supervisor_reap(void);
void supervisor_tick(void);
void supervisor_stop_all(int64_t grace_ms);
void supervisor_kill_worker(struct worker *w);
int supervisor_owns(pid_t pid);
/* A reload's [daemon] workers: workers added at once, or retired once idle. 0, or -1. */
int supervisor_resize(int n);
/* Whether w is a supervised worker being retired: it gets no new task. */
int supervisor_retiring(const struct worker *w);
int supervisor_configured(void);

/* reload.c */
/* At start: the settings in force were just loaded; verbose (-v) keeps debug lines whatever log_level says. */
void reload_init(int verbose);
/* SIGHUP: a reload at the main loop's next turn. */
void reload_request(void);
/* Each loop turn: the pending reload, if any. 1 when new settings were applied. */
int reload_tick(void);
/* Why the last reload refused depot.conf, or NULL when it applied it (or none came). */
const char *reload_refused(void);
/* status's "config": {"path", "loaded_at", "workers", "log_level", "last_reload"}. */
cJSON *reload_status_json(void);

/* events.c */
int events_open(const char *url, char *err, size_t errlen);
void events_publish(const char *topic, cJSON *body);
/* Someone subscribes: an event's body is worth making. */
int events_wanted(void);
/*
 * Until events_release, events are made but kept: what they tell is not
 * committed yet (a store batch). events_release(1) sends them, in order;
 * events_release(0) drops them.
 */
void events_hold(void);
void events_release(int send);
void events_close(void);

/* publish.c */
/* The modes of publications: 0755/0644, or 0750/0640 owned by [publish] group (gid not -1). */
struct pub_modes {
	mode_t dir, file;
	gid_t gid;
};
void publish_modes(gid_t gid, struct pub_modes *m);
/*
 * Opens the publish directory dir as pub, making it (mode m) if missing.
 * Inside the data directory it is opened beneath data, so a link planted
 * there is never followed (-1, errno ELOOP or EXDEV); elsewhere its path is
 * the administrator's. -1 with a message naming the path in err.
 */
int publish_root_open(struct fs_root *pub, const struct fs_root *data, const char *dir,
    const struct pub_modes *m, char *err, size_t errlen);
/* Takes publication NAME out of the publish directory dir (modes m) at once, then removes it. */
int publish_remove(const struct fs_root *data, const char *dir, const struct pub_modes *m,
    const char *name, char *err, size_t errlen);

/* worker.c */
int worker_main(const char *dir, const char *name, int supervised);

#endif
