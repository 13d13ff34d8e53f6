/* ctl.h: what depotctl's files share: the command table, arguments, requests and output. */
#ifndef DEPOT_CTL_H
#define DEPOT_CTL_H
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rate.h"
#include "vocab.h"

struct depot_client;

/* Longest command name, in words ("task list" is two). */
#define CTL_WORDS_MAX 3
/* Most options one command takes, besides --json and --help (repo create has 14). */
#define CTL_OPTS_MAX 24
/* args_max for a command that takes any number of arguments. */
#define CTL_ARGS_ANY (-1)
/* How long an ordinary request may take before the daemon counts as unreachable. */
#define CTL_CALL_TIMEOUT_MS 30000

/* One option of a command, as --help, the man page and completion show it. */
struct ctl_opt {
	/* Long name, without the leading dashes; NULL ends the list. A name
	 * with dashes ("proxy-url") is also accepted with underscores. */
	const char *name;
	int short_name;		/* 0 when there is none */
	const char *arg;	/* metavariable ("DUR"), NULL for a flag */
	int repeat;		/* may be given more than once */
	const char *help;
};

/* ctl_cmd.sends of a command that asks the daemon nothing. */
#define CTL_SENDS_NONE CMD_COUNT

/* Flags of a command. */
#define CMD_HIDDEN	0x1	/* exact name only; not in help, man page or completion */
#define CMD_OPTS_FIRST	0x2	/* options end at the first argument (run's CMD) */

struct ctl_args;
struct ctl_ctx;

/* One entry of the command table (cmd.c). */
struct ctl_cmd {
	const char *words[CTL_WORDS_MAX + 1];	/* {"task", "list"}, NULL-terminated */
	const char *usage;	/* what follows the words, e.g. "[--state S] ID..." */
	const char *summary;	/* one line */
	const char *help;	/* longer text for help and the man page, or NULL */
	/*
	 * Its options, ended by one with a NULL name; NULL for none. A pointer,
	 * not an array of CTL_OPTS_MAX in each entry: the table was then 48 KB
	 * of pointers the loader relocated (and so copied) at every start.
	 */
	const struct ctl_opt *opts;
	int args_min;
	int args_max;		/* CTL_ARGS_ANY for no limit */
	/*
	 * The control command it sends (share/commands.def), or
	 * CTL_SENDS_NONE; the access level it needs is that command's.
	 */
	enum command sends;
	int flags;
	int (*exec)(struct ctl_ctx *ctx, struct ctl_args *args);
};

/* Options and arguments of one invocation, parsed against its command's opts. */
struct ctl_args {
	const struct ctl_cmd *cmd;
	char **vals[CTL_OPTS_MAX];	/* each option's values, in the order given */
	size_t nvals[CTL_OPTS_MAX];
	char **argv;			/* positional arguments */
	int argc;
};

/* What every command runs with. */
struct ctl_ctx {
	const struct ctl_cmd *cmd;	/* the command running */
	const char *dir_opt;	/* -d, or NULL */
	int json;		/* --json: print the daemon's result as is */
	int resolved;
	char dir[4096];
	char control_url[256];
	char control_path[256];
	char events_url[256];
	struct depot_client *client;
	/* Where a refusal naming entry i of a list request came from (run --batch), or NULL. */
	const char *(*index_where)(void *arg, int64_t i);
	void *index_arg;
};

/*
 * Codes of --json's error object for depotctl's own failures, beside the
 * daemon's (doc/protocol.md): a usage error, a wait that ran out, a
 * canceled task, and anything else that failed.
 */
#define CTL_CODE_USAGE "usage"
#define CTL_CODE_TIMEOUT "timeout"
#define CTL_CODE_CANCELED "canceled"
#define CTL_CODE_FAILED "failed"

/* depotctl.c */
extern const char *ctl_prog;
/*
 * getopt_long's options before the command: "+": the first word that is
 * not an option is the command; ":": a missing value is told apart.
 */
