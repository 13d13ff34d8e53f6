/* test_spwire.c: spwire's REQ0 and SUB0 against real nng REP0 and PUB0 sockets, and against hostile peers made of plain sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "spwire.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/* A temporary directory and the socket path in it, for each test. */
struct scratch {
	char dir[64], path[96], url[128];
};

/*
 * A real nng REP0 server in a thread. Requests it understands:
 * "echo X" replies X; "big N" replies N bytes (a pattern of the offset);
 * "late MS X" waits MS ms, then replies X; a JSON request, a daemon's
 * {"ok":true,"result":"pong"}.
 */
struct rep_server {
	nng_socket sock;
	pthread_t th;
};

/* What a hostile peer does once the client connected. */
enum hostile_mode {
	HOSTILE_BAD_HEADER,	/* answers with an HTTP status line instead of the SP header */
	HOSTILE_PUB_HEADER,	/* answers with PUB0's header, as an nng PUB socket would */
	HOSTILE_HUGE_LENGTH,	/* replies announcing 2^63 bytes */
	HOSTILE_CLOSE_MID,	/* announces 1000 bytes, sends 10, closes */
	HOSTILE_SILENT,		/* reads the request and never answers */
	HOSTILE_SLAM,		/* closes each connection at once, before its header */
};

struct hostile {
	int lfd, stop[2];
	enum hostile_mode mode;
	pthread_t th;
};

static int setup(void **state);
static int teardown(void **state);
static int64_t now_ms(void);
static void *rep_main(void *arg);
static void rep_start(struct rep_server *r, const char *url, size_t recv_max);
static void rep_stop(struct rep_server *r);
static int read_full(int fd, void *buf, size_t n);
static void *hostile_main(void *arg);
static void hostile_start(struct hostile *h, const char *path, enum hostile_mode mode);
static void hostile_stop(struct hostile *h);
static int sub_wait_probe(struct sp_sock *s, nng_socket pub);
static void publish(nng_socket pub, const char *msg);

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);

	assert_non_null(s);
	snprintf(s->dir, sizeof s->dir, "/tmp/spwire.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof s->path, "%s/sock", s->dir);
	snprintf(s->url, sizeof s->url, "ipc://%s", s->path);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;

	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *rep_main(void *arg)
{
	struct rep_server *r = arg;

	for (;;) {
		char *buf = NULL, *out = NULL;
		size_t len = 0, outlen = 0;
		char text[256];
		long ms;
		int off;

		if (nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC) != 0)
			return NULL;
		snprintf(text, sizeof text, "%.*s", (int)(len < 255 ? len : 255), buf);
		nng_free(buf, len);
		if (text[0] == '{') {
			out = strdup("{\"ok\":true,\"result\":\"pong\"}");
			outlen = strlen(out);
		} else if (strncmp(text, "echo ", 5) == 0) {
			out = strdup(text + 5);
			outlen = strlen(out);
		} else if (strncmp(text, "big ", 4) == 0) {
			outlen = strtoul(text + 4, NULL, 10);
			out = malloc(outlen);
			for (size_t i = 0; i < outlen; i++)
				out[i] = (char)(i * 7 % 251);
		} else if (sscanf(text, "late %ld %n", &ms, &off) == 1) {
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
			out = strdup(text + off);
			outlen = strlen(out);
		}
		if (out == NULL)
			continue;
		nng_send(r->sock, out, outlen, 0);
		free(out);
	}
}

/* recv_max: nng's limit on requests, as the daemon's max_message sets it (0: none). */
static void rep_start(struct rep_server *r, const char *url, size_t recv_max)
{
	assert_int_equal(nng_rep0_open(&r->sock), 0);
	assert_int_equal(nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, recv_max), 0);
	assert_int_equal(nng_listen(r->sock, url, NULL, 0), 0);
	assert_int_equal(pthread_create(&r->th, NULL, rep_main, r), 0);
}

