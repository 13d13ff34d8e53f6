/* spwire.c: the client side of nng's REQ0 and SUB0 protocols over ipc://, without nng and without threads. */
#include "spwire.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * The wire, as nng 1.5 speaks it:
 * - src/sp/transport/ipc/ipc.c, ipc_pipe_start and ipc_pipe_neg_cb: on
 *   connecting, each side sends 8 bytes, 0x00 'S' 'P' 0x00, its protocol
 *   id (16 bits, big-endian), two zero bytes; any other header ends the
 *   connection (NNG_EPROTO). The listener sends first, then reads ours.
 * - same file, ipc_pipe_send_start and ipc_pipe_recv_cb: each message is
 *   a type byte (1), its length (64 bits, big-endian), then its bytes. A
 *   length over the receiver's maximum closes the connection
 *   (NNG_EMSGSIZE): that is how depotd refuses a request over max_message.
 * - src/sp/protocol/reqrep0/req.c: REQ0 puts a 32-bit request id, high
 *   bit set, in front of the body (req0_ctx_send; ids are drawn from
 *   0x80000000..0xffffffff); REP0 (rep.c) echoes it in front of the reply;
 *   REQ0 drops a reply whose id is not one it waits for (req0_recv_cb).
 * - src/sp/protocol/pubsub0/pub.c and sub.c: PUB0 sends bodies as they
 *   are; SUB0 keeps those that start with a subscribed topic, on its own
 *   side (sub0_recv_cb).
 * - Protocol ids: NNI_PROTO(major, minor) = major * 16 + minor
 *   (src/core/protocol.h); REQ0 0x30, REP0 0x31, PUB0 0x20, SUB0 0x21.
 */
#define SP_PROTO_PUB0	0x20
#define SP_PROTO_SUB0	0x21
#define SP_PROTO_REQ0	0x30
#define SP_PROTO_REP0	0x31
#define SP_REQ_ID_BIT	0x80000000u

/* nng's dialer options the SUB sockets had (NNG_OPT_RECONNMINT, RECONNMAXT). */
#define SP_BACKOFF_MIN_MS	50
#define SP_BACKOFF_MAX_MS	1000
/* A buffer grown for one large message is given back after it: lists are occasional. */
#define SP_BUF_KEEP		((size_t)1 << 20)
/* A message's buffer starts at most this large and doubles as its bytes arrive. */
#define SP_BUF_FIRST		((size_t)64 << 10)

enum sp_read {
	SP_READ_MSG = 1,	/* a whole message is in buf[0..got) */
	SP_READ_AGAIN = 0,	/* nothing more to read now */
	SP_READ_EOF = -1,	/* the connection ended; err says how */
	SP_READ_BAD = -2,	/* the peer broke the protocol; err says how */
};

struct sp_topic {
	char *text;
	size_t len;
};

struct sp_sock {
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	uint16_t self, peer;
	int fd;			/* -1 while not connected */
	uint8_t head[8];	/* the peer's connection header, head_got bytes of it so far */
	int head_unsent;	/* REQ: our header goes out with the first request */
	size_t head_got;
	uint8_t frame[9];	/* the current message's type and length */
	size_t frame_got;
	uint64_t want;		/* its length, once frame is whole */
	char *buf;		/* its bytes, got of them so far */
	size_t cap, got;
	int msg_done;		/* buf holds a message handed out: the next call starts afresh */
	uint32_t id;		/* REQ: the request in flight */
	struct sp_topic *topics;
	size_t ntopics;
	unsigned connects, losses;
	int backoff_ms;
	int64_t next_dial;
};

static int64_t sp_now_ms(void);
static int sp_remaining(int64_t deadline);
static int sp_open(struct sp_sock **out, const char *url, uint16_t self, uint16_t peer,
    char *err, size_t errlen);
static void sp_drop(struct sp_sock *s);
static void sp_next_message(struct sp_sock *s);
static enum sp_status sp_dial(struct sp_sock *s, int64_t deadline, char *err, size_t errlen);
static int sp_check_head(struct sp_sock *s, char *err, size_t errlen);
static int sp_check_frame(struct sp_sock *s, char *err, size_t errlen);
static enum sp_read sp_advance(struct sp_sock *s, char *err, size_t errlen);
static int sp_wait(int fd, short events, int ms);
static enum sp_status sp_req_send(struct sp_sock *s, const void *body, size_t len,
    int64_t deadline, int *nothing_sent, char *err, size_t errlen);
