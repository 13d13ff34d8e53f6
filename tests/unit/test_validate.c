/* test_validate.c: the checks of request arguments (doc/protocol.md), one test a rule; every refusal names its field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depotd.h"
#include "envdeny.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

static cJSON *parse(const char *json);
static struct task *submit(const char *json, char *err, size_t errlen);
static void expect_refused(const char *json, const char *needle);
static cJSON *exec_args(void);
static void expect_args_refused(cJSON *args, const char *needle);
static char *repeat(char c, size_t n);
static void expect_ids_refused(const char *json);
static int utf8_valid(const char *s);
static void expect_utf8_refused(const char *json, const char *field);
static struct task *submit_env(const char *env_json, char *err, size_t errlen);

static cJSON *parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s", json);
	return j;
}

/* validate_submit on the parsed json. */
static struct task *submit(const char *json, char *err, size_t errlen)
{
	cJSON *args = parse(json);
	struct task *t;

	err[0] = '\0';
	t = validate_submit(args, err, errlen);
	cJSON_Delete(args);
	return t;
}

/* json is refused and the message contains needle (the field's name). */
static void expect_refused(const char *json, const char *needle)
{
	char err[512];
	struct task *t = submit(json, err, sizeof err);

	if (t != NULL) {
		task_free(t);
		fail_msg("accepted: %s", json);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("expected '%s' in '%s' for %s", needle, err, json);
}

/* {"type": "exec", "argv": ["true"]}, to be changed by a test. */
static cJSON *exec_args(void)
{
	return parse("{\"type\": \"exec\", \"argv\": [\"true\"]}");
}

/* Like expect_refused for args built in code; frees args. */
static void expect_args_refused(cJSON *args, const char *needle)
{
	char err[512] = "";
	struct task *t = validate_submit(args, err, sizeof err);

	cJSON_Delete(args);
	if (t != NULL) {
		task_free(t);
		fail_msg("accepted, expected refusal naming '%s'", needle);
	}
	if (strstr(err, needle) == NULL)
		fail_msg("expected '%s' in '%s'", needle, err);
}

/* n copies of c; free with free. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* validate_ids refuses {"ids": json} with a message naming ids, leaving *ids NULL. */
static void expect_ids_refused(const char *json)
{
	char text[256], err[256] = "";
	cJSON *args;
	int64_t *ids = NULL;
	size_t n = 0;

	snprintf(text, sizeof text, "{\"ids\": %s}", json);
	args = parse(text);
	if (validate_ids(args, "ids", &ids, &n, err, sizeof err) == 0) {
		free(ids);
		cJSON_Delete(args);
		fail_msg("accepted ids %s", json);
	}
	cJSON_Delete(args);
	assert_null(ids);
	if (strstr(err, "'ids'") == NULL)
		fail_msg("expected 'ids' named in '%s' for %s", err, json);
}

/* Whether s is well-formed UTF-8 (no check of overlong forms: enough here). */
static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int more = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 :
		    (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (more < 0)
			return 0;
		p++;
		for (; more > 0; more--, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* The whole request json is refused by validate_utf8, naming field. */
static void expect_utf8_refused(const char *json, const char *field)
{
	char err[512] = "", quoted[256];
	cJSON *req = parse(json);
	int64_t index;
	int rc = validate_utf8(req, &index, err, sizeof err);

	cJSON_Delete(req);
	if (rc == 0)
		fail_msg("accepted: %s", json);
	snprintf(quoted, sizeof quoted, "'%s'", field);
	if (strstr(err, quoted) == NULL)
		fail_msg("expected %s in '%s'", quoted, err);
	/* The refusal goes back in a reply: it must be text itself. */
	if (!utf8_valid(err))
		fail_msg("the message is not UTF-8: %s", err);
}

static void minimal_exec_request_is_accepted_and_filled_in(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"sleep\", \"5\"]}",
	    err, sizeof err);
	const cJSON *argv;

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->type, "exec");
	assert_string_equal(t->d->name, "sleep 5");
	assert_int_equal(t->d->timeout_ms, 0);
	assert_int_equal(t->nres, 0);
	assert_int_equal(t->state, TASK_WAITING);
	assert_int_equal(t->id, 0);
	argv = cJSON_GetObjectItemCaseSensitive(t->d->args, "argv");
	assert_true(cJSON_IsArray(argv));
	assert_int_equal(cJSON_GetArraySize(argv), 2);
	assert_string_equal(cJSON_GetArrayItem(argv, 0)->valuestring, "sleep");
	assert_string_equal(cJSON_GetArrayItem(argv, 1)->valuestring, "5");
	/* argv is the only thing args keeps. */
	assert_int_equal(cJSON_GetArraySize(t->d->args), 1);
	task_free(t);
}

static void full_exec_request_fills_name_resources_and_timeout(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"make\"], "
	    "\"name\": \"build it\", \"timeout_ms\": 60000, \"resources\": ["
	    "{\"name\": \"repository:fedora\", \"mode\": \"exclusive\"}, "
	    "{\"name\": \"disk\", \"mode\": \"shared\"}, "
	    "{\"name\": \"net\"}]}", err, sizeof err);

	(void)state;
	if (t == NULL)
		fail_msg("refused: %s", err);
	assert_string_equal(t->d->name, "build it");
	assert_int_equal(t->d->timeout_ms, 60000);
	assert_int_equal(t->nres, 3);
	assert_string_equal(t->res[0].name, "repository:fedora");
	assert_int_equal(t->res[0].mode, LOCK_EXCLUSIVE);
	assert_string_equal(t->res[1].name, "disk");
	assert_int_equal(t->res[1].mode, LOCK_SHARED);
	assert_string_equal(t->res[2].name, "net");
	task_free(t);
}

static void resource_mode_defaults_to_exclusive(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"true\"], "
	    "\"resources\": [{\"name\": \"a\"}, {\"name\": \"b\", \"mode\": null}]}",
	    err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->nres, 2);
	assert_int_equal(t->res[0].mode, LOCK_EXCLUSIVE);
	assert_int_equal(t->res[1].mode, LOCK_EXCLUSIVE);
	task_free(t);
}

static void null_or_empty_optional_fields_are_as_if_absent(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"ls\", \"-l\"], "
	    "\"name\": null, \"timeout_ms\": null, \"resources\": null}", err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->d->name, "ls -l");
	assert_int_equal(t->d->timeout_ms, 0);
	assert_int_equal(t->nres, 0);
	task_free(t);
	t = submit("{\"type\": \"exec\", \"argv\": [\"ls\"], \"resources\": []}",
	    err, sizeof err);
	assert_non_null(t);
	assert_int_equal(t->nres, 0);
	task_free(t);
}

