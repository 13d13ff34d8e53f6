/* proto.h: names and numbers of the wire protocol shared by depotd and its clients. */
#ifndef DEPOT_PROTO_H
#define DEPOT_PROTO_H

/*
 * Bump DEPOT_PROTO_VERSION whenever a message changes shape; clients and
 * workers send it in hello/ping so a mismatch is reported, not guessed at.
 */
#define DEPOT_PROTO_VERSION 1
#define DEPOT_VERSION "0.1.0"

#define DEPOT_CONTROL_SOCK "control.sock"
#define DEPOT_WORKER_SOCK  "worker.sock"
#define DEPOT_EVENTS_SOCK  "events.sock"
#define DEPOT_PID_FILE     "depotd.pid"

/* Longest resource name, per DESIGN §6. */
#define DEPOT_RESOURCE_MAX 255
/* task.submit's priority, and resource.set's (and [resources]') capacity of slots. */
#define TASK_PRIORITY_MIN (-1000)
#define TASK_PRIORITY_MAX 1000
#define RESOURCE_CAPACITY_MAX 10000
/* Longest worker name. */
#define DEPOT_WORKER_NAME_MAX 64
/*
 * task.list: a request's limit when it gives none, the largest it may ask,
 * and the most tasks one reply carries; a reply cut short by the page says
 * in "next" the args that fetch the rest (doc/protocol.md).
 */
#define TASK_LIST_DEFAULT 1000
#define TASK_LIST_MAX 100000
/*
 * task.submit_batch: tasks in one request (the request counts against
 * max_message too). Checked and stored in one turn of depotd's loop, so
 * bounded: 20,000 short tasks take about a second.
 */
#define TASK_BATCH_MAX 20000
#define TASK_LIST_PAGE 500
/* How long a worker's `next` long poll is held before an empty answer. */
#define DEPOT_NEXT_POLL_MS 5000

enum access_level {
	ACCESS_READ,	/* read state, watch events */
	ACCESS_CANCEL,	/* also cancel tasks (socket_group members) */
	ACCESS_WRITE,	/* everything (daemon's uid and root) */
};

enum err_code {
	ERR_BAD_REQUEST,
	ERR_NOT_FOUND,
	ERR_CONFLICT,
	ERR_FORBIDDEN,
	ERR_UNAVAILABLE,
	ERR_INTERNAL,
};

const char *err_code_name(enum err_code code);

/*
 * An exec task's working directory and environment (task.submit's "cwd"
 * and "env", DESIGN §5): limits the daemon enforces and depotctl checks
 * first, to say what to do about them.
 */
#define TASK_CWD_MAX 4095
#define TASK_ENV_VARS_MAX 2048
#define TASK_ENV_NAME_MAX 1024
#define TASK_ENV_VALUE_MAX 131072	/* execve's MAX_ARG_STRLEN */
#define TASK_ENV_TOTAL_MAX 262144	/* names, values, '=' and NUL, all together */

/* depotctl exit codes, DESIGN §11. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* the daemon refused, or the task failed */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_CANCELED = 4,
	EXIT_WAIT_TIMEOUT = 5,
	/*
	 * What was named does not exist (the daemon said not_found): apart
	 * from 1, so `task show ID` and `task wait ID` tell a wrong id from
	 * a task that failed.
	 */
	EXIT_NOT_FOUND = 6,
	/*
	 * run --wait exits with the command's own status, so its own outcomes
	 * take the codes timeout(1) and env(1) use, which a command's status
	 * does not by convention: the wait (or the task's --timeout) ran out,
	 * and depotctl or depot could not see the command to its end.
	 */
	EXIT_CMD_TIMED_OUT = 124,
	EXIT_CMD_DEPOT_FAILED = 125,
};

#endif
