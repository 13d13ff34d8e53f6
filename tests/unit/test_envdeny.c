/* test_envdeny.c: [tasks] env_deny (share/envdeny.c, config.c): which names it matches and which lists depot.conf may hold, one test a rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "envdeny.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

static int parse(const char *text, struct depot_config *cfg, char *err, size_t errlen);

/* config_parse of text over the defaults. */
static int parse(const char *text, struct depot_config *cfg, char *err, size_t errlen)
{
	config_defaults(cfg);
	err[0] = '\0';
	return config_parse("depot.conf", text, strlen(text), cfg, err, errlen);
}

static void default_denies_the_usual_secret_names(void **state)
{
	static const char *const denied[] = {
		"MY_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "NPM_TOKEN", "VAULT_TOKEN",
		"DB_PASSWORD", "PGPASSWORD", "MYSQL_PWD", "APP_SECRET", "CLIENT_SECRET_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
		"AZURE_CLIENT_SECRET", "OPENAI_API_KEY", "STRIPE_APIKEY", "GPG_KEY",
		"GOOGLE_APPLICATION_CREDENTIALS", "SSH_AUTH_SOCK", "KRB5CCNAME",
		"BORG_PASSPHRASE", "HTPASSWD_FILE",
	};

	(void)state;
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
		if (!envdeny_match(ENV_DENY_DEFAULT, denied[i]))
			fail_msg("the default env_deny lets %s through", denied[i]);
}

static void default_keeps_what_a_command_needs(void **state)
{
	static const char *const kept[] = {
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "PWD",
		"TERM", "EDITOR", "HTTP_PROXY", "LD_LIBRARY_PATH", "PYTHONPATH", "KEYMAP",
		"OLDPWD", "XDG_RUNTIME_DIR", "SSH_CONNECTION",
	};

	(void)state;
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		if (envdeny_match(ENV_DENY_DEFAULT, kept[i]))
			fail_msg("the default env_deny drops %s", kept[i]);
}

static void patterns_are_globs_matched_without_regard_to_case(void **state)
{
	(void)state;
	assert_true(envdeny_match("*_TOKEN", "my_token"));
	assert_true(envdeny_match("*_TOKEN", "My_Token"));
	assert_true(envdeny_match("DB_?ASS", "DB_PASS"));
	assert_true(envdeny_match("X[0-9]", "X7"));
	assert_false(envdeny_match("X[0-9]", "XA"));
	/* A pattern matches the whole name, not a part of it. */
	assert_false(envdeny_match("*_TOKEN", "MY_TOKEN_FILE"));
	assert_false(envdeny_match("TOKEN", "MY_TOKEN"));
}

static void any_of_several_patterns_matches_whatever_the_spacing(void **state)
{
	(void)state;
	assert_true(envdeny_match("  A_*\tB_*   C ", "B_X"));
	assert_true(envdeny_match("A_* B_* C", "C"));
	assert_false(envdeny_match("A_* B_* C", "CC"));
}

static void an_empty_list_matches_nothing(void **state)
{
	(void)state;
	assert_false(envdeny_match("", "MY_TOKEN"));
	assert_false(envdeny_match("   ", "MY_TOKEN"));
}

/* One pattern's answer against fnmatch(3)'s own, the definition envdeny_match keeps. */
static void expect_as_fnmatch(const char *pattern, const char *name)
{
	int want = fnmatch(pattern, name, FNM_CASEFOLD) == 0;

	if (envdeny_match(pattern, name) != want)
		fail_msg("'%s' against '%s': %d, fnmatch says %d", pattern, name, !want, want);
}

/*
 * Text with '*' at its ends is matched without fnmatch (the defaults are
 * all such): the answers stay fnmatch's, for the shapes that go that way
 * and for those that do not.
 */
static void plain_patterns_answer_as_fnmatch_does(void **state)
{
	static const char *const patterns[] = {
		"*", "**", "*TOKEN*", "**TOKEN**", "*_KEY", "AWS_*", "SSH_AUTH_SOCK", "KEY",
		"*k*", "A*B", "*A*B*", "A\\*", "\\*", "*\\*", "A?", "[AB]*", "*[", "a*a",
		"*aa", "aa*", "*\xc3\xa9*", "\xc3\x89", "*_PWD",
	};
	static const char *const names[] = {
		"TOKEN", "my_token", "MY_TOKEN_FILE", "_KEY", "KEY", "KEYS", "aws_x", "AWS",
		"ssh_auth_sock", "A", "AB", "AxB", "aXb", "A*", "A\\", "*", "a", "aa", "aaa",
		"\xc3\xa9", "X\xc3\xa9Y", "\xc3\x89", "MYSQL_PWD", "PWD", "k", "K",
	};

	(void)state;
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
		for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
			expect_as_fnmatch(patterns[i], names[j]);
}

