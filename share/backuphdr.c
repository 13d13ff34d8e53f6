/* backuphdr.c: reading BACKUP.json, a format 2 archive's first member (backuphdr.h). */
#include "backuphdr.h"
#include "hashpipe.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int backup_sha256_parse(const char *s, unsigned char *digest)
{
	for (int i = 0; i < 64; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			digest[i / 2] = (unsigned char)(v << 4);
		else
			digest[i / 2] |= (unsigned char)v;
	}
	return s[64] == '\0' ? 0 : -1;
}

static int parse_holds(struct jstream *js, int64_t max_holds, struct backup_header *h)
{
	size_t cap = 0;
	char hex[80];
	int more;

	/* A lister wants the kind and base of a large archive, not its holds. */
	if (max_holds < 0)
		return js_skip(js);
	if (js_expect(js, '[') < 0)
		return -1;
	if (js_peek(js) == ']')
		return js_expect(js, ']');
	do {
		unsigned char d[32];
		if (js_string(js, hex, sizeof hex) < 0)
			return -1;
		if (backup_sha256_parse(hex, d) < 0)
			return js_fail(js, "'holds' has '%.70s', not a sha256 in lowercase hex", hex);
		if (h->nholds > 0 && memcmp(h->holds[h->nholds - 1], d, 32) >= 0)
			return js_fail(js, "'holds' is not sorted and unique at %s", hex);
		if ((int64_t)h->nholds >= max_holds)
			return js_fail(js, "'holds' names more than %lld contents",
			    (long long)max_holds);
		if (h->nholds == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			void *p = realloc(h->holds, ncap * sizeof *h->holds);
			if (p == NULL)
				return js_fail(js, "out of memory");
			h->holds = p;
			cap = ncap;
		}
		memcpy(h->holds[h->nholds++], d, 32);
	} while ((more = js_more(js, ']')) == 1);
	return more;
}

static int parse_base(struct jstream *js, struct backup_header *h)
{
	char key[32];
	int more, seen = 0;

	if (js_peek(js) == 'n')
		return js_skip(js);	/* null: a full backup */
	if (js_expect(js, '{') < 0)
		return -1;
	h->has_base = 1;
	do {
		if (js_string(js, key, sizeof key) < 0 || js_expect(js, ':') < 0)
			return -1;
		if (strcmp(key, "file") == 0 && (seen |= 1, 1))
			more = js_string(js, h->base_file, sizeof h->base_file);
		else if (strcmp(key, "sha256") == 0 && (seen |= 2, 1))
			more = js_string(js, h->base_sha256, sizeof h->base_sha256);
		else if (strcmp(key, "size") == 0 && (seen |= 4, 1))
			more = js_int64(js, &h->base_size);
		else if (strcmp(key, "header_sha256") == 0)
			more = js_string(js, h->base_header_sha256, sizeof h->base_header_sha256);
		else
			more = js_skip(js);
		if (more < 0)
			return -1;
	} while ((more = js_more(js, '}')) == 1);
	if (more < 0)
		return -1;
	if (seen != 7)
		return js_fail(js, "'base' needs 'file', 'sha256' and 'size'");
	return 0;
}

int backup_header_parse(struct jstream *js, int64_t max_holds, struct backup_header *h,
    char *err, size_t errlen)
{
	unsigned char d[32];
	char key[32];
	int64_t format = 0;
	int more, rc = -1;

	memset(h, 0, sizeof *h);
	if (js_expect(js, '{') < 0)
		goto out;
	do {
		if (js_string(js, key, sizeof key) < 0 || js_expect(js, ':') < 0)
			goto out;
		if (strcmp(key, "format") == 0)
			more = js_int64(js, &format);
		else if (strcmp(key, "kind") == 0)
			more = js_string(js, h->kind, sizeof h->kind);
		else if (strcmp(key, "created_at") == 0)
			more = js_string(js, h->created_at, sizeof h->created_at);
		else if (strcmp(key, "depot_version") == 0)
			more = js_string(js, h->depot_version, sizeof h->depot_version);
		else if (strcmp(key, "task_id") == 0)
			more = js_int64(js, &h->task_id);
		else if (strcmp(key, "base") == 0)
			more = parse_base(js, h);
		else if (strcmp(key, "holds") == 0)
			more = parse_holds(js, max_holds, h);
		else
			more = js_skip(js);
		if (more < 0)
			goto out;
	} while ((more = js_more(js, '}')) == 1);
	if (more < 0 || js_end(js) < 0)
		goto out;
	h->format = (int)format;
	if (format != BACKUP_FORMAT_HEADER)
		js_fail(js, "format %lld is not one this depot reads (%d)", (long long)format,
		    BACKUP_FORMAT_HEADER);
	else if (strcmp(h->kind, BACKUP_KIND_FULL) != 0 &&
	    strcmp(h->kind, BACKUP_KIND_INCREMENTAL) != 0)
		js_fail(js, "'kind' is '%s', not full or incremental", h->kind);
	else if (h->has_base != (strcmp(h->kind, BACKUP_KIND_INCREMENTAL) == 0))
		js_fail(js, "a%s backup %s a 'base'", h->has_base ? " full" : "n incremental",
		    h->has_base ? "has" : "lacks");
	else if (h->has_base && (h->base_file[0] == '\0' || strchr(h->base_file, '/') != NULL ||
	    strcmp(h->base_file, ".") == 0 || strcmp(h->base_file, "..") == 0))
		js_fail(js, "'base' file '%s' is not a plain file name", h->base_file);
	else if (h->has_base && (backup_sha256_parse(h->base_sha256, d) < 0 || h->base_size < 0))
		js_fail(js, "'base' has a bad sha256 or size");
	else
		rc = 0;
out:
	if (rc < 0) {
		snprintf(err, errlen, "%s %s", BACKUP_HEADER, js->err[0] ? js->err : "is malformed");
		backup_header_free(h);
	}
	return rc;
}

