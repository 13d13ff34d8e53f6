/* test_hashpipe.c: the threads that hash and write beside a backup's compression, a restore's decompression and a sync's downloads (hashpipe, writeout, archout): every byte hashed and written once, in order, and a failed write reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archout.h"
#include "hashpipe.h"
#include "writeout.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/* More than a few rings of chunks, and not a whole number of them. */
#define DATA_LEN (5 * 1024 * 1024 + 7)

struct fx {
	char dir[64], file[96];
	unsigned char *data;
};

static int setup(void **state);
static int teardown(void **state);
static void sha_hex(const void *data, size_t n, char *hex);
static unsigned char *slurp(const char *path, size_t *n);
static void pipe_through(struct hashpipe *p, const unsigned char *data, size_t n);

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	uint32_t x = 2463534242u;

	snprintf(fx->dir, sizeof fx->dir, "/tmp/depot-hashpipe-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->file, sizeof fx->file, "%s/out", fx->dir);
	fx->data = malloc(DATA_LEN);
	for (size_t i = 0; i < DATA_LEN; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;	/* xorshift: bytes that differ everywhere */
		fx->data[i] = (unsigned char)x;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx->data);
	free(fx);
	return 0;
}

static void sha_hex(const void *data, size_t n, char *hex)
{
	unsigned char d[32];
	unsigned int len;

	EVP_Digest(data, n, d, &len, EVP_sha256(), NULL);
	hashpipe_hex(d, hex);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long len;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return buf;
}

/* Hands data to p in pieces of every size from 1 byte to a whole chunk, as decompression yields them. */
static void pipe_through(struct hashpipe *p, const unsigned char *data, size_t n)
{
	size_t at = 0, step = 1;

	while (at < n) {
		size_t k = step < n - at ? step : n - at;
		memcpy(hashpipe_buffer(p), data + at, k);
		hashpipe_push(p, k);
		at += k;
		step = step * 3 % HASHPIPE_CHUNK + 1;
	}
}

