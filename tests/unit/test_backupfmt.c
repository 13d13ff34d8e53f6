/* test_backupfmt.c: backup_read() (DESIGN §9) on archives built here member by member: verify and extract must take the same decision, and a refused archive writes nothing outside its staging directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backupfmt.h"
#include "backuphdr.h"
#include "fsutil.h"
#include "hashpipe.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/*
 * One member as the test writes it. The manifest is made from the list:
 * every member in order, unless unlisted; a phantom is listed but never
 * written.
 */
struct member {
	char type;		/* 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' device, 'p' FIFO, 'M' the manifest here */
	const char *path;
	const char *data;	/* a file's bytes (a string), or a link's target */
	int mode;		/* 0: 0644 for a file, 0755 for a directory */
	int unlisted;
	int phantom;
	const char *msha;	/* the manifest's sha256 instead of the true one */
	int msize;		/* added to the size the manifest gives */
	size_t len;		/* a file's length when data is not a string */
};

/* Members by kind; what follows the path (and data or target) sets the other fields. */
#define MF(p, d, ...) { .type = 'f', .path = (p), .data = (d), __VA_ARGS__ }
#define MD(p, ...) { .type = 'd', .path = (p), __VA_ARGS__ }
#define ML(p, t, ...) { .type = 'l', .path = (p), .data = (t), __VA_ARGS__ }
#define MH(p, t, ...) { .type = 'h', .path = (p), .data = (t), __VA_ARGS__ }
#define MC(p) { .type = 'c', .path = (p) }
#define MP(p) { .type = 'p', .path = (p) }
#define MANIFEST_HERE { .type = 'M' }

struct build {
	int gzip;
	int no_db;
	int format;		/* 0: BACKUP_FORMAT */
	const char *head;	/* raw "key":value, pairs put before "members" */
	const char *manifest;	/* the manifest's whole text instead of the one made */
	int swap;		/* k > 0: manifest entries k and k + 1 trade places (entry 0 is depot.db) */
	int binary_names;	/* pax hdrcharset=BINARY, for names that are not UTF-8 */
	const char *header;	/* format 2: BACKUP.json's text, the first member */
	const char *db;		/* depot.db's bytes instead of DB */
	size_t dblen;
	const char *out;	/* the file to write instead of fx->archive */
};

/* Each test's directory: the archive, the staging directory, a sibling that must stay empty, and TMPDIR. */
struct fx {
	char root[64], archive[96], x[96], outside[96], tmpv[96];
	int extra;		/* more files the test put in root (a chain's bases) */
};

struct verdict {
	int rc;
	char err[2048];
	struct backup_summary sum;
};

struct sbuf {
	char *p;
	size_t n, cap;
};

#define N(a) (sizeof (a) / sizeof (a)[0])
#define CREATED "2026-01-02T03:04:05Z"
#define VERSION "0.9-test"
/* sha256("hello\n") */
#define SHA_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA_ZERO "0000000000000000000000000000000000000000000000000000000000000000"
#define C1 "content/sha256/58/91b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

/* The depot.db every archive holds: a tiny database with a schema version. */
static char *DB;
static size_t DBLEN;
static const struct build plain;

static int group_setup(void **state);
static int group_teardown(void **state);
static int setup(void **state);
static int teardown(void **state);
static void rm_at(int dfd, const char *name);
static void rm_tree(const char *path);
static int dir_entries(const char *path);
static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_json(struct sbuf *b, const char *s);
static void sha_hex(const void *data, size_t len, char *out);
static size_t data_len(const struct member *m);
static char *make_manifest(const struct member *m, size_t n, const struct build *b);
static void write_member(struct archive *a, const struct member *m);
static void write_manifest(struct archive *a, const char *text);
static void build(struct fx *fx, const struct member *m, size_t n, const struct build *b);
static void decide(struct fx *fx, const struct backup_limits *lim, struct verdict *out);
static void accepted(struct fx *fx, struct verdict *out);
static void refused(struct fx *fx, const char *why, const char *also);
static void refused_lim(struct fx *fx, const struct backup_limits *lim, const char *why,
    const char *also);
static void accepted_lim(struct fx *fx, const struct backup_limits *lim);
static char *read_all(const char *path, size_t *len);
static char *long_path(char *p, size_t len, size_t comp);
static void check_valid_tree(struct fx *fx, const struct verdict *v);
static void build_with_head(struct fx *fx, const char *head);
static void build_with_nesting(struct fx *fx, char *head, size_t levels);
static int extract_unprivileged(struct fx *fx, char *err, size_t errlen);

/* --- fixtures ---------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char dir[] = "/tmp/dp-bfmt-db.XXXXXX", path[64];
	sqlite3 *db;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/depot.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA user_version=3; CREATE TABLE tasks(id INTEGER PRIMARY KEY)",
	    NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	sqlite3_close(db);
	DB = read_all(path, &DBLEN);
	rm_tree(dir);
	return DB != NULL && DBLEN > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(DB);
	return 0;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);

	if (fx == NULL)
		return -1;
	snprintf(fx->root, sizeof fx->root, "/tmp/dp-bfmt.XXXXXX");
	if (mkdtemp(fx->root) == NULL)
		return -1;
	snprintf(fx->archive, sizeof fx->archive, "%s/a.tar", fx->root);
	snprintf(fx->x, sizeof fx->x, "%s/x", fx->root);
	snprintf(fx->outside, sizeof fx->outside, "%s/outside", fx->root);
	snprintf(fx->tmpv, sizeof fx->tmpv, "%s/tmpv", fx->root);
	if (mkdir(fx->outside, 0755) < 0 || mkdir(fx->tmpv, 0700) < 0)
		return -1;
	/* verify copies depot.db under TMPDIR to check it: here, where it can be seen to go. */
	setenv("TMPDIR", fx->tmpv, 1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rm_tree(fx->root);
	unsetenv("TMPDIR");
	free(fx);
	return 0;
}

