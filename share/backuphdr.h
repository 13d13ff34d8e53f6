/* backuphdr.h: BACKUP.json, the first member of a format 2 archive — its kind, its base and the content it holds — read without reading the rest. */
#ifndef DEPOT_BACKUPHDR_H
#define DEPOT_BACKUPHDR_H
#include "jsonstream.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BACKUP_HEADER "BACKUP.json"
#define BACKUP_FORMAT_HEADER 2	/* the first format with a header */
#define BACKUP_KIND_FULL "full"
#define BACKUP_KIND_INCREMENTAL "incremental"

struct backup_header {
	int format;
	char kind[16];			/* BACKUP_KIND_FULL or BACKUP_KIND_INCREMENTAL */
	char created_at[40];
	char depot_version[32];
	int64_t task_id;
	int has_base;			/* an incremental names its base */
	char base_file[256];		/* its file name, no directory */
	char base_sha256[65];		/* of the whole base archive file */
	int64_t base_size;
	char base_header_sha256[65];	/* of the base's BACKUP.json, when the header says */
	unsigned char (*holds)[32];	/* content carried, as binary sha256, ascending */
	size_t nholds;
	/* Filled by backup_header_read: the file it read, and its BACKUP.json's sha256. */
	dev_t dev;
	ino_t ino;
	int64_t file_size;
	char header_sha256[65];
};

/*
 * Parses BACKUP.json from js, at most max_holds content names (the reader's
 * member limit); with max_holds < 0 the holds are skipped, not kept. Refuses an unknown format or kind, an incremental without a
 * base or a full with one, a base name with a '/', and holds that are not
 * sorted, unique sha256 hex. 0, or -1 with err.
 */
int backup_header_parse(struct jstream *js, int64_t max_holds, struct backup_header *h,
    char *err, size_t errlen);
/*
 * Reads FILE's header, its first member, and nothing after it, hashing it.
 * FILE must be a regular file, opened without following a final link or
 * blocking on a FIFO. 1 and *h filled; 0 when the first member is not
 * BACKUP.json (a format 1 archive); -1 with err when the file is not a
 * regular file, not a readable tar, or its header is bad.
 */
int backup_header_read(const char *file, int64_t max_holds, struct backup_header *h,
    char *err, size_t errlen);
/* The same from an open file (not closed here), name standing for it in err. */
int backup_header_read_fd(int fd, const char *name, int64_t max_holds,
    struct backup_header *h, char *err, size_t errlen);
struct archive;
/*
 * A libarchive reader of what depot writes and nothing else (DESIGN §15):
 * tar, with the gzip, zstd or no filter — never an external program. Not
 * yet opened; NULL with err naming file.
 */
struct archive *backup_tar_reader(const char *file, char *err, size_t errlen);
/*
 * Parses the member a is at (BACKUP.json), hashing its bytes into
 * h->header_sha256 and counting them into *size: what the archive's
 * manifest lists for it, and what an incremental's writer checks a base
 * by. 0, or -1 with err.
 */
int backup_header_parse_member(struct archive *a, int64_t max_holds, struct backup_header *h,
    int64_t *size, char *err, size_t errlen);
/* 1 if h holds the content whose binary sha256 is digest. */
int backup_header_holds(const struct backup_header *h, const unsigned char *digest);
/* Parses 64 hex digits into 32 bytes: 0, or -1 when s is not lowercase sha256 hex. */
int backup_sha256_parse(const char *s, unsigned char *digest);
void backup_header_free(struct backup_header *h);

#endif
