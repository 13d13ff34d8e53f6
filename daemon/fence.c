/*
 * fence.c: ends a task's processes before its reservations go (DESIGN §7
 * rules 8 and 9): what a worker or depotd inherited as a child subreaper,
 * and a process group a worker reported, once it is verified as that
 * worker's.
 *
 * Why a subreaper and not a cgroup per task: a cgroup v2 subtree is ours to
 * create only when the service manager delegated one (systemd's
 * Delegate=yes), which a hand-started depotd, a container or a plain
 * `depotd -d DIR` never has; PR_SET_CHILD_SUBREAPER needs no privilege and
 * no setup. Its limit: it holds while the subreaper lives. When a
 * supervised worker dies its orphans come to depotd, a subreaper too; a
 * hand-started worker killed outright leaves them to its own parent's
 * subreaper (init), where only the process group and the tag every
 * command's environment carries (DEPOT_TASK_TAG, kill_tagged) find them.
 * A command that means to escape can exec with an environment of its own
 * making in a session of its own: only a cgroup holds that one.
 */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proc_row {
	pid_t pid, ppid, pgrp, session;
	char state;
	uint64_t start;		/* ticks after boot: with the pid, a process's identity */
};

struct sweep {
	pid_t self;
	int (*spare)(pid_t);
	int found;
};

struct table {
	struct proc_row *rows;
	size_t n, cap;
};

/* The daemon gives up on a process that SIGKILL does not end in this long (stuck in D state). */
#define FENCE_DESCENDANTS_MS 2000

static int proc_each(int (*fn)(const struct proc_row *p, void *ctx), void *ctx);
static int read_stat(int procfd, const char *name, struct proc_row *p);
static int kill_child(const struct proc_row *p, void *ctx);
static int add_row(const struct proc_row *p, void *ctx);
static int table_load(struct table *t);
static const struct proc_row *table_find(const struct table *t, pid_t pid);
static int row_cmp(const void *a, const void *b);
static int descends(const struct table *t, pid_t pid, pid_t ancestor);
static int group_unchanged(pid_t pgid, uint64_t leader_start);
static int proc_unchanged(pid_t pid, uint64_t start, struct proc_row *p);
static int kill_descendants(pid_t worker);

/*
 * Parses /proc/NAME/stat: "pid (comm) S ppid pgrp … starttime …". comm
 * may hold spaces and parentheses, hence the last ')'. Async-signal-safe.
 */
