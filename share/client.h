/* client.h: one request, one JSON reply, over a REQ0 socket (control or worker); spwire.h speaks the wire. */
#ifndef DEPOT_CLIENT_H
#define DEPOT_CLIENT_H
#include <cjson/cJSON.h>
#include <stddef.h>

struct depot_client;

/* A client for url; connects at its first request, and again after the daemon went away. -1 with err on a bad url. */
int client_open(struct depot_client **out, const char *url, char *err, size_t errlen);
void client_close(struct depot_client *c);

enum client_status {
	CLIENT_OK = 0,		/* *reply holds the daemon's {"ok":…} object */
	CLIENT_UNREACHABLE = -1,/* nothing listening: the request was not sent */
	CLIENT_ERROR = -2,	/* local failure, or a reply or peer not as the protocol says; err says what */
	CLIENT_LOST = -3,	/* the connection ended before the reply: the request may have been acted on */
	CLIENT_TIMEOUT = -4,	/* no reply within the time given */
};

/*
 * Sends {"cmd": cmd, "args": args} (args is consumed; NULL sends {}) and
 * waits up to timeout_ms (negative: forever) for the reply; err says why
 * when it is not CLIENT_OK. A request is never sent twice (DESIGN §15).
 */
enum client_status client_call(struct depot_client *c, const char *cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen);

/* Bytes of the last request sent: to tell "too large" from "daemon gone" when a reply never comes. */
size_t client_last_request_size(const struct depot_client *c);

#endif