static void default_name_is_argv_joined_by_spaces(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"echo\", \"a b\", \"\", \"c\"]}",
	    err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->d->name, "echo a b  c");
	task_free(t);
}

static void default_name_is_truncated_to_200_bytes(void **state)
{
	char *word = repeat('x', 150), *want = repeat('x', 200);
	cJSON *args = exec_args();
	cJSON *argv = cJSON_GetObjectItemCaseSensitive(args, "argv");
	char err[256];
	struct task *t;

	(void)state;
	cJSON_ReplaceItemInArray(argv, 0, cJSON_CreateString(word));
	cJSON_AddItemToArray(argv, cJSON_CreateString(word));
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	want[150] = ' ';
	assert_int_equal(strlen(t->d->name), 200);
	assert_string_equal(t->d->name, want);
	task_free(t);
	cJSON_Delete(args);
	free(word);
	free(want);
}

static void default_name_of_exactly_200_bytes_is_kept_whole(void **state)
{
	char *word = repeat('y', 200);
	cJSON *args = exec_args();
	char err[256];
	struct task *t;

	(void)state;
	cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(args, "argv"), 0,
	    cJSON_CreateString(word));
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	assert_string_equal(t->d->name, word);
	task_free(t);
	cJSON_Delete(args);
	free(word);
}

static void default_name_truncation_does_not_split_a_utf8_character(void **state)
{
	char *word = repeat('x', 194), *arg;
	cJSON *args = exec_args();
	cJSON *argv = cJSON_GetObjectItemCaseSensitive(args, "argv");
	char err[256];
	struct task *t;
	size_t len;
	int valid;

	(void)state;
	/* "echo " and 194 x make 199 bytes; the 2-byte e-acute would end at 201. */
	assert_non_null(arg = malloc(194 + 5));
	snprintf(arg, 194 + 5, "%s\xc3\xa9", word);
	cJSON_ReplaceItemInArray(argv, 0, cJSON_CreateString("echo"));
	cJSON_AddItemToArray(argv, cJSON_CreateString(arg));
	t = validate_submit(args, err, sizeof err);
	cJSON_Delete(args);
	free(word);
	free(arg);
	assert_non_null(t);
	len = strlen(t->d->name);
	valid = utf8_valid(t->d->name);
	task_free(t);	/* before asserting, so a failure leaks nothing */
	assert_true(len <= 200);
	if (!valid)
		fail_msg("default name of %zu bytes ends in a split character", len);
}

static void default_name_turns_control_characters_into_spaces(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"printf\", \"a\\nb\\tc\"]}",
	    err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->d->name, "printf a b c");
	/* argv itself is kept as given. */
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t->d->args,
	    "argv"), 1)->valuestring, "a\nb\tc");
	task_free(t);
}

static void default_name_has_no_delete_character(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"echo\", \"a\\u007fb\"]}",
	    err, sizeof err);

	int has_del;

	(void)state;
	assert_non_null(t);
	has_del = strchr(t->d->name, 0x7f) != NULL;
	task_free(t);	/* before asserting, so a failure leaks nothing */
	assert_false(has_del);
}

static void args_that_is_not_an_object_is_refused(void **state)
{
	char err[256] = "";

	(void)state;
	expect_refused("[\"exec\"]", "'args'");
	expect_refused("\"exec\"", "'args'");
	assert_null(validate_submit(NULL, err, sizeof err));
	assert_non_null(strstr(err, "'args'"));
}

static void missing_type_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"argv\": [\"true\"]}", "missing 'type'");
	expect_refused("{\"type\": null, \"argv\": [\"true\"]}", "missing 'type'");
}

static void type_that_is_not_a_string_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": 1, \"argv\": [\"true\"]}", "'type'");
	expect_refused("{\"type\": [\"exec\"], \"argv\": [\"true\"]}", "'type'");
}

static void unknown_type_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"snapshot\", \"argv\": [\"true\"]}",
	    "unknown task type 'snapshot'");
	expect_refused("{\"type\": \"EXEC\", \"argv\": [\"true\"]}", "unknown task type");
	expect_refused("{\"type\": \"\", \"argv\": [\"true\"]}", "unknown task type");
}

static void missing_argv_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\"}", "'argv'");
	expect_refused("{\"type\": \"exec\", \"argv\": null}", "'argv'");
}

static void argv_that_is_not_an_array_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": \"true\"}", "'argv'");
	expect_refused("{\"type\": \"exec\", \"argv\": {\"0\": \"true\"}}", "'argv'");
}

static void empty_argv_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": []}", "'argv'");
}

static void argv_items_that_are_not_strings_are_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [1]}", "'argv'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"sleep\", 5]}", "'argv'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"echo\", null]}", "'argv'");
	expect_refused("{\"type\": \"exec\", \"argv\": [[\"echo\"]]}", "'argv'");
}

static void argv_of_1024_items_is_accepted_and_1025_refused(void **state)
{
	cJSON *args = exec_args();
	cJSON *argv = cJSON_GetObjectItemCaseSensitive(args, "argv");
	char err[256];
	struct task *t;

	(void)state;
	while (cJSON_GetArraySize(argv) < 1024)
		cJSON_AddItemToArray(argv, cJSON_CreateString("x"));
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t->d->args,
	    "argv")), 1024);
	assert_int_equal(strlen(t->d->name), 200);
	task_free(t);
	cJSON_AddItemToArray(argv, cJSON_CreateString("x"));
	expect_args_refused(args, "'argv' must be an array of 1 to 1024 strings");
}

static void argv_item_over_65536_bytes_is_refused(void **state)
{
	char *big = repeat('a', 65536);
	cJSON *args = exec_args();
	char err[256];
	struct task *t;

	(void)state;
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(args, "argv"),
	    cJSON_CreateString(big));
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	task_free(t);
	cJSON_Delete(args);
	free(big);
	big = repeat('a', 65537);
	args = exec_args();
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(args, "argv"),
	    cJSON_CreateString(big));
	free(big);
	expect_args_refused(args, "'argv' items");
}

static void empty_command_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"\"]}", "'argv' first item");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"\", \"x\"]}", "'argv'");
}

static void name_of_200_bytes_is_accepted_and_201_refused(void **state)
{
	char *name = repeat('n', 200);
	cJSON *args = exec_args();
	char err[256];
	struct task *t;

	(void)state;
	cJSON_AddStringToObject(args, "name", name);
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	assert_string_equal(t->d->name, name);
	task_free(t);
	cJSON_Delete(args);
	free(name);
	name = repeat('n', 201);
	args = exec_args();
	cJSON_AddStringToObject(args, "name", name);
	free(name);
	expect_args_refused(args, "'name' must be a string of at most 200 bytes");
}

