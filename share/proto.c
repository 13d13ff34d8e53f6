/* proto.c: the wire names of protocol enums. */
#include "proto.h"

const char *err_code_name(enum err_code code)
{
	static const char *const names[] = {
		[ERR_BAD_REQUEST] = "bad_request", [ERR_NOT_FOUND] = "not_found",
		[ERR_CONFLICT] = "conflict",	    [ERR_FORBIDDEN] = "forbidden",
		[ERR_UNAVAILABLE] = "unavailable", [ERR_INTERNAL] = "internal",
	};
	return names[code];
}
