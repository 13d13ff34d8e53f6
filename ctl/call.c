/* call.c: one request to depotd, with failures turned into depotctl's messages and exit codes. */
#include "ctl.h"

#include "client.h"
#include "paths.h"
#include "proto.h"

#include <string.h>

static const char *call_reason(const struct ctl_ctx *ctx, const char *err);

/*
 * Finds the data directory and its sockets on first use, so that commands
 * needing no daemon (help) work without a home directory.
 */
int call_resolve(struct ctl_ctx *ctx)
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

/* client.c's messages read "… PATH: REASON"; the reason is what the user needs. */
static const char *call_reason(const struct ctl_ctx *ctx, const char *err)
{
	const char *p = strstr(err, ctx->control_path);

	if (p == NULL)
		return err;
	p += strlen(ctx->control_path);
	return strncmp(p, ": ", 2) == 0 ? p + 2 : err;
}

/*
 * Sends cmd with args (consumed) and waits up to timeout_ms (negative:
 * forever). On success *result is the reply's result, the caller's to
 * free. Otherwise the failure is reported on stderr and the exit code
 * returned: EXIT_UNREACHABLE when depotd cannot be reached, EXIT_REFUSED
 * when it said no.
 */
int call(struct ctl_ctx *ctx, const char *cmd, cJSON *args, int timeout_ms,
    cJSON **result)
{
	enum client_status st;
	const cJSON *error;
	const char *code, *message;
	cJSON *reply = NULL;
	char err[512];
	int rc;

	*result = NULL;
	if ((rc = call_resolve(ctx)) != EXIT_OK) {
		cJSON_Delete(args);
		return rc;
	}
	if (ctx->client == NULL &&
	    client_open(&ctx->client, ctx->control_url, err, sizeof err) != 0) {
		cJSON_Delete(args);
		ctl_error("%s", err);
		return EXIT_REFUSED;
	}
	st = client_call(ctx->client, cmd, args, timeout_ms, &reply, err, sizeof err);
	if (st == CLIENT_UNREACHABLE) {
		if (strncmp(err, "no reply", 8) == 0)
			ctl_error("no reply from depotd at %s: %s; it may be busy "
			    "or stuck, see its log", ctx->control_path,
			    call_reason(ctx, err));
		else
			ctl_error("cannot reach depotd at %s: %s; is depotd running "
			    "with -d %s?", ctx->control_path, call_reason(ctx, err),
			    ctx->dir);
		return EXIT_UNREACHABLE;
	}
	if (st != CLIENT_OK) {
		ctl_error("%s", err);
		return EXIT_REFUSED;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
		*result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
		cJSON_Delete(reply);
		if (*result == NULL && (*result = cJSON_CreateNull()) == NULL) {
			ctl_error("out of memory");
			return EXIT_REFUSED;
		}
		return EXIT_OK;
	}
	error = cJSON_GetObjectItemCaseSensitive(reply, "error");
	code = json_str(error, "code");
	message = json_str(error, "message");
	ctl_error("%s (%s)", message != NULL ? message : "request refused",
	    code != NULL ? code : "no code");
	cJSON_Delete(reply);
	return EXIT_REFUSED;
}

void call_close(struct ctl_ctx *ctx)
{
	client_close(ctx->client);
	ctx->client = NULL;
}
