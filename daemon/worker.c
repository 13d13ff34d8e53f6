/* worker.c: `depotd --worker NAME`: asks the daemon for tasks, runs them, heartbeats from its own thread. */
#include "client.h"
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t worker_task_pgid;
char worker_dir[4096];
struct fs_root worker_data = { .fd = -1 };

static struct worker_shared ws = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};
static char worker_url[4300];
static int worker_supervised;

int worker_is_supervised(void)
{
	return worker_supervised;
}

/* Async-signal-safe: the task's processes must not outlive the worker. */
static void on_term(int sig)
{
	(void)sig;
	if (worker_task_pgid > 0)
		kill(-worker_task_pgid, SIGKILL);
	fence_kill_children(NULL);
	_exit(0);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static const char *error_code(const cJSON *reply)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(reply, "error"), "code"));
}

/*
 * client_call for every worker request. Results and messages hold text
 * read from elsewhere (a feed's file names, an archive's member names);
 * the daemon refuses a request that is not UTF-8, and a refused done
 * would leave the task running for ever, so such text goes as U+FFFD.
 */
static enum client_status send_request(struct depot_client *c, enum worker_cmd cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen)
{
	json_repair_utf8(args);
	return client_call(c, worker_cmd_name(cmd), args, timeout_ms, reply, err, errlen);
}

/*
 * One request; retried while the daemon is unreachable. Returns the reply
 * (ok or error) and never NULL unless stopping.
 */
static cJSON *call(struct depot_client *c, enum worker_cmd cmd, cJSON *args, int timeout_ms)
{
	char err[512];
	int warned = 0;

	for (;;) {
		cJSON *reply = NULL;
		enum client_status st = send_request(c, cmd, cJSON_Duplicate(args, 1),
		    timeout_ms, &reply, err, sizeof err);
		if (st == CLIENT_OK) {
			cJSON_Delete(args);
			return reply;
		}
		if (!warned++)
			log_warn("%s: %s; retrying", worker_cmd_name(cmd), err);
		if (atomic_load(&ws.stop)) {
			cJSON_Delete(args);
			return NULL;
		}
		/* The daemon may have restarted and forgotten us: say hello again after this. */
		atomic_store(&ws.need_hello, 1);
		sleep_ms(200);
	}
}

static void hello(struct depot_client *c)
{
	for (;;) {
		cJSON *args = cJSON_CreateObject(), *reply;
		const cJSON *hb;

		cJSON_AddStringToObject(args, "name", ws.name);
		cJSON_AddNumberToObject(args, "pid", getpid());
		cJSON_AddBoolToObject(args, "supervised", worker_supervised);
		if ((reply = call(c, WCMD_HELLO, args, 5000)) == NULL)
			return;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
			hb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
			    reply, "result"), "heartbeat_interval_ms");
			pthread_mutex_lock(&ws.mu);
			if (cJSON_IsNumber(hb) && hb->valuedouble >= 10)
				ws.heartbeat_ms = (int64_t)hb->valuedouble;
			pthread_mutex_unlock(&ws.mu);
			atomic_store(&ws.need_hello, 0);
			cJSON_Delete(reply);
			log_info("worker %s connected", ws.name);
			return;
		}
		log_error("hello refused: %s", cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		    reply, "error"), "message")));
		cJSON_Delete(reply);
		sleep_ms(1000);
	}
}

/* The running task's progress, as heartbeat and done carry it; ws.mu held. */
static void add_progress_locked(cJSON *args)
{
	cJSON *p = cJSON_AddObjectToObject(args, "progress");

	cJSON_AddNumberToObject(p, "done", (double)ws.progress_done);
	if (ws.progress_total >= 0)
		cJSON_AddNumberToObject(p, "total", (double)ws.progress_total);
	cJSON_AddStringToObject(p, "unit", ws.progress_unit);
	if (ws.progress_message[0])
		cJSON_AddStringToObject(p, "message", ws.progress_message);
}

/*
 * A cancel answers the heartbeat that named task; by the time it arrives
 * that task may have ended and the next begun, which must not be touched.
 */
static void cancel_if_still(int64_t task)
{
	pthread_mutex_lock(&ws.mu);
	if (task != 0 && ws.task == task)
		atomic_store(&ws.cancel, 1);
	pthread_mutex_unlock(&ws.mu);
}