static void rep_stop(struct rep_server *r)
{
	nng_close(r->sock);
	pthread_join(r->th, NULL);
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *hostile_main(void *arg)
{
	static const uint8_t rep_head[8] = { 0, 'S', 'P', 0, 0x00, 0x31, 0, 0 };
	struct hostile *h = arg;
	struct pollfd p[2] = { { .fd = h->lfd, .events = POLLIN }, { .fd = h->stop[0], .events = POLLIN } };
	uint8_t head[8], frame[9];
	uint64_t len = 0;
	char *req;
	int fd;

	if (h->mode == HOSTILE_SLAM) {
		while (poll(p, 2, -1) > 0 && !(p[1].revents & POLLIN))
			if ((fd = accept(h->lfd, NULL, NULL)) >= 0)
				close(fd);
		return NULL;
	}
	if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN) || (fd = accept(h->lfd, NULL, NULL)) < 0)
		return NULL;
	if (h->mode == HOSTILE_BAD_HEADER || h->mode == HOSTILE_PUB_HEADER) {
		static const uint8_t pub_head[8] = { 0, 'S', 'P', 0, 0x00, 0x20, 0, 0 };

		if (write(fd, h->mode == HOSTILE_BAD_HEADER ? (const void *)"HTTP/1.1" :
		    (const void *)pub_head, 8) != 8)
			abort();
		read_full(fd, head, sizeof head);
		p[0] = (struct pollfd){ .fd = h->stop[0], .events = POLLIN };
		poll(p, 1, -1);
		close(fd);
		return NULL;
	}
	/* The rest speak SP's header and read the whole request first. */
	if (write(fd, rep_head, sizeof rep_head) != sizeof rep_head ||
	    read_full(fd, head, sizeof head) != 0 || read_full(fd, frame, sizeof frame) != 0)
		abort();
	for (int i = 1; i < 9; i++)
		len = len << 8 | frame[i];
	req = malloc(len);
	if (req == NULL || read_full(fd, req, len) != 0)
		abort();
	if (h->mode == HOSTILE_HUGE_LENGTH) {
		uint8_t huge[13] = { 1, 0x80, 0, 0, 0, 0, 0, 0, 0 };

		memcpy(huge + 9, req, 4);	/* the right request id, even */
		if (write(fd, huge, sizeof huge) != sizeof huge)
			abort();
	} else if (h->mode == HOSTILE_CLOSE_MID) {
		uint8_t part[19] = { 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8 };

		memcpy(part + 9, req, 4);
		memcpy(part + 13, "{\"ok\":", 6);
		if (write(fd, part, sizeof part) != sizeof part)
			abort();
		close(fd);
		free(req);
		return NULL;
	}
	free(req);
	p[0] = (struct pollfd){ .fd = h->stop[0], .events = POLLIN };
	poll(p, 1, -1);
	close(fd);
	return NULL;
}