/* By file descriptor, so paths longer than PATH_MAX go too, and never through a link. */
static void rm_at(int dfd, const char *name)
{
	struct dirent *d;
	DIR *dir;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			rm_at(dirfd(dir), d->d_name);
	closedir(dir);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void rm_tree(const char *path)
{
	rm_at(AT_FDCWD, path);
}

/* How many names a directory holds; -1 if it cannot be read. */
static int dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *d;
	int n = 0;

	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*len = 0;
	while (*len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + *len, (size_t)st.st_size - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	close(fd);
	return buf;
}

/* --- making archives ---------------------------------------------------------------- */

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->n + (size_t)n + 1 > b->cap) {
		b->cap = (b->n + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

/* A JSON string; bytes past ASCII go raw, as cJSON writes them. */
static void sb_json(struct sbuf *b, const char *s)
{
	sb_add(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_add(b, "\\%c", *p);
		else if (*p < 0x20)
			sb_add(b, "\\u%04x", *p);
		else
			sb_add(b, "%c", *p);
	}
	sb_add(b, "\"");
}

static void sha_hex(const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static size_t data_len(const struct member *m)
{
	return m->len ? m->len : m->data ? strlen(m->data) : 0;
}

/* MANIFEST.json as daemon/backup.c writes it: the head, then one entry a line in archive order. */
static char *make_manifest(const struct member *m, size_t n, const struct build *b)
{
	struct sbuf out = { 0 };
	char **entries = calloc(n + 1, sizeof *entries), sha[65];
	size_t k = 0;

	assert_non_null(entries);
	for (size_t i = 0; i < n; i++) {
		struct sbuf e = { 0 };
		if (m[i].type == 'M' || m[i].unlisted)
			continue;
		sb_add(&e, "{\"path\":");
		sb_json(&e, m[i].path);
		switch (m[i].type) {
		case 'd':
			sb_add(&e, ",\"type\":\"dir\"");
			break;
		case 'l':
		case 'h':
			sb_add(&e, ",\"type\":\"%s\",\"target\":", m[i].type == 'l' ? "symlink" : "hardlink");
			sb_json(&e, m[i].data);
			break;
		default:
			sha_hex(m[i].data ? m[i].data : "", data_len(&m[i]), sha);
			sb_add(&e, ",\"type\":\"file\",\"size\":%zu,\"sha256\":\"%s\"",
			    data_len(&m[i]) + (size_t)m[i].msize, m[i].msha ? m[i].msha : sha);
		}
		sb_add(&e, "}");
		entries[k++] = e.p;
	}
	if (b->swap > 0 && (size_t)b->swap + 1 < k) {
		char *t = entries[b->swap];
		entries[b->swap] = entries[b->swap + 1];
		entries[b->swap + 1] = t;
	}
	sb_add(&out, "{\"format\":%d,\"created_at\":\"%s\",\"depot_version\":\"%s\",%s\"members\":[",
	    b->format ? b->format : BACKUP_FORMAT, CREATED, VERSION, b->head ? b->head : "");
	for (size_t i = 0; i < k; i++) {
		sb_add(&out, "%s\n%s", i ? "," : "", entries[i]);
		free(entries[i]);
	}
	sb_add(&out, "\n]}\n");
	free(entries);
	return out.p;
}

static void write_member(struct archive *a, const struct member *m)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = data_len(m);
	int st;

	assert_non_null(e);
	archive_entry_copy_pathname(e, m->path);
	archive_entry_set_mtime(e, 1767323045, 0);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_gid(e, 1000);
	switch (m->type) {
	case 'f':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, m->mode ? m->mode : 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		break;
	case 'd':
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, m->mode ? m->mode : 0755);
		break;
	case 'l':
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_perm(e, 0777);
		archive_entry_copy_symlink(e, m->data);
		break;
	case 'h':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_copy_hardlink(e, m->data);
		archive_entry_set_size(e, 0);
		break;
	case 'c':
		archive_entry_set_filetype(e, AE_IFCHR);
		archive_entry_set_perm(e, 0666);
		archive_entry_set_rdev(e, makedev(1, 3));
		break;
	case 'p':
		archive_entry_set_filetype(e, AE_IFIFO);
		archive_entry_set_perm(e, 0644);
		break;
	default:
		fail_msg("no member type '%c'", m->type);
	}
	st = archive_write_header(a, e);
	if (st != ARCHIVE_OK && st != ARCHIVE_WARN)
		fail_msg("writing %s: %s", m->path, archive_error_string(a));
	if (m->type == 'f' && len > 0)
		assert_int_equal(archive_write_data(a, m->data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void write_manifest(struct archive *a, const char *text)
{
	struct member m = MF(BACKUP_MANIFEST, text, .mode = 0600);

	write_member(a, &m);
}

/* Writes fx->archive: depot.db first (unless no_db), the members, and the manifest last unless a member 'M' places it. */
static void build(struct fx *fx, const struct member *m, size_t n, const struct build *b)
{
	struct member *all = calloc(n + 2, sizeof *all);
	struct archive *a = archive_write_new();
	size_t k = 0;
	int placed = 0;
	char *text;

	assert_non_null(all);
	assert_non_null(a);
	if (b->header)
		all[k++] = (struct member)MF("BACKUP.json", b->header, .mode = 0600);
	if (!b->no_db)
		all[k++] = b->db ? (struct member)MF("depot.db", b->db, .mode = 0600, .len = b->dblen) :
		    (struct member)MF("depot.db", DB, .mode = 0600, .len = DBLEN);
	for (size_t i = 0; i < n; i++)
		all[k++] = m[i];
	text = b->manifest ? strdup(b->manifest) : make_manifest(all, k, b);
	assert_non_null(text);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (b->binary_names)
		assert_int_equal(archive_write_set_options(a, "hdrcharset=BINARY"), ARCHIVE_OK);
	assert_int_equal(b->gzip ? archive_write_add_filter_gzip(a) : archive_write_add_filter_none(a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, b->out ? b->out : fx->archive), ARCHIVE_OK);
	for (size_t i = 0; i < k; i++) {
		if (all[i].type == 'M') {
			write_manifest(a, text);
			placed = 1;
		} else if (!all[i].phantom) {
			write_member(a, &all[i]);
		}
	}
	if (!placed)
		write_manifest(a, text);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(text);
	free(all);
}

/* In p (len + 1 bytes), a path of len bytes under content/, in components of at most comp bytes. */
static char *long_path(char *p, size_t len, size_t comp)
{
	size_t at = 8, run = 0;

	memcpy(p, "content/", 8);
	while (at < len) {
		/* Never a '/' last, nor two in a row. */
		if (run == comp && at + 1 < len) {
			p[at++] = '/';
			run = 0;
		} else {
			p[at++] = (char)('a' + run % 26);
			run++;
		}
	}
	p[len] = '\0';
	return p;
}

/* --- the decision -------------------------------------------------------------------- */

/*
 * Verifies, then extracts into a fresh staging directory, and checks they
 * agree: the same result, the same message, the same summary. Whatever the
 * result, nothing appears beside the staging directory and verify's copy
 * of the database is gone.
 */
static void decide_chain(struct fx *fx, const struct backup_limits *lim, struct backup_bases *ch,
    struct verdict *out)
{
	struct backup_bases vch = { 0 };
	struct verdict v, x;

	memset(&v, 0, sizeof v);
	memset(&x, 0, sizeof x);
	if (ch != NULL) {
		vch.files = ch->files;
		vch.nfiles = ch->nfiles;
	}
	v.rc = backup_read_chain(fx->archive, NULL, NULL, ch ? &vch : NULL, lim, &v.sum, v.err,
	    sizeof v.err);
	if (dir_entries(fx->tmpv) != 0)
		fail_msg("verify left %d names in TMPDIR", dir_entries(fx->tmpv));
	rm_tree(fx->x);
	assert_int_equal(mkdir(fx->x, 0700), 0);
	x.rc = backup_read_chain(fx->archive, fx->x, NULL, ch, lim, &x.sum, x.err, sizeof x.err);
	if (v.rc != x.rc)
		fail_msg("verify says %d (%s), extract says %d (%s)", v.rc, v.err, x.rc, x.err);
	assert_string_equal(v.err, x.err);
	if (v.rc == 0) {
		assert_int_equal(v.sum.format, x.sum.format);
		assert_string_equal(v.sum.created_at, x.sum.created_at);
		assert_string_equal(v.sum.version, x.sum.version);
		assert_int_equal(v.sum.members, x.sum.members);
		assert_int_equal(v.sum.bytes, x.sum.bytes);
		assert_string_equal(v.sum.kind, x.sum.kind);
		assert_int_equal(v.sum.chain, x.sum.chain);
		if (ch != NULL) {
			assert_int_equal(vch.nread, ch->nread);
			for (size_t i = 0; i < vch.nread; i++)
				assert_string_equal(vch.read[i].path, ch->read[i].path);
		}
	}
	backup_bases_free(&vch);
	if (dir_entries(fx->outside) != 0)
		fail_msg("%d names appeared in %s, beside the staging directory", dir_entries(fx->outside),
		    fx->outside);
	/* a.tar, x, outside and tmpv, and the test's own, nothing more. */
	assert_int_equal(dir_entries(fx->root), 4 + fx->extra);
	*out = x;
}

static void decide(struct fx *fx, const struct backup_limits *lim, struct verdict *out)
{
	decide_chain(fx, lim, NULL, out);
}

static void accepted_lim(struct fx *fx, const struct backup_limits *lim)
{
	struct verdict v;

	decide(fx, lim, &v);
	if (v.rc != 0)
		fail_msg("refused: %s", v.err);
}

static void accepted(struct fx *fx, struct verdict *out)
{
	struct backup_limits lim;

	backup_limits_default(&lim);
	decide(fx, &lim, out);
	if (out->rc != 0)
		fail_msg("refused: %s", out->err);
}

static void refused_lim(struct fx *fx, const struct backup_limits *lim, const char *why,
    const char *also)
{
	struct verdict v;

	decide(fx, lim, &v);
	if (v.rc == 0)
		fail_msg("accepted, not refused for '%s'", why);
	if (strstr(v.err, why) == NULL)
		fail_msg("'%s' does not say '%s'", v.err, why);
	if (also != NULL && strstr(v.err, also) == NULL)
		fail_msg("'%s' does not say '%s'", v.err, also);
}

/* Refused with a message holding why (the member, quoted) and also. */
static void refused(struct fx *fx, const char *why, const char *also)
{
	struct backup_limits lim;

	backup_limits_default(&lim);
	refused_lim(fx, &lim, why, also);
}

/* --- accepted archives -------------------------------------------------------------------- */

static const struct member valid[] = {
	MF("depot.conf", "[daemon]\nworkers = 2\n", .mode = 0600),
	MD("content"),
	MD("content/sha256"),
	MD("content/sha256/58"),
	MF(C1, "hello\n", .mode = 0644),
	/* Set-id bits and write for others are dropped on extraction. */
	MF("content/sha256/58/run.sh", "#!/bin/sh\n", .mode = 04777),
	MD("publish"),
	MD("publish/r"),
	MD("publish/r/versions"),
	MD("publish/r/versions/1", .mode = 0750),
	MH("publish/r/versions/1/hello.txt", C1),
	ML("publish/r/current", "versions/1"),
	MD("logs"),
	MF("logs/depotd.log", "", .mode = 0640),
};

static void check_valid_tree(struct fx *fx, const struct verdict *v)
{
	char p[256], link[64], *data;
	struct stat st, st2;
	size_t len;
	ssize_t n;

	assert_int_equal(v->sum.format, 1);
	assert_string_equal(v->sum.created_at, CREATED);
	assert_string_equal(v->sum.version, VERSION);
	assert_int_equal(v->sum.members, (int64_t)N(valid) + 1);
	assert_int_equal(v->sum.bytes, (int64_t)(DBLEN + strlen(valid[0].data) + 6 + 10));

	snprintf(p, sizeof p, "%s/depot.db", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_int_equal(len, DBLEN);
	assert_memory_equal(data, DB, DBLEN);
	free(data);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	snprintf(p, sizeof p, "%s/depot.conf", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_string_equal(data, "[daemon]\nworkers = 2\n");
	free(data);

	snprintf(p, sizeof p, "%s/" C1, fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_string_equal(data, "hello\n");
	free(data);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 2);

	snprintf(p, sizeof p, "%s/publish/r/versions/1/hello.txt", fx->x);
	assert_int_equal(lstat(p, &st2), 0);
	assert_true(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);

	snprintf(p, sizeof p, "%s/content/sha256/58/run.sh", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	snprintf(p, sizeof p, "%s/publish/r/versions/1", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);

	snprintf(p, sizeof p, "%s/publish/r/current", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(p, link, sizeof link - 1);
	assert_int_equal(n, 10);
	link[n] = '\0';
	assert_string_equal(link, "versions/1");
	snprintf(p, sizeof p, "%s/publish/r/current/hello.txt", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_string_equal(data, "hello\n");
	free(data);

	snprintf(p, sizeof p, "%s/logs/depotd.log", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	/* Nothing but what the archive holds: depot.db, depot.conf, content, publish, logs. */
	assert_int_equal(dir_entries(fx->x), 5);
}

static void a_valid_archive_is_accepted_and_extracted(void **state)
{
	struct fx *fx = *state;
	struct verdict v;

	build(fx, valid, N(valid), &plain);
	accepted(fx, &v);
	check_valid_tree(fx, &v);
}

static void a_valid_gzip_archive_is_accepted_and_extracted(void **state)
{
	struct fx *fx = *state;
	struct verdict v;

	build(fx, valid, N(valid), &(struct build){ .gzip = 1 });
	accepted(fx, &v);
	check_valid_tree(fx, &v);
}

/* A directory first named as a member's parent may follow as a member of its own. */
static void a_directory_after_its_children_is_accepted(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/sha256/58/x", "x"),
		MD("content/sha256/58"),
		MD("content"),
	};
	struct verdict v;

	build(fx, m, N(m), &plain);
	accepted(fx, &v);
	assert_int_equal(v.sum.members, 4);
}

static void a_symlink_through_another_symlink_inside_publish_is_accepted(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("publish/r/versions/1/f", "v1"),
		ML("publish/r/current", "versions/1"),
		ML("publish/r/alias", "current"),
		ML("publish/s/other", "../r/alias/f"),
	};
	char p[256], *data;
	size_t len;
	struct verdict v;

	build(fx, m, N(m), &plain);
	accepted(fx, &v);
	snprintf(p, sizeof p, "%s/publish/s/other", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_string_equal(data, "v1");
	free(data);
}

/*
 * Extracts as an unprivileged user (uid and gid 65534), in a child, into a
 * fresh staging directory it owns: how a daemon that is not root restores.
 * Returns backup_read's result, its message in err.
 */
static int extract_unprivileged(struct fx *fx, char *err, size_t errlen)
{
	struct backup_limits lim;
	struct backup_summary sum;
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	rm_tree(fx->x);
	assert_int_equal(mkdir(fx->x, 0700), 0);
	assert_int_equal(chown(fx->x, 65534, 65534), 0);
	assert_int_equal(chmod(fx->root, 0755), 0);
	assert_int_equal(pipe(pipefd), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		char msg[2048];
		int rc;
		close(pipefd[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		backup_limits_default(&lim);
		rc = backup_read(fx->archive, fx->x, &lim, &sum, msg, sizeof msg);
		if (write(pipefd[1], msg, strlen(msg) + 1) < 0)
			_exit(2);
		_exit(rc == 0 ? 0 : 1);
	}
	close(pipefd[1]);
	n = read(pipefd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(fx->root, 0700), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A directory archived without write permission still receives the
 * members under it, or restore refuses what verify accepts: a restored
 * directory keeps rwx for its owner (the daemon, which writes there later
 * too), and the rest of its archived mode.
 */
static void a_read_only_directory_receives_its_members(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MD("publish/r/ro", .mode = 0555),
		MF("publish/r/ro/f", "x", .mode = 0444),
		MD("publish/r/ro/sub", .mode = 0500),
		MF("publish/r/ro/sub/g", "y", .mode = 0400),
	};
	char p[256], *data, err[2048];
	struct verdict v;
	struct stat st;
	size_t len;

	build(fx, m, N(m), &plain);
	accepted(fx, &v);
	snprintf(p, sizeof p, "%s/publish/r/ro/sub/g", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_string_equal(data, "y");
	free(data);
	snprintf(p, sizeof p, "%s/publish/r/ro", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(p, sizeof p, "%s/publish/r/ro/sub", fx->x);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Root ignores modes: as root, decide again as a daemon that is not. */
	if (geteuid() == 0 && extract_unprivileged(fx, err, sizeof err) != 0)
		fail_msg("verify accepts, extraction by a user that is not root refuses: %s", err);
}

/* --- links that lead out --------------------------------------------------------------------- */

static void a_chain_of_symlinks_out_of_publish_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MD("publish/r"),
		ML("publish/r/a", "../.."),
		ML("publish/r/b", "a/../.."),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'publish/r/a' is a symlink", "outside publish/");
}

/* b alone, read as text, stays in publish/r; through a, which is the data directory, it leaves it. */
static void a_symlink_that_leaves_only_through_another_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MD("publish/r/x/y/z"),
		ML("publish/r/x/y/z/up", "../.."),
		ML("publish/r/esc", "x/y/z/up/../../../../outside"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'publish/r/esc' is a symlink to 'x/y/z/up/../../../../outside'",
	    "outside the data directory");
}

static void an_absolute_symlink_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		ML("publish/r/abs", "/etc"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'publish/r/abs' is a symlink to the absolute path '/etc'", NULL);
}

static void a_symlink_through_an_absolute_one_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		ML("publish/r/a", "b/x"),
		ML("publish/r/b", "/tmp"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'publish/r/a'", "absolute");
}

static void a_loop_of_symlinks_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member two[] = {
		ML("publish/r/l1", "l2"),
		ML("publish/r/l2", "l1"),
	};
	static const struct member self[] = {
		ML("publish/r/self", "self"),
	};
	/* Each turn makes the rest to walk longer: it must still end. */
	static const struct member grow[] = {
		ML("publish/r/g", "g/g/g"),
	};
	static const struct member three[] = {
		MD("publish/r/d"),
		ML("publish/r/d/a", "../b"),
		ML("publish/r/b", "c/.."),
		ML("publish/r/c", "d/a"),
	};

	build(fx, two, N(two), &plain);
	refused(fx, "member 'publish/r/l1'", "too many links");
	build(fx, self, N(self), &plain);
	refused(fx, "member 'publish/r/self'", "too many links");
	build(fx, grow, N(grow), &plain);
	refused(fx, "member 'publish/r/g'", NULL);
	build(fx, three, N(three), &plain);
	refused(fx, "member 'publish/r/b'", "too many links");
}

static void a_member_under_a_symlink_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member esc[] = {
		ML("publish/r/esc", "../../../outside"),
		MF("publish/r/esc/pwned", "x"),
	};
	static const struct member in[] = {
		MD("publish/r/versions/1"),
		ML("publish/r/current", "versions/1"),
		MF("publish/r/current/f", "x"),
	};
	static const struct member dir[] = {
		ML("publish/r/esc", "../../../outside"),
		MD("publish/r/esc/sub"),
	};
	static const struct member link[] = {
		ML("publish/r/esc", "../../../outside"),
		ML("publish/r/esc/l", "x"),
	};

	build(fx, esc, N(esc), &plain);
	refused(fx, "member 'publish/r/esc/pwned' lies under 'publish/r/esc', which is a symlink",
	    NULL);
	build(fx, in, N(in), &plain);
	refused(fx, "member 'publish/r/current/f' lies under 'publish/r/current'", "symlink");
	build(fx, dir, N(dir), &plain);
	refused(fx, "member 'publish/r/esc/sub' lies under 'publish/r/esc'", "symlink");
	build(fx, link, N(link), &plain);
	refused(fx, "member 'publish/r/esc/l' lies under 'publish/r/esc'", "symlink");
}

static void a_member_under_a_file_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/f", "x"),
		MF("content/f/x", "y"),
	};
	static const struct member db[] = {
		MF("depot.db/x", "y"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/f/x' lies under 'content/f', which is a file", NULL);
	build(fx, db, N(db), &plain);
	refused(fx, "member 'depot.db/x' lies under a file of the data directory", NULL);
}

/* --- hard links ------------------------------------------------------------------------------ */

static void a_hard_link_before_its_target_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MH("publish/r/h", "content/t"),
		MF("content/t", "x"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'publish/r/h' is a hard link to 'content/t'",
	    "not a file earlier in the archive");
}

static void a_hard_link_to_depot_db_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MH("content/h", "depot.db"),
	};
	static const struct member conf[] = {
		MF("depot.conf", ""),
		MH("publish/r/h", "depot.conf"),
	};
	/* Nor may the database itself be a link to content. */
	static const struct member as_db[] = {
		MF("content/t", "x"),
		MH("depot.conf", "content/t"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/h' is a hard link to 'depot.db'", NULL);
	build(fx, conf, N(conf), &plain);
	refused(fx, "member 'publish/r/h' is a hard link to 'depot.conf'", NULL);
	build(fx, as_db, N(as_db), &plain);
	refused(fx, "member 'depot.conf' is a hard link, not a file", NULL);
}

static void a_hard_link_to_anything_but_an_earlier_file_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member to_dir[] = {
		MD("content/d"),
		MH("content/h", "content/d"),
	};
	static const struct member to_link[] = {
		MF("publish/r/f", "x"),
		ML("publish/r/l", "f"),
		MH("publish/r/h", "publish/r/l"),
	};
	static const struct member to_nothing[] = {
		MH("content/h", "content/none"),
	};
	static const struct member up[] = {
		MH("content/h", "../outside/x"),
	};
	static const struct member abs[] = {
		MH("content/h", "/etc/passwd"),
	};
	static const struct member implicit[] = {
		MF("content/d/f", "x"),
		MH("content/h", "content/d"),
	};

	build(fx, to_dir, N(to_dir), &plain);
	refused(fx, "member 'content/h' is a hard link to 'content/d'", "not a file");
	build(fx, to_link, N(to_link), &plain);
	refused(fx, "member 'publish/r/h' is a hard link to 'publish/r/l'", "not a file");
	build(fx, to_nothing, N(to_nothing), &plain);
	refused(fx, "member 'content/h' is a hard link to 'content/none'", NULL);
	build(fx, up, N(up), &plain);
	refused(fx, "member 'content/h' is a hard link to '../outside/x'", NULL);
	build(fx, abs, N(abs), &plain);
	refused(fx, "member 'content/h' is a hard link to '/etc/passwd'", NULL);
	build(fx, implicit, N(implicit), &plain);
	refused(fx, "member 'content/h' is a hard link to 'content/d'", "not a file");
}

/* --- names ------------------------------------------------------------------------------------ */

static void a_duplicate_path_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member file[] = {
		MF("content/a", "1"),
		MF("content/a", "2"),
	};
	static const struct member db[] = {
		MF("depot.db", "not a database"),
	};
	static const struct member dir[] = {
		MD("content/d"),
		MD("content/d"),
	};
	static const struct member over_dir[] = {
		MF("publish/r/d/f", "1"),
		ML("publish/r/d", "../s"),
	};

	build(fx, file, N(file), &plain);
	refused(fx, "member 'content/a' appears twice", NULL);
	build(fx, db, N(db), &plain);
	refused(fx, "member 'depot.db' appears twice", NULL);
	build(fx, dir, N(dir), &plain);
	refused(fx, "member 'content/d' appears twice", NULL);
	build(fx, over_dir, N(over_dir), &plain);
	refused(fx, "member 'publish/r/d' appears twice, or would replace a directory", NULL);
}

static void names_depot_does_not_write_are_refused(void **state)
{
	struct fx *fx = *state;
	static const char *const names[] = {
		"run/control.sock", "run", "tmp/x", "tmp", "etc/passwd", "depot.db-wal",
		"backups/old.tar", "Content/x", "publish2/x", "x",
	};

	for (size_t i = 0; i < N(names); i++) {
		struct member m[] = { MF(names[i], "x") };
		char why[128];
		build(fx, m, N(m), &plain);
		snprintf(why, sizeof why, "member '%s' is not something a depot backup holds", names[i]);
		refused(fx, why, NULL);
	}
	{
		struct member m[] = { MD("run") };
		build(fx, m, N(m), &plain);
		refused(fx, "member 'run' is not something a depot backup holds", NULL);
	}
}

static void unsafe_paths_are_refused(void **state)
{
	struct fx *fx = *state;
	static const char *const paths[] = {
		"../outside/pwned", "content/../../outside/pwned", "/tmp/pwned", "./content/x",
		"content/./x", "content//x", "content/..",
	};

	for (size_t i = 0; i < N(paths); i++) {
		struct member m[] = { MF(paths[i], "x") };
		build(fx, m, N(m), &plain);
		refused(fx, "has an unsafe path", NULL);
	}
}

static void a_symlink_in_content_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		ML("content/l", "../publish"),
	};
	static const struct member top[] = {
		ML("logs", "publish"),
	};
	static const struct member db[] = {
		ML("depot.conf", "/etc/shadow"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/l' is a symlink outside publish/", NULL);
	build(fx, top, N(top), &plain);
	refused(fx, "member 'logs' is a symlink, not a directory", NULL);
	build(fx, db, N(db), &plain);
	refused(fx, "member 'depot.conf' is a symlink, not a file", NULL);
}

static void devices_and_fifos_are_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member dev[] = {
		MC("content/null"),
	};
	static const struct member fifo[] = {
		MP("publish/r/fifo"),
	};

	build(fx, dev, N(dev), &plain);
	refused(fx, "member 'content/null' is a device, FIFO or socket", NULL);
	build(fx, fifo, N(fifo), &plain);
	refused(fx, "member 'publish/r/fifo' is a device, FIFO or socket", NULL);
}

/* --- the manifest ------------------------------------------------------------------------------ */

static void an_archive_without_depot_db_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1"),
	};

	build(fx, m, N(m), &(struct build){ .no_db = 1 });
	refused(fx, "the archive has no depot.db", NULL);
}

static void a_database_that_is_not_one_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("depot.db", "SQLite format 3\0 but then nothing", .mode = 0600, .len = 33),
	};

	build(fx, m, N(m), &(struct build){ .no_db = 1 });
	refused(fx, "depot.db", NULL);
}

/* A database whose header says WAL (the daemon's own is; its backup copy is set back to DELETE). */
static void a_database_in_wal_mode_is_judged_alike(void **state)
{
	struct fx *fx = *state;
	char dir[] = "/tmp/dp-bfmt-wal.XXXXXX", path[64], *wal;
	struct member m[1];
	struct verdict v;
	sqlite3 *db;
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/depot.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA user_version=3; "
	    "CREATE TABLE tasks(id INTEGER PRIMARY KEY)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_non_null(wal = read_all(path, &len));
	rm_tree(dir);
	assert_int_equal(wal[18], 2);
	m[0] = (struct member)MF("depot.db", wal, .mode = 0600, .len = len);
	build(fx, m, N(m), &(struct build){ .no_db = 1 });
	accepted(fx, &v);
	/* SQLite may leave depot.db-wal and -shm beside it from the integrity check. */
	assert_true(dir_entries(fx->x) >= 1);
	free(wal);
}

static void an_archive_without_a_manifest_is_refused(void **state)
{
	struct fx *fx = *state;
	/* The manifest in place but under another name: none is found at the end. */
	static const struct member m[] = {
		MF("content/a", "1"),
	};
	struct archive *a = archive_write_new();
	struct member db = MF("depot.db", DB, .mode = 0600, .len = DBLEN);

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_none(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, fx->archive), ARCHIVE_OK);
	write_member(a, &db);
	write_member(a, &m[0]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	refused(fx, "the archive has no MANIFEST.json", NULL);
}

static void a_member_after_the_manifest_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1"),
		MANIFEST_HERE,
		MF("content/late", "2", .unlisted = 1),
	};
	/* Listed too: the manifest then names a member it has not seen. */
	static const struct member listed[] = {
		MF("content/a", "1"),
		MANIFEST_HERE,
		MF("content/late", "2"),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/late' follows MANIFEST.json, which must be last", NULL);
	build(fx, listed, N(listed), &plain);
	refused(fx, "member 'content/late' of the manifest is missing from the archive", NULL);
}

static void two_manifests_are_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1"),
		MANIFEST_HERE,
		MANIFEST_HERE,
	};

	build(fx, m, N(m), &plain);
	refused(fx, "member 'MANIFEST.json' follows MANIFEST.json", NULL);
}

