/* backupfmt.h: the backup archive format (DESIGN §9) — a tar with MANIFEST.json as its last member — and reading one safely. */
#ifndef DEPOT_BACKUPFMT_H
#define DEPOT_BACKUPFMT_H
#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#define BACKUP_FORMAT 1
#define BACKUP_MANIFEST "MANIFEST.json"

/* The top-level names a depot archive may hold: what a backup writes, and nothing else. */
#define BACKUP_TOP_NAMES { "BACKUP.json", "depot.db", "depot.conf", "content", "publish", "logs" }
/* A member's path, and each of its components, at most this long (what restore can create). */
#define BACKUP_MAX_PATH 4095
#define BACKUP_MAX_NAME 255
/* Components in a member's path: a depot's trees are a few deep; this keeps every walk of a restored tree bounded. */
#define BACKUP_MAX_DEPTH 128
/* depot.conf is read into memory and checked with the daemon's own parser. */
#define BACKUP_MAX_CONF (1024 * 1024)

/*
 * DIR/backup.key: a secret of this depot, never backed up, that
 * authenticates the archives it writes (an HMAC of the manifest, which
 * holds every member's sha256). A restore trusts only such an archive with
 * what runs by itself: an archive from elsewhere has its schedules disabled
 * and its depot.conf set aside (DESIGN §9).
 */
#define BACKUP_KEY_FILE "backup.key"
#define BACKUP_KEY_LEN 32
/* The MANIFEST.json entry's pax attribute holding the HMAC, as hex. */
#define BACKUP_MAC_XATTR "depot.hmac"

struct backup_limits {
	int64_t max_members;	/* [limits] restore_max_members */
	int64_t free_margin;	/* [limits] restore_free_margin: bytes left free when extracting */
	const unsigned char *key;	/* BACKUP_KEY_LEN bytes to authenticate with, or NULL */
};

/* The limits of a default depot.conf. */
void backup_limits_default(struct backup_limits *lim);

struct backup_summary {
	int format;
	char kind[16];		/* format 2: "full" or "incremental"; "" for format 1 */
	int chain;		/* archives read: the archive and its bases (1 unless incremental) */
	char created_at[40];
	char version[32];
	int64_t members;	/* in the manifest, MANIFEST.json itself not counted */
	int64_t bytes;		/* of file data */
	int authenticated;	/* its manifest carries an HMAC made with lim->key */
};

/* The most archives a chain may hold, and --base files a restore may name. */
#define BACKUP_MAX_CHAIN 1000
#define BACKUP_MAX_BASES 64

/* One archive of a chain that was read. */
struct backup_chained {
	char *path;
	char kind[16];
	char created_at[40];
	int64_t members, bytes;
};

/*
 * An incremental archive's bases (doc/backup-format.md). In: files they
 * may be, besides the archive's own directory (--base FILE...), each found
 * by the sha256 its child names. Out, once read: every archive of the
 * chain, newest first, a full last (one entry for a full or a format 1
 * archive), for backup_bases_free to release.
 */
struct backup_bases {
	const char *const *files;
	size_t nfiles;
	struct backup_chained *read;
	size_t nread;
};

void backup_bases_free(struct backup_bases *c);

/* Reads DIR/backup.key into key: 0, or -1 with errno (ENOENT: there is none). */
int backup_key_read(const char *dir, unsigned char *key);
/* Makes DIR/backup.key (0600) unless it exists: 0, or -1 with errno. */
int backup_key_create(const char *dir);
/* The HMAC of a manifest whose sha256 is digest (32 bytes), as 64 hex digits and a NUL in hex. */
void backup_mac(const unsigned char *key, const unsigned char *digest, char *hex);

/*
 * libarchive converts member names by the thread's locale: writer and
 * readers run in C.UTF-8 between these (depotd --verify runs in the user's
 * locale, the daemon in C, where a name that is not ASCII cannot be
 * converted), so names are UTF-8 in every archive and every reader sees
 * them alike. glibc has C.UTF-8 built in since 2.35. 0, or -1 (out of
 * memory); end undoes a begin that returned 0.
 */
struct backup_utf8 {
	locale_t c, was;
};
int backup_utf8_begin(struct backup_utf8 *u);
void backup_utf8_end(struct backup_utf8 *u);

/* 1 if path is relative, with no empty, "." or ".." component. */
int backup_path_safe(const char *path);

/*
 * The one decision on an archive (DESIGN §9): verify and restore both call
 * it, so they accept exactly the same archives. It reads the archive once,
 * streaming (memory stays bounded whatever the member count), and refuses:
 * formats and filters other than tar with gzip, zstd or none; unsafe paths;
 * top-level names depot does not write; devices, FIFOs and sockets; a member
 * under a symlink; symlinks outside publish/ or that resolve — through every
 * link the archive creates, as the file system would — outside publish/;
 * hard links to anything but an earlier regular file; a member or manifest
 * entry that does not match; a depot.conf the daemon would reject; a database
 * that fails PRAGMA integrity_check; more than lim->max_members members.
 *
 * dir NULL verifies only. Otherwise dir is an empty directory the archive is
 * extracted into as it is read, never through a link, refusing to fill its
 * file system past lim->free_margin; on refusal dir holds what was written
 * so far and the caller removes it. Returns 0 and fills *sum, or -1 with err
 * naming the first bad member and why.
 *
 * A format 2 archive starts with BACKUP.json (backuphdr.h), which must list
 * exactly the content it carries. An incremental's bases are found beside
 * it by file name, else among chain->files by sha256, each hashed as it is
 * read and refused, naming it, when missing, of another sha256 or size, in
 * a loop, or when the chain does not end in a full. Bases are read first,
 * oldest first, each checked against its own manifest and giving only its
 * content; the rest comes from the newest. Then every content a complete
 * version of the newest database references must be in the chain.
 */
int backup_read(const char *archive, const char *dir, const struct backup_limits *lim,
    struct backup_summary *sum, char *err, size_t errlen);
/*
 * The same, with publish/ extracted into publish_dir (an empty directory
 * beside a [publish] dir outside the data directory) instead of
 * dir/publish; its hard links to content/ become copies across file systems.
 */
int backup_read_split(const char *archive, const char *dir, const char *publish_dir,
    const struct backup_limits *lim, struct backup_summary *sum, char *err, size_t errlen);
/* Either of the above, with an incremental's bases named in chain (NULL: none), which is filled. */
int backup_read_chain(const char *archive, const char *dir, const char *publish_dir,
    struct backup_bases *chain, const struct backup_limits *lim, struct backup_summary *sum,
    char *err, size_t errlen);

#endif