static void name_with_control_characters_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": \"a\\nb\"}", "'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": \"a\\tb\"}", "'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": \"\\u001b[2J\"}", "'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": \"a\\u007f\"}", "'name'");
}

static void empty_or_non_string_name_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": \"\"}", "'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"name\": 5}", "'name'");
}

static void name_may_hold_utf8(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"true\"], "
	    "\"name\": \"sauvegarde \\u00e9t\\u00e9\"}", err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->d->name, "sauvegarde \xc3\xa9t\xc3\xa9");
	task_free(t);
}

static void resources_that_is_not_an_array_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": \"disk\"}",
	    "'resources'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "{\"name\": \"disk\"}}", "'resources'");
}

static void resources_of_64_are_accepted_and_65_refused(void **state)
{
	cJSON *args = exec_args();
	cJSON *res = cJSON_AddArrayToObject(args, "resources");
	char err[256], name[16];
	struct task *t;

	(void)state;
	for (int i = 0; i < 64; i++) {
		cJSON *r = cJSON_CreateObject();
		snprintf(name, sizeof name, "r%d", i);
		cJSON_AddStringToObject(r, "name", name);
		cJSON_AddItemToArray(res, r);
	}
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	assert_int_equal(t->nres, 64);
	assert_string_equal(t->res[63].name, "r63");
	task_free(t);
	cJSON_AddItemToArray(res, cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetArrayItem(res, 64), "name", "r64");
	expect_args_refused(args, "'resources' must be an array of at most 64");
}

static void resource_without_a_string_name_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": [{}]}",
	    "resource 1: 'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"a\"}, {\"name\": 7}]}", "resource 2: 'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": [\"disk\"]}",
	    "resource 1: 'name'");
}

static void resource_name_empty_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"\"}]}", "resource 1: 'name' must be 1 to 255 bytes");
}

static void resource_name_of_255_bytes_is_accepted_and_256_refused(void **state)
{
	char *name = repeat('r', 255);
	cJSON *args = exec_args();
	cJSON *r;
	char err[256];
	struct task *t;

	(void)state;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "name", name);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(args, "resources"), r);
	t = validate_submit(args, err, sizeof err);
	assert_non_null(t);
	assert_string_equal(t->res[0].name, name);
	task_free(t);
	cJSON_Delete(args);
	free(name);
	name = repeat('r', 256);
	args = exec_args();
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "name", name);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(args, "resources"), r);
	free(name);
	expect_args_refused(args, "resource 1: 'name'");
}

static void resource_name_with_control_character_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"disk\\n\"}]}", "resource 1: 'name'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"a\"}, {\"name\": \"b\\u007f\"}]}", "resource 2: 'name'");
}

static void bad_resource_mode_is_refused(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"disk\", \"mode\": \"read\"}]}", "resource 'disk': 'mode'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"disk\", \"mode\": \"Shared\"}]}", "'mode'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"disk\", \"mode\": 1}]}", "'mode'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"resources\": "
	    "[{\"name\": \"disk\", \"mode\": \"\"}]}", "'mode'");
}

static void timeout_ms_must_be_positive(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 0}",
	    "'timeout_ms' must be a whole number from 1 to");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": -1}",
	    "'timeout_ms'");
}

static void timeout_ms_must_be_whole(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 1.5}",
	    "'timeout_ms'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": \"5000\"}",
	    "'timeout_ms'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": true}",
	    "'timeout_ms'");
}

static void timeout_ms_up_to_30_days_is_accepted_and_more_refused(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"true\"], "
	    "\"timeout_ms\": 2592000000}", err, sizeof err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->d->timeout_ms, 2592000000LL);
	task_free(t);
	t = submit("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 1}",
	    err, sizeof err);
	assert_non_null(t);
	assert_int_equal(t->d->timeout_ms, 1);
	task_free(t);
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 2592000001}",
	    "'timeout_ms'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 1e300}",
	    "'timeout_ms'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"timeout_ms\": 1e19}",
	    "'timeout_ms'");
}

