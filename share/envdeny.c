/* envdeny.c: [tasks] env_deny, the glob patterns naming variables a task's environment never stores. */
#include "envdeny.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *envdeny_next(const char *s, size_t *len);

/* The next pattern of s, *len bytes long, or NULL at the end; s moves past it. */
static const char *envdeny_next(const char *s, size_t *len)
{
	s += strspn(s, " \t");
	if (*s == '\0')
		return NULL;
	*len = strcspn(s, " \t");
	return s;
}

int envdeny_check(const char *patterns, char *err, size_t errlen)
{
	const char *p = patterns;
	size_t len, n = 0;

	if (strlen(patterns) > ENV_DENY_MAX_BYTES) {
		snprintf(err, errlen, "env_deny is longer than %d bytes", ENV_DENY_MAX_BYTES);
		return -1;
	}
	while ((p = envdeny_next(p, &len)) != NULL) {
		if (++n > ENV_DENY_MAX_PATTERNS) {
			snprintf(err, errlen, "env_deny holds more than %d patterns",
			    ENV_DENY_MAX_PATTERNS);
			return -1;
		}
		if (len > ENV_DENY_PATTERN_MAX) {
			snprintf(err, errlen, "env_deny pattern %zu is longer than %d bytes",
			    n, ENV_DENY_PATTERN_MAX);
			return -1;
		}
		/* '=' never occurs in a name: such a pattern is a typo for something else. */
		if (memchr(p, '=', len) != NULL) {
			snprintf(err, errlen, "env_deny pattern '%.*s' holds '=': it names "
			    "variables, not values", (int)len, p);
			return -1;
		}
		p += len;
	}
	return 0;
}

int envdeny_match(const char *patterns, const char *name)
{
	char pat[ENV_DENY_PATTERN_MAX + 1];
	const char *p = patterns;
	size_t len;

	while ((p = envdeny_next(p, &len)) != NULL) {
		/* envdeny_check bounds a configured pattern; a longer one cannot match safely. */
		if (len < sizeof pat) {
			memcpy(pat, p, len);
			pat[len] = '\0';
			if (fnmatch(pat, name, FNM_CASEFOLD) == 0)
				return 1;
		}
		p += len;
	}
	return 0;
}
