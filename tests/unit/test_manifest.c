/* test_manifest.c: the PULP_MANIFEST parser (DESIGN §8), one test a rule; every refusal says what and where. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depotd.h"
#include "manifest.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

#define SHA_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_B "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_B_UPPER "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"

static int parse_line(const char *line, struct manifest_entry *e, char *err, size_t errlen);
static void expect_entry(const char *line, const char *path, const char *sha, int64_t size);
static void expect_refused(const char *line, const char *needle);
static int parse_text(const char *text, struct manifest *m, char **buf, char *err, size_t errlen);
static void expect_manifest_refused(const char *text, const char *needle);

static int parse_line(const char *line, struct manifest_entry *e, char *err, size_t errlen)
{
	err[0] = '\0';
	memset(e, 0, sizeof *e);
	return manifest_parse_line(line, strlen(line), e, err, errlen);
}

/* line parses into exactly this entry. */
static void expect_entry(const char *line, const char *path, const char *sha, int64_t size)
{
	struct manifest_entry e;
	char err[512];
	int r = parse_line(line, &e, err, sizeof err);

	if (r != 1)
		fail_msg("'%s' returned %d: %s", line, r, err);
	assert_int_equal(e.path_len, strlen(path));
	assert_memory_equal(e.path, path, strlen(path));
	assert_string_equal(e.sha256, sha);
	assert_int_equal(e.size, size);
}

/* line is refused and the reason contains needle. */
static void expect_refused(const char *line, const char *needle)
{
	struct manifest_entry e;
	char err[512];
	int r = parse_line(line, &e, err, sizeof err);

	if (r != -1)
		fail_msg("'%s' accepted (returned %d)", line, r);
	if (strstr(err, needle) == NULL)
		fail_msg("expected '%s' in '%s' for '%s'", needle, err, line);
}

/* manifest_parse on a copy of text, with the extra byte it needs. */
static int parse_text(const char *text, struct manifest *m, char **buf, char *err, size_t errlen)
{
	size_t len = strlen(text);

	*buf = malloc(len + 1);
	assert_non_null(*buf);
	memcpy(*buf, text, len);
	err[0] = '\0';
	return manifest_parse(*buf, len, m, err, errlen);
}

static void expect_manifest_refused(const char *text, const char *needle)
{
	struct manifest m;
	char err[512], *buf;
	int r = parse_text(text, &m, &buf, err, sizeof err);

	if (r == 0) {
		manifest_free(&m);
		free(buf);
		fail_msg("accepted: %s", text);
	}
	assert_null(m.entries);
	assert_int_equal(m.n, 0);
	if (strstr(err, needle) == NULL)
		fail_msg("expected '%s' in '%s'", needle, err);
	free(buf);
}

static void plain_line_gives_path_digest_and_size(void **state)
{
	(void)state;
	expect_entry("isos/disk1.iso," SHA_A ",1048576", "isos/disk1.iso", SHA_A, 1048576);
	expect_entry("f," SHA_B ",0", "f", SHA_B, 0);
}

static void path_may_contain_commas_fields_split_from_the_right(void **state)
{
	(void)state;
	expect_entry("a,b,c.iso," SHA_A ",10", "a,b,c.iso", SHA_A, 10);
	expect_entry(",lead," SHA_A ",1", ",lead", SHA_A, 1);
	expect_entry("dir,x/file,," SHA_A ",2", "dir,x/file,", SHA_A, 2);
}

static void path_may_contain_spaces_and_utf8(void **state)
{
	(void)state;
	expect_entry("my disk/été 1.iso," SHA_A ",3", "my disk/été 1.iso", SHA_A, 3);
}

static void blank_and_comment_lines_are_skipped(void **state)
{
	struct manifest_entry e;
	char err[256];

	(void)state;
	assert_int_equal(parse_line("", &e, err, sizeof err), 0);
	assert_int_equal(parse_line("\r", &e, err, sizeof err), 0);
	assert_int_equal(parse_line("   \t ", &e, err, sizeof err), 0);
	assert_int_equal(parse_line("# a comment, with, commas", &e, err, sizeof err), 0);
	assert_int_equal(parse_line("#", &e, err, sizeof err), 0);
	assert_int_equal(parse_line("#x," SHA_A ",1\r", &e, err, sizeof err), 0);
}

static void crlf_line_end_is_accepted(void **state)
{
	(void)state;
	expect_entry("a.iso," SHA_A ",5\r", "a.iso", SHA_A, 5);
}

static void spaces_around_digest_and_size_are_ignored(void **state)
{
	(void)state;
	expect_entry("a.iso, " SHA_A " ,\t5 ", "a.iso", SHA_A, 5);
}

static void uppercase_digest_is_normalised_to_lowercase(void **state)
{
	(void)state;
	expect_entry("a.iso," SHA_B_UPPER ",5", "a.iso", SHA_B, 5);
}

