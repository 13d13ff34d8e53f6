/* backupfmt.c: the backup archive format (DESIGN §9) — a tar with MANIFEST.json as its last member — and reading one safely. */
#include "backupfmt.h"
#include "fsutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void backup_manifest_free(struct backup_manifest *mf)
{
	for (size_t i = 0; i < mf->n; i++) {
		free(mf->m[i].path);
		free(mf->m[i].target);
	}
	free(mf->m);
	mf->m = NULL;
	mf->n = 0;
}

int backup_path_safe(const char *path)
{
	const char *p = path;

	if (*p == '\0' || *p == '/')
		return 0;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += len;
		if (*p == '/')
			p++;
		else
			break;
	}
	return path[strlen(path) - 1] != '/';
}

/*
 * The member's path as the manifest names it: tar stores directories with
 * a trailing '/', which is dropped. NULL when there is none.
 */
static const char *member_path(struct archive_entry *e, char *buf, size_t n)
{
	const char *path = archive_entry_pathname(e);
	size_t len;

	if (path == NULL)
		return NULL;
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/' && archive_entry_filetype(e) == AE_IFDIR) {
		if (len >= n)
			return NULL;
		memcpy(buf, path, len - 1);
		buf[len - 1] = '\0';
		return buf;
	}
	return path;
}

/* DESIGN §15: only tar, and only the gzip, zstd and null filters (no external programs). */
static struct archive *open_archive(const char *path, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();

	if (a == NULL || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, a ? archive_error_string(a) : "out of memory");
		if (a)
			archive_read_free(a);
		return NULL;
	}
	return a;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct backup_member *)a)->path,
	    ((const struct backup_member *)b)->path);
}

static const struct backup_member *find_member(const struct backup_manifest *mf, const char *path)
{
	struct backup_member key = { .path = (char *)path };

	return bsearch(&key, mf->m, mf->n, sizeof *mf->m, cmp_member);
}

static char type_of(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "file") == 0)
		return BM_FILE;
	if (strcmp(s, "dir") == 0)
		return BM_DIR;
	if (strcmp(s, "symlink") == 0)
		return BM_SYMLINK;
	if (strcmp(s, "hardlink") == 0)
		return BM_HARDLINK;
	return 0;
}

static int parse_manifest(const char *text, size_t len, struct backup_manifest *mf,
    char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(text, len), *members, *m;
	const cJSON *fmt;
	size_t i = 0;

	if (root == NULL || !cJSON_IsArray(members = cJSON_GetObjectItemCaseSensitive(root, "members"))) {
		snprintf(err, errlen, "%s is not a depot backup manifest", BACKUP_MANIFEST);
		cJSON_Delete(root);
		return -1;
	}
	fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (!cJSON_IsNumber(fmt) || fmt->valueint != BACKUP_FORMAT) {
		snprintf(err, errlen, "%s: format %d is not one this depot reads (%d)",
		    BACKUP_MANIFEST, cJSON_IsNumber(fmt) ? fmt->valueint : -1, BACKUP_FORMAT);
		cJSON_Delete(root);
		return -1;
	}
	mf->format = fmt->valueint;
	snprintf(mf->created_at, sizeof mf->created_at, "%s",
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "created_at")) ?: "");
	snprintf(mf->version, sizeof mf->version, "%s",
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "depot_version")) ?: "");
	mf->n = (size_t)cJSON_GetArraySize(members);
	if (mf->n > BACKUP_MAX_MEMBERS || (mf->m = calloc(mf->n + 1, sizeof *mf->m)) == NULL) {
		snprintf(err, errlen, "%s lists too many members", BACKUP_MANIFEST);
		mf->n = 0;
		cJSON_Delete(root);
		return -1;
	}
	cJSON_ArrayForEach(m, members) {
		struct backup_member *b = &mf->m[i];
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "path"));
		const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "sha256"));
		const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "target"));
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(m, "size");

		b->type = type_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "type")));
		if (path == NULL || !backup_path_safe(path) || b->type == 0 ||
		    (b->type == BM_FILE && (sha == NULL || strlen(sha) != 64 || !cJSON_IsNumber(size) ||
		    size->valuedouble < 0)) ||
		    ((b->type == BM_SYMLINK || b->type == BM_HARDLINK) && target == NULL)) {
			snprintf(err, errlen, "%s: entry %zu is malformed", BACKUP_MANIFEST, i + 1);
			mf->n = i;
			cJSON_Delete(root);
			return -1;
		}
		b->path = strdup(path);
		b->target = target ? strdup(target) : NULL;
		if (b->type == BM_FILE) {
			b->size = (int64_t)size->valuedouble;
			memcpy(b->sha256, sha, 65);
		}
		i++;
	}
	cJSON_Delete(root);
	qsort(mf->m, mf->n, sizeof *mf->m, cmp_member);
	for (i = 1; i < mf->n; i++) {
		if (strcmp(mf->m[i - 1].path, mf->m[i].path) == 0) {
			snprintf(err, errlen, "%s lists '%s' twice", BACKUP_MANIFEST, mf->m[i].path);
			return -1;
		}
	}
	return 0;
}

