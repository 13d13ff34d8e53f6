/* events.c: the PUB socket; every state change goes out as "topic {json}". */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <nng/protocol/pubsub0/pub.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Subscribers connected now; from nng's pipe callbacks, read by the main thread. */
static atomic_int subscribers;

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	atomic_fetch_add(&subscribers, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
}

int events_open(const char *url, char *err, size_t errlen)
{
	nng_listener l;
	int rv, mode = D->have_socket_gid ? 0660 : 0600;

	if ((rv = nng_pub0_open(&D->events)) != 0) {
		snprintf(err, errlen, "nng_pub0_open: %s", nng_strerror(rv));
		return -1;
	}
	/*
	 * Counted before PUB can send on it (ADD_PRE), uncounted after it can
	 * no more (REM_POST): never fewer than PUB sends to. A pipe that ends
	 * between the two may stay counted, which costs only work.
	 */
	if ((rv = nng_pipe_notify(D->events, NNG_PIPE_EV_ADD_PRE, pipe_event, NULL)) != 0 ||
	    (rv = nng_pipe_notify(D->events, NNG_PIPE_EV_REM_POST, pipe_event, NULL)) != 0) {
		snprintf(err, errlen, "nng_pipe_notify: %s", nng_strerror(rv));
		nng_close(D->events);
		return -1;
	}
	if ((rv = nng_listener_create(&l, D->events, url)) != 0 ||
	    (rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, 4096)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, mode)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", url + 6, nng_strerror(rv));
		nng_close(D->events);
		return -1;
	}
	D->events_open = 1;
	return 0;
}

/*
 * Whether an event would reach anyone: with no subscriber, PUB drops it, so
 * what it would carry (a task read back from the database) need not be made.
 */
int events_wanted(void)
{
	return D->events_open && atomic_load(&subscribers) > 0;
}

/*
 * Held events (events_hold): made when they happened, sent once what they
 * tell is committed.
 */
static nng_msg **held;
static size_t nheld, held_cap;
static int holding;

void events_hold(void)
{
	holding = 1;
}

/* Sent in the order they were made. */
void events_release(int send)
{
	for (size_t i = 0; i < nheld; i++)
		if (!send || nng_sendmsg(D->events, held[i], NNG_FLAG_NONBLOCK) != 0)
			nng_msg_free(held[i]);
	nheld = 0;
	holding = 0;
}

/* A held message; dropped (a hint lost, as PUB may) when there is no room. */
static void hold(nng_msg *msg)
{
	if (nheld == held_cap) {
		size_t cap = held_cap ? held_cap * 2 : 16;
		nng_msg **grown = realloc(held, cap * sizeof *grown);

		if (grown == NULL) {
			nng_msg_free(msg);
			return;
		}
		held = grown;
		held_cap = cap;
	}
	held[nheld++] = msg;
}

/* Consumes body. PUB never blocks: a slow subscriber loses messages, not the daemon. */
void events_publish(const char *topic, cJSON *body)
{
	char when[TIME_RFC3339_LEN], *text;
	size_t tlen = strlen(topic);
	nng_msg *msg;

	if (!events_wanted()) {
		cJSON_Delete(body);
		return;
	}
	time_format_rfc3339(time_now_ms(), when);
	cJSON_AddStringToObject(body, "topic", topic);
	cJSON_AddStringToObject(body, "time", when);
	/* Events carry what replies do (task names, messages): as clean. */
	json_repair_utf8(body);
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL)
		return;
	if (nng_msg_alloc(&msg, 0) == 0) {
		nng_msg_append(msg, topic, tlen);
		nng_msg_append(msg, " ", 1);
		nng_msg_append(msg, text, strlen(text));
		if (holding)
			hold(msg);
		else if (nng_sendmsg(D->events, msg, NNG_FLAG_NONBLOCK) != 0)
			nng_msg_free(msg);
	}
	free(text);
}

void events_close(void)
{
	events_release(0);
	free(held);
	held = NULL;
	held_cap = 0;
	if (D->events_open)
		nng_close(D->events);
	D->events_open = 0;
}
