/* test_backuphdr.c: BACKUP.json, a format 2 archive's header: what it accepts and refuses, and reading it from a real tar's first member. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "backuphdr.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct text {
	const char *s;
	size_t pos;
};

static long fill_text(void *ctx, char *buf, size_t cap)
{
	struct text *t = ctx;
	size_t n = strlen(t->s + t->pos);

	n = n < cap ? n : cap;
	memcpy(buf, t->s + t->pos, n);
	t->pos += n;
	return (long)n;
}

static struct jstream JS;

static int parse(const char *s, struct backup_header *h, char *err, size_t errlen)
{
	struct text t = { s, 0 };

	js_init(&JS, fill_text, &t);
	return backup_header_parse(&JS, 100, h, err, errlen);
}

static void accepts_full_and_incremental(void **state)
{
	struct backup_header h;
	unsigned char d[32];
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"format\":2,\"kind\":\"full\",\"created_at\":\"x\",\"base\":null,"
	    "\"holds\":[\"" SHA_A "\",\"" SHA_B "\"],\"future\":{\"a\":[1]}}", &h, err, sizeof err), 0);
	assert_string_equal(h.kind, "full");
	assert_int_equal(h.has_base, 0);
	assert_int_equal(h.nholds, 2);
	assert_int_equal(backup_sha256_parse(SHA_B, d), 0);
	assert_true(backup_header_holds(&h, d));
	d[0] = 0xcc;
	assert_false(backup_header_holds(&h, d));
	backup_header_free(&h);

	assert_int_equal(parse("{\"format\":2,\"kind\":\"incremental\",\"task_id\":7,\"base\":{\"file\":"
	    "\"a.tar.zst\",\"sha256\":\"" SHA_A "\",\"size\":12},\"holds\":[]}", &h, err, sizeof err), 0);
	assert_int_equal(h.has_base, 1);
	assert_string_equal(h.base_file, "a.tar.zst");
	assert_int_equal(h.base_size, 12);
	assert_int_equal(h.task_id, 7);
	assert_int_equal(h.nholds, 0);
	backup_header_free(&h);
}

static void refuses(const char *text, const char *why)
{
	struct backup_header h;
	char err[256];

	assert_int_equal(parse(text, &h, err, sizeof err), -1);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': expected '%s' in '%s'", text, why, err);
	assert_null(h.holds);
}

static void refuses_bad_headers(void **state)
{
	(void)state;
	refuses("{\"format\":3,\"kind\":\"full\",\"base\":null,\"holds\":[]}", "format 3");
	refuses("{\"format\":2,\"kind\":\"diff\",\"base\":null,\"holds\":[]}", "'kind'");
	refuses("{\"format\":2,\"kind\":\"incremental\",\"base\":null,\"holds\":[]}", "lacks a 'base'");
	refuses("{\"format\":2,\"kind\":\"full\",\"base\":{\"file\":\"a\",\"sha256\":\"" SHA_A
	    "\",\"size\":1},\"holds\":[]}", "has a 'base'");
	refuses("{\"format\":2,\"kind\":\"incremental\",\"base\":{\"file\":\"../a\",\"sha256\":\""
	    SHA_A "\",\"size\":1},\"holds\":[]}", "plain file name");
	refuses("{\"format\":2,\"kind\":\"incremental\",\"base\":{\"file\":\"a\",\"size\":1},"
	    "\"holds\":[]}", "needs 'file'");
	refuses("{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[\"" SHA_B "\",\"" SHA_A
	    "\"]}", "sorted");
	refuses("{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[\"" SHA_A "\",\"" SHA_A
	    "\"]}", "sorted");
	refuses("{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[\"AAAA\"]}", "lowercase hex");
	refuses("{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[]} x", "BACKUP.json");
}

static void write_tar(const char *path, const char *first, const char *text)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, first);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)strlen(text));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, text, strlen(text)), (la_ssize_t)strlen(text));
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void reads_the_first_member_of_a_real_archive(void **state)
{
	char path[] = "/tmp/test_backuphdr-XXXXXX", err[256];
	struct backup_header h;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_tar(path, BACKUP_HEADER, "{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[\""
	    SHA_A "\"]}");
	assert_int_equal(backup_header_read(path, 10, &h, err, sizeof err), 1);
	assert_int_equal(h.nholds, 1);
	backup_header_free(&h);

	write_tar(path, "depot.db", "not a header");	/* format 1: no header */
	assert_int_equal(backup_header_read(path, 10, &h, err, sizeof err), 0);

	write_tar(path, BACKUP_HEADER, "{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[\""
	    SHA_A "\",\"" SHA_B "\"]}");
	assert_int_equal(backup_header_read(path, 1, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "more than 1"));

	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(backup_header_read(path, 10, &h, err, sizeof err), -1);
	unlink(path);
}

/* The sha256 of the header member's bytes, which an incremental's writer compares with the one recorded. */
static void hashes_the_header_it_read(void **state)
{
	static const char text[] = "{\"format\":2,\"kind\":\"full\",\"base\":null,\"holds\":[]}\n";
	char path[] = "/tmp/test_backuphdr-XXXXXX", err[256], want[65];
	unsigned char d[32];
	unsigned int dlen;
	struct backup_header h;
	struct stat st;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_tar(path, BACKUP_HEADER, text);
	EVP_Digest(text, strlen(text), d, &dlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < dlen; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	assert_int_equal(backup_header_read(path, 10, &h, err, sizeof err), 1);
	assert_string_equal(h.header_sha256, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(h.file_size, st.st_size);
	assert_true(h.ino == st.st_ino);
	backup_header_free(&h);
	unlink(path);
}

/* A base named in a forged header may be a FIFO or a link: refused at once, never waited on or followed. */
static void refuses_a_fifo_and_a_link_without_blocking(void **state)
{
	char dir[] = "/tmp/test_backuphdr-XXXXXX", fifo[64], link[64], err[256];
	struct backup_header h;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(backup_header_read(fifo, 10, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(backup_header_read(link, 10, &h, err, sizeof err), -1);
	unlink(fifo);
	unlink(link);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_full_and_incremental),
		cmocka_unit_test(refuses_bad_headers),
		cmocka_unit_test(reads_the_first_member_of_a_real_archive),
		cmocka_unit_test(hashes_the_header_it_read),
		cmocka_unit_test(refuses_a_fifo_and_a_link_without_blocking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
