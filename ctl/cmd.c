/* cmd.c: the one table of depotctl commands, and finding a command by unique word prefixes. */
#include "ctl.h"

#include <string.h>

/*
 * The importer settings (DESIGN §8) as options of repo create and repo
 * update, dashed; args.c also accepts them with underscores, the wire
 * keys' spelling. cmd-repo.c knows how each one's value is sent.
 */
#define CMD_IMPORTER_OPTS \
	{ .name = "feed", .arg = "URL", \
	  .help = "the feed: a file://, http:// or https:// URL of a PULP_MANIFEST" }, \
	{ .name = "proxy-url", .arg = "URL", \
	  .help = "download through the proxy at URL (http://host or https://host)" }, \
	{ .name = "proxy-port", .arg = "PORT", \
	  .help = "the proxy's port, 1 to 65535" }, \
	{ .name = "proxy-username", .arg = "USER", \
	  .help = "the user name to give the proxy" }, \
	{ .name = "proxy-password", .arg = "PASS", \
	  .help = "the proxy's password (shown as ******** afterwards); ps " \
	      "shows it while depotctl runs: prefer --proxy-password-file" }, \
	{ .name = "proxy-password-file", .arg = "FILE", \
	  .help = "the proxy's password: the first line of FILE ('-': " \
	      "standard input; asked for, unechoed, at a terminal)" }, \
	{ .name = "ssl-ca-cert", .arg = "FILE", \
	  .help = "trust the CA certificates in PEM FILE for the feed" }, \
	{ .name = "ssl-client-cert", .arg = "FILE", \
	  .help = "present the client certificate in PEM FILE" }, \
	{ .name = "ssl-client-key", .arg = "FILE", \
	  .help = "the client certificate's key, PEM FILE (never shown again)" }, \
	{ .name = "ssl-validation", .arg = "BOOL", \
	  .help = "check the feed's certificate: true or false (default true)" }, \
	{ .name = "ssl-crl", .arg = "FILE", \
	  .help = "refuse certificates revoked by the CRL in PEM FILE" }, \
	{ .name = "max-speed", .arg = "SIZE", \
	  .help = "download at most SIZE per second (100KiB, 2MiB; 0: no limit)" }, \
	{ .name = "download-concurrency", .arg = "N", \
	  .help = "download N files at a time, 1 to 64 (default 8)" }, \
	{ .name = "mirror", .arg = "BOOL", \
	  .help = "false: a sync adds and replaces files but removes none "\
	      "(default true: the version holds exactly the feed's files)" },

/*
 * Help that lists states or reasons takes them from share/states.def and
 * reasons.def, with X defined as one of these: "waiting, ", and for the
 * reasons --retries follows only, "exception, ".
 */
#define CMD_STATE_WORDS(ident, wire, final, summary) wire ", "
#define CMD_RETRIED_WORDS(ident, wire, ends, retriable, summary) CMD_IF_##retriable(wire ", ")
#define CMD_IF_0(text)
#define CMD_IF_1(text) text

static const char cmd_task_list_help[] = "S is "
#define X CMD_STATE_WORDS
#include "states.def"
#undef X
    "or " TASK_FILTER_ACTIVE " (every state not final). A running task whose "
    "progress has not moved for stall_after is marked STALLED.";

static const char cmd_retries_help[] = "when the task ends with a reason that is retried ("
#define X CMD_RETRIED_WORDS
#include "reasons.def"
#undef X
    "never a user's cancel or a timeout), submit it again as a new task, up to "
    "N times (0 to 100, default 0); --wait waits for the last attempt";

/* --retries and --after: of run, sync and publish (cmd-task.c sends them). */
#define CMD_RETRIES_OPT \
	{ .name = "retries", .arg = "N", .help = cmd_retries_help },
/* --wait of the commands that submit a task (not run's: it streams the command's output). */
#define CMD_WAIT_OPT \
	{ .name = "wait", .short_name = 'w', \
	  .help = "wait for the task to end (a progress line on a terminal), " \
	      "print its outcome and exit with it" },
#define CMD_AFTER_OPT \
	{ .name = "after", .arg = "ID", \
	  .help = "start only after task ID completed; if it fails or is " \
	      "canceled, this task is canceled (reason dependency-failed)" },

/* --priority, --at and --in: of every command that queues a task (cmd-task.c sends them). */
#define CMD_QUEUE_OPTS \
	{ .name = "priority", .short_name = 'p', .arg = "N", \
	  .help = "go ahead of every waiting task of lower priority in each " \
	      "resource's queue, -1000 to 1000 (default 0); equal ones stay " \
	      "first come, first served" }, \
	{ .name = "at", .arg = "TIME", \
	  .help = "start no earlier than TIME: 03:00 (the next one), " \
	      "'2026-12-24 18:00' (local time) or RFC 3339 with a zone" }, \
	{ .name = "in", .arg = "DUR", \
	  .help = "start no earlier than DUR from now (30s, 5m, 2h, 1d)" },

/*
 * Every command, once. Help, `COMMAND --help`, the man page (__man) and the
 * bash completion (__commands) are all printed from here, so they cannot
 * disagree with what the parser accepts.
 */
