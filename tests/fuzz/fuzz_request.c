/* fuzz_request.c: libFuzzer target for task.submit validation, which reads what any client sends. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "depotd.h"

struct depotd *D;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *args = cJSON_ParseWithLength((const char *)data, size);
	char err[512];
	struct task *t;

	if (args == NULL)
		return 0;
	if ((t = validate_submit(args, err, sizeof err)) != NULL)
		task_free(t);
	cJSON_Delete(args);
	return 0;
}
