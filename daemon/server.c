/* server.c: a REP socket served through nng contexts, so replies can be deferred. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"

#include <nng/protocol/reqrep0/rep.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each conn is one context: receive, hand the request to the main thread,
 * send the reply when the main thread has one (maybe much later), receive
 * again. A parked context (a long poll, a task.wait) receives nothing, so
 * the server adds contexts while none is left receiving. A parked context
 * is released by its reply, or when its client's pipe ends (server_park).
 */
enum conn_state { CONN_RECV, CONN_BUSY, CONN_SEND };

struct conn {
	struct server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum conn_state state;
	/* The request being handled, or parked: whose it is and where its reply goes. */
	uint32_t pipe_id;
	uint64_t uid;
	int parked;
	server_gone_fn gone;
	void *gone_arg;
	struct conn *next;
};

/* Pipes whose end the main thread has seen, remembered for a request from them still queued. */
#define SERVER_GONE_RING 256

struct server {
	nng_socket sock;
	server_handler handler;
	atomic_int receiving;
	atomic_int closing;	/* set before shutdown: callbacks start nothing new */
	int nconns;
	struct conn *conns;
	int nparked;
	int park_cap;		/* parked requests per uid; 0: no cap */
	uint32_t gone[SERVER_GONE_RING];
	unsigned ngone;
	void (*pipe_gone)(uint32_t pipe_id);
};

/*
 * Enough for every worker's long poll and many waits; past it requests
 * queue in nng. At most SERVER_MAX_CONNS - SERVER_SPARE are ever parked, so
 * some context always receives: a ping is answered whatever others park.
 */
#define SERVER_MAX_CONNS 4096
#define SERVER_SPARE 2
#define SERVER_MAX_PARKED (SERVER_MAX_CONNS - SERVER_SPARE)
#define SERVER_TRIM_AFTER (1024 * 1024)

static void conn_cb(void *arg);
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg);
static void conn_unpark(struct conn *conn);
static int pipe_seen_gone(const struct server *srv, uint32_t pipe_id);

static int conn_add(struct server *srv)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return -1;
	c->srv = srv;
	if (nng_ctx_open(&c->ctx, srv->sock) != 0 ||
	    nng_aio_alloc(&c->aio, conn_cb, c) != 0) {
		free(c);
		return -1;
	}
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	c->state = CONN_RECV;
	atomic_fetch_add(&srv->receiving, 1);
	nng_ctx_recv(c->ctx, c->aio);
	return 0;
}

/* Runs on nng's threads: touch only the conn and the atomic counter. */
static void conn_cb(void *arg)
{
	struct conn *c = arg;
	int rv = nng_aio_result(c->aio);

	/*
	 * While the server closes, a callback must not queue another receive:
	 * nng_close waits for every context, and one resubmitted after its
	 * abort kept nng_close waiting for ever (seen under load).
	 */
	if (atomic_load(&c->srv->closing)) {
		if (rv == 0 && c->state == CONN_RECV) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
		} else if (rv != 0 && c->state == CONN_SEND) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
		}
		return;
	}
	switch (c->state) {
	case CONN_RECV:
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		if (rv != 0) {
			nng_ctx_recv(c->ctx, c->aio);
			return;
		}
		c->state = CONN_BUSY;
		atomic_fetch_sub(&c->srv->receiving, 1);
		loop_push(c, nng_aio_get_msg(c->aio));
		return;
	case CONN_SEND:
		if (rv != 0) {
			/* A failed send leaves the message with us (DESIGN §15). */
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				return;
		}
		c->state = CONN_RECV;
		atomic_fetch_add(&c->srv->receiving, 1);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	case CONN_BUSY:
		return;
	}
}

/*
 * Runs on nng's thread as a client's pipe ends: the main thread drops
 * what that client left parked, through the queue its requests take.
 */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct server *srv = arg;

	if (ev == NNG_PIPE_EV_REM_POST && !atomic_load(&srv->closing))
		loop_push_pipe_gone(srv, nng_pipe_id(p));
}

