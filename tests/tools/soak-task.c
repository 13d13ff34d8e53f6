/*
 * soak-task.c: the command every task of the soak test runs (tests/soak/soak).
 * It writes what really ran into a trace file, one line a fact, so that the
 * judge (tests/soak/judge) decides from the processes' own account rather
 * than the daemon's:
 *
 *   start TOKEN TASK PID NS PPID     first thing, before anything else is done
 *   beat  TOKEN TASK PID NS          every 20 ms while alive
 *   end   TOKEN TASK PID NS HOW      last thing: HOW is exit or term (SIGTERM)
 *   cstart / cbeat / cend            the same from its setsid child, if any
 *
 * NS is CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
 * machine, never stepped by NTP or by hand, unlike date +%s%N or bash's
 * EPOCHREALTIME (wall clock), and finer than /proc/uptime's 10 ms. A process
 * that is SIGKILLed writes no end: its last beat bounds its life, which it
 * then outlived by at most one beat period plus scheduling delay (the judge's
 * blind spot for killed processes, stated there).
 *
 * TASK is the task id, read as the operating system shows it: the
 * DEPOT_TASK_TAG=DEV.INO.TASK the worker puts in every command's environment
 * (daemon/fence.c), or else the DIR/logs/TASK.log its parent holds open (a
 * task's log is made at its first byte of output, so not always). "?" when
 * neither names it.
 *
 * Each line is one write(2) to a file opened O_APPEND, so lines of processes
 * writing at once never interleave.
 *
 * usage: soak-task [-c CHILD_MS [-D]] [-T] [-x STATUS] TRACE TOKEN MS
 *          run MS milliseconds; -c: first fork a child that leaves the
 *          process group with setsid(2) (-D: through a double fork, as a
 *          daemon does) and lives CHILD_MS, heartbeating; -T: ignore SIGTERM
 *          (the child inherits that), so only SIGKILL stops it; -x: exit
 *          with STATUS instead of 0.
 *        soak-task now
 *          print CLOCK_MONOTONIC in nanoseconds (the driver's clock for
 *          its own events, comparable with the trace's).
 *
 * No sanitizer: this is not depot's code, and it runs thousands of times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define BEAT_NS 20000000LL

static int trace_fd = -1;
static const char *token = "?";
static char task[24] = "?";
static const char *prefix = "";	/* "" for the command, "c" for its child */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Async-signal-safe: the SIGTERM handler writes the end line with it. */
static char *put_str(char *p, char *end, const char *s)
{
	while (*s != '\0' && p < end)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, char *end, int64_t v)
{
	char digits[24];
	int n = 0;

	if (v < 0) {
		if (p < end)
			*p++ = '-';
		v = -v;
	}
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0 && n < (int)sizeof digits);
	while (n > 0 && p < end)
		*p++ = digits[--n];
	return p;
}

/* "<prefix>KIND TOKEN TASK PID NS[ EXTRA]\n", one write. */
static void trace(const char *kind, int64_t ns, const char *extra, int64_t extra_num)
{
	char buf[256], *p = buf, *end = buf + sizeof buf - 1;

	p = put_str(p, end, prefix);
	p = put_str(p, end, kind);
	p = put_str(p, end, " ");
	p = put_str(p, end, token);
	p = put_str(p, end, " ");
	p = put_str(p, end, task);
	p = put_str(p, end, " ");
	p = put_num(p, end, getpid());
	p = put_str(p, end, " ");
	p = put_num(p, end, ns);
	if (extra != NULL) {
		p = put_str(p, end, " ");
		p = put_str(p, end, extra);
	} else if (extra_num >= 0) {
		p = put_str(p, end, " ");
		p = put_num(p, end, extra_num);
	}
	*p++ = '\n';
	if (write(trace_fd, buf, (size_t)(p - buf)) < 0)
		_exit(70);
}

static void on_term(int sig)
{
	(void)sig;
	trace("end", mono_ns(), "term", -1);
	_exit(143);
}