static void validate_int_takes_absent_as_default_and_checks_bounds(void **state)
{
	cJSON *args = parse("{\"a\": 5, \"b\": null, \"c\": 2.5, \"d\": \"5\"}");
	char err[256] = "";
	int64_t v = 42;

	(void)state;
	assert_int_equal(validate_int(args, "a", 1, 1, 10, &v, err, sizeof err), 1);
	assert_int_equal(v, 5);
	v = 42;
	assert_int_equal(validate_int(args, "b", 0, 1, 10, &v, err, sizeof err), 0);
	assert_int_equal(validate_int(args, "zz", 0, 1, 10, &v, err, sizeof err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(validate_int(args, "zz", 1, 1, 10, &v, err, sizeof err), -1);
	assert_string_equal(err, "missing 'zz'");
	assert_int_equal(validate_int(args, "a", 1, 6, 10, &v, err, sizeof err), -1);
	assert_string_equal(err, "'a' must be a whole number from 6 to 10");
	assert_int_equal(validate_int(args, "a", 1, 1, 4, &v, err, sizeof err), -1);
	assert_int_equal(validate_int(args, "a", 1, 5, 5, &v, err, sizeof err), 1);
	assert_int_equal(validate_int(args, "c", 1, 0, 10, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "'c'"));
	assert_int_equal(validate_int(args, "d", 1, 0, 10, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "'d'"));
	assert_int_equal(v, 5);
	cJSON_Delete(args);
}

static void validate_string_takes_absent_as_default_and_checks_length(void **state)
{
	cJSON *args = parse("{\"s\": \"abc\", \"n\": null, \"i\": 3}");
	char err[256] = "";
	const char *v = NULL;

	(void)state;
	assert_int_equal(validate_string(args, "s", 1, 3, &v, err, sizeof err), 1);
	assert_string_equal(v, "abc");
	v = NULL;
	assert_int_equal(validate_string(args, "n", 0, 3, &v, err, sizeof err), 0);
	assert_int_equal(validate_string(args, "zz", 0, 3, &v, err, sizeof err), 0);
	assert_null(v);
	assert_int_equal(validate_string(args, "n", 1, 3, &v, err, sizeof err), -1);
	assert_string_equal(err, "missing 'n'");
	assert_int_equal(validate_string(args, "s", 1, 2, &v, err, sizeof err), -1);
	assert_string_equal(err, "'s' must be a string of at most 2 bytes");
	assert_int_equal(validate_string(args, "i", 1, 10, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "'i'"));
	assert_null(v);
	cJSON_Delete(args);
}

static void validate_ids_accepts_positive_whole_numbers_in_order(void **state)
{
	cJSON *args = parse("{\"ids\": [3, 1, 9000000000000000, 3]}");
	char err[256] = "";
	int64_t *ids = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(validate_ids(args, "ids", &ids, &n, err, sizeof err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[2], 9000000000000000LL);
	assert_int_equal(ids[3], 3);
	free(ids);
	cJSON_Delete(args);
}

static void validate_ids_refuses_empty_array(void **state)
{
	(void)state;
	expect_ids_refused("[]");
}

static void validate_ids_refuses_non_array(void **state)
{
	char err[256] = "";
	cJSON *args = parse("{}");
	int64_t *ids = NULL;
	size_t n = 0;

	(void)state;
	expect_ids_refused("5");
	expect_ids_refused("\"5\"");
	expect_ids_refused("null");
	expect_ids_refused("{\"0\": 5}");
	assert_int_equal(validate_ids(args, "ids", &ids, &n, err, sizeof err), -1);
	assert_null(ids);
	assert_non_null(strstr(err, "'ids'"));
	cJSON_Delete(args);
}

static void validate_ids_refuses_zero_negative_fractional_and_huge(void **state)
{
	(void)state;
	expect_ids_refused("[0]");
	expect_ids_refused("[1, -1]");
	expect_ids_refused("[1.5]");
	expect_ids_refused("[9000000000000001]");
	expect_ids_refused("[1e300]");
}

static void validate_ids_refuses_strings_and_other_items(void **state)
{
	char err[256] = "";
	cJSON *args = parse("{\"ids\": [1, 2, \"3\"]}");
	int64_t *ids = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(validate_ids(args, "ids", &ids, &n, err, sizeof err), -1);
	assert_null(ids);
	assert_non_null(strstr(err, "'ids' item 3 is not a task id"));
	cJSON_Delete(args);
	expect_ids_refused("[\"1\"]");
	expect_ids_refused("[null]");
	expect_ids_refused("[[1]]");
	expect_ids_refused("[true]");
}

static void worker_name_of_1_to_64_bytes_is_accepted(void **state)
{
	char *name = repeat('w', 64);

	(void)state;
	assert_true(validate_worker_name("w"));
	assert_true(validate_worker_name("w1"));
	assert_true(validate_worker_name("build-host_2.example"));
	assert_true(validate_worker_name("ABC-xyz_09."));
	assert_true(validate_worker_name(name));
	free(name);
	name = repeat('w', 65);
	assert_false(validate_worker_name(name));
	free(name);
	assert_false(validate_worker_name(""));
}

static void worker_name_allows_only_letters_digits_dot_dash_underscore(void **state)
{
	(void)state;
	assert_false(validate_worker_name("a b"));
	assert_false(validate_worker_name("a/b"));
	assert_false(validate_worker_name("a:b"));
	assert_false(validate_worker_name("a\nb"));
	assert_false(validate_worker_name("w\x7f"));
	assert_false(validate_worker_name("\xc3\xa9t\xc3\xa9"));
	assert_false(validate_worker_name("a*"));
}

static void resource_name_of_1_to_255_bytes_is_accepted(void **state)
{
	char *name = repeat('r', 255);

	(void)state;
	assert_true(validate_resource_name("r"));
	assert_true(validate_resource_name("repository:fedora"));
	assert_true(validate_resource_name("with space/and \xc3\xa9"));
	assert_true(validate_resource_name(name));
	free(name);
	name = repeat('r', 256);
	assert_false(validate_resource_name(name));
	free(name);
	assert_false(validate_resource_name(""));
}

static void resource_name_refuses_control_characters(void **state)
{
	(void)state;
	assert_false(validate_resource_name("a\nb"));
	assert_false(validate_resource_name("\t"));
	assert_false(validate_resource_name("a\x1b"));
	assert_false(validate_resource_name("a\x7f"));
}

static void request_of_valid_utf8_passes_the_text_check(void **state)
{
	char err[256] = "";
	int64_t index;
	cJSON *req = parse("{\"cmd\": \"task.submit\", \"args\": {\"type\": \"exec\", "
	    "\"name\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\", \"argv\": [\"true\"]}}");

	(void)state;
	assert_int_equal(validate_utf8(req, &index, err, sizeof err), 0);
	cJSON_Delete(req);
}

static void request_with_invalid_utf8_anywhere_is_refused_naming_the_field(void **state)
{
	(void)state;
	expect_utf8_refused("{\"cmd\": \"task.l\xffist\"}", "cmd");
	expect_utf8_refused("{\"cmd\": \"repo.create\", \"args\": {\"name\": \"caf\xe9\"}}",
	    "args.name");
	expect_utf8_refused("{\"cmd\": \"task.submit\", \"args\": {\"type\": \"exec\", "
	    "\"argv\": [\"echo\", \"ok\", \"\xc0\xaf\"]}}", "args.argv[2]");
	expect_utf8_refused("{\"cmd\": \"repo.update\", \"args\": {\"name\": \"r\", "
	    "\"importer\": {\"proxy_password\": \"\xed\xa0\x80\"}}}",
	    "args.importer.proxy_password");
	expect_utf8_refused("{\"cmd\": \"task.submit\", \"args\": {\"resources\": "
	    "[{\"name\": \"host:a\"}, {\"name\": \"host:\xf4\x90\x80\x80\"}]}}",
	    "args.resources[1].name");
	expect_utf8_refused("{\"cmd\": \"done\", \"args\": {\"error\": {\"message\": "
	    "\"no file \xe2\x82\"}}}", "args.error.message");
	/* A key: named with the bytes that are not text as \xNN. */
	expect_utf8_refused("{\"cmd\": \"repo.create\", \"args\": {\"na\xffme\": \"r\"}}",
	    "args.na\\xffme");
}

/* control_handle answers who may ask before what was wrong: the command is known even when its arguments are bad. */
static void request_with_bad_args_still_names_its_command(void **state)
{
	cJSON *req = parse("{\"cmd\": \"task.cancel\", \"args\": {\"ids\": []}}");
	struct request rq;
	char err[256];

	(void)state;
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_int_equal(rq.cmd, CMD_task_cancel);
	assert_non_null(strstr(err, "'ids'"));
	request_free(&rq);
	cJSON_Delete(req);
}

static void request_of_unknown_command_is_refused_by_name(void **state)
{
	cJSON *req = parse("{\"cmd\": \"task.explode\"}");
	struct request rq;
	char err[256];

	(void)state;
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_int_equal(rq.cmd, CMD_COUNT);
	assert_non_null(strstr(err, "unknown command 'task.explode'"));
	request_free(&rq);
	cJSON_Delete(req);
}

/* The checked values are what the handlers use, defaults filled in. */
static void request_fills_checked_values_and_defaults(void **state)
{
	cJSON *req = parse("{\"cmd\": \"task.log\", \"args\": {\"id\": 7}}");
	struct request rq;
	char err[256];

	(void)state;
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_int_equal(rq.cmd, CMD_task_log);
	assert_int_equal(rq.id, 7);
	assert_int_equal(rq.offset, 0);
	assert_int_equal(rq.max, 65536);
	request_free(&rq);
	cJSON_Delete(req);
	req = parse("{\"cmd\": \"schedule.add\", \"args\": {\"name\": \"n\", \"every_ms\": 60000,"
	    " \"template\": {\"type\": \"orphans\", \"argv\": [\"x\"]}}}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "template: "));
	request_free(&rq);
	cJSON_Delete(req);
}

/* task.list: a cursor is an id (1 and up, whole); without one the listing starts at the newest. */
static void task_list_takes_a_cursor_and_defaults_to_the_newest(void **state)
{
	static const char *const bad[] = {
		"{\"cursor\": 0}", "{\"cursor\": -3}", "{\"cursor\": 1.5}",
		"{\"cursor\": \"12\"}", "{\"cursor\": 1e300}",
	};
	struct request rq;
	char err[256], json[128];
	cJSON *req;

	(void)state;
	req = parse("{\"cmd\": \"task.list\"}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_int_equal(rq.cursor, INT64_MAX);
	assert_int_equal(rq.limit, TASK_LIST_DEFAULT);
	request_free(&rq);
	cJSON_Delete(req);
	req = parse("{\"cmd\": \"task.list\", \"args\": {\"cursor\": 1201, \"limit\": 100000}}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_int_equal(rq.cursor, 1201);
	assert_int_equal(rq.limit, 100000);
	request_free(&rq);
	cJSON_Delete(req);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"cmd\": \"task.list\", \"args\": %s}", bad[i]);
		req = parse(json);
		assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
		assert_non_null(strstr(err, "'cursor'"));
		request_free(&rq);
		cJSON_Delete(req);
	}
	req = parse("{\"cmd\": \"task.list\", \"args\": {\"limit\": 100001}}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "'limit'"));
	request_free(&rq);
	cJSON_Delete(req);
}

/* task.clean: a final state only, and an RFC 3339 time; neither given cleans any. */
static void task_clean_takes_a_final_state_and_a_time(void **state)
{
	static const char *const bad[] = {
		"{\"state\": \"running\"}", "{\"state\": \"waiting\"}",
		"{\"state\": \"active\"}", "{\"state\": \"done\"}", "{\"state\": 3}",
		"{\"before\": \"yesterday\"}", "{\"before\": \"7d\"}", "{\"before\": 1700000000000}",
	};
	struct request rq;
	char err[256], json[128];
	cJSON *req;

	(void)state;
	req = parse("{\"cmd\": \"task.clean\"}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_null(rq.state);
	assert_int_equal(rq.before, 0);
	request_free(&rq);
	cJSON_Delete(req);
	req = parse("{\"cmd\": \"task.clean\", \"args\": {\"state\": \"failed\","
	    " \"before\": \"2026-11-25T03:00:00Z\"}}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_string_equal(rq.state, "failed");
	assert_int_equal(rq.before, INT64_C(1795575600000));
	request_free(&rq);
	cJSON_Delete(req);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"cmd\": \"task.clean\", \"args\": %s}", bad[i]);
		req = parse(json);
		if (validate_request(req, &rq, err, sizeof err) != -1)
			fail_msg("accepted %s", bad[i]);
		request_free(&rq);
		cJSON_Delete(req);
	}
}

/* task.remove is one transaction: 10,000 ids at most; task.restart takes one id. */
static void task_remove_takes_at_most_10000_ids(void **state)
{
	struct request rq;
	char err[256];
	cJSON *req, *ids;

	(void)state;
	req = parse("{\"cmd\": \"task.remove\", \"args\": {\"ids\": []}}");
	ids = cJSON_GetObjectItem(cJSON_GetObjectItem(req, "args"), "ids");
	for (int i = 1; i <= 10000; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateNumber(i));
	assert_int_equal(validate_request(req, &rq, err, sizeof err), 0);
	assert_int_equal(rq.nids, 10000);
	request_free(&rq);
	cJSON_AddItemToArray(ids, cJSON_CreateNumber(10001));
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "at most 10000"));
	request_free(&rq);
	cJSON_Delete(req);
	req = parse("{\"cmd\": \"task.restart\", \"args\": {\"id\": \"4\"}}");
	assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "'id'"));
	request_free(&rq);
	cJSON_Delete(req);
}

/* The exec args of exec_args() with "env" set to the parsed json; validate_submit's task. */
static struct task *submit_env(const char *env_json, char *err, size_t errlen)
{
	cJSON *args = exec_args();
	struct task *t;

	cJSON_AddItemToObject(args, "env", parse(env_json));
	err[0] = '\0';
	t = validate_submit(args, err, errlen);
	cJSON_Delete(args);
	return t;
}

static void exec_cwd_and_env_are_kept_with_the_task(void **state)
{
	char err[256];
	struct task *t = submit("{\"type\": \"exec\", \"argv\": [\"pwd\"], \"cwd\": \"/srv/feed\", "
	    "\"env\": {\"FOO\": \"bar\", \"EMPTY\": \"\"}}", err, sizeof err);
	const cJSON *env;

	(void)state;
	if (t == NULL)
		fail_msg("refused: %s", err);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "cwd")),
	    "/srv/feed");
	env = cJSON_GetObjectItemCaseSensitive(t->d->args, "env");
	assert_int_equal(cJSON_GetArraySize(env), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(env, "FOO")), "bar");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(env, "EMPTY")), "");
	/* Nothing was denied: no env_denied. */
	assert_null(cJSON_GetObjectItemCaseSensitive(t->d->args, "env_denied"));
	task_free(t);
}

