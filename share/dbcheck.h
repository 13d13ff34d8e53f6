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

#endif
