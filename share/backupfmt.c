/* backupfmt.c: the backup archive format (DESIGN §9) — a tar with MANIFEST.json as its last member — and the one decision, shared by verify and restore, on whether an archive is safe to restore. */
#include "backupfmt.h"
#include "backuphdr.h"
#include "config.h"
#include "dbcheck.h"
#include "fsutil.h"
#include "hashpipe.h"
#include "jsonstream.h"
#include "jsonutil.h"
#include "writeout.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Only publish/ holds links (REPO/current), so a few are plenty. */
#define BACKUP_MAX_SYMLINKS 65536
/* The file system's symlink-follow limit (Linux's MAXSYMLINKS). */
#define RESOLVE_MAX_LINKS 40

enum backup_type { BM_FILE = 'f', BM_DIR = 'd', BM_SYMLINK = 'l', BM_HARDLINK = 'h' };

/*
 * What the reader keeps of each member, until the manifest at the end is
 * checked against them in order: digests rather than names, so a million
 * members cost about 50 MiB whatever their paths.
 */
struct node {
	unsigned char path[16];	/* SHA-256 of the path, truncated */
	unsigned char rec[8];	/* of the whole record: path, type, size, sha256, target */
	int64_t size;
	char type;		/* enum backup_type */
	char implicit;		/* a directory only named as a member's parent; not a member */
	uint16_t links;		/* hard links to it, kept under what a file system allows */
};

/* ext4 allows 65,000 links to a file: an archive restore would fail on is refused by verify too. */
#define BACKUP_MAX_HARDLINKS 60000
/* What symlink resolution may cost, whatever the links: their paths and targets, and steps walked. */
#define BACKUP_MAX_LINK_BYTES (16 * 1024 * 1024)
#define RESOLVE_MAX_STEPS 4096

struct link {
	char *path, *target;
};

/*
 * Where members are extracted, each file system with its own free-space
 * budget: [0] the staging directory (fd -1 when only verifying), [1] a
 * staging directory for publish/ beside a [publish] dir outside DIR.
 */
struct root {
	int fd;
	int64_t space_left, inodes_left;
};

/* A base of an incremental's chain: where it was found, what its child says of it, and what reading it gave. */
struct base {
	char *path;
	char child[256];		/* the file name of the archive that names it */
	char file[256];			/* the name it is given there */
	char sha256[65];
	int64_t size;
	char header_sha256[65];		/* of its BACKUP.json, when its child records it */
	dev_t dev;
	ino_t ino;
	struct backup_header want;	/* its header as the chain was found (no holds) */
	struct backup_header hdr;	/* its header as it was read */
	uint16_t *links;		/* hard links to each content it holds, from the archive being read */
	int64_t members, bytes;
	char created_at[40];
};

/* What the readings of the archives of one chain share. */
struct shared {
	struct root roots[2];
	char tmpdir[4200];		/* verify only: holds depot.db while it is checked */
	struct base *bases;		/* the newest archive's base first, the full last */
	size_t nbases;
	size_t held;			/* bases[held..nbases) are read: their content is in */
	const struct backup_bases *chain;
};

struct reader {
	const struct backup_limits *lim;
	struct archive *a;
	const char *archive;
	const char *dir;		/* staging directory, or NULL */
	struct shared *sh;
	struct root *roots;		/* sh->roots */
	int content_only;		/* a base of the chain: only its content/ is extracted */
	int skip;			/* the member being read is not extracted */
	int has_db;
	int has_hdr;			/* format 2: hdr is its BACKUP.json */
	struct backup_header hdr;
	unsigned char *found;		/* a bit for each of hdr.holds: a member carries it */
	struct node *nodes;
	size_t nnodes, capnodes;
	uint32_t *slots;		/* open addressing over nodes by path digest: index + 1 */
	size_t nslots;
	struct link *links;
	size_t nlinks, link_bytes;
	char parent[BACKUP_MAX_PATH + 1];	/* the last parent checked, and its fd when extracting */
	int parent_fd;
	char *conf;			/* depot.conf, for the daemon's parser */
	size_t conflen;
	char dbpath[4200];		/* where depot.db was written, for its integrity check */
	int manifest_done;
	EVP_MD_CTX *manifest_md;
	int64_t implicit_dirs;
	struct backup_summary *sum;
	char *err;
	size_t errlen;
};

static int extracting(const struct reader *r)
{
	return r->roots[0].fd >= 0 && !r->skip;
}

void backup_limits_default(struct backup_limits *lim)
{
	struct depot_config cfg;

	config_defaults(&cfg);
	lim->max_members = cfg.restore_max_members;
	lim->free_margin = cfg.restore_free_margin;
	lim->key = NULL;
}

int backup_key_read(const char *dir, unsigned char *key)
{
	char path[4200];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, BACKUP_KEY_FILE);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, key, BACKUP_KEY_LEN);
	close(fd);
	if (n != BACKUP_KEY_LEN) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int backup_key_create(const char *dir)
{
	unsigned char key[BACKUP_KEY_LEN];
	char path[4200];
	int fd, rc = 0;

	snprintf(path, sizeof path, "%s/%s", dir, BACKUP_KEY_FILE);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return errno == EEXIST ? 0 : -1;
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key ||
	    write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) < 0)
		rc = -1;
	close(fd);
	if (rc < 0)
		unlink(path);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

void backup_mac(const unsigned char *key, const unsigned char *digest, char *hex)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, BACKUP_KEY_LEN, digest, 32, mac, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
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

static int refuse(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0] != '\0')
		return -1;	/* the first reason is the one that matters */
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *type_name(char t)
{
	return t == BM_FILE ? "file" : t == BM_DIR ? "directory" : t == BM_SYMLINK ? "symlink" :
	    t == BM_HARDLINK ? "hard link" : "device, FIFO or socket";
}

static char type_of(const char *s)
{
	return strcmp(s, "file") == 0 ? BM_FILE : strcmp(s, "dir") == 0 ? BM_DIR :
	    strcmp(s, "symlink") == 0 ? BM_SYMLINK : strcmp(s, "hardlink") == 0 ? BM_HARDLINK : 0;
}

static void digest(const void *data, size_t len, unsigned char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(out, md, outlen);
}

/* The record both sides are reduced to: a member and its manifest entry match when these match. */
static void record_digest(const char *path, char type, int64_t size, const char *sha,
    const char *target, unsigned char *out)
{
	char buf[2 * BACKUP_MAX_PATH + 128];
	int n = snprintf(buf, sizeof buf, "%s%c%c%c%lld%c%s%c%s", path, 0, type, 0,
	    (long long)(type == BM_FILE ? size : 0), 0, type == BM_FILE ? sha : "", 0,
	    type == BM_SYMLINK || type == BM_HARDLINK ? target : "");

	digest(buf, (size_t)n, out, 8);
}