static void digest_that_is_not_64_hex_digits_is_refused(void **state)
{
	(void)state;
	expect_refused("a.iso,e3b0c442,5", "sha256");
	expect_refused("a.iso," SHA_A "0,5", "sha256");
	expect_refused("a.iso,g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,5",
	    "not 64 hexadecimal digits");
	expect_refused("a.iso,e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ,5",
	    "sha256");
	expect_refused("a.iso,,5", "sha256");
}

static void size_must_be_a_non_negative_integer(void **state)
{
	(void)state;
	expect_refused("a.iso," SHA_A ",-1", "size");
	expect_refused("a.iso," SHA_A ",1.5", "not a non-negative integer");
	expect_refused("a.iso," SHA_A ",1e3", "size");
	expect_refused("a.iso," SHA_A ",abc", "size");
	expect_refused("a.iso," SHA_A ",+5", "size");
	expect_refused("a.iso," SHA_A ",", "size");
	expect_refused("a.iso," SHA_A ",0x10", "size");
}

static void size_up_to_2_pow_50_is_accepted_and_more_refused(void **state)
{
	(void)state;
	expect_entry("a.iso," SHA_A ",1125899906842624", "a.iso", SHA_A, (int64_t)1 << 50);
	expect_entry("a.iso," SHA_A ",0007", "a.iso", SHA_A, 7);
	expect_refused("a.iso," SHA_A ",1125899906842625", "larger than");
	expect_refused("a.iso," SHA_A ",99999999999999999999999999999", "larger than");
}

static void missing_fields_are_refused(void **state)
{
	(void)state;
	expect_refused("just-a-path", "relative_path,sha256,size");
	expect_refused("a.iso," SHA_A, "relative_path,sha256,size");
	expect_refused("a.iso,5", "one comma");
	expect_refused("," SHA_A ",5", "empty");
}

static void absolute_and_escaping_paths_are_refused(void **state)
{
	(void)state;
	expect_refused("/etc/passwd," SHA_A ",5", "absolute");
	expect_refused("../x," SHA_A ",5", "'..'");
	expect_refused("a/../../x," SHA_A ",5", "'..'");
	expect_refused("a/..," SHA_A ",5", "'..'");
	expect_refused("..," SHA_A ",5", "'..'");
	expect_refused("./a," SHA_A ",5", "'.'");
	expect_refused("a/./b," SHA_A ",5", "'.'");
	expect_refused(".," SHA_A ",5", "'.'");
	/* Names that merely start with dots are ordinary files. */
	expect_entry("...," SHA_A ",5", "...", SHA_A, 5);
	expect_entry(".hidden/..x," SHA_A ",5", ".hidden/..x", SHA_A, 5);
}

static void empty_components_are_refused(void **state)
{
	(void)state;
	expect_refused("a//b," SHA_A ",5", "empty component");
	expect_refused("a/," SHA_A ",5", "empty component");
	expect_refused("a/b/," SHA_A ",5", "empty component");
}

static void backslashes_and_control_characters_are_refused(void **state)
{
	struct manifest_entry e;
	char err[256];
	static const char nul_line[] = "a\0b," SHA_A ",5";

	(void)state;
	expect_refused("a\\..\\b," SHA_A ",5", "backslash");
	expect_refused("a\tb," SHA_A ",5", "control character");
	expect_refused("a\x7f" "b," SHA_A ",5", "control character");
	expect_refused("a\rb," SHA_A ",5", "control character");
	assert_int_equal(manifest_parse_line(nul_line, sizeof nul_line - 1, &e, err, sizeof err), -1);
	assert_non_null(strstr(err, "control character"));
	/* The message must not carry the control character itself. */
	assert_null(strchr(err, '\t'));
}

static void component_of_255_bytes_is_accepted(void **state)
{
	char line[8192], path[300];

	(void)state;
	memcpy(path, "d/", 2);
	memset(path + 2, 'n', 255);
	path[257] = '\0';
	snprintf(line, sizeof line, "%s," SHA_A ",1", path);
	expect_entry(line, path, SHA_A, 1);
}

static void component_of_256_bytes_and_path_of_4096_are_refused(void **state)
{
	char line[8192], name[300];
	size_t i;

	(void)state;
	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(line, sizeof line, "d/%s," SHA_A ",1", name);
	expect_refused(line, "longer than 255");
	/* 4096 bytes of "aaa/aaa/…": every component short, the whole too long. */
	for (i = 0; i < 4096; i++)
		line[i] = i % 4 == 3 ? '/' : 'a';
	snprintf(line + 4096, sizeof line - 4096, "," SHA_A ",1");
	expect_refused(line, "longer than 4095");
}