static void a_manifest_that_is_not_a_file_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member link[] = {
		ML("MANIFEST.json", "depot.db", .unlisted = 1),
		MANIFEST_HERE,
	};
	/* tar names a directory "MANIFEST.json/": no manifest, a name depot does not write. */
	static const struct member dir[] = {
		MD("MANIFEST.json", .unlisted = 1),
		MANIFEST_HERE,
	};

	build(fx, link, N(link), &plain);
	refused(fx, "MANIFEST.json is not a file", NULL);
	build(fx, dir, N(dir), &plain);
	refused(fx, "member 'MANIFEST.json' is not something a depot backup holds", NULL);
}

static void manifest_entries_out_of_order_are_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1"),
		MF("content/b", "2"),
		MF("content/c", "3"),
	};

	build(fx, m, N(m), &(struct build){ .swap = 1 });
	refused(fx, "member 'content/a' is not in the manifest, or not in its place", "'content/b'");
	build(fx, m, N(m), &(struct build){ .swap = 2 });
	refused(fx, "member 'content/b' is not in the manifest, or not in its place", "'content/c'");
}

static void a_member_missing_from_the_manifest_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member middle[] = {
		MF("content/a", "1"),
		MF("content/b", "2", .unlisted = 1),
		MF("content/c", "3"),
	};
	static const struct member last[] = {
		MF("content/a", "1"),
		MD("content/z", .unlisted = 1),
	};
	static const struct member only_db[] = {
		MF("content/a", "1", .unlisted = 1),
	};

	build(fx, middle, N(middle), &plain);
	refused(fx, "member 'content/b' is not in the manifest", NULL);
	build(fx, last, N(last), &plain);
	refused(fx, "member 'content/z' is not in the manifest", NULL);
	build(fx, only_db, N(only_db), &plain);
	refused(fx, "member 'content/a' is not in the manifest", NULL);
}

