/* server.c: the REP side of nng's REQ/REP wire over ipc://, served by the main thread's loop. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Why not nng's REP0: each request crossed four threads (nng's poller and
 * taskq, then our queue to the main thread, and back for the reply), which
 * was most of a round trip's time (issue 14). Every handler runs on the
 * main thread anyway, so the sockets are read and written there.
 *
 * The wire is the one share/spwire.c speaks from the client side (its top
 * comment cites nng 1.5.2's sources), and real nng REQ0 clients still
 * connect (tests/tools/nng-send.c): an 8-byte header each way, then
 * messages framed as a type byte (1) and a 64-bit big-endian length. A
 * request's body starts with its backtrace, 32-bit words ending at the one
 * whose high bit is set (the request id); the reply carries it back first.
 *
 * A pipe is a client's connection; a conn is one request on it, from its
 * arrival to its reply. A handler that answers later parks its conn
 * (server_park); the pipe's end drops what it left parked, telling the
 * owner first.
 */
#define SP_HEADER_LEN		8
#define SP_FRAME_LEN		9
#define SP_PROTO_REQ0		0x30
#define SP_PROTO_REP0		0x31
#define SP_REQ_ID_BIT		0x80000000u
/* nng's REP0 default NNG_OPT_MAXTTL: a backtrace longer than this many hops is dropped. */
#define SP_MAX_HOPS		8

/* Parked requests in all, so a flood of waits cannot grow without end. */
#define SERVER_MAX_PARKED	4094
/* Clients connected at once; past it new ones wait in the listen backlog. */
#define SERVER_MAX_PIPES	8192
/*
 * Connections one uid other than the daemon's own may hold: the owner
 * always gets in, and no one other user takes more than a quarter of what
 * other users may hold in all (others_max), so one never locks out another.
 */
#define SERVER_PIPES_PER_PEER	512
/* Requests one pipe may have unanswered (parked included) before it is read no further. */
#define SERVER_PIPE_INFLIGHT	64
/* Messages and bytes taken from one pipe per turn, so one busy client cannot starve the rest. */
#define SERVER_PIPE_BURST	32
#define SERVER_PIPE_BURST_BYTES	((size_t)1 << 20)
/* A pipe's read buffer starts this large, and is given back to it after a larger message. */
#define SERVER_IN_FIRST		((size_t)16 << 10)
#define SERVER_TRIM_AFTER	((size_t)1 << 20)
/* After accept() fails for want of descriptors, the listener rests this long. */
#define SERVER_ACCEPT_REST_MS	100
/*
 * Reply bytes one other user's clients may leave unread before none of
 * that user's connections is read further (the owner's and root's always
 * are): each connection holds one unsent reply at most, but 512 of them,
 * each a task.list page of megabytes, would be gigabytes. Each user has a
 * cap of its own, so one that never reads stops no one else; all of them
 * together have four times that.
 */
#define SERVER_USER_OUT_MAX	((size_t)32 << 20)
#define SERVER_OTHERS_OUT_MAX	(4 * SERVER_USER_OUT_MAX)
/*
 * Request buffers grown past SERVER_IN_FIRST that one other user's clients
 * may hold (at least two of max_message): past it, the one that would grow
 * is closed, so that 512 requests held all but whole cannot take 512 times
 * max_message. All other users together: four times that.
 */
#define SERVER_USER_IN_MAX	((size_t)64 << 20)
/* nng's ipc transport closed a client that had not sent its header within this long. */
#define SERVER_NEGO_MS		10000
/* A refusal said in the log at most this often; the ones in between are counted. */
#define SERVER_REFUSE_LOG_MS	10000

struct reply_out {
	struct reply_out *next;
	uint8_t head[SP_FRAME_LEN + 4 * SP_MAX_HOPS];
	size_t headlen;
	char *body;
	size_t bodylen;
	size_t off;		/* bytes of head, then body, already written */
};

struct pipe {
	struct loop_watch watch;
	struct server *srv;
	struct peer peer;
	int head_ok;		/* the client's 8-byte header has come and was right */
	size_t head_left;	/* bytes of our header not yet written */
	int64_t accepted_ms;
	char *in;
	size_t in_cap, in_len;
	struct reply_out *out, *out_tail;
	size_t out_bytes;	/* of out, not yet written */
	int other;		/* its uid is neither the owner's nor root */
	struct user_use *user;	/* then: what that uid holds in all */
	int inflight;		/* its conns not yet answered */
	int taking;		/* inside pipe_take: its caller reads on or kicks */
	int ended;		/* its socket is closed; freed when inflight is 0 */
	struct conn *conns;	/* its parked conns */
	struct pipe *prev, *next;
};

