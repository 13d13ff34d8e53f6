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

static int ctl_finish(int rc);

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);	/* keep stdout and stderr in order on a terminal */
	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: what was wrong, then the usage line (the command's, or the global one). */
int ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
 * A write error on stdout (a full disk, a closed pipe with SIGPIPE
 * ignored) must not pass for success: scripts trust the exit code.
 */
static int ctl_finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == EXIT_OK) {
			ctl_error("writing output: %s", strerror(errno));
			rc = EXIT_REFUSED;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_ctx ctx;
	struct ctl_args args;
	const struct ctl_cmd *cmd;
	char err[1024];
	int c, used, help = 0, rc;

	/* Only the character type: table widths of UTF-8 names. Numbers stay "C" for cJSON. */
	setlocale(LC_CTYPE, "");
	memset(&ctx, 0, sizeof ctx);
	opterr = 0;
	/* "+": the first word that is not an option is the command. */
	while ((c = getopt_long(argc, argv, "+:d:h", longopts, NULL)) != -1) {
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
			return ctl_finish(EXIT_OK);
		case ':':
			return ctl_usage_error(NULL, "option '-d' needs a value (DIR)");
		default:
			if (optopt == 'J' || optopt == 'V')
				return ctl_usage_error(NULL, "option '%.*s' takes no value",
				    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			if (optopt != 0)
				return ctl_usage_error(NULL, "unknown option '-%c'", optopt);
			return ctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (help) {
		/* "depotctl -h task list" is "depotctl help task list". */
		memset(&args, 0, sizeof args);
		args.argc = argc;
		args.argv = argv;
		return ctl_finish(cmd_help(&ctx, &args));
	}
	if (argc == 0)
		return ctl_usage_error(NULL, "no command given");

	if ((cmd = cmd_lookup(argc, argv, &used, err, sizeof err)) == NULL)
		return ctl_usage_error(NULL, "%s", err);
	/* argv[used - 1] is the command's last word: getopt's argv[0]. */
	rc = args_parse(cmd, argc - used + 1, argv + used - 1, &args, &ctx.json, &help);
	if (rc != EXIT_OK) {
		args_free(&args);
		return rc;
	}
	if (help) {
		cmd_print_help(cmd, stdout);
		args_free(&args);
		return ctl_finish(EXIT_OK);
	}
	ctx.cmd = cmd;
	rc = cmd->exec(&ctx, &args);
	args_free(&args);
	call_close(&ctx);
	return ctl_finish(rc);
}