static void a_manifest_entry_missing_from_the_archive_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member middle[] = {
		MF("content/a", "1"),
		MF("content/ghost", "2", .phantom = 1),
		MF("content/c", "3"),
	};
	static const struct member last[] = {
		MF("content/a", "1"),
		ML("publish/r/ghost", "x", .phantom = 1),
	};
	/* An entry naming a directory the archive made only as a parent. */
	static const struct member parent[] = {
		MD("content/d", .phantom = 1),
		MF("content/d/a", "1"),
	};

	build(fx, middle, N(middle), &plain);
	refused(fx, "member 'content/ghost' of the manifest is missing from the archive", NULL);
	build(fx, last, N(last), &plain);
	refused(fx, "member 'publish/r/ghost' of the manifest is missing from the archive", NULL);
	build(fx, parent, N(parent), &plain);
	refused(fx, "member 'content/d' of the manifest is missing from the archive", NULL);
}

static void a_wrong_sha256_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1", .msha = SHA_HELLO),
	};
	static const struct member link[] = {
		MF("content/t", "1"),
		ML("publish/r/l", "x"),
	};
	static const struct member db[] = {
		MF("depot.conf", "", .msha = SHA_ZERO),
	};
	static const char manifest[] =
	    "{\"format\":1,\"members\":[{\"path\":\"depot.db\",\"type\":\"file\",\"size\":%zu,"
	    "\"sha256\":\"%s\"},{\"path\":\"content/t\",\"type\":\"file\",\"size\":1,\"sha256\":"
	    "\"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\"},"
	    "{\"path\":\"publish/r/l\",\"type\":\"symlink\",\"target\":\"y\"}]}";
	char sha[65], text[1024];

	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/a' does not match its sha256 in the manifest", NULL);
	build(fx, db, N(db), &plain);
	refused(fx, "member 'depot.conf' does not match its sha256", NULL);
	/* A link's target is checked the same way. */
	sha_hex(DB, DBLEN, sha);
	snprintf(text, sizeof text, manifest, DBLEN, sha);
	build(fx, link, N(link), &(struct build){ .manifest = text });
	refused(fx, "member 'publish/r/l' does not match its link target in the manifest", NULL);
}

static void a_wrong_size_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member more[] = {
		MF("content/a", "1", .msize = 1),
	};
	static const struct member less[] = {
		MF("content/a", "12", .msize = -1),
	};

	build(fx, more, N(more), &plain);
	refused(fx, "member 'content/a' has 1 bytes, the manifest says 2", NULL);
	build(fx, less, N(less), &plain);
	refused(fx, "member 'content/a' has 2 bytes, the manifest says 1", NULL);
}

static void a_manifest_that_lies_about_a_type_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MD("content/d"),
	};
	char sha[65], text[1024];

	sha_hex(DB, DBLEN, sha);
	snprintf(text, sizeof text, "{\"format\":1,\"members\":[{\"path\":\"depot.db\",\"type\":"
	    "\"file\",\"size\":%zu,\"sha256\":\"%s\"},{\"path\":\"content/d\",\"type\":\"file\","
	    "\"size\":0,\"sha256\":\"%s\"}]}", DBLEN, sha, SHA_ZERO);
	build(fx, m, N(m), &(struct build){ .manifest = text });
	refused(fx, "member 'content/d' is a directory, the manifest says file", NULL);
}

static void a_bad_depot_conf_is_refused_naming_its_line(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("depot.conf", "[daemon]\nworkers = lots\n", .mode = 0600),
	};

	build(fx, m, N(m), &plain);
	refused(fx, "its depot.conf would stop depotd", "depot.conf:2");
}

/* --- lengths and limits ---------------------------------------------------------------------- */

