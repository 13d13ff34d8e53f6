/* worker.h: what a worker process's main thread, heartbeat thread and task runner share. */
#ifndef DEPOT_WORKER_H
#define DEPOT_WORKER_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsutil.h"
#include "vocab.h"

struct worker_shared {
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* heartbeat now (a task started) or stop */
	int urgent;			/* heartbeat without waiting (the pgid is new) */
	char name[65];
	int64_t task;			/* running task id, 0 when idle */
	pid_t pgid;			/* its process group, once spawned */
	int64_t progress_done;		/* in progress_unit */
	int64_t progress_total;		/* -1: unknown */
	char progress_unit[16];		/* "bytes" for exec, "files" for sync */
	char progress_message[128];
	int64_t heartbeat_ms;
	atomic_int cancel;		/* the daemon asked the running task to stop */
	atomic_int need_hello;		/* the daemon no longer knows us */
	atomic_int stop;
};

/* Data directory the worker serves (content/, tmp/, logs/, publish/ by default). */
extern char worker_dir[4096];
/* The same, opened: tasks reach into it only with the *_beneath calls (fsutil.h), never through a link. */
extern struct fs_root worker_data;

/* Set by exec.c, read by the SIGTERM handler to take the task's processes down with us. */
extern volatile sig_atomic_t worker_task_pgid;

/* worker.c: whether depotd started this worker (it is then depotd's child, and dies with it). */
int worker_is_supervised(void);

/*
 * worker.c: a task's error as done reports it, {"reason": …, "message": …},
 * for the *_run functions below.
 */
cJSON *worker_error(enum task_reason reason, const char *message);

/* exec.c: runs an exec task to its end; fills state (a final one). */
/* The environment (env_id, and *epoch) this worker keeps from its last assignment that carried one, or 0; said in next and done. */
int64_t exec_env_kept(int64_t *epoch);
void exec_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);

/*
 * sync.c: runs a sync task: fetches the feed's PULP_MANIFEST, downloads
 * what the content store lacks, verifies each file, and writes the new
 * version's file list to the task's list_path for the daemon.
 */
void sync_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);

/* publish.c, orphans.c: the other repository task types. */
void publish_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);
void orphans_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);

/* backup.c: backup and restore tasks' archive work. */
void backup_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);
void restore_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state);

#endif
