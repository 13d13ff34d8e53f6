/* client.c: one request, one JSON reply, over a REQ0 socket (control or worker); spwire.c speaks the wire. */
#include "client.h"

#include "spwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct depot_client {
	struct sp_sock *sock;
	size_t last_size;
};

size_t client_last_request_size(const struct depot_client *c)
{
	return c ? c->last_size : 0;
}

int client_open(struct depot_client **out, const char *url, char *err, size_t errlen)
{
	struct depot_client *c = calloc(1, sizeof *c);

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sp_req_open(&c->sock, url, err, errlen) != 0) {
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

void client_close(struct depot_client *c)
{
	if (c == NULL)
		return;
	sp_close(c->sock);
	free(c);
}

/* One request and its reply; args is borrowed. */
static enum client_status client_call_once(struct depot_client *c, const char *cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject();
	char *text = NULL;
	const char *buf;
	size_t len;
	enum sp_status st;

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
	c->last_size = strlen(text);
	st = sp_req_call(c->sock, text, c->last_size, timeout_ms, &buf, &len, err, errlen);
	free(text);
	switch (st) {
	case SP_OK:
		break;
	case SP_UNREACHABLE:
		return CLIENT_UNREACHABLE;
	case SP_LOST:
		return CLIENT_LOST;
	case SP_TIMEOUT:
		return CLIENT_TIMEOUT;
	default:
		return CLIENT_ERROR;
	}
	*reply = cJSON_ParseWithLength(buf, len);
	if (*reply == NULL || !cJSON_IsObject(*reply) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(*reply, "ok"))) {
		cJSON_Delete(*reply);
		*reply = NULL;
		snprintf(err, errlen, "unreadable reply from %s", sp_path(c->sock));
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