/* What one uid other than the owner and root holds on a server, for its caps. */
struct user_use {
	uint64_t uid;
	int pipes;
	size_t out;		/* its pipes' out_bytes, summed */
	size_t in;		/* its read buffers past SERVER_IN_FIRST, summed */
	int rearm;		/* out fell under its cap: its pipes read again */
	struct user_use *next;
};

struct conn {
	struct server *srv;
	struct pipe *pipe;
	uint32_t pipe_id;
	uint64_t uid;
	uint8_t backtrace[4 * SP_MAX_HOPS];
	size_t btlen;
	int parked;
	server_gone_fn gone;
	void *gone_arg;
	struct conn *prev, *next;	/* in its pipe's parked list */
};

/*
 * What a client can make depotd log over and over (a refusal, an oversized
 * request) is logged at most every SERVER_REFUSE_LOG_MS; the ones between
 * are counted into the next line.
 */
struct log_pace {
	int64_t next_ms;
	int quiet;		/* kept out of the log since the last line */
};

struct server {
	struct loop_watch listener;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	dev_t dev;
	ino_t ino;
	uid_t owner;
	size_t max_message;
	server_handler handler;
	struct pipe *pipes;
	int npipes;
	int nothers;		/* pipes of uids other than the owner and root */
	size_t others_out;	/* their out_bytes, summed */
	size_t others_in;	/* their read buffers past SERVER_IN_FIRST, summed */
	int others_rearm;	/* others_out fell under its cap: their pipes read again */
	struct user_use *users;	/* each such uid with a pipe */
	int users_rearm;	/* one of them has rearm set */
	int nparked;
	int park_cap;		/* parked requests per uid; 0: no cap */
	int64_t accept_rest_until;
	int accept_failing;	/* said once in the log, until a client is accepted again */
	void (*pipe_gone)(uint32_t pipe_id);
	int64_t nego_check_ms;
	struct log_pace refusals, oversized;
};

static uint32_t next_pipe_id;
/*
 * Descriptors other users' clients may hold in all: half the process's
 * limit, so that the owner, the store, logs and tasks always have the
 * rest (systemd gives a service 1024 unless its unit says otherwise).
 */
static int others_max = SERVER_MAX_PIPES;

static void listener_cb(struct loop_watch *w, uint32_t events);
static void pipe_cb(struct loop_watch *w, uint32_t events);
static void pipe_end(struct pipe *p);
static void pipe_update(struct pipe *p);
static int pipe_reading(const struct pipe *p);
static int pipe_read(struct pipe *p);
static void pipe_flush(struct pipe *p);
static void conn_unpark(struct conn *conn);
static void conn_free(struct conn *conn);