static int read_stat(int procfd, const char *name, struct proc_row *p)
{
	char path[32], buf[1024], *s;
	size_t len = strlen(name);
	ssize_t n;
	int fd;

	if (len > 16)
		return -1;
	memcpy(path, name, len);
	memcpy(path + len, "/stat", 6);
	if ((fd = openat(procfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((s = strrchr(buf, ')')) == NULL || s[1] != ' ' || s[2] == '\0')
		return -1;
	p->state = s[2];
	s += 3;
	/* Fields 4 (ppid), 5 (pgrp), 6 (session) and 22 (starttime); some between are negative. */
	for (int field = 4; field <= 22; field++) {
		unsigned long long x = 0;
		char *end;

		if (*s++ != ' ')
			return -1;
		if (*s == '-')
			s++;
		for (end = s; *end >= '0' && *end <= '9'; end++)
			x = x * 10 + (unsigned)(*end - '0');
		if (end == s)
			return -1;
		s = end;
		if (field == 4)
			p->ppid = (pid_t)x;
		else if (field == 5)
			p->pgrp = (pid_t)x;
		else if (field == 6)
			p->session = (pid_t)x;
		else if (field == 22)
			p->start = x;
	}
	return 0;
}

/*
 * Calls fn for every process in /proc until fn returns non-zero.
 * Async-signal-safe (raw getdents64, no allocation), so the worker's
 * SIGTERM handler may sweep too. -1 when /proc cannot be read.
 */
static int proc_each(int (*fn)(const struct proc_row *p, void *ctx), void *ctx)
{
	char buf[8192];
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ssize_t n;

	if (procfd < 0)
		return -1;
	while ((n = getdents64(procfd, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			struct proc_row p = { 0 };
			long pid = 0;
			const char *c;

			off += d->d_reclen;
			for (c = d->d_name; *c >= '0' && *c <= '9'; c++)
				pid = pid * 10 + (*c - '0');
			if (*c != '\0' || c == d->d_name)
				continue;
			p.pid = (pid_t)pid;
			if (read_stat(procfd, d->d_name, &p) < 0)
				continue;	/* it exited meanwhile */
			if (fn(&p, ctx)) {
				close(procfd);
				return 0;
			}
		}
	}
	close(procfd);
	return n < 0 ? -1 : 0;
}

static int kill_child(const struct proc_row *p, void *ctx)
{
	struct sweep *sw = ctx;

	if (p->ppid != sw->self || (sw->spare != NULL && sw->spare(p->pid)))
		return 0;
	/*
	 * Our own unreaped child: its pid cannot be reused before the waitpid
	 * below, so this never hits a stranger. A zombie counts until reaped.
	 */
	if (kill(p->pid, SIGKILL) == 0)
		sw->found++;
	waitpid(p->pid, NULL, WNOHANG);
	return 0;
}

void fence_kill_children(int (*spare)(pid_t))
{
	struct timespec ms = { 0, 1000000 };

	for (;;) {
		struct sweep sw = { getpid(), spare, 0 };
		siginfo_t si;

		/*
		 * No child at all, not even a zombie: nothing to sweep, and no
		 * reading of every process's stat after each task (a task's
		 * orphans are our children before its own wait returns).
		 */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
			return;

		/*
		 * Each pass kills the children seen; their own children then
		 * come to us (we are their subreaper) and are seen on the next.
		 */
		if (proc_each(kill_child, &sw) < 0 || sw.found == 0)
			return;
		nanosleep(&ms, NULL);
	}
}

static int add_row(const struct proc_row *p, void *ctx)
{
	struct table *t = ctx;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 512;
		struct proc_row *r = realloc(t->rows, cap * sizeof *r);

		if (r == NULL)
			return 1;
		t->rows = r;
		t->cap = cap;
	}
	t->rows[t->n++] = *p;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct proc_row *)a)->pid, y = ((const struct proc_row *)b)->pid;

	return (x > y) - (x < y);
}

static int table_load(struct table *t)
{
	memset(t, 0, sizeof *t);
	if (proc_each(add_row, t) < 0) {
		free(t->rows);
		return -1;
	}
	qsort(t->rows, t->n, sizeof *t->rows, row_cmp);
	return 0;
}

static const struct proc_row *table_find(const struct table *t, pid_t pid)
{
	struct proc_row key = { .pid = pid };

	return t->n ? bsearch(&key, t->rows, t->n, sizeof *t->rows, row_cmp) : NULL;
}

/* pid's chain of parents passes through ancestor (pid itself excluded). */
static int descends(const struct table *t, pid_t pid, pid_t ancestor)
{
	const struct proc_row *r = table_find(t, pid);

	/* The depth bound only guards against a table read while parents changed. */
	for (size_t depth = 0; r != NULL && r->ppid > 1 && depth < t->n; depth++) {
		if (r->ppid == ancestor)
			return 1;
		r = table_find(t, r->ppid);
	}
	return 0;
}

/*
 * The check of fence_group_verify from the leader's stat alone, when the
 * worker leads its own session (a supervised one does: supervisor.c). A
 * process group lies within one session, and a process is in the worker's
 * session only if it was forked below the worker; while the worker lives
 * (it sent the report) such a process stays below it, since orphans come
 * back to it as their subreaper. So a group whose leader is in that
 * session is made only of the worker's descendants, with no reading of
 * every process. 2 when this cannot decide (the full check follows).
 *
 * The worker's own stat is not read: a session's id is the pid of the
 * process that made it, and the kernel gives no process a pid that is
 * still a session's id. So while the worker lives, a leader in session
 * "worker" is in the session the worker made. The leader comes first
 * because a short command's group is usually gone by the time its
 * report is read (one failed open, nothing more).
 */
static int group_in_worker_session(pid_t pgid, pid_t worker, uint64_t *leader_start)
{
	struct proc_row leader;

	if (!proc_unchanged(pgid, 0, &leader) || leader.pgrp != pgid)
		return 0;	/* gone, a zombie, or not leading that group */
	if (leader.session != worker)
		return 2;
	*leader_start = leader.start;
	return 1;
}

int fence_group_verify(pid_t pgid, pid_t worker, uint64_t *leader_start)
{
	const struct proc_row *leader;
	struct table t;
	int rv = 1;

	/* kill(-1) would reach every process we may signal; 0 is our own group. */
	if (pgid <= 1 || worker <= 1 || worker == getpid())
		return -1;
	if ((rv = group_in_worker_session(pgid, worker, leader_start)) != 2)
		return rv;
	rv = 1;
	if (table_load(&t) < 0)
		return -1;
	if ((leader = table_find(&t, pgid)) == NULL || leader->pgrp != pgid ||
	    leader->state == 'Z')
		rv = 0;
	/*
	 * Every member, not one: a rogue could move a child of its own into a
	 * stranger's group of the same session.
	 */
	for (size_t i = 0; i < t.n && rv > 0; i++)
		if (t.rows[i].pgrp == pgid && t.rows[i].state != 'Z' &&
		    !descends(&t, t.rows[i].pid, worker))
			rv = -1;
	if (rv > 0)
		*leader_start = leader->start;
	free(t.rows);
	return rv;
}

/*
 * /proc, opened once: a task's process-group report reads one stat file,
 * and opening /proc for it cost as much again. Main thread only.
 */
static int proc_dir(void)
{
	static int procfd = -1;

	if (procfd < 0)
		procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return procfd;
}

/* The process pid started at start (ticks after boot) still runs, not a stranger that reused its pid. */
static int proc_unchanged(pid_t pid, uint64_t start, struct proc_row *p)
{
	char name[16];
	int procfd, i = (int)sizeof name - 1;

	if (pid <= 1)
		return 0;
	name[i] = '\0';
	for (pid_t v = pid; v > 0 && i > 0; v /= 10)
		name[--i] = (char)('0' + v % 10);
	if ((procfd = proc_dir()) < 0)
		return 0;
	p->pid = pid;
	return read_stat(procfd, name + i, p) == 0 && p->state != 'Z' &&
	    (start == 0 || p->start == start);
}

int fence_proc_start(pid_t pid, uint64_t *start)
{
	struct proc_row p;

	if (!proc_unchanged(pid, 0, &p))
		return -1;
	*start = p.start;
	return 0;
}

/*
 * The group verified as pgid still has that very leader: the worker may
 * have died since (its descendants went to some subreaper), but a pid
 * reused by a stranger would not have the same start time.
 */
static int group_unchanged(pid_t pgid, uint64_t leader_start)
{
	struct proc_row p;

	return proc_unchanged(pgid, leader_start, &p) && p.pgrp == pgid;
}

/* Kills what still runs below worker; returns how many were signaled. */
static int kill_descendants(pid_t worker)
{
	struct table t;
	int n = 0;

	if (table_load(&t) < 0)
		return 0;
	for (size_t i = 0; i < t.n; i++)
		if (t.rows[i].state != 'Z' && descends(&t, t.rows[i].pid, worker) &&
		    kill(t.rows[i].pid, SIGKILL) == 0)
			n++;
	free(t.rows);
	return n;
}

int fence_tag(int data_fd, int64_t task, char *out, size_t n)
{
	struct stat st;

	if (data_fd < 0 || fstat(data_fd, &st) < 0)
		return -1;
	return snprintf(out, n, "%llu.%llu.%lld", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino, (long long)task) < (int)n ? 0 : -1;
}

struct tagged {
	int procfd;
	const char *var;	/* "DEPOT_TASK_TAG=DEV.INO.ID" */
	size_t len;		/* with its NUL */
	uid_t uid;
	int found;
};

/* Whether /proc/PID/environ holds the tag as one whole variable. */
static int environ_has(const struct tagged *tg, pid_t pid)
{
	char path[32], buf[8192];
	size_t have = 0;
	ssize_t got;
	int fd, hit = 0, skipping = 0;

	snprintf(path, sizeof path, "%d/environ", (int)pid);
	if ((fd = openat(tg->procfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	/* Variable by variable; one longer than the buffer is skipped whole (not ours). */
	while (!hit && (got = read(fd, buf + have, sizeof buf - have)) > 0) {
		char *p = buf, *end = buf + have + (size_t)got, *z;

		while (!hit && (z = memchr(p, '\0', (size_t)(end - p))) != NULL) {
			hit = !skipping && (size_t)(z - p + 1) == tg->len &&
			    memcmp(p, tg->var, tg->len) == 0;
			skipping = 0;
			p = z + 1;
		}
		have = (size_t)(end - p);
		if (have == sizeof buf) {
			have = 0;
			skipping = 1;
		}
		memmove(buf, p, have);
	}
	close(fd);
	return hit;
}

static int kill_tagged_one(const struct proc_row *p, void *ctx)
{
	struct tagged *tg = ctx;
	char name[16];
	struct stat st;

	snprintf(name, sizeof name, "%d", (int)p->pid);
	/* Only processes of our own user: the tag is a claim only those could make for us. */
	if (p->state != 'Z' && p->pid != getpid() && fstatat(tg->procfd, name, &st, 0) == 0 &&
	    st.st_uid == tg->uid && environ_has(tg, p->pid) && kill(p->pid, SIGKILL) == 0)
		tg->found++;
	return 0;
}

/*
 * The processes of t's command that no tree reaches any more: a setsid
 * child of a hand-started worker killed outright went to init. Found by
 * the tag its environment was given (exec.c). A process can drop it only
 * by exec'ing with an environment of its own making: containment against
 * a command that means to escape needs a cgroup (see the top of this file).
 */
static int kill_tagged(const struct task *t)
{
	char var[160];
	struct tagged tg = { .var = var, .uid = geteuid() };

	memcpy(var, FENCE_TAG_VAR "=", sizeof FENCE_TAG_VAR);
	if (D == NULL || fence_tag(D->data.fd, t->id, var + sizeof FENCE_TAG_VAR,
	    sizeof var - sizeof FENCE_TAG_VAR) < 0)
		return 0;
	tg.len = strlen(var) + 1;
	if ((tg.procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	proc_each(kill_tagged_one, &tg);
	close(tg.procfd);
	return tg.found;
}

/*
 * One pass: SIGKILLs t's group while its recorded leader leads it and
 * whatever runs below its recorded worker; returns how many still ran.
 * The worker runs one task at a time, so whatever runs below it is this
 * task's, also what left the group with setsid and came back to the
 * worker as an orphan. A worker that died left them to depotd instead
 * (supervisor.c) or, started by hand, to its own subreaper: only the group
 * reaches those.
 */
static int fence_pass(const struct task *t)
{
	struct proc_row p;
	int n = 0;

	/* Without its detail it waited all along (one put back keeps it): nothing of it ever ran. */
	if (t->d == NULL)
		return 0;
	/* t->pgid is set only once verified as the worker's (workerproto.c). */
	if (t->d->pgid > 1 && group_unchanged(t->d->pgid, t->d->pgid_start) && kill(-t->d->pgid, SIGKILL) == 0)
		n++;
	/*
	 * While its worker lives, everything of the task is below it (a
	 * subreaper); only once it is gone does reading every process's
	 * environment for the tag pay.
	 */
	if (t->d->worker_pid > 1 && t->d->worker_pid != getpid() && t->d->worker_start != 0 &&
	    proc_unchanged(t->d->worker_pid, t->d->worker_start, &p))
		return n + kill_descendants(t->d->worker_pid);
	return n + kill_tagged(t);
}

int fence_gone(const struct task *t)
{
	return fence_pass(t) == 0;
}

void fence_task(struct task *t)
{
	int64_t deadline = time_mono_ms() + FENCE_DESCENDANTS_MS;
	struct timespec ms = { 0, 1000000 };

	if (t->d != NULL)
		t->d->fenced = 1;
	while (fence_pass(t) > 0) {
		if (time_mono_ms() > deadline) {
			log_error("task %lld: its processes survive SIGKILL (below worker pid %d, "
			    "group %d); its reservations stay held until they are gone",
			    (long long)t->id, (int)t->d->worker_pid, (int)t->d->pgid);
			t->d->fence_pending = 1;
			return;
		}
		nanosleep(&ms, NULL);
	}
}
