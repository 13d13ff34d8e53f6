/* spwire.h: the client side of nng's REQ0 and SUB0 protocols over ipc://, without nng and without threads. */
#ifndef DEPOT_SPWIRE_H
#define DEPOT_SPWIRE_H
#include <stddef.h>

/*
 * Why not nng itself: nng starts a dozen threads at init and joins them at
 * close, which costs a one-request client (depotctl) several times the
 * round trip. The daemon keeps nng (REP0, PUB0); these sockets speak its
 * wire format over one blocking-free Unix stream socket, waiting in poll().
 */

/* A request, headers included, may take this long to write. */
#define SP_SEND_TIMEOUT_MS	5000
/* A message announcing more is refused (the connection dropped) rather than trusted. */
#define SP_MAX_MESSAGE		((size_t)1 << 30)

enum sp_status {
	SP_OK = 0,
	SP_UNREACHABLE = -1,	/* nothing listening: connecting failed; nothing was sent */
	SP_LOST = -2,		/* the connection ended after the request went out, before its reply */
	SP_TIMEOUT = -3,	/* no reply (or message) in the time given */
	SP_ERROR = -4,		/* a local failure or a peer breaking the protocol; err says which */
};

struct sp_sock;

/*
 * A REQ0 socket for url ("ipc://PATH"). Does not connect: each request
 * connects if need be, so a daemon that restarted between two requests is
 * found again. -1 with err when url is not one this can dial.
 */
int sp_req_open(struct sp_sock **out, const char *url, char *err, size_t errlen);

/*
 * Sends body (len bytes) as one request and waits up to timeout_ms
 * (negative: for ever) for its reply; *reply points into the socket's
 * buffer, valid until its next call or sp_close. A request is sent once:
 * after SP_LOST or SP_TIMEOUT it is the caller's to decide, and a late
 * reply to it is dropped when it comes (its request id is not the next's).
 */
enum sp_status sp_req_call(struct sp_sock *s, const void *body, size_t len, int timeout_ms,
    const char **reply, size_t *rlen, char *err, size_t errlen);

/*
 * A SUB0 socket for url, receiving messages that start with one of topics
 * (none: all). Tries to connect at once; while not connected, sp_sub_recv
 * dials again, backing off from 50 ms to 1 s, like nng's dialer.
 */
int sp_sub_open(struct sp_sock **out, const char *url, const char *const *topics,
    size_t ntopics, char *err, size_t errlen);

/*
 * The next message within timeout_ms (0: only what has arrived; negative:
 * for ever): SP_OK with *msg into the socket's buffer as for sp_req_call,
 * SP_TIMEOUT when none came or a signal interrupted the wait, SP_ERROR
 * only for a local failure. A lost or broken connection is not an error:
 * it is counted (sp_sub_losses) and dialed again.
 */
enum sp_status sp_sub_recv(struct sp_sock *s, int timeout_ms, const char **msg, size_t *len,
    char *err, size_t errlen);

/* How often the SUB socket connected, and lost its connection: each loss may have missed messages. */
unsigned sp_sub_connects(const struct sp_sock *s);
unsigned sp_sub_losses(const struct sp_sock *s);

/* The socket's path, as messages name it. */
const char *sp_path(const struct sp_sock *s);
void sp_close(struct sp_sock *s);

#endif