static void hostile_start(struct hostile *h, const char *path, enum hostile_mode mode)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	h->mode = mode;
	assert_true((h->lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(h->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	assert_int_equal(listen(h->lfd, 4), 0);
	assert_int_equal(pipe(h->stop), 0);
	assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

static void hostile_stop(struct hostile *h)
{
	if (write(h->stop[1], "x", 1) != 1)
		abort();
	pthread_join(h->th, NULL);
	close(h->stop[0]);
	close(h->stop[1]);
	close(h->lfd);
}

static void publish(nng_socket pub, const char *msg)
{
	assert_int_equal(nng_send(pub, (void *)msg, strlen(msg), 0), 0);
}

/*
 * A PUB socket drops what it publishes before the subscriber's connection
 * has reached it: publishes "task probe" until one arrives (5 s at most).
 */
static int sub_wait_probe(struct sp_sock *s, nng_socket pub)
{
	int64_t deadline = now_ms() + 5000;
	char err[256];

	while (now_ms() < deadline) {
		const char *msg;
		size_t len;

		publish(pub, "task probe");
		if (sp_sub_recv(s, 50, &msg, &len, err, sizeof err) == SP_OK &&
		    len == 10 && memcmp(msg, "task probe", 10) == 0)
			return 0;
	}
	return -1;
}

static void req_round_trips_with_nng_rep(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];

	rep_start(&r, s->url, 0);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	for (int i = 0; i < 3; i++) {
		char body[32], want[32];

		snprintf(body, sizeof body, "echo reply %d", i);
		snprintf(want, sizeof want, "reply %d", i);
		assert_int_equal(sp_req_call(q, body, strlen(body), 2000, &reply, &len, err,
		    sizeof err), SP_OK);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(reply, want, len);
	}
	sp_close(q);
	rep_stop(&r);
}

static void req_takes_a_reply_larger_than_1_mib(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct sp_sock *q;
	const char *reply;
	size_t len, n = 3 * 1024 * 1024 + 17;
	char err[256], body[32];

	rep_start(&r, s->url, 0);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	snprintf(body, sizeof body, "big %zu", n);
	assert_int_equal(sp_req_call(q, body, strlen(body), 5000, &reply, &len, err, sizeof err),
	    SP_OK);
	assert_int_equal(len, n);
	for (size_t i = 0; i < n; i++)
		if (reply[i] != (char)(i * 7 % 251))
			fail_msg("byte %zu differs", i);
	/* And the socket goes on with small ones. */
	assert_int_equal(sp_req_call(q, "echo after", 10, 2000, &reply, &len, err, sizeof err),
	    SP_OK);
	assert_memory_equal(reply, "after", 5);
	sp_close(q);
	rep_stop(&r);
}

static void req_drops_a_late_reply_to_an_earlier_request(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];

	rep_start(&r, s->url, 0);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	assert_int_equal(sp_req_call(q, "late 300 first", 14, 50, &reply, &len, err, sizeof err),
	    SP_TIMEOUT);
	assert_non_null(strstr(err, "no reply from"));
	/* "first" comes on the same connection before "second": it is not the answer. */
	assert_int_equal(sp_req_call(q, "echo second", 11, 3000, &reply, &len, err, sizeof err),
	    SP_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(reply, "second", 6);
	sp_close(q);
	rep_stop(&r);
}

static void req_dials_again_after_the_server_restarted(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];

	rep_start(&r, s->url, 0);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	assert_int_equal(sp_req_call(q, "echo one", 8, 2000, &reply, &len, err, sizeof err), SP_OK);
	rep_stop(&r);
	assert_int_equal(sp_req_call(q, "echo two", 8, 2000, &reply, &len, err, sizeof err),
	    SP_UNREACHABLE);
	rep_start(&r, s->url, 0);
	assert_int_equal(sp_req_call(q, "echo three", 10, 2000, &reply, &len, err, sizeof err),
	    SP_OK);
	assert_memory_equal(reply, "three", 5);
	sp_close(q);
	rep_stop(&r);
}

static void req_with_nobody_listening_is_unreachable_at_once(void **state)
{
	struct scratch *s = *state;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];
	int64_t t0 = now_ms();

	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	assert_int_equal(sp_req_call(q, "echo x", 6, -1, &reply, &len, err, sizeof err),
	    SP_UNREACHABLE);
	assert_true(now_ms() - t0 < SP_SEND_TIMEOUT_MS);
	assert_non_null(strstr(err, "cannot connect to"));
	assert_non_null(strstr(err, s->path));
	sp_close(q);
}

static void req_over_the_servers_max_message_is_lost(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct sp_sock *q;
	const char *reply;
	size_t len, n = 200000;
	char err[256], *body = malloc(n);

	assert_non_null(body);
	memcpy(body, "echo ", 5);
	memset(body + 5, 'a', n - 5);
	rep_start(&r, s->url, 64 * 1024);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	assert_int_equal(sp_req_call(q, body, n, 5000, &reply, &len, err, sizeof err), SP_LOST);
	/* nng closed that connection; the next request has a new one. */
	assert_int_equal(sp_req_call(q, "echo fine", 9, 2000, &reply, &len, err, sizeof err), SP_OK);
	free(body);
	sp_close(q);
	rep_stop(&r);
}

/*
 * One request to a hostile peer in mode: the call ends with status and an
 * error naming needle, and gives no reply.
 */
static void expect_hostile(void **state, enum hostile_mode mode, int timeout_ms,
    enum sp_status status, const char *needle)
{
	struct scratch *s = *state;
	struct hostile h;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];

	hostile_start(&h, s->path, mode);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	assert_int_equal(sp_req_call(q, "echo x", 6, timeout_ms, &reply, &len, err, sizeof err),
	    status);
	assert_non_null(strstr(err, needle));
	assert_null(reply);
	sp_close(q);
	hostile_stop(&h);
}

/*
 * An nng PUB socket would answer so too, but nng 1.5 sometimes leaves the
 * listener of a socket that refused a pipe unfreed at exit, which
 * LeakSanitizer counts against this test: the header is written by hand.
 */
