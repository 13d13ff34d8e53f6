/*
 * conn.h: the console's side of the daemon's sockets: requests on
 * control.sock, events from events.sock, one slow request in a thread, and
 * the feed that keeps the model filled from them. No curses here either.
 */
#ifndef DEPOT_TUI_CONN_H
#define DEPOT_TUI_CONN_H

#include "model.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* How long one request may take before the daemon counts as not answering. */
#define CONN_TIMEOUT_MS		3000
/* How long a ping of a daemon thought down may take. */
#define CONN_PING_MS		500
/* How often a daemon that is down is tried again. */
#define CONN_RETRY_MS		1000

enum conn_rc {
	CONN_OK = 0,		/* *result holds the reply's result */
	CONN_REFUSED = 1,	/* the daemon answered ok: false; err holds "code: message" */
	CONN_DOWN = -1,		/* nobody answered */
	CONN_ERROR = -2,	/* local failure or unreadable reply */
};

struct depot_client;
struct sp_sock;

struct conn {
	char control_url[4200], events_url[4200];
	struct depot_client *req;
	struct sp_sock *sub;
	unsigned sub_seen, sub_rems_seen;	/* the SUB socket's connects and losses seen */
};

struct conn_job;

struct feed {
	struct conn *conn;
	struct model *m;
	int64_t next_try;		/* when to try a daemon that is down again */
	int64_t last_workers, last_locks, last_scheds, last_log, last_show, last_repos;
	int log_more;			/* the last log read was cut: read again at once */
};

/* What the views on screen need besides the model's usual re-reads. */
struct feed_wants {
	int locks;			/* lock.list every second */
	int schedules;			/* schedule.list every two */
	struct model_log *log;		/* task.log of log->task */
	int64_t show;			/* task.show of a task the model does not hold */
	int repos;			/* repo.list and each one's last tasks every two seconds */
	struct model_why *why;		/* task.why of why_task, when it waits */
	int64_t why_task;
};

/* conn.c */
int conn_open(struct conn *c, const char *dir, char *err, size_t errlen);
void conn_close(struct conn *c);
int conn_call(struct conn *c, enum command cmd, cJSON *args, int timeout_ms,
    cJSON **result, char *err, size_t errlen);
int conn_recv_event(struct conn *c, const char **buf, size_t *len);
int conn_sub_reconnected(struct conn *c);
int conn_sub_lost(struct conn *c);
void conn_reset(struct conn *c);
struct conn_job *conn_job_start(const struct conn *c, const char *cmd, cJSON *args,
    int timeout_ms);
int conn_job_done(struct conn_job *j);
int conn_job_result(struct conn_job *j, cJSON **result, char *err, size_t errlen);
void conn_job_free(struct conn_job *j);

/* feed.c */
void feed_init(struct feed *f, struct conn *c, struct model *m);
int feed_tick(struct feed *f, const struct feed_wants *w, int64_t now);
int feed_resync(struct feed *f, int64_t now);

#endif
