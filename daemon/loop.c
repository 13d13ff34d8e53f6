/* loop.c: the main thread's wait: signals and the server's sockets in one epoll set, handled in turn. */
#include "depotd.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Events taken per wait; more wait for the next turn, which comes at once. */
#define LOOP_EVENTS 64

static int epoll_fd = -1;
static struct loop_watch signals;
/* Watches to call at the next turn without an event: work they left for later. */
static struct loop_watch *kicked, *kicks_running;

static void handle_signals(struct loop_watch *w, uint32_t events);

/*
 * Must run before nng starts its threads: they inherit this mask, so the
 * signals reach only the signalfd read by the main thread.
 */
int loop_init(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (epoll_fd < 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return loop_watch_add(&signals, fd, EPOLLIN, handle_signals);
}

int loop_watch_add(struct loop_watch *w, int fd, uint32_t events, loop_watch_fn fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->kicked = 0;
	w->next_kicked = NULL;
	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void loop_watch_set(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->events == events)
		return;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		log_warn("epoll_ctl: %m");
	else
		w->events = events;
}

void loop_watch_kick(struct loop_watch *w)
{
	if (w->kicked)
		return;
	w->kicked = 1;
	w->next_kicked = kicked;
	kicked = w;
}

/* Takes w off whichever kick list holds it: the next turn's, or the one this turn runs. */
static void unkick(struct loop_watch *w)
{
	struct loop_watch **lists[] = { &kicked, &kicks_running };

	for (size_t i = 0; i < 2 && w->kicked; i++)
		for (struct loop_watch **pp = lists[i]; *pp; pp = &(*pp)->next_kicked)
			if (*pp == w) {
				*pp = w->next_kicked;
				w->kicked = 0;
				break;
			}
	w->kicked = 0;
	w->next_kicked = NULL;
}

void loop_watch_del(struct loop_watch *w)
{
	unkick(w);
	if (w->fd >= 0 && epoll_ctl(epoll_fd, EPOLL_CTL_DEL, w->fd, NULL) < 0)
		log_warn("epoll_ctl: %m");
}

static void handle_signals(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			supervisor_reap();
			break;
		case SIGTERM:
		case SIGINT:
			if (!D->stopping) {
				log_info("signal %d: stopping (running tasks get %lld ms)",
				    (int)si.ssi_signo, (long long)D->cfg.cancel_grace_ms);
				D->stopping = 1;
			}
			break;
		case SIGHUP:
			reload_request();
			break;
		default:
			break;
		}
	}
}

/*
 * A callback may end (and free) only its own watch: each watch is in the
 * ready list once, so no later entry of this turn points at freed memory.
 */
void loop_run_once(int timeout_ms)
{
	struct epoll_event evs[LOOP_EVENTS];
	int n;

	n = epoll_wait(epoll_fd, evs, LOOP_EVENTS, kicked != NULL ? 0 : timeout_ms);
	if (n < 0 && errno != EINTR)
		log_warn("epoll_wait: %m");
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		/* A watch kicked and ready at once is called once, for its event. */
		unkick(w);
		w->fn(w, evs[i].events);
	}
	/* Those kicked before or during this turn; a kick now is for the next. */
	kicks_running = kicked;
	kicked = NULL;
	while (kicks_running != NULL) {
		struct loop_watch *w = kicks_running;

		kicks_running = w->next_kicked;
		w->kicked = 0;
		w->next_kicked = NULL;
		w->fn(w, 0);
	}
}

void loop_fini(void)
{
	if (signals.fd >= 0) {
		loop_watch_del(&signals);
		close(signals.fd);
		signals.fd = -1;
	}
	if (epoll_fd >= 0)
		close(epoll_fd);
	epoll_fd = -1;
}