static void sp_req_drain(struct sp_sock *s);
static int sp_req_drain_bad(struct sp_sock *s, char *err, size_t errlen);
static int sp_sub_wanted(const struct sp_sock *s, const char *msg, size_t len);
static void sp_sub_redial_later(struct sp_sock *s, int64_t now);

static int64_t sp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds to deadline for poll(): -1 when there is none, 0 when it has passed. */
static int sp_remaining(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - sp_now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int sp_open(struct sp_sock **out, const char *url, uint16_t self, uint16_t peer,
    char *err, size_t errlen)
{
	struct sp_sock *s;
	const char *path;

	*out = NULL;
	if (strncmp(url, "ipc://", 6) != 0 || url[6] == '\0') {
		snprintf(err, errlen, "'%s' is not an ipc:// address", url);
		return -1;
	}
	path = url + 6;
	if (strlen(path) >= sizeof s->path) {
		snprintf(err, errlen, "socket path '%s' is longer than the %zu bytes a Unix "
		    "socket allows", path, sizeof s->path - 1);
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	strcpy(s->path, path);
	s->self = self;
	s->peer = peer;
	s->fd = -1;
	s->backoff_ms = SP_BACKOFF_MIN_MS;
	/* Like nng, a random first id: a restarted client does not reuse its predecessor's. */
	s->id = (uint32_t)getpid() * 2654435761u ^ (uint32_t)sp_now_ms();
	*out = s;
	return 0;
}

/* Closes the connection and forgets what was half read from it. */
static void sp_drop(struct sp_sock *s)
{
	if (s->fd < 0)
		return;
	if (s->head_got == sizeof s->head)
		s->losses++;
	close(s->fd);
	s->fd = -1;
	s->head_got = 0;
	sp_next_message(s);
}

/* Forgets the current message, handed out or half read. */
static void sp_next_message(struct sp_sock *s)
{
	s->frame_got = 0;
	s->want = 0;
	s->got = 0;
	s->msg_done = 0;
	if (s->cap > SP_BUF_KEEP) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

/*
 * Connects and sends our header; the peer's is read with the messages
 * (sp_advance). A Unix socket connects at once or not at all, but for a
 * full backlog (EAGAIN), which is waited out until deadline (negative: not
 * at all).
 */
static enum sp_status sp_dial(struct sp_sock *s, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	uint8_t head[8] = { 0x00, 'S', 'P', 0x00, (uint8_t)(s->self >> 8),
	    (uint8_t)s->self, 0, 0 };
	int fd, rc, ms = deadline < 0 ? 0 : sp_remaining(deadline);

	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: socket: %s", s->path,
		    strerror(errno));
		return SP_ERROR;
	}
	while ((rc = connect(fd, (struct sockaddr *)&sun, sizeof sun)) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && deadline >= 0 && sp_remaining(deadline) > 0) {
			poll(NULL, 0, 5);
			continue;
		}
		if (errno == EINPROGRESS && sp_wait(fd, POLLOUT, ms) > 0) {
			socklen_t l = sizeof rc;

			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &l) == 0 && rc == 0)
				break;
			errno = rc != 0 ? rc : ETIMEDOUT;
		}
		snprintf(err, errlen, "cannot connect to %s: %s", s->path, strerror(errno));
		close(fd);
		return SP_UNREACHABLE;
	}
	/*
	 * A REQ socket's header goes in one write with its first request
	 * (sp_req_send): the daemon, woken by the connection, finds both.
	 * Eight bytes into an empty socket buffer: a short write cannot happen.
	 */
	if (s->self == SP_PROTO_REQ0)
		s->head_unsent = 1;
	else if (send(fd, head, sizeof head, MSG_NOSIGNAL) != (ssize_t)sizeof head) {
		snprintf(err, errlen, "cannot connect to %s: %s", s->path, strerror(errno));
		close(fd);
		return SP_UNREACHABLE;
	}
	s->fd = fd;
	s->head_got = 0;
	sp_next_message(s);
	return SP_OK;
}

