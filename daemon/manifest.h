/* manifest.h: the PULP_MANIFEST format (DESIGN §8): one `relative_path,sha256,size` a line. */
#ifndef DEPOT_MANIFEST_H
#define DEPOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

/* Largest file size a manifest may state: 1 PiB, far beyond any real file, well inside int64_t. */
#define MANIFEST_SIZE_MAX ((int64_t)1 << 50)
/* Longest relative path and path component: what the publish tree can hold (PATH_MAX, NAME_MAX). */
#define MANIFEST_PATH_MAX 4095
#define MANIFEST_NAME_MAX 255

struct manifest_entry {
	/*
	 * The relative path. From manifest_parse_line it points into the
	 * caller's line and is NOT NUL-terminated (path_len bytes); from
	 * manifest_parse it is NUL-terminated in the parsed buffer.
	 */
	const char *path;
	uint32_t path_len;
	uint32_t line;			/* 1-based line number; set by manifest_parse */
	int64_t size;
	char sha256[65];		/* 64 lowercase hex digits and a NUL */
};

/* A parsed manifest: entries in file order, paths pointing into the caller's buffer. */
struct manifest {
	struct manifest_entry *entries;
	size_t n;
};

/*
 * Parses one line (len bytes, without its '\n'; a trailing '\r' is
 * accepted). Paths may contain commas, so the fields are split from the
 * right: the last is the size, the one before it the sha256, everything
 * before that the path. Returns 1 and fills out for an entry, 0 for a blank
 * or `#` comment line, -1 with a reason in err (without the line number) for
 * a malformed line.
 */
int manifest_parse_line(const char *line, size_t len, struct manifest_entry *out,
    char *err, size_t errlen);

/*
 * Parses a whole manifest of len bytes in buf, which must have room for
 * len + 1 bytes: the line ends and the comma after each path are overwritten
 * with NULs so that the entries' paths can point into buf, which must
 * outlive m. Refuses the first bad line, a path listed twice, and a path
 * that another entry needs to be a directory ("a" and "a/b"), naming the
 * line. Returns 0, or -1 with err set and m empty.
 */
int manifest_parse(char *buf, size_t len, struct manifest *m, char *err, size_t errlen);

/* Frees the entries (not the buffer they point into). */
void manifest_free(struct manifest *m);

#endif
