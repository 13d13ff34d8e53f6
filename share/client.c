/* client.c: one request, one JSON reply, over an nng REQ socket (control or worker). */
#include "client.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct depot_client {
	nng_socket sock;
	nng_dialer dialer;
	char url[4200];
	int dialed;
	size_t last_size;
};

size_t client_last_request_size(const struct depot_client *c)
{
	return c ? c->last_size : 0;
}

int client_open(struct depot_client **out, const char *url, char *err, size_t errlen)
{
	struct depot_client *c = calloc(1, sizeof *c);
	int rv;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(c->url, sizeof c->url, "%s", url);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "nng_req0_open: %s", nng_strerror(rv));
		free(c);
		return -1;
	}
	/* DESIGN §15: a slow request (a backup, a long wait) must never be resent. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 500);
	/* Replies can be as large as the daemon allows requests to be, and more (lists). */
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 0);
	*out = c;
	return 0;
}

void client_close(struct depot_client *c)
{
	if (c == NULL)
		return;
	nng_close(c->sock);
	free(c);
}

/* Dials synchronously the first time, so "nobody listening" is an immediate answer. */
static int client_dial(struct depot_client *c)
{
	int rv;

	if (c->dialed)
		return 0;
	rv = nng_dial(c->sock, c->url, &c->dialer, 0);
	if (rv != 0)
		return rv;
	c->dialed = 1;
	return 0;
}

/* One request and its reply; args is borrowed. */
static enum client_status client_call_once(struct depot_client *c, const char *cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	char *text = NULL, *buf = NULL;
	size_t len = 0;
	int rv;

	*reply = NULL;
	if (req != NULL && cJSON_AddStringToObject(req, "cmd", cmd) != NULL) {
		cJSON_AddItemToObject(req, "args", args);
		text = cJSON_PrintUnformatted(req);
		cJSON_DetachItemFromObjectCaseSensitive(req, "args");
	}
	cJSON_Delete(req);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLIENT_ERROR;
	}
	if ((rv = client_dial(c)) != 0) {
		free(text);
		snprintf(err, errlen, "cannot connect to %s: %s", c->url + 6, nng_strerror(rv));
		return CLIENT_UNREACHABLE;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO,
	    timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	c->last_size = strlen(text);
	rv = nng_send(c->sock, text, c->last_size, 0);
	free(text);
	if (rv != 0) {
		snprintf(err, errlen, "sending to %s: %s", c->url + 6, nng_strerror(rv));
		return CLIENT_UNREACHABLE;
	}
	rv = nng_recv(c->sock, &buf, &len, NNG_FLAG_ALLOC);
	if (rv != 0) {
		snprintf(err, errlen, "no reply from %s: %s", c->url + 6, nng_strerror(rv));
		return CLIENT_UNREACHABLE;
	}
	*reply = cJSON_ParseWithLength(buf, len);
	nng_free(buf, len);
	if (*reply == NULL || !cJSON_IsObject(*reply) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(*reply, "ok"))) {
		cJSON_Delete(*reply);
		*reply = NULL;
		snprintf(err, errlen, "unreadable reply from %s", c->url + 6);
		return CLIENT_ERROR;
	}
	return CLIENT_OK;
}

/*
 * A page's reply carries "next": the args that fetch the rest. Asks for
 * each page in turn, the daemon answering others between them, and
 * appends its result to the first reply's; a page that fails ends with
 * its own reply or status.
 */
enum client_status client_call(struct depot_client *c, const char *cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen)
{
	cJSON *own = args != NULL ? args : cJSON_CreateObject(), *next = NULL, *page, *item, *arr;
	enum client_status st;

	if (own == NULL) {
		*reply = NULL;
		snprintf(err, errlen, "out of memory");
		return CLIENT_ERROR;
	}
	st = client_call_once(c, cmd, own, timeout_ms, reply, err, errlen);
	while (st == CLIENT_OK &&
	    cJSON_IsObject(next = cJSON_DetachItemFromObjectCaseSensitive(*reply, "next")) &&
	    cJSON_IsArray(arr = cJSON_GetObjectItemCaseSensitive(*reply, "result"))) {
		while ((item = next->child) != NULL) {
			cJSON_DetachItemViaPointer(next, item);
			cJSON_DeleteItemFromObjectCaseSensitive(own, item->string);
			cJSON_AddItemToObject(own, item->string, item);
		}
		cJSON_Delete(next);
		next = NULL;
		if ((st = client_call_once(c, cmd, own, timeout_ms, &page, err, errlen)) !=
		    CLIENT_OK || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(page, "ok"))) {
			cJSON_Delete(*reply);
			*reply = page;
			break;
		}
		while ((item = cJSON_GetObjectItemCaseSensitive(page, "result")) != NULL &&
		    item->child != NULL)
			cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(item, item->child));
		if ((next = cJSON_DetachItemFromObjectCaseSensitive(page, "next")) != NULL)
			cJSON_AddItemToObject(*reply, "next", next);
		cJSON_Delete(page);
	}
	cJSON_Delete(next);
	cJSON_Delete(own);
	return st;
}

int client_subscribe(int *sock_id, const char *url, const char *const *topics,
    size_t ntopics, char *err, size_t errlen)
{
	nng_socket s;
	int rv;

	if ((rv = nng_sub0_open(&s)) != 0) {
		snprintf(err, errlen, "nng_sub0_open: %s", nng_strerror(rv));
		return -1;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 1000);
	if (ntopics == 0)
		rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	for (size_t i = 0; i < ntopics && rv == 0; i++)
		rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, topics[i], strlen(topics[i]));
	if (rv == 0)
		rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		snprintf(err, errlen, "subscribing to %s: %s", url + 6, nng_strerror(rv));
		nng_close(s);
		return -1;
	}
	*sock_id = (int)nng_socket_id(s);
	return 0;
}