static int sp_check_head(struct sp_sock *s, char *err, size_t errlen)
{
	const uint8_t *h = s->head;
	uint16_t proto = (uint16_t)(h[4] << 8 | h[5]);

	if (h[0] != 0 || h[1] != 'S' || h[2] != 'P' || h[3] != 0 || h[6] != 0 || h[7] != 0) {
		snprintf(err, errlen, "%s is not an nng socket: its connection header is "
		    "%02x %02x %02x %02x %02x %02x %02x %02x", s->path,
		    h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
		return -1;
	}
	if (proto != s->peer) {
		snprintf(err, errlen, "%s speaks nng protocol 0x%02x, not 0x%02x (%s)",
		    s->path, proto, s->peer, s->peer == SP_PROTO_REP0 ? "REP0" : "PUB0");
		return -1;
	}
	return 0;
}

static int sp_check_frame(struct sp_sock *s, char *err, size_t errlen)
{
	uint64_t len = 0;

	for (int i = 1; i < 9; i++)
		len = len << 8 | s->frame[i];
	if (s->frame[0] != 1) {
		snprintf(err, errlen, "%s sent a message of type %u, not 1", s->path,
		    s->frame[0]);
		return -1;
	}
	if (len > SP_MAX_MESSAGE) {
		snprintf(err, errlen, "%s announced a %llu-byte message, more than the "
		    "%zu bytes accepted", s->path, (unsigned long long)len, SP_MAX_MESSAGE);
		return -1;
	}
	s->want = len;
	return 0;
}

/*
 * Reads what has arrived, up to the end of the next message: the peer's
 * header first, then each message's frame and bytes. The buffer grows with
 * the bytes that came, not with the length announced.
 */
static enum sp_read sp_advance(struct sp_sock *s, char *err, size_t errlen)
{
	if (s->msg_done)
		sp_next_message(s);
	for (;;) {
		uint8_t *dst;
		size_t n;
		ssize_t r;

		if (s->head_got < sizeof s->head) {
			dst = s->head + s->head_got;
			n = sizeof s->head - s->head_got;
		} else if (s->frame_got < sizeof s->frame) {
			dst = s->frame + s->frame_got;
			n = sizeof s->frame - s->frame_got;
		} else if (s->got == s->want) {
			s->msg_done = 1;
			return SP_READ_MSG;
		} else {
			if (s->got == s->cap) {
				size_t cap = s->cap < SP_BUF_FIRST / 2 ? SP_BUF_FIRST : s->cap * 2;
				char *b;

				if (cap > s->want)
					cap = (size_t)s->want;
				if ((b = realloc(s->buf, cap)) == NULL) {
					snprintf(err, errlen, "out of memory for a %llu-byte "
					    "message from %s", (unsigned long long)s->want,
					    s->path);
					return SP_READ_BAD;
				}
				s->buf = b;
				s->cap = cap;
			}
			dst = (uint8_t *)s->buf + s->got;
			n = (s->cap < s->want ? s->cap : (size_t)s->want) - s->got;
		}
		r = read(s->fd, dst, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return SP_READ_AGAIN;
		if (r <= 0) {
			snprintf(err, errlen, "%s: %s", s->path, r == 0 ?
			    "the connection closed" : strerror(errno));
			return SP_READ_EOF;
		}
		if (s->head_got < sizeof s->head) {
			s->head_got += (size_t)r;
			if (s->head_got == sizeof s->head) {
				if (sp_check_head(s, err, errlen) != 0)
					return SP_READ_BAD;
				s->connects++;
				s->backoff_ms = SP_BACKOFF_MIN_MS;
			}
		} else if (s->frame_got < sizeof s->frame) {
			s->frame_got += (size_t)r;
			if (s->frame_got == sizeof s->frame && sp_check_frame(s, err, errlen) != 0)
				return SP_READ_BAD;
		} else
			s->got += (size_t)r;
	}
}

/* poll() on one descriptor: >0 ready, 0 timed out, -1 interrupted. */
static int sp_wait(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc = poll(&p, 1, ms);

	return rc < 0 ? -1 : rc;
}

int sp_req_open(struct sp_sock **out, const char *url, char *err, size_t errlen)
{
	return sp_open(out, url, SP_PROTO_REQ0, SP_PROTO_REP0, err, errlen);
}

/* Reads what came on an idle connection: late replies are dropped, a closed one is closed here too. */
static void sp_req_drain(struct sp_sock *s)
{
	char err[256];
	enum sp_read r;

	while (s->fd >= 0 && (r = sp_advance(s, err, sizeof err)) != SP_READ_AGAIN)
		if (r != SP_READ_MSG)
			sp_drop(s);
}

/* Reads what the peer sent before it closed: 1 with err when its header broke the protocol. */
static int sp_req_drain_bad(struct sp_sock *s, char *err, size_t errlen)
{
	char why[256];
	enum sp_read r;

	while ((r = sp_advance(s, why, sizeof why)) == SP_READ_MSG)
		;
	if (r != SP_READ_BAD)
		return 0;
	snprintf(err, errlen, "%s", why);
	return 1;
}

/*
 * Writes one request whole, by deadline. *nothing_sent tells the caller
 * that not one byte left: the daemon cannot have seen the request.
 */
static enum sp_status sp_req_send(struct sp_sock *s, const void *body, size_t len,
    int64_t deadline, int *nothing_sent, char *err, size_t errlen)
{
	uint64_t total = (uint64_t)len + 4;
	uint8_t head[8 + 13] = { 0x00, 'S', 'P', 0x00, (uint8_t)(s->self >> 8), (uint8_t)s->self };
	size_t skip = s->head_unsent ? 0 : 8;
	struct iovec iov[2] = { { head + skip, sizeof head - skip }, { (void *)body, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t left = sizeof head - skip + len;

	head[8] = 1;
	for (int i = 0; i < 8; i++)
		head[9 + i] = (uint8_t)(total >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		head[17 + i] = (uint8_t)(s->id >> (24 - 8 * i));
	*nothing_sent = 1;
	while (left > 0) {
		ssize_t w = sendmsg(s->fd, &mh, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (sp_wait(s->fd, POLLOUT, sp_remaining(deadline)) != 0)
				continue;
			snprintf(err, errlen, "sending to %s: not written in %d ms", s->path,
			    SP_SEND_TIMEOUT_MS);
			sp_drop(s);
			return SP_LOST;
		}
		if (w < 0) {
			snprintf(err, errlen, "sending to %s: %s", s->path, strerror(errno));
			/* A peer that is not REP0 closes at once: its header says why. */
			if (*nothing_sent && sp_req_drain_bad(s, err, errlen)) {
				sp_drop(s);
				return SP_ERROR;
			}
			sp_drop(s);
			return SP_LOST;
		}
		*nothing_sent = 0;
		s->head_unsent = 0;
		left -= (size_t)w;
		while (mh.msg_iovlen > 0 && (size_t)w >= mh.msg_iov->iov_len) {
			w -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + w;
			mh.msg_iov->iov_len -= (size_t)w;
		}
	}
	return SP_OK;
}

/*
 * The request goes right behind our header, without waiting for the
 * daemon's: nng reads the header, then the messages queued behind it
 * (ipc_pipe_neg_cb reads 8 bytes exactly), and one wait for the daemon
 * is one scheduling delay less on a loaded machine. Until the daemon's
 * header has come, it has read nothing of the request: an end then is
 * "cannot connect", as it is for a socket nobody listens on.
 */
enum sp_status sp_req_call(struct sp_sock *s, const void *body, size_t len, int timeout_ms,
    const char **reply, size_t *rlen, char *err, size_t errlen)
{
	int64_t send_deadline = sp_now_ms() + SP_SEND_TIMEOUT_MS, deadline;
	enum sp_status st;
	int nothing_sent, tries = 0;

	*reply = NULL;
	*rlen = 0;
	do {
		/* A daemon gone since the last request left an end of file: dial afresh. */
		sp_req_drain(s);
		if (s->fd < 0 && (st = sp_dial(s, send_deadline, err, errlen)) != SP_OK)
			return st;
		s->id = (s->id + 1) | SP_REQ_ID_BIT;
		st = sp_req_send(s, body, len, send_deadline, &nothing_sent, err, errlen);
		/*
		 * Going between the drain and the send, the daemon saw none of
		 * this request: sending it on a new connection is not resending.
		 */
	} while (st == SP_LOST && nothing_sent && ++tries < 2);
	if (st == SP_LOST && nothing_sent) {
		snprintf(err, errlen, "cannot connect to %s: the connection closed "
		    "before the daemon's header", s->path);
		return SP_UNREACHABLE;
	}
	if (st != SP_OK)
		return st;
	deadline = timeout_ms < 0 ? -1 : sp_now_ms() + timeout_ms;
	for (;;) {
		enum sp_read r = sp_advance(s, err, errlen);
		int connected = s->head_got == sizeof s->head, wait;

		if (r == SP_READ_MSG) {
			const uint8_t *p = (const uint8_t *)s->buf;

			if (s->got >= 4 && ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3]) == s->id) {
				*reply = s->buf + 4;
				*rlen = s->got - 4;
				return SP_OK;
			}
			continue;	/* a late reply to an earlier request */
		}
		if (r == SP_READ_AGAIN) {
			wait = sp_remaining(deadline);
			/* The daemon's header, like the request's sending, comes within 5 s. */
			if (!connected && (wait < 0 || wait > sp_remaining(send_deadline)))
				wait = sp_remaining(send_deadline);
			if (sp_wait(s->fd, POLLIN, wait) != 0)
				continue;
			if (connected || sp_remaining(deadline) == 0) {
				snprintf(err, errlen, "no reply from %s: timed out after %d ms",
				    s->path, timeout_ms);
				return SP_TIMEOUT;
			}
			snprintf(err, errlen, "cannot connect to %s: no answer to the "
			    "connection in %d ms", s->path, SP_SEND_TIMEOUT_MS);
			sp_drop(s);
			return SP_UNREACHABLE;
		}
		sp_drop(s);
		if (r == SP_READ_EOF && !connected) {
			snprintf(err, errlen, "cannot connect to %s: the connection closed "
			    "before the daemon's header", s->path);
			return SP_UNREACHABLE;
		}
		return r == SP_READ_EOF ? SP_LOST : SP_ERROR;
	}
}

int sp_sub_open(struct sp_sock **out, const char *url, const char *const *topics,
    size_t ntopics, char *err, size_t errlen)
{
	struct sp_sock *s;
	char ignored[256];

	if (sp_open(&s, url, SP_PROTO_SUB0, SP_PROTO_PUB0, err, errlen) != 0)
		return -1;
	if (ntopics > 0 && (s->topics = calloc(ntopics, sizeof *s->topics)) == NULL) {
		sp_close(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < ntopics; i++) {
		s->topics[i].len = strlen(topics[i]);
		if ((s->topics[i].text = strdup(topics[i])) == NULL) {
			sp_close(s);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->ntopics++;
	}
	/* Connected from the start when the daemon is there; else sp_sub_recv dials again. */
	if (sp_dial(s, -1, ignored, sizeof ignored) != SP_OK)
		sp_sub_redial_later(s, sp_now_ms());
	*out = s;
	return 0;
}

static int sp_sub_wanted(const struct sp_sock *s, const char *msg, size_t len)
{
	if (s->ntopics == 0)
		return 1;
	for (size_t i = 0; i < s->ntopics; i++)
		if (len >= s->topics[i].len && memcmp(msg, s->topics[i].text, s->topics[i].len) == 0)
			return 1;
	return 0;
}

static void sp_sub_redial_later(struct sp_sock *s, int64_t now)
{
	s->next_dial = now + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > SP_BACKOFF_MAX_MS ? SP_BACKOFF_MAX_MS :
	    s->backoff_ms * 2;
}

enum sp_status sp_sub_recv(struct sp_sock *s, int timeout_ms, const char **msg, size_t *len,
    char *err, size_t errlen)
{
	int64_t deadline = timeout_ms < 0 ? -1 : sp_now_ms() + timeout_ms;
	char why[256];

	*msg = NULL;
	*len = 0;
	for (;;) {
		enum sp_read r;
		int w;

		if (s->fd < 0) {
			int64_t now = sp_now_ms();

			if (now >= s->next_dial) {
				enum sp_status st = sp_dial(s, -1, why, sizeof why);

				if (st == SP_ERROR) {
					snprintf(err, errlen, "%s", why);
					return SP_ERROR;
				}
				if (st != SP_OK)
					sp_sub_redial_later(s, now);
			}
			if (s->fd < 0) {
				int64_t wait = s->next_dial - now;
				int left = sp_remaining(deadline);

				if (left == 0)
					return SP_TIMEOUT;
				if (left > 0 && left < wait)
					wait = left;
				if (wait > 0 && poll(NULL, 0, (int)wait) < 0)
					return SP_TIMEOUT;
				continue;
			}
		}
		r = sp_advance(s, why, sizeof why);
		if (r == SP_READ_MSG) {
			/* Every event has a topic: an empty message is none of ours. */
			if (s->got == 0 || !sp_sub_wanted(s, s->buf, s->got))
				continue;
			*msg = s->buf;
			*len = s->got;
			return SP_OK;
		}
		if (r == SP_READ_AGAIN) {
			if ((w = sp_wait(s->fd, POLLIN, sp_remaining(deadline))) > 0)
				continue;
			return SP_TIMEOUT;
		}
		/* A daemon that stops, or a peer that is not PUB0: like nng, dial again. */
		sp_drop(s);
		sp_sub_redial_later(s, sp_now_ms());
	}
}

unsigned sp_sub_connects(const struct sp_sock *s)
{
	return s->connects;
}

unsigned sp_sub_losses(const struct sp_sock *s)
{
	return s->losses;
}

const char *sp_path(const struct sp_sock *s)
{
	return s->path;
}

void sp_close(struct sp_sock *s)
{
	if (s == NULL)
		return;
	sp_drop(s);
	for (size_t i = 0; i < s->ntopics; i++)
		free(s->topics[i].text);
	free(s->topics);
	free(s->buf);
	free(s);
}