struct hashed_member {
	struct archive *a;
	EVP_MD_CTX *md;
	int64_t size;
};

/* The header's bytes, hashed and counted as they are parsed. */
static long fill_from(void *ctx, char *buf, size_t cap)
{
	struct hashed_member *m = ctx;
	la_ssize_t n = archive_read_data(m->a, buf, cap);

	if (n > 0) {
		EVP_DigestUpdate(m->md, buf, (size_t)n);
		m->size += n;
	}
	return n < 0 ? -1 : (long)n;
}

int backup_header_parse_member(struct archive *a, int64_t max_holds, struct backup_header *h,
    int64_t *size, char *err, size_t errlen)
{
	struct hashed_member m = { .a = a, .md = EVP_MD_CTX_new() };
	struct jstream *js = malloc(sizeof *js);	/* 64 KiB of buffer: not on a thread's stack */
	unsigned char d[32];
	unsigned int dlen;
	int rc = -1;

	memset(h, 0, sizeof *h);
	if (js == NULL || m.md == NULL || EVP_DigestInit_ex(m.md, EVP_sha256(), NULL) != 1)
		snprintf(err, errlen, "out of memory");
	else {
		js_init(js, fill_from, &m);
		if ((rc = backup_header_parse(js, max_holds, h, err, errlen)) == 0) {
			EVP_DigestFinal_ex(m.md, d, &dlen);
			hashpipe_hex(d, h->header_sha256);
			*size = m.size;
		}
	}
	free(js);
	EVP_MD_CTX_free(m.md);
	return rc;
}

/* The header from the first member of a, open on a regular file (st); a is freed here. */
static int header_from(struct archive *a, const struct stat *st, const char *file,
    int64_t max_holds, struct backup_header *h, char *err, size_t errlen)
{
	struct archive_entry *e;
	int64_t size;
	int rc = -1, r;

	if ((r = archive_read_next_header(a, &e)) != ARCHIVE_OK && r != ARCHIVE_WARN) {
		snprintf(err, errlen, "%s: %s", file, r == ARCHIVE_EOF ? "an empty archive" :
		    archive_error_string(a));
		goto out;
	}
	if (archive_entry_pathname(e) == NULL ||
	    strcmp(archive_entry_pathname(e), BACKUP_HEADER) != 0 ||
	    archive_entry_filetype(e) != AE_IFREG) {
		rc = 0;
		goto out;
	}
	if (backup_header_parse_member(a, max_holds, h, &size, err, errlen) == 0)
		rc = 1;
out:
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->file_size = st->st_size;
	archive_read_free(a);
	return rc;
}

struct archive *backup_tar_reader(const char *file, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();

	if (a == NULL || archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(a) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", file, a ? archive_error_string(a) : "out of memory");
		if (a != NULL)
			archive_read_free(a);
		return NULL;
	}
	return a;
}

int backup_header_read(const char *file, int64_t max_holds, struct backup_header *h,
    char *err, size_t errlen)
{
	/* A base named by a header someone else wrote may be a link or a FIFO: never followed, never waited on. */
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		memset(h, 0, sizeof *h);
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	rc = backup_header_read_fd(fd, file, max_holds, h, err, errlen);
	close(fd);
	return rc;
}

int backup_header_read_fd(int fd, const char *name, int64_t max_holds,
    struct backup_header *h, char *err, size_t errlen)
{
	struct archive *a;
	struct stat st = { 0 };

	memset(h, 0, sizeof *h);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", name, S_ISREG(st.st_mode) ? strerror(errno) :
		    "not a regular file");
		return -1;
	}
	if ((a = backup_tar_reader(name, err, errlen)) == NULL)
		return -1;
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", name, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	return header_from(a, &st, name, max_holds, h, err, errlen);
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int backup_header_holds(const struct backup_header *h, const unsigned char *digest)
{
	return h->nholds > 0 && bsearch(digest, h->holds, h->nholds, sizeof *h->holds,
	    cmp_digest) != NULL;
}

void backup_header_free(struct backup_header *h)
{
	free(h->holds);
	h->holds = NULL;
	h->nholds = 0;
}
