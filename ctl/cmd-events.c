/* cmd-events.c: events: the daemon's event stream, one JSON object a line, until interrupted. */
#include "ctl.h"

#include "proto.h"
#include "spwire.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* How often the receive loop looks at the stop flag, should a signal miss the wait. */
#define EVENTS_TICK_MS 250

static const char *const events_topics[] = { "task", "worker", "lock", "status", NULL };

static volatile sig_atomic_t events_stop;

static void events_on_signal(int sig);
static int events_write(const char *msg, size_t len);

static void events_on_signal(int sig)
{
	(void)sig;
	events_stop = 1;
}

/*
 * Writes the JSON after "TOPIC " as one line. A body spread over several
 * lines is re-printed compact, so that each line stays one event. -1 when
 * stdout is gone.
 */
static int events_write(const char *msg, size_t len)
{
	const char *sp = memchr(msg, ' ', len);
	const char *body = sp != NULL ? sp + 1 : msg;
	size_t n = len - (size_t)(body - msg);

	while (n > 0 && (body[n - 1] == '\0' || body[n - 1] == '\n'))
		n--;
	if (memchr(body, '\n', n) != NULL) {
		cJSON *v = cJSON_ParseWithLength(body, n);
		char *line = v != NULL ? cJSON_PrintUnformatted(v) : NULL;
		int rc = 0;

		if (line != NULL)
			rc = printf("%s\n", line) < 0 ? -1 : 0;
		cJSON_free(line);
		cJSON_Delete(v);
		return rc != 0 || fflush(stdout) != 0 ? -1 : 0;
	}
	if (fwrite(body, 1, n, stdout) != n || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0)
		return -1;
	return 0;
}

int cmd_events(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *topics[sizeof events_topics / sizeof events_topics[0]];
	char prefixes[sizeof events_topics / sizeof events_topics[0]][16];
	struct sigaction sa;
	char **vals, err[512];
	size_t n = args_values(a, "topic", &vals), ntopics = 0;
	struct sp_sock *s;
	cJSON *pong;
	int rc;

	for (size_t i = 0; i < n; i++) {
		int known = 0, dup = 0;

		for (int k = 0; events_topics[k] != NULL; k++)
			if (strcmp(vals[i], events_topics[k]) == 0)
				known = 1;
		if (!known)
			return ctl_usage_error(a->cmd, "invalid topic '%s' for --topic: "
			    "expected task, worker, lock or status", vals[i]);
		for (size_t k = 0; k < ntopics; k++)
			if (strncmp(prefixes[k], vals[i], strlen(vals[i])) == 0 &&
			    prefixes[k][strlen(vals[i])] == ' ')
				dup = 1;
		if (dup)
			continue;
		/* Subscriptions match prefixes: "task " and not "taskfoo". */
		snprintf(prefixes[ntopics], sizeof prefixes[ntopics], "%s ", vals[i]);
		topics[ntopics] = prefixes[ntopics];
		ntopics++;
	}
	/* SUB redials quietly for ever: ping first, so that a stopped daemon is reported. */
	if ((rc = call(ctx, CMD_ping, NULL, CTL_CALL_TIMEOUT_MS, &pong)) != EXIT_OK)
		return rc;
	cJSON_Delete(pong);
	if (sp_sub_open(&s, ctx->events_url, topics, ntopics, err, sizeof err) != 0) {
		ctl_error("subscribing to events: %s", err);
		return EXIT_UNREACHABLE;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = events_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
		ctl_error("sigaction: %s", strerror(errno));
		sp_close(s);
		return EXIT_REFUSED;
	}
	/* A reader that goes away (| head) ends the stream: EPIPE instead of death. */
	signal(SIGPIPE, SIG_IGN);
	rc = EXIT_OK;
	while (!events_stop) {
		const char *buf;
		size_t len;
		enum sp_status st = sp_sub_recv(s, EVENTS_TICK_MS, &buf, &len, err, sizeof err);

		if (st == SP_TIMEOUT)
			continue;
		if (st != SP_OK) {
			ctl_error("receiving events: %s", err);
			rc = EXIT_UNREACHABLE;
			break;
		}
		if (events_write(buf, len) != 0) {
			if (errno != EPIPE) {
				ctl_error("writing events: %s", strerror(errno));
				rc = EXIT_REFUSED;
			}
			clearerr(stdout);
			break;
		}
	}
	sp_close(s);
	return rc;
}