/* 1 when this one is to be logged, with *quiet the ones kept out since the last; 0 to count it quietly. */
static int log_due(struct log_pace *pace, int *quiet)
{
	int64_t now = time_mono_ms();

	if (now < pace->next_ms) {
		pace->quiet++;
		return 0;
	}
	*quiet = pace->quiet;
	pace->quiet = 0;
	pace->next_ms = now + SERVER_REFUSE_LOG_MS;
	return 1;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

struct server *server_open(const char *url, int mode, size_t max_message,
    int park_cap, server_handler handler, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = url + 6;
	struct server *srv;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	if (strncmp(url, "ipc://", 6) != 0 || strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "'%s' is not an ipc:// address that fits a Unix socket", url);
		return NULL;
	}
	if ((srv = calloc(1, sizeof *srv)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	strcpy(srv->path, path);
	strcpy(sun.sun_path, path);
	srv->handler = handler;
	srv->park_cap = park_cap;
	srv->max_message = max_message;
	srv->owner = geteuid();
	if (next_pipe_id == 0) {
		struct rlimit rl;

		next_pipe_id = ((uint32_t)getpid() * 2654435761u) & 0x7fffffffu;
		/*
		 * The soft limit as given, not raised: workers and their tasks
		 * inherit it, and select()-based programs break over 1024.
		 */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur / 2 < (rlim_t)others_max)
			others_max = (int)(rl.rlim_cur / 2);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "listening on %s: socket: %s", path, strerror(errno));
		free(srv);
		return NULL;
	}
	/*
	 * The socket is created with its final mode: no moment in which
	 * others could connect (DESIGN §15 asked this of nng, which chmods
	 * after bind). Nothing else creates files while depotd opens sockets.
	 */
	old_mask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_mask);
	if (rc < 0 || listen(fd, 4096) < 0 || stat(path, &st) < 0) {
		snprintf(err, errlen, "listening on %s: %s", path, strerror(errno));
		close(fd);
		free(srv);
		return NULL;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	if (loop_watch_add(&srv->listener, fd, EPOLLIN, listener_cb) < 0) {
		snprintf(err, errlen, "listening on %s: epoll: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		free(srv);
		return NULL;
	}
	return srv;
}

void server_set_park_cap(struct server *srv, int park_cap)
{
	srv->park_cap = park_cap;
}

static struct user_use *user_find(const struct server *srv, uint64_t uid)
{
	for (struct user_use *u = srv->users; u; u = u->next)
		if (u->uid == uid)
			return u;
	return NULL;
}

/* The connections one other user may hold. */
static int pipes_per_user(void)
{
	int quarter = others_max / 4 > 0 ? others_max / 4 : 1;

	return quarter < SERVER_PIPES_PER_PEER ? quarter : SERVER_PIPES_PER_PEER;
}

/* The request bytes one other user's buffers may hold: room for two of max_message at least. */
static size_t user_in_max(const struct server *srv)
{
	return srv->max_message * 2 > SERVER_USER_IN_MAX ? srv->max_message * 2 :
	    SERVER_USER_IN_MAX;
}

/* Ours, sent to each client before anything else. */
static const uint8_t rep_head[SP_HEADER_LEN] = { 0x00, 'S', 'P', 0x00,
    SP_PROTO_REP0 >> 8, SP_PROTO_REP0 & 0xff, 0, 0 };

static struct pipe *pipe_accept(struct server *srv, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct user_use *user;
	struct pipe *p;
	int other;

	/* Unknown credentials are treated as nobody's: the handlers refuse them. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		cred.uid = (uid_t)-1;
		cred.gid = (gid_t)-1;
		cred.pid = 0;
	}
	/* Neither the owner nor root: capped, so that those two always get in. */
	other = cred.uid != srv->owner && cred.uid != 0;
	user = other ? user_find(srv, cred.uid) : NULL;
	if (other && (srv->nothers >= others_max ||
	    (user != NULL && user->pipes >= pipes_per_user()))) {
		int quiet;

		/* Once in a while: a client reconnecting in a loop would otherwise fill the log. */
		if (log_due(&srv->refusals, &quiet)) {
			if (srv->nothers >= others_max)
				log_warn("%s: other users' clients already hold %d connections, "
				    "half of depotd's descriptors; refusing uid %u's (and %d more "
				    "refused since the last time this was said)", srv->path,
				    srv->nothers, (unsigned)cred.uid, quiet);
			else
				log_warn("%s: uid %u already holds %d connections, the most one "
				    "user may; refusing another (and %d more refused since the "
				    "last time this was said)", srv->path, (unsigned)cred.uid,
				    pipes_per_user(), quiet);
		}
		close(fd);
		return NULL;
	}
	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (other && user == NULL && (user = calloc(1, sizeof *user)) == NULL)) {
		free(p);
		close(fd);
		return NULL;
	}
	p->srv = srv;
	/* Written with the first reply, or once the client's header came alone (pipe_update). */
	p->head_left = sizeof rep_head;
	p->peer.uid = cred.uid == (uid_t)-1 ? UINT64_MAX : cred.uid;
	p->peer.gid = cred.gid == (gid_t)-1 ? UINT64_MAX : cred.gid;
	p->peer.pid = cred.pid;
	p->peer.owner = !other;
	p->accepted_ms = time_mono_ms();
	p->other = other;
	if (++next_pipe_id > 0x7fffffffu)
		next_pipe_id = 1;
	p->peer.pipe_id = next_pipe_id;
	if (loop_watch_add(&p->watch, fd, EPOLLIN | EPOLLRDHUP, pipe_cb) < 0) {
		close(fd);
		free(p);
		if (user != NULL && user->pipes == 0)
			free(user);
		return NULL;
	}
	if (user != NULL) {
		if (user->pipes++ == 0) {
			user->uid = p->peer.uid;
			user->next = srv->users;
			srv->users = user;
		}
		p->user = user;
	}
	p->next = srv->pipes;
	if (srv->pipes)
		srv->pipes->prev = p;
	srv->pipes = p;
	srv->npipes++;
	srv->nothers += p->other;
	return p;
}

