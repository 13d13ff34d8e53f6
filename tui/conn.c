/*
 * conn.c: requests on control.sock (through libdepot's client), events
 * from events.sock, and one slow request (backup, restore) run in its own
 * thread so that the screen never waits for it.
 */
#include "conn.h"

#include "client.h"
#include "paths.h"
#include "proto.h"
#include "spwire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int conn_reply(cJSON *reply, cJSON **result, char *err, size_t errlen);
static void *job_main(void *arg);

struct conn_job {
	pthread_mutex_t mu;
	char url[4200], cmd[64];
	cJSON *args;
	int timeout_ms;
	int done, abandoned;
	int rc;
	cJSON *result;
	char err[512];
};

static const char *const conn_topics[] = { "task ", "worker ", "lock ", "status " };

int conn_open(struct conn *c, const char *dir, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (paths_socket_url(dir, DEPOT_CONTROL_SOCK, c->control_url, sizeof c->control_url,
	    err, errlen) != 0 ||
	    paths_socket_url(dir, DEPOT_EVENTS_SOCK, c->events_url, sizeof c->events_url,
	    err, errlen) != 0)
		return -1;
	if (client_open(&c->req, c->control_url, err, errlen) != 0)
		return -1;
	/* SUB redials by itself for ever; each new connection means events were missed. */
	if (sp_sub_open(&c->sub, c->events_url, conn_topics,
	    sizeof conn_topics / sizeof conn_topics[0], err, errlen) != 0) {
		client_close(c->req);
		c->req = NULL;
		return -1;
	}
	return 0;
}

void conn_close(struct conn *c)
{
	sp_close(c->sub);
	c->sub = NULL;
	client_close(c->req);
	c->req = NULL;
}

/* 1 once after each new connection of the events socket. */
int conn_sub_reconnected(struct conn *c)
{
	unsigned n = c->sub != NULL ? sp_sub_connects(c->sub) : 0;

	if (n == c->sub_seen)
		return 0;
	c->sub_seen = n;
	return 1;
}

/*
 * 1 once after the events socket lost its connection: the daemon may be
 * gone, which a request would only learn by waiting out its timeout.
 */
int conn_sub_lost(struct conn *c)
{
	unsigned n = c->sub != NULL ? sp_sub_losses(c->sub) : 0;

	if (n == c->sub_rems_seen)
		return 0;
	c->sub_rems_seen = n;
	return 1;
}

/* A fresh REQ socket: the next request dials anew, and fails at once if nobody listens. */
void conn_reset(struct conn *c)
{
	char err[256];

	client_close(c->req);
	if (client_open(&c->req, c->control_url, err, sizeof err) != 0)
		c->req = NULL;
}

/* Splits a reply {"ok":…} into result or "code: message"; consumes reply. */
static int conn_reply(cJSON *reply, cJSON **result, char *err, size_t errlen)
{
	const cJSON *e;
	const char *code, *msg;

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
		*result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
		if (*result == NULL)
			*result = cJSON_CreateNull();
		cJSON_Delete(reply);
		return CONN_OK;
	}
	e = cJSON_GetObjectItemCaseSensitive(reply, "error");
	code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
	msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
	snprintf(err, errlen, "%s: %s", code != NULL ? code : "error",
	    msg != NULL ? msg : "(no message)");
	cJSON_Delete(reply);
	return CONN_REFUSED;
}

/*
 * One request; args is consumed. When nobody answers, the REQ socket is
 * opened afresh, so that the next call dials again and fails at once while
 * the daemon stays down, instead of waiting out a timeout each time.
 */