static void whole_manifest_gives_entries_in_order_with_line_numbers(void **state)
{
	static const char text[] =
	    "# generated by hand\r\n"
	    "\r\n"
	    "b.iso," SHA_B ",4\r\n"
	    "dir/a,with,commas.iso," SHA_A ",0\n"
	    "\n"
	    "last.iso," SHA_B_UPPER ",7";		/* no final newline */
	struct manifest m;
	char err[256], *buf;

	(void)state;
	assert_int_equal(parse_text(text, &m, &buf, err, sizeof err), 0);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.entries[0].path, "b.iso");
	assert_int_equal(m.entries[0].line, 3);
	assert_int_equal(m.entries[0].size, 4);
	assert_string_equal(m.entries[1].path, "dir/a,with,commas.iso");
	assert_int_equal(m.entries[1].path_len, strlen("dir/a,with,commas.iso"));
	assert_int_equal(m.entries[1].line, 4);
	assert_string_equal(m.entries[1].sha256, SHA_A);
	assert_string_equal(m.entries[2].path, "last.iso");
	assert_string_equal(m.entries[2].sha256, SHA_B);
	assert_int_equal(m.entries[2].line, 6);
	manifest_free(&m);
	free(buf);
}

static void empty_manifest_has_no_entries(void **state)
{
	struct manifest m;
	char err[256], *buf;

	(void)state;
	assert_int_equal(parse_text("", &m, &buf, err, sizeof err), 0);
	assert_int_equal(m.n, 0);
	manifest_free(&m);
	free(buf);
	assert_int_equal(parse_text("# nothing\n\n", &m, &buf, err, sizeof err), 0);
	assert_int_equal(m.n, 0);
	manifest_free(&m);
	free(buf);
}

static void bad_line_is_refused_naming_its_number(void **state)
{
	(void)state;
	expect_manifest_refused("a," SHA_A ",1\n# c\nb," SHA_A ",x\n", "line 3:");
	expect_manifest_refused("a," SHA_A ",1\r\n\r\n../b," SHA_A ",1\r\n", "line 3: ");
	expect_manifest_refused("oops\n", "line 1: expected");
}

static void duplicate_paths_are_refused_naming_both_lines(void **state)
{
	(void)state;
	expect_manifest_refused("a," SHA_A ",1\nb," SHA_B ",2\na," SHA_B ",2\n",
	    "line 3: the path 'a' is already listed on line 1");
	/* The same digest under two paths is fine: two names, one file. */
	{
		struct manifest m;
		char err[256], *buf;

		assert_int_equal(parse_text("a," SHA_A ",0\nb," SHA_A ",0\n", &m, &buf, err,
		    sizeof err), 0);
		assert_int_equal(m.n, 2);
		manifest_free(&m);
		free(buf);
	}
}

static void file_that_another_path_needs_as_a_directory_is_refused(void **state)
{
	(void)state;
	expect_manifest_refused("a," SHA_A ",1\na/b," SHA_B ",2\n",
	    "line 2: the path 'a/b' needs 'a' to be a directory, but line 1");
	expect_manifest_refused("x/y/z," SHA_B ",2\nx/y," SHA_A ",1\n",
	    "needs 'x/y' to be a directory, but line 2");
}

static void hundred_thousand_entries_parse(void **state)
{
	size_t n = 100000, i, len = 0, cap = n * 100;
	struct manifest m;
	char err[256], *buf = malloc(cap + 1);

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "dir%zu/file,%zu.bin," SHA_A ",%zu\n",
		    i % 100, i, i);
	assert_int_equal(manifest_parse(buf, len, &m, err, sizeof err), 0);
	assert_int_equal(m.n, n);
	assert_string_equal(m.entries[n - 1].path, "dir99/file,99999.bin");
	assert_int_equal(m.entries[n - 1].size, 99999);
	manifest_free(&m);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_line_gives_path_digest_and_size),
		cmocka_unit_test(path_may_contain_commas_fields_split_from_the_right),
		cmocka_unit_test(path_may_contain_spaces_and_utf8),
		cmocka_unit_test(blank_and_comment_lines_are_skipped),
		cmocka_unit_test(crlf_line_end_is_accepted),
		cmocka_unit_test(spaces_around_digest_and_size_are_ignored),
		cmocka_unit_test(uppercase_digest_is_normalised_to_lowercase),
		cmocka_unit_test(digest_that_is_not_64_hex_digits_is_refused),
		cmocka_unit_test(size_must_be_a_non_negative_integer),
		cmocka_unit_test(size_up_to_2_pow_50_is_accepted_and_more_refused),
		cmocka_unit_test(missing_fields_are_refused),
		cmocka_unit_test(absolute_and_escaping_paths_are_refused),
		cmocka_unit_test(empty_components_are_refused),
		cmocka_unit_test(backslashes_and_control_characters_are_refused),
		cmocka_unit_test(component_of_255_bytes_is_accepted),
		cmocka_unit_test(component_of_256_bytes_and_path_of_4096_are_refused),
		cmocka_unit_test(whole_manifest_gives_entries_in_order_with_line_numbers),
		cmocka_unit_test(empty_manifest_has_no_entries),
		cmocka_unit_test(bad_line_is_refused_naming_its_number),
		cmocka_unit_test(duplicate_paths_are_refused_naming_both_lines),
		cmocka_unit_test(file_that_another_path_needs_as_a_directory_is_refused),
		cmocka_unit_test(hundred_thousand_entries_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