/* The same, over many patterns and names made of the characters that matter. */
static void random_patterns_answer_as_fnmatch_does(void **state)
{
	static const char alphabet[] = "aAbB_*?\\[]\xc3\xa9";
	char pattern[8], name[8];

	(void)state;
	srand(14);
	for (int round = 0; round < 200000; round++) {
		size_t plen = 1 + (size_t)rand() % 6, nlen = 1 + (size_t)rand() % 6;

		for (size_t i = 0; i < plen; i++)
			pattern[i] = alphabet[(size_t)rand() % (sizeof alphabet - 1)];
		pattern[plen] = '\0';
		for (size_t i = 0; i < nlen; i++)
			name[i] = "aAbB_\xc3\xa9"[(size_t)rand() % 7];
		name[nlen] = '\0';
		/* A space or '=' is no pattern's (envdeny_check); none is made here. */
		expect_as_fnmatch(pattern, name);
	}
}

static void config_default_is_the_compiled_list(void **state)
{
	struct depot_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse("", &cfg, err, sizeof err), 0);
	assert_string_equal(cfg.env_deny, ENV_DENY_DEFAULT);
}

static void config_env_deny_replaces_the_default(void **state)
{
	struct depot_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse("[tasks]\nenv_deny = MY_* OTHER\n", &cfg, err, sizeof err), 0);
	assert_true(envdeny_match(cfg.env_deny, "MY_VAR"));
	assert_true(envdeny_match(cfg.env_deny, "other"));
	assert_false(envdeny_match(cfg.env_deny, "GITHUB_TOKEN"));
}

static void config_empty_env_deny_turns_it_off(void **state)
{
	struct depot_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse("[tasks]\nenv_deny =\n", &cfg, err, sizeof err), 0);
	assert_false(envdeny_match(cfg.env_deny, "MY_TOKEN"));
}

/* inih reads lines of at most 200 bytes: a long list continues on indented lines. */
static void config_continuation_lines_add_to_the_list(void **state)
{
	struct depot_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse("[tasks]\nenv_deny = A_*\n  B_* C\n\tD\nlog_max = 1MiB\n",
	    &cfg, err, sizeof err), 0);
	assert_true(envdeny_match(cfg.env_deny, "A_1"));
	assert_true(envdeny_match(cfg.env_deny, "B_1"));
	assert_true(envdeny_match(cfg.env_deny, "C"));
	assert_true(envdeny_match(cfg.env_deny, "D"));
	assert_int_equal(cfg.log_max, 1024 * 1024);
}

static void config_pattern_with_equals_is_refused_naming_it(void **state)
{
	struct depot_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse("[tasks]\nenv_deny = A_* B=1\n", &cfg, err, sizeof err), -1);
	if (strstr(err, "depot.conf:2") == NULL || strstr(err, "'B=1'") == NULL)
		fail_msg("expected depot.conf:2 and 'B=1' in '%s'", err);
}

static void config_list_over_its_limits_is_refused(void **state)
{
	static char text[ENV_DENY_MAX_BYTES * 2];
	struct depot_config cfg;
	char err[256], line[128];
	size_t len;

	(void)state;
	/* One pattern too long (depot.conf's lines cannot hold one: checked directly). */
	memset(text, 'A', ENV_DENY_PATTERN_MAX + 1);
	text[ENV_DENY_PATTERN_MAX + 1] = '\0';
	assert_int_equal(envdeny_check(text, err, sizeof err), -1);
	if (strstr(err, "longer than") == NULL)
		fail_msg("expected 'longer than' in '%s'", err);
	text[ENV_DENY_PATTERN_MAX] = '\0';
	assert_int_equal(envdeny_check(text, err, sizeof err), 0);
	/* Too many, on continuation lines. */
	len = (size_t)snprintf(text, sizeof text, "[tasks]\nenv_deny = P0\n");
	for (int i = 1; i <= ENV_DENY_MAX_PATTERNS; i++) {
		snprintf(line, sizeof line, "  P%d\n", i);
		memcpy(text + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	assert_int_equal(parse(text, &cfg, err, sizeof err), -1);
	if (strstr(err, "more than") == NULL)
		fail_msg("expected 'more than' in '%s'", err);
}

static void envdeny_check_accepts_the_default(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(envdeny_check(ENV_DENY_DEFAULT, err, sizeof err), 0);
	assert_true(strlen(ENV_DENY_DEFAULT) <= ENV_DENY_MAX_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_denies_the_usual_secret_names),
		cmocka_unit_test(default_keeps_what_a_command_needs),
		cmocka_unit_test(patterns_are_globs_matched_without_regard_to_case),
		cmocka_unit_test(any_of_several_patterns_matches_whatever_the_spacing),
		cmocka_unit_test(an_empty_list_matches_nothing),
		cmocka_unit_test(plain_patterns_answer_as_fnmatch_does),
		cmocka_unit_test(random_patterns_answer_as_fnmatch_does),
		cmocka_unit_test(config_default_is_the_compiled_list),
		cmocka_unit_test(config_env_deny_replaces_the_default),
		cmocka_unit_test(config_empty_env_deny_turns_it_off),
		cmocka_unit_test(config_continuation_lines_add_to_the_list),
		cmocka_unit_test(config_pattern_with_equals_is_refused_naming_it),
		cmocka_unit_test(config_list_over_its_limits_is_refused),
		cmocka_unit_test(envdeny_check_accepts_the_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
