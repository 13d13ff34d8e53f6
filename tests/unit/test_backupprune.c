/* test_backupprune.c: a directory of real archives: what backup list reads of them (kinds, chains, verified marks) and which [backup] keep removes — only this depot's chains, never through a link. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backupdir.h"
#include "depotd.h"
#include "fsutil.h"
#include "log.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_G "6666666666666666666666666666666666666666666666666666666666666666"

struct fixture {
	char dir[64];		/* the backups directory */
	char outside[64];	/* another directory, beside it */
	char path[256];
};

static const char *at(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
	return f->path;
}

/* A tar at path whose members are (name, text) pairs, first to last; zstd unless plain. */
static void write_tar(const char *path, const char *const *members, int plain)
{
	struct archive *a = archive_write_new();

	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (!plain)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (; members[0] != NULL; members += 2) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(members[1]);

		archive_entry_set_pathname(e, members[0]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0600);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, members[1], len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void write_members(const char *path, const char *const *members)
{
	write_tar(path, members, 0);
}

/*
 * A format 2 archive name in dir, made at minute minute of a day: a full
 * when base is NULL, else an incremental naming base (a file of dir, for
 * its size; or a name with no file, then with size 1 and sha256 SHA_G).
 */
static void archive2(struct fixture *f, const char *name, int minute, const char *base)
{
	char header[1024], basejson[512];
	const char *members[] = { BACKUP_HEADER, header, "depot.db", "a database", NULL };
	struct stat st;

	if (base == NULL)
		snprintf(basejson, sizeof basejson, "null");
	else if (stat(at(f, base), &st) == 0)
		snprintf(basejson, sizeof basejson, "{\"file\":\"%s\",\"sha256\":\"" SHA_A
		    "\",\"size\":%lld}", base, (long long)st.st_size);
	else
		snprintf(basejson, sizeof basejson, "{\"file\":\"%s\",\"sha256\":\"" SHA_G
		    "\",\"size\":1}", base);
	snprintf(header, sizeof header, "{\"format\":2,\"kind\":\"%s\",\"created_at\":"
	    "\"2020-01-02T03:%02d:00.000Z\",\"depot_version\":\"0.1.0\",\"task_id\":%d,"
	    "\"base\":%s,\"holds\":[\"" SHA_A "\"]}", base ? "incremental" : "full", minute,
	    minute, basejson);
	write_members(at(f, name), members);
}

/* A format 1 archive: depot.db first, no header. */
static void archive1(struct fixture *f, const char *name)
{
	const char *members[] = { "depot.db", "a database", "MANIFEST.json", "{}", NULL };

	write_members(at(f, name), members);
}

static void put_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int exists(struct fixture *f, const char *name)
{
	struct stat st;

	return lstat(at(f, name), &st) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/test_backupprune-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->outside, sizeof f->outside, "%s.outside", f->dir);
	assert_int_equal(mkdir(f->outside, 0700), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fs_remove_tree(f->dir);
	fs_remove_tree(f->outside);
	free(f);
	return 0;
}

/*
 * Three chains, oldest first: f1 ← i1a ← i1b, f2 ← i2a, f3; beside them
 * what is not ours: a format 1 archive, a text file, an unreadable
 * .tar.zst, a tar of someone else's, and a link to an archive of ours
 * outside the directory (older than all of them).
 */
static void three_chains(struct fixture *f)
{
	char target[128], link[128];
	const char *other[] = { "README", "someone else's", NULL };

	archive2(f, "f1.tar.zst", 1, NULL);
	archive2(f, "i1a.tar.zst", 2, "f1.tar.zst");
	archive2(f, "i1b.tar.zst", 3, "i1a.tar.zst");
	archive2(f, "f2.tar.zst", 4, NULL);
	archive2(f, "i2a.tar.zst", 5, "f2.tar.zst");
	archive2(f, "f3.tar.zst", 6, NULL);
	archive1(f, "old-format1.tar.zst");
	put_text(at(f, "notes.txt"), "not an archive\n");
	put_text(at(f, "broken.tar.zst"), "not a tar\n");
	write_members(at(f, "other.tar.zst"), other);
	snprintf(target, sizeof target, "%s/planted.tar.zst", f->outside);
	{
		struct fixture o = *f;

		snprintf(o.dir, sizeof o.dir, "%s", f->outside);
		archive2(&o, "planted.tar.zst", 0, NULL);
	}
	snprintf(link, sizeof link, "%s/planted.tar.zst", f->dir);
	assert_int_equal(symlink(target, link), 0);
}

/* Never touched, whatever keep says. */
static void assert_not_ours_kept(struct fixture *f)
{
	char target[128];
	struct stat st;

	assert_true(exists(f, "old-format1.tar.zst"));
	assert_true(exists(f, "notes.txt"));
	assert_true(exists(f, "broken.tar.zst"));
	assert_true(exists(f, "other.tar.zst"));
	assert_true(exists(f, "planted.tar.zst"));
	assert_int_equal(lstat(at(f, "planted.tar.zst"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(target, sizeof target, "%s/planted.tar.zst", f->outside);
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static int prune(struct fixture *f, int keep, const char *just, cJSON *pruned)
{
	char err[512], written[256];
	int n;

	snprintf(written, sizeof written, "%s/%s", f->dir, just);
	n = backup_prune(f->dir, keep, just ? written : NULL, pruned, err, sizeof err);
	if (n < 0)
		fail_msg("backup_prune: %s", err);
	return n;
}

static void scan_reads_kinds_chains_and_what_is_not_ours(void **state)
{
	struct fixture *f = *state;
	struct backup_scan s;
	char err[512];
	const char *order[] = { "f1.tar.zst", "i1a.tar.zst", "i1b.tar.zst", "f2.tar.zst",
	    "i2a.tar.zst", "f3.tar.zst" };
	size_t first = 0;

	three_chains(f);
	assert_int_equal(backup_scan_dir(f->dir, &s, err, sizeof err), 0);
	/* The link is not listed; the text file is not an archive; the rest are. */
	for (size_t i = 0; i < s.n; i++) {
		assert_string_not_equal(s.e[i].name, "planted.tar.zst");
		assert_string_not_equal(s.e[i].name, "notes.txt");
	}
	assert_int_equal(s.n, 9);
	/* Ours by the time their headers give (2020); the others by their files' (now), after. */
	while (first < s.n && s.e[first].format != BACKUP_FORMAT_HEADER)
		first++;
	for (size_t i = 0; i < 6; i++) {
		const struct backup_entry *e = &s.e[i];

		assert_string_equal(e->name, order[i]);
		assert_int_equal(e->format, 2);
		assert_true(e->created_known);
		assert_int_equal(e->verified, BACKUP_NOT_VERIFIED);
	}
	assert_int_equal(first, 0);
	assert_string_equal(s.e[1].hdr.kind, "incremental");
	assert_int_equal(s.e[1].base, 0);
	assert_int_equal(s.e[2].base, 1);
	assert_int_equal(s.e[4].base, 3);
	assert_int_equal(s.e[0].base, -1);
	assert_int_equal(s.nchains, 3);
	assert_int_equal(s.e[0].chain, s.e[2].chain);
	assert_string_equal(s.c[s.e[2].chain].root, "f1.tar.zst");
	assert_int_equal(s.c[s.e[2].chain].members, 3);
	assert_true(s.c[s.e[2].chain].root_present);
	assert_int_not_equal(s.e[3].chain, s.e[0].chain);
	assert_int_equal(s.e[3].chain, s.e[4].chain);
	for (size_t i = 6; i < s.n; i++) {
		const struct backup_entry *e = &s.e[i];

		if (strcmp(e->name, "broken.tar.zst") == 0)
			assert_int_equal(e->format, 0);
		else
			assert_int_equal(e->format, 1);
		assert_false(e->created_known);
	}
	backup_scan_free(&s);
}

static void keep_three_removes_nothing(void **state)
{
	struct fixture *f = *state;

	three_chains(f);
	assert_int_equal(prune(f, 3, "f3.tar.zst", NULL), 0);
	assert_true(exists(f, "f1.tar.zst") && exists(f, "i1b.tar.zst"));
	assert_not_ours_kept(f);
}

/* Only -o backups have been written: DIR/backups does not exist, and that is no error. */
static void no_backups_dir_prunes_nothing_quietly(void **state)
{
	struct fixture *f = *state;
	char missing[600], err[512] = "";

	snprintf(missing, sizeof missing, "%s/never-made", f->dir);
	assert_int_equal(backup_prune(missing, 1, NULL, NULL, err, sizeof err), 0);
	assert_string_equal(err, "");
}

static void keep_two_removes_the_oldest_chain_newest_first(void **state)
{
	struct fixture *f = *state;
	cJSON *pruned = cJSON_CreateArray();
	char *text;

	three_chains(f);
	assert_int_equal(prune(f, 2, "f3.tar.zst", pruned), 3);
	text = cJSON_PrintUnformatted(pruned);
	assert_string_equal(text, "[\"i1b.tar.zst\",\"i1a.tar.zst\",\"f1.tar.zst\"]");
	free(text);
	cJSON_Delete(pruned);
	assert_false(exists(f, "f1.tar.zst") || exists(f, "i1a.tar.zst") ||
	    exists(f, "i1b.tar.zst"));
	assert_true(exists(f, "f2.tar.zst") && exists(f, "i2a.tar.zst") &&
	    exists(f, "f3.tar.zst"));
	assert_not_ours_kept(f);
	/* Again: nothing more goes. */
	assert_int_equal(prune(f, 2, "f3.tar.zst", NULL), 0);
}

static void keep_one_leaves_the_newest_chain(void **state)
{
	struct fixture *f = *state;

	three_chains(f);
	assert_int_equal(prune(f, 1, "f3.tar.zst", NULL), 5);
	assert_true(exists(f, "f3.tar.zst"));
	assert_false(exists(f, "f2.tar.zst") || exists(f, "i2a.tar.zst") ||
	    exists(f, "f1.tar.zst"));
	assert_not_ours_kept(f);
}

/* An incremental written last extends the old chain: that chain is the newest, so the middle one goes. */
static void an_incremental_keeps_its_whole_chain(void **state)
{
	struct fixture *f = *state;

	three_chains(f);
	archive2(f, "i1c.tar.zst", 7, "i1b.tar.zst");
	assert_int_equal(prune(f, 2, "i1c.tar.zst", NULL), 2);
	assert_true(exists(f, "f1.tar.zst") && exists(f, "i1a.tar.zst") &&
	    exists(f, "i1b.tar.zst") && exists(f, "i1c.tar.zst") && exists(f, "f3.tar.zst"));
	assert_false(exists(f, "f2.tar.zst") || exists(f, "i2a.tar.zst"));
}

/* The chain just written to stays even when it is not among the newest (a clock set back). */
static void the_chain_just_written_stays(void **state)
{
	struct fixture *f = *state;

	three_chains(f);
	assert_int_equal(prune(f, 1, "i1b.tar.zst", NULL), 2);
	assert_true(exists(f, "f1.tar.zst") && exists(f, "i1a.tar.zst") &&
	    exists(f, "i1b.tar.zst") && exists(f, "f3.tar.zst"));
	assert_false(exists(f, "f2.tar.zst") || exists(f, "i2a.tar.zst"));
	/* keep 0: only that one. */
	assert_int_equal(prune(f, 0, "i1b.tar.zst", NULL), 1);
	assert_false(exists(f, "f3.tar.zst"));
	assert_true(exists(f, "f1.tar.zst"));
	assert_not_ours_kept(f);
}

/*
 * Incrementals whose base is gone are one chain, that base's, and count as
 * one; a base here with another size is not theirs.
 */
static void an_incremental_whose_base_is_gone_counts_in_its_chain(void **state)
{
	struct fixture *f = *state;
	struct backup_scan s;
	char err[512];

	archive2(f, "gone-a.tar.zst", 1, "gone.tar.zst");
	archive2(f, "gone-b.tar.zst", 2, "gone-a.tar.zst");
	archive2(f, "gone-c.tar.zst", 3, "gone.tar.zst");
	archive2(f, "f2.tar.zst", 4, NULL);
	archive2(f, "f3.tar.zst", 5, NULL);
	/* It names f2 with a size f2 does not have: its real base is gone. */
	{
		char header[1024];
		const char *members[] = { BACKUP_HEADER, header, NULL };

		snprintf(header, sizeof header, "{\"format\":2,\"kind\":\"incremental\","
		    "\"created_at\":\"2020-01-02T03:06:00.000Z\",\"base\":{\"file\":\"f2.tar.zst\","
		    "\"sha256\":\"" SHA_A "\",\"size\":3},\"holds\":[]}");
		write_members(at(f, "i-lost.tar.zst"), members);
	}
	assert_int_equal(backup_scan_dir(f->dir, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.nchains, 4);
	assert_int_equal(s.e[0].chain, s.e[1].chain);
	assert_int_equal(s.e[0].chain, s.e[2].chain);
	assert_string_equal(s.c[s.e[0].chain].root, "gone.tar.zst");
	assert_false(s.c[s.e[0].chain].root_present);
	assert_int_equal(s.e[5].base, -1);
	assert_int_not_equal(s.e[5].chain, s.e[3].chain);
	backup_scan_free(&s);

	/* Newest chains: i-lost's (6), f3 (5), f2 (4), gone (3). */
	assert_int_equal(prune(f, 3, "i-lost.tar.zst", NULL), 3);
	assert_false(exists(f, "gone-a.tar.zst") || exists(f, "gone-b.tar.zst") ||
	    exists(f, "gone-c.tar.zst"));
	assert_true(exists(f, "f2.tar.zst") && exists(f, "f3.tar.zst") &&
	    exists(f, "i-lost.tar.zst"));
}

/* b's header naming base, of size size. */
static void loop_member(char *header, size_t n, const char *base, int minute, long long size)
{
	snprintf(header, n, "{\"format\":2,\"kind\":\"incremental\",\"created_at\":"
	    "\"2020-01-02T03:%02d:00.000Z\",\"base\":{\"file\":\"%s\",\"sha256\":\"" SHA_A
	    "\",\"size\":%lld},\"holds\":[]}", minute, base, size);
}

/*
 * Incrementals that name one another, with no full (plain tars, whose size
 * is a whole number of blocks whatever the header says): a chain that
 * ends, and is pruned like any.
 */
static void base_names_that_loop_end(void **state)
{
	struct fixture *f = *state;
	char header[1024];
	const char *members[] = { BACKUP_HEADER, header, NULL };
	struct stat st;
	struct backup_scan s;
	char err[512];

	loop_member(header, sizeof header, "b.tar", 1, 0);
	write_tar(at(f, "a.tar"), members, 1);
	assert_int_equal(stat(at(f, "a.tar"), &st), 0);
	loop_member(header, sizeof header, "a.tar", 2, (long long)st.st_size);
	write_tar(at(f, "b.tar"), members, 1);
	loop_member(header, sizeof header, "b.tar", 1, (long long)st.st_size);
	write_tar(at(f, "a.tar"), members, 1);
	archive2(f, "f.tar.zst", 3, NULL);
	assert_int_equal(backup_scan_dir(f->dir, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.e[0].base, 1);
	assert_int_equal(s.e[1].base, 0);
	assert_int_equal(s.nchains, 2);
	assert_int_equal(s.e[0].chain, s.e[1].chain);
	assert_string_equal(s.c[s.e[0].chain].root, "a.tar");
	backup_scan_free(&s);
	assert_int_equal(prune(f, 1, "f.tar.zst", NULL), 2);
	assert_true(exists(f, "f.tar.zst"));
	assert_false(exists(f, "a.tar") || exists(f, "b.tar"));
}

/* A verify's mark counts while the file is unchanged, and goes with a pruned archive. */
static void verified_marks(void **state)
{
	struct fixture *f = *state;
	struct backup_scan s;
	struct timespec times[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };
	char err[512];

	archive2(f, "f1.tar.zst", 1, NULL);
	archive2(f, "f2.tar.zst", 2, NULL);
	archive2(f, "f3.tar.zst", 3, NULL);
	assert_int_equal(backup_verified_record(at(f, "f1.tar.zst"), 1, 1, NULL), 0);
	assert_int_equal(backup_verified_record(at(f, "f2.tar.zst"), 0, 0, "a member differs"), 0);
	assert_int_equal(backup_verified_record(at(f, "f3.tar.zst"), 1, 0, NULL), 0);
	assert_true(exists(f, ".f1.tar.zst.verified"));
	assert_int_equal(backup_scan_dir(f->dir, &s, err, sizeof err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.e[0].verified, BACKUP_VERIFIED_OK);
	assert_true(s.e[0].authenticated);
	assert_true(s.e[0].verified_ms > 0);
	assert_int_equal(s.e[1].verified, BACKUP_VERIFIED_FAILED);
	assert_string_equal(s.e[1].verify_error, "a member differs");
	assert_int_equal(s.e[2].verified, BACKUP_VERIFIED_OK);
	assert_false(s.e[2].authenticated);
	backup_scan_free(&s);

	/* Changed since (here its time): no longer verified. */
	assert_int_equal(utimensat(AT_FDCWD, at(f, "f3.tar.zst"), times, 0), 0);
	assert_int_equal(backup_scan_dir(f->dir, &s, err, sizeof err), 0);
	assert_int_equal(s.e[2].verified, BACKUP_NOT_VERIFIED);
	backup_scan_free(&s);

	assert_int_equal(prune(f, 1, "f3.tar.zst", NULL), 2);
	assert_false(exists(f, ".f1.tar.zst.verified") || exists(f, ".f2.tar.zst.verified"));
	assert_true(exists(f, ".f3.tar.zst.verified"));
}

/* A link planted where the mark goes is replaced, never written through. */
static void a_mark_is_never_written_through_a_link(void **state)
{
	struct fixture *f = *state;
	char victim[128];
	struct stat st;
	FILE *fp;
	char buf[64] = "";

	archive2(f, "f1.tar.zst", 1, NULL);
	snprintf(victim, sizeof victim, "%s/victim", f->outside);
	put_text(victim, "mine\n");
	assert_int_equal(symlink(victim, at(f, ".f1.tar.zst.verified")), 0);
	assert_int_equal(backup_verified_record(at(f, "f1.tar.zst"), 1, 1, NULL), 0);
	assert_int_equal(lstat(at(f, ".f1.tar.zst.verified"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	fp = fopen(victim, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof buf, fp));
	fclose(fp);
	assert_string_equal(buf, "mine\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(scan_reads_kinds_chains_and_what_is_not_ours, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(keep_three_removes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(no_backups_dir_prunes_nothing_quietly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(keep_two_removes_the_oldest_chain_newest_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(keep_one_leaves_the_newest_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(an_incremental_keeps_its_whole_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(the_chain_just_written_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(an_incremental_whose_base_is_gone_counts_in_its_chain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(base_names_that_loop_end, setup, teardown),
		cmocka_unit_test_setup_teardown(verified_marks, setup, teardown),
		cmocka_unit_test_setup_teardown(a_mark_is_never_written_through_a_link, setup,
		    teardown),
	};
	/* What each prune removed is logged: the assertions say it here. */
	log_init("test_backupprune", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
