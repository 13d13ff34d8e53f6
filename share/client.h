/* client.h: one request, one JSON reply, over an nng REQ socket (control or worker). */
#ifndef DEPOT_CLIENT_H
#define DEPOT_CLIENT_H
#include <cjson/cJSON.h>
#include <stddef.h>

struct depot_client;

/* Connects (lazily: nng keeps redialing) to url. -1 with err on failure. */
int client_open(struct depot_client **out, const char *url, char *err, size_t errlen);
void client_close(struct depot_client *c);

enum client_status {
	CLIENT_OK = 0,		/* *reply holds the daemon's {"ok":…} object */
	CLIENT_UNREACHABLE = -1,/* nothing listening, or no answer in time */
	CLIENT_ERROR = -2,	/* local failure or unreadable reply; err says what */
};

/*
 * Sends {"cmd": cmd, "args": args} (args is consumed; NULL sends {}) and
 * waits up to timeout_ms (negative: forever) for the reply. A request is
 * never sent twice: REQ's resend timer is switched off.
 */
enum client_status client_call(struct depot_client *c, const char *cmd,
    cJSON *args, int timeout_ms, cJSON **reply, char *err, size_t errlen);

/* Bytes of the last request sent: to tell "too large" from "daemon gone" when a reply never comes. */
size_t client_last_request_size(const struct depot_client *c);

/* Opens a SUB socket on url subscribed to topics (NULL: all). */
int client_subscribe(int *sock_id, const char *url, const char *const *topics,
    size_t ntopics, char *err, size_t errlen);

#endif
