/* test_prerestore.c: the DIR.pre-restore-* directories beside a data directory: which are listed, in which order, and which a prune to keep removes — never a link, another name or what a link points to. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "depotd.h"
#include "fsutil.h"
#include "log.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

struct fixture {
	char top[64];		/* holds the data directory and what lies beside it */
	char dir[96];		/* the data directory */
	char path[256];
};

static const char *beside(struct fixture *f, const char *suffix)
{
	snprintf(f->path, sizeof f->path, "%s%s", f->dir, suffix);
	return f->path;
}

static void make_dir(struct fixture *f, const char *suffix)
{
	char file[300];
	FILE *fp;

	assert_int_equal(mkdir(beside(f, suffix), 0700), 0);
	snprintf(file, sizeof file, "%s/depot.db", f->path);
	assert_non_null(fp = fopen(file, "w"));
	fputs("old data\n", fp);
	fclose(fp);
}

static int exists(struct fixture *f, const char *suffix)
{
	struct stat st;

	return lstat(beside(f, suffix), &st) == 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	snprintf(f->top, sizeof f->top, "/tmp/test_prerestore-XXXXXX");
	assert_non_null(mkdtemp(f->top));
	snprintf(f->dir, sizeof f->dir, "%s/depot", f->top);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fs_remove_tree(f->top);
	free(f);
	return 0;
}

/* Four of ours, two restores in one second among them, and what is not ours. */
static void planted(struct fixture *f)
{
	char target[128];

	make_dir(f, ".pre-restore-20261101T000000Z");
	make_dir(f, ".pre-restore-20261102T000000Z");
	make_dir(f, ".pre-restore-20261102T000000Z-2");
	make_dir(f, ".pre-restore-20261102T000000Z-10");
	make_dir(f, ".pre-restore-mine");
	make_dir(f, ".pre-restore-20261101T000000Zx");
	make_dir(f, "2.pre-restore-20261101T000000Z");	/* another data directory's */
	snprintf(target, sizeof target, "%s/target", f->top);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, beside(f, ".pre-restore-20000101T000000Z")), 0);
	fclose(fopen(beside(f, ".pre-restore-20000102T000000Z"), "w"));
}

static void not_ours_stays(struct fixture *f)
{
	char target[128];
	struct stat st;

	assert_true(exists(f, ".pre-restore-mine"));
	assert_true(exists(f, ".pre-restore-20261101T000000Zx"));
	assert_true(exists(f, "2.pre-restore-20261101T000000Z"));
	assert_true(exists(f, ".pre-restore-20000101T000000Z"));
	assert_true(exists(f, ".pre-restore-20000102T000000Z"));
	snprintf(target, sizeof target, "%s/target", f->top);
	assert_int_equal(stat(target, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void lists_ours_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct prerestore_dir *d;
	size_t n;

	planted(f);
	assert_int_equal(prerestore_list(f->dir, &d, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(d[0].path, beside(f, ".pre-restore-20261101T000000Z"));
	assert_string_equal(d[1].path, beside(f, ".pre-restore-20261102T000000Z"));
	assert_string_equal(d[2].path, beside(f, ".pre-restore-20261102T000000Z-2"));
	assert_string_equal(d[3].path, beside(f, ".pre-restore-20261102T000000Z-10"));
	assert_int_equal(d[3].seq, 10);
	/* 2026-11-01T00:00:00Z, from the name */
	assert_int_equal(d[0].made_at, INT64_C(1793491200000));
	free(d);
}

static void prune_keeps_the_newest(void **state)
{
	struct fixture *f = *state;

	planted(f);
	assert_int_equal(prerestore_prune(f->dir, 2), 0);
	assert_false(exists(f, ".pre-restore-20261101T000000Z"));
	assert_false(exists(f, ".pre-restore-20261102T000000Z"));
	assert_true(exists(f, ".pre-restore-20261102T000000Z-2"));
	assert_true(exists(f, ".pre-restore-20261102T000000Z-10"));
	/* Nothing half-removed is left under another name. */
	assert_false(exists(f, ".pruning-pre-restore-20261101T000000Z"));
	not_ours_stays(f);
	assert_int_equal(prerestore_prune(f->dir, 0), 0);
	assert_false(exists(f, ".pre-restore-20261102T000000Z-10"));
	not_ours_stays(f);
	assert_true(exists(f, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lists_ours_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(prune_keeps_the_newest, setup, teardown),
	};
	log_init("test_prerestore", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