/* The task id from DEPOT_TASK_TAG, or else the parent's open DIR/logs/ID.log; stays "?" if none. */
static void find_task(pid_t parent)
{
	const char *tag = getenv("DEPOT_TASK_TAG"), *id;
	char dir[64], target[4096];
	struct dirent *d;
	DIR *fds;

	if (tag != NULL && (id = strrchr(tag, '.')) != NULL && id[1] != '\0' &&
	    strspn(id + 1, "0123456789") == strlen(id + 1) && strlen(id + 1) < sizeof task) {
		strcpy(task, id + 1);
		return;
	}
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)parent);
	if ((fds = opendir(dir)) == NULL)
		return;
	while ((d = readdir(fds)) != NULL) {
		ssize_t n;
		char *slash, *dot;

		if (d->d_name[0] == '.')
			continue;
		if ((n = readlinkat(dirfd(fds), d->d_name, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		/* .../logs/123.log */
		if ((slash = strrchr(target, '/')) == NULL || slash - target < 5 ||
		    strncmp(slash - 5, "/logs", 5) != 0)
			continue;
		dot = slash + 1 + strspn(slash + 1, "0123456789");
		if (dot == slash + 1 || strcmp(dot, ".log") != 0 ||
		    (size_t)(dot - slash - 1) >= sizeof task)
			continue;
		memcpy(task, slash + 1, (size_t)(dot - slash - 1));
		task[dot - slash - 1] = '\0';
		break;
	}
	closedir(fds);
}

/* Heartbeats until MS have passed since t0. */
static void live(int64_t t0, int64_t ms)
{
	int64_t until = t0 + ms * 1000000LL, next = t0 + BEAT_NS, now;

	while ((now = mono_ns()) < until) {
		struct timespec ts;
		int64_t at = next < until ? next : until;

		ts.tv_sec = at / 1000000000LL;
		ts.tv_nsec = at % 1000000000LL;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (at == next) {
			trace("beat", mono_ns(), NULL, -1);
			next += BEAT_NS;
		}
	}
}

static void child(int64_t ms, int double_fork)
{
	pid_t pid;

	if (double_fork) {
		/* The middle process leaves at once: the grandchild is an orphan. */
		if ((pid = fork()) < 0)
			_exit(1);
		if (pid > 0)
			_exit(0);
	}
	setsid();
	prefix = "c";
	trace("start", mono_ns(), NULL, getppid());
	live(mono_ns(), ms);
	trace("end", mono_ns(), "exit", -1);
	_exit(0);
}

static int usage(void)
{
	fprintf(stderr, "usage: soak-task [-c CHILD_MS [-D]] [-T] [-x STATUS] TRACE TOKEN MS\n"
	    "       soak-task now\n");
	return 2;
}

int main(int argc, char **argv)
{
	int64_t t0 = mono_ns(), child_ms = -1, ms;
	int opt, double_fork = 0, ignore_term = 0, status = 0;
	pid_t parent = getppid(), pid;
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t term;

	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		printf("%lld\n", (long long)t0);
		return 0;
	}
	while ((opt = getopt(argc, argv, "c:DTx:")) != -1) {
		switch (opt) {
		case 'c': child_ms = atoll(optarg); break;
		case 'D': double_fork = 1; break;
		case 'T': ignore_term = 1; break;
		case 'x': status = atoi(optarg); break;
		default: return usage();
		}
	}
	if (argc - optind != 3)
		return usage();
	token = argv[optind + 1];
	ms = atoll(argv[optind + 2]);
	if ((trace_fd = open(argv[optind], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		perror(argv[optind]);
		return 70;
	}
	/* Before the trace's first line: a SIGTERM from now on writes its end. */
	sigemptyset(&sa.sa_mask);
	if (ignore_term)
		signal(SIGTERM, SIG_IGN);
	else
		sigaction(SIGTERM, &sa, NULL);
	find_task(parent);
	trace("start", t0, NULL, parent);
	if (child_ms >= 0) {
		if ((pid = fork()) == 0)
			child(child_ms, double_fork);
		/* Reaped only when the middle process of a double fork left. */
		while (pid > 0 && double_fork && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	live(t0, ms);
	/* Blocked, so that a SIGTERM now cannot write a second end. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	trace("end", mono_ns(), "exit", -1);
	return status;
}