static void hex(const unsigned char *d, unsigned int n, char *out)
{
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Reads the entry's data, hashing it; writes it to fd when fd >= 0. */
static int read_data(struct archive *a, int fd, int64_t *size, char *sha, char *err, size_t errlen,
    const char *path)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	unsigned int dlen;
	char buf[65536];
	la_ssize_t n;

	*size = 0;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		*size += n;
		if (fd >= 0 && write(fd, buf, (size_t)n) != n) {
			snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
			EVP_MD_CTX_free(md);
			return -1;
		}
	}
	EVP_DigestFinal_ex(md, digest, &dlen);
	EVP_MD_CTX_free(md);
	if (n < 0) {
		snprintf(err, errlen, "member '%s' is damaged or truncated: %s", path,
		    archive_error_string(a));
		return -1;
	}
	hex(digest, dlen, sha);
	return 0;
}

static char entry_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e) != NULL)
		return BM_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG: return BM_FILE;
	case AE_IFDIR: return BM_DIR;
	case AE_IFLNK: return BM_SYMLINK;
	default: return 0;
	}
}

static const char *type_name(char t)
{
	return t == BM_FILE ? "file" : t == BM_DIR ? "directory" : t == BM_SYMLINK ? "symlink" :
	    t == BM_HARDLINK ? "hard link" : "device, FIFO or socket";
}

/* Whether what the archive holds for one member is what the manifest says. */
static int member_matches(const struct backup_member *want, const struct backup_member *got,
    char *err, size_t errlen)
{
	if (want->type != got->type) {
		snprintf(err, errlen, "member '%s' is a %s, the manifest says %s", got->path,
		    type_name(got->type), type_name(want->type));
		return 0;
	}
	if (got->type == BM_FILE && want->size != got->size) {
		snprintf(err, errlen, "member '%s' has %lld bytes, the manifest says %lld",
		    got->path, (long long)got->size, (long long)want->size);
		return 0;
	}
	if (got->type == BM_FILE && strcmp(want->sha256, got->sha256) != 0) {
		snprintf(err, errlen, "member '%s' does not match its sha256 in the manifest "
		    "(the archive is damaged)", got->path);
		return 0;
	}
	if ((got->type == BM_SYMLINK || got->type == BM_HARDLINK) &&
	    strcmp(want->target, got->target) != 0) {
		snprintf(err, errlen, "member '%s' points to '%s', the manifest says '%s'",
		    got->path, got->target, want->target);
		return 0;
	}
	return 1;
}

/* Lexically: does target, seen from the directory of path, stay inside the tree? */
static int link_stays_inside(const char *path, const char *target)
{
	int depth = 0;
	const char *p;

	if (target[0] == '/' || target[0] == '\0')
		return 0;
	for (p = path; (p = strchr(p, '/')) != NULL; p++)
		depth++;	/* directories above the link */
	for (p = target; *p;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && p[0] == '.'))
			depth++;
		p += len;
		if (*p == '/')
			p++;
	}
	return 1;
}