static void *heartbeat_thread(void *arg)
{
	struct depot_client *c = arg;
	int64_t last_sent = 0;	/* monotonic ms; 0: none yet */

	for (;;) {
		cJSON *args = cJSON_CreateObject(), *reply;
		int64_t task, interval, wait_ms;
		struct timespec until;
		char err[256];
		int urgent;

		pthread_mutex_lock(&ws.mu);
		interval = ws.heartbeat_ms;
		/* An interval after the last one sent, also when an urgent one was skipped since. */
		wait_ms = last_sent + interval - time_mono_ms();
		if (wait_ms > interval)
			wait_ms = interval;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		/* A wake-up sent while we were in a request must not wait an interval. */
		if (!atomic_load(&ws.stop) && !ws.urgent && wait_ms > 0)
			pthread_cond_timedwait(&ws.wake, &ws.mu, &until);
		urgent = ws.urgent;
		ws.urgent = 0;
		/*
		 * Woken for a process group that is gone again (the command ended
		 * before this thread ran): there is nothing left to fence, and done
		 * follows. Skipped, unless an interval is up.
		 */
		if (urgent && ws.pgid == 0 && time_mono_ms() - last_sent < interval &&
		    !atomic_load(&ws.stop)) {
			pthread_mutex_unlock(&ws.mu);
			cJSON_Delete(args);
			continue;
		}
		last_sent = time_mono_ms();
		task = ws.task;
		cJSON_AddStringToObject(args, "name", ws.name);
		if (task)
			cJSON_AddNumberToObject(args, "task", (double)task);
		if (ws.pgid > 0)
			cJSON_AddNumberToObject(args, "pgid", ws.pgid);
		add_progress_locked(args);
		pthread_mutex_unlock(&ws.mu);
		if (atomic_load(&ws.stop)) {
			cJSON_Delete(args);
			return NULL;
		}
		reply = NULL;
		if (send_request(c, WCMD_HEARTBEAT, args, (int)(interval * 2 + 1000), &reply,
		    err, sizeof err) != CLIENT_OK) {
			cJSON_Delete(reply);
			continue;
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
			const cJSON *res = cJSON_GetObjectItemCaseSensitive(reply, "result");
			const cJSON *hb = cJSON_GetObjectItemCaseSensitive(res, "heartbeat_interval_ms");
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "cancel")))
				cancel_if_still(task);
			/* The daemon's depot.conf may have been reloaded since hello. */
			if (cJSON_IsNumber(hb) && hb->valuedouble >= 10) {
				pthread_mutex_lock(&ws.mu);
				ws.heartbeat_ms = (int64_t)hb->valuedouble;
				pthread_mutex_unlock(&ws.mu);
			}
		} else if (error_code(reply) && strcmp(error_code(reply), "not_found") == 0) {
			/* The daemon forgot us (it restarted): our task lost its reservations. */
			atomic_store(&ws.need_hello, 1);
			cancel_if_still(task);
		}
		cJSON_Delete(reply);
	}
}

cJSON *worker_error(enum task_reason reason, const char *message)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "reason", task_reason_name(reason));
	cJSON_AddStringToObject(e, "message", message);
	return e;
}

/*
 * The args of the done that reports the task's end; the main loop sends it
 * as its next request for work (done with next), so a busy worker's report
 * and its next task cost one round trip.
 */
static cJSON *done_args(int64_t task, enum task_state state, cJSON *result, cJSON *error)
{
	cJSON *args = cJSON_CreateObject();

	cJSON_AddStringToObject(args, "name", ws.name);
	cJSON_AddNumberToObject(args, "task", (double)task);
	cJSON_AddStringToObject(args, "state", task_state_name(state));
	cJSON_AddItemToObject(args, "result", result ? result : cJSON_CreateNull());
	cJSON_AddItemToObject(args, "error", error ? error : cJSON_CreateNull());
	pthread_mutex_lock(&ws.mu);
	add_progress_locked(args);
	pthread_mutex_unlock(&ws.mu);
	cJSON_AddBoolToObject(args, "next", 1);
	return args;
}

/*
 * The assignment is a lease (daemon/workerproto.c): nothing of the task
 * starts before depotd answers this ack with "run". A "no" means the lease
 * ran out first and the task went back to its queues, maybe to another
 * worker, or it was canceled before it started. Returns 1 to run it.
 */
static int acknowledge(struct depot_client *c, int64_t id)
{
	cJSON *args = cJSON_CreateObject(), *reply;
	int run;

	cJSON_AddStringToObject(args, "name", ws.name);
	cJSON_AddNumberToObject(args, "task", (double)id);
	if ((reply = call(c, WCMD_ACK, args, 10000)) == NULL)
		return 0;
	run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")) &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(reply, "result"), "run"));
	if (error_code(reply) && strcmp(error_code(reply), "not_found") == 0)
		atomic_store(&ws.need_hello, 1);
	cJSON_Delete(reply);
	if (!run)
		log_info("task %lld: not ours any more; not started", (long long)id);
	return run;
}

/* Runs task; returns the args of the done that reports it, or NULL when it did not start. */
static cJSON *run_task(struct depot_client *c, const cJSON *task)
{
	int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
	const struct task_type *tt =
	    tasktype_find(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "type")));
	cJSON *result = NULL, *error = NULL;
	enum task_state state = TASK_FAILED;

	pthread_mutex_lock(&ws.mu);
	ws.task = id;
	ws.pgid = 0;
	ws.progress_done = 0;
	ws.progress_total = -1;
	snprintf(ws.progress_unit, sizeof ws.progress_unit, "bytes");
	ws.progress_message[0] = '\0';
	atomic_store(&ws.cancel, 0);
	pthread_mutex_unlock(&ws.mu);
	if (!acknowledge(c, id)) {
		pthread_mutex_lock(&ws.mu);
		ws.task = 0;
		pthread_mutex_unlock(&ws.mu);
		return NULL;
	}
	/* depotd logs each task's end itself: these two lines are for depotd -v. */
	log_debug("task %lld: running", (long long)id);
	/* A restore may have swapped another data directory in since the last task. */
	if (fs_root_refresh(&worker_data) < 0)
		log_warn("opening %s: %m", worker_dir);
	if (tt != NULL && tt->run != NULL)
		tt->run(&ws, task, &result, &error, &state);
	else
		error = worker_error(REASON_EXCEPTION, "this worker cannot run that task type");
	pthread_mutex_lock(&ws.mu);
	ws.task = 0;
	pthread_mutex_unlock(&ws.mu);
	log_debug("task %lld: %s", (long long)id, task_state_name(state));
	return done_args(id, state, result, error);
}