#define CTL_GLOBAL_SHORTOPTS "+:d:h"
extern const struct option ctl_global_opts[];
/* Set once a --json document went to stdout: a failure then prints no error object. */
extern int ctl_json_out;
/* run --wait: the exit code is the command's, depotctl's own failures 124 and 125. */
extern int ctl_command_status;
/* Where the input being read was wrong ("FILE:LINE"), said before each error; or NULL. */
extern const char *ctl_where;
/*
 * The wire code (and, unless fmt is NULL, the message) of --json's error
 * object, noted before ctl_error says the failure; the first of each wins.
 */
void ctl_note_failure(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctl_print_global_usage(FILE *f);
void ctl_print_global_options(FILE *f);
int ctl_resolve(struct ctl_ctx *ctx);

/* cmd.c */
extern const struct ctl_cmd cmd_table[];
extern const size_t cmd_count;
/* cmd's options, an empty list (not NULL) when it has none. */
const struct ctl_opt *cmd_opts(const struct ctl_cmd *cmd);
const struct ctl_cmd *cmd_lookup(int argc, char **argv, int *used, char *err,
    size_t errlen);
void cmd_name(const struct ctl_cmd *cmd, char *out, size_t n);
void cmd_print_usage(const struct ctl_cmd *cmd, FILE *f);
void cmd_print_help(const struct ctl_cmd *cmd, FILE *f);

/* args.c */
int args_parse(const struct ctl_cmd *cmd, int argc, char **argv,
    struct ctl_args *a, int *json, int *help);
void args_free(struct ctl_args *a);
const char *args_get(const struct ctl_args *a, const char *name);
int args_has(const struct ctl_args *a, const char *name);
size_t args_values(const struct ctl_args *a, const char *name, char ***out);
int args_task_id(const struct ctl_args *a, const char *s, int64_t *id);
int args_duration(const struct ctl_args *a, const char *opt, const char *s,
    int64_t *ms);
int args_takes(const struct ctl_cmd *cmd, const char *name);
/* cmd's option name, or NULL when it has none by that name. */
const struct ctl_opt *args_opt(const struct ctl_cmd *cmd, const char *name);
int args_int(const struct ctl_args *a, const char *opt, const char *s,
    long long min, long long max, long long *v);
int args_name(const struct ctl_args *a, const char *what, const char *name);
/*
 * {"id": ID} from a task id argument, {"name": NAME} from a repository's
 * or schedule's name (args_name's what), for the request of a command
 * about one thing. EXIT_OK, or the error, said.
 */
int args_id_request(const struct ctl_args *a, const char *s, cJSON **req);
int args_name_request(const struct ctl_args *a, const char *what, const char *name,
    cJSON **req);

/* call.c */
int call(struct ctl_ctx *ctx, enum command cmd, cJSON *args, int timeout_ms,
    cJSON **result);
/*
 * call() for a command whose result people read: with --json it is printed
 * as it came and *result is NULL; otherwise *result is for the caller to show.
 */
int call_for_people(struct ctl_ctx *ctx, enum command cmd, cJSON *args, cJSON **result);
/*
 * What a command that changed one named thing prints: with --json the
 * result as it came, else "VERB NAME" (NAME from the result's field when
 * it has one). Consumes result.
 */
int call_done(struct ctl_ctx *ctx, cJSON *result, const char *field, const char *verb,
    const char *name);
/* CMD {"name": NAME}, then "deleted NAME" (the caller checked NAME). */
int call_delete_named(struct ctl_ctx *ctx, enum command cmd, const char *name);
void call_close(struct ctl_ctx *ctx);

/* helper.c */
/*
 * Runs depotd with args (NULL-terminated, after the program name): the one
 * JSON value it printed and its exit status (0 or 1). Else the error said
 * (depotd not found, not runnable, or no answer) and EXIT_UNREACHABLE.
 */
int helper_json(const char *const *args, cJSON **out, int *status);

/* json.c */
const char *json_str(const cJSON *o, const char *key);
int json_int(const cJSON *o, const char *key, int64_t *out);
int json_true(const cJSON *o, const char *key);
int json_print(const cJSON *v);
int json_print_line(const cJSON *v);
cJSON *json_ids(int64_t *ids, size_t n);

/* output.c */
void out_kv_time(const char *key, const cJSON *obj, const char *field);
struct out_table;
struct out_table *out_table_new(size_t ncols, const char *const *headers);
void out_table_limit(struct out_table *t, size_t col, size_t width);
int out_table_add(struct out_table *t, const char *const *cells);
void out_table_print(const struct out_table *t, FILE *f);
void out_table_free(struct out_table *t);
int64_t out_parse_time(const char *rfc3339);
void out_age(const char *rfc3339, char *buf, size_t n);
void out_when(const char *rfc3339, char *buf, size_t n);
void out_size(int64_t bytes, char *buf, size_t n);
size_t out_width(const char *s);
void out_clean(const char *s, size_t width, char *out, size_t n);
void out_wrap(FILE *f, const char *text, int indent, int width);
void out_progress(const cJSON *task, char *buf, size_t n);
void out_resources(const cJSON *resources, char *buf, size_t n);
void out_kv(FILE *f, int indent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* progress.c */
/* --wait's progress line: what is drawn and the rate of what it counts. */
struct progress {
	int on;			/* stderr is a terminal: draw */
	int drawn;		/* a line is on the screen */
	int64_t id;		/* the task the samples are of */
	int running;
	char unit[32];
	struct rate rate;
};
void progress_begin(struct progress *p);
void progress_show(struct progress *p, const cJSON *task);
void progress_end(struct progress *p);
/* Erases whatever progress line is drawn, before a message takes its place. */
void progress_erase(void);
void progress_summary(const cJSON *task, char *buf, size_t n);

/* cmd-help.c */
int cmd_help(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_commands(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_states(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_man(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_options(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-status.c */
int cmd_status(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_ping(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_metrics(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_reload(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-task.c */
int cmd_run(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_list(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_show(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_log(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_cancel(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_wait(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_restart(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_remove(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_clean(struct ctl_ctx *ctx, struct ctl_args *args);
int task_submit(struct ctl_ctx *ctx, cJSON *req, int wait);
/* The same; with --wait and without --json, completed prints what it wants after the final line of a completed task. */
int task_submit_then(struct ctl_ctx *ctx, cJSON *req, int wait,
    void (*completed)(const cJSON *task));
int task_exec_args(const struct ctl_args *a, cJSON **out);
int task_exec_core(const struct ctl_args *a, cJSON **out);
int task_exec_context(const struct ctl_args *a, cJSON *req);
/* Says on stderr which of the --env values vals[n] env_deny left out (denied: names). */
void task_denied_note(char *const *vals, size_t n, const cJSON *denied);
/*
 * One task.wait for req's ids (req consumed): each task's outcome line (or
 * the reply with --json); exits 5 on timeout, else 1 if any failed, 4 if
 * any was canceled, 0 when all completed. timeout is the text the user gave.
 */
int task_wait_ids(struct ctl_ctx *ctx, cJSON *req, const char *timeout, int64_t timeout_ms);
/* run --batch FILE (batch.c). */
int cmd_run_batch(struct ctl_ctx *ctx, struct ctl_args *a);
int task_chain_args(const struct ctl_args *a, cJSON *req);
char *task_argv_line(const cJSON *argv);

/* cmd-worker.c */
int cmd_worker_list(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-lock.c */
int cmd_lock_list(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-queue.c */
int cmd_pause(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_resume(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_resource_set(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_resource_list(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_task_why(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-repo.c */
int cmd_repo_create(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_repo_update(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_repo_list(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_repo_show(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_repo_delete(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_sync(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_publish(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_orphans_clean(struct ctl_ctx *ctx, struct ctl_args *args);
int repo_task_args(const struct ctl_args *a, const char *type,
    const char *name, const char *version, cJSON **out);

/* cmd-schedule.c */
int cmd_schedule_add(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_list(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_show(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_run(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_delete(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_enable(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_schedule_disable(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-backup.c */
int cmd_backup(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_backup_verify(struct ctl_ctx *ctx, struct ctl_args *args);
int cmd_backup_list(struct ctl_ctx *ctx, struct ctl_args *args);
/* backup's task.submit args from its options (-o made absolute), as backup and schedule add send them. */
int backup_task_args(const struct ctl_args *a, cJSON **out);
int cmd_restore(struct ctl_ctx *ctx, struct ctl_args *args);

/* cmd-events.c */
int cmd_events(struct ctl_ctx *ctx, struct ctl_args *args);

#endif