static void listener_cb(struct loop_watch *w, uint32_t events)
{
	struct server *srv = (struct server *)((char *)w - offsetof(struct server, listener));
	struct pipe *p;
	int fd;

	(void)events;
	if (srv->accept_rest_until > 0) {
		if (time_mono_ms() < srv->accept_rest_until)
			return;
		srv->accept_rest_until = 0;
	}
	/* A handful per wake-up: requests already read go first. */
	for (int i = 0; i < 16 && srv->npipes < SERVER_MAX_PIPES; i++) {
		fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			if (srv->accept_failing) {
				log_info("%s: accepting clients again", srv->path);
				srv->accept_failing = 0;
			}
			/*
			 * A client sends its request right behind its header
			 * (share/spwire.c): read now, and a ping is answered
			 * without waiting for the loop to wake once more.
			 */
			/*
			 * A client that has closed already (it sent a request and
			 * went before depotd accepted it) is still read: what it
			 * sent is carried out, unanswered.
			 */
			if ((p = pipe_accept(srv, fd)) != NULL && pipe_read(p) == 0)
				pipe_update(p);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		/* Out of descriptors or memory, or anything else that would fail again at once. */
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (!srv->accept_failing)
				log_warn("%s: cannot accept a client: %s; trying again every %d ms "
				    "meanwhile, clients wait", srv->path, strerror(errno),
				    SERVER_ACCEPT_REST_MS);
			srv->accept_failing = 1;
			srv->accept_rest_until = time_mono_ms() + SERVER_ACCEPT_REST_MS;
		}
		break;
	}
	/* Level-triggered: a listener left unread while resting wakes the loop each turn; rest it out. */
	loop_watch_set(w, srv->accept_rest_until > 0 || srv->npipes >= SERVER_MAX_PIPES ?
	    0 : EPOLLIN);
}

/* Called by the loop each turn: a resting or full listener listens again when it can. */
void server_tick(struct server *srv)
{
	int64_t now;

	if (srv == NULL)
		return;
	/* Once a second, clients silent since they connected go, as nng's did after 10 s. */
	if ((now = time_mono_ms()) >= srv->nego_check_ms) {
		struct pipe *p, *next;

		srv->nego_check_ms = now + 1000;
		for (p = srv->pipes; p != NULL; p = next) {
			next = p->next;
			if (!p->head_ok && now - p->accepted_ms >= SERVER_NEGO_MS)
				pipe_end(p);
		}
	}
	/* Other users' pipes left unread while their replies were over a cap read again. */
	if (srv->others_rearm || srv->users_rearm) {
		for (struct pipe *p = srv->pipes; p != NULL; p = p->next)
			if (p->other && (srv->others_rearm || p->user->rearm))
				pipe_update(p);
		for (struct user_use *u = srv->users; u != NULL; u = u->next)
			u->rearm = 0;
		srv->others_rearm = srv->users_rearm = 0;
	}
	if (srv->listener.events != 0)
		return;
	if (srv->npipes >= SERVER_MAX_PIPES)
		return;
	if (srv->accept_rest_until > 0 && time_mono_ms() < srv->accept_rest_until)
		return;
	srv->accept_rest_until = 0;
	loop_watch_set(&srv->listener, EPOLLIN);
}

/* One request: its backtrace kept for the reply, its JSON to the handler. */
static void pipe_request(struct pipe *p, const uint8_t *msg, size_t len)
{
	struct server *srv = p->srv;
	struct conn *conn;
	size_t bt = 0;
	char err[512];
	int64_t index;
	cJSON *req;

	/* As nng's REP0 does, a message without a whole backtrace is dropped. */
	for (;;) {
		if (bt + 4 > len || bt / 4 >= SP_MAX_HOPS)
			return;
		bt += 4;
		if (msg[bt - 4] & 0x80)
			break;
	}
	if ((conn = calloc(1, sizeof *conn)) == NULL) {
		log_error("out of memory taking a request; its client will time out");
		return;
	}
	conn->srv = srv;
	conn->pipe = p;
	conn->pipe_id = p->peer.pipe_id;
	conn->uid = p->peer.uid;
	memcpy(conn->backtrace, msg, bt);
	conn->btlen = bt;
	p->inflight++;
	req = cJSON_ParseWithLength((const char *)msg + bt, len - bt);
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
	srv->handler(conn, &p->peer, req);
	cJSON_Delete(req);
}