static void exec_cwd_must_be_an_absolute_path(void **state)
{
	char *long_path;
	cJSON *args;

	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"cwd\": \"srv\"}", "'cwd'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"cwd\": \"\"}", "'cwd'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"cwd\": 3}", "'cwd'");
	args = exec_args();
	long_path = repeat('/', TASK_CWD_MAX + 1);
	cJSON_AddStringToObject(args, "cwd", long_path);
	free(long_path);
	expect_args_refused(args, "'cwd'");
}

static void exec_env_must_be_an_object_of_strings(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": [\"A=1\"]}", "'env'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": \"A=1\"}", "'env'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A\": 1}}", "'A'");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A\": null}}", "'A'");
}

static void exec_env_names_without_equals_or_control_characters(void **state)
{
	(void)state;
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A=B\": \"1\"}}",
	    "'env' variable 1");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"\": \"1\"}}",
	    "'env' variable 1");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], "
	    "\"env\": {\"OK\": \"1\", \"A\\nB\": \"1\"}}", "'env' variable 2");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A\": \"1\", \"A\": \"2\"}}",
	    "twice");
	/* Of several names given twice, the first repeated is named; a fault before it is said instead. */
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"B\": \"1\", "
	    "\"A\": \"1\", \"B\": \"2\", \"A\": \"2\"}}", "names 'B' twice");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"B\": \"1\", "
	    "\"A\": \"1\", \"A\": \"2\", \"B\": \"2\"}}", "names 'A' twice");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A\": \"1\", "
	    "\"B\": 2, \"A\": \"2\"}}", "'B': the value");
	expect_refused("{\"type\": \"exec\", \"argv\": [\"true\"], \"env\": {\"A\": \"1\", "
	    "\"A\": \"2\", \"B\": 2}}", "names 'A' twice");
	/* What a shell exports beside plain names is taken: bash's functions. */
	assert_true(validate_env_name("BASH_FUNC_f%%"));
	assert_true(validate_env_name("lower.case-ok"));
	assert_false(validate_env_name("A=B"));
	assert_false(validate_env_name(""));
}

