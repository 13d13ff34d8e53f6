/* cmd-worker.c: worker list: the workers, their state and how long since each heartbeat. */
#include "ctl.h"

#include "proto.h"

int cmd_worker_list(struct ctl_ctx *ctx, struct ctl_args *args)
{
	static const char *const headers[] = {
		"NAME", "STATE", "PID", "SUPERVISED", "UPTIME", "HEARTBEAT", "TASK",
	};
	struct out_table *t;
	const cJSON *w;
	cJSON *list;
	int rc;

	(void)args;
	if ((rc = call_for_people(ctx, CMD_worker_list, NULL, &list)) != EXIT_OK ||
	    list == NULL)
		return rc;
	if ((t = out_table_new(7, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 0, DEPOT_WORKER_NAME_MAX);
	cJSON_ArrayForEach(w, list) {
		char pid[24] = "-", task[24] = "-", up[32], hb[32];
		int64_t v;

		if (json_int(w, "pid", &v) == 0)
			snprintf(pid, sizeof pid, "%lld", (long long)v);
		if (json_int(w, "task", &v) == 0)
			snprintf(task, sizeof task, "%lld", (long long)v);
		out_age(json_str(w, "started_at"), up, sizeof up);
		out_age(json_str(w, "last_heartbeat"), hb, sizeof hb);
		if (out_table_add(t, (const char *const[]){ json_str(w, "name"),
		    json_str(w, "state"), pid, json_true(w, "supervised") ? "yes" : "no",
		    up, hb, task }) != 0)
			goto nomem;
	}
	out_table_print(t, stdout);
	out_table_free(t);
	cJSON_Delete(list);
	return EXIT_OK;
nomem:
	out_table_free(t);
	cJSON_Delete(list);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}
