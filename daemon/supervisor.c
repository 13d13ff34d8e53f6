/* supervisor.c: starts the configured workers as child processes and restarts them with back-off. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct slot {
	char name[16];
	pid_t pid;			/* 0: not running */
	int64_t backoff_ms;
	int64_t started_mono, restart_at_mono;
	int retiring;			/* beyond [daemon] workers since a reload: goes once idle */
	int told;			/* told to exit to retire; not yet reaped */
	int termed;			/* and sent SIGTERM, as it did not */
	int64_t told_deadline_mono;	/* SIGTERM if it has not exited by then */
};

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* A worker that lived this long was healthy: its next restart is quick again. */
#define BACKOFF_RESET_MS 30000
/*
 * A retiring worker is told to exit through the worker protocol; one that
 * does not within this long, or never said hello, gets SIGTERM instead.
 */
#define RETIRE_WAIT_MS 5000
/* How long the main thread waits for a worker it SIGKILLed to be gone. */
#define SUPERVISOR_KILL_WAIT_MS 5000

/* posix_spawn, not fork: nng's threads make fork without exec unsafe (DESIGN §15). */
static int spawn_slot(struct slot *s)
{
	char parent[24];
	char *argv[] = { "depotd", "--worker", s->name, "-d", D->dir,
		"--supervised-by", parent, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	int rv;

	snprintf(parent, sizeof parent, "%d", (int)D->pid);
	/*
	 * A worker needs stdin, stdout and stderr; it finds its socket by
	 * path. Whatever else depotd holds (the pid file's lock, the database,
	 * a descriptor its launcher left open) stays with depotd.
	 */
	posix_spawn_file_actions_init(&fa);
	rv = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGCHLD);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGHUP);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	/*
	 * A session of its own: a process group in it can hold only the
	 * worker's descendants, which lets depotd verify a task's group from
	 * its leader alone (fence.c) instead of reading every process.
	 */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSID);
	if (rv == 0)
		rv = posix_spawn(&s->pid, D->self_exe, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		log_error("starting worker %s (%s): %s", s->name, D->self_exe, strerror(rv));
		s->pid = 0;
		s->restart_at_mono = time_mono_ms() + s->backoff_ms;
		return -1;
	}
	s->started_mono = time_mono_ms();
	log_info("started worker %s (pid %d)", s->name, (int)s->pid);
	return 0;
}

/*
 * A worker that dies leaves its task's processes (and what escaped them
 * with setsid) to us rather than to init, so that we can end them before
 * its reservations go (DESIGN §7 rule 8; fence.c says why not a cgroup).
 */
static void become_subreaper(void)
{
	static int done;

	if (done++)
		return;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become a child subreaper: %m; a dead worker's task "
		    "processes may outlive it");
}

/* Slots from D->nslots up to n, each with its worker started. */
static int add_slots(int n)
{
	struct slot *slots;
	int from = D->nslots;

	if (n <= from)
		return 0;
	become_subreaper();
	if ((slots = realloc(D->slots, (size_t)n * sizeof *slots)) == NULL)
		return -1;
	D->slots = slots;
	memset(slots + from, 0, (size_t)(n - from) * sizeof *slots);
	D->nslots = n;
	for (int i = from; i < n; i++) {
		snprintf(slots[i].name, sizeof slots[i].name, "w%d", i + 1);
		slots[i].backoff_ms = BACKOFF_MIN_MS;
		spawn_slot(&slots[i]);
	}
	return 0;
}

int supervisor_start(void)
{
	return add_slots(D->cfg.workers);
}

/*
 * A reload's [daemon] workers. Slots beyond n retire (supervisor_tick ends
 * each once its worker is idle, so no task is canceled); a retiring slot
 * that n covers again simply stays.
 */
int supervisor_resize(int n)
{
	for (int i = 0; i < D->nslots; i++) {
		if (D->slots[i].retiring && i < n)
			log_info("worker %s stays", D->slots[i].name);
		else if (!D->slots[i].retiring && i >= n)
			log_info("worker %s retires once it is idle", D->slots[i].name);
		D->slots[i].retiring = i >= n;
	}
	if (add_slots(n) < 0) {
		log_error("adding workers up to %d: out of memory", n);
		return -1;
	}
	return 0;
}

/* The slots [daemon] workers asks for now: a reload's retiring ones, still finishing a task, are not. */
int supervisor_configured(void)
{
	int n = 0;

	for (int i = 0; i < D->nslots; i++)
		n += !D->slots[i].retiring;
	return n;
}

int supervisor_retiring(const struct worker *w)
{
	for (int i = 0; i < D->nslots; i++)
		if (D->slots[i].pid == w->pid && w->pid != 0)
			/* Told to exit, it stays out of dispatch even if a reload kept its slot meanwhile. */
			return D->slots[i].retiring || D->slots[i].told;
	return 0;
}

static struct slot *slot_by_pid(pid_t pid)
{
	for (int i = 0; i < D->nslots; i++)
		if (D->slots[i].pid == pid && pid != 0)
			return &D->slots[i];
	return NULL;
}

int supervisor_owns(pid_t pid) { return slot_by_pid(pid) != NULL; }

