/* backupfmt.h: the backup archive format (DESIGN §9) — a tar with MANIFEST.json as its last member — and reading one safely. */
#ifndef DEPOT_BACKUPFMT_H
#define DEPOT_BACKUPFMT_H
#include <stddef.h>
#include <stdint.h>

#define BACKUP_FORMAT 1
#define BACKUP_MANIFEST "MANIFEST.json"
/* Caps on what a restore reads, so a hostile archive cannot exhaust the machine. */
#define BACKUP_MAX_MEMBERS 5000000
#define BACKUP_MAX_MANIFEST (512 * 1024 * 1024)

enum backup_type { BM_FILE = 'f', BM_DIR = 'd', BM_SYMLINK = 'l', BM_HARDLINK = 'h' };

struct backup_member {
	char *path;
	char type;		/* enum backup_type */
	int64_t size;		/* files */
	char sha256[65];	/* files */
	char *target;		/* symlinks and hard links */
};

struct backup_manifest {
	int format;
	char created_at[40];
	char version[32];
	struct backup_member *m;	/* sorted by path once read */
	size_t n;
};

void backup_manifest_free(struct backup_manifest *mf);

/* 1 if path is relative, with no empty, "." or ".." component. */
int backup_path_safe(const char *path);

/*
 * Reads the whole archive and checks every member against the manifest:
 * same set of paths, types, sizes, sha256 and link targets. Only the tar
 * format with gzip, zstd or no compression is read. Returns 0 and fills
 * *mf, or -1 with err naming the first bad member.
 */
int backup_verify(const char *archive, struct backup_manifest *mf, char *err, size_t errlen);

/*
 * Extracts a verified archive into dir (an empty directory), refusing
 * absolute paths, "..", links that leave dir, devices, FIFOs and members
 * not in mf; files are hashed again as they are written. 0, or -1 with err.
 */
int backup_extract(const char *archive, const struct backup_manifest *mf, const char *dir,
    char *err, size_t errlen);

#endif
