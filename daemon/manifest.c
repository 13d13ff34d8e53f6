/* manifest.c: parses PULP_MANIFEST lines and refuses what could escape or confuse the content and publish trees. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void manifest_excerpt(const char *s, size_t n, char *out, size_t outlen);
static int manifest_check_path(const char *p, size_t n, char *err, size_t errlen);
static int manifest_parse_sha256(const char *s, size_t n, char *out, char *err, size_t errlen);
static int manifest_parse_size(const char *s, size_t n, int64_t *out, char *err, size_t errlen);
static void manifest_trim(const char **s, size_t *n);
static uint64_t manifest_hash(const char *s, size_t n);
static size_t manifest_lookup(const struct manifest *m, const uint32_t *tab, size_t mask,
    const char *s, size_t n, size_t *slot);
static int manifest_check_paths(struct manifest *m, char *err, size_t errlen);

/* A printable, bounded copy of a field for a message: bytes a terminal or log would choke on become '?'. */
static void manifest_excerpt(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, max = outlen > 4 ? outlen - 4 : 0;

	for (i = 0; i < n && i < max; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (i < n && outlen >= 4) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	if (outlen > 0)
		out[i < outlen ? i : outlen - 1] = '\0';
}

/*
 * A relative path that stays inside the tree it is joined to, whatever
 * the tree: no absolute path, no "." or ".." or empty component, no
 * backslash (a separator elsewhere) and no control character.
 */
static int manifest_check_path(const char *p, size_t n, char *err, size_t errlen)
{
	char ex[80];
	size_t i, start = 0;

	if (n == 0) {
		snprintf(err, errlen, "the relative path is empty");
		return -1;
	}
	manifest_excerpt(p, n, ex, sizeof ex);
	if (n > MANIFEST_PATH_MAX) {
		snprintf(err, errlen, "the path '%s' is longer than %d bytes", ex, MANIFEST_PATH_MAX);
		return -1;
	}
	if (p[0] == '/') {
		snprintf(err, errlen, "the path '%s' is absolute; it must be relative", ex);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "the path '%s' contains a control character", ex);
			return -1;
		}
		if (c == '\\') {
			snprintf(err, errlen, "the path '%s' contains a backslash", ex);
			return -1;
		}
	}
	for (i = 0; i <= n; i++) {
		size_t clen;

		if (i < n && p[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0) {
			snprintf(err, errlen, "the path '%s' has an empty component", ex);
			return -1;
		}
		if ((clen == 1 && p[start] == '.') ||
		    (clen == 2 && p[start] == '.' && p[start + 1] == '.')) {
			snprintf(err, errlen, "the path '%s' has a '%.*s' component", ex,
			    (int)clen, p + start);
			return -1;
		}
		if (clen > MANIFEST_NAME_MAX) {
			snprintf(err, errlen, "the path '%s' has a component longer than %d bytes",
			    ex, MANIFEST_NAME_MAX);
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

/* 64 hex digits into out as lowercase: feeds written on other systems may use either case. */
static int manifest_parse_sha256(const char *s, size_t n, char *out, char *err, size_t errlen)
{
	char ex[80];
	size_t i;

	for (i = 0; i < n && n == 64; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			break;
		out[i] = c;
	}
	if (n != 64 || i != 64) {
		manifest_excerpt(s, n, ex, sizeof ex);
		snprintf(err, errlen, "the sha256 '%s' is not 64 hexadecimal digits", ex);
		return -1;
	}
	out[64] = '\0';
	return 0;
}

static int manifest_parse_size(const char *s, size_t n, int64_t *out, char *err, size_t errlen)
{
	char ex[80];
	int64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			break;
		/* Checked before it can overflow: a size past the limit is refused either way. */
		if (v > (MANIFEST_SIZE_MAX - (s[i] - '0')) / 10) {
			manifest_excerpt(s, n, ex, sizeof ex);
			snprintf(err, errlen, "the size '%s' is larger than %lld bytes", ex,
			    (long long)MANIFEST_SIZE_MAX);
			return -1;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (n == 0 || i != n) {
		manifest_excerpt(s, n, ex, sizeof ex);
		snprintf(err, errlen, "the size '%s' is not a non-negative integer", ex);
		return -1;
	}
	*out = v;
	return 0;
}

/* Spaces around the digest and size are the manifest writer's formatting, not data. */
static void manifest_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int manifest_parse_line(const char *line, size_t len, struct manifest_entry *out,
    char *err, size_t errlen)
{
	const char *sha, *size;
	size_t i, c1, c2, sha_n, size_n, blank = 1;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (i = 0; i < len && blank; i++)
		blank = line[i] == ' ' || line[i] == '\t';
	if (blank || line[0] == '#')
		return 0;
	/* From the right: the path, and only the path, may contain commas. */
	for (c2 = len; c2 > 0 && line[c2 - 1] != ','; c2--)
		;
	for (c1 = c2 > 0 ? c2 - 1 : 0; c1 > 0 && line[c1 - 1] != ','; c1--)
		;
	if (c2 == 0 || c1 == 0) {
		snprintf(err, errlen, "expected 'relative_path,sha256,size' but found %s",
		    c2 == 0 ? "no comma" : "one comma");
		return -1;
	}
	c1--;			/* the comma after the path */
	c2--;			/* the comma before the size */
	sha = line + c1 + 1;
	sha_n = c2 - c1 - 1;
	size = line + c2 + 1;
	size_n = len - c2 - 1;
	manifest_trim(&sha, &sha_n);
	manifest_trim(&size, &size_n);
	if (manifest_check_path(line, c1, err, errlen) < 0 ||
	    manifest_parse_sha256(sha, sha_n, out->sha256, err, errlen) < 0 ||
	    manifest_parse_size(size, size_n, &out->size, err, errlen) < 0)
		return -1;
	out->path = line;
	out->path_len = (uint32_t)c1;
	out->line = 0;
	return 1;
}

/* FNV-1a: the table only has to spread paths, not resist an attacker (the feed can fail a sync anyway). */
static uint64_t manifest_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Index of the entry whose path is s[0..n) in the open-addressed table, or SIZE_MAX. */
static size_t manifest_lookup(const struct manifest *m, const uint32_t *tab, size_t mask,
    const char *s, size_t n, size_t *slot)
{
	size_t i = (size_t)manifest_hash(s, n) & mask;

	for (; tab[i] != 0; i = (i + 1) & mask) {
		const struct manifest_entry *e = &m->entries[tab[i] - 1];

		if (e->path_len == n && memcmp(e->path, s, n) == 0) {
			*slot = i;
			return tab[i] - 1;
		}
	}
	*slot = i;
	return SIZE_MAX;
}

/*
 * One version maps each path to one file, so a path listed twice is
 * ambiguous; and "a" as a file beside "a/b" could never be published.
 */
static int manifest_check_paths(struct manifest *m, char *err, size_t errlen)
{
	size_t cap = 16, mask, i, slot, j;
	uint32_t *tab;
	char ex[80], ex2[80];

	while (cap < m->n * 2)
		cap *= 2;
	mask = cap - 1;
	if ((tab = calloc(cap, sizeof *tab)) == NULL) {
		snprintf(err, errlen, "out of memory for %zu manifest entries", m->n);
		return -1;
	}
	for (i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->entries[i];

		if ((j = manifest_lookup(m, tab, mask, e->path, e->path_len, &slot)) != SIZE_MAX) {
			manifest_excerpt(e->path, e->path_len, ex, sizeof ex);
			snprintf(err, errlen, "line %u: the path '%s' is already listed on line %u",
			    e->line, ex, m->entries[j].line);
			free(tab);
			return -1;
		}
		tab[slot] = (uint32_t)(i + 1);
	}
	for (i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->entries[i];
		size_t k;

		for (k = 0; k < e->path_len; k++) {
			if (e->path[k] != '/' ||
			    (j = manifest_lookup(m, tab, mask, e->path, k, &slot)) == SIZE_MAX)
				continue;
			manifest_excerpt(e->path, e->path_len, ex, sizeof ex);
			manifest_excerpt(e->path, k, ex2, sizeof ex2);
			snprintf(err, errlen, "line %u: the path '%s' needs '%s' to be a directory, "
			    "but line %u lists it as a file", e->line, ex, ex2, m->entries[j].line);
			free(tab);
			return -1;
		}
	}
	free(tab);
	return 0;
}

int manifest_parse(char *buf, size_t len, struct manifest *m, char *err, size_t errlen)
{
	size_t pos = 0, cap = 0;
	uint32_t lineno = 0;
	char why[512];

	m->entries = NULL;
	m->n = 0;
	while (pos < len) {
		char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		struct manifest_entry e;
		int r;

		if (lineno == UINT32_MAX) {
			snprintf(err, errlen, "the manifest has more than %u lines", UINT32_MAX);
			goto fail;
		}
		lineno++;
		r = manifest_parse_line(buf + pos, end - pos, &e, why, sizeof why);
		if (r < 0) {
			snprintf(err, errlen, "line %u: %s", lineno, why);
			goto fail;
		}
		if (r > 0) {
			if (m->n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				struct manifest_entry *ne = realloc(m->entries, ncap * sizeof *ne);

				if (ne == NULL) {
					snprintf(err, errlen, "out of memory at line %u", lineno);
					goto fail;
				}
				m->entries = ne;
				cap = ncap;
			}
			e.line = lineno;
			/* The comma after the path ends it: entries point into buf from now on. */
			buf[pos + e.path_len] = '\0';
			m->entries[m->n++] = e;
		}
		buf[end] = '\0';
		pos = end + 1;
	}
	if (manifest_check_paths(m, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	manifest_free(m);
	return -1;
}

void manifest_free(struct manifest *m)
{
	free(m->entries);
	m->entries = NULL;
	m->n = 0;
}
