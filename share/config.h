/* config.h: depot.conf (DESIGN §4), read with inih; every key optional. */
#ifndef DEPOT_CONFIG_H
#define DEPOT_CONFIG_H
#include <stddef.h>
#include <stdint.h>

struct depot_config {
	/* [daemon] */
	int workers;
	char socket_group[64];
	int durability_full;		/* SQLite synchronous=FULL instead of NORMAL */
	int64_t max_message;		/* bytes; larger messages are refused by nng */
	/* [monitor] */
	int64_t heartbeat_interval_ms;
	int64_t worker_timeout_ms;
	int64_t check_interval_ms;
	int64_t cancel_grace_ms;
	int64_t stall_after_ms;
	/* [tasks] */
	int64_t keep_finished_ms;
	int64_t log_max;
	/* [backup] */
	char compression[8];		/* zstd | gzip | none */
	/* [limits] */
	int restore_max_members;	/* an archive with more members is refused */
	int64_t restore_free_margin;	/* bytes a restore leaves free on the staging file system */
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

#endif