static void req_refuses_a_peer_of_another_protocol(void **state)
{
	expect_hostile(state, HOSTILE_PUB_HEADER, 2000, SP_ERROR, "protocol 0x20");
}

static void req_refuses_a_peer_with_a_wrong_header(void **state)
{
	expect_hostile(state, HOSTILE_BAD_HEADER, 2000, SP_ERROR, "is not an nng socket");
}

static void req_refuses_a_reply_announcing_2_to_the_63_bytes(void **state)
{
	expect_hostile(state, HOSTILE_HUGE_LENGTH, 2000, SP_ERROR,
	    "announced a 9223372036854775808-byte message");
}

static void req_peer_closing_mid_reply_is_lost(void **state)
{
	expect_hostile(state, HOSTILE_CLOSE_MID, 2000, SP_LOST, "closed");
}

static void req_peer_closing_before_its_header_is_unreachable(void **state)
{
	/* Nothing of the request can have been read: as if nobody listened. */
	expect_hostile(state, HOSTILE_SLAM, -1, SP_UNREACHABLE, "before the daemon's header");
}

static void req_silent_peer_times_out_when_asked(void **state)
{
	struct scratch *s = *state;
	struct hostile h;
	struct sp_sock *q;
	const char *reply;
	size_t len;
	char err[256];
	int64_t t0, took;

	hostile_start(&h, s->path, HOSTILE_SILENT);
	assert_int_equal(sp_req_open(&q, s->url, err, sizeof err), 0);
	t0 = now_ms();
	assert_int_equal(sp_req_call(q, "echo x", 6, 300, &reply, &len, err, sizeof err),
	    SP_TIMEOUT);
	took = now_ms() - t0;
	assert_true(took >= 300);
	/* Not the 5 s of sending, nor for ever. */
	assert_true(took < SP_SEND_TIMEOUT_MS);
	sp_close(q);
	hostile_stop(&h);
}

static void sub_keeps_only_its_topics(void **state)
{
	struct scratch *s = *state;
	const char *const topics[] = { "task ", "lock " };
	const char *want[] = { "task 1", "lock 2", "task 3" };
	struct sp_sock *sub;
	nng_socket pub;
	const char *msg;
	size_t len;
	char err[256];

	assert_int_equal(nng_pub0_open(&pub), 0);
	assert_int_equal(nng_listen(pub, s->url, NULL, 0), 0);
	assert_int_equal(sp_sub_open(&sub, s->url, topics, 2, err, sizeof err), 0);
	assert_int_equal(sub_wait_probe(sub, pub), 0);
	publish(pub, "worker w1");
	publish(pub, "task 1");
	publish(pub, "taskfoo 9");
	publish(pub, "lock 2");
	publish(pub, "status x");
	publish(pub, "task 3");
	for (size_t i = 0; i < 3; i++) {
		/* A probe published before the connection was whole may still come. */
		do
			assert_int_equal(sp_sub_recv(sub, 2000, &msg, &len, err, sizeof err), SP_OK);
		while (len == 10 && memcmp(msg, "task probe", 10) == 0);
		assert_int_equal(len, strlen(want[i]));
		assert_memory_equal(msg, want[i], len);
	}
	assert_int_equal(sp_sub_recv(sub, 100, &msg, &len, err, sizeof err), SP_TIMEOUT);
	sp_close(sub);
	nng_close(pub);
}

static void sub_dials_again_after_the_publisher_restarted(void **state)
{
	struct scratch *s = *state;
	struct sp_sock *sub;
	nng_socket pub;
	const char *msg;
	size_t len;
	char err[256];

	/* Nobody there yet: opening does not fail, receiving waits. */
	assert_int_equal(sp_sub_open(&sub, s->url, NULL, 0, err, sizeof err), 0);
	assert_int_equal(sp_sub_recv(sub, 0, &msg, &len, err, sizeof err), SP_TIMEOUT);
	assert_int_equal(sp_sub_connects(sub), 0);
	assert_int_equal(nng_pub0_open(&pub), 0);
	assert_int_equal(nng_listen(pub, s->url, NULL, 0), 0);
	assert_int_equal(sub_wait_probe(sub, pub), 0);
	assert_int_equal(sp_sub_connects(sub), 1);
	assert_int_equal(sp_sub_losses(sub), 0);
	nng_close(pub);
	assert_int_equal(nng_pub0_open(&pub), 0);
	assert_int_equal(nng_listen(pub, s->url, NULL, 0), 0);
	assert_int_equal(sub_wait_probe(sub, pub), 0);
	assert_int_equal(sp_sub_connects(sub), 2);
	assert_int_equal(sp_sub_losses(sub), 1);
	sp_close(sub);
	nng_close(pub);
}