/*
 * depotd retires us (a reload lowered [daemon] workers): we hold no task.
 * The heartbeat thread ends first, so no request of ours is in flight when
 * the caller closes our connections. (Were a close to hang, depotd sends
 * SIGTERM after 5 s.)
 */
static void retire(pthread_t hb)
{
	log_info("worker %s: retired by depotd", ws.name);
	pthread_mutex_lock(&ws.mu);
	atomic_store(&ws.stop, 1);
	pthread_cond_signal(&ws.wake);
	pthread_mutex_unlock(&ws.mu);
	pthread_join(hb, NULL);
}

int worker_main(const char *dir, const char *name, int parent)
{
	struct depot_client *main_c = NULL, *hb_c = NULL;
	struct sigaction sa = { .sa_handler = on_term };
	cJSON *done = NULL;
	char err[512];
	pthread_t hb;
	int64_t env_id, env_epoch;

	snprintf(ws.name, sizeof ws.name, "%s", name);
	snprintf(worker_dir, sizeof worker_dir, "%s", dir);
	if (fs_root_open(&worker_data, dir) < 0) {
		log_error("opening the data directory %s: %s", dir, strerror(errno));
		return 1;
	}
	ws.heartbeat_ms = 2000;
	worker_supervised = parent > 0;
	/* A supervised worker dies with its daemon (DESIGN §7 rule 5: it is restarted fresh). */
	if (parent > 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			return 0;
	}
	/*
	 * What a task's command starts and leaves behind (setsid, a double
	 * fork) comes back to us instead of init, so that exec.c can end it
	 * with the task (DESIGN §7 rule 9; fence.c says why not a cgroup).
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper: %m; processes a task leaves "
		    "behind may outlive it");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit must fail a write (EFBIG, a clear error), not kill the worker. */
	signal(SIGXFSZ, SIG_IGN);
	if (paths_socket_url(dir, DEPOT_WORKER_SOCK, worker_url, sizeof worker_url,
	    err, sizeof err) < 0 ||
	    client_open(&main_c, worker_url, err, sizeof err) < 0 ||
	    client_open(&hb_c, worker_url, err, sizeof err) < 0) {
		log_error("%s", err);
		client_close(main_c);
		return 1;
	}
	hello(main_c);
	if (pthread_create(&hb, NULL, heartbeat_thread, hb_c) != 0) {
		log_error("starting the heartbeat thread: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		cJSON *args = done, *reply;
		const cJSON *task;

		done = NULL;
		/*
		 * A request failed since the last hello (the daemon may have
		 * restarted): the task's end goes first, alone, as it always did
		 * (a daemon that forgot us refuses it, one that did not records
		 * it), then hello, which would cancel a task not yet reported.
		 */
		if (atomic_load(&ws.need_hello)) {
			if (args != NULL) {
				cJSON_DeleteItemFromObjectCaseSensitive(args, "next");
				cJSON_Delete(call(main_c, WCMD_DONE, args, 10000));
				args = NULL;
			}
			hello(main_c);
		}
		if (args == NULL) {
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "name", ws.name);
		}
		/* So that the next assignment leaves out the environment when it is this one. */
		cJSON_DeleteItemFromObjectCaseSensitive(args, "env_id");
		cJSON_DeleteItemFromObjectCaseSensitive(args, "env_epoch");
		if ((env_id = exec_env_kept(&env_epoch)) > 0) {
			cJSON_AddNumberToObject(args, "env_id", (double)env_id);
			cJSON_AddNumberToObject(args, "env_epoch", (double)env_epoch);
		}
		if ((reply = call(main_c, cJSON_GetObjectItemCaseSensitive(args, "task") ?
		    WCMD_DONE : WCMD_NEXT, args, DEPOT_NEXT_POLL_MS * 3)) == NULL)
			break;
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
			if (error_code(reply) && strcmp(error_code(reply), "not_found") == 0)
				atomic_store(&ws.need_hello, 1);
			else
				sleep_ms(200);
		} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(reply, "result"), "retire"))) {
			cJSON_Delete(reply);
			retire(hb);
			client_close(hb_c);
			client_close(main_c);
			return 0;
		} else if (cJSON_IsObject(task = cJSON_GetObjectItemCaseSensitive(reply, "result")) &&
		    cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(task, "id")))
			done = run_task(main_c, task);
		cJSON_Delete(reply);
	}
	cJSON_Delete(done);
	return 0;
}
