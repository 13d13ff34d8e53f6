/* loop.c: the main thread's event queue; nng callbacks push, the main thread handles in order. */
#include "depotd.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct queued {
	struct loop_event ev;
	struct queued *next;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct queued *queue_head, *queue_tail;
static int wake_fd = -1, signal_fd = -1;

static void handle_signals(void);

/*
 * Must run before nng starts its threads: they inherit this mask, so the
 * signals reach only the signalfd read by the main thread.
 */
int loop_init(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return wake_fd < 0 || signal_fd < 0 ? -1 : 0;
}

static void push(struct queued *q)
{
	uint64_t one = 1;

	q->next = NULL;
	pthread_mutex_lock(&queue_lock);
	if (queue_tail)
		queue_tail->next = q;
	else
		queue_head = q;
	queue_tail = q;
	pthread_mutex_unlock(&queue_lock);
	if (write(wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("waking the main loop: %m");
}

/* Called from nng's threads: only the queue is shared, under its mutex. */
void loop_push(struct conn *conn, nng_msg *msg)
{
	struct queued *q = calloc(1, sizeof *q);

	if (q == NULL) {
		/* Dropping the request leaves its client to time out; nothing else breaks. */
		nng_msg_free(msg);
		return;
	}
	q->ev.conn = conn;
	q->ev.msg = msg;
	push(q);
}

/* From nng's pipe callback; through the same queue, so it follows the requests already pushed. */
void loop_push_pipe_gone(struct server *srv, uint32_t pipe_id)
{
	struct queued *q = calloc(1, sizeof *q);

	if (q == NULL) {
		log_warn("out of memory: a closed client's waiting requests stay until answered");
		return;
	}
	q->ev.srv = srv;
	q->ev.pipe_id = pipe_id;
	push(q);
}

static void drain_queue(void)
{
	struct queued *q;
	uint64_t n;

	if (read(wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("reading wake-up: %m");
	for (;;) {
		pthread_mutex_lock(&queue_lock);
		q = queue_head;
		if (q) {
			queue_head = q->next;
			if (queue_head == NULL)
				queue_tail = NULL;
		}
		pthread_mutex_unlock(&queue_lock);
		if (q == NULL)
			return;
		if (q->ev.conn != NULL)
			server_dispatch(q->ev.conn, q->ev.msg);
		else
			server_pipe_gone(q->ev.srv, q->ev.pipe_id);
		free(q);
	}
}

static void handle_signals(void)
{
	struct signalfd_siginfo si;

	while (read(signal_fd, &si, sizeof si) == sizeof si) {
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

void loop_run_once(int timeout_ms)
{
	struct pollfd fds[2] = {
		{ .fd = wake_fd, .events = POLLIN },
		{ .fd = signal_fd, .events = POLLIN },
	};

	if (poll(fds, 2, timeout_ms) < 0) {
		if (errno != EINTR)
			log_warn("poll: %m");
		return;
	}
	if (fds[1].revents & POLLIN)
		handle_signals();
	if (fds[0].revents & POLLIN)
		drain_queue();
}

void loop_fini(void)
{
	struct queued *q;

	while ((q = queue_head) != NULL) {
		queue_head = q->next;
		if (q->ev.msg != NULL)
			nng_msg_free(q->ev.msg);
		free(q);
	}
	queue_tail = NULL;
	if (wake_fd >= 0)
		close(wake_fd);
	if (signal_fd >= 0)
		close(signal_fd);
}