/* Either pipe: two threads (hashpipe_start) or one that does both (hashpipe_start_joined). */
static void once_in_order(void **state, struct hashpipe *(*start)(struct writeout *, EVP_MD_CTX *))
{
	struct fx *fx = *state;
	char want[65], got[65];
	unsigned char d[32];
	unsigned int dlen;
	struct writeout out;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *back;
	size_t n;
	int fd = open(fx->file, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	/* What the caller hashed and wrote itself before the thread took over counts too. */
	EVP_DigestUpdate(md, fx->data, 1000);
	writeout_init(&out, fd);
	assert_int_equal(writeout_write(&out, fx->data, 1000), 0);
	struct hashpipe *p = start(&out, md);
	assert_non_null(p);
	pipe_through(p, fx->data + 1000, DATA_LEN - 1000);
	assert_int_equal(hashpipe_finish(p), 0);
	writeout_start(&out);
	close(fd);
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	hashpipe_hex(d, got);
	sha_hex(fx->data, DATA_LEN, want);
	assert_string_equal(got, want);
	assert_int_equal(out.written, DATA_LEN);
	back = slurp(fx->file, &n);
	assert_int_equal(n, DATA_LEN);
	assert_memory_equal(back, fx->data, DATA_LEN);
	free(back);
}

static void hashed_and_written_once_in_order(void **state)
{
	once_in_order(state, hashpipe_start);
}

static void joined_hashes_and_writes_once_in_order(void **state)
{
	once_in_order(state, hashpipe_start_joined);
}

static void hashing_alone_writes_nothing(void **state)
{
	struct fx *fx = *state;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char want[65], got[65];
	unsigned char d[32];
	unsigned int dlen;

	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	struct hashpipe *p = hashpipe_start(NULL, md);
	assert_non_null(p);
	pipe_through(p, fx->data, DATA_LEN);
	assert_int_equal(hashpipe_finish(p), 0);
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	hashpipe_hex(d, got);
	sha_hex(fx->data, DATA_LEN, want);
	assert_string_equal(got, want);
}

static void nothing_handed_over_is_an_empty_stream(void **state)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned int dlen;
	char got[65];

	(void)state;
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	struct hashpipe *p = hashpipe_start(NULL, md);
	assert_non_null(p);
	assert_int_equal(hashpipe_finish(p), 0);
	EVP_DigestFinal_ex(md, d, &dlen);
	EVP_MD_CTX_free(md);
	hashpipe_hex(d, got);
	assert_string_equal(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* A full disk: the thread stops writing, keeps taking chunks (the caller never blocks for good), and finish says why. */
static void a_failed_write_is_reported_by_finish(void **state)
{
	struct fx *fx = *state;
	struct writeout out;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = open("/dev/full", O_WRONLY);

	if (fd < 0)
		skip();
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	writeout_init(&out, fd);
	struct hashpipe *p = hashpipe_start(&out, md);
	assert_non_null(p);
	pipe_through(p, fx->data, DATA_LEN);
	errno = 0;
	assert_int_equal(hashpipe_finish(p), -1);
	assert_int_equal(errno, ENOSPC);
	close(fd);
	EVP_MD_CTX_free(md);
}

/*
 * A sync asks between chunks whether a write failed, to stop its download
 * there: not before one failed, and surely once the ring went round past
 * the chunk whose write failed (the caller waited for its buffer).
 */
static void a_failed_write_is_seen_while_feeding(void **state)
{
	struct fx *fx = *state;
	struct writeout out;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int fd = open("/dev/full", O_WRONLY);

	if (fd < 0)
		skip();
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	writeout_init(&out, fd);
	struct hashpipe *p = hashpipe_start_joined(&out, md);
	assert_non_null(p);
	assert_int_equal(hashpipe_error(p), 0);
	for (int i = 0; i < 8; i++) {
		memcpy(hashpipe_buffer(p), fx->data, HASHPIPE_CHUNK);
		hashpipe_push(p, HASHPIPE_CHUNK);
	}
	(void)hashpipe_buffer(p);
	assert_int_equal(hashpipe_error(p), ENOSPC);
	errno = 0;
	assert_int_equal(hashpipe_finish(p), -1);
	assert_int_equal(errno, ENOSPC);
	close(fd);
	EVP_MD_CTX_free(md);
}

/* Where writeback cannot be started (a pipe), the bytes still go through whole. */
static void writeout_through_a_pipe_loses_nothing(void **state)
{
	struct fx *fx = *state;
	struct writeout out;
	unsigned char *back = malloc(2 * DATA_LEN);
	int fds[2], st;
	size_t got = 0;
	pid_t pid;

	/* Two writes, the second past WRITEOUT_STEP, where writeback is asked for. */
	assert_true(2 * DATA_LEN > WRITEOUT_STEP && DATA_LEN < WRITEOUT_STEP);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		writeout_init(&out, fds[1]);
		_exit(writeout_write(&out, fx->data, DATA_LEN) == 0 && out.started == 0 &&
		    writeout_write(&out, fx->data, DATA_LEN) == 0 && out.written == 2 * DATA_LEN &&
		    out.started == out.written ? 0 : 1);
	}
	close(fds[1]);
	for (ssize_t k; (k = read(fds[0], back + got, 2 * DATA_LEN - got)) > 0;)
		got += (size_t)k;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(got, 2 * DATA_LEN);
	assert_memory_equal(back, fx->data, DATA_LEN);
	assert_memory_equal(back + DATA_LEN, fx->data, DATA_LEN);
	free(back);
}

/* How many of the pages of fd's [off, off + len) the page cache holds (mincore; mapping faults nothing in). */
static size_t resident_pages(int fd, off_t off, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, in = 0;
	unsigned char *vec = malloc(n);
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

	assert_true(map != MAP_FAILED);
	assert_int_equal(mincore(map, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	munmap(map, len);
	free(vec);
	return in;
}

/* Writes n bytes through out, a MiB of fx->data at a time. */
static void write_through(struct fx *fx, struct writeout *out, size_t n)
{
	for (size_t done = 0; done < n; done += 1 << 20)
		assert_int_equal(writeout_write(out, fx->data, n - done < (1 << 20) ? n - done : 1 << 20), 0);
}

static void writeout_drops_from_the_page_cache_what_is_on_the_disk(void **state)
{
	struct fx *fx = *state;
	size_t step_pages = WRITEOUT_STEP / (size_t)sysconf(_SC_PAGESIZE);
	struct writeout out;
	struct statfs sf;
	int fd = open(fx->file, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(fstatfs(fd, &sf), 0);
	/* tmpfs pages have no disk to be dropped to. */
	if (sf.f_type == TMPFS_MAGIC) {
		close(fd);
		skip();
	}
	writeout_init(&out, fd);
	write_through(fx, &out, WRITEOUT_STEP);
	assert_int_equal(out.started, WRITEOUT_STEP);
	/* The first step on the disk, and still cached: nothing was dropped yet. */
	assert_int_equal(fdatasync(fd), 0);
	assert_int_equal(resident_pages(fd, 0, WRITEOUT_STEP), step_pages);
	/* The next step drops it, and keeps its own. */
	write_through(fx, &out, WRITEOUT_STEP);
	assert_int_equal(out.started, 2 * WRITEOUT_STEP);
	assert_int_equal(resident_pages(fd, 0, WRITEOUT_STEP), 0);
	assert_int_equal(resident_pages(fd, WRITEOUT_STEP, WRITEOUT_STEP), step_pages);
	close(fd);
}

/* A tar.zst of one member holding data, written to fd through archout: 0, or archive_errno of the call that failed. */
static int write_tar_zst(int fd, const unsigned char *data, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct archout *ao;
	int rc;

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, ARCHOUT_BLOCK), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archout_open(a, fd, &ao), ARCHIVE_OK);
	archive_entry_set_pathname(e, "data.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)n);
	rc = archive_write_header(a, e) == ARCHIVE_OK &&
	    archive_write_data(a, data, n) == (la_ssize_t)n &&
	    archive_write_close(a) == ARCHIVE_OK ? 0 : archive_errno(a);
	archive_entry_free(e);
	archive_write_free(a);
	return rc;
}

static void archout_knows_the_sha256_of_the_file_it_wrote(void **state)
{
	struct fx *fx = *state;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct archout *ao;
	char want[65], got[65];
	unsigned char *file;
	size_t n;
	int fd = open(fx->file, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(a, ARCHOUT_BLOCK), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archout_open(a, fd, &ao), ARCHIVE_OK);
	archive_entry_set_pathname(e, "data.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, DATA_LEN);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, fx->data, DATA_LEN), DATA_LEN);
	/* Not known before the last block is written. */
	assert_int_equal(archout_sha256(ao, got), -1);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	assert_int_equal(archout_sha256(ao, got), 0);
	archive_entry_free(e);
	archive_write_free(a);
	close(fd);

	file = slurp(fx->file, &n);
	sha_hex(file, n, want);
	assert_string_equal(got, want);
	free(file);

	/* And what it wrote is the archive: the member comes back whole. */
	struct archive *r = archive_read_new();
	unsigned char *back = malloc(DATA_LEN + 1);
	la_ssize_t k, at = 0;
	assert_int_equal(archive_read_support_format_tar(r), ARCHIVE_OK);
	assert_int_equal(archive_read_support_filter_zstd(r), ARCHIVE_OK);
	assert_int_equal(archive_read_open_filename(r, fx->file, 65536), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(r, &e), ARCHIVE_OK);
	while ((k = archive_read_data(r, back + at, DATA_LEN + 1 - (size_t)at)) > 0)
		at += k;
	assert_int_equal(at, DATA_LEN);
	assert_memory_equal(back, fx->data, DATA_LEN);
	assert_int_equal(archive_read_next_header(r, &e), ARCHIVE_EOF);
	archive_read_free(r);
	free(back);
}

/* A full disk fails the archive_write_* call whose write failed, with the system's reason. */
static void archout_fails_the_write_that_failed(void **state)
{
	struct fx *fx = *state;
	int fd = open("/dev/full", O_WRONLY);

	if (fd < 0)
		skip();
	assert_int_equal(write_tar_zst(fd, fx->data, DATA_LEN), ENOSPC);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hashed_and_written_once_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(joined_hashes_and_writes_once_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(hashing_alone_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(nothing_handed_over_is_an_empty_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_write_is_reported_by_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_write_is_seen_while_feeding, setup, teardown),
		cmocka_unit_test_setup_teardown(writeout_through_a_pipe_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(writeout_drops_from_the_page_cache_what_is_on_the_disk,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(archout_knows_the_sha256_of_the_file_it_wrote, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(archout_fails_the_write_that_failed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