static void a_path_of_4096_bytes_is_refused_and_4095_accepted(void **state)
{
	struct fx *fx = *state;
	char b4096[4097], b4095[4096];
	char *p4096 = long_path(b4096, 4096, 255), *p4095 = long_path(b4095, 4095, 255);
	struct member over[] = { MF(p4096, "x") };
	struct member fits[] = { MF(p4095, "x") };
	struct verdict v;
	int fd;

	assert_int_equal(strlen(p4096), 4096);
	assert_int_equal(strlen(p4095), 4095);
	build(fx, over, N(over), &plain);
	refused(fx, "a member's path is longer than 4095 bytes", NULL);
	build(fx, fits, N(fits), &plain);
	accepted(fx, &v);
	/* Extracted: read back from the staging directory. */
	fd = open(fx->x, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (char *p = p4095, *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		int sub;
		*slash = '\0';
		sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		*slash = '/';
		assert_true(sub >= 0);
		close(fd);
		fd = sub;
	}
	{
		int f = openat(fd, strrchr(p4095, '/') + 1, O_RDONLY | O_NOFOLLOW);
		char buf[4];
		assert_true(f >= 0);
		assert_int_equal(read(f, buf, sizeof buf), 1);
		assert_int_equal(buf[0], 'x');
		close(f);
	}
	close(fd);
}

/*
 * restore_run removes a refused staging directory with fs_remove_tree: it
 * must go whole even when its paths, with the staging directory's own,
 * are longer than PATH_MAX (DESIGN §9: a bad archive changes nothing).
 */
static void a_refused_staging_tree_of_the_longest_paths_is_removed_as_restore_removes_it(void **state)
{
	struct fx *fx = *state;
	char p4095[4096];
	struct member m[] = {
		MF(long_path(p4095, 4095, 255), "x"),
		MF("content/bad", "1", .msha = SHA_ZERO),
	};
	struct backup_limits lim;
	struct backup_summary sum;
	char err[2048];

	build(fx, m, N(m), &plain);
	backup_limits_default(&lim);
	assert_int_equal(mkdir(fx->x, 0700), 0);
	assert_int_equal(backup_read(fx->archive, fx->x, &lim, &sum, err, sizeof err), -1);
	assert_non_null(strstr(err, "member 'content/bad' does not match its sha256"));
	/* The file was written before the refusal: there is a deep tree to remove. */
	assert_int_equal(dir_entries(fx->x), 2);
	fs_remove_tree(fx->x);
	if (access(fx->x, F_OK) == 0)
		fail_msg("fs_remove_tree left %s (%d names in it) behind", fx->x, dir_entries(fx->x));
}

static void a_component_of_256_bytes_is_refused(void **state)
{
	struct fx *fx = *state;
	char n255[300], n256[300];
	struct member ok[] = { MF(n255, "x") };
	struct member over[] = { MF(n256, "x") };
	struct member dir[] = { MF(n256, "x") };
	char p[600];
	struct verdict v;

	snprintf(n255, sizeof n255, "content/%0255d", 7);
	snprintf(n256, sizeof n256, "content/%0256d", 7);
	assert_int_equal(strlen(n255), 8 + 255);
	build(fx, ok, N(ok), &plain);
	accepted(fx, &v);
	build(fx, over, N(over), &plain);
	snprintf(p, sizeof p, "member '%s' has a name longer than 255 bytes", n256);
	refused(fx, p, NULL);
	/* A directory on the way, not only the last name. */
	snprintf(n256, sizeof n256, "publish/%0256d/f", 7);
	build(fx, dir, N(dir), &plain);
	snprintf(p, sizeof p, "member '%s' has a name longer than 255 bytes", n256);
	refused(fx, p, NULL);
}

/*
 * Two 4 KiB links in a row make the resolver's rest longer than its buffer:
 * a cut there once dropped the "../.." at the end, so the check saw a path
 * inside publish/ while the kernel went out (an attacker's review found it).
 */
static void a_symlink_whose_resolution_outgrows_the_buffer_is_refused(void **state)
{
	struct fx *fx = *state;
	char *n = calloc(1, 4096), *mm = calloc(1, 4096), *a = calloc(1, 4096);
	size_t i, k;

	for (i = 0; i < 2047; i++)
		memcpy(n + 2 * i, "./", 2);
	strcat(n, ".");
	strcpy(mm, "N/");
	for (i = 0; i < 2046; i++)
		strcat(mm, "./");
	strcat(mm, ".");
	strcpy(a, "M/");
	for (i = 0, k = strlen(a); i < 1900; i++, k += 2)
		memcpy(a + k, "./", 2);
	for (i = 0; i < 12; i++, k += 3)
		memcpy(a + k, "../", 3);
	strcpy(a + k, "etc/passwd");
	{
		const struct member m[] = {
			MD("publish/d"),
			ML("publish/d/N", n),
			ML("publish/d/M", mm),
			ML("publish/d/A", a),
		};
		build(fx, m, N(m), &plain);
		refused(fx, "member 'publish/d/A' is a symlink", NULL);
	}
	free(n);
	free(mm);
	free(a);
}

/* Directories only named as parents count as members and take space, so depth buys nothing. */
static void parent_directories_count_against_restore_max_members(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a/b/c/d/e/f", "1"),
	};
	struct backup_limits lim;

	build(fx, m, N(m), &plain);
	backup_limits_default(&lim);
	/* depot.db, the file and its six parents: eight. */
	lim.max_members = 8;
	accepted_lim(fx, &lim);
	lim.max_members = 7;
	refused_lim(fx, &lim, "more than 7 members and directories (restore_max_members)", NULL);
}

/* The top level is what a data directory needs: content/, publish/, logs/ directories. */
static void top_level_names_of_the_wrong_type_are_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member file[] = {
		MF("content", "not a directory"),
	};
	static const struct member under_conf[] = {
		MF("depot.conf/x", "1"),
	};

	build(fx, file, N(file), &plain);
	refused(fx, "member 'content' is a file, not a directory", NULL);
	build(fx, under_conf, N(under_conf), &plain);
	refused(fx, "member 'depot.conf/x' lies under a file of the data directory", NULL);
}

static void more_members_than_restore_max_members_are_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MD("content"),
		MF("content/a", "1"),
		MF("content/b", "2"),
		MF("content/c", "3"),
	};
	struct backup_limits lim;
	struct verdict v;

	build(fx, m, N(m), &plain);
	backup_limits_default(&lim);
	/* depot.db and the four: five members, the manifest not counted. */
	lim.max_members = 5;
	decide(fx, &lim, &v);
	if (v.rc != 0)
		fail_msg("refused at the limit: %s", v.err);
	assert_int_equal(v.sum.members, 5);
	lim.max_members = 4;
	refused_lim(fx, &lim, "the archive has more than 4 members (restore_max_members)", NULL);
	lim.max_members = 1;
	refused_lim(fx, &lim, "the archive has more than 1 members (restore_max_members)", NULL);
}

/* A manifest of the archive's own members, with text put before "members". */
static void build_with_head(struct fx *fx, const char *head)
{
	static const struct member m[] = {
		MF("content/a", "1"),
	};

	build(fx, m, N(m), &(struct build){ .head = head });
}

static void manifest_strings_over_the_caps_are_refused(void **state)
{
	struct fx *fx = *state;
	static char big[8192], fits[8192], text[16384];
	static const struct member m[] = {
		MF("content/a", "1"),
	};
	char path[4097], sha[65];
	struct verdict v;

	/* created_at is read into 4 KiB; an unknown key's string is skipped through 4 KiB too. */
	snprintf(big, sizeof big, "\"created_at\":\"%04096d\",", 0);
	build_with_head(fx, big);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "a string is longer than 4095 bytes");
	snprintf(big, sizeof big, "\"note\":\"%04096d\",", 0);
	build_with_head(fx, big);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "a string is longer than 4095 bytes");
	snprintf(fits, sizeof fits, "\"note\":\"%04095d\",", 0);
	build_with_head(fx, fits);
	accepted(fx, &v);
	/* Keys are short: 31 bytes at most. */
	snprintf(big, sizeof big, "\"%032d\":1,", 0);
	build_with_head(fx, big);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "a string is longer than 31 bytes");
	/* An entry's path longer than any member's. */
	sha_hex(DB, DBLEN, sha);
	snprintf(text, sizeof text, "{\"format\":1,\"members\":[{\"path\":\"depot.db\",\"type\":\"file\","
	    "\"size\":%zu,\"sha256\":\"%s\"},{\"path\":\"%s\",\"type\":\"file\",\"size\":1,"
	    "\"sha256\":\"%s\"}]}", DBLEN, sha, long_path(path, 4096, 200), SHA_ZERO);
	build(fx, m, N(m), &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json is not a valid depot manifest", "a string is longer than 4095 bytes");
	/* And a type longer than any type. */
	snprintf(text, sizeof text, "{\"format\":1,\"members\":[{\"path\":\"depot.db\",\"type\":"
	    "\"filefilefilefilefile\",\"size\":%zu,\"sha256\":\"%s\"}]}", DBLEN, sha);
	build(fx, m, N(m), &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json is not a valid depot manifest", "a string is longer than 15 bytes");
}

/* "x": levels nested arrays, empty at the bottom, before "members". */
static void build_with_nesting(struct fx *fx, char *head, size_t levels)
{
	char *p = head + sprintf(head, "\"x\":");

	memset(p, '[', levels);
	memset(p + levels, ']', levels);
	strcpy(p + 2 * levels, ",");
	build_with_head(fx, head);
}

static void deep_nesting_in_an_unknown_manifest_key_is_refused(void **state)
{
	struct fx *fx = *state;
	static char head[2 * 100000 + 16];
	struct verdict v;

	build_with_head(fx, "\"extra\":{\"a\":[1,{\"b\":null}],\"c\":true},");
	accepted(fx, &v);
	build_with_nesting(fx, head, 64);
	accepted(fx, &v);
	build_with_nesting(fx, head, 100000);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "nested more than 64 deep");
	build_with_nesting(fx, head, 66);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "nested more than 64 deep");
	/* The first level past the limit, even with nothing at its bottom. */
	build_with_nesting(fx, head, 65);
	refused(fx, "MANIFEST.json is not a valid depot manifest", "nested more than 64 deep");
}

