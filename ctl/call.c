/* call.c: one request to depotd, with failures turned into depotctl's messages and exit codes. */
#include "ctl.h"

#include "client.h"

#include <string.h>

static const char *call_reason(const struct ctl_ctx *ctx, const char *err);
static const char *call_access_hint(const struct ctl_cmd *cmd);

/* client.c's messages read "… PATH: REASON"; the reason is what the user needs. */
static const char *call_reason(const struct ctl_ctx *ctx, const char *err)
{
	const char *p = strstr(err, ctx->control_path);

	if (p == NULL)
		return err;
	p += strlen(ctx->control_path);
	return strncmp(p, ": ", 2) == 0 ? p + 2 : err;
}

/* Access goes by uid (DESIGN §10): who may run cmd, by the level of the command it sends. */
static const char *call_access_hint(const struct ctl_cmd *cmd)
{
	switch (command_access(cmd->sends)) {
	case ACCESS_READ:
		return "reading needs depotd's user, root, or membership of its socket_group";
	case ACCESS_CANCEL:
		return "canceling needs depotd's user, root, or membership of its socket_group";
	default:
		return "this command changes the daemon's state: run it as depotd's user or root";
	}
}

/*
 * Sends cmd with args (consumed) and waits up to timeout_ms (negative:
 * forever). On success *result is the reply's result, the caller's to
 * free. Otherwise the failure is reported on stderr and the exit code
 * returned: EXIT_UNREACHABLE when depotd cannot be reached, EXIT_NOT_FOUND
 * when it has nothing by the name or id given, EXIT_REFUSED when it said
 * no otherwise. The failure's wire code is noted for --json.
 */
int call(struct ctl_ctx *ctx, enum command cmd, cJSON *args, int timeout_ms,
    cJSON **result)
{
	enum client_status st;
	const cJSON *error, *index;
	const char *code, *message;
	cJSON *reply = NULL;
	char err[512];
	int rc;

	*result = NULL;
	if ((rc = ctl_resolve(ctx)) != EXIT_OK) {
		cJSON_Delete(args);
		return rc;
	}
	if (ctx->client == NULL &&
	    client_open(&ctx->client, ctx->control_url, err, sizeof err) != 0) {
		cJSON_Delete(args);
		ctl_error("%s", err);
		return EXIT_REFUSED;
	}
	st = client_call(ctx->client, command_name(cmd), args, timeout_ms, &reply, err,
	    sizeof err);
	if (st == CLIENT_UNREACHABLE || st == CLIENT_LOST || st == CLIENT_TIMEOUT) {
		const char *why = call_reason(ctx, err);

		ctl_note_failure(err_code_name(ERR_UNAVAILABLE), NULL);
		if (st == CLIENT_TIMEOUT)
			ctl_error("no reply from depotd at %s within %d s; it may be "
			    "busy or stuck, see its log", ctx->control_path,
			    timeout_ms / 1000);
		else if (st == CLIENT_LOST &&
		    client_last_request_size(ctx->client) > 64 * 1024)
			/* nng drops a message over max_message by closing the connection. */
			ctl_error("depotd at %s closed the connection on a %zu-byte request: "
			    "larger than its max_message (1MiB unless depot.conf says "
			    "otherwise)?", ctx->control_path,
			    client_last_request_size(ctx->client));
		else if (st == CLIENT_LOST)
			ctl_error("lost depotd at %s before it answered: %s; did it "
			    "stop?", ctx->control_path, why);
		else
			ctl_error("cannot reach depotd at %s: %s; is depotd running "
			    "with -d %s?", ctx->control_path, why, ctx->dir);
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
	index = cJSON_GetObjectItemCaseSensitive(error, "index");
	if (ctx->index_where != NULL && cJSON_IsNumber(index) &&
	    (ctl_where = ctx->index_where(ctx->index_arg, (int64_t)index->valuedouble)) != NULL &&
	    message != NULL && strncmp(message, "tasks[", 6) == 0 && strstr(message, "]: ") != NULL)
		message = strstr(message, "]: ") + 3;	/* the place says which task better */
	ctl_note_failure(code != NULL ? code : err_code_name(ERR_INTERNAL), "%s",
	    message != NULL ? message : "request refused");
	ctl_error("%s (%s)", message != NULL ? message : "request refused",
	    code != NULL ? code : "no code");
	if (code != NULL && strcmp(code, err_code_name(ERR_FORBIDDEN)) == 0 && ctx->cmd != NULL)
		ctl_error("%s", call_access_hint(ctx->cmd));
	/* Not found is not "failed": a script tells a wrong id from a task that failed. */
	rc = code != NULL && strcmp(code, err_code_name(ERR_NOT_FOUND)) == 0 ?
	    EXIT_NOT_FOUND : EXIT_REFUSED;
	ctl_where = NULL;
	cJSON_Delete(reply);
	return rc;
}

void call_close(struct ctl_ctx *ctx)
{
	client_close(ctx->client);
	ctx->client = NULL;
}

int call_for_people(struct ctl_ctx *ctx, enum command cmd, cJSON *args, cJSON **result)
{
	int rc = call(ctx, cmd, args, CTL_CALL_TIMEOUT_MS, result);

	if (rc != EXIT_OK || !ctx->json)
		return rc;
	rc = json_print(*result);
	cJSON_Delete(*result);
	*result = NULL;
	return rc;
}

int call_done(struct ctl_ctx *ctx, cJSON *result, const char *field, const char *verb,
    const char *name)
{
	int rc = EXIT_OK;

	if (ctx->json)
		rc = json_print(result);
	else
		printf("%s %s\n", verb, json_str(result, field) != NULL ?
		    json_str(result, field) : name);
	cJSON_Delete(result);
	return rc;
}

int call_delete_named(struct ctl_ctx *ctx, enum command cmd, const char *name)
{
	cJSON *req = cJSON_CreateObject(), *r;
	int rc;

	if (req == NULL || cJSON_AddStringToObject(req, "name", name) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call(ctx, cmd, req, CTL_CALL_TIMEOUT_MS, &r)) != EXIT_OK)
		return rc;
	return call_done(ctx, r, "deleted", "deleted", name);
}
