/* worker.h: what a worker process's main thread, heartbeat thread and task runner share. */
#ifndef DEPOT_WORKER_H
#define DEPOT_WORKER_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct worker_shared {
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* heartbeat now (a task started) or stop */
	char name[65];
	int64_t task;			/* running task id, 0 when idle */
	pid_t pgid;			/* its process group, once spawned */
	int64_t progress_done;		/* bytes of output so far */
	int64_t heartbeat_ms;
	atomic_int cancel;		/* the daemon asked the running task to stop */
	atomic_int need_hello;		/* the daemon no longer knows us */
	atomic_int stop;
};

/* Set by exec.c, read by the SIGTERM handler to take the task's processes down with us. */
extern volatile sig_atomic_t worker_task_pgid;

/* exec.c: runs an exec task to its end; fills state ("completed", "failed", "canceled"). */
void exec_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, const char **state);

#endif