static void describe_exit(int status, char *out, size_t n)
{
	if (WIFEXITED(status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(out, n, "ended (status %d)", status);
}

/* DESIGN §7 rule 2: a supervised worker's exit is seen at once, not at the timeout. */
void supervisor_reap(void)
{
	char how[128], msg[256];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = slot_by_pid(pid);
		struct worker *w;
		int64_t now = time_mono_ms();

		/* Not a worker: an orphan a worker left, killed below or before. */
		if (s == NULL)
			continue;
		describe_exit(status, how, sizeof how);
		s->pid = 0;
		s->told = s->termed = 0;
		/*
		 * What it left running came to us (we are its subreaper): it is
		 * killed before worker_lost releases the worker's reservations.
		 */
		fence_kill_children(supervisor_owns);
		w = worker_find(s->name);
		if (w != NULL && w->pid == pid && w->state != WORKER_STOPPED) {
			snprintf(msg, sizeof msg, "worker %s (pid %d) %s", s->name, (int)pid, how);
			if (D->stopping || s->retiring)
				log_info("%s", msg);
			else
				log_warn("%s", msg);
			worker_lost(w, WORKER_STOPPED, task_reason_name(D->stopping ?
			    REASON_DAEMON_STOPPED : REASON_WORKER_MISSING), msg);
		}
		if (D->stopping || s->retiring)
			continue;
		if (now - s->started_mono > BACKOFF_RESET_MS)
			s->backoff_ms = BACKOFF_MIN_MS;
		s->restart_at_mono = now + s->backoff_ms;
		s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    s->backoff_ms * 2;
		log_info("restarting worker %s in %lld ms", s->name,
		    (long long)(s->restart_at_mono - now));
	}
}

/*
 * A retiring slot's worker is told to exit only once it holds no task,
 * acknowledged or not; dispatch gives it none meanwhile (supervisor_retiring).
 * It is told as the answer to its parked next, not by a signal: it then
 * closes its own connections with nothing in flight. Killing workers
 * mid-request, or before their connection is set up, as fast as SIGHUPs
 * can come, wedged nng 1.5's worker socket (no request of a new worker was
 * read any more).
 */
static void retire_step(struct slot *s, int64_t now)
{
	struct worker *w;

	if (s->pid == 0 || s->termed)
		return;
	if (s->told) {
		if (now < s->told_deadline_mono)
			return;
		log_warn("worker %s (pid %d) did not exit within %d ms of being told: SIGTERM",
		    s->name, (int)s->pid, RETIRE_WAIT_MS);
	} else if ((w = worker_find(s->name)) != NULL && w->pid == s->pid &&
	    w->state == WORKER_ONLINE) {
		/* Busy, or between two of its polls: a later turn. */
		if (!worker_retire(w))
			return;
		log_info("worker %s (pid %d) is idle: told to exit", s->name, (int)s->pid);
		s->told = 1;
		s->told_deadline_mono = now + RETIRE_WAIT_MS;
		return;
	} else if (now - s->started_mono < RETIRE_WAIT_MS)
		/* Not online yet: it says hello and asks for work soon. */
		return;
	else
		log_info("worker %s (pid %d) does not speak to depotd: SIGTERM to retire it",
		    s->name, (int)s->pid);
	if (kill(s->pid, SIGTERM) == 0)
		s->told = s->termed = 1;
}

void supervisor_tick(void)
{
	int64_t now = time_mono_ms();

	if (D->stopping)
		return;
	for (int i = 0; i < D->nslots; i++) {
		if (D->slots[i].retiring)
			retire_step(&D->slots[i], now);
		else if (D->slots[i].pid == 0 && now >= D->slots[i].restart_at_mono)
			spawn_slot(&D->slots[i]);
	}
	/* Retiring slots are the last ones: each goes once its worker is reaped. */
	while (D->nslots > 0 && D->slots[D->nslots - 1].retiring &&
	    D->slots[D->nslots - 1].pid == 0) {
		worker_forget(D->slots[D->nslots - 1].name);
		log_info("worker %s retired", D->slots[--D->nslots].name);
	}
}

/*
 * Kills w's process and waits for its end, so that the caller releases its
 * task's reservations only once neither the worker nor anything it left
 * can still run. The worker stays a zombie for supervisor_reap, which sees
 * it as any other exit. SIGKILL ends a process at once unless it sleeps
 * uninterruptibly (a hung file system): that wait is bounded, and logged.
 */
void supervisor_kill_worker(struct worker *w)
{
	struct slot *s = slot_by_pid(w->pid);
	int64_t deadline = time_mono_ms() + SUPERVISOR_KILL_WAIT_MS;
	siginfo_t si;

	if (s == NULL || !w->supervised)
		return;
	kill(s->pid, SIGKILL);
	for (;;) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != 0)
			break;
		if (time_mono_ms() > deadline) {
			log_error("worker %s (pid %d) survives SIGKILL for %d ms; its task's "
			    "reservations go anyway", s->name, (int)s->pid,
			    SUPERVISOR_KILL_WAIT_MS);
			return;
		}
		usleep(1000);
	}
	/* Its orphans were ours before its exit could be seen. */
	fence_kill_children(supervisor_owns);
}

static int any_running(void)
{
	for (int i = 0; i < D->nslots; i++)
		if (D->slots[i].pid != 0)
			return 1;
	return 0;
}

void supervisor_stop_all(int64_t grace_ms)
{
	int64_t deadline = time_mono_ms() + grace_ms;

	for (int i = 0; i < D->nslots; i++)
		if (D->slots[i].pid != 0)
			kill(D->slots[i].pid, SIGTERM);
	while (any_running() && time_mono_ms() < deadline) {
		/* A bounded wait, not a wedged loop: systemd's watchdog keeps hearing from us. */
		notify_watchdog();
		supervisor_reap();
		if (any_running())
			usleep(10000);
	}
	for (int i = 0; i < D->nslots; i++) {
		if (D->slots[i].pid != 0) {
			log_warn("worker %s did not stop: killing it", D->slots[i].name);
			kill(D->slots[i].pid, SIGKILL);
			waitpid(D->slots[i].pid, NULL, 0);
			D->slots[i].pid = 0;
		}
	}
	/* What the workers left behind ends with depotd, not after it. */
	fence_kill_children(NULL);
	free(D->slots);
	D->slots = NULL;
	D->nslots = 0;
}