int conn_call(struct conn *c, enum command cmd, cJSON *args, int timeout_ms,
    cJSON **result, char *err, size_t errlen)
{
	cJSON *reply = NULL;
	enum client_status st;

	*result = NULL;
	if (c->req == NULL && client_open(&c->req, c->control_url, err, errlen) != 0) {
		cJSON_Delete(args);
		return CONN_ERROR;
	}
	st = client_call(c->req, command_name(cmd), args, timeout_ms, &reply, err, errlen);
	if (st == CLIENT_OK)
		return conn_reply(reply, result, err, errlen);
	if (st == CLIENT_UNREACHABLE || st == CLIENT_LOST || st == CLIENT_TIMEOUT) {
		conn_reset(c);
		return CONN_DOWN;
	}
	return CONN_ERROR;
}

/*
 * The next event if one has come: 1 with buf (valid until the next call),
 * else 0. While the daemon is away this also dials it again, when due.
 */
int conn_recv_event(struct conn *c, const char **buf, size_t *len)
{
	char err[256];

	if (c->sub == NULL)
		return 0;
	return sp_sub_recv(c->sub, 0, buf, len, err, sizeof err) == SP_OK;
}

/* A job: its own REQ socket, so the console's requests go on meanwhile. */
static void *job_main(void *arg)
{
	struct conn_job *j = arg;
	struct depot_client *cl = NULL;
	cJSON *reply = NULL, *result = NULL;
	char err[512] = "";
	enum client_status st;
	int rc, abandoned;

	if (client_open(&cl, j->url, err, sizeof err) != 0) {
		cJSON_Delete(j->args);
		rc = CONN_ERROR;
	} else {
		st = client_call(cl, j->cmd, j->args, j->timeout_ms, &reply, err, sizeof err);
		rc = st == CLIENT_OK ? conn_reply(reply, &result, err, sizeof err) :
		    st == CLIENT_UNREACHABLE || st == CLIENT_LOST || st == CLIENT_TIMEOUT ?
		    CONN_DOWN : CONN_ERROR;
		client_close(cl);
	}
	j->args = NULL;
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->result = result;
	snprintf(j->err, sizeof j->err, "%s", err);
	j->done = 1;
	abandoned = j->abandoned;
	pthread_mutex_unlock(&j->mu);
	if (abandoned) {
		cJSON_Delete(j->result);
		pthread_mutex_destroy(&j->mu);
		free(j);
	}
	return NULL;
}

/* Starts cmd in a thread; args is consumed. NULL when no thread could start. */
struct conn_job *conn_job_start(const struct conn *c, const char *cmd, cJSON *args,
    int timeout_ms)
{
	struct conn_job *j = calloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;
	int rv;

	if (j == NULL) {
		cJSON_Delete(args);
		return NULL;
	}
	pthread_mutex_init(&j->mu, NULL);
	snprintf(j->url, sizeof j->url, "%s", c->control_url);
	snprintf(j->cmd, sizeof j->cmd, "%s", cmd);
	j->args = args;
	j->timeout_ms = timeout_ms;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&th, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (rv != 0) {
		cJSON_Delete(args);
		pthread_mutex_destroy(&j->mu);
		free(j);
		return NULL;
	}
	return j;
}

int conn_job_done(struct conn_job *j)
{
	int done;

	pthread_mutex_lock(&j->mu);
	done = j->done;
	pthread_mutex_unlock(&j->mu);
	return done;
}

/* The outcome of a finished job, as conn_call gives it; the result moves to the caller. */
int conn_job_result(struct conn_job *j, cJSON **result, char *err, size_t errlen)
{
	pthread_mutex_lock(&j->mu);
	*result = j->result;
	j->result = NULL;
	snprintf(err, errlen, "%s", j->err);
	pthread_mutex_unlock(&j->mu);
	return j->rc;
}

/* Frees a finished job; an unfinished one frees itself when its answer comes. */
void conn_job_free(struct conn_job *j)
{
	int done;

	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	done = j->done;
	j->abandoned = 1;
	pthread_mutex_unlock(&j->mu);
	if (!done)
		return;
	cJSON_Delete(j->result);
	pthread_mutex_destroy(&j->mu);
	free(j);
}
