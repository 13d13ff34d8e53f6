/* fuzz_request.c: libFuzzer target for validate_request, which checks every control command's arguments from any client. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "depotd.h"

struct depotd *D;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *req = cJSON_ParseWithLength((const char *)data, size);
	struct request rq;
	char err[512];

	if (req == NULL)
		return 0;
	/* What the handlers rely on when the check passes. */
	if (validate_request(req, &rq, err, sizeof err) == 0 &&
	    (rq.cmd >= CMD_COUNT || (rq.cmd == CMD_task_submit && rq.task == NULL) ||
	    ((rq.cmd == CMD_task_cancel || rq.cmd == CMD_task_wait) && rq.nids == 0)))
		abort();
	request_free(&rq);
	cJSON_Delete(req);
	return 0;
}
