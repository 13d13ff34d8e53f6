/* depotctl.c: main: global options, finding the command, running it, the exit code. */
#include "ctl.h"

#include "client.h"
#include "paths.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *ctl_prog = "depotctl";
/* The options before the command; __options lists them for the man page's test. */
const struct option ctl_global_opts[] = {
	{ "json", no_argument, NULL, 'J' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};
int ctl_json_out;
int ctl_command_status;
const char *ctl_where;

/*
 * The first failure said, for --json's error object: a wire code (the
 * daemon's, or one depotctl gives its own failures) and the message.
 */
static struct {
	int set;		/* message holds the first one said */
	char code[32];		/* "" until one is noted */
	char message[1024];
} ctl_failure;

static int ctl_finish(int rc, int json);
static void ctl_vnote(const char *code, const char *fmt, va_list ap);
static const char *ctl_exit_code_name(int rc);
static int ctl_wants_command_status(const struct ctl_cmd *cmd, int argc, char **argv);

/* The first code and the first message win: they name the cause, later lines its effects. */
static void ctl_vnote(const char *code, const char *fmt, va_list ap)
{
	size_t at = 0;

	if (code != NULL && ctl_failure.code[0] == '\0')
		snprintf(ctl_failure.code, sizeof ctl_failure.code, "%s", code);
	if (fmt != NULL && !ctl_failure.set) {
		ctl_failure.set = 1;
		if (ctl_where != NULL)
			at = (size_t)snprintf(ctl_failure.message, sizeof ctl_failure.message,
			    "%s: ", ctl_where);
		if (at < sizeof ctl_failure.message)
			vsnprintf(ctl_failure.message + at, sizeof ctl_failure.message - at,
			    fmt, ap);
	}
}

/* "depotctl: " and, while a batch's line is read, "FILE:LINE: ". */
static void ctl_say_prefix(void)
{
	fprintf(stderr, "%s: ", ctl_prog);
	if (ctl_where != NULL)
		fprintf(stderr, "%s: ", ctl_where);
}

void ctl_note_failure(const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vnote(code, fmt, ap);
	va_end(ap);
}

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);	/* keep stdout and stderr in order on a terminal */
	progress_erase();	/* the message takes the progress line's place, not its end */
	ctl_say_prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	ctl_vnote(NULL, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: what was wrong, then the usage line (the command's, or the global one). */
int ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	ctl_say_prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	ctl_vnote(CTL_CODE_USAGE, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* An error at a place in a file is about that place, not the command's usage. */
	if (ctl_where != NULL)
		return EXIT_USAGE;
	if (cmd != NULL)
		cmd_print_usage(cmd, stderr);
	else {
		ctl_print_global_usage(stderr);
		fprintf(stderr, "Run '%s help' for the list of commands.\n", ctl_prog);
	}
	return EXIT_USAGE;
}

void ctl_print_global_usage(FILE *f)
{
	fprintf(f, "usage: %s [-d DIR] [--json] COMMAND [ARG]...\n", ctl_prog);
}

void ctl_print_global_options(FILE *f)
{
	fprintf(f, "  %-22s %s\n", "-d DIR",
	    "the daemon's data directory (default: $DEPOT_HOME, else");
	fprintf(f, "  %-22s %s\n", "", "/var/lib/depot as root, else ~/.local/state/depot)");
	fprintf(f, "  %-22s %s\n", "    --json",
	    "print the daemon's answer as one JSON document");
	fprintf(f, "  %-22s %s\n", "-h, --help", "show this help");
	fprintf(f, "  %-22s %s\n", "    --version", "show depotctl's version");
}

/*
 * Finds the data directory and its sockets, on first use rather than at
 * start, so that commands needing no daemon (help) work without a home.
 */
int ctl_resolve(struct ctl_ctx *ctx)
{
	char err[512];

	if (ctx->resolved)
		return EXIT_OK;
	if (paths_data_dir(ctx->dir_opt, ctx->dir, sizeof ctx->dir, err, sizeof err) != 0 ||
	    paths_socket_url(ctx->dir, DEPOT_CONTROL_SOCK, ctx->control_url,
	    sizeof ctx->control_url, err, sizeof err) != 0 ||
	    paths_socket_url(ctx->dir, DEPOT_EVENTS_SOCK, ctx->events_url,
	    sizeof ctx->events_url, err, sizeof err) != 0) {
		ctl_error("%s", err);
		return EXIT_USAGE;
	}
	/* The URL is "ipc://" and the path: messages name the path. */
	snprintf(ctx->control_path, sizeof ctx->control_path, "%s",
	    ctx->control_url + strlen("ipc://"));
	ctx->resolved = 1;
	return EXIT_OK;
}

/*
 * Whether argv, which args_parse refused, asked for `run --wait`: then
 * the refusal exits as run --wait's own failures do (125), not 2, which
 * the command could have exited with.
 */
static int ctl_wants_command_status(const struct ctl_cmd *cmd, int argc, char **argv)
{
	if (cmd->exec != cmd_run)
		return 0;
	int wait = 0;

	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		size_t len = strcspn(argv[i], "=");

		/* A batch waits as task wait does: its exit codes are depotctl's. */
		if ((len > 2 && strncmp(argv[i], "--batch", len) == 0) ||
		    strncmp(argv[i], "-b", 2) == 0)
			return 0;
		if (strcmp(argv[i], "--wait") == 0 || strcmp(argv[i], "-w") == 0)
			wait = 1;
	}
	return wait;
}

/* The wire code of --json's error object for a failure that said none. */
static const char *ctl_exit_code_name(int rc)
{
	switch (rc) {
	case EXIT_USAGE:
		return CTL_CODE_USAGE;
	case EXIT_UNREACHABLE:
		return err_code_name(ERR_UNAVAILABLE);
	case EXIT_NOT_FOUND:
		return err_code_name(ERR_NOT_FOUND);
	case EXIT_WAIT_TIMEOUT:
	case EXIT_CMD_TIMED_OUT:
		return CTL_CODE_TIMEOUT;
	case EXIT_CANCELED:
		return CTL_CODE_CANCELED;
	default:
		return CTL_CODE_FAILED;
	}
}

/*
 * A write error on stdout (a full disk, a closed pipe with SIGPIPE
 * ignored) must not pass for success: scripts trust the exit code. With
 * --json, a failure that printed no document prints its error object, so
 * stdout always holds one for jq.
 */
static int ctl_finish(int rc, int json)
{
	if (json && rc != EXIT_OK && !ctl_json_out) {
		cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

		if (e != NULL &&
		    cJSON_AddStringToObject(e, "code", ctl_failure.code[0] != '\0' ?
		    ctl_failure.code : ctl_exit_code_name(rc)) != NULL &&
		    cJSON_AddStringToObject(e, "message", ctl_failure.set ?
		    ctl_failure.message : "failed") != NULL)
			(void)json_print(o);
		cJSON_Delete(o);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == EXIT_OK) {
			ctl_error("writing output: %s", strerror(errno));
			rc = ctl_command_status ? EXIT_CMD_DEPOT_FAILED : EXIT_REFUSED;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl_ctx ctx;
	struct ctl_args args;
	const struct ctl_cmd *cmd;
	char err[1024];
	int c, used, help = 0, rc;

	memset(&ctx, 0, sizeof ctx);
	opterr = 0;
	while ((c = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, ctl_global_opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			ctx.dir_opt = optarg;
			break;
		case 'J':
			ctx.json = 1;
			break;
		case 'h':
			help = 1;
			break;
		case 'V':
			printf("%s %s (protocol %d)\n", ctl_prog, DEPOT_VERSION,
			    DEPOT_PROTO_VERSION);
			return ctl_finish(EXIT_OK, 0);
		case ':':
			return ctl_finish(ctl_usage_error(NULL, "option '-d' needs a value (DIR)"),
			    ctx.json);
		default:
			if (optopt == 'J' || optopt == 'V')
				rc = ctl_usage_error(NULL, "option '%.*s' takes no value",
				    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else if (optopt != 0)
				rc = ctl_usage_error(NULL, "unknown option '-%c'", optopt);
			else
				rc = ctl_usage_error(NULL, "unknown option '%s'",
				    argv[optind - 1]);
			return ctl_finish(rc, ctx.json);
		}
	}
	argc -= optind;
	argv += optind;
	if (help) {
		/* "depotctl -h task list" is "depotctl help task list". */
		memset(&args, 0, sizeof args);
		args.argc = argc;
		args.argv = argv;
		return ctl_finish(cmd_help(&ctx, &args), ctx.json);
	}
	if (argc == 0)
		return ctl_finish(ctl_usage_error(NULL, "no command given"), ctx.json);

	if ((cmd = cmd_lookup(argc, argv, &used, err, sizeof err)) == NULL)
		return ctl_finish(ctl_usage_error(NULL, "%s", err), ctx.json);
	/* argv[used - 1] is the command's last word: getopt's argv[0]. */
	rc = args_parse(cmd, argc - used + 1, argv + used - 1, &args, &ctx.json, &help);
	if (rc != EXIT_OK) {
		args_free(&args);
		/* run --wait's own failures never pass for the command's status. */
		if (ctl_wants_command_status(cmd, argc - used, argv + used))
			rc = EXIT_CMD_DEPOT_FAILED;
		return ctl_finish(rc, ctx.json);
	}
	if (help) {
		cmd_print_help(cmd, stdout);
		args_free(&args);
		return ctl_finish(EXIT_OK, 0);
	}
	ctx.cmd = cmd;
	rc = cmd->exec(&ctx, &args);
	args_free(&args);
	call_close(&ctx);
	return ctl_finish(rc, ctx.json);
}
