/* envdeny.c: [tasks] env_deny, the glob patterns naming variables a task's environment never stores. */
#include "envdeny.h"

#include <fnmatch.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static const char *envdeny_next(const char *s, size_t *len);
static int fold_is_ascii(void);
static void fold(char *out, const char *s, size_t n);
static enum envdeny_kind plain_kind(const char *p, size_t len, char *text);

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

/*
 * Whether FNM_CASEFOLD folds ASCII letters alone, as in the C locale
 * depotd runs in (it never calls setlocale): then folding both sides to
 * lower case and comparing bytes is fnmatch's answer. Elsewhere (a
 * Turkish 'I', a Kelvin sign) fnmatch decides every pattern.
 */
static int fold_is_ascii(void)
{
	const char *l = setlocale(LC_CTYPE, NULL);

	return l != NULL && (strcmp(l, "C") == 0 || strcmp(l, "POSIX") == 0);
}

static void fold(char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + ('a' - 'A')) : s[i];
	out[n] = '\0';
}

/*
 * p[0..len) as text with '*' only at its ends (every default pattern):
 * its kind and, folded in text, the text between the stars; ENVDENY_GLOB
 * for any other glob. A backslash before a trailing '*' stays in the
 * text, and so sends the pattern to fnmatch.
 */
static enum envdeny_kind plain_kind(const char *p, size_t len, char *text)
{
	int lead = 0, trail = 0;

	while (len > 0 && p[0] == '*') {
		p++;
		len--;
		lead = 1;
	}
	while (len > 0 && p[len - 1] == '*') {
		len--;
		trail = 1;
	}
	if (memchr(p, '*', len) || memchr(p, '?', len) || memchr(p, '[', len) ||
	    memchr(p, '\\', len))
		return ENVDENY_GLOB;
	fold(text, p, len);
	return lead ? (trail ? ENVDENY_WITHIN : ENVDENY_ENDS) :
	    (trail ? ENVDENY_STARTS : ENVDENY_IS);
}

void envdeny_compile(struct envdeny *d, const char *patterns)
{
	const char *p = patterns;
	int plain = fold_is_ascii();
	size_t len, at = 0;

	d->n = 0;
	while ((p = envdeny_next(p, &len)) != NULL && d->n < ENV_DENY_MAX_PATTERNS) {
		struct envdeny_pattern *e = &d->pat[d->n];

		/* envdeny_check bounds a configured pattern; a longer one cannot match safely. */
		if (len <= ENV_DENY_PATTERN_MAX && at + 2 * (len + 1) <= sizeof d->buf) {
			e->glob = at;
			memcpy(d->buf + at, p, len);
			d->buf[at + len] = '\0';
			at += len + 1;
			e->text = at;
			e->kind = plain ? plain_kind(p, len, d->buf + at) : ENVDENY_GLOB;
			e->len = e->kind == ENVDENY_GLOB ? 0 : strlen(d->buf + at);
			at += e->len + 1;
			d->n++;
		}
		p += len;
	}
}

int envdeny_matches(const struct envdeny *d, const char *name)
{
	char folded[ENV_DENY_NAME_FOLDED];
	size_t n = strlen(name);
	int have = n < sizeof folded;

	if (have)
		fold(folded, name, n);
	for (size_t i = 0; i < d->n; i++) {
		const struct envdeny_pattern *e = &d->pat[i];
		const char *text = d->buf + e->text;

		switch (have ? e->kind : ENVDENY_GLOB) {
		case ENVDENY_IS:
			if (n == e->len && memcmp(folded, text, n) == 0)
				return 1;
			break;
		case ENVDENY_STARTS:
			if (n >= e->len && memcmp(folded, text, e->len) == 0)
				return 1;
			break;
		case ENVDENY_ENDS:
			if (n >= e->len && memcmp(folded + n - e->len, text, e->len) == 0)
				return 1;
			break;
		case ENVDENY_WITHIN:
			if (strstr(folded, text) != NULL)
				return 1;
			break;
		case ENVDENY_GLOB:
			if (fnmatch(d->buf + e->glob, name, FNM_CASEFOLD) == 0)
				return 1;
			break;
		}
	}
	return 0;
}

int envdeny_match(const char *patterns, const char *name)
{
	struct envdeny d;

	envdeny_compile(&d, patterns);
	return envdeny_matches(&d, name);
}