static void exec_env_limits_count_value_and_total_size(void **state)
{
	cJSON *args, *env;
	char name[32], *big;

	(void)state;
	/* TASK_ENV_VARS_MAX variables are taken, one more is not. */
	args = exec_args();
	env = cJSON_AddObjectToObject(args, "env");
	for (int i = 0; i < TASK_ENV_VARS_MAX; i++) {
		snprintf(name, sizeof name, "V%d", i);
		cJSON_AddStringToObject(env, name, "x");
	}
	{
		char err[256];
		struct task *t = validate_submit(args, err, sizeof err);

		if (t == NULL)
			fail_msg("refused %d variables: %s", TASK_ENV_VARS_MAX, err);
		task_free(t);
	}
	cJSON_AddStringToObject(env, "ONE_MORE", "x");
	expect_args_refused(args, "more than 2048 variables");
	/* A value over 128 KiB. */
	args = exec_args();
	big = repeat('x', TASK_ENV_VALUE_MAX + 1);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(args, "env"), "BIG", big);
	free(big);
	expect_args_refused(args, "'BIG'");
	/* Values each allowed, too large together. */
	args = exec_args();
	env = cJSON_AddObjectToObject(args, "env");
	big = repeat('x', TASK_ENV_VALUE_MAX);
	cJSON_AddStringToObject(env, "B1", big);
	cJSON_AddStringToObject(env, "B2", big);
	cJSON_AddStringToObject(env, "B3", big);
	free(big);
	expect_args_refused(args, "in all");
}

static void exec_env_leaves_out_denied_names_and_lists_them(void **state)
{
	char err[256];
	struct task *t;
	const cJSON *env, *denied;
	char *text;

	(void)state;
	validate_set_env_deny(ENV_DENY_DEFAULT);
	t = submit_env("{\"FOO\": \"bar\", \"MY_TOKEN\": \"s3cret\", \"AWS_SECRET_ACCESS_KEY\": \"k\", "
	    "\"db_password\": \"p\"}", err, sizeof err);
	if (t == NULL)
		fail_msg("refused: %s", err);
	env = cJSON_GetObjectItemCaseSensitive(t->d->args, "env");
	denied = cJSON_GetObjectItemCaseSensitive(t->d->args, "env_denied");
	assert_int_equal(cJSON_GetArraySize(env), 1);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(env, "FOO"));
	assert_int_equal(cJSON_GetArraySize(denied), 3);
	assert_string_equal(cJSON_GetArrayItem(denied, 0)->valuestring, "MY_TOKEN");
	assert_string_equal(cJSON_GetArrayItem(denied, 1)->valuestring, "AWS_SECRET_ACCESS_KEY");
	assert_string_equal(cJSON_GetArrayItem(denied, 2)->valuestring, "db_password");
	/* The values are nowhere in what is stored. */
	text = cJSON_PrintUnformatted(t->d->args);
	assert_null(strstr(text, "s3cret"));
	cJSON_free(text);
	task_free(t);
}

static void exec_env_deny_follows_the_configured_list(void **state)
{
	char err[256];
	struct task *t;
	const cJSON *env;

	(void)state;
	validate_set_env_deny("SITE_*");
	t = submit_env("{\"SITE_KEY\": \"1\", \"MY_TOKEN\": \"2\"}", err, sizeof err);
	validate_set_env_deny(ENV_DENY_DEFAULT);
	if (t == NULL)
		fail_msg("refused: %s", err);
	env = cJSON_GetObjectItemCaseSensitive(t->d->args, "env");
	assert_null(cJSON_GetObjectItemCaseSensitive(env, "SITE_KEY"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(env, "MY_TOKEN"));
	task_free(t);
}

/* The worker sets these itself (exec.c): a submitted value would only mislead task show. */
static void exec_env_drops_the_variables_the_worker_sets(void **state)
{
	char err[256];
	struct task *t;
	const cJSON *env;

	(void)state;
	t = submit_env("{\"DEPOT_TASK_ID\": \"7\", \"DEPOT_TASK_TAG\": \"1.2.7\", \"A\": \"1\"}",
	    err, sizeof err);
	if (t == NULL)
		fail_msg("refused: %s", err);
	env = cJSON_GetObjectItemCaseSensitive(t->d->args, "env");
	assert_int_equal(cJSON_GetArraySize(env), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(t->d->args, "env_denied"));
	task_free(t);
}

/* schedule.add stores its template with the environment a task would keep. */
static void schedule_template_is_stored_without_denied_variables(void **state)
{
	char err[256];
	struct request rq;
	cJSON *req = parse("{\"cmd\": \"schedule.add\", \"args\": {\"name\": \"n\", "
	    "\"every_ms\": 60000, \"template\": {\"type\": \"exec\", \"argv\": [\"true\"], "
	    "\"cwd\": \"/tmp\", \"env\": {\"A\": \"1\", \"MY_TOKEN\": \"s3cret\"}}}}");
	char *text;

	(void)state;
	if (validate_request(req, &rq, err, sizeof err) != 0)
		fail_msg("refused: %s", err);
	assert_non_null(rq.tmpl);
	text = cJSON_PrintUnformatted(rq.tmpl);
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "MY_TOKEN"));
	assert_non_null(strstr(text, "\"A\":\"1\""));
	assert_non_null(strstr(text, "\"cwd\":\"/tmp\""));
	cJSON_free(text);
	request_free(&rq);
	cJSON_Delete(req);
}