/*
 * Takes the whole messages in p->in: 1 to read on, 0 to stop for now
 * (enough taken, or replies waiting to go), -1 when the client broke the
 * protocol and its pipe must end.
 */
static int pipe_take_all(struct pipe *p, int *taken)
{
	size_t at = 0;
	int rc = 1;

	if (!p->head_ok) {
		const uint8_t *h = (const uint8_t *)p->in;

		if (p->in_len < SP_HEADER_LEN)
			return 1;
		if (h[0] != 0 || h[1] != 'S' || h[2] != 'P' || h[3] != 0 || h[6] != 0 ||
		    h[7] != 0 || (h[4] << 8 | h[5]) != SP_PROTO_REQ0)
			return -1;
		p->head_ok = 1;
		at = SP_HEADER_LEN;
	}
	while (p->in_len - at >= SP_FRAME_LEN) {
		const uint8_t *f = (const uint8_t *)p->in + at;
		uint64_t want = get_be64(f + 1);

		/* nng closes a pipe whose message is over the listener's limit; so does this. */
		if (f[0] != 1 || want > p->srv->max_message) {
			int quiet;

			if (f[0] == 1 && log_due(&p->srv->oversized, &quiet))
				log_info("%s: uid %llu sent a request of %llu bytes, over [daemon] "
				    "max_message (%zu); closing its connection (and %d more "
				    "since the last time this was said)", p->srv->path,
				    (unsigned long long)p->peer.uid, (unsigned long long)want,
				    p->srv->max_message, quiet);
			rc = -1;
			break;
		}
		if (p->in_len - at - SP_FRAME_LEN < want)
			break;
		pipe_request(p, f + SP_FRAME_LEN, (size_t)want);
		at += SP_FRAME_LEN + (size_t)want;
		if (++*taken >= SERVER_PIPE_BURST || !pipe_reading(p)) {
			rc = 0;
			break;
		}
	}
	if (at > 0) {
		memmove(p->in, p->in + at, p->in_len - at);
		p->in_len -= at;
	}
	return rc;
}

static int pipe_take(struct pipe *p, int *taken)
{
	int rc;

	p->taking = 1;
	rc = pipe_take_all(p, taken);
	p->taking = 0;
	return rc;
}

static size_t in_big(size_t cap)
{
	return cap > SERVER_IN_FIRST ? cap : 0;
}

/* Growing p's read buffer to cap would put its user's buffers, or all other users', over their cap. */
static int pipe_in_over(const struct pipe *p, size_t cap)
{
	size_t max = user_in_max(p->srv), grow = in_big(cap) - in_big(p->in_cap);

	return p->other && in_big(cap) > in_big(p->in_cap) &&
	    (p->user->in + grow > max || p->srv->others_in + grow > 4 * max);
}

/* p's read buffer becomes cap bytes. */
static void pipe_in_set(struct pipe *p, size_t cap)
{
	if (p->other) {
		p->srv->others_in = p->srv->others_in - in_big(p->in_cap) + in_big(cap);
		p->user->in = p->user->in - in_big(p->in_cap) + in_big(cap);
	}
	p->in_cap = cap;
}

/* Room for the next read: the buffer doubles while a message outgrows it, up to that message. */
static int pipe_room(struct pipe *p)
{
	size_t need, cap;
	char *in;

	if (p->in_len < p->in_cap)
		return 0;
	need = p->in_cap == 0 ? SERVER_IN_FIRST : p->in_cap * 2;
	if (p->head_ok && p->in_len >= SP_FRAME_LEN) {
		size_t whole = SP_FRAME_LEN + (size_t)get_be64((const uint8_t *)p->in + 1);

		if (need > whole && whole > p->in_cap)
			need = whole;
	}
	cap = need;
	if (pipe_in_over(p, cap)) {
		int quiet;

		if (log_due(&p->srv->refusals, &quiet))
			log_warn("%s: uid %llu's clients already hold %zu MiB of requests not "
			    "yet whole (all other users' %zu MiB); closing its connection, whose "
			    "request would take more (and %d more refused since the last time "
			    "this was said)", p->srv->path, (unsigned long long)p->peer.uid,
			    p->user->in >> 20, p->srv->others_in >> 20, quiet);
		return -2;
	}
	if ((in = realloc(p->in, cap)) == NULL)
		return -1;
	p->in = in;
	pipe_in_set(p, cap);
	return 0;
}