static void sub_drops_a_peer_announcing_2_to_the_63_bytes_and_dials_again(void **state)
{
	struct scratch *s = *state;
	static const uint8_t pub_head[8] = { 0, 'S', 'P', 0, 0x00, 0x20, 0, 0 };
	static const uint8_t huge[9] = { 1, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sp_sock *sub;
	const char *msg;
	size_t len;
	char err[256];
	uint8_t head[8];
	int lfd, fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
	assert_true((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(sp_sub_open(&sub, s->url, NULL, 0, err, sizeof err), 0);
	assert_true((fd = accept(lfd, NULL, NULL)) >= 0);
	assert_int_equal(write(fd, pub_head, 8), 8);
	assert_int_equal(write(fd, huge, 9), 9);
	assert_int_equal(read_full(fd, head, 8), 0);
	assert_int_equal(sp_sub_recv(sub, 200, &msg, &len, err, sizeof err), SP_TIMEOUT);
	assert_int_equal(sp_sub_losses(sub), 1);
	/* It closed its side: the peer reads the end of the connection. */
	assert_int_equal(read(fd, head, 1), 0);
	close(fd);
	/* And comes back, as it would to a restarted daemon. */
	{
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int64_t deadline = now_ms() + 5000;

		while (poll(&p, 1, 0) == 0 && now_ms() < deadline)
			sp_sub_recv(sub, 50, &msg, &len, err, sizeof err);
		assert_int_equal(poll(&p, 1, 0), 1);
	}
	sp_close(sub);
	close(lfd);
}

static void client_call_parses_the_reply_and_tells_timeout_from_unreachable(void **state)
{
	struct scratch *s = *state;
	struct rep_server r;
	struct hostile h;
	struct depot_client *c;
	cJSON *reply;
	char err[256];

	rep_start(&r, s->url, 0);
	assert_int_equal(client_open(&c, s->url, err, sizeof err), 0);
	assert_int_equal(client_call(c, "ping", NULL, 2000, &reply, err, sizeof err), CLIENT_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(reply, "result")), "pong");
	cJSON_Delete(reply);
	client_close(c);
	rep_stop(&r);
	/* A silent peer: the request went, no reply came. */
	hostile_start(&h, s->path, HOSTILE_SILENT);
	assert_int_equal(client_open(&c, s->url, err, sizeof err), 0);
	assert_int_equal(client_call(c, "ping", NULL, 100, &reply, err, sizeof err), CLIENT_TIMEOUT);
	assert_null(reply);
	client_close(c);
	hostile_stop(&h);
	unlink(s->path);
	/* Nobody: the request never went. */
	assert_int_equal(client_open(&c, s->url, err, sizeof err), 0);
	assert_int_equal(client_call(c, "ping", NULL, 100, &reply, err, sizeof err),
	    CLIENT_UNREACHABLE);
	client_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(req_round_trips_with_nng_rep, setup, teardown),
		cmocka_unit_test_setup_teardown(req_takes_a_reply_larger_than_1_mib, setup, teardown),
		cmocka_unit_test_setup_teardown(req_drops_a_late_reply_to_an_earlier_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_dials_again_after_the_server_restarted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_with_nobody_listening_is_unreachable_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_over_the_servers_max_message_is_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_refuses_a_peer_of_another_protocol,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_refuses_a_peer_with_a_wrong_header,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_refuses_a_reply_announcing_2_to_the_63_bytes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_peer_closing_mid_reply_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(req_peer_closing_before_its_header_is_unreachable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(req_silent_peer_times_out_when_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(sub_keeps_only_its_topics, setup, teardown),
		cmocka_unit_test_setup_teardown(sub_dials_again_after_the_publisher_restarted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    sub_drops_a_peer_announcing_2_to_the_63_bytes_and_dials_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    client_call_parses_the_reply_and_tells_timeout_from_unreachable, setup,
		    teardown),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* nng reaps a refused pipe after nng_close returns: wait for it, so LeakSanitizer sees none. */
	nng_fini();
	return failed;
}