static void a_manifest_of_another_format_is_refused(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/a", "1"),
	};
	char sha[65], text[1024];

	build(fx, m, N(m), &(struct build){ .format = 3 });
	refused(fx, "MANIFEST.json: format 3 is not one this depot reads (1 or 2)", NULL);
	sha_hex(DB, DBLEN, sha);
	snprintf(text, sizeof text, "{\"members\":[{\"path\":\"depot.db\",\"type\":\"file\","
	    "\"size\":%zu,\"sha256\":\"%s\"}]}", DBLEN, sha);
	build(fx, NULL, 0, &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json: format -1 is not one this depot reads", NULL);
	snprintf(text, sizeof text, "{\"format\":\"1\",\"members\":[]}");
	build(fx, NULL, 0, &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json is not a valid depot manifest", "expected a whole number");
	snprintf(text, sizeof text, "{\"format\":1}");
	build(fx, NULL, 0, &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json has no members list", NULL);
	snprintf(text, sizeof text, "{\"format\":1,\"members\":[],\"members\":[]}");
	build(fx, NULL, 0, &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json lists its members twice", NULL);
	snprintf(text, sizeof text, "{\"format\":1,\"members\":[]} {}");
	build(fx, NULL, 0, &(struct build){ .manifest = text });
	refused(fx, "MANIFEST.json is not a valid depot manifest", "text after the end");
}

static void a_non_utf8_member_path_is_refused_without_echoing_it(void **state)
{
	struct fx *fx = *state;
	static const struct member m[] = {
		MF("content/caf\xe9", "x"),
	};
	static const struct member overlong[] = {
		MF("content/\xc0\xaf", "x"),
	};
	struct verdict v;
	struct backup_limits lim;

	build(fx, m, N(m), &(struct build){ .binary_names = 1 });
	refused(fx, "a member's path is not valid UTF-8", NULL);
	backup_limits_default(&lim);
	decide(fx, &lim, &v);
	assert_null(strchr(v.err, '\xe9'));
	build(fx, overlong, N(overlong), &(struct build){ .binary_names = 1 });
	refused(fx, "a member's path is not valid UTF-8", NULL);
}

/* --- format 2: BACKUP.json, and chains of incrementals ----------------------------------- */

#define MAXC 8

/*
 * One format 2 archive in fx->root: the content it carries (each file named
 * by its data's sha256), its publication (repository r, version 1, a hard
 * link to content for each file) and what its database's complete version
 * references. An incomplete version 2 always references content nobody
 * holds: only complete versions count.
 */
struct f2 {
	const char *file;
	const char *base;		/* the archive in fx->root it names; NULL: a full */
	const char *carry[MAXC];
	const char *publish[MAXC];
	const char *refs[MAXC];
	const char *holds;		/* the 'holds' array's text instead of the carried content's */
	const char *lie;		/* carried under this data's sha256 instead of carry[0]'s */
	const char *kind;		/* instead of full or incremental */
	int base_null;			/* "base": null, whatever the kind */
	const char *base_name;		/* the name to give the base instead of base */
	const char *base_sha;		/* its sha256 instead of the file's */
	long long base_size;		/* its size instead of the file's (0: the file's) */
	const char *base_header;	/* the sha256 of its BACKUP.json to record, or NULL */
	const char *under;		/* a directory of fx->root to write it in */
	int manifest_format;		/* instead of 2 */
	const char *manifest_kind;	/* the manifest's "kind" instead of the header's */
};

static void file_hex(const char *path, char *hex, long long *size)
{
	size_t len;
	char *data = read_all(path, &len);

	assert_non_null(data);
	sha_hex(data, len, hex);
	*size = (long long)len;
	free(data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A depot.db of schema 6 whose version r/1 (complete) references refs, and r/2 (incomplete) SHA_ZERO. */
static char *make_db(const char *const *refs, size_t *len)
{
	char dir[] = "/tmp/dp-bfmt-db2.XXXXXX", path[64], sql[512], sha[65], *data;
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/depot.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=6;"
	    "CREATE TABLE tasks(id INTEGER PRIMARY KEY);"
	    "CREATE TABLE versions(repo TEXT NOT NULL, number INTEGER NOT NULL,"
	    " complete INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (repo, number));"
	    "CREATE TABLE version_files(repo TEXT NOT NULL, number INTEGER NOT NULL,"
	    " path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL);"
	    "INSERT INTO versions VALUES ('r', 1, 1), ('r', 2, 0);"
	    "INSERT INTO version_files VALUES ('r', 2, 'gone', '" SHA_ZERO "', 0);",
	    NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < MAXC && refs[i] != NULL; i++) {
		sha_hex(refs[i], strlen(refs[i]), sha);
		snprintf(sql, sizeof sql, "INSERT INTO version_files VALUES ('r', 1, 'f%zu', '%s', %zu)",
		    i, sha, strlen(refs[i]));
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);
	assert_non_null(data = read_all(path, len));
	rm_tree(dir);
	return data;
}

static void content_path(const char *data, char *out, size_t n)
{
	char sha[65];

	sha_hex(data, strlen(data), sha);
	snprintf(out, n, "content/sha256/%.2s/%s", sha, sha);
}

/* Writes archive a into fx->root (a.tar is fx->archive), as daemon/backup.c lays format 2 out. */
static void build_f2(struct fx *fx, const struct f2 *a)
{
	struct member m[64];
	char *names[MAXC], paths[3 * MAXC][128], header[4096], head[128], base[512], out[256];
	char sha[65], *db;
	size_t n = 0, nc = 0, np = 0, dblen;
	struct sbuf holds = { 0 };
	int existed;

	for (; nc < MAXC && a->carry[nc] != NULL; nc++) {
		assert_non_null(names[nc] = malloc(200));
		sha_hex(nc == 0 && a->lie ? a->lie : a->carry[nc], strlen(nc == 0 && a->lie ? a->lie :
		    a->carry[nc]), sha);
		snprintf(names[nc], 200, "%s%s", sha, a->carry[nc]);	/* sorts by sha, keeps the data */
	}
	qsort(names, nc, sizeof *names, cmp_str);
	sb_add(&holds, "[");
	for (size_t i = 0; i < nc; i++)
		sb_add(&holds, "%s\"%.64s\"", i ? "," : "", names[i]);
	sb_add(&holds, "]");
	if (a->base != NULL && !a->base_null) {
		char bpath[256], bsha[65];
		long long bsize;
		snprintf(bpath, sizeof bpath, "%s/%s%s%s", fx->root, a->under ? a->under : "",
		    a->under ? "/" : "", a->base);
		/* A base yet to be written is named by the sha256 and size given. */
		if (access(bpath, F_OK) == 0)
			file_hex(bpath, bsha, &bsize);
		else
			bsize = 0, snprintf(bsha, sizeof bsha, "%s", SHA_ZERO);
		snprintf(base, sizeof base, "{\"file\":\"%s\",\"sha256\":\"%s\",\"size\":%lld%s%s%s}",
		    a->base_name ? a->base_name : a->base, a->base_sha ? a->base_sha : bsha,
		    a->base_size ? a->base_size : bsize, a->base_header ? ",\"header_sha256\":\"" : "",
		    a->base_header ? a->base_header : "", a->base_header ? "\"" : "");
	} else {
		snprintf(base, sizeof base, "null");
	}
	snprintf(header, sizeof header, "{\"format\":2,\"kind\":\"%s\",\"created_at\":\"%s\","
	    "\"depot_version\":\"%s\",\"task_id\":7,\"base\":%s,\"holds\":%s}\n",
	    a->kind ? a->kind : a->base ? "incremental" : "full", CREATED, VERSION, base,
	    a->holds ? a->holds : holds.p);
	snprintf(head, sizeof head, "\"kind\":\"%s\",", a->manifest_kind ? a->manifest_kind :
	    a->kind ? a->kind : a->base ? "incremental" : "full");
	m[n++] = (struct member)MD("content");
	m[n++] = (struct member)MD("content/sha256");
	for (size_t i = 0; i < nc; i++) {
		if (i == 0 || strncmp(names[i], names[i - 1], 2) != 0) {
			snprintf(paths[np], sizeof paths[np], "content/sha256/%.2s", names[i]);
			m[n++] = (struct member)MD(paths[np++]);
		}
		snprintf(paths[np], sizeof paths[np], "content/sha256/%.2s/%.64s", names[i], names[i]);
		m[n++] = (struct member)MF(paths[np++], names[i] + 64);
	}
	m[n++] = (struct member)MD("publish");
	m[n++] = (struct member)MD("publish/r");
	m[n++] = (struct member)MD("publish/r/versions");
	m[n++] = (struct member)MD("publish/r/versions/1");
	for (size_t i = 0; i < MAXC && a->publish[i] != NULL; i++) {
		char *file = paths[np++], *target = paths[np++];
		snprintf(file, sizeof paths[0], "publish/r/versions/1/f%zu", i);
		content_path(a->publish[i], target, sizeof paths[0]);
		m[n++] = (struct member)MH(file, target);
	}
	m[n++] = (struct member)ML("publish/r/current", "versions/1");
	db = make_db(a->refs, &dblen);
	snprintf(out, sizeof out, "%s/%s%s%s", fx->root, a->under ? a->under : "",
	    a->under ? "/" : "", a->file);
	existed = access(out, F_OK) == 0;
	build(fx, m, n, &(struct build){ .header = header, .db = db, .dblen = dblen, .out = out,
	    .format = a->manifest_format ? a->manifest_format : 2, .head = head });
	if (!existed && a->under == NULL && strcmp(out, fx->archive) != 0)
		fx->extra++;
	for (size_t i = 0; i < nc; i++)
		free(names[i]);
	free(holds.p);
	free(db);
}
/* Reads fx->archive as its chain with --base files bases; accepted, or refused saying why and also. */
static void chain_verdict(struct fx *fx, const char *const *bases, size_t nbases, const char *why,
    const char *also, struct backup_bases *ch, struct verdict *v)
{
	struct backup_limits lim;

	backup_limits_default(&lim);
	memset(ch, 0, sizeof *ch);
	ch->files = bases;
	ch->nfiles = nbases;
	decide_chain(fx, &lim, ch, v);
	if (why == NULL && v->rc != 0)
		fail_msg("refused: %s", v->err);
	if (why != NULL && v->rc == 0)
		fail_msg("accepted, not refused for '%s'", why);
	if (why != NULL && strstr(v->err, why) == NULL)
		fail_msg("'%s' does not say '%s'", v->err, why);
	if (also != NULL && strstr(v->err, also) == NULL)
		fail_msg("'%s' does not say '%s'", v->err, also);
}

static void chain_refused(struct fx *fx, const char *const *bases, size_t nbases, const char *why,
    const char *also)
{
	struct backup_bases ch;
	struct verdict v;

	chain_verdict(fx, bases, nbases, why, also, &ch, &v);
	backup_bases_free(&ch);
}

static void chain_accepted(struct fx *fx, const char *const *bases, size_t nbases)
{
	struct backup_bases ch;
	struct verdict v;

	chain_verdict(fx, bases, nbases, NULL, NULL, &ch, &v);
	backup_bases_free(&ch);
}

/* The staged file at rel holds data, and is the same file as the staged content of data. */
static void staged_as(struct fx *fx, const char *rel, const char *data)
{
	char p[512], c[256], *got;
	struct stat a, b;
	size_t len;

	content_path(data, c, sizeof c);
	snprintf(p, sizeof p, "%s/%s", fx->x, c);
	assert_int_equal(lstat(p, &b), 0);
	snprintf(p, sizeof p, "%s/%s", fx->x, rel);
	assert_int_equal(lstat(p, &a), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_non_null(got = read_all(p, &len));
	assert_string_equal(got, data);
	free(got);
}

static void flip_byte(const char *path, long at)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	unsigned char c;
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (at < 0)
		at += st.st_size;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

/* Where in the file data first appears. */
static long offset_of(const char *path, const char *data)
{
	size_t len;
	char *all = read_all(path, &len), *at;
	long off;

	assert_non_null(all);
	at = memmem(all, len, data, strlen(data));
	assert_non_null(at);
	off = at - all;
	free(all);
	return off;
}

static const struct f2 full = {
	.file = "full.tar", .carry = { "one\n", "two\n" }, .publish = { "one\n", "two\n" },
	.refs = { "one\n", "two\n" },
};
static const struct f2 inc1 = {
	.file = "i1.tar", .base = "full.tar", .carry = { "three\n" },
	.publish = { "one\n", "three\n" }, .refs = { "one\n", "two\n", "three\n" },
};
static const struct f2 inc2 = {
	.file = "a.tar", .base = "i1.tar", .carry = { "four\n" },
	.publish = { "two\n", "three\n", "four\n" }, .refs = { "four\n", "one\n", "two\n", "three\n" },
};

static void a_chain_is_read_oldest_first_into_the_newest_state(void **state)
{
	struct fx *fx = *state;
	struct backup_bases ch;
	struct verdict v;
	char p[512], c[128], *data, *want;
	size_t len, wlen;

	build_f2(fx, &full);
	build_f2(fx, &inc1);
	build_f2(fx, &inc2);
	chain_verdict(fx, NULL, 0, NULL, NULL, &ch, &v);
	assert_int_equal(v.sum.format, 2);
	assert_string_equal(v.sum.kind, "incremental");
	assert_int_equal(v.sum.chain, 3);
	assert_int_equal(ch.nread, 3);
	assert_string_equal(ch.read[0].path, fx->archive);
	assert_string_equal(ch.read[0].kind, "incremental");
	assert_non_null(strstr(ch.read[1].path, "/i1.tar"));
	assert_non_null(strstr(ch.read[2].path, "/full.tar"));
	assert_string_equal(ch.read[2].kind, "full");
	assert_string_equal(ch.read[2].created_at, CREATED);
	/* BACKUP.json, depot.db, content, content/sha256, its fan directory, a file, publish's 4, 3 links and current. */
	assert_int_equal(ch.read[0].members, 14);
	backup_bases_free(&ch);
	/* The content of every archive; the publication and the database of the newest only. */
	staged_as(fx, "publish/r/versions/1/f0", "two\n");
	staged_as(fx, "publish/r/versions/1/f1", "three\n");
	staged_as(fx, "publish/r/versions/1/f2", "four\n");
	staged_as(fx, "publish/r/current/f0", "two\n");
	content_path("one\n", c, sizeof c);
	snprintf(p, sizeof p, "%s/%s", fx->x, c);
	assert_int_equal(access(p, F_OK), 0);
	snprintf(p, sizeof p, "%s/publish/r/versions/1/f3", fx->x);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof p, "%s/depot.db", fx->x);
	assert_non_null(data = read_all(p, &len));
	assert_non_null(want = make_db(inc2.refs, &wlen));
	assert_int_equal(len, wlen);
	free(data);
	free(want);
	assert_int_equal(dir_entries(fx->x), 3);
	snprintf(p, sizeof p, "%s/content/sha256", fx->x);
	/* one, two, three and four: each its own fan directory here. */
	assert_int_equal(dir_entries(p), 4);
}

static void holds_must_list_exactly_the_content_members(void **state)
{
	struct fx *fx = *state;
	struct f2 a = full;
	char holds[256], one[65], two[65];

	a.file = "a.tar";
	build_f2(fx, &a);
	chain_accepted(fx, NULL, 0);
	sha_hex("one\n", 4, one);
	sha_hex("two\n", 4, two);
	/* Listed, not carried. */
	snprintf(holds, sizeof holds, "[\"%s\",\"%s\",\"%s\"]", SHA_ZERO, strcmp(one, two) < 0 ?
	    one : two, strcmp(one, two) < 0 ? two : one);
	a.holds = holds;
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "BACKUP.json lists content " SHA_ZERO " in 'holds', and the "
	    "archive has no member content/sha256/00/" SHA_ZERO, NULL);
	/* Carried, not listed. */
	snprintf(holds, sizeof holds, "[\"%s\"]", one);
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, two, "is content that BACKUP.json does not list in 'holds'");
	/* Carried under a name that is not its sha256. */
	a.holds = NULL;
	a.lie = "eleven\n";
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "holds data whose sha256 is", "not its name");
}

static void a_format_2_archive_is_laid_out_as_the_format_says(void **state)
{
	struct fx *fx = *state;
	struct f2 a = full;
	static const struct member late[] = {
		MF("BACKUP.json", "{}"),
	};
	static const struct member odd[] = {
		MD("content"),
		MF("content/sha256", "x"),
	};

	a.file = "a.tar";
	a.manifest_format = 1;
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "MANIFEST.json: format 1, and the archive's first member is "
	    "BACKUP.json", NULL);
	build(fx, valid, N(valid), &(struct build){ .format = 2 });
	refused(fx, "MANIFEST.json: format 2, and the archive's first member is not BACKUP.json",
	    NULL);
	a.manifest_format = 0;
	a.manifest_kind = "incremental";
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "MANIFEST.json says the backup is incremental, its BACKUP.json "
	    "says full", NULL);
	/* Only first. */
	build(fx, late, N(late), &plain);
	refused(fx, "member 'BACKUP.json' is not the archive's first", NULL);
	build(fx, odd, N(odd), &(struct build){ .header = "{\"format\":2,\"kind\":\"full\","
	    "\"base\":null,\"holds\":[]}", .format = 2 });
	refused(fx, "member 'content/sha256' is a file, not a directory", NULL);
}