static int pipe_reading(const struct pipe *p)
{
	return p->out == NULL && p->inflight < SERVER_PIPE_INFLIGHT &&
	    !(p->other && (p->user->out > SERVER_USER_OUT_MAX ||
	    p->srv->others_out > SERVER_OTHERS_OUT_MAX));
}

/* n bytes of p's replies written or dropped. */
static void pipe_out_done(struct pipe *p, size_t n)
{
	struct server *srv = p->srv;

	p->out_bytes -= n;
	if (!p->other)
		return;
	if (srv->others_out > SERVER_OTHERS_OUT_MAX && srv->others_out - n <= SERVER_OTHERS_OUT_MAX)
		srv->others_rearm = 1;
	srv->others_out -= n;
	if (p->user->out > SERVER_USER_OUT_MAX && p->user->out - n <= SERVER_USER_OUT_MAX)
		p->user->rearm = srv->users_rearm = 1;
	p->user->out -= n;
}

/* Reads and takes messages: -1 when the pipe ended (and may be freed). */
static int pipe_read(struct pipe *p)
{
	size_t bytes = 0;
	int taken = 0, rc;
	ssize_t n;

	while (pipe_reading(p) && taken < SERVER_PIPE_BURST && bytes < SERVER_PIPE_BURST_BYTES) {
		/* Messages already read go before more is read (pipelined requests). */
		if ((rc = pipe_take(p, &taken)) < 0) {
			pipe_end(p);
			return -1;
		}
		if (rc == 0)
			break;
		if ((rc = pipe_room(p)) < 0) {
			if (rc == -1)
				log_error("%s: out of memory reading a request; closing its connection",
				    p->srv->path);
			pipe_end(p);
			return -1;
		}
		n = read(p->watch.fd, p->in + p->in_len, p->in_cap - p->in_len);
		if (n > 0) {
			p->in_len += (size_t)n;
			bytes += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		pipe_end(p);
		return -1;
	}
	/* A large request's buffer goes back once it is handled. */
	if (p->in_cap > SERVER_TRIM_AFTER && p->in_len < SERVER_IN_FIRST) {
		char *in = realloc(p->in, SERVER_IN_FIRST);

		if (in != NULL) {
			p->in = in;
			pipe_in_set(p, SERVER_IN_FIRST);
		}
		malloc_trim(0);
	}
	return 0;
}

static void pipe_cb(struct loop_watch *w, uint32_t events)
{
	struct pipe *p = (struct pipe *)((char *)w - offsetof(struct pipe, watch));

	if (events & EPOLLOUT)
		pipe_flush(p);
	/*
	 * Read first, to the end: requests sent just before the client closed
	 * are still handled, and read() sees the end itself. Kicked (events 0),
	 * this takes what an earlier turn left in the buffer.
	 */
	if (pipe_reading(p)) {
		if (pipe_read(p) < 0)
			return;
	} else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		pipe_end(p);
		return;
	}
	pipe_update(p);
}

/* A whole message, or the client's header, is waiting in the buffer. */
static int pipe_has_message(const struct pipe *p)
{
	if (!p->head_ok)
		return p->in_len >= SP_HEADER_LEN;
	return p->in_len >= SP_FRAME_LEN &&
	    p->in_len - SP_FRAME_LEN >= get_be64((const uint8_t *)p->in + 1);
}

/*
 * What the pipe waits for follows its state; a message read but left for
 * later (a turn's share taken, replies unsent, too many unanswered) is
 * taken at the next turn, as no event will come for it.
 */
static void pipe_update(struct pipe *p)
{
	uint32_t ev = EPOLLRDHUP;

	/*
	 * Our header waits for the client's: depotctl sends its request in
	 * the same write, and the reply then carries our header (one write
	 * by depotd, one wake-up of the client, not one for the header and
	 * another for the reply). A client whose header came alone, as an
	 * nng dialer's does (it sends its own at once and waits for ours
	 * before its request), gets ours now.
	 */
	if (p->head_ok && p->head_left > 0)
		pipe_flush(p);
	if (pipe_reading(p)) {
		ev |= EPOLLIN;
		/* Not while its messages are being taken: the one in hand is still in the buffer. */
		if (!p->taking && pipe_has_message(p))
			loop_watch_kick(&p->watch);
	}
	/* Our header is due once the client's has come; before, it waits (see above). */
	if (p->out != NULL || (p->head_ok && p->head_left > 0))
		ev |= EPOLLOUT;
	loop_watch_set(&p->watch, ev);
}