/* schedule.add: exactly one of every_ms and calendar; tz only with calendar; each checked, naming what is wrong. */
static void schedule_add_takes_every_or_a_calendar_with_its_zone(void **state)
{
	static const struct { const char *args, *err; } bad[] = {
		{ "\"every_ms\": 60000, \"calendar\": \"daily\"", "exactly one" },
		{ "\"tz\": \"UTC\"", "exactly one" },
		{ "\"every_ms\": 60000, \"tz\": \"UTC\"", "'tz' goes with 'calendar'" },
		{ "\"calendar\": \"daily\", \"at\": \"2030-01-01T00:00:00Z\"", "'at' goes with" },
		{ "\"calendar\": \"Mon..Fry\"", "'Fry' is not a weekday" },
		{ "\"calendar\": 7", "'calendar' must be a string" },
		{ "\"calendar\": \"daily\", \"tz\": \"Nowhere/City\"", "unknown time zone" },
		{ "\"calendar\": \"daily\", \"tz\": \"../etc/passwd\"", "not a time zone name" },
	};
	char err[256], json[512];
	struct request rq;
	cJSON *req;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"cmd\": \"schedule.add\", \"args\": {\"name\": "
		    "\"n\", %s, \"template\": {\"type\": \"exec\", \"argv\": [\"true\"]}}}",
		    bad[i].args);
		req = parse(json);
		assert_int_equal(validate_request(req, &rq, err, sizeof err), -1);
		if (strstr(err, bad[i].err) == NULL)
			fail_msg("%s: refused with \"%s\", not \"%s\"", bad[i].args, err, bad[i].err);
		request_free(&rq);
		cJSON_Delete(req);
	}
	req = parse("{\"cmd\": \"schedule.add\", \"args\": {\"name\": \"n\", \"calendar\": "
	    "\"Mon..Fri 02:00\", \"tz\": \"Europe/Berlin\", \"template\": {\"type\": \"exec\", "
	    "\"argv\": [\"true\"]}}}");
	if (validate_request(req, &rq, err, sizeof err) != 0)
		fail_msg("refused: %s", err);
	assert_string_equal(rq.calendar, "Mon..Fri 02:00");
	assert_string_equal(rq.tz, "Europe/Berlin");
	/* Kept for the handler's repository check. */
	assert_non_null(rq.task);
	request_free(&rq);
	cJSON_Delete(req);
}

/* validate_request of a task.submit_batch; rq is the caller's to free. */
static int batch_request(const char *args_json, struct request *rq, char *err, size_t errlen)
{
	char *text;
	cJSON *req;
	int rc;

	if (asprintf(&text, "{\"cmd\":\"task.submit_batch\",\"args\":%s}", args_json) < 0)
		fail_msg("out of memory");
	req = parse(text);
	free(text);
	err[0] = '\0';
	rc = validate_request(req, rq, err, errlen);
	/* What validation kept must not point into the request. */
	cJSON_Delete(req);
	return rc;
}

static void batch_tasks_are_checked_in_order_with_the_defaults(void **state)
{
	struct request rq;
	char err[512];

	(void)state;
	assert_int_equal(batch_request("{\"defaults\":{\"cwd\":\"/srv\"},\"tasks\":["
	    "{\"type\":\"exec\",\"argv\":[\"a\"]},"
	    "{\"type\":\"exec\",\"argv\":[\"b\"],\"cwd\":\"/tmp\",\"priority\":7},"
	    "{\"type\":\"exec\",\"argv\":[\"c\"],\"resources\":[{\"name\":\"r\","
	    "\"mode\":\"exclusive\"}]}]}", &rq, err, sizeof err), 0);
	assert_int_equal(rq.nbatch, 3);
	assert_string_equal(rq.batch[0]->d->name, "a");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rq.batch[0]->d->args, "cwd")),
	    "/srv");
	assert_string_equal(rq.batch[1]->d->name, "b");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rq.batch[1]->d->args, "cwd")),
	    "/tmp");
	assert_int_equal(rq.batch[1]->priority, 7);
	assert_int_equal(rq.batch[2]->nres, 1);
	assert_int_equal(rq.error_index, -1);
	request_free(&rq);
}

static void batch_defaults_env_is_filtered_once_and_a_task_env_wins(void **state)
{
	struct request rq;
	char err[512];
	const cJSON *env0, *env1;

	(void)state;
	validate_set_env_deny("SECRET_*");
	assert_int_equal(batch_request("{\"defaults\":{\"env\":{\"HOME\":\"/root\","
	    "\"SECRET_TOKEN\":\"x\"}},\"tasks\":["
	    "{\"type\":\"exec\",\"argv\":[\"a\"]},"
	    "{\"type\":\"exec\",\"argv\":[\"b\"],\"env\":{\"ONLY\":\"1\"}}]}",
	    &rq, err, sizeof err), 0);
	validate_set_env_deny(ENV_DENY_DEFAULT);
	env0 = cJSON_GetObjectItem(rq.batch[0]->d->args, "env");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(env0, "HOME")), "/root");
	assert_null(cJSON_GetObjectItem(env0, "SECRET_TOKEN"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(rq.batch[0]->d->args, "env_denied"), 0)), "SECRET_TOKEN");
	/* A task's own env is its whole environment, as in task.submit. */
	env1 = cJSON_GetObjectItem(rq.batch[1]->d->args, "env");
	assert_int_equal(cJSON_GetArraySize(env1), 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(env1, "ONLY")), "1");
	assert_null(cJSON_GetObjectItem(rq.batch[1]->d->args, "env_denied"));
	/* The batch's env is one, referred to by each task that takes it, not copied. */
	assert_true(env0->type & cJSON_IsReference);
	assert_false(env1->type & cJSON_IsReference);
	request_free(&rq);
}

static void batch_refusal_names_the_first_bad_task_by_index(void **state)
{
	struct request rq;
	char err[512];

	(void)state;
	assert_int_equal(batch_request("{\"tasks\":[{\"type\":\"exec\",\"argv\":[\"a\"]},"
	    "{\"type\":\"exec\",\"argv\":[\"b\"],\"priority\":5000},"
	    "{\"type\":\"exec\",\"argv\":[]}]}", &rq, err, sizeof err), -1);
	assert_int_equal(rq.error_index, 1);
	assert_non_null(strstr(err, "tasks[1]: "));
	assert_non_null(strstr(err, "priority"));
	request_free(&rq);
	/* Bad defaults are no task's: no index. */
	assert_int_equal(batch_request("{\"defaults\":{\"env\":{\"A\":1}},\"tasks\":["
	    "{\"type\":\"exec\",\"argv\":[\"a\"]}]}", &rq, err, sizeof err), -1);
	assert_int_equal(rq.error_index, -1);
	assert_non_null(strstr(err, "defaults: "));
	request_free(&rq);
}

