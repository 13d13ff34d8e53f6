/* queue.c: the queue's rules — pauses and capacities — kept in the database and applied to the lock manager. */
#include "depotd.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* depot.conf's [resources] capacity of name, or 0. */
static int config_capacity(const char *name)
{
	for (int i = 0; i < D->cfg.nresources; i++) {
		if (strcmp(D->cfg.resources[i].name, name) == 0)
			return D->cfg.resources[i].capacity;
	}
	return 0;
}

struct load {
	int failed;
};

static void apply_stored(const char *name, int capacity, int paused, void *arg)
{
	struct load *l = arg;

	/* A row no request could have made (a hand edit, an archive's): said, and left alone. */
	if (name == NULL || !validate_resource_name(name) || capacity < 0 ||
	    capacity > RESOURCE_CAPACITY_MAX) {
		log_warn("ignoring the stored rule of resource '%s': not a resource name "
		    "or capacity depot accepts", name ? name : "(null)");
		return;
	}
	/* An administrator's capacity wins over depot.conf's until set back to the default. */
	if ((capacity > 0 && lockmgr_set_capacity(D->locks, name, capacity) < 0) ||
	    (paused && lockmgr_set_paused(D->locks, name, 1) < 0))
		l->failed = 1;
}

int queue_rules_load(char *err, size_t errlen)
{
	struct load l = { 0 };

	for (int i = 0; i < D->cfg.nresources; i++) {
		if (lockmgr_set_capacity(D->locks, D->cfg.resources[i].name,
		    D->cfg.resources[i].capacity) < 0)
			l.failed = 1;
	}
	if (store_queue_rules(D->store, &D->queue_paused, apply_stored, &l) < 0) {
		snprintf(err, errlen, "reading the queue's rules: %s", store_errmsg(D->store));
		return -1;
	}
	if (l.failed) {
		snprintf(err, errlen, "out of memory applying the queue's rules");
		return -1;
	}
	if (D->queue_paused)
		log_warn("the queue is paused (depotctl resume starts tasks again)");
	return 0;
}

struct admin_set {
	char (*names)[256];		/* resources an administrator gave a capacity */
	int n, cap;
	int failed;
};

static void note_admin(const char *name, int capacity, int paused, void *arg)
{
	struct admin_set *a = arg;
	char (*names)[256];

	(void)paused;
	if (name == NULL || capacity <= 0 || strlen(name) >= sizeof a->names[0])
		return;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		if ((names = realloc(a->names, (size_t)a->cap * sizeof *names)) == NULL) {
			a->failed = 1;
			return;
		}
		a->names = names;
	}
	strcpy(a->names[a->n++], name);
}

static int admin_holds(const struct admin_set *a, const char *name)
{
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return 1;
	return 0;
}

int queue_config_reapply(const struct depot_config *old, char *err, size_t errlen)
{
	struct admin_set a = { 0 };
	int dummy_paused, failed = 0;

	if (store_queue_rules(D->store, &dummy_paused, note_admin, &a) < 0) {
		snprintf(err, errlen, "reading the queue's rules: %s", store_errmsg(D->store));
		free(a.names);
		return -1;
	}
	if (a.failed) {
		snprintf(err, errlen, "out of memory reading the queue's rules");
		free(a.names);
		return -1;
	}
	/* Dropped from the file: back to the default (config_capacity reads D->cfg, already the new one). */
	for (int i = 0; i < old->nresources; i++) {
		const char *name = old->resources[i].name;
		if (!admin_holds(&a, name) && config_capacity(name) == 0 &&
		    lockmgr_set_capacity(D->locks, name, 0) < 0)
			failed = 1;
	}
	for (int i = 0; i < D->cfg.nresources; i++) {
		const char *name = D->cfg.resources[i].name;
		if (!admin_holds(&a, name) &&
		    lockmgr_set_capacity(D->locks, name, D->cfg.resources[i].capacity) < 0)
			failed = 1;
	}
	free(a.names);
	if (failed) {
		snprintf(err, errlen, "out of memory applying [resources]");
		return -1;
	}
	/* A larger capacity may grant waiting tasks now. */
	tasks_dispatch();
	return 0;
}

int queue_set_paused(const char *const *resources, size_t n, int paused, char *err, size_t errlen)
{
	size_t i;
	int rc = 0;

	if (store_begin(D->store) < 0)
		goto db_failed;
	if (n == 0)
		rc = store_queue_set_paused(D->store, paused);
	for (i = 0; i < n && rc == 0; i++)
		rc = store_resource_set_paused(D->store, resources[i], paused);
	if (rc < 0 || store_commit(D->store) < 0) {
		store_rollback(D->store);
		goto db_failed;
	}
	if (n == 0)
		D->queue_paused = paused;
	for (i = 0; i < n; i++) {
		if (lockmgr_set_paused(D->locks, resources[i], paused) < 0) {
			/* Stored, so the next start applies it; say so rather than pretend. */
			snprintf(err, errlen, "out of memory pausing '%s' (stored: it takes "
			    "effect when depotd starts again)", resources[i]);
			return -1;
		}
	}
	if (n == 0)
		log_info("the queue is %s", paused ? "paused" : "resumed");
	for (i = 0; i < n; i++)
		log_info("resource %s is %s", resources[i], paused ? "paused" : "resumed");
	tasks_dispatch();
	return 0;

db_failed:
	snprintf(err, errlen, "the database refused the change: %s", store_errmsg(D->store));
	return -1;
}

int queue_set_capacity(const char *resource, int capacity, char *err, size_t errlen)
{
	int effective = capacity > 0 ? capacity : config_capacity(resource);

	if (store_begin(D->store) < 0 ||
	    store_resource_set_capacity(D->store, resource, capacity) < 0 ||
	    store_commit(D->store) < 0) {
		snprintf(err, errlen, "the database refused the change: %s",
		    store_errmsg(D->store));
		store_rollback(D->store);
		return -1;
	}
	if (lockmgr_set_capacity(D->locks, resource, effective) < 0) {
		snprintf(err, errlen, "out of memory setting the capacity of '%s' (stored: it "
		    "takes effect when depotd starts again)", resource);
		return -1;
	}
	log_info("resource %s: capacity %d%s", resource,
	    effective ? effective : LOCK_CAPACITY_DEFAULT, effective ? "" : " (the default)");
	tasks_dispatch();
	return 0;
}

static void collect_paused(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	(void)e;
	(void)n;
	if (res->paused)
		cJSON_AddItemToArray(ctx, cJSON_CreateString(res->name));
}

cJSON *queue_pause_json(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "paused", D->queue_paused);
	lockmgr_visit(D->locks, collect_paused, cJSON_AddArrayToObject(o, "paused_resources"));
	return o;
}

static void collect_resource(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	size_t holders = 0;

	for (size_t i = 0; i < n; i++)
		holders += e[i].held;
	cJSON_AddStringToObject(o, "name", res->name);
	if (res->capacity > 0)
		cJSON_AddNumberToObject(o, "capacity", res->capacity);
	else
		cJSON_AddNullToObject(o, "capacity");
	cJSON_AddBoolToObject(o, "paused", res->paused);
	cJSON_AddNumberToObject(o, "slots_held", (double)res->slots_held);
	cJSON_AddNumberToObject(o, "holders", (double)holders);
	cJSON_AddNumberToObject(o, "waiting", (double)(n - holders));
	cJSON_AddItemToArray(ctx, o);
}

cJSON *queue_resources_json(void)
{
	cJSON *arr = cJSON_CreateArray();

	lockmgr_visit(D->locks, collect_resource, arr);
	return arr;
}