static void reply_free(struct reply_out *r)
{
	cJSON_free(r->body);
	free(r);
}

/* Writes what the socket takes now; the rest waits for EPOLLOUT. */
static void pipe_flush(struct pipe *p)
{
	struct reply_out *r;

	while (p->head_left > 0 || (r = p->out) != NULL) {
		struct iovec iov[3];
		int n = 0;
		size_t done;
		ssize_t w;

		if (p->head_left > 0)
			iov[n++] = (struct iovec){ (void *)(rep_head + sizeof rep_head - p->head_left),
			    p->head_left };
		r = p->out;
		if (r != NULL && r->off < r->headlen)
			iov[n++] = (struct iovec){ r->head + r->off, r->headlen - r->off };
		if (r != NULL && r->bodylen > 0) {
			size_t boff = r->off > r->headlen ? r->off - r->headlen : 0;

			iov[n++] = (struct iovec){ r->body + boff, r->bodylen - boff };
		}
		w = writev(p->watch.fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* The client has gone: the loop ends its pipe when it sees the hang-up. */
			shutdown(p->watch.fd, SHUT_RDWR);
			p->head_left = 0;
			while ((r = p->out) != NULL) {
				p->out = r->next;
				reply_free(r);
			}
			p->out_tail = NULL;
			pipe_out_done(p, p->out_bytes);
			return;
		}
		done = (size_t)w < p->head_left ? (size_t)w : p->head_left;
		p->head_left -= done;
		if (r == NULL || (size_t)w == done)
			continue;
		r->off += (size_t)w - done;
		pipe_out_done(p, (size_t)w - done);
		if (r->off < r->headlen + r->bodylen)
			continue;
		p->out = r->next;
		if (p->out == NULL)
			p->out_tail = NULL;
		reply_free(r);
	}
}

/* The client's connection has ended: what it left parked is dropped, its owner told first. */
static void pipe_end(struct pipe *p)
{
	struct server *srv = p->srv;
	uint32_t id = p->peer.pipe_id;
	struct reply_out *r;

	loop_watch_del(&p->watch);
	/*
	 * A client closed for what it sent (too large, a wrong header) still
	 * gets ours first, as from nng; one that sent nothing (closed after
	 * SERVER_NEGO_MS) gets nothing, as protocol.md says.
	 */
	if (p->head_left > 0 && (p->head_ok || p->in_len > 0) && write(p->watch.fd, rep_head + sizeof rep_head - p->head_left,
	    p->head_left) < 0) {
		/* gone already: nothing to tell it */
	}
	close(p->watch.fd);
	p->watch.fd = -1;
	p->ended = 1;
	/* Held while its conns go, which would otherwise free it under us. */
	p->inflight++;
	while (p->conns != NULL) {
		struct conn *c = p->conns;

		/* The owner forgets c; replies it gives meanwhile, to this pipe, are dropped. */
		if (c->gone != NULL)
			c->gone(c, c->gone_arg);
		conn_free(c);
	}
	while ((r = p->out) != NULL) {
		p->out = r->next;
		reply_free(r);
	}
	p->out_tail = NULL;
	pipe_out_done(p, p->out_bytes);
	if (p->prev)
		p->prev->next = p->next;
	else
		srv->pipes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	srv->npipes--;
	srv->nothers -= p->other;
	pipe_in_set(p, 0);
	/* Counted out of every cap: an ended pipe reads nothing and its replies are dropped. */
	p->other = 0;
	free(p->in);
	p->in = NULL;
	if (p->user != NULL && --p->user->pipes == 0) {
		struct user_use **u = &srv->users;

		while (*u != p->user)
			u = &(*u)->next;
		*u = p->user->next;
		free(p->user);
	}
	p->user = NULL;
	/* Handlers run to their end before a pipe ends, so only parked conns were left; but be sure. */
	if (--p->inflight == 0)
		free(p);
	else
		log_error("%s: a closed client still has %d requests in hand", srv->path, p->inflight);
	if (srv->pipe_gone != NULL)
		srv->pipe_gone(id);
}

