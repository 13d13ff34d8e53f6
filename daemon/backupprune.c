/* backupprune.c: after a successful backup, old chains in DIR/backups go ([backup] keep, DESIGN §9): the newest chains stay, and always the one just written to. */
#include "backupdir.h"
#include "depotd.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int newest_first(const void *a, const void *b, void *scan);
static long chain_written(const struct backup_scan *s, const char *just_written);
static int remove_archive(int dirfd, const char *dir, const struct backup_entry *e,
    char *err, size_t errlen);

/* Chain indexes, the chain with the newest archive first. */
static int newest_first(const void *a, const void *b, void *scan)
{
	const struct backup_scan *s = scan;
	const struct backup_chain *x = &s->c[*(const size_t *)a];
	const struct backup_chain *y = &s->c[*(const size_t *)b];

	if (x->newest_ms != y->newest_ms)
		return x->newest_ms > y->newest_ms ? -1 : 1;
	return -strcmp(x->root, y->root);
}

/* The chain of the archive at just_written when it is one of the scan's (the same file), or -1. */
static long chain_written(const struct backup_scan *s, const char *just_written)
{
	struct stat st;

	if (just_written == NULL || stat(just_written, &st) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].format == BACKUP_FORMAT_HEADER && s->e[i].dev == st.st_dev &&
		    s->e[i].ino == st.st_ino)
			return (long)s->e[i].chain;
	return -1;
}

/*
 * Unlinks e and its verified mark from the directory dirfd: unlinkat never
 * follows a link, so nothing outside it can go, and a name that is no
 * longer the file scanned (replaced meanwhile) stays.
 */
static int remove_archive(int dirfd, const char *dir, const struct backup_entry *e,
    char *err, size_t errlen)
{
	char side[300];
	struct stat st;

	if (fstatat(dirfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_dev != e->dev || st.st_ino != e->ino)
		return 0;
	if (unlinkat(dirfd, e->name, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "removing %s/%s: %s", dir, e->name, strerror(errno));
		return -1;
	}
	snprintf(side, sizeof side, "%s%s%s", BACKUP_VERIFIED_PREFIX, e->name,
	    BACKUP_VERIFIED_SUFFIX);
	if (fstatat(dirfd, side, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		unlinkat(dirfd, side, 0);
	return 1;
}

int backup_prune(const char *backups_dir, int keep, const char *just_written, cJSON *pruned,
    char *err, size_t errlen)
{
	struct backup_scan s;
	size_t *order = NULL;
	char *doomed = NULL;
	long mine;
	int dirfd, removed = 0, rc = -1, r;

	if ((dirfd = open(backups_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		/* Only -o backups so far: nothing is there to prune. */
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", backups_dir, strerror(errno));
		return -1;
	}
	if (backup_scan_at(dirfd, backups_dir, &s, err, errlen) < 0) {
		close(dirfd);
		return -1;
	}
	if ((order = calloc(s.nchains + 1, sizeof *order)) == NULL ||
	    (doomed = calloc(s.nchains + 1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < s.nchains; k++)
		order[k] = k;
	if (s.nchains > 1)
		qsort_r(order, s.nchains, sizeof *order, newest_first, &s);
	mine = chain_written(&s, just_written);
	for (size_t k = keep < 0 ? 0 : (size_t)keep; k < s.nchains; k++)
		doomed[order[k]] = (long)order[k] != mine;
	/* Newest first: a prune cut short leaves each chain whole down to where it stopped. */
	for (size_t i = s.n; i-- > 0;) {
		const struct backup_entry *e = &s.e[i];

		if (e->format != BACKUP_FORMAT_HEADER || !doomed[e->chain])
			continue;
		if ((r = remove_archive(dirfd, backups_dir, e, err, errlen)) < 0)
			goto out;
		if (r == 0)
			continue;
		removed++;
		log_info("backup: removed %s/%s (%s, chain of %s): [backup] keep = %d", backups_dir,
		    e->name, e->hdr.kind, s.c[e->chain].root, keep);
		if (pruned != NULL)
			cJSON_AddItemToArray(pruned, cJSON_CreateString(e->name));
	}
	if (removed > 0 && fsync(dirfd) < 0)
		log_warn("backup: syncing %s: %s", backups_dir, strerror(errno));
	rc = removed;
out:
	free(order);
	free(doomed);
	backup_scan_free(&s);
	close(dirfd);
	return rc;
}