static void an_incremental_links_only_what_its_chain_holds(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1, f = full;

	a.file = "a.tar";
	/* A full links only its own content. */
	f.file = "a.tar";
	f.publish[2] = "three\n";
	build_f2(fx, &f);
	chain_refused(fx, NULL, 0, "member 'publish/r/versions/1/f2' is a hard link to 'content/",
	    "which is not a file earlier in the archive, nor content a base of its chain holds");
	build_f2(fx, &full);
	a.publish[2] = "five\n";
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "member 'publish/r/versions/1/f2' is a hard link",
	    "nor content a base of its chain holds");
	/* What the base holds is not carried again. */
	a.publish[2] = NULL;
	a.carry[1] = "two\n";
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "BACKUP.json lists content", "which its base full.tar already holds");
}

static void a_missing_base_is_refused_naming_it_and_found_with_base(void **state)
{
	struct fx *fx = *state;
	struct f2 f = full, a = inc1;
	char dir[128], moved[160], decoy[160], want[512];
	const char *bases[2];
	size_t len;
	char *data;
	FILE *out;

	snprintf(dir, sizeof dir, "%s/elsewhere", fx->root);
	assert_int_equal(mkdir(dir, 0700), 0);
	fx->extra++;
	f.under = "elsewhere";
	a.under = "elsewhere";
	build_f2(fx, &f);
	a.file = "a.tar";
	build_f2(fx, &a);
	snprintf(moved, sizeof moved, "%s/a.tar", dir);
	assert_int_equal(rename(moved, fx->archive), 0);
	snprintf(want, sizeof want, "a.tar needs its base full.tar, which is not beside it in %s "
	    "nor given with --base", fx->root);
	chain_refused(fx, NULL, 0, want, NULL);
	/* Nothing of the chain was extracted. */
	assert_int_equal(dir_entries(fx->x), 0);
	snprintf(moved, sizeof moved, "%s/full.tar", dir);
	bases[0] = moved;
	chain_accepted(fx, bases, 1);
	/* By its sha256, whatever its name; among others of its size, by hashing them. */
	snprintf(decoy, sizeof decoy, "%s/decoy.tar", dir);
	assert_non_null(data = read_all(moved, &len));
	assert_non_null(out = fopen(decoy, "w"));
	assert_int_equal(fwrite(data, 1, len, out), len);
	fclose(out);
	free(data);
	flip_byte(decoy, -1);
	snprintf(want, sizeof want, "%s/renamed.tar", dir);
	assert_int_equal(rename(moved, want), 0);
	bases[0] = decoy;
	bases[1] = want;
	chain_accepted(fx, bases, 2);
	/* One of its size is taken, and refused when it is not the one. */
	chain_refused(fx, bases, 1, "decoy.tar, the base a.tar names, is not that archive: its "
	    "sha256 is", "(altered, or another archive of that name)");
}

static void an_altered_base_is_refused_naming_it(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1;
	char base[128];

	a.file = "a.tar";
	build_f2(fx, &full);
	build_f2(fx, &a);
	chain_accepted(fx, NULL, 0);
	snprintf(base, sizeof base, "%s/full.tar", fx->root);
	/* In a member's data: the member is damaged, and it is the file's sha256 that says why. */
	flip_byte(base, offset_of(base, "two\n"));
	chain_refused(fx, NULL, 0, "full.tar, the base a.tar names, is not that archive: its sha256 is",
	    "(altered, or another archive of that name)");
	build_f2(fx, &full);
	/* In the padding after the end, which no member holds. */
	flip_byte(base, -1);
	chain_refused(fx, NULL, 0, "full.tar, the base a.tar names, is not that archive", NULL);
	build_f2(fx, &full);
	chain_accepted(fx, NULL, 0);
}