int backup_verify(const char *archive, struct backup_manifest *mf, char *err, size_t errlen)
{
	struct backup_member *seen = NULL;
	size_t nseen = 0, cap = 0;
	char *manifest = NULL;
	size_t mlen = 0;
	struct archive *a = open_archive(archive, err, errlen);
	struct archive_entry *e;
	int rc = -1, r;

	memset(mf, 0, sizeof *mf);
	if (a == NULL)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char pbuf[4096];
		const char *path = member_path(e, pbuf, sizeof pbuf);
		struct backup_member b = { 0 };

		if (path != NULL && strcmp(path, BACKUP_MANIFEST) == 0) {
			la_ssize_t n;
			if (manifest != NULL) {
				snprintf(err, errlen, "the archive holds two %s", BACKUP_MANIFEST);
				goto out;
			}
			if (archive_entry_size(e) > BACKUP_MAX_MANIFEST ||
			    (manifest = malloc((size_t)archive_entry_size(e) + 1)) == NULL) {
				snprintf(err, errlen, "%s is too large", BACKUP_MANIFEST);
				goto out;
			}
			while ((n = archive_read_data(a, manifest + mlen,
			    (size_t)archive_entry_size(e) - mlen)) > 0)
				mlen += (size_t)n;
			if (n < 0) {
				snprintf(err, errlen, "%s is damaged: %s", BACKUP_MANIFEST,
				    archive_error_string(a));
				goto out;
			}
			continue;
		}
		if (path == NULL || !backup_path_safe(path)) {
			snprintf(err, errlen, "member '%s' has an unsafe path (absolute, empty or "
			    "with '..')", path ? path : "");
			goto out;
		}
		if (nseen == cap) {
			struct backup_member *grown;
			if (nseen >= BACKUP_MAX_MEMBERS) {
				snprintf(err, errlen, "the archive has more than %d members", BACKUP_MAX_MEMBERS);
				goto out;
			}
			grown = realloc(seen, (cap = cap ? cap * 2 : 1024) * sizeof *grown);
			if (grown == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			seen = grown;
		}
		b.type = entry_type(e);
		if (b.type == 0) {
			snprintf(err, errlen, "member '%s' is a device, FIFO or socket: refused", path);
			goto out;
		}
		b.path = strdup(path);
		if (b.type == BM_SYMLINK || b.type == BM_HARDLINK)
			b.target = strdup(b.type == BM_SYMLINK ? archive_entry_symlink(e) ?: "" :
			    archive_entry_hardlink(e));
		seen[nseen++] = b;
		if (b.type == BM_FILE && read_data(a, -1, &seen[nseen - 1].size,
		    seen[nseen - 1].sha256, err, errlen, path) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "the archive is damaged or truncated%s%s: %s",
		    nseen ? " after member " : "", nseen ? seen[nseen - 1].path : "",
		    archive_error_string(a));
		goto out;
	}
	if (manifest == NULL) {
		snprintf(err, errlen, "the archive has no %s: not a depot backup, or truncated",
		    BACKUP_MANIFEST);
		goto out;
	}
	if (parse_manifest(manifest, mlen, mf, err, errlen) < 0)
		goto out;
	qsort(seen, nseen, sizeof *seen, cmp_member);
	for (size_t i = 0; i < nseen; i++) {
		const struct backup_member *want = find_member(mf, seen[i].path);
		if (i > 0 && strcmp(seen[i - 1].path, seen[i].path) == 0) {
			snprintf(err, errlen, "member '%s' appears twice", seen[i].path);
			goto out;
		}
		if (want == NULL) {
			snprintf(err, errlen, "member '%s' is not in the manifest", seen[i].path);
			goto out;
		}
		if (!member_matches(want, &seen[i], err, errlen))
			goto out;
		/* The link checks restore makes, so verify never passes what restore refuses. */
		if (seen[i].type == BM_SYMLINK && !link_stays_inside(seen[i].path, seen[i].target)) {
			snprintf(err, errlen, "member '%s' is a symlink to '%s', outside the data "
			    "directory", seen[i].path, seen[i].target);
			goto out;
		}
		if (seen[i].type == BM_HARDLINK && ((want = find_member(mf, seen[i].target)) == NULL ||
		    want->type != BM_FILE)) {
			snprintf(err, errlen, "member '%s' is a hard link to '%s', not a file of the "
			    "archive", seen[i].path, seen[i].target);
			goto out;
		}
	}
	if (nseen != mf->n) {
		for (size_t i = 0; i < mf->n; i++) {
			struct backup_member key = { .path = mf->m[i].path };
			if (bsearch(&key, seen, nseen, sizeof *seen, cmp_member) == NULL) {
				snprintf(err, errlen, "member '%s' of the manifest is missing from "
				    "the archive", mf->m[i].path);
				goto out;
			}
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < nseen; i++) {
		free(seen[i].path);
		free(seen[i].target);
	}
	free(seen);
	free(manifest);
	archive_read_free(a);
	if (rc < 0)
		backup_manifest_free(mf);
	return rc;
}

/* No member is reached through a symlink member: writes could otherwise leave the tree. */
static int under_symlink(const struct backup_manifest *mf, const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
		const struct backup_member *m;
		*slash = '\0';
		m = find_member(mf, buf);
		*slash = '/';
		if (m != NULL && m->type == BM_SYMLINK)
			return 1;
	}
	return 0;
}

