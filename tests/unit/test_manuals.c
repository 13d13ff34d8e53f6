/*
 * test_manuals.c: every key config_load knows (share/config.c's table, and
 * [resources]) is documented in doc/depot.conf.5, under its section, and
 * written out in share/depot.conf.sample; and the page documents no key the
 * parser does not know.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "depotd.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

/* Where the Makefile says the sources are, for the docs. */
#ifndef DEPOT_SRCDIR
#define DEPOT_SRCDIR "."
#endif

/* Most keys one file names. */
#define MAN_KEYS_MAX 256

/* A key as a file names it: its section and name. */
struct man_key {
	char section[64];
	char name[64];
};

struct man_keys {
	struct man_key k[MAN_KEYS_MAX];
	size_t n;
};

static FILE *src_open(const char *name);
static void keys_add(struct man_keys *keys, const char *section, const char *name);
static int keys_have(const struct man_keys *keys, const char *section, const char *name);
static void roff_word(const char *line, char *out, size_t n);
static void man_page_keys(const char *name, struct man_keys *keys, int *resources);
static void sample_keys(const char *name, struct man_keys *keys, int *resources);

static FILE *src_open(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", DEPOT_SRCDIR, name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s", path);
	return f;
}

static void keys_add(struct man_keys *keys, const char *section, const char *name)
{
	assert_true(keys->n < MAN_KEYS_MAX);
	snprintf(keys->k[keys->n].section, sizeof keys->k[0].section, "%s", section);
	snprintf(keys->k[keys->n].name, sizeof keys->k[0].name, "%s", name);
	keys->n++;
}

static int keys_have(const struct man_keys *keys, const char *section, const char *name)
{
	for (size_t i = 0; i < keys->n; i++)
		if (strcmp(keys->k[i].section, section) == 0 && strcmp(keys->k[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * The first word a roff text line shows: past a font macro (.B, .BR …),
 * quotes and font escapes, up to a space or quote. "\-" is a dash.
 */
static void roff_word(const char *line, char *out, size_t n)
{
	size_t len = 0;

	if (*line == '.')
		line += strcspn(line, " ");
	while (*line == ' ' || *line == '"')
		line++;
	while (*line != '\0' && *line != ' ' && *line != '"' && *line != '\n' &&
	    len + 1 < n) {
		if (line[0] == '\\' && line[1] == 'f' && line[2] != '\0') {
			line += 3;
			continue;
		}
		if (line[0] == '\\' && line[1] == '-') {
			out[len++] = '-';
			line += 2;
			continue;
		}
		out[len++] = *line++;
	}
	out[len] = '\0';
}

/*
 * The keys depot.conf(5) documents: the tag of each .TP under a
 * ".SH [section]" heading. *resources: whether there is a [resources] heading.
 */
static void man_page_keys(const char *name, struct man_keys *keys, int *resources)
{
	FILE *f = src_open(name);
	char line[1024], section[64] = "", word[64];
	int tag = 0;

	*resources = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, ".SH ", 4) == 0) {
			char *p = line + 4, *end;

			p += strspn(p, "\" ");
			section[0] = '\0';
			if (*p == '[' && (end = strchr(p, ']')) != NULL)
				snprintf(section, sizeof section, "%.*s", (int)(end - p - 1), p + 1);
			if (strcmp(section, "resources") == 0)
				*resources = 1;
			tag = 0;
			continue;
		}
		if (strncmp(line, ".TP", 3) == 0) {
			tag = 1;
			continue;
		}
		if (tag && section[0] != '\0') {
			roff_word(line, word, sizeof word);
			keys_add(keys, section, word);
		}
		tag = 0;
	}
	fclose(f);
}

/*
 * The keys the sample sets or shows in a comment ("; env_deny = …"),
 * under the [section] line before them. *resources: whether it has a
 * [resources] section.
 */
static void sample_keys(const char *name, struct man_keys *keys, int *resources)
{
	FILE *f = src_open(name);
	char line[1024], section[64] = "";

	*resources = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *end;
		size_t len;

		if (*p == '[' && (end = strchr(p, ']')) != NULL) {
			snprintf(section, sizeof section, "%.*s", (int)(end - p - 1), p + 1);
			if (strcmp(section, "resources") == 0)
				*resources = 1;
			continue;
		}
		if (*p == ';')
			p += 1 + strspn(p + 1, " ");
		len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		if (len == 0 || len >= 64 || section[0] == '\0')
			continue;
		if (p[len + strspn(p + len, " ")] != '=')
			continue;
		p[len] = '\0';
		keys_add(keys, section, p);
	}
	fclose(f);
}

static void every_config_key_is_in_depot_conf_5_under_its_section(void **state)
{
	static struct man_keys doc;
	const char *section, *name;
	int resources, missing = 0;

	(void)state;
	doc.n = 0;
	man_page_keys("doc/depot.conf.5", &doc, &resources);
	assert_true(config_key_count() > 0);
	for (size_t i = 0; config_key_at(i, &section, &name) == 0; i++)
		if (!keys_have(&doc, section, name)) {
			print_error("doc/depot.conf.5: no [%s] %s (a .TP under .SH [%s])\n",
			    section, name, section);
			missing++;
		}
	assert_int_equal(missing, 0);
	assert_int_equal(config_key_at(config_key_count(), &section, &name), -1);
}

static void depot_conf_5_documents_no_key_the_parser_refuses(void **state)
{
	static struct man_keys doc;
	struct depot_config cfg;
	char text[256], err[512];
	int resources, unknown = 0;

	(void)state;
	doc.n = 0;
	man_page_keys("doc/depot.conf.5", &doc, &resources);
	assert_true(doc.n > 0);
	for (size_t i = 0; i < doc.n; i++) {
		const char *section, *name;
		int known = 0;

		for (size_t j = 0; config_key_at(j, &section, &name) == 0; j++)
			known |= strcmp(section, doc.k[i].section) == 0 &&
			    strcmp(name, doc.k[i].name) == 0;
		if (!known) {
			print_error("doc/depot.conf.5: [%s] %s is no key of share/config.c\n",
			    doc.k[i].section, doc.k[i].name);
			unknown++;
		}
	}
	assert_int_equal(unknown, 0);
	/* [resources] takes any name: the parser's answer, not a list, says it is a section. */
	config_defaults(&cfg);
	snprintf(text, sizeof text, "[resources]\nbuilds = 3\n");
	assert_int_equal(config_parse("t.conf", text, strlen(text), &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.nresources, 1);
	assert_true(resources);
}

static void the_sample_config_shows_every_key_and_resources(void **state)
{
	static struct man_keys sample;
	const char *section, *name;
	int resources, missing = 0;

	(void)state;
	sample.n = 0;
	sample_keys("share/depot.conf.sample", &sample, &resources);
	for (size_t i = 0; config_key_at(i, &section, &name) == 0; i++)
		if (!keys_have(&sample, section, name)) {
			print_error("share/depot.conf.sample: no [%s] %s\n", section, name);
			missing++;
		}
	assert_int_equal(missing, 0);
	assert_true(resources);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_config_key_is_in_depot_conf_5_under_its_section),
		cmocka_unit_test(depot_conf_5_documents_no_key_the_parser_refuses),
		cmocka_unit_test(the_sample_config_shows_every_key_and_resources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