static void batch_must_hold_1_to_the_limit_of_tasks(void **state)
{
	struct request rq;
	char err[512];
	cJSON *args = cJSON_CreateObject(), *tasks = cJSON_AddArrayToObject(args, "tasks");
	char *text;

	(void)state;
	assert_int_equal(batch_request("{\"tasks\":[]}", &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "'tasks'"));
	request_free(&rq);
	assert_int_equal(batch_request("{\"tasks\":{}}", &rq, err, sizeof err), -1);
	request_free(&rq);
	assert_int_equal(batch_request("{\"tasks\":[1]}", &rq, err, sizeof err), -1);
	assert_int_equal(rq.error_index, 0);
	request_free(&rq);
	for (int i = 0; i <= TASK_BATCH_MAX; i++)
		cJSON_AddItemToArray(tasks, cJSON_CreateObject());
	text = cJSON_PrintUnformatted(args);
	assert_int_equal(batch_request(text, &rq, err, sizeof err), -1);
	assert_non_null(strstr(err, "'tasks' must be an array of 1 to"));
	request_free(&rq);
	free(text);
	cJSON_Delete(args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_with_bad_args_still_names_its_command),
		cmocka_unit_test(request_of_unknown_command_is_refused_by_name),
		cmocka_unit_test(request_fills_checked_values_and_defaults),
		cmocka_unit_test(task_list_takes_a_cursor_and_defaults_to_the_newest),
		cmocka_unit_test(task_clean_takes_a_final_state_and_a_time),
		cmocka_unit_test(task_remove_takes_at_most_10000_ids),
		cmocka_unit_test(minimal_exec_request_is_accepted_and_filled_in),
		cmocka_unit_test(full_exec_request_fills_name_resources_and_timeout),
		cmocka_unit_test(resource_mode_defaults_to_exclusive),
		cmocka_unit_test(null_or_empty_optional_fields_are_as_if_absent),
		cmocka_unit_test(default_name_is_argv_joined_by_spaces),
		cmocka_unit_test(default_name_is_truncated_to_200_bytes),
		cmocka_unit_test(default_name_of_exactly_200_bytes_is_kept_whole),
		cmocka_unit_test(default_name_truncation_does_not_split_a_utf8_character),
		cmocka_unit_test(default_name_turns_control_characters_into_spaces),
		cmocka_unit_test(default_name_has_no_delete_character),
		cmocka_unit_test(args_that_is_not_an_object_is_refused),
		cmocka_unit_test(missing_type_is_refused),
		cmocka_unit_test(type_that_is_not_a_string_is_refused),
		cmocka_unit_test(unknown_type_is_refused),
		cmocka_unit_test(missing_argv_is_refused),
		cmocka_unit_test(argv_that_is_not_an_array_is_refused),
		cmocka_unit_test(empty_argv_is_refused),
		cmocka_unit_test(argv_items_that_are_not_strings_are_refused),
		cmocka_unit_test(argv_of_1024_items_is_accepted_and_1025_refused),
		cmocka_unit_test(argv_item_over_65536_bytes_is_refused),
		cmocka_unit_test(empty_command_is_refused),
		cmocka_unit_test(name_of_200_bytes_is_accepted_and_201_refused),
		cmocka_unit_test(name_with_control_characters_is_refused),
		cmocka_unit_test(empty_or_non_string_name_is_refused),
		cmocka_unit_test(name_may_hold_utf8),
		cmocka_unit_test(resources_that_is_not_an_array_is_refused),
		cmocka_unit_test(resources_of_64_are_accepted_and_65_refused),
		cmocka_unit_test(resource_without_a_string_name_is_refused),
		cmocka_unit_test(resource_name_empty_is_refused),
		cmocka_unit_test(resource_name_of_255_bytes_is_accepted_and_256_refused),
		cmocka_unit_test(resource_name_with_control_character_is_refused),
		cmocka_unit_test(bad_resource_mode_is_refused),
		cmocka_unit_test(timeout_ms_must_be_positive),
		cmocka_unit_test(timeout_ms_must_be_whole),
		cmocka_unit_test(timeout_ms_up_to_30_days_is_accepted_and_more_refused),
		cmocka_unit_test(validate_int_takes_absent_as_default_and_checks_bounds),
		cmocka_unit_test(validate_string_takes_absent_as_default_and_checks_length),
		cmocka_unit_test(validate_ids_accepts_positive_whole_numbers_in_order),
		cmocka_unit_test(validate_ids_refuses_empty_array),
		cmocka_unit_test(validate_ids_refuses_non_array),
		cmocka_unit_test(validate_ids_refuses_zero_negative_fractional_and_huge),
		cmocka_unit_test(validate_ids_refuses_strings_and_other_items),
		cmocka_unit_test(worker_name_of_1_to_64_bytes_is_accepted),
		cmocka_unit_test(worker_name_allows_only_letters_digits_dot_dash_underscore),
		cmocka_unit_test(resource_name_of_1_to_255_bytes_is_accepted),
		cmocka_unit_test(resource_name_refuses_control_characters),
		cmocka_unit_test(request_of_valid_utf8_passes_the_text_check),
		cmocka_unit_test(request_with_invalid_utf8_anywhere_is_refused_naming_the_field),
		cmocka_unit_test(exec_cwd_and_env_are_kept_with_the_task),
		cmocka_unit_test(exec_cwd_must_be_an_absolute_path),
		cmocka_unit_test(exec_env_must_be_an_object_of_strings),
		cmocka_unit_test(exec_env_names_without_equals_or_control_characters),
		cmocka_unit_test(exec_env_limits_count_value_and_total_size),
		cmocka_unit_test(exec_env_leaves_out_denied_names_and_lists_them),
		cmocka_unit_test(exec_env_deny_follows_the_configured_list),
		cmocka_unit_test(exec_env_drops_the_variables_the_worker_sets),
		cmocka_unit_test(schedule_template_is_stored_without_denied_variables),
		cmocka_unit_test(schedule_add_takes_every_or_a_calendar_with_its_zone),
		cmocka_unit_test(batch_tasks_are_checked_in_order_with_the_defaults),
		cmocka_unit_test(batch_defaults_env_is_filtered_once_and_a_task_env_wins),
		cmocka_unit_test(batch_refusal_names_the_first_bad_task_by_index),
		cmocka_unit_test(batch_must_hold_1_to_the_limit_of_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