struct server *server_open(const char *url, int mode, size_t max_message,
    int park_cap, server_handler handler, char *err, size_t errlen)
{
	struct server *srv = calloc(1, sizeof *srv);
	nng_listener l;
	int rv;

	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->handler = handler;
	srv->park_cap = park_cap;
	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		snprintf(err, errlen, "nng_rep0_open: %s", nng_strerror(rv));
		free(srv);
		return NULL;
	}
	if ((rv = nng_pipe_notify(srv->sock, NNG_PIPE_EV_REM_POST, pipe_cb, srv)) != 0) {
		snprintf(err, errlen, "nng_pipe_notify: %s", nng_strerror(rv));
		nng_close(srv->sock);
		free(srv);
		return NULL;
	}
	/*
	 * Size limit and permissions go on the listener before it starts
	 * (DESIGN §15): nng 1.5 has no default limit, and chmods after bind.
	 */
	if ((rv = nng_listener_create(&l, srv->sock, url)) != 0 ||
	    (rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, max_message)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, mode)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", url + 6, nng_strerror(rv));
		nng_close(srv->sock);
		free(srv);
		return NULL;
	}
	for (int i = 0; i < SERVER_SPARE + 2; i++) {
		if (conn_add(srv) < 0) {
			snprintf(err, errlen, "allocating contexts for %s", url + 6);
			server_close(srv);
			return NULL;
		}
	}
	return srv;
}

void server_set_park_cap(struct server *srv, int park_cap)
{
	/* Read by server_park on the main thread only, as this is called. */
	srv->park_cap = park_cap;
}

void server_close(struct server *srv)
{
	struct conn *c, *next;

	if (srv == NULL)
		return;
	atomic_store(&srv->closing, 1);
	/* First every operation stops (callbacks now resubmit nothing), then the contexts go, then the socket. */
	for (c = srv->conns; c; c = c->next)
		nng_aio_stop(c->aio);
	for (c = srv->conns; c; c = next) {
		nng_msg *pending;

		next = c->next;
		/* A send that nng_aio_stop aborted before its callback ran still holds its message. */
		if (c->state == CONN_SEND && (pending = nng_aio_get_msg(c->aio)) != NULL)
			nng_msg_free(pending);
		nng_ctx_close(c->ctx);
		nng_aio_free(c->aio);
		free(c);
	}
	nng_close(srv->sock);
	free(srv);
}

/* Unknown credentials are treated as nobody's: the handlers refuse them. */
static void peer_creds(nng_msg *msg, struct peer *peer)
{
	nng_pipe p = nng_msg_get_pipe(msg);
	uint64_t pid;

	peer->pipe_id = nng_pipe_id(p);
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &peer->uid) != 0)
		peer->uid = UINT64_MAX;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &peer->gid) != 0)
		peer->gid = UINT64_MAX;
	peer->pid = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 ? (pid_t)pid : 0;
}

void server_dispatch(struct conn *conn, nng_msg *msg)
{
	struct server *srv = conn->srv;
	struct peer peer;
	char err[512];
	int64_t index;
	cJSON *req;

	peer_creds(msg, &peer);
	conn->pipe_id = peer.pipe_id;
	conn->uid = peer.uid;
	if (atomic_load(&srv->receiving) < SERVER_SPARE && srv->nconns < SERVER_MAX_CONNS &&
	    conn_add(srv) < 0)
		log_warn("cannot add a context; requests will queue");
	req = cJSON_ParseWithLength(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	if (req == NULL || !cJSON_IsObject(req)) {
		cJSON_Delete(req);
		server_reply_err(conn, ERR_BAD_REQUEST,
		    "request is not a JSON object: send {\"cmd\": …, \"args\": {…}}");
		return;
	}
	/* Here, so that control and worker requests alike pass it before any handler. */
	if (validate_utf8(req, &index, err, sizeof err) < 0) {
		cJSON_Delete(req);
		server_reply_err_at(conn, ERR_BAD_REQUEST, index, "%s", err);
		return;
	}
	srv->handler(conn, &peer, req);
	cJSON_Delete(req);
}

void server_reply(struct conn *conn, cJSON *reply)
{
	char *text;
	nng_msg *msg;
	size_t len;

	/*
	 * Requests are checked, but a reply also carries what came from
	 * elsewhere: file names, a command's output, rows stored before the
	 * check, messages cut at a byte count.
	 */
	conn_unpark(conn);
	json_repair_utf8(reply);
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	if (text == NULL || nng_msg_alloc(&msg, 0) != 0) {
		free(text);
		/* Keep the context alive: put it back to receiving without replying. */
		log_error("out of memory replying; the client will time out");
		conn->state = CONN_SEND;
		nng_msg_alloc(&msg, 0);
		nng_aio_set_msg(conn->aio, msg);
		nng_ctx_send(conn->ctx, conn->aio);
		return;
	}
	len = strlen(text);
	nng_msg_append(msg, text, len);
	free(text);
	/* A large listing leaves the allocator holding megabytes; give them back. */
	if (len > SERVER_TRIM_AFTER)
		malloc_trim(0);
	conn->state = CONN_SEND;
	nng_aio_set_msg(conn->aio, msg);
	nng_ctx_send(conn->ctx, conn->aio);
}

void server_reply_ok(struct conn *conn, cJSON *result)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddBoolToObject(r, "ok", 1);
	cJSON_AddItemToObject(r, "result", result ? result : cJSON_CreateNull());
	server_reply(conn, r);
}

