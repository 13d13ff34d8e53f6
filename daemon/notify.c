/* notify.c: what systemd hears from depotd (sd_notify): ready, status counts, stopping, watchdog pings. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

/* STATUS= is sent at most this often, and only when its text changed. */
#define NOTIFY_STATUS_MS 1000

static int notify_on;			/* NOTIFY_SOCKET set: started by systemd as Type=notify */
static int notify_ready_sent, notify_stopping_sent, notify_failed;
static int64_t watchdog_ms;		/* half of WatchdogSec=; 0 = none */
static int64_t next_ping_mono, next_status_mono;
static char last_status[128];

static void notify_send(const char *msg);
static void status_text(char *out, size_t n);

/*
 * Before anything could be sent. sd_watchdog_enabled reads WATCHDOG_USEC
 * and answers no when WATCHDOG_PID names another process: the workers,
 * which inherit both variables, never ping in the daemon's name.
 */
void notify_init(void)
{
	uint64_t usec = 0;

	notify_on = getenv("NOTIFY_SOCKET") != NULL;
	if (!notify_on)
		return;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		/* Half the interval, as sd_watchdog_enabled(3) advises: a late ping is not a dead loop. */
		watchdog_ms = (int64_t)(usec / 2000);
		if (watchdog_ms < 1)
			watchdog_ms = 1;
		log_info("systemd watchdog: pinging every %lld ms", (long long)watchdog_ms);
	}
}

/* Sockets listening and recovery done: clients can connect, so systemd may start what depends on us. */
void notify_ready(void)
{
	char msg[200];

	if (!notify_on)
		return;
	status_text(last_status, sizeof last_status);
	/* A ping with it: the watchdog runs from READY=1, whatever the recovery took. */
	snprintf(msg, sizeof msg, "READY=1\n%sSTATUS=%s", watchdog_ms > 0 ? "WATCHDOG=1\n" : "",
	    last_status);
	notify_send(msg);
	notify_ready_sent = 1;
	next_status_mono = time_mono_ms() + NOTIFY_STATUS_MS;
	next_ping_mono = time_mono_ms() + watchdog_ms;
}

/* For a reload (SIGHUP): systemd shows the unit reloading until notify_ready. */
void notify_reloading(void)
{
	if (notify_on && notify_ready_sent)
		notify_send("RELOADING=1");
}

/* A ping when one is due; also for bounded waits outside the main loop (supervisor_stop_all). */
void notify_watchdog(void)
{
	int64_t now;

	if (watchdog_ms == 0 || !notify_ready_sent)
		return;
	now = time_mono_ms();
	if (now < next_ping_mono)
		return;
	notify_send("WATCHDOG=1");
	next_ping_mono = now + watchdog_ms;
}

/*
 * Once each pass of the main loop: the watchdog ping (so a loop that stops
 * passing stops the pings and systemd restarts us), STOPPING=1 when a stop
 * began (SIGTERM, or a failed restore), and the counts when they changed.
 */
void notify_tick(void)
{
	char text[sizeof last_status], msg[300];
	int64_t now;

	if (!notify_on || !notify_ready_sent)
		return;
	notify_watchdog();
	now = time_mono_ms();
	if (D->stopping && !notify_stopping_sent) {
		/*
		 * Running tasks get cancel_grace, the workers as long again, the
		 * sockets TEARDOWN_MAX_MS: systemd's stop timeout is stretched to
		 * cover it, whatever TimeoutStopSec= says.
		 */
		int64_t grace = D->cfg.cancel_grace_ms > 2000 ? D->cfg.cancel_grace_ms : 2000;

		status_text(last_status, sizeof last_status);
		snprintf(msg, sizeof msg, "STOPPING=1\nSTATUS=%s\nEXTEND_TIMEOUT_USEC=%lld",
		    last_status, (long long)(2 * grace + 10000) * 1000);
		notify_send(msg);
		notify_stopping_sent = 1;
		next_status_mono = now + NOTIFY_STATUS_MS;
		return;
	}
	if (now < next_status_mono)
		return;
	next_status_mono = now + NOTIFY_STATUS_MS;
	status_text(text, sizeof text);
	if (strcmp(text, last_status) == 0)
		return;
	memcpy(last_status, text, sizeof last_status);
	snprintf(msg, sizeof msg, "STATUS=%s", last_status);
	notify_send(msg);
}

/* How long the main loop may sleep before the next ping is due; -1 when none is. */
int notify_wait_ms(void)
{
	int64_t left;

	if (watchdog_ms == 0 || !notify_ready_sent)
		return -1;
	left = next_ping_mono - time_mono_ms();
	return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

static void notify_send(const char *msg)
{
	int rc = sd_notify(0, msg);

	/* Once: systemd gone or the socket wrong stays so, and a line a ping would flood the log. */
	if (rc < 0 && !notify_failed) {
		notify_failed = 1;
		log_warn("telling systemd '%.*s': %s", (int)strcspn(msg, "\n"), msg, strerror(-rc));
	}
}

static void count_task(struct task *t, void *ctx)
{
	size_t *n = ctx;

	if (t->state == TASK_WAITING)
		n[1]++;
	else if (t->state == TASK_RUNNING || t->state == TASK_CANCELING)
		n[0]++;
}

/* "3 running, 12 waiting", or "stopping: ..." once a stop began. */
static void status_text(char *out, size_t n)
{
	size_t counts[2] = { 0, 0 };

	tasks_foreach(count_task, counts);
	snprintf(out, n, "%s%zu running, %zu waiting", D->stopping ? "stopping: " : "",
	    counts[0], counts[1]);
}
