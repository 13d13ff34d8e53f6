/* fuzz_manifest.c: libFuzzer target for the PULP_MANIFEST parser, which reads what any feed server sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "depotd.h"
#include "manifest.h"

struct depotd *D;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* manifest_parse works in place and needs one byte past the end. */
	char *buf = malloc(size + 1), err[256];
	struct manifest m = { 0 };

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (manifest_parse(buf, size, &m, err, sizeof err) == 0)
		manifest_free(&m);
	free(buf);
	return 0;
}
