/* config.h: depot.conf (DESIGN §4), read with inih; every key optional. */
#ifndef DEPOT_CONFIG_H
#define DEPOT_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_RESOURCES_MAX 64

struct depot_config {
	/* [daemon] */
	int workers;
	char socket_group[64];
	gid_t socket_gid;		/* of socket_group; (gid_t)-1 when it is empty */
	int durability_full;		/* SQLite synchronous=FULL instead of NORMAL */
	int64_t max_message;		/* bytes; larger messages are refused by nng */
	int log_level;			/* enum log_level (log.h): the least a line must be to be written */
	/* [monitor] */
	int64_t heartbeat_interval_ms;
	int64_t worker_timeout_ms;
	int64_t check_interval_ms;
	int64_t cancel_grace_ms;
	int64_t stall_after_ms;
	/* [tasks] */
	int64_t keep_finished_ms;
	int64_t log_max;
	char env_deny[4096];		/* glob patterns of variables a task never stores (envdeny.h) */
	/* [backup] */
	char compression[8];		/* zstd | gzip | none */
	int backup_keep;		/* backup chains kept in DIR/backups after a backup */
	int keep_pre_restore;		/* DIR.pre-restore-* directories kept after a restore */
	/* [publish] */
	char publish_dir[4096];		/* absolute; "" = DIR/publish (config_publish_dir) */
	char publish_group[64];		/* owns publications (0750/0640); "" = world-readable */
	gid_t publish_gid;		/* of publish_group; (gid_t)-1 when it is empty */
	/* [limits] */
	int restore_max_members;	/* an archive with more members is refused */
	int64_t restore_free_margin;	/* bytes a restore leaves free on the staging file system */
	int parked_requests_per_peer;	/* task.wait requests one uid may have waiting at once */
	int record_slice_rows;		/* rows of a sync's version recorded in one loop turn */
	/* [metrics] */
	char metrics_listen[256];	/* HOST:PORT serving GET /metrics; "" = none */
	/* [resources]: NAME = N, a resource's capacity of slots (lockmgr.h) */
	struct config_resource {
		char name[256];
		int capacity;
	} resources[CONFIG_RESOURCES_MAX];
	int nresources;
};

void config_defaults(struct depot_config *cfg);
/*
 * Reads path over the defaults. A missing file is not an error. On a bad
 * section, key or value returns -1 with "FILE:LINE: reason" in err.
 */
int config_load(const char *path, struct depot_config *cfg, char *err, size_t errlen);
/* The same for a depot.conf held in memory (a backup's), name standing for its path in err. */
int config_parse(const char *name, const char *text, size_t len, struct depot_config *cfg,
    char *err, size_t errlen);
/*
 * The keys config_load knows, besides [resources] (whose keys are resource
 * names): section and name of key i, or -1 past the last.
 */
size_t config_key_count(void);
int config_key_at(size_t i, const char **section, const char **name);
/* Where publications live: [publish] dir, else DIR/publish. -1 if it does not fit in n. */
int config_publish_dir(const struct depot_config *cfg, const char *dir, char *out, size_t n);

#endif
