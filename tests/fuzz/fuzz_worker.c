/* fuzz_worker.c: libFuzzer target for workerproto_parse, which checks each message a worker sends (hello, next, heartbeat, done). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "depotd.h"

struct depotd *D;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *req = cJSON_ParseWithLength((const char *)data, size);
	struct worker_msg m;
	char err[512];

	if (req == NULL)
		return 0;
	/* What the handlers rely on when the check passes. */
	if (workerproto_parse(req, &m, err, sizeof err) == 0 &&
	    (m.cmd >= WCMD_COUNT || !validate_worker_name(m.name) ||
	    (m.cmd == WCMD_DONE && (m.task < 1 || !task_state_final(m.state))) ||
	    (m.progress != NULL && !cJSON_IsObject(m.progress))))
		abort();
	cJSON_Delete(req);
	return 0;
}