static uint32_t slot_hash(const unsigned char *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

/* The slot holding path digest d, or the empty slot where it would go. */
static uint32_t *slot_of(struct reader *r, const unsigned char *d)
{
	size_t mask = r->nslots - 1;

	for (size_t i = slot_hash(d) & mask;; i = (i + 1) & mask) {
		uint32_t *s = &r->slots[i];
		if (*s == 0 || memcmp(r->nodes[*s - 1].path, d, 16) == 0)
			return s;
	}
}

static struct node *lookup(struct reader *r, const char *path, size_t len)
{
	unsigned char d[16];
	uint32_t *s;

	if (r->nslots == 0)
		return NULL;
	digest(path, len, d, sizeof d);
	s = slot_of(r, d);
	return *s ? &r->nodes[*s - 1] : NULL;
}

/* Appends a node for path and points its slot at it (replacing an implicit directory's). */
static struct node *add_node(struct reader *r, const char *path, size_t len, char type, int implicit)
{
	struct node *n;

	if (r->nnodes == r->capnodes) {
		size_t cap = r->capnodes ? r->capnodes * 2 : 4096;
		struct node *grown = realloc(r->nodes, cap * sizeof *grown);
		if (grown == NULL)
			return NULL;
		r->nodes = grown;
		r->capnodes = cap;
	}
	/* At most half full, so probes stay short. */
	if ((r->nnodes + 1) * 2 > r->nslots) {
		size_t nslots = r->nslots ? r->nslots * 2 : 8192;
		uint32_t *old = r->slots, *grown = calloc(nslots, sizeof *grown);
		size_t oldn = r->nslots;
		if (grown == NULL)
			return NULL;
		r->slots = grown;
		r->nslots = nslots;
		for (size_t i = 0; i < oldn; i++)
			if (old[i] != 0)
				*slot_of(r, r->nodes[old[i] - 1].path) = old[i];
		free(old);
	}
	n = &r->nodes[r->nnodes++];
	memset(n, 0, sizeof *n);
	digest(path, len, n->path, sizeof n->path);
	n->type = type;
	n->implicit = (char)implicit;
	*slot_of(r, n->path) = (uint32_t)r->nnodes;
	return n;
}

static struct archive *open_archive(const char *path, char *err, size_t errlen)
{
	struct archive *a = backup_tar_reader(path, err, errlen);

	if (a != NULL && archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/*
 * The next header. A name that is not UTF-8 is only libarchive's warning:
 * check_path refuses it, saying so.
 */
static int next_header(struct archive *a, struct archive_entry **e)
{
	int st = archive_read_next_header(a, e);

	return st == ARCHIVE_WARN ? ARCHIVE_OK : st;
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

/*
 * The path a tar member stands for: tar stores directories with a trailing
 * '/', which is dropped. Checked to be one depot could have written:
 * relative, no "." or "..", within the length limits, under a top-level
 * name a backup writes.
 */
static int check_path(struct reader *r, const char *path, char *buf, size_t buflen)
{
	static const char *const tops[] = BACKUP_TOP_NAMES;
	size_t len = strlen(path), top;
	const char *p;
	int depth;

	if (len > 1 && path[len - 1] == '/')
		len--;
	/* Manifest paths are JSON text: a name that is not UTF-8 matches none, and is not echoed. */
	if (!utf8_valid(path, len))
		return refuse(r, "a member's path is not valid UTF-8");
	if (len > BACKUP_MAX_PATH || len >= buflen)
		return refuse(r, "a member's path is longer than %d bytes", BACKUP_MAX_PATH);
	memcpy(buf, path, len);
	buf[len] = '\0';
	if (!backup_path_safe(buf))
		return refuse(r, "member '%s' has an unsafe path (absolute, empty, or with '.' or "
		    "'..')", buf);
	for (p = buf, depth = 1; *p; depth++) {
		size_t n = strcspn(p, "/");
		if (n > BACKUP_MAX_NAME)
			return refuse(r, "member '%s' has a name longer than %d bytes", buf,
			    BACKUP_MAX_NAME);
		if (depth > BACKUP_MAX_DEPTH)
			return refuse(r, "member '%.200s…' lies more than %d directories deep", buf,
			    BACKUP_MAX_DEPTH);
		p += n + (p[n] == '/');
	}
	top = strcspn(buf, "/");
	for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
		if (strlen(tops[i]) == top && memcmp(tops[i], buf, top) == 0)
			return 0;
	return refuse(r, "member '%s' is not something a depot backup holds (its top level "
	    "may hold only depot.db, depot.conf, content/, publish/ and logs/)", buf);
}

static int take_space(struct reader *r, const char *path, int64_t size);

/*
 * The root path is extracted beneath, and path relative to it: publish/
 * goes to the separate publish staging directory when there is one.
 */
static struct root *root_of(struct reader *r, const char *path, const char **rel)
{
	if (r->roots[1].fd >= 0 && strncmp(path, "publish", 7) == 0 &&
	    (path[7] == '/' || path[7] == '\0')) {
		*rel = path[7] == '/' ? path + 8 : "";
		return &r->roots[1];
	}
	*rel = path;
	return &r->roots[0];
}

/*
 * Every directory above path must be a directory the archive made, or one
 * it will make: never a file or a link, so nothing is written through a
 * link. When extracting, r->parent_fd is left open on path's parent.
 */
static int check_parents(struct reader *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;

	if (plen == strlen(r->parent) && memcmp(path, r->parent, plen) == 0 &&
	    (plen > 0 || r->parent_fd >= 0 || !extracting(r)))
		return 0;	/* the same parent as the member before: checked already */
	for (size_t i = 1; i <= plen; i++) {
		struct node *n;
		if (path[i] != '/' && i != plen)
			continue;
		if ((n = lookup(r, path, i)) == NULL) {
			/* A directory the archive makes without naming it costs what a named one does. */
			if (++r->implicit_dirs + r->sum->members > r->lim->max_members)
				return refuse(r, "the archive has more than %lld members and directories "
				    "(restore_max_members)", (long long)r->lim->max_members);
			if (take_space(r, path, 0) < 0)
				return -1;
			if (add_node(r, path, i, BM_DIR, 1) == NULL)
				return refuse(r, "out of memory");
		} else if (n->type != BM_DIR) {
			return refuse(r, "member '%s' lies under '%.*s', which is a %s, not a "
			    "directory", path, (int)i, path, type_name(n->type));
		}
	}
	memcpy(r->parent, path, plen);
	r->parent[plen] = '\0';
	if (extracting(r)) {
		const char *rel;
		const struct root *root = root_of(r, r->parent, &rel);
		if (r->parent_fd >= 0)
			close(r->parent_fd);
		r->parent_fd = fs_mkdirs_beneath(root->fd, rel, 0755);
		if (r->parent_fd < 0)
			return refuse(r, "creating the directory of '%s' in the staging directory: %s",
			    path, strerror(errno));
	}
	return 0;
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * Reads a file member's data, hashing it, into fd when fd >= 0 and into
 * r->conf when keep: one pass, each byte hashed and written as it is
 * decompressed. Past its first HASHPIPE_MIN bytes a member is hashed and
 * written by a thread (hashpipe.h) while this one decompresses the next
 * chunk; and the disk gets such a file as it is written (writeout.h), so
 * the syncfs before a restore's swap waits for little.
 */
static int read_file(struct reader *r, const char *path, int fd, int keep, int64_t *size,
    char *sha)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct hashpipe *pipe = NULL;
	struct writeout out;
	unsigned char d[32], small[65536], *buf = small;
	size_t cap = sizeof small;
	unsigned int dlen;
	la_ssize_t n;
	int tried = 0, rc = -1;

	*size = 0;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return refuse(r, "out of memory");
	}
	writeout_init(&out, fd);
	for (;;) {
		/* Without a thread (none to be had), the rest is done here too. */
		if (!tried && *size >= HASHPIPE_MIN) {
			tried = 1;
			pipe = hashpipe_start(fd >= 0 ? &out : NULL, md);
		}
		if (pipe != NULL) {
			buf = hashpipe_buffer(pipe);
			cap = HASHPIPE_CHUNK;
		}
		if ((n = archive_read_data(r->a, buf, cap)) <= 0)
			break;
		*size += n;
		if (pipe != NULL)
			hashpipe_push(pipe, (size_t)n);
		else {
			EVP_DigestUpdate(md, buf, (size_t)n);
			if (fd >= 0 && writeout_write(&out, buf, (size_t)n) < 0) {
				refuse(r, "writing '%s': %s", path, strerror(errno));
				goto out;
			}
		}
		if (keep) {
			if (r->conflen + (size_t)n > BACKUP_MAX_CONF) {
				refuse(r, "member '%s' is larger than %d bytes", path, BACKUP_MAX_CONF);
				goto out;
			}
			memcpy(r->conf + r->conflen, buf, (size_t)n);
			r->conflen += (size_t)n;
		}
	}
	if (pipe != NULL) {
		int failed = hashpipe_finish(pipe);
		pipe = NULL;
		if (failed < 0) {
			refuse(r, "writing '%s': %s", path, strerror(errno));
			goto out;
		}
	}
	if (n < 0) {
		refuse(r, "member '%s' is damaged or truncated: %s", path, archive_error_string(r->a));
		goto out;
	}
	/* Small files are left to the syncfs, which writes many in one go. */
	if (fd >= 0 && tried)
		writeout_start(&out);
	EVP_DigestFinal_ex(md, d, &dlen);
	hashpipe_hex(d, sha);
	rc = 0;
out:
	if (pipe != NULL)
		hashpipe_finish(pipe);
	EVP_MD_CTX_free(md);
	return rc;
}

/* Space a member takes once extracted, in whole blocks, so a million tiny files count too. */
static int64_t footprint(int64_t size)
{
	return (size + 4095) / 4096 * 4096 + 4096;
}

static int take_space(struct reader *r, const char *path, int64_t size)
{
	const char *rel;
	struct root *root;

	if (!extracting(r))
		return 0;
	root = root_of(r, path, &rel);
	if (footprint(size) > root->space_left || root->inodes_left <= 0)
		return refuse(r, "member '%s' would leave less than %lld bytes (restore_free_margin) "
		    "free on the staging file system: the archive needs more space than there is",
		    path, (long long)r->lim->free_margin);
	root->space_left -= footprint(size);
	root->inodes_left--;
	return 0;
}

static int extract_file(struct reader *r, struct archive_entry *e, const char *path,
    int64_t *size, char *sha)
{
	/* A base's database and configuration are only checked against its manifest: the newest's are restored. */
	int is_db = !r->content_only && strcmp(path, "depot.db") == 0;
	int is_conf = !r->content_only && strcmp(path, "depot.conf") == 0;
	int fd = -1, rc;

	if (take_space(r, path, archive_entry_size(e)) < 0)
		return -1;
	if (is_conf && r->conf == NULL && (r->conf = malloc(BACKUP_MAX_CONF)) == NULL)
		return refuse(r, "out of memory");
	if (extracting(r)) {
		fd = openat(r->parent_fd, base_of(path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		/*
		 * The archived mode without set-id bits or write for others, whatever
		 * the umask, and readable and writable by the daemon, which reads its
		 * files later (a backup, a copy into a publication).
		 */
		if (fd < 0 || fchmod(fd, (archive_entry_perm(e) & 0755) | 0600) < 0) {
			refuse(r, "creating '%s' in the staging directory: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (is_db)
			snprintf(r->dbpath, sizeof r->dbpath, "%s/depot.db", r->dir);
	} else if (is_db) {
		struct statvfs vfs;
		/* Verifying: the database still gets its integrity check, from a private copy. */
		if (statvfs(r->sh->tmpdir, &vfs) == 0 && archive_entry_size(e) >
		    (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize - r->lim->free_margin)
			return refuse(r, "checking its depot.db needs %lld bytes in %s, and fewer are "
			    "free (less restore_free_margin): set TMPDIR", (long long)archive_entry_size(e),
			    r->sh->tmpdir);
		snprintf(r->dbpath, sizeof r->dbpath, "%s/depot.db", r->sh->tmpdir);
		if ((fd = open(r->dbpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600)) < 0)
			return refuse(r, "writing %s to check it: %s", r->dbpath, strerror(errno));
	}
	rc = read_file(r, path, fd, is_conf, size, sha);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = refuse(r, "writing '%s': %s", path, strerror(errno));
	return rc;
}

/*
 * A directory's archived mode, less set-id bits and write for others, and
 * always rwx for its owner: the daemon must write its members now (a 0555
 * directory would refuse them, so verify and restore would disagree) and
 * add and remove files there later, as sync, publish and orphans do.
 */
static mode_t dir_mode(struct archive_entry *e)
{
	return (archive_entry_perm(e) & 0755) | 0700;
}

static int in_linkable(const char *path)
{
	return strncmp(path, "content/", 8) == 0 || strncmp(path, "publish/", 8) == 0;
}

static int under(const char *path, const char *top)
{
	size_t n = strlen(top);

	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

#define CONTENT_PREFIX "content/sha256/"

/* The binary sha256 of a content path content/sha256/XX/SHA (XX: SHA's first two digits): 0, or -1 when path is not one. */
static int content_digest(const char *path, unsigned char *d)
{
	const char *sha = path + strlen(CONTENT_PREFIX) + 3;

	if (strncmp(path, CONTENT_PREFIX, strlen(CONTENT_PREFIX)) != 0 ||
	    strlen(path) != strlen(CONTENT_PREFIX) + 3 + 64 || sha[-1] != '/' ||
	    memcmp(sha - 3, sha, 2) != 0)
		return -1;
	return backup_sha256_parse(sha, d);
}

/* The index of digest d in h's holds, or -1. */
static ssize_t held_index(const struct backup_header *h, const unsigned char *d)
{
	size_t lo = 0, hi = h->nholds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(h->holds[mid], d, 32);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The base already read that holds d, and its index there in *i; NULL if none does. */
static struct base *held_by_base(const struct reader *r, const unsigned char *d, ssize_t *i)
{
	for (size_t k = r->sh->held; k < r->sh->nbases; k++)
		if ((*i = held_index(&r->sh->bases[k].hdr, d)) >= 0)
			return &r->sh->bases[k];
	return NULL;
}

/*
 * Format 2: content/ holds only content/sha256/XX/SHA files that
 * BACKUP.json lists, and the directories above them.
 */
static int content_rule(struct reader *r, const char *path, char type)
{
	unsigned char d[32];
	const char *fan = path + strlen(CONTENT_PREFIX);
	ssize_t i;

	/* A symlink anywhere but publish/ is refused as such (extract_other). */
	if (!under(path, "content") || type == BM_SYMLINK)
		return 0;
	if (strcmp(path, "content") == 0 || strcmp(path, "content/sha256") == 0 ||
	    (strncmp(path, CONTENT_PREFIX, strlen(CONTENT_PREFIX)) == 0 && strlen(fan) == 2 &&
	    strspn(fan, "0123456789abcdef") == 2))
		return type == BM_DIR ? 0 : refuse(r, "member '%s' is a %s, not a directory", path,
		    type_name(type));
	if (type != BM_FILE || content_digest(path, d) < 0)
		return refuse(r, "member '%s' is a %s under content/ that is not a file "
		    CONTENT_PREFIX "XX/SHA, and a format %d archive holds nothing else there", path,
		    type_name(type), BACKUP_FORMAT_HEADER);
	if ((i = held_index(&r->hdr, d)) < 0)
		return refuse(r, "member '%s' is content that %s does not list in 'holds'", path,
		    BACKUP_HEADER);
	r->found[i / 8] |= (unsigned char)(1 << (i % 8));
	return 0;
}

static int extract_other(struct reader *r, struct archive_entry *e, const char *path, char type,
    const char *target)
{
	const struct node *t;
	const char *rel = "";
	int rc;

	switch (type) {
	case BM_DIR:
		if (take_space(r, path, 0) < 0)
			return -1;
		if (!extracting(r))
			return 0;
		root_of(r, path, &rel);
		if (rel[0] == '\0')
			rc = fchmod(r->roots[1].fd, dir_mode(e));	/* publish/ itself */
		else
			rc = (mkdirat(r->parent_fd, base_of(path), 0700) < 0 && errno != EEXIST) ||
			    fchmodat(r->parent_fd, base_of(path), dir_mode(e),
			    AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
		if (rc < 0)
			return refuse(r, "creating '%s' in the staging directory: %s", path,
			    strerror(errno));
		return 0;
	case BM_SYMLINK:
		if (strncmp(path, "publish/", 8) != 0)
			return refuse(r, "member '%s' is a symlink outside publish/, where a depot "
			    "backup has none", path);
		if (target[0] == '\0' || strlen(target) > BACKUP_MAX_PATH)
			return refuse(r, "member '%s' is a symlink with an empty or overlong target",
			    path);
		if (r->nlinks == BACKUP_MAX_SYMLINKS ||
		    (r->link_bytes += strlen(path) + strlen(target) + 2) > BACKUP_MAX_LINK_BYTES)
			return refuse(r, "the archive has more than %d symlinks, or more than %d bytes "
			    "of them", BACKUP_MAX_SYMLINKS, BACKUP_MAX_LINK_BYTES);
		if (r->nlinks % 256 == 0) {
			struct link *grown = realloc(r->links, (r->nlinks + 256) * sizeof *grown);
			if (grown == NULL)
				return refuse(r, "out of memory");
			r->links = grown;
		}
		r->links[r->nlinks].path = strdup(path);
		r->links[r->nlinks].target = strdup(target);
		if (r->links[r->nlinks++].target == NULL)
			return refuse(r, "out of memory");
		if (take_space(r, path, 0) < 0)
			return -1;
		if (extracting(r) && symlinkat(target, r->parent_fd, base_of(path)) < 0)
			return refuse(r, "creating '%s' in the staging directory: %s", path,
			    strerror(errno));
		return 0;
	case BM_HARDLINK: {
		char tbuf[BACKUP_MAX_PATH + 1], base[BACKUP_MAX_NAME + 1];
		unsigned char d[32];
		struct base *b = NULL;
		uint16_t *links;
		int64_t tsize = 0;
		struct stat st;
		ssize_t i;
		int tfd;
		/* Only to a regular file already extracted: never a link, a directory or later. */
		if (!backup_path_safe(target) || strlen(target) >= sizeof tbuf)
			return refuse(r, "member '%s' is a hard link to '%s', which is not a path "
			    "inside the archive", path, target);
		strcpy(tbuf, target);
		/* Publications link content; nothing may link the database or the configuration. */
		if (!in_linkable(path) || !in_linkable(tbuf))
			return refuse(r, "member '%s' is a hard link to '%s': only content/ and publish/ "
			    "hold hard links", path, tbuf);
		/* Format 2: an incremental's publication links content a base of its chain holds. */
		if ((t = lookup(r, tbuf, strlen(tbuf))) == NULL && r->has_hdr &&
		    content_digest(tbuf, d) == 0 && (b = held_by_base(r, d, &i)) != NULL) {
			links = &b->links[i];
		} else if (t == NULL || t->implicit || t->type != BM_FILE) {
			return refuse(r, "member '%s' is a hard link to '%s', which is not a file "
			    "earlier in the archive%s", path, tbuf, r->has_hdr ?
			    ", nor content a base of its chain holds" : "");
		} else {
			links = &((struct node *)t)->links;
			tsize = t->size;
		}
		if (++*links > BACKUP_MAX_HARDLINKS)
			return refuse(r, "member '%s' is one of more than %d hard links to '%s'", path,
			    BACKUP_MAX_HARDLINKS, tbuf);
		if (!extracting(r))
			return 0;
		tfd = root_of(r, tbuf, &rel)->fd;
		if ((tfd = fs_parent_beneath(tfd, rel, 0, base, sizeof base)) < 0)
			return refuse(r, "linking '%s' to '%s': %s", path, tbuf, strerror(errno));
		rc = linkat(tfd, base, r->parent_fd, base_of(path), 0);
		/* A publish directory on another file system gets a copy, as publish makes one. */
		if (rc < 0 && errno == EXDEV) {
			/* A base's content was extracted earlier: its size is on the disk. */
			if (b != NULL)
				tsize = fstatat(tfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_size : 0;
			rc = take_space(r, path, tsize) < 0 ? -1 :
			    fs_copy_at(tfd, base, r->parent_fd, base_of(path), (mode_t)-1, (gid_t)-1, 0);
		}
		close(tfd);
		if (rc < 0)
			return refuse(r, "linking '%s' to '%s': %s", path, tbuf, strerror(errno));
		return 0;
	}
	}
	return refuse(r, "member '%s' is a device, FIFO or socket: refused", path);
}

/* One member other than the manifest: checked, remembered, and extracted when there is a staging directory. */
static int read_member(struct reader *r, struct archive_entry *e, const char *raw)
{
	char path[BACKUP_MAX_PATH + 1], sha[65] = "", target[BACKUP_MAX_PATH + 1] = "";
	char type = entry_type(e);
	int64_t size = 0;
	struct node *n;
	int skip;

	if (r->manifest_done)
		return refuse(r, "member '%s' follows %s, which must be last", raw, BACKUP_MANIFEST);
	if (check_path(r, raw, path, sizeof path) < 0)
		return -1;
	/* read_header took the first member: BACKUP.json anywhere else is refused. */
	if (strcmp(path, BACKUP_HEADER) == 0)
		return refuse(r, "member '%s' is not the archive's first, where a format %d archive "
		    "has it", path, BACKUP_FORMAT_HEADER);
	/* A base gives only its content; the parent checked last may have been made or not. */
	skip = r->content_only && !under(path, "content");
	if (skip != r->skip) {
		r->skip = skip;
		snprintf(r->parent, sizeof r->parent, "/");	/* no member's parent */
		if (r->parent_fd >= 0)
			close(r->parent_fd);
		r->parent_fd = -1;
	}
	if (type == 0)
		return refuse(r, "member '%s' is a device, FIFO or socket: refused", path);
	if (++r->sum->members > r->lim->max_members)
		return refuse(r, "the archive has more than %lld members (restore_max_members)",
		    (long long)r->lim->max_members);
	if ((strcmp(path, "depot.db") == 0 || strcmp(path, "depot.conf") == 0) && type != BM_FILE)
		return refuse(r, "member '%s' is a %s, not a file", path, type_name(type));
	if (strchr(path, '/') == NULL && strncmp(path, "depot.", 6) != 0 && type != BM_DIR)
		return refuse(r, "member '%s' is a %s, not a directory", path, type_name(type));
	if (strncmp(path, "depot.db/", 9) == 0 || strncmp(path, "depot.conf/", 11) == 0)
		return refuse(r, "member '%s' lies under a file of the data directory", path);
	/* Holes would expand to any size the header claims: depot never writes them. */
	if (type == BM_FILE && archive_entry_sparse_count(e) > 0)
		return refuse(r, "member '%s' is a sparse file, which no depot backup holds", path);
	if (check_parents(r, path) < 0)
		return -1;
	if ((n = lookup(r, path, strlen(path))) != NULL && !(n->implicit && type == BM_DIR))
		return refuse(r, "member '%s' appears twice, or would replace a directory", path);
	if (r->has_hdr && content_rule(r, path, type) < 0)
		return -1;
	if (strcmp(path, "depot.db") == 0)
		r->has_db = 1;
	if (type == BM_SYMLINK || type == BM_HARDLINK) {
		const char *t = type == BM_SYMLINK ? archive_entry_symlink(e) : archive_entry_hardlink(e);
		if (t == NULL || strlen(t) > BACKUP_MAX_PATH)
			return refuse(r, "member '%s' is a link with no target or an overlong one", path);
		strcpy(target, t);
	}
	if ((type == BM_FILE ? extract_file(r, e, path, &size, sha) :
	    extract_other(r, e, path, type, target)) < 0)
		return -1;
	if (r->has_hdr && type == BM_FILE && under(path, "content") &&
	    strcmp(sha, base_of(path)) != 0)
		return refuse(r, "member '%s' holds data whose sha256 is %s, not its name", path, sha);
	if (n != NULL)
		n->implicit = 2;	/* superseded by the member about to be added */
	if ((n = add_node(r, path, strlen(path), type, 0)) == NULL)
		return refuse(r, "out of memory");
	n->size = size;
	r->sum->bytes += size;
	record_digest(path, type, size, sha, target, n->rec);
	return 0;
}

/* The manifest's bytes, hashed as they are read, for its HMAC. */
static long fill_from_archive(void *ctx, char *buf, size_t cap)
{
	struct reader *r = ctx;
	la_ssize_t n = archive_read_data(r->a, buf, cap);

	if (n > 0)
		EVP_DigestUpdate(r->manifest_md, buf, (size_t)n);
	return (long)n;
}

/* Whether the manifest just read carries an HMAC made with lim->key. */
static int manifest_authentic(struct reader *r, struct archive_entry *e)
{
	unsigned char digest[32];
	unsigned int dlen;
	const char *name;
	const void *value;
	size_t size;
	char want[65];

	EVP_DigestFinal_ex(r->manifest_md, digest, &dlen);
	if (r->lim->key == NULL)
		return 0;
	backup_mac(r->lim->key, digest, want);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (strcmp(name, BACKUP_MAC_XATTR) == 0 && size == 64 &&
		    CRYPTO_memcmp(value, want, 64) == 0)
			return 1;
	return 0;
}

/*
 * The path of the archive's member number k (from 1, the manifest not
 * counted), found by reading the headers again: only names are kept of no
 * member, and a refusal is worth a second look.
 */
static void name_member(struct reader *r, int64_t k, char *buf, size_t n)
{
	char err[256];
	struct archive *a = open_archive(r->archive, err, sizeof err);
	struct archive_entry *e;
	int64_t i = 0;

	snprintf(buf, n, "number %lld", (long long)k);
	while (a != NULL && next_header(a, &e) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		if (path == NULL || strcmp(path, BACKUP_MANIFEST) == 0 || ++i != k)
			continue;
		snprintf(buf, n, "%s", path);
		if (strlen(buf) > 1 && buf[strlen(buf) - 1] == '/')
			buf[strlen(buf) - 1] = '\0';
		break;
	}
	if (a != NULL)
		archive_read_free(a);
}

/* Compares manifest entry *cursor with the member the archive held at that place. */
static int match_entry(struct reader *r, size_t *cursor, const char *path, char type,
    int64_t size, const char *sha, const char *target, int64_t index)
{
	unsigned char pd[16], rd[8];
	const struct node *n;

	while (*cursor < r->nnodes && r->nodes[*cursor].implicit)
		(*cursor)++;
	if (*cursor == r->nnodes || (n = lookup(r, path, strlen(path))) == NULL || n->implicit)
		return refuse(r, "member '%s' of the manifest is missing from the archive", path);
	n = &r->nodes[(*cursor)++];
	digest(path, strlen(path), pd, sizeof pd);
	if (memcmp(pd, n->path, sizeof pd) != 0) {
		char other[BACKUP_MAX_PATH + 1];
		name_member(r, index, other, sizeof other);
		return refuse(r, "member '%s' is not in the manifest, or not in its place (the "
		    "manifest lists '%s' there)", other, path);
	}
	if (n->type != type)
		return refuse(r, "member '%s' is a %s, the manifest says %s", path,
		    type_name(n->type), type_name(type));
	if (type == BM_FILE && n->size != size)
		return refuse(r, "member '%s' has %lld bytes, the manifest says %lld", path,
		    (long long)n->size, (long long)size);
	record_digest(path, type, size, sha, target, rd);
	if (memcmp(rd, n->rec, sizeof rd) != 0)
		return refuse(r, "member '%s' does not match its %s in the manifest (the archive is "
		    "damaged)", path, type == BM_FILE ? "sha256" : "link target");
	return 0;
}

static int is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

/* One {"path", "type", "size", "sha256", "target"} of the manifest's members. */
static int read_entry(struct reader *r, struct jstream *js, size_t *cursor, int64_t index)
{
	char key[32], path[BACKUP_MAX_PATH + 1] = "", type[16] = "", sha[80] = "";
	char target[BACKUP_MAX_PATH + 1] = "", t;
	int64_t size = -1;
	int more;

	if (js_expect(js, '{') < 0)
		return -1;
	if (js_peek(js) == '}')
		js_expect(js, '}'), more = 0;
	else do {
		if (js_string(js, key, sizeof key) < 0 || js_expect(js, ':') < 0)
			return -1;
		if (strcmp(key, "path") == 0 ? js_string(js, path, sizeof path) :
		    strcmp(key, "type") == 0 ? js_string(js, type, sizeof type) :
		    strcmp(key, "sha256") == 0 ? js_string(js, sha, sizeof sha) :
		    strcmp(key, "target") == 0 ? js_string(js, target, sizeof target) :
		    strcmp(key, "size") == 0 ? js_int64(js, &size) : js_skip(js))
			return -1;
	} while ((more = js_more(js, '}')) == 1);
	if (more < 0)
		return -1;
	t = type_of(type);
	if (!backup_path_safe(path) || t == 0 ||
	    (t == BM_FILE && (!is_sha256_hex(sha) || size < 0)) ||
	    ((t == BM_SYMLINK || t == BM_HARDLINK) && target[0] == '\0'))
		return refuse(r, "%s: entry %lld is malformed", BACKUP_MANIFEST, (long long)index);
	return match_entry(r, cursor, path, t, size, sha, target, index);
}

/*
 * MANIFEST.json, read as it streams by: each entry is checked against the
 * member the archive held at the same place, so nothing is kept of it.
 */
static int read_manifest(struct reader *r)
{
	struct jstream *js = malloc(sizeof *js);
	char key[32], text[4096];
	size_t cursor = 0;
	int64_t format = -1, index = 0;
	int more, members_seen = 0, rc = -1;

	if (js == NULL)
		return refuse(r, "out of memory");
	js_init(js, fill_from_archive, r);
	if (js_expect(js, '{') < 0)
		goto out;
	do {
		if (js_string(js, key, sizeof key) < 0 || js_expect(js, ':') < 0)
			goto out;
		if (strcmp(key, "format") == 0) {
			if (js_int64(js, &format) < 0)
				goto out;
		} else if (strcmp(key, "created_at") == 0 || strcmp(key, "depot_version") == 0) {
			if (js_string(js, text, sizeof text) < 0)
				goto out;
			if (key[0] == 'c')
				snprintf(r->sum->created_at, sizeof r->sum->created_at, "%s", text);
			else
				snprintf(r->sum->version, sizeof r->sum->version, "%s", text);
		} else if (strcmp(key, "kind") == 0 && r->has_hdr) {
			if (js_string(js, text, sizeof text) < 0)
				goto out;
			if (strcmp(text, r->hdr.kind) != 0) {
				refuse(r, "%s says the backup is %.40s, its %s says %s", BACKUP_MANIFEST,
				    text, BACKUP_HEADER, r->hdr.kind);
				goto out;
			}
		} else if (strcmp(key, "members") == 0) {
			if (members_seen++) {
				refuse(r, "%s lists its members twice", BACKUP_MANIFEST);
				goto out;
			}
			if (js_expect(js, '[') < 0)
				goto out;
			if (js_peek(js) == ']')
				js_expect(js, ']');
			else {
				do {
					if (read_entry(r, js, &cursor, ++index) < 0)
						goto out;
				} while ((more = js_more(js, ']')) == 1);
				if (more < 0)
					goto out;
			}
		} else if (js_skip(js) < 0) {
			goto out;
		}
	} while ((more = js_more(js, '}')) == 1);
	if (more < 0 || js_end(js) < 0)
		goto out;
	if (format != BACKUP_FORMAT && format != BACKUP_FORMAT_HEADER) {
		refuse(r, "%s: format %lld is not one this depot reads (%d or %d)", BACKUP_MANIFEST,
		    (long long)format, BACKUP_FORMAT, BACKUP_FORMAT_HEADER);
		goto out;
	}
	/* The header says which: format 2 only with BACKUP.json, format 1 only without. */
	if (format != (r->has_hdr ? r->hdr.format : BACKUP_FORMAT)) {
		refuse(r, "%s: format %lld, and the archive's first member %s %s", BACKUP_MANIFEST,
		    (long long)format, r->has_hdr ? "is" : "is not", BACKUP_HEADER);
		goto out;
	}
	if (!members_seen) {
		refuse(r, "%s has no members list", BACKUP_MANIFEST);
		goto out;
	}
	while (cursor < r->nnodes && r->nodes[cursor].implicit)
		cursor++;
	if (cursor < r->nnodes) {
		name_member(r, index + 1, text, sizeof text);
		refuse(r, "member '%s' is not in the manifest", text);
		goto out;
	}
	r->sum->format = (int)format;
	rc = 0;
out:
	if (rc < 0 && js->err[0] != '\0')
		refuse(r, "%s is not a valid depot manifest: %s", BACKUP_MANIFEST, js->err);
	free(js);
	return rc;
}

static int cmp_link(const void *a, const void *b)
{
	return strcmp(((const struct link *)a)->path, ((const struct link *)b)->path);
}

/*
 * Where link resolves, walked as the kernel would after extraction: every
 * component that is a symlink of the archive is replaced by its target.
 * Refused when it leaves publish/ or loops.
 */
static int resolve_link(struct reader *r, const struct link *l)
{
	char resolved[BACKUP_MAX_PATH + 1], rest[2 * BACKUP_MAX_PATH + 2];
	size_t rlen;
	int follows = 0, steps = 0;

	/* Start in the link's directory, with its target still to walk. */
	rlen = (size_t)(base_of(l->path) - l->path);
	rlen = rlen ? rlen - 1 : 0;
	memcpy(resolved, l->path, rlen);
	resolved[rlen] = '\0';
	if (l->target[0] == '/')
		return refuse(r, "member '%s' is a symlink to the absolute path '%s'", l->path,
		    l->target);
	if (snprintf(rest, sizeof rest, "%s", l->target) >= (int)sizeof rest)
		return refuse(r, "member '%s' is a symlink with an overlong target", l->path);
	for (char *p = rest; *p;) {
		size_t n = strcspn(p, "/");
		char next[sizeof rest];

		if (++steps > RESOLVE_MAX_STEPS)
			return refuse(r, "member '%s' is a symlink that takes more than %d steps to "
			    "resolve", l->path, RESOLVE_MAX_STEPS);
		const struct node *node;
		const struct link *via;
		struct link key;

		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n + (p[n] == '/');
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(resolved, '/');
			if (rlen == 0)
				return refuse(r, "member '%s' is a symlink to '%s', which resolves "
				    "outside the data directory", l->path, l->target);
			rlen = slash ? (size_t)(slash - resolved) : 0;
			resolved[rlen] = '\0';
			p += n + (p[n] == '/');
			continue;
		}
		if (rlen + 1 + n > BACKUP_MAX_PATH)
			return refuse(r, "member '%s' is a symlink whose target resolves to an "
			    "overlong path", l->path);
		if (rlen > 0)
			resolved[rlen++] = '/';
		memcpy(resolved + rlen, p, n);
		rlen += n;
		resolved[rlen] = '\0';
		p += n + (p[n] == '/');
		if ((node = lookup(r, resolved, rlen)) == NULL || node->type != BM_SYMLINK)
			continue;
		key.path = resolved;
		if ((via = bsearch(&key, r->links, r->nlinks, sizeof *r->links, cmp_link)) == NULL)
			continue;
		if (++follows > RESOLVE_MAX_LINKS || via->target[0] == '/')
			return refuse(r, "member '%s' is a symlink that resolves through too many links "
			    "or to an absolute path", l->path);
		/* Replace the link by its target, relative to the link's directory, and go on. */
		if (snprintf(next, sizeof next, "%s%s%s", via->target, *p ? "/" : "", p) >=
		    (int)sizeof next)
			return refuse(r, "member '%s' is a symlink whose resolution grows too long",
			    l->path);
		snprintf(rest, sizeof rest, "%s", next);
		p = rest;
		{
			char *slash = strrchr(resolved, '/');
			rlen = slash ? (size_t)(slash - resolved) : 0;
			resolved[rlen] = '\0';
		}
	}
	if (strncmp(resolved, "publish/", 8) != 0)
		return refuse(r, "member '%s' is a symlink to '%s', which resolves to '%s', outside "
		    "publish/", l->path, l->target, resolved[0] ? resolved : ".");
	return 0;
}

static int check_database(struct reader *r)
{
	char why[1024];

	if (dbcheck_file(r->dbpath, why, sizeof why) < 0)
		return refuse(r, "its depot.db %s", why);
	return 0;
}

/* Whether the chain read so far, this archive included, holds sha256 (hex): dbcheck_references' question. */
static int chain_holds(const char *sha256, void *ctx)
{
	const struct reader *r = ctx;
	unsigned char d[32];
	ssize_t i;

	if (backup_sha256_parse(sha256, d) < 0)
		return 0;
	return held_index(&r->hdr, d) >= 0 || held_by_base(r, d, &i) != NULL;
}

/* Format 2: every content a complete version of the database references is restored with it. */
static int check_references(struct reader *r)
{
	struct dbcheck_ref ref;
	char why[1024];
	int rc = dbcheck_references(r->dbpath, chain_holds, r, &ref, why, sizeof why);

	if (rc < 0)
		return refuse(r, "its depot.db %s", why);
	if (rc > 0)
		return refuse(r, "its depot.db references content %s (in version %lld of repository "
		    "'%s'), which %s", ref.sha256, ref.number, ref.repo, r->sh->nbases > 0 ?
		    "no archive of its chain holds" : "the archive does not hold");
	return 0;
}

/* Format 2: every content BACKUP.json lists is a member (content_rule saw each member listed). */
static int check_holds(struct reader *r)
{
	char hex[65];

	for (size_t i = 0; i < r->hdr.nholds; i++)
		if (!(r->found[i / 8] & (1 << (i % 8)))) {
			hashpipe_hex(r->hdr.holds[i], hex);
			return refuse(r, "%s lists content %s in 'holds', and the archive has no member "
			    CONTENT_PREFIX "%.2s/%s", BACKUP_HEADER, hex, hex, hex);
		}
	return 0;
}

/* An incremental holds only what its base chain does not: each content comes from one archive. */
static int check_overlap(struct reader *r)
{
	const struct base *b;
	char hex[65];
	ssize_t i;

	for (size_t k = 0; k < r->hdr.nholds; k++)
		if ((b = held_by_base(r, r->hdr.holds[k], &i)) != NULL) {
			hashpipe_hex(r->hdr.holds[k], hex);
			return refuse(r, "%s lists content %s, which its base %s already holds",
			    BACKUP_HEADER, hex, b->file);
		}
	return 0;
}

/* What can only be judged once every member is known. */
static int check_whole(struct reader *r)
{
	struct depot_config cfg;
	char err[512];

	if (!r->manifest_done)
		return refuse(r, "the archive has no %s: not a depot backup, or truncated",
		    BACKUP_MANIFEST);
	if (!r->has_db)
		return refuse(r, "the archive has no depot.db");
	if (r->nlinks > 0)
		qsort(r->links, r->nlinks, sizeof *r->links, cmp_link);
	for (size_t i = 0; i < r->nlinks; i++)
		if (resolve_link(r, &r->links[i]) < 0)
			return -1;
	if (r->has_hdr && check_holds(r) < 0)
		return -1;
	/* A base's database and configuration are not restored: its manifest vouched for them. */
	if (r->content_only)
		return 0;
	config_defaults(&cfg);
	if (r->conf != NULL && config_parse("depot.conf", r->conf, r->conflen, &cfg, err,
	    sizeof err) < 0)
		return refuse(r, "its depot.conf would stop depotd: %s", err);
	if (check_database(r) < 0)
		return -1;
	return r->has_hdr ? check_references(r) : 0;
}

/* Opens one extraction root and sets its free-space budget. */
static int open_root(struct reader *r, struct root *root, const char *dir)
{
	struct statvfs vfs;
	int64_t avail;

	if ((root->fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return refuse(r, "opening the staging directory %s: %s", dir, strerror(errno));
	if (fstatvfs(root->fd, &vfs) < 0)
		return refuse(r, "reading the free space of %s: %s", dir, strerror(errno));
	avail = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
	root->space_left = avail - r->lim->free_margin;
	/* File systems without an inode count (btrfs) report 0 files: no limit there. */
	root->inodes_left = vfs.f_files ? (int64_t)vfs.f_favail - 1000 : INT64_MAX;
	if (root->space_left < 0)
		return refuse(r, "the file system of %s has %lld bytes free, less than "
		    "restore_free_margin (%lld)", dir, (long long)avail,
		    (long long)r->lim->free_margin);
	return 0;
}

static int start_extraction(struct reader *r, const char *dir, const char *publish_dir)
{
	if (open_root(r, &r->roots[0], dir) < 0)
		return -1;
	return publish_dir != NULL ? open_root(r, &r->roots[1], publish_dir) : 0;
}

/* The first member, BACKUP.json: parsed, and remembered as a member for the manifest to list. */
static int read_header(struct reader *r, struct archive_entry *e)
{
	char why[1024];
	struct node *n;
	int64_t size;

	if (entry_type(e) != BM_FILE)
		return refuse(r, "member '%s' is a %s, not a file", BACKUP_HEADER,
		    type_name(entry_type(e)));
	if (++r->sum->members > r->lim->max_members)
		return refuse(r, "the archive has more than %lld members (restore_max_members)",
		    (long long)r->lim->max_members);
	if (backup_header_parse_member(r->a, r->lim->max_members, &r->hdr, &size, why,
	    sizeof why) < 0)
		return refuse(r, "%s", why);
	r->has_hdr = 1;
	if ((r->found = calloc(r->hdr.nholds / 8 + 1, 1)) == NULL)
		return refuse(r, "out of memory");
	if ((n = add_node(r, BACKUP_HEADER, strlen(BACKUP_HEADER), BM_FILE, 0)) == NULL)
		return refuse(r, "out of memory");
	n->size = size;
	r->sum->bytes += size;
	record_digest(BACKUP_HEADER, BM_FILE, size, r->hdr.header_sha256, "", n->rec);
	snprintf(r->sum->kind, sizeof r->sum->kind, "%s", r->hdr.kind);
	return 0;
}

/*
 * A base's bytes as libarchive reads them, hashed on the way: its sha256
 * without a second pass. No skip callback, so that every byte goes through.
 */
struct rawsrc {
	int fd;
	EVP_MD_CTX *md;
	int64_t bytes;
	char buf[1024 * 1024];
};

static la_ssize_t raw_read(struct archive *a, void *ctx, const void **out)
{
	struct rawsrc *s = ctx;
	ssize_t n;

	while ((n = read(s->fd, s->buf, sizeof s->buf)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		archive_set_error(a, errno, "reading: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(s->md, s->buf, (size_t)n);
	s->bytes += n;
	*out = s->buf;
	return n;
}

/* The sha256 of the whole file: what libarchive left unread (the end's padding, or all after a refusal) too. */
static int raw_finish(struct rawsrc *s, char *hex)
{
	unsigned char d[32];
	unsigned int dlen;
	ssize_t n;

	while ((n = read(s->fd, s->buf, sizeof s->buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0) {
			EVP_DigestUpdate(s->md, s->buf, (size_t)n);
			s->bytes += n;
		}
	EVP_DigestFinal_ex(s->md, d, &dlen);
	hashpipe_hex(d, hex);
	return n < 0 ? -1 : 0;
}

/* open_archive's formats and filters (DESIGN §15), read through s. */
static struct archive *open_archive_hashed(const char *path, struct rawsrc *s, char *err,
    size_t errlen)
{
	struct archive *a = backup_tar_reader(path, err, errlen);

	if (a != NULL && archive_read_open(a, s, NULL, raw_read, NULL) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static void dir_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* The sha256 of a whole file, as hex; "" when it cannot be read. */
static void file_sha256(const char *path, char *hex)
{
	struct rawsrc *s = malloc(sizeof *s);

	hex[0] = '\0';
	if (s == NULL)
		return;
	s->bytes = 0;
	if ((s->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0 &&
	    (s->md = EVP_MD_CTX_new()) != NULL) {
		if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1 || raw_finish(s, hex) < 0)
			hex[0] = '\0';
		EVP_MD_CTX_free(s->md);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* Whether the file st is the newest archive or a base found before b. */
static int in_chain(const struct reader *r, const struct stat *st, const struct base *b)
{
	struct stat top;

	if (stat(r->archive, &top) == 0 && top.st_dev == st->st_dev && top.st_ino == st->st_ino)
		return 1;
	for (const struct base *o = r->sh->bases; o < b; o++)
		if (o->dev == st->st_dev && o->ino == st->st_ino)
			return 1;
	return 0;
}

/* b is the file at path: by its real path, which is read without following links from there on. */
static int take_base(struct reader *r, struct base *b, const char *path, const struct stat *st)
{
	if ((b->path = realpath(path, NULL)) == NULL)
		return refuse(r, "%s, the base %s names: %s", path, b->child, strerror(errno));
	b->dev = st->st_dev;
	b->ino = st->st_ino;
	return 0;
}

/*
 * Where base b is: beside its child (in child_dir) or the newest archive,
 * by the name the child gives it; else among the --base files, the one
 * with its sha256 (by its size and name when that decides; the whole file
 * is hashed first only when several could be it).
 */
static int find_base(struct reader *r, const char *child_dir, struct base *b)
{
	const struct backup_bases *c = r->sh->chain;
	char dirs[2][4200], path[4600], wrong[4600] = "", hex[65];
	const char *pick = NULL;
	int64_t wrong_size = 0;
	size_t same = 0;
	struct stat st;

	snprintf(dirs[0], sizeof dirs[0], "%s", child_dir);
	dir_of(r->archive, dirs[1], sizeof dirs[1]);
	for (int i = 0; i < 2; i++) {
		if (i == 1 && strcmp(dirs[0], dirs[1]) == 0)
			break;
		snprintf(path, sizeof path, "%s%s%s", dirs[i], strcmp(dirs[i], "/") ? "/" : "",
		    b->file);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_size == b->size)
			return take_base(r, b, path, &st);
		if (wrong[0] == '\0') {
			snprintf(wrong, sizeof wrong, "%s", path);
			wrong_size = st.st_size;
		}
	}
	for (size_t i = 0; c != NULL && i < c->nfiles; i++) {
		if (stat(c->files[i], &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != b->size ||
		    in_chain(r, &st, b))
			continue;
		same++;
		if (pick == NULL || strcmp(base_of(c->files[i]), b->file) == 0)
			pick = c->files[i];
	}
	if (same > 1 && strcmp(base_of(pick), b->file) != 0) {
		pick = NULL;
		for (size_t i = 0; i < c->nfiles && pick == NULL; i++)
			if (stat(c->files[i], &st) == 0 && S_ISREG(st.st_mode) &&
			    st.st_size == b->size && !in_chain(r, &st, b)) {
				file_sha256(c->files[i], hex);
				if (strcmp(hex, b->sha256) == 0)
					pick = c->files[i];
			}
	}
	if (pick != NULL && stat(pick, &st) == 0)
		return take_base(r, b, pick, &st);
	if (wrong[0] != '\0')
		return refuse(r, "%s, the base %s names, has %lld bytes, and %s says %lld (altered, "
		    "or another archive of that name)", wrong, b->child, (long long)wrong_size,
		    b->child, (long long)b->size);
	return refuse(r, "%s needs its base %s, which is not beside it in %s nor given with "
	    "--base", b->child, b->file, child_dir);
}

/*
 * The newest archive's chain, from its BACKUP.json down to a full: every
 * base found and its header read before anything of the chain is
 * extracted, so that a missing one changes nothing.
 */
static int resolve_chain(struct reader *r)
{
	struct shared *sh = r->sh;
	const struct backup_header *child = &r->hdr;
	const char *child_path = r->archive;
	char dir[4200], why[1024];
	struct stat st;
	int rc;

	if ((sh->bases = calloc(BACKUP_MAX_CHAIN, sizeof *sh->bases)) == NULL)
		return refuse(r, "out of memory");
	while (child->has_base) {
		struct base *b = &sh->bases[sh->nbases];
		if (sh->nbases + 1 >= BACKUP_MAX_CHAIN)
			return refuse(r, "the chain of %s is longer than %d archives", base_of(r->archive),
			    BACKUP_MAX_CHAIN);
		snprintf(b->child, sizeof b->child, "%s", base_of(child_path));
		snprintf(b->file, sizeof b->file, "%s", child->base_file);
		snprintf(b->sha256, sizeof b->sha256, "%s", child->base_sha256);
		snprintf(b->header_sha256, sizeof b->header_sha256, "%s", child->base_header_sha256);
		b->size = child->base_size;
		sh->nbases++;
		dir_of(child_path, dir, sizeof dir);
		if (find_base(r, dir, b) < 0)
			return -1;
		if (stat(b->path, &st) < 0 || in_chain(r, &st, b))
			return refuse(r, "the chain of %s loops: %s, the base %s names, is already in it",
			    base_of(r->archive), b->path, b->child);
		rc = backup_header_read(b->path, r->lim->max_members, &b->want, why, sizeof why);
		if (rc < 0)
			return refuse(r, "%s, the base %s names: %s", b->path, b->child, why);
		if (rc == 0)
			return refuse(r, "%s, the base %s names, is a format 1 archive (no %s): the "
			    "chain does not end in a full backup", b->path, b->child, BACKUP_HEADER);
		/* Its holds are read with the whole archive. */
		backup_header_free(&b->want);
		child = &b->want;
		child_path = b->path;
	}
	sh->held = sh->nbases;
	return 0;
}

static void reset_links(struct shared *sh)
{
	for (size_t k = sh->held; k < sh->nbases; k++)
		memset(sh->bases[k].links, 0, sh->bases[k].hdr.nholds * sizeof *sh->bases[k].links);
}

static int read_one(struct reader *r);
static void reader_free(struct reader *r);

/* Whether a base read has the header it was found with: no other file took its place meanwhile. */
static int same_header(const struct backup_header *a, const struct backup_header *b)
{
	return strcmp(a->kind, b->kind) == 0 && a->has_base == b->has_base &&
	    strcmp(a->base_file, b->base_file) == 0 && strcmp(a->base_sha256, b->base_sha256) == 0 &&
	    a->base_size == b->base_size;
}

/* One base, whole, as its child names it: its content extracted, the rest checked. */
static int read_base(struct reader *r, struct base *b)
{
	struct backup_summary bsum;
	char berr[2048] = "", hex[65];
	struct reader br = { .lim = r->lim, .archive = b->path, .dir = r->dir, .parent_fd = -1,
	    .sh = r->sh, .roots = r->sh->roots, .content_only = 1, .sum = &bsum, .err = berr,
	    .errlen = sizeof berr };
	struct rawsrc *src = malloc(sizeof *src);
	struct stat st;
	int rc = -1, same;

	memset(&bsum, 0, sizeof bsum);
	br.parent[0] = '\0';
	if (src == NULL || (src->md = EVP_MD_CTX_new()) == NULL) {
		free(src);
		return refuse(r, "out of memory");
	}
	src->bytes = 0;
	if (EVP_DigestInit_ex(src->md, EVP_sha256(), NULL) != 1 ||
	    (src->fd = open(b->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		refuse(r, "%s, the base %s names: %s", b->path, b->child, strerror(errno));
		EVP_MD_CTX_free(src->md);
		free(src);
		return -1;
	}
	if (fstat(src->fd, &st) < 0 || st.st_dev != b->dev || st.st_ino != b->ino)
		snprintf(berr, sizeof berr, "another file took its place while it was read");
	else if ((br.a = open_archive_hashed(b->path, src, berr, sizeof berr)) != NULL)
		rc = read_one(&br);
	same = raw_finish(src, hex) == 0 && strcmp(hex, b->sha256) == 0 && src->bytes == b->size;
	if (!same && src->bytes != b->size)
		refuse(r, "%s, the base %s names, has %lld bytes, and %s says %lld (altered, or "
		    "another archive of that name)", b->path, b->child, (long long)src->bytes,
		    b->child, (long long)b->size);
	else if (!same)
		refuse(r, "%s, the base %s names, is not that archive: its sha256 is %s, and %s "
		    "says %s (altered, or another archive of that name)", b->path, b->child, hex,
		    b->child, b->sha256);
	else if (rc < 0)
		refuse(r, "%s, the base %s names: %s", b->path, b->child, berr);
	else if (!br.has_hdr || !same_header(&br.hdr, &b->want))
		rc = refuse(r, "%s, the base %s names, changed while it was read", b->path, b->child);
	else if (b->header_sha256[0] != '\0' && strcmp(br.hdr.header_sha256, b->header_sha256) != 0)
		rc = refuse(r, "%s, the base %s names, has a %s whose sha256 is %s, and %s says %s",
		    b->path, b->child, BACKUP_HEADER, br.hdr.header_sha256, b->child,
		    b->header_sha256);
	else if ((b->links = calloc(br.hdr.nholds + 1, sizeof *b->links)) == NULL)
		rc = refuse(r, "out of memory");
	if (same && rc == 0) {
		b->hdr = br.hdr;
		br.hdr.holds = NULL;
		br.hdr.nholds = 0;
		b->members = bsum.members;
		b->bytes = bsum.bytes;
		snprintf(b->created_at, sizeof b->created_at, "%s", bsum.created_at);
	}
	reader_free(&br);
	close(src->fd);
	EVP_MD_CTX_free(src->md);
	free(src);
	return same ? rc : -1;
}

/* Every base, the full first: their content is in staging before the newest archive's. */
static int read_bases(struct reader *r)
{
	while (r->sh->held > 0) {
		if (read_base(r, &r->sh->bases[r->sh->held - 1]) < 0)
			return -1;
		r->sh->held--;
	}
	reset_links(r->sh);
	return 0;
}

/* Reads r->a to its end, and judges the archive: 0, or -1 with r->err. */
static int read_one(struct reader *r)
{
	struct archive_entry *e;
	int st, first = 1;

	reset_links(r->sh);
	while ((st = next_header(r->a, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		if (path == NULL)
			return refuse(r, "a member has no path");
		if (first && strcmp(path, BACKUP_HEADER) == 0) {
			if (read_header(r, e) < 0)
				return -1;
			if (!r->content_only && r->hdr.has_base &&
			    (resolve_chain(r) < 0 || read_bases(r) < 0))
				return -1;
			if (check_overlap(r) < 0)
				return -1;
		} else if (strcmp(path, BACKUP_MANIFEST) == 0 && !r->manifest_done) {
			if (entry_type(e) != BM_FILE)
				return refuse(r, "%s is not a file", BACKUP_MANIFEST);
			r->manifest_done = 1;
			if ((r->manifest_md = EVP_MD_CTX_new()) == NULL ||
			    EVP_DigestInit_ex(r->manifest_md, EVP_sha256(), NULL) != 1)
				return refuse(r, "out of memory");
			if (read_manifest(r) < 0)
				return -1;
			r->sum->authenticated = manifest_authentic(r, e);
		} else if (read_member(r, e, path) < 0) {
			return -1;
		}
		first = 0;
	}
	if (st != ARCHIVE_EOF)
		return refuse(r, "the archive is damaged or truncated after %lld members: %s",
		    (long long)r->sum->members, archive_error_string(r->a));
	return check_whole(r);
}

static void reader_free(struct reader *r)
{
	if (r->a != NULL)
		archive_read_free(r->a);
	r->a = NULL;
	if (r->parent_fd >= 0)
		close(r->parent_fd);
	r->parent_fd = -1;
	for (size_t i = 0; i < r->nlinks; i++) {
		free(r->links[i].path);
		free(r->links[i].target);
	}
	free(r->links);
	EVP_MD_CTX_free(r->manifest_md);
	backup_header_free(&r->hdr);
	free(r->found);
	free(r->nodes);
	free(r->slots);
	free(r->conf);
}

void backup_bases_free(struct backup_bases *c)
{
	for (size_t i = 0; i < c->nread; i++)
		free(c->read[i].path);
	free(c->read);
	c->read = NULL;
	c->nread = 0;
}

/* What was read, newest first, for the caller to show. */
static int report_chain(struct reader *r, struct backup_bases *c)
{
	struct shared *sh = r->sh;

	if ((c->read = calloc(sh->nbases + 1, sizeof *c->read)) == NULL)
		return refuse(r, "out of memory");
	for (size_t i = 0; i <= sh->nbases; i++) {
		struct backup_chained *o = &c->read[i];
		const struct base *b = i > 0 ? &sh->bases[i - 1] : NULL;
		if ((o->path = strdup(b ? b->path : r->archive)) == NULL)
			return refuse(r, "out of memory");
		c->nread++;
		snprintf(o->kind, sizeof o->kind, "%s", b ? b->hdr.kind : r->sum->kind);
		snprintf(o->created_at, sizeof o->created_at, "%s",
		    b ? b->created_at : r->sum->created_at);
		o->members = b ? b->members : r->sum->members;
		o->bytes = b ? b->bytes : r->sum->bytes;
	}
	return 0;
}

int backup_read(const char *archive, const char *dir, const struct backup_limits *lim,
    struct backup_summary *sum, char *err, size_t errlen)
{
	return backup_read_chain(archive, dir, NULL, NULL, lim, sum, err, errlen);
}

int backup_read_split(const char *archive, const char *dir, const char *publish_dir,
    const struct backup_limits *lim, struct backup_summary *sum, char *err, size_t errlen)
{
	return backup_read_chain(archive, dir, publish_dir, NULL, lim, sum, err, errlen);
}

static int read_archive(const char *archive, const char *dir, const char *publish_dir,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen);

int backup_read_chain(const char *archive, const char *dir, const char *publish_dir,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen)
{
	struct backup_utf8 u;
	int rc;

	if (chain != NULL) {
		chain->read = NULL;
		chain->nread = 0;
	}
	/* Names as the manifest's, UTF-8, whoever reads: verify and restore decide alike. */
	if (backup_utf8_begin(&u) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = read_archive(archive, dir, publish_dir, chain, lim, sum, err, errlen);
	backup_utf8_end(&u);
	return rc;
}

int backup_utf8_begin(struct backup_utf8 *u)
{
	if ((u->c = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0)) == (locale_t)0)
		return -1;
	u->was = uselocale(u->c);
	return 0;
}

void backup_utf8_end(struct backup_utf8 *u)
{
	uselocale(u->was);
	freelocale(u->c);
}

static int read_archive(const char *archive, const char *dir, const char *publish_dir,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen)
{
	struct shared sh = { .roots = { { .fd = -1 }, { .fd = -1 } }, .chain = chain };
	struct reader r = { .lim = lim, .archive = archive, .dir = dir, .parent_fd = -1,
	    .sh = &sh, .roots = sh.roots, .sum = sum, .err = err, .errlen = errlen };
	int rc = -1;

	memset(sum, 0, sizeof *sum);
	err[0] = '\0';
	r.parent[0] = '\0';
	if (dir != NULL ? start_extraction(&r, dir, publish_dir) < 0 : 0)
		goto out;
	if (dir == NULL) {
		const char *tmp = getenv("TMPDIR");
		snprintf(sh.tmpdir, sizeof sh.tmpdir, "%s/depot-verify-XXXXXX",
		    tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(sh.tmpdir) == NULL) {
			refuse(&r, "making a directory to check the database in: %s: %s", sh.tmpdir,
			    strerror(errno));
			sh.tmpdir[0] = '\0';
			goto out;
		}
	}
	if ((r.a = open_archive(archive, err, errlen)) == NULL)
		goto out;
	if (read_one(&r) < 0)
		goto out;
	sum->chain = (int)sh.nbases + 1;
	/* Everything written reaches the disk before the caller swaps it in: one syncfs, not an fsync per file. */
	for (int i = 0; i < 2; i++) {
		if (sh.roots[i].fd >= 0 && syncfs(sh.roots[i].fd) < 0) {
			refuse(&r, "writing the staging directory %s: %s", i ? publish_dir : dir,
			    strerror(errno));
			goto out;
		}
	}
	if (chain != NULL && report_chain(&r, chain) < 0) {
		backup_bases_free(chain);
		goto out;
	}
	rc = 0;
out:
	reader_free(&r);
	for (int i = 0; i < 2; i++)
		if (sh.roots[i].fd >= 0)
			close(sh.roots[i].fd);
	if (sh.tmpdir[0] != '\0')
		fs_remove_tree(sh.tmpdir);
	for (size_t i = 0; i < sh.nbases; i++) {
		free(sh.bases[i].path);
		free(sh.bases[i].links);
		backup_header_free(&sh.bases[i].hdr);
		backup_header_free(&sh.bases[i].want);
	}
	free(sh.bases);
	return rc;
}
