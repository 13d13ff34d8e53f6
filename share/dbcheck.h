/* dbcheck.h: checking a database file that is not the daemon's open store (an archived depot.db). */
#ifndef DEPOT_DBCHECK_H
#define DEPOT_DBCHECK_H
#include <stddef.h>

/*
 * 0 when the file at path opens read-only as a database with a schema
 * version (PRAGMA user_version above 0) and passes PRAGMA integrity_check;
 * else -1 with why, in words that follow "its depot.db": "fails its
 * integrity check: …".
 */
int dbcheck_file(const char *path, char *why, size_t whylen);

/* A content file a version of the database references. */
struct dbcheck_ref {
	char sha256[80];
	char repo[256];
	long long number;	/* the version */
};

/*
 * Asks held(sha256 hex, ctx) about every content a complete version of the
 * database at path references, in ascending order of sha256: 0 when held
 * says 1 for each; 1 with *first, the first it says 0 for; -1 with why
 * when the database cannot be read.
 */
int dbcheck_references(const char *path, int (*held)(const char *sha256, void *ctx), void *ctx,
    struct dbcheck_ref *first, char *why, size_t whylen);

#endif