int backup_extract(const char *archive, const struct backup_manifest *mf, const char *dir,
    char *err, size_t errlen)
{
	struct archive *a = open_archive(archive, err, errlen);
	struct archive_entry *e;
	char dst[8192], src[8192], parent[8192], sha[65];
	int r, rc = -1;

	if (a == NULL)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char pbuf[4096];
		const char *path = member_path(e, pbuf, sizeof pbuf);
		const struct backup_member *m;
		int64_t size;
		int fd;

		if (path != NULL && strcmp(path, BACKUP_MANIFEST) == 0)
			continue;
		if (path == NULL || !backup_path_safe(path) || (m = find_member(mf, path)) == NULL) {
			snprintf(err, errlen, "member '%s' is not in the manifest: refused",
			    path ? path : "");
			goto out;
		}
		if (entry_type(e) != m->type || under_symlink(mf, path)) {
			snprintf(err, errlen, "member '%s' changed since it was verified, or lies "
			    "under a symlink: refused", path);
			goto out;
		}
		snprintf(dst, sizeof dst, "%s/%s", dir, path);
		snprintf(parent, sizeof parent, "%s", dst);
		if (m->type != BM_DIR && fs_mkdirs(dirname(parent), 0755) < 0) {
			snprintf(err, errlen, "creating the directory of %s: %s", dst, strerror(errno));
			goto out;
		}
		switch (m->type) {
		case BM_DIR:
			if (fs_mkdirs(dst, 0755) < 0 || chmod(dst, archive_entry_perm(e) & 0755) < 0) {
				snprintf(err, errlen, "creating %s: %s", dst, strerror(errno));
				goto out;
			}
			break;
		case BM_FILE:
			/* The archived mode, without set-id bits or write for others. */
			fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    archive_entry_perm(e) & 0755);
			if (fd < 0) {
				snprintf(err, errlen, "creating %s: %s", dst, strerror(errno));
				goto out;
			}
			r = read_data(a, fd, &size, sha, err, errlen, path);
			if (r == 0 && fsync(fd) < 0) {
				snprintf(err, errlen, "writing %s: %s", dst, strerror(errno));
				r = -1;
			}
			close(fd);
			if (r < 0)
				goto out;
			/* Hashed again: the file may have been swapped since it was verified. */
			if (size != m->size || strcmp(sha, m->sha256) != 0) {
				snprintf(err, errlen, "member '%s' changed since it was verified", path);
				goto out;
			}
			break;
		case BM_SYMLINK:
			if (!link_stays_inside(path, m->target)) {
				snprintf(err, errlen, "member '%s' is a symlink to '%s', outside the "
				    "data directory: refused", path, m->target);
				goto out;
			}
			if (symlink(m->target, dst) < 0) {
				snprintf(err, errlen, "creating %s: %s", dst, strerror(errno));
				goto out;
			}
			break;
		case BM_HARDLINK: {
			const struct backup_member *t = find_member(mf, m->target);
			if (!backup_path_safe(m->target) || t == NULL || t->type != BM_FILE ||
			    under_symlink(mf, m->target)) {
				snprintf(err, errlen, "member '%s' is a hard link to '%s', not a file "
				    "of the archive: refused", path, m->target);
				goto out;
			}
			snprintf(src, sizeof src, "%s/%s", dir, m->target);
			if (link(src, dst) < 0) {
				snprintf(err, errlen, "linking %s to %s: %s", dst, src, strerror(errno));
				goto out;
			}
			break;
		}
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "the archive is damaged or truncated: %s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	archive_read_free(a);
	return rc;
}
