/* fuzz_config.c: libFuzzer target for config_parse, which reads the depot.conf inside a backup as well as the daemon's own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct depotd;
struct depotd *D;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct depot_config cfg;
	char err[512];

	config_defaults(&cfg);
	/* A refusal names a reason; an acceptance keeps the one rule across keys. */
	if (config_parse("fuzz.conf", (const char *)data, size, &cfg, err, sizeof err) < 0) {
		if (memchr(err, '\0', sizeof err) == NULL || err[0] == '\0')
			abort();
	} else if (cfg.worker_timeout_ms <= cfg.heartbeat_interval_ms ||
	    memchr(cfg.socket_group, '\0', sizeof cfg.socket_group) == NULL ||
	    (strcmp(cfg.compression, "zstd") != 0 && strcmp(cfg.compression, "gzip") != 0 &&
	    strcmp(cfg.compression, "none") != 0))
		abort();
	return 0;
}