static void server_reply_verr(struct conn *conn, enum err_code code, int64_t index,
    const char *fmt, va_list ap)
{
	cJSON *r = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	cJSON_AddBoolToObject(r, "ok", 0);
	cJSON_AddStringToObject(e, "code", err_code_name(code));
	cJSON_AddStringToObject(e, "message", msg);
	if (index >= 0)
		cJSON_AddNumberToObject(e, "index", (double)index);
	cJSON_AddItemToObject(r, "error", e);
	server_reply(conn, r);
}

void server_reply_err(struct conn *conn, enum err_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	server_reply_verr(conn, code, -1, fmt, ap);
	va_end(ap);
}

void server_reply_err_at(struct conn *conn, enum err_code code, int64_t index,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	server_reply_verr(conn, code, index, fmt, ap);
	va_end(ap);
}

static int pipe_seen_gone(const struct server *srv, uint32_t pipe_id)
{
	unsigned n = srv->ngone < SERVER_GONE_RING ? srv->ngone : SERVER_GONE_RING;

	for (unsigned i = 0; i < n; i++)
		if (srv->gone[i] == pipe_id)
			return 1;
	return 0;
}

int server_park(struct conn *conn, server_gone_fn gone, void *arg, char *err, size_t errlen)
{
	struct server *srv = conn->srv;
	nng_pipe p = NNG_PIPE_INITIALIZER;
	uint64_t uid;
	int mine = 0;

	/*
	 * A request and the end of its pipe reach the main thread by different
	 * nng threads, in either order: a pipe already gone parks nothing.
	 */
	p.id = conn->pipe_id;
	if (pipe_seen_gone(srv, conn->pipe_id) ||
	    nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0) {
		snprintf(err, errlen, "the client has gone");
		return -1;
	}
	if (srv->nparked >= SERVER_MAX_PARKED) {
		snprintf(err, errlen, "depotd already holds %d waiting requests, the most it "
		    "keeps; try again later", SERVER_MAX_PARKED);
		return -1;
	}
	if (srv->park_cap > 0) {
		for (struct conn *c = srv->conns; c; c = c->next)
			mine += c->parked && c->uid == conn->uid;
		if (mine >= srv->park_cap) {
			snprintf(err, errlen, "uid %llu already has %d waiting requests, the most "
			    "[limits] parked_requests_per_peer allows", (unsigned long long)conn->uid,
			    mine);
			return -1;
		}
	}
	conn->parked = 1;
	conn->gone = gone;
	conn->gone_arg = arg;
	srv->nparked++;
	return 0;
}

static void conn_unpark(struct conn *conn)
{
	if (!conn->parked)
		return;
	conn->parked = 0;
	conn->gone = NULL;
	conn->gone_arg = NULL;
	conn->srv->nparked--;
}

void server_forget(struct conn *conn)
{
	conn_unpark(conn);
}

void server_pipe_gone(struct server *srv, uint32_t pipe_id)
{
	srv->gone[srv->ngone++ % SERVER_GONE_RING] = pipe_id;
	for (struct conn *c = srv->conns; c; c = c->next) {
		server_gone_fn gone = c->gone;

		if (!c->parked || c->pipe_id != pipe_id)
			continue;
		/* Its owner forgets it first, so nothing else answers it. */
		gone(c, c->gone_arg);
		/*
		 * Answering it puts the context back to receiving; rep0 drops a
		 * reply whose pipe is gone and completes the send as if it went.
		 */
		server_reply_err(c, ERR_UNAVAILABLE, "the client has gone");
	}
	if (srv->pipe_gone != NULL)
		srv->pipe_gone(pipe_id);
}

void server_on_pipe_gone(struct server *srv, void (*fn)(uint32_t pipe_id))
{
	srv->pipe_gone = fn;
}

uint32_t server_conn_pipe(const struct conn *conn)
{
	return conn->pipe_id;
}

int server_parked(const struct server *srv)
{
	return srv ? srv->nparked : 0;
}