void server_close(struct server *srv)
{
	struct stat st;

	if (srv == NULL)
		return;
	loop_watch_del(&srv->listener);
	close(srv->listener.fd);
	/* Only our own socket file: a successor's is left alone. */
	if (stat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	srv->pipe_gone = NULL;
	while (srv->pipes != NULL) {
		struct pipe *p = srv->pipes;

		/* Replies given while stopping (waits told depotd stops) go if the socket takes them. */
		pipe_flush(p);
		/* Their owners have gone before the server (main.c): nobody is told. */
		for (struct conn *c = p->conns; c; c = c->next)
			c->gone = NULL;
		pipe_end(p);
	}
	free(srv);
}

/* Drops conn, answered or forgotten; its pipe may read on. */
static void conn_free(struct conn *conn)
{
	struct pipe *p = conn->pipe;

	conn_unpark(conn);
	if (p != NULL) {
		p->inflight--;
		if (!p->ended)
			pipe_update(p);
		else if (p->inflight == 0)
			free(p);
	}
	free(conn);
}

void server_reply(struct conn *conn, cJSON *reply)
{
	struct pipe *p = conn->pipe;
	struct reply_out *r;
	char *text;
	int big;

	/*
	 * Requests are checked, but a reply also carries what came from
	 * elsewhere: file names, a command's output, rows stored before the
	 * check, messages cut at a byte count.
	 */
	json_repair_utf8(reply);
	text = cJSON_PrintUnformatted(reply);
	cJSON_Delete(reply);
	if (text == NULL || (r = calloc(1, sizeof *r)) == NULL) {
		cJSON_free(text);
		log_error("out of memory replying; the client will time out");
		conn_free(conn);
		return;
	}
	r->body = text;
	r->bodylen = strlen(text);
	r->head[0] = 1;
	put_be64(r->head + 1, conn->btlen + r->bodylen);
	memcpy(r->head + SP_FRAME_LEN, conn->backtrace, conn->btlen);
	r->headlen = SP_FRAME_LEN + conn->btlen;
	big = r->bodylen > SERVER_TRIM_AFTER;
	if (p == NULL || p->ended) {
		reply_free(r);
	} else {
		if (p->out_tail)
			p->out_tail->next = r;
		else
			p->out = r;
		p->out_tail = r;
		p->out_bytes += r->headlen + r->bodylen;
		if (p->other) {
			p->srv->others_out += r->headlen + r->bodylen;
			p->user->out += r->headlen + r->bodylen;
		}
		/* Written at once: the main thread answers as it handles, no hand-off. */
		pipe_flush(p);
	}
	conn_free(conn);
	/* A large listing leaves the allocator holding megabytes once it is sent; give them back. */
	if (big && (p == NULL || p->ended || p->out == NULL))
		malloc_trim(0);
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

int server_park(struct conn *conn, server_gone_fn gone, void *arg, char *err, size_t errlen)
{
	struct server *srv = conn->srv;
	struct pipe *p = conn->pipe;
	int mine = 0;

	/* A pipe whose write failed is shut down and ends at the loop's next turn. */
	if (p == NULL || p->ended) {
		snprintf(err, errlen, "the client has gone");
		return -1;
	}
	if (srv->nparked >= SERVER_MAX_PARKED) {
		snprintf(err, errlen, "depotd already holds %d waiting requests, the most it "
		    "keeps; try again later", SERVER_MAX_PARKED);
		return -1;
	}
	if (srv->park_cap > 0) {
		for (const struct pipe *q = srv->pipes; q; q = q->next)
			for (const struct conn *c = q->conns; c; c = c->next)
				mine += c->uid == conn->uid;
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
	conn->prev = NULL;
	conn->next = p->conns;
	if (p->conns)
		p->conns->prev = conn;
	p->conns = conn;
	srv->nparked++;
	return 0;
}

static void conn_unpark(struct conn *conn)
{
	struct pipe *p = conn->pipe;

	if (!conn->parked)
		return;
	conn->parked = 0;
	conn->gone = NULL;
	conn->gone_arg = NULL;
	if (conn->prev)
		conn->prev->next = conn->next;
	else if (p != NULL)
		p->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	conn->srv->nparked--;
}

void server_forget(struct conn *conn)
{
	conn_free(conn);
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
