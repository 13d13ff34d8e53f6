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
	char *buf = malloc(size + 1), *line, err[256];
	const char *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - (const char *)data) : size;
	struct manifest m = { 0 };
	struct manifest_entry e;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (manifest_parse(buf, size, &m, err, sizeof err) == 0)
		manifest_free(&m);
	else if (m.n != 0 || m.entries != NULL)
		abort();	/* a refusal leaves m empty */
	free(buf);
	/* manifest_parse_line reads exactly len bytes: a copy that size shows an overread. */
	if ((line = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(line, data, len);
	if (manifest_parse_line(line, len, &e, err, sizeof err) == 1 &&
	    (e.path < line || e.path + e.path_len > line + len))
		abort();
	free(line);
	return 0;
}