/* The sha256 of the base's BACKUP.json, when its child records it; a base beside it through a symlink. */
static void a_base_is_held_to_its_recorded_header_and_read_through_links(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1;
	struct backup_header h;
	struct backup_bases ch;
	struct verdict v;
	char base[128], real[128], err[256];

	a.file = "a.tar";
	build_f2(fx, &full);
	snprintf(base, sizeof base, "%s/full.tar", fx->root);
	assert_int_equal(backup_header_read(base, 100, &h, err, sizeof err), 1);
	backup_header_free(&h);
	a.base_header = h.header_sha256;
	build_f2(fx, &a);
	chain_accepted(fx, NULL, 0);
	a.base_header = SHA_ZERO;
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "full.tar, the base a.tar names, has a BACKUP.json whose sha256 "
	    "is", "and a.tar says " SHA_ZERO);
	/* Beside it as a symlink: the file it names is read, and named. */
	a.base_header = NULL;
	build_f2(fx, &a);
	snprintf(real, sizeof real, "%s/real.tar", fx->root);
	assert_int_equal(rename(base, real), 0);
	assert_int_equal(symlink("real.tar", base), 0);
	fx->extra++;
	chain_verdict(fx, NULL, 0, NULL, NULL, &ch, &v);
	assert_string_equal(ch.read[1].path, real);
	backup_bases_free(&ch);
}

static void a_base_of_another_size_is_refused(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1;
	char base[128], want[256];
	long long size;

	a.file = "a.tar";
	build_f2(fx, &full);
	snprintf(base, sizeof base, "%s/full.tar", fx->root);
	file_hex(base, want, &size);
	a.base_size = size + 1;
	build_f2(fx, &a);
	snprintf(want, sizeof want, "full.tar, the base a.tar names, has %lld bytes, and a.tar says "
	    "%lld", size, size + 1);
	chain_refused(fx, NULL, 0, want, NULL);
}

static void a_loop_is_refused(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1, b = inc1;
	char path[128], hex[65];
	long long size, bsize;

	/* An archive that names itself. */
	a.file = "a.tar";
	a.base = "a.tar";
	a.base_sha = SHA_ZERO;
	a.base_size = 99999;
	build_f2(fx, &a);
	file_hex(fx->archive, hex, &size);
	a.base_size = size;
	build_f2(fx, &a);
	file_hex(fx->archive, hex, &bsize);
	assert_int_equal(size, bsize);
	chain_refused(fx, NULL, 0, "the chain of a.tar loops", "the base a.tar names, is already in it");
	/* Two that name each other. */
	b.file = "b.tar";
	b.base = "a.tar";
	b.base_sha = SHA_ZERO;
	b.base_size = size;
	build_f2(fx, &b);
	a.base = "b.tar";
	a.base_sha = NULL;
	a.base_size = 0;
	build_f2(fx, &a);
	file_hex(fx->archive, hex, &bsize);
	assert_int_equal(size, bsize);
	snprintf(path, sizeof path, "%s/b.tar", fx->root);
	chain_refused(fx, NULL, 0, "the chain of a.tar loops", "the base b.tar names, is already in it");
}

static void a_chain_that_does_not_end_in_a_full_is_refused(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1, f = full;
	char base[128];

	a.file = "a.tar";
	/* A format 1 archive has no holds to be based on. */
	snprintf(base, sizeof base, "%s/full.tar", fx->root);
	build(fx, valid, N(valid), &(struct build){ .out = base });
	fx->extra++;
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "full.tar, the base a.tar names, is a format 1 archive (no "
	    "BACKUP.json): the chain does not end in a full backup", NULL);
	/* An incremental with nothing under it. */
	f.kind = "incremental";
	build_f2(fx, &f);
	build_f2(fx, &a);
	chain_refused(fx, NULL, 0, "full.tar, the base a.tar names: BACKUP.json", "an incremental "
	    "backup lacks a 'base'");
}

static void content_a_complete_version_references_must_be_in_the_chain(void **state)
{
	struct fx *fx = *state;
	struct f2 a = inc1, f = full;
	char five[65], want[256];

	sha_hex("five\n", 5, five);
	f.file = "a.tar";
	f.refs[2] = "five\n";
	build_f2(fx, &f);
	snprintf(want, sizeof want, "its depot.db references content %s (in version 1 of "
	    "repository 'r'), which the archive does not hold", five);
	chain_refused(fx, NULL, 0, want, NULL);
	build_f2(fx, &full);
	a.file = "a.tar";
	a.refs[3] = "five\n";
	build_f2(fx, &a);
	snprintf(want, sizeof want, "its depot.db references content %s (in version 1 of "
	    "repository 'r'), which no archive of its chain holds", five);
	chain_refused(fx, NULL, 0, want, NULL);
}

/*
 * A member past HASHPIPE_MIN bytes is hashed and written by threads beside
 * the decompression: every size around the switch comes back whole, in
 * verify and in extract, a depot.conf so large is still read for its check,
 * and a wrong sha256 on a large member is refused as on a small one.
 */
static void large_members_are_hashed_and_written_whole(void **state)
{
	struct fx *fx = *state;
	const size_t sizes[] = { HASHPIPE_MIN - 1, HASHPIPE_MIN, HASHPIPE_MIN + 1,
	    3 * HASHPIPE_CHUNK + 123, 3 * 1024 * 1024 + 7 };
	const size_t most = sizes[N(sizes) - 1], nconf = HASHPIPE_MIN + 4096;
	char *data = malloc(most), *conf = malloc(nconf), path[200], *back;
	struct member m[N(sizes) + 1];
	char names[N(sizes)][32];
	uint32_t x = 88172645u;
	struct verdict v;
	size_t len;

	for (size_t i = 0; i < most; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (char)x;
	}
	/* A depot.conf of comment lines only: valid, and larger than HASHPIPE_MIN. */
	for (size_t i = 0; i < nconf; i++)
		conf[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
	for (size_t i = 0; i < N(sizes); i++) {
		snprintf(names[i], sizeof names[i], "content/b%zu", i);
		m[i] = (struct member)MF(names[i], data + most - sizes[i], .len = sizes[i]);
	}
	m[N(sizes)] = (struct member)MF("depot.conf", conf, .len = nconf);
	build(fx, m, N(m), &plain);
	accepted(fx, &v);
	for (size_t i = 0; i < N(m); i++) {
		snprintf(path, sizeof path, "%s/%s", fx->x, m[i].path);
		back = read_all(path, &len);
		assert_non_null(back);
		assert_int_equal(len, m[i].len);
		assert_memory_equal(back, m[i].data, len);
		free(back);
	}

	m[3].msha = SHA_HELLO;
	build(fx, m, N(m), &plain);
	refused(fx, "member 'content/b3' does not match its sha256 in the manifest", NULL);
	free(data);
	free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_valid_archive_is_accepted_and_extracted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_valid_gzip_archive_is_accepted_and_extracted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_directory_after_its_children_is_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_symlink_through_another_symlink_inside_publish_is_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_read_only_directory_receives_its_members, setup, teardown),
		cmocka_unit_test_setup_teardown(a_chain_of_symlinks_out_of_publish_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_symlink_that_leaves_only_through_another_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(an_absolute_symlink_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_symlink_through_an_absolute_one_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_loop_of_symlinks_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_member_under_a_symlink_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_member_under_a_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_hard_link_before_its_target_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_hard_link_to_depot_db_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_hard_link_to_anything_but_an_earlier_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_duplicate_path_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(names_depot_does_not_write_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(unsafe_paths_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_symlink_in_content_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_and_fifos_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(an_archive_without_depot_db_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_database_that_is_not_one_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_database_in_wal_mode_is_judged_alike, setup, teardown),
		cmocka_unit_test_setup_teardown(an_archive_without_a_manifest_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_member_after_the_manifest_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(two_manifests_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_manifest_that_is_not_a_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(manifest_entries_out_of_order_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_member_missing_from_the_manifest_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_manifest_entry_missing_from_the_archive_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_wrong_sha256_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_wrong_size_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_manifest_that_lies_about_a_type_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_bad_depot_conf_is_refused_naming_its_line, setup, teardown),
		cmocka_unit_test_setup_teardown(a_path_of_4096_bytes_is_refused_and_4095_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(a_refused_staging_tree_of_the_longest_paths_is_removed_as_restore_removes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(a_component_of_256_bytes_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(more_members_than_restore_max_members_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_symlink_whose_resolution_outgrows_the_buffer_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_directories_count_against_restore_max_members, setup, teardown),
		cmocka_unit_test_setup_teardown(top_level_names_of_the_wrong_type_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(manifest_strings_over_the_caps_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(deep_nesting_in_an_unknown_manifest_key_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_manifest_of_another_format_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_non_utf8_member_path_is_refused_without_echoing_it, setup, teardown),
		cmocka_unit_test_setup_teardown(a_chain_is_read_oldest_first_into_the_newest_state, setup, teardown),
		cmocka_unit_test_setup_teardown(holds_must_list_exactly_the_content_members, setup, teardown),
		cmocka_unit_test_setup_teardown(a_format_2_archive_is_laid_out_as_the_format_says, setup, teardown),
		cmocka_unit_test_setup_teardown(an_incremental_links_only_what_its_chain_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(a_missing_base_is_refused_naming_it_and_found_with_base, setup, teardown),
		cmocka_unit_test_setup_teardown(an_altered_base_is_refused_naming_it, setup, teardown),
		cmocka_unit_test_setup_teardown(a_base_of_another_size_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_base_is_held_to_its_recorded_header_and_read_through_links, setup, teardown),
		cmocka_unit_test_setup_teardown(a_loop_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_chain_that_does_not_end_in_a_full_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(content_a_complete_version_references_must_be_in_the_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(large_members_are_hashed_and_written_whole, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