const struct ctl_cmd cmd_table[] = {
	{
		.words = { "status" },
		.usage = "",
		.summary = "show the health of every component of the daemon",
		.help = "Shows the daemon, database, workers, monitor, scheduler, "
		    "lock manager and storage, as Pulp's /status/ did. Exits 0 "
		    "when everything is healthy, 1 (after listing the problems) "
		    "otherwise.",
		.args_min = 0, .args_max = 0,
		.sends = CMD_status,
		.exec = cmd_status,
	},
	{
		.words = { "reload" },
		.usage = "",
		.summary = "make the daemon read depot.conf again and apply it",
		.help = "As SIGHUP (systemctl reload depotd) does: workers are added "
		    "or retired once idle, timers, limits and capacities change, and "
		    "nothing running is canceled. A file that does not parse is "
		    "refused whole, naming FILE:LINE, and the settings in force stay "
		    "(exit 1). See RELOADING in depot.conf(5).",
		.args_min = 0, .args_max = 0,
		.sends = CMD_config_reload,
		.exec = cmd_reload,
	},
	{
		.words = { "ping" },
		.usage = "",
		.summary = "check that the daemon answers, and show its version",
		.args_min = 0, .args_max = 0,
		.sends = CMD_ping,
		.exec = cmd_ping,
	},
	{
		.words = { "metrics" },
		.usage = "",
		.summary = "print the daemon's metrics in Prometheus' text format",
		.help = "Prints what depot.conf's [metrics] listen serves on "
		    "GET /metrics, in Prometheus' text exposition format "
		    "(version 0.0.4): tasks by state and type, queue depth and "
		    "oldest wait per resource, dispatch latency and task "
		    "duration histograms, worker heartbeats, sync downloads, the "
		    "last backup, database, content and free bytes, pauses. "
		    "Names start with depot_; doc/guide.md lists them. With "
		    "--json, the reply: {\"content_type\", \"text\"}.",
		.args_min = 0, .args_max = 0,
		.sends = CMD_metrics,
		.exec = cmd_metrics,
	},
	{
		.words = { "run" },
		.usage = "[--lock R]... [--shared R]... [--slot R]... [--name N] [--timeout DUR] "
		    "[--retries N] [--after ID] [--priority N] [--at TIME | --in DUR] "
		    "[--cwd DIR] [--env NAME=VALUE]... "
		    "[--clean-env] [--wait [--quiet] [--wait-timeout DUR]] "
		    "{-- CMD [ARG]... | --batch FILE}",
		.summary = "queue a command to run as an exec task",
		.help = "Queues CMD with its arguments (no shell) as a task and "
		    "prints the new task's id. The task starts once every "
		    "resource it names can be reserved. It runs as it would in "
		    "this shell: in the current directory (or --cwd), with this "
		    "environment (or --clean-env), both stored with the task, "
		    "except variables depot.conf's [tasks] env_deny names "
		    "(tokens, passwords, keys: task show lists what was left "
		    "out); the worker adds DEPOT_TASK_ID and DEPOT_TASK_TAG. "
		    "Nothing of depotd's own environment reaches it, and no "
		    "descriptor but standard input (/dev/null), output and "
		    "error (its log). With --wait, depotctl prints the command's "
		    "output as it comes (its own lines go to standard error), "
		    "waits for the task to end and exits as a shell would: the "
		    "command's exit status, 128+N when signal N killed it, 126 "
		    "when it could not be executed and 127 when it was not found; "
		    "124 when the task's --timeout or --wait-timeout ran out, and "
		    "125 when depotctl or depot failed (daemon unreachable, "
		    "request refused, task canceled or lost). Interrupting "
		    "depotctl does not cancel the task. With --batch FILE ('-': "
		    "standard input), each line of FILE is one task: run's "
		    "options and command, split into words as sh would (quotes "
		    "and backslashes, no expansion; # starts a comment), or a "
		    "JSON object {\"argv\": [...], \"lock\": \"R\", \"env\": "
		    "{...}, ...} with run's options as fields. Options given on "
		    "the command line apply to every line. Every line is checked "
		    "before anything is queued, and the first bad one (named by "
		    "FILE:LINE) refuses the whole batch; the tasks are queued in "
		    "one request and one transaction, in the file's order, and "
		    "their ids printed one a line. --wait then waits for all of "
		    "them and exits as task wait does.",
		.opts = (const struct ctl_opt[]){
			{ .name = "lock", .short_name = 'l', .arg = "R", .repeat = 1,
			  .help = "reserve resource R exclusively" },
			{ .name = "shared", .short_name = 's', .arg = "R", .repeat = 1,
			  .help = "reserve resource R shared with other shared holders" },
			{ .name = "slot", .arg = "R", .repeat = 1,
			  .help = "reserve one of resource R's slots: at most its capacity "
			      "of tasks hold R so at once (resource set; default 1)" },
			{ .name = "name", .short_name = 'n', .arg = "N",
			  .help = "name the task N (default: the command line)" },
			{ .name = "timeout", .short_name = 't', .arg = "DUR",
			  .help = "fail the task with reason timeout after DUR "
			      "(1500ms, 30s, 5m, 2h, 1d)" },
			CMD_RETRIES_OPT
			CMD_AFTER_OPT
			CMD_QUEUE_OPTS
			{ .name = "cwd", .short_name = 'C', .arg = "DIR",
			  .help = "run in DIR (default: the current directory; a "
			      "relative DIR is taken from it)" },
			{ .name = "env", .short_name = 'e', .arg = "NAME=VALUE", .repeat = 1,
			  .help = "set NAME in the task's environment; NAME alone "
			      "passes this shell's value of it" },
			{ .name = "clean-env",
			  .help = "start the task's environment empty, not from this "
			      "one: only what --env gives" },
			{ .name = "wait", .short_name = 'w',
			  .help = "print the command's output, wait for the task to "
			      "end and exit with the command's status" },
			{ .name = "quiet", .short_name = 'q',
			  .help = "with --wait: do not print the command's output" },
			{ .name = "wait-timeout", .arg = "DUR",
			  .help = "with --wait: stop waiting after DUR and exit 124; "
			      "the task goes on" },
			{ .name = "batch", .short_name = 'b', .arg = "FILE",
			  .help = "queue one task a line of FILE ('-': standard "
			      "input), all or none, instead of CMD" },
			{ .name = NULL },
		},
		.args_min = 0, .args_max = CTL_ARGS_ANY,
		.flags = CMD_OPTS_FIRST,
		.sends = CMD_task_submit,
		.exec = cmd_run,
	},
	{
		.words = { "task", "list" },
		.usage = "[--state S] [--resource R] [--limit N]",
		.summary = "list tasks, newest first",
		.help = cmd_task_list_help,
		.opts = (const struct ctl_opt[]){
			{ .name = "state", .short_name = 's', .arg = "S",
			  .help = "only tasks in state S" },
			{ .name = "resource", .short_name = 'r', .arg = "R",
			  .help = "only tasks that reserve resource R" },
			{ .name = "limit", .short_name = 'n', .arg = "N",
			  .help = "at most N tasks, 1 to 100000 (default 1000); "
			  "depotd sends them 500 a request, so it answers "
			  "others meanwhile" },
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CMD_task_list,
		.exec = cmd_task_list,
	},
	{
		.words = { "task", "show" },
		.usage = "ID",
		.summary = "show every field of a task",
		.help = "Shows the task whatever its state (exit 0), an exec task's "
		    "working directory and environment with it; exits 6 when "
		    "there is no task ID.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_show,
		.exec = cmd_task_show,
	},
	{
		.words = { "task", "log" },
		.usage = "ID [--follow]",
		.summary = "print a task's output",
		.help = "With --follow, keeps printing output as the task writes "
		    "it, until the task is final.",
		.opts = (const struct ctl_opt[]){
			{ .name = "follow", .short_name = 'f',
			  .help = "keep printing until the task ends" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_log,
		.exec = cmd_task_log,
	},
	{
		.words = { "task", "cancel" },
		.usage = "ID...",
		.summary = "cancel tasks",
		.help = "A waiting task is canceled at once; a running one becomes "
		    "canceling until its worker has stopped it. Prints each "
		    "task's id and state; a task that had already ended is left "
		    "as it was.",
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.sends = CMD_task_cancel,
		.exec = cmd_task_cancel,
	},
	{
		.words = { "task", "restart" },
		.usage = "ID [--wait]",
		.summary = "queue a final task again, as a new task",
		.help = "Submits a new task with the specification of task ID, "
		    "which must be final: its type and arguments (an exec "
		    "task's command, directory and environment), reservations, "
		    "name, timeout, retries and priority; its restart_of names "
		    "ID. It is checked as a new submission is: depot.conf's "
		    "[tasks] env_deny as it is now, a repository that was "
		    "deleted refused. Prints the new task's id; --wait waits "
		    "for it and exits as task wait does.",
		.opts = (const struct ctl_opt[]){
			{ .name = "wait", .short_name = 'w',
			  .help = "wait for the new task to end" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_restart,
		.exec = cmd_task_restart,
	},
	{
		.words = { "task", "remove" },
		.usage = "ID...",
		.summary = "forget final tasks and their logs",
		.help = "Removes each task's record and its log; all or nothing: "
		    "when any ID is not final (exit 1) or names no task (exit "
		    "6), nothing is removed. Kept, and refused the same way: a "
		    "task an unfinished task runs --after, a schedule's last "
		    "task, and the last completed backup, which the next "
		    "incremental builds on. Prints the ids removed.",
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.sends = CMD_task_remove,
		.exec = cmd_task_remove,
	},
	{
		.words = { "task", "clean" },
		.usage = "[--state S] [--before TIME]",
		.summary = "forget final tasks by state and age",
		.help = "Removes the final tasks in state S (default: any final "
		    "state) that finished before TIME (default: any time), with "
		    "their logs, but those task remove keeps. A few hundred at "
		    "a time, so the daemon goes on meanwhile. Prints how many "
		    "were removed.",
		.opts = (const struct ctl_opt[]){
			{ .name = "state", .arg = "S",
			  .help = "only tasks in final state S: completed, failed or canceled" },
			{ .name = "before", .arg = "TIME",
			  .help = "only tasks that finished before TIME: a duration "
			      "ago (7d, 12h), '2026-11-25 03:00' (local time) or RFC "
			      "3339 with a zone" },
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CMD_task_clean,
		.exec = cmd_task_clean,
	},
	{
		.words = { "task", "wait" },
		.usage = "ID... [--timeout DUR]",
		.summary = "wait until tasks end",
		.help = "Exits 0 when every task completed, 1 when any failed, 4 "
		    "when any was canceled (and none failed), 5 when DUR passed "
		    "first, 6 when an ID names no task.",
		.opts = (const struct ctl_opt[]){
			{ .name = "timeout", .short_name = 't', .arg = "DUR",
			  .help = "give up after DUR (default: wait forever)" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.sends = CMD_task_wait,
		.exec = cmd_task_wait,
	},
	{
		.words = { "worker", "list" },
		.usage = "",
		.summary = "list workers, their state and heartbeats",
		.args_min = 0, .args_max = 0,
		.sends = CMD_worker_list,
		.exec = cmd_worker_list,
	},
	{
		.words = { "lock", "list" },
		.usage = "",
		.summary = "list reservations held and waiting, per resource",
		.help = "RESOURCE is marked (paused) while it is paused, and shows "
		    "its capacity of slots when it has one.",
		.args_min = 0, .args_max = 0,
		.sends = CMD_lock_list,
		.exec = cmd_lock_list,
	},
	{
		.words = { "task", "why" },
		.usage = "ID",
		.summary = "say what a waiting task waits for",
		.help = "For a waiting task, everything that holds it now, one line "
		    "each: the queue's or a resource's pause; on each resource, "
		    "the tasks holding it or queued ahead of it whose reservations "
		    "conflict with its own (or that wait themselves, since each "
		    "queue is first come, first served within a priority); every "
		    "slot taken; the task it runs --after; its start time (--at, "
		    "--in) or a retry's back-off; or that no worker is idle. "
		    "--json prints {\"id\", \"state\", \"waiting\", \"reasons\": "
		    "[{\"kind\", \"message\", \"resource\", \"tasks\", \"task\", "
		    "\"at\"}]}. Exits 6 when there is no task ID.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_why,
		.exec = cmd_task_why,
	},
	{
		.words = { "pause" },
		.usage = "[RESOURCE]...",
		.summary = "start no new task, or none that needs the RESOURCEs",
		.help = "Without RESOURCE, no waiting task starts until resume; "
		    "with them, no task that reserves one of them starts (a task "
		    "held so keeps its place in its other queues). Running tasks "
		    "go on to their end. The pause is kept in the database, so it "
		    "holds across restarts; status, lock list and the console show "
		    "it.",
		.args_min = 0, .args_max = 64,
		.sends = CMD_queue_pause,
		.exec = cmd_pause,
	},
	{
		.words = { "resume" },
		.usage = "[RESOURCE]...",
		.summary = "undo pause: of the whole queue, or of the RESOURCEs",
		.args_min = 0, .args_max = 64,
		.sends = CMD_queue_resume,
		.exec = cmd_resume,
	},
	{
		.words = { "resource", "set" },
		.usage = "NAME --capacity N|default",
		.summary = "set how many tasks may hold a slot of resource NAME at once",
		.help = "Tasks that reserve NAME with run --slot NAME hold it up to "
		    "N at once, first come, first served; an exclusive reservation "
		    "of NAME waits for every slot, and shared ones are not counted. "
		    "Kept in the database across restarts; it wins over depot.conf's "
		    "[resources] NAME = N until set back to 'default' (that line's "
		    "value, or 1). Lowering it stops no holder: later slots wait "
		    "until enough are released.",
		.opts = (const struct ctl_opt[]){
			{ .name = "capacity", .short_name = 'c', .arg = "N",
			  .help = "slots, 1 to 10000, or 'default'" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_resource_set,
		.exec = cmd_resource_set,
	},
	{
		.words = { "resource", "list" },
		.usage = "",
		.summary = "list resources with a capacity, a pause, holders or waiters",
		.args_min = 0, .args_max = 0,
		.sends = CMD_resource_list,
		.exec = cmd_resource_list,
	},
	{
		.words = { "repo", "create" },
		.usage = "NAME [--feed URL] [--KEY VALUE]...",
		.summary = "create a repository, with its importer settings",
		.help = "NAME is 1 to 64 letters, digits, '.', '_' and '-'. Each "
		    "importer setting is an option; a key may be spelled with "
		    "dashes or underscores (--proxy-url or --proxy_url). A PEM "
		    "FILE option sends the text of the file (at most 512 KiB), "
		    "named FILE or @FILE; '-' reads it from standard input, for "
		    "one option at most. Secrets given as files never show in ps. "
		    "BOOL is true, false, yes, no, 1 or 0. Prints \"created NAME\".",
		.opts = (const struct ctl_opt[]){ CMD_IMPORTER_OPTS { .name = NULL } },
		.args_min = 1, .args_max = 1,
		.sends = CMD_repo_create,
		.exec = cmd_repo_create,
	},
	{
		.words = { "repo", "update" },
		.usage = "NAME --KEY VALUE...",
		.summary = "change importer settings of a repository",
		.help = "Changes only the settings given; an empty VALUE (--proxy-url "
		    "'') removes that setting, so that its default applies. Keys "
		    "and values are those of repo create. Prints \"updated NAME\".",
		.opts = (const struct ctl_opt[]){ CMD_IMPORTER_OPTS { .name = NULL } },
		.args_min = 1, .args_max = 1,
		.sends = CMD_repo_update,
		.exec = cmd_repo_update,
	},
	{
		.words = { "repo", "list" },
		.usage = "",
		.summary = "list repositories with their latest and published versions",
		.args_min = 0, .args_max = 0,
		.sends = CMD_repo_list,
		.exec = cmd_repo_list,
	},
	{
		.words = { "repo", "show" },
		.usage = "NAME",
		.summary = "show a repository's importer settings and versions",
		.help = "Secrets (proxy_password, ssl_client_key) show as ********, "
		    "PEM settings by their size, as the daemon sends them. "
		    "Versions are listed newest first.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_repo_show,
		.exec = cmd_repo_show,
	},
	{
		.words = { "repo", "delete" },
		.usage = "NAME",
		.summary = "delete a repository and its publication",
		.help = "Refused while a task of the repository is unfinished. Its "
		    "files stay in the content store until orphans clean removes "
		    "those no repository uses.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_repo_delete,
		.exec = cmd_repo_delete,
	},
	{
		.words = { "sync" },
		.usage = "NAME [--retries N] [--after ID] [--priority N] [--at TIME | --in DUR] [--wait]",
		.summary = "queue a sync of a repository from its feed",
		.help = "Downloads the files of the feed's PULP_MANIFEST that the "
		    "content store lacks, checks their size and sha256, and "
		    "records a new version when anything changed. Prints the "
		    "task's id; with --wait, waits for it and exits 0 when it "
		    "completed, 1 when it failed, 4 when it was canceled.",
		.opts = (const struct ctl_opt[]){
			CMD_RETRIES_OPT
			CMD_AFTER_OPT
			CMD_QUEUE_OPTS
			CMD_WAIT_OPT
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_submit,
		.exec = cmd_sync,
	},
	{
		.words = { "publish" },
		.usage = "NAME [--version N] [--retries N] [--after ID] [--priority N] "
		    "[--at TIME | --in DUR] [--wait]",
		.summary = "queue a publication of a repository version",
		.help = "Links the version's files under PUBLISH/NAME/versions/N "
		    "with a PULP_MANIFEST, then points PUBLISH/NAME/current at it "
		    "(PUBLISH: depot.conf's [publish] dir, by default DIR/publish). "
		    "Prints the task's id; with --wait, waits for it and exits 0 "
		    "when it completed, 1 when it failed, 4 when it was canceled.",
		.opts = (const struct ctl_opt[]){
			{ .name = "version", .arg = "N",
			  .help = "publish version N (default: the latest)" },
			CMD_RETRIES_OPT
			CMD_AFTER_OPT
			CMD_QUEUE_OPTS
			CMD_WAIT_OPT
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_submit,
		.exec = cmd_publish,
	},
	{
		.words = { "schedule", "add" },
		.usage = "NAME (--every DUR [--at TIME] | --on EXPR [--tz ZONE]) -- sync REPO | publish REPO "
		    "[--version N] | backup [-o FILE] [--incremental] | orphans clean | run "
		    "[--lock R]... [--shared R]... [--slot R]... [--name N] [--timeout DUR] "
		    "[--retries N] [--priority N] -- CMD [ARG]...",
		.summary = "add a schedule that submits a task every interval or at calendar times",
		.help = "NAME is 1 to 64 letters, digits, '.', '_' and '-'. The "
		    "task to submit follows '--': sync REPO or publish REPO "
		    "[--version N] as those commands take them, backup with its "
		    "options, orphans clean, or run with run's options and, after "
		    "a second '--', its command. sync, publish and run also take "
		    "--retries N; --wait and --after are refused, and so are --at and --in: the schedule says when its task starts. A scheduled "
		    "backup without -o writes a new DIR/backups/depot-TIME archive "
		    "each run (and [backup] keep prunes the old ones); with -o FILE "
		    "each run replaces FILE; --incremental builds each run on the last "
		    "backup's chain. The template is checked now: a sync or "
		    "publish of a repository that does not exist is refused "
		    "(exit 6). With --every the "
		    "schedule submits the task every DUR, first at TIME, "
		    "or one interval from now. TIME is HH:MM[:SS] (the next such "
		    "time of day), '2026-11-25 03:00' (both in this shell's local "
		    "time) or RFC 3339 with a zone (2026-11-25T03:00:00Z). "
		    "With --on it submits the task at each time of the calendar "
		    "expression EXPR, in depotd's local time zone or --tz ZONE "
		    "(a tz database name such as Europe/Berlin): daily, weekly, "
		    "monthly, hourly, minutely, quarterly, yearly, or "
		    "[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] with "
		    "each field *, N, N..M, a list N,M or a step N/S or */S: "
		    "\"Mon..Fri 02:00\", \"Sat,Sun 10:30\", \"*-*-01 03:00\", "
		    "\"2026-12-24 18:00\", \"*:0/15\" (every 15 minutes). A "
		    "time the clock skips at a daylight saving change runs as "
		    "much later as the clock jumped; one it shows twice runs "
		    "once. A "
		    "schedule never submits a task while its previous one is "
		    "unfinished (that run is counted as skipped), and catches up "
		    "only once after the daemon was down. Prints the schedule's "
		    "name and next run.",
		.opts = (const struct ctl_opt[]){
			{ .name = "every", .short_name = 'e', .arg = "DUR",
			  .help = "submit the task every DUR, at least 1s (30s, 5m, "
			      "2h, 1d); this or --on is required" },
			{ .name = "at", .arg = "TIME",
			  .help = "first run at TIME (default: one interval from now)" },
			{ .name = "on", .arg = "EXPR",
			  .help = "submit the task at each time of calendar "
			      "expression EXPR (\"Mon..Fri 02:00\", daily, \"*:0/15\")" },
			{ .name = "tz", .arg = "ZONE",
			  .help = "read --on's times in time zone ZONE (Europe/Berlin; "
			      "default: depotd's local zone)" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = CTL_ARGS_ANY,
		.sends = CMD_schedule_add,
		.exec = cmd_schedule_add,
	},
	{
		.words = { "schedule", "list" },
		.usage = "",
		.summary = "list schedules, their next run and last task",
		.help = "WHEN is \"every DUR\" or the calendar expression, with "
		    "its time zone when one was given; NEXT RUN says how far "
		    "ahead it is (\"in 59m00s\"). LAST TASK is the id and state "
		    "of the task the schedule "
		    "submitted last; SKIPPED counts the runs that found it "
		    "unfinished.",
		.args_min = 0, .args_max = 0,
		.sends = CMD_schedule_list,
		.exec = cmd_schedule_list,
	},
	{
		.words = { "schedule", "show" },
		.usage = "NAME",
		.summary = "show one schedule: when it runs, its next run, last task and template",
		.help = "Exits 6 when there is no schedule NAME.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_schedule_list,
		.exec = cmd_schedule_show,
	},
	{
		.words = { "schedule", "run" },
		.usage = "NAME",
		.summary = "submit a schedule's task now",
		.help = "Submits the schedule's task at once, enabled or not, and "
		    "records it as the schedule's last task; its next run stays as it was. Refused "
		    "(exit 1, conflict) while the schedule's last task is "
		    "unfinished: a schedule never has two tasks at once. Prints "
		    "the task's id.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_schedule_run,
		.exec = cmd_schedule_run,
	},
	{
		.words = { "schedule", "delete" },
		.usage = "NAME",
		.summary = "delete a schedule",
		.help = "Tasks it submitted already are left as they are. Prints "
		    "\"deleted NAME\".",
		.args_min = 1, .args_max = 1,
		.sends = CMD_schedule_delete,
		.exec = cmd_schedule_delete,
	},
	{
		.words = { "schedule", "enable" },
		.usage = "NAME",
		.summary = "let a disabled schedule submit its task again",
		.help = "Prints the schedule's name and next run.",
		.args_min = 1, .args_max = 1,
		.sends = CMD_schedule_set,
		.exec = cmd_schedule_enable,
	},
	{
		.words = { "schedule", "disable" },
		.usage = "NAME",
		.summary = "stop a schedule from submitting tasks until enabled",
		.help = "The schedule and its history stay; its unfinished task "
		    "runs on. Prints \"disabled NAME\".",
		.args_min = 1, .args_max = 1,
		.sends = CMD_schedule_set,
		.exec = cmd_schedule_disable,
	},
	{
		.words = { "orphans", "clean" },
		.usage = "[--priority N] [--at TIME | --in DUR] [--wait]",
		.summary = "queue removal of stored files no repository version uses",
		.help = "The task reserves content exclusively, so it waits for "
		    "running syncs and backups to end, and they for it; everything "
		    "else runs beside it. Prints the task's id; with --wait, "
		    "waits for it and exits 0 when it completed, 1 when it "
		    "failed, 4 when it was canceled.",
		.opts = (const struct ctl_opt[]){
			CMD_QUEUE_OPTS
			CMD_WAIT_OPT
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CMD_task_submit,
		.exec = cmd_orphans_clean,
	},
	{
		.words = { "backup" },
		.usage = "[-o FILE] [--incremental] [--priority N] [--at TIME | --in DUR] [--wait]",
		.summary = "queue a backup of the whole depot into one archive, online",
		.help = "The task reserves 'content' shared and 'backup' exclusive: "
		    "syncs, publishes and commands start and run beside it; only "
		    "'orphans clean' and another backup wait for it (and it for them). The archive holds the depot as it was "
		    "when the backup copied the database: that copy, depot.conf, the "
		    "content its versions reference, each repository's publication "
		    "of that instant and the task logs; in its own database the backup "
		    "is already completed. It is a tar (compressed as depot.conf's "
		    "[backup] compression says: zstd, gzip or none) with BACKUP.json "
		    "first and MANIFEST.json last, written as FILE.part and renamed to "
		    "FILE, mode 0600: it holds secrets. With --incremental, the "
		    "archive holds only content the last backup's chain lacks and names "
		    "that backup as its base (by file name and sha256): a restore needs "
		    "the whole chain beside it; with no usable chain a full backup is "
		    "written and its result says why. Without -o, the daemon names it "
		    "DIR/backups/depot-YYYYMMDDTHHMMSSZ.tar.zst (.tar.gz, .tar). "
		    "Prints the task's id; with --wait, waits for it, prints "
		    "\"ID STATE\" (\"ID completed: full backup, ...\") and, when it "
		    "completed, the archive's path alone on the last line, and exits 0 when it completed, 1 when it "
		    "failed, 4 when it was canceled. Then the archives of this "
		    "depot in DIR/backups are pruned to the newest [backup] keep "
		    "chains (depot.conf(5)). Check an archive with 'backup verify "
		    "FILE'; list them with 'backup list'.",
		.opts = (const struct ctl_opt[]){
			{ .name = "output", .short_name = 'o', .arg = "FILE",
			  .help = "write the archive to FILE; its directory must exist "
			      "(a relative FILE is from the current directory)" },
			{ .name = "incremental", .short_name = 'i',
			  .help = "hold only the content the last backup's chain lacks" },
			CMD_QUEUE_OPTS
			CMD_WAIT_OPT
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CMD_task_submit,
		.exec = cmd_backup,
	},
	{
		.words = { "backup", "verify" },
		.usage = "FILE [--base FILE]...",
		.summary = "decide, as a restore would, whether a backup archive may be restored",
		.help = "Reads FILE without the daemon, with depotd --verify (beside "
		    "depotctl, else on PATH; exit 3 without one), and makes the decision a "
		    "restore makes (the same function): every member's path, type, "
		    "size, sha256 and link target must be what MANIFEST.json lists; "
		    "links must stay inside publish/, resolved through the archive's "
		    "own; depot.conf must be one depotd accepts and depot.db must pass "
		    "its integrity check; the limits of [limits] in DIR/depot.conf "
		    "apply. Only free space is left to the restore. Prints \"FILE: ok, "
		    "N members, B bytes of files, made TIME by depot VERSION\", then "
		    "whether DIR/backup.key authenticates it (a restore disables the "
		    "schedules and sets aside the depot.conf of one it does not), and "
		    "exits 0; or prints \"FILE: refused: \" and the first reason to "
		    "standard error and exits 1. An incremental is checked with its "
		    "whole chain, as a restore reads it: each base, found beside FILE "
		    "by the name FILE gives it or among the --base files by its "
		    "sha256, must have the sha256 and size its child names, down to a "
		    "full; every content the newest database's versions reference must "
		    "be in one of them. Prints one \"  base PATH: KIND, ...\" line for "
		    "each base it checked. Either outcome is recorded beside "
		    "FILE, when this user may write there, as .FILE.verified, which "
		    "'backup list' shows.",
		.opts = (const struct ctl_opt[]){
			{ .name = "base", .short_name = 'b', .arg = "FILE", .repeat = 1,
			  .help = "an incremental's base archive that is not beside FILE" },
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_backup_verify,
	},
	{
		.words = { "backup", "list" },
		.usage = "[--dir DIR]",
		.summary = "list the backup archives in DIR/backups, oldest first",
		.help = "Reads the directory without the daemon, with depotd "
		    "--list-backups (beside depotctl, else on PATH; exit 3 without one), and each "
		    "archive's first member only: NAME, TIME (when the backup was "
		    "made; for an archive of format 1, which does not say, the "
		    "file's modification time, marked (mtime)), KIND (full or "
		    "incremental), BASE (the archive an incremental needs, marked "
		    "(missing) when it is not beside it), SIZE, and VERIFIED: yes "
		    "or FAILED when 'backup verify' checked this very file (same "
		    "inode, size and modification time) and recorded it beside it "
		    "as .NAME.verified, no otherwise. Links are not followed; a "
		    "file named *.tar* that is no tar is listed as unreadable. "
		    "--json prints an array of objects: name, path, format, kind, "
		    "created_at, time_from, size, base (null or {file, sha256, "
		    "size, present}), chain, task_id, depot_version, verified "
		    "(null when not known), verified_at, authenticated, "
		    "verify_error, error.",
		.opts = (const struct ctl_opt[]){
			{ .name = "dir", .arg = "DIR",
			  .help = "list the archives in DIR instead of DIR/backups" },
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_backup_list,
	},
	{
		.words = { "restore" },
		.usage = "FILE [--base FILE]... [--force] [--priority N] [--at TIME | --in DUR] [--wait]",
		.summary = "queue a restore of the whole depot from a backup archive",
		.help = "The task reserves depot exclusively, so it waits for "
		    "running tasks to end (with --force, they are canceled with "
		    "reason restored instead). It reads FILE once, extracting it "
		    "beside the data directory as it makes the decision 'backup "
		    "verify' makes, and stops before the disk would fill; a bad "
		    "archive changes nothing. An archive DIR/backup.key does not "
		    "authenticate comes back with its schedules disabled and its "
		    "depot.conf kept as depot.conf.restored. An incremental is "
		    "restored with its chain: its bases, beside FILE or given with "
		    "--base, are read first (their content only), and a missing or "
		    "altered one is refused by name. Then the daemon stops its workers, "
		    "swaps the restored data in, keeps the old data as "
		    "DIR.pre-restore-TIMESTAMP, cancels every task the backup "
		    "holds unfinished (reason restored) and starts again; task "
		    "ids are never reused. With the daemon stopped, use 'depotd "
		    "--restore FILE -d DIR' instead. Prints the task's id; with "
		    "--wait, waits for it and exits 0 when it completed, 1 when "
		    "it failed, 4 when it was canceled.",
		.opts = (const struct ctl_opt[]){
			{ .name = "base", .short_name = 'b', .arg = "FILE", .repeat = 1,
			  .help = "an incremental's base archive that is not beside FILE" },
			{ .name = "force", .short_name = 'f',
			  .help = "cancel running tasks (reason restored) instead of "
			      "waiting for them" },
			CMD_QUEUE_OPTS
			CMD_WAIT_OPT
			{ .name = NULL },
		},
		.args_min = 1, .args_max = 1,
		.sends = CMD_task_submit,
		.exec = cmd_restore,
	},
	{
		.words = { "events" },
		.usage = "[--topic T]...",
		.summary = "print events as they happen, one JSON object a line",
		.help = "T is task, worker, lock or status (default: all). Runs "
		    "until interrupted. Events are hints: a slow reader may miss "
		    "some, so re-read state with a request when it matters.",
		.opts = (const struct ctl_opt[]){
			{ .name = "topic", .short_name = 't', .arg = "T", .repeat = 1,
			  .help = "only events of topic T" },
			{ .name = NULL },
		},
		.args_min = 0, .args_max = 0,
		.sends = CMD_ping,
		.exec = cmd_events,
	},
	{
		.words = { "help" },
		.usage = "[COMMAND]",
		.summary = "list the commands, or explain one",
		.args_min = 0, .args_max = CTL_WORDS_MAX,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_help,
	},
	/* For share/depotctl.bash: each command's words, one command a line. */
	{
		.words = { "__commands" },
		.usage = "",
		.summary = "list command names for shell completion",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_commands,
	},
	/* For share/depotctl.bash: the values of --state, from share/states.def. */
	{
		.words = { "__states" },
		.usage = "",
		.summary = "list the task states task list --state takes",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_states,
	},
	/* For the Makefile: the COMMANDS section of depotctl(1) in roff. */
	{
		.words = { "__man" },
		.usage = "",
		.summary = "print the man page's COMMANDS section",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_man,
	},
	/* For tests/e2e/manuals.bats: every option, to find each in depotctl(1). */
	{
		.words = { "__options" },
		.usage = "",
		.summary = "list every command's options, and the global ones",
		.args_min = 0, .args_max = 0,
		.flags = CMD_HIDDEN,
		.sends = CTL_SENDS_NONE,
		.exec = cmd_options,
	},
};
const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

static int cmd_word_matches(const struct ctl_cmd *cmd, int depth, const char *w);
static int cmd_ends_at(const struct ctl_cmd *cmd, int depth);
static void cmd_join(char *out, size_t n, int argc, char **argv);
static void cmd_print_option(FILE *f, int width, const char *spec, const char *help);

void cmd_name(const struct ctl_cmd *cmd, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; cmd->words[i] != NULL && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s",
		    i > 0 ? " " : "", cmd->words[i]);
}

/* A hidden command answers only to its exact name, so prefixes never reach it. */
static int cmd_word_matches(const struct ctl_cmd *cmd, int depth, const char *w)
{
	const char *word = cmd->words[depth];

	if (word == NULL || *w == '\0')
		return 0;
	if (cmd->flags & CMD_HIDDEN)
		return strcmp(word, w) == 0;
	return strncmp(word, w, strlen(w)) == 0;
}

static int cmd_ends_at(const struct ctl_cmd *cmd, int depth)
{
	return cmd->words[depth] == NULL;
}

static void cmd_join(char *out, size_t n, int argc, char **argv)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < argc && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s",
		    i > 0 ? " " : "", argv[i]);
}

const struct ctl_opt *cmd_opts(const struct ctl_cmd *cmd)
{
	static const struct ctl_opt none[1];

	return cmd->opts != NULL ? cmd->opts : none;
}

/*
 * Word by word: keep the commands whose word at this depth starts with
 * argv[depth] (an exact word wins over longer ones), and stop when one
 * command is left whose words are all used, or when the next argument is
 * not a command word (an option, or a positional argument of a one-word
 * command such as "backup" beside "backup verify").
 */
const struct ctl_cmd *cmd_lookup(int argc, char **argv, int *used, char *err,
    size_t errlen)
{
	const struct ctl_cmd *cand[sizeof cmd_table / sizeof cmd_table[0]];
	const struct ctl_cmd *ends;
	size_t ncand = 0, nmatch;
	char typed[256], list[1024];

	for (size_t i = 0; i < cmd_count; i++)
		cand[ncand++] = &cmd_table[i];
	for (int depth = 0; depth <= CTL_WORDS_MAX; depth++) {
		const struct ctl_cmd *match[sizeof cmd_table / sizeof cmd_table[0]];
		int exact = 0, distinct = 0;

		ends = NULL;
		for (size_t i = 0; i < ncand; i++)
			if (cmd_ends_at(cand[i], depth))
				ends = cand[i];
		if (depth >= argc || argv[depth][0] == '-') {
			if (ends != NULL) {
				*used = depth;
				return ends;
			}
			if (depth == 0) {
				snprintf(err, errlen, "no command given");
				return NULL;
			}
			/* "task" alone: say which subcommands there are. */
			list[0] = '\0';
			for (size_t i = 0; i < ncand; i++) {
				if (cand[i]->flags & CMD_HIDDEN)
					continue;
				size_t l = strlen(list);
				snprintf(list + l, sizeof list - l, "%s%s",
				    l > 0 ? ", " : "", cand[i]->words[depth]);
			}
			cmd_join(typed, sizeof typed, depth, argv);
			snprintf(err, errlen, "'%s' needs a subcommand: %s", typed, list);
			return NULL;
		}
		nmatch = 0;
		for (size_t i = 0; i < ncand; i++) {
			if (!cmd_word_matches(cand[i], depth, argv[depth]))
				continue;
			match[nmatch++] = cand[i];
			if (strcmp(cand[i]->words[depth], argv[depth]) == 0)
				exact = 1;
		}
		if (exact) {
			size_t k = 0;

			for (size_t i = 0; i < nmatch; i++)
				if (strcmp(match[i]->words[depth], argv[depth]) == 0)
					match[k++] = match[i];
			nmatch = k;
		}
		if (nmatch == 0) {
			if (ends != NULL) {
				*used = depth;
				return ends;
			}
			cmd_join(typed, sizeof typed, depth + 1, argv);
			snprintf(err, errlen, "unknown command '%s'", typed);
			return NULL;
		}
		/* Several different words fit the prefix: name them all. */
		list[0] = '\0';
		for (size_t i = 0; i < nmatch; i++) {
			int seen = 0;

			for (size_t j = 0; j < i; j++)
				if (strcmp(match[j]->words[depth], match[i]->words[depth]) == 0)
					seen = 1;
			if (seen)
				continue;
			distinct++;
			size_t l = strlen(list);
			for (int w = 0; w <= depth && l < sizeof list; w++) {
				snprintf(list + l, sizeof list - l, "%s%s",
				    w == 0 ? (l > 0 ? ", " : "") : " ", match[i]->words[w]);
				l = strlen(list);
			}
		}
		if (distinct > 1) {
			cmd_join(typed, sizeof typed, depth + 1, argv);
			snprintf(err, errlen, "ambiguous command '%s': could be %s",
			    typed, list);
			return NULL;
		}
		memcpy(cand, match, nmatch * sizeof match[0]);
		ncand = nmatch;
	}
	snprintf(err, errlen, "no command given");
	return NULL;
}

void cmd_print_usage(const struct ctl_cmd *cmd, FILE *f)
{
	char name[128];

	cmd_name(cmd, name, sizeof name);
	fprintf(f, "usage: %s %s%s%s\n", ctl_prog, name,
	    cmd->usage[0] != '\0' ? " " : "", cmd->usage);
}

/* "  --spec   help", the help wrapped at 78 columns under itself. */
static void cmd_print_option(FILE *f, int width, const char *spec, const char *help)
{
	int indent = 2 + width + 1, col;

	col = fprintf(f, "  %-*s", width, spec);
	while (*help != '\0') {
		size_t wl;

		while (*help == ' ')
			help++;
		wl = strcspn(help, " ");
		if (wl == 0)
			break;
		if (col > indent && col + 1 + (int)wl > 78) {
			fputc('\n', f);
			col = fprintf(f, "%*s", indent - 1, "");
		}
		col += fprintf(f, " %.*s", (int)wl, help);
		help += wl;
	}
	fputc('\n', f);
}

/* What `help COMMAND` and `COMMAND --help` print. */
void cmd_print_help(const struct ctl_cmd *cmd, FILE *f)
{
	char spec[128], text[512];
	int width = 22;

	/* The option column: 22 wide, or wider for --download-concurrency N. */
	for (const struct ctl_opt *o = cmd_opts(cmd); o->name != NULL; o++) {
		int w = 6 + (int)strlen(o->name) +
		    (o->arg != NULL ? 1 + (int)strlen(o->arg) : 0);

		if (w + 1 > width)
			width = w + 1;
	}
	cmd_print_usage(cmd, f);
	fputc('\n', f);
	out_wrap(f, cmd->summary, 2, 78);
	if (cmd->help != NULL) {
		fputc('\n', f);
		out_wrap(f, cmd->help, 2, 78);
	}
	if (cmd_opts(cmd)[0].name != NULL)
		fprintf(f, "\nOptions:\n");
	for (const struct ctl_opt *o = cmd_opts(cmd); o->name != NULL; o++) {
		if (o->short_name != 0)
			snprintf(spec, sizeof spec, "-%c, --%s%s%s", o->short_name,
			    o->name, o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		else
			snprintf(spec, sizeof spec, "    --%s%s%s", o->name,
			    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		snprintf(text, sizeof text, "%s%s", o->help,
		    o->repeat ? " (repeatable)" : "");
		cmd_print_option(f, width, spec, text);
	}
	fprintf(f, "\nCommon options:\n");
	fprintf(f, "  %-*s %s\n", width, "    --json", "print the daemon's answer as JSON");
	fprintf(f, "  %-*s %s\n", width, "-h, --help", "show this help");
}
