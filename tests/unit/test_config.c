/* test_config.c: depot.conf (DESIGN §4) and the duration, size and time syntax of timeutil, one test a rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "timeutil.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/* A scratch directory under /tmp holding one depot.conf at a time. */
struct scratch {
	char dir[64];
	char path[128];
	char err[512];
	struct depot_config cfg;
};

static int setup(void **state);
static int teardown(void **state);
static void write_conf(struct scratch *s, const char *text);
static int load(struct scratch *s, const char *text);
static void expect_refused(struct scratch *s, const char *text, int line,
    const char *needle);
static int64_t dur(const char *text);
static int64_t size(const char *text);
static const char *own_group(void);

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	strcpy(s->dir, "/tmp/depot-test-config.XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		free(s);
		return -1;
	}
	snprintf(s->path, sizeof s->path, "%s/depot.conf", s->dir);
	config_defaults(&s->cfg);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;

	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return 0;
}

static void write_conf(struct scratch *s, const char *text)
{
	FILE *f = fopen(s->path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads text over fresh defaults; returns what config_load returned. */
static int load(struct scratch *s, const char *text)
{
	write_conf(s, text);
	config_defaults(&s->cfg);
	s->err[0] = '\0';
	return config_load(s->path, &s->cfg, s->err, sizeof s->err);
}

/* The file is refused with "PATH:LINE: reason" and the reason contains needle. */
static void expect_refused(struct scratch *s, const char *text, int line,
    const char *needle)
{
	char prefix[160];

	assert_int_equal(load(s, text), -1);
	snprintf(prefix, sizeof prefix, "%s:%d: ", s->path, line);
	if (strncmp(s->err, prefix, strlen(prefix)) != 0)
		fail_msg("expected prefix '%s', got '%s'", prefix, s->err);
	if (strstr(s->err + strlen(prefix), needle) == NULL)
		fail_msg("expected '%s' in '%s'", needle, s->err);
}

/* The name of this process's group: one it may give files to, as a group key needs. */
static const char *own_group(void)
{
	struct group *gr = getgrgid(getegid());

	assert_non_null(gr);
	return gr->gr_name;
}

/* The parsed duration in ms, or -1 when refused. */
static int64_t dur(const char *text)
{
	int64_t v = -1;

	if (time_parse_duration(text, &v) < 0)
		return -1;
	return v;
}

/* The parsed size in bytes, or -1 when refused. */
static int64_t size(const char *text)
{
	int64_t v = -1;

	if (time_parse_size(text, &v) < 0)
		return -1;
	return v;
}

static void defaults_match_design_section_4(void **state)
{
	struct depot_config c;

	(void)state;
	memset(&c, 0x5a, sizeof c);
	config_defaults(&c);
	assert_int_equal(c.workers, 2);
	assert_string_equal(c.socket_group, "");
	assert_int_equal(c.durability_full, 0);
	assert_int_equal(c.max_message, 1024 * 1024);
	assert_int_equal(c.heartbeat_interval_ms, 2000);
	assert_int_equal(c.worker_timeout_ms, 10000);
	assert_int_equal(c.check_interval_ms, 1000);
	assert_int_equal(c.cancel_grace_ms, 10000);
	assert_int_equal(c.stall_after_ms, 60000);
	assert_int_equal(c.keep_finished_ms, 30LL * 86400 * 1000);
	assert_int_equal(c.log_max, 1024 * 1024);
	assert_string_equal(c.compression, "zstd");
	assert_int_equal(c.backup_keep, 7);
	assert_int_equal(c.keep_pre_restore, 1);
	assert_string_equal(c.publish_dir, "");
	assert_string_equal(c.publish_group, "");
	assert_int_equal(c.publish_gid, (gid_t)-1);
	assert_int_equal(c.socket_gid, (gid_t)-1);
}

static void missing_file_is_not_an_error_and_keeps_defaults(void **state)
{
	struct scratch *s = *state;
	struct depot_config want;

	config_defaults(&want);
	s->err[0] = '\0';
	assert_int_equal(config_load(s->path, &s->cfg, s->err, sizeof s->err), 0);
	assert_string_equal(s->err, "");
	assert_memory_equal(&s->cfg, &want, sizeof want);
}

static void empty_file_keeps_defaults(void **state)
{
	struct scratch *s = *state;
	struct depot_config want;

	config_defaults(&want);
	assert_int_equal(load(s, "; nothing but a comment\n\n"), 0);
	assert_memory_equal(&s->cfg, &want, sizeof want);
}

static void full_file_with_every_key_and_inline_comments_parses(void **state)
{
	struct scratch *s = *state;
	char text[2048];
	static const char fmt[] =
	    "; depot.conf with every key set away from its default\n"
	    "[daemon]\n"
	    "workers = 8                 ; eight at once\n"
	    "socket_group = %s        ; may read and cancel\n"
	    "durability = full           ; SQLite synchronous=FULL\n"
	    "max_message = 4MiB\n"
	    "\n"
	    "[monitor]\n"
	    "heartbeat_interval = 500ms  ; twice a second\n"
	    "worker_timeout = 3s\n"
	    "check_interval = 250ms\n"
	    "cancel_grace = 1m\n"
	    "stall_after = 2h\n"
	    "[tasks]\n"
	    "keep_finished = 7d          ; a week\n"
	    "log_max = 512KiB\n"
	    "[backup]\n"
	    "compression = gzip          ; zstd | gzip | none\n"
	    "keep = 3                    ; chains\n"
	    "keep_pre_restore = 0\n"
	    "[publish]\n"
	    "dir = /srv/depot-publish/   ; outside the data directory\n"
	    "group = %s\n";

	snprintf(text, sizeof text, fmt, own_group(), own_group());
	assert_int_equal(load(s, text), 0);
	assert_string_equal(s->err, "");
	assert_int_equal(s->cfg.workers, 8);
	assert_string_equal(s->cfg.socket_group, own_group());
	assert_int_equal(s->cfg.socket_gid, getegid());
	assert_string_equal(s->cfg.publish_dir, "/srv/depot-publish");
	assert_string_equal(s->cfg.publish_group, own_group());
	assert_int_equal(s->cfg.publish_gid, getegid());
	assert_int_equal(s->cfg.durability_full, 1);
	assert_int_equal(s->cfg.max_message, 4 * 1024 * 1024);
	assert_int_equal(s->cfg.heartbeat_interval_ms, 500);
	assert_int_equal(s->cfg.worker_timeout_ms, 3000);
	assert_int_equal(s->cfg.check_interval_ms, 250);
	assert_int_equal(s->cfg.cancel_grace_ms, 60000);
	assert_int_equal(s->cfg.stall_after_ms, 2 * 3600000);
	assert_int_equal(s->cfg.keep_finished_ms, 7LL * 86400000);
	assert_int_equal(s->cfg.log_max, 512 * 1024);
	assert_string_equal(s->cfg.compression, "gzip");
	assert_int_equal(s->cfg.backup_keep, 3);
	assert_int_equal(s->cfg.keep_pre_restore, 0);
}

static void empty_value_with_inline_comment_is_empty(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[daemon]\nsocket_group =              ; nobody\n"), 0);
	assert_string_equal(s->cfg.socket_group, "");
}

static void keys_left_out_keep_their_defaults(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[tasks]\nlog_max = 2MiB\n"), 0);
	assert_int_equal(s->cfg.log_max, 2 * 1024 * 1024);
	assert_int_equal(s->cfg.workers, 2);
	assert_int_equal(s->cfg.heartbeat_interval_ms, 2000);
	assert_string_equal(s->cfg.compression, "zstd");
}

static void durability_normal_and_compression_none_are_accepted(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[daemon]\ndurability = normal\n"
	    "[backup]\ncompression = none\n"), 0);
	assert_int_equal(s->cfg.durability_full, 0);
	assert_string_equal(s->cfg.compression, "none");
	assert_int_equal(load(s, "[backup]\ncompression = zstd\n"), 0);
	assert_string_equal(s->cfg.compression, "zstd");
}

static void config_durations_take_every_unit_and_bare_seconds(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[monitor]\n"
	    "heartbeat_interval = 1500ms\n"
	    "worker_timeout = 2m\n"
	    "check_interval = 3\n"
	    "cancel_grace = 1h\n"
	    "stall_after = 1d\n"), 0);
	assert_int_equal(s->cfg.heartbeat_interval_ms, 1500);
	assert_int_equal(s->cfg.worker_timeout_ms, 120000);
	assert_int_equal(s->cfg.check_interval_ms, 3000);
	assert_int_equal(s->cfg.cancel_grace_ms, 3600000);
	assert_int_equal(s->cfg.stall_after_ms, 86400000);
}

static void config_range_limits_are_inclusive(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[daemon]\nworkers = 64\nmax_message = 4096\n"
	    "[tasks]\nlog_max = 1KiB\nkeep_finished = 0\n"
	    "[monitor]\ncancel_grace = 0s\n"), 0);
	assert_int_equal(s->cfg.workers, 64);
	assert_int_equal(s->cfg.max_message, 4096);
	assert_int_equal(s->cfg.log_max, 1024);
	assert_int_equal(s->cfg.keep_finished_ms, 0);
	assert_int_equal(s->cfg.cancel_grace_ms, 0);
	assert_int_equal(load(s, "[daemon]\nworkers = 0\n"), 0);
	assert_int_equal(s->cfg.workers, 0);
}

static void unknown_key_is_refused_with_file_line_and_key(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = 2\nworkerz = 3\n", 3,
	    "unknown key 'workerz' in [daemon]");
}

static void key_in_the_wrong_section_is_refused(void **state)
{
	expect_refused(*state, "[tasks]\nworkers = 2\n", 2,
	    "unknown key 'workers' in [tasks]");
}

static void unknown_section_is_refused_with_file_line_and_section(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = 2\n[deamon]\nworkers = 3\n", 4,
	    "unknown section [deamon]");
}

static void key_before_any_section_is_refused(void **state)
{
	expect_refused(*state, "workers = 2\n", 1, "unknown section");
}

static void bad_duration_is_refused_naming_the_key(void **state)
{
	expect_refused(*state, "[monitor]\nheartbeat_interval = 2 fortnights\n", 2,
	    "heartbeat_interval = '2 fortnights' is not a duration");
}

static void negative_duration_is_refused_naming_the_key(void **state)
{
	expect_refused(*state, "[monitor]\ncancel_grace = -5s\n", 2, "cancel_grace");
}

static void negative_number_is_refused_naming_the_key(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = -1\n", 2,
	    "workers = -1 is out of range");
}

static void negative_size_is_refused_naming_the_key(void **state)
{
	expect_refused(*state, "[tasks]\nlog_max = -1MiB\n", 2,
	    "log_max = '-1MiB' is not a size");
}

static void workers_out_of_range_is_refused(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = 1000\n", 2,
	    "workers = 1000 is out of range (0 to 64)");
	expect_refused(*state, "[daemon]\nworkers = 65\n", 2, "workers = 65 is out of range");
}

static void workers_that_is_not_a_whole_number_is_refused(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = 2.5\n", 2,
	    "workers = '2.5' is not a whole number");
	expect_refused(*state, "[daemon]\nworkers = two\n", 2, "workers = 'two'");
	expect_refused(*state, "[daemon]\nworkers =\n", 2, "workers = ''");
}

static void durations_out_of_range_are_refused(void **state)
{
	expect_refused(*state, "[monitor]\nheartbeat_interval = 5ms\n", 2,
	    "heartbeat_interval = 5ms is out of range (10 to 3600000 ms)");
	expect_refused(*state, "[monitor]\nstall_after = 31d\n", 2, "stall_after");
	expect_refused(*state, "[monitor]\nworker_timeout = 2d\n", 2, "worker_timeout");
}

static void sizes_out_of_range_are_refused(void **state)
{
	expect_refused(*state, "[tasks]\nlog_max = 1023\n", 2,
	    "log_max = 1023 is out of range (1024 to 1099511627776 bytes)");
	expect_refused(*state, "[daemon]\nmax_message = 2GiB\n", 2, "max_message");
	expect_refused(*state, "[daemon]\nmax_message = 1KiB\n", 2, "max_message");
}

static void bad_size_unit_is_refused_naming_the_key(void **state)
{
	expect_refused(*state, "[tasks]\nlog_max = 1MB\n", 2,
	    "log_max = '1MB' is not a size");
}

static void bad_durability_is_refused(void **state)
{
	expect_refused(*state, "[daemon]\ndurability = paranoid\n", 2,
	    "durability = 'paranoid': expected normal or full");
}

static void bad_compression_is_refused(void **state)
{
	expect_refused(*state, "[backup]\ncompression = xz\n", 2,
	    "compression = 'xz': expected zstd, gzip or none");
	expect_refused(*state, "[backup]\ncompression = ZSTD\n", 2, "compression");
}

static void log_level_takes_each_level_and_defaults_to_info(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(s->cfg.log_level, LOG_LVL_INFO);
	assert_int_equal(load(s, "[daemon]\nlog_level = debug\n"), 0);
	assert_int_equal(s->cfg.log_level, LOG_LVL_DEBUG);
	assert_int_equal(load(s, "[daemon]\nlog_level = warning\n"), 0);
	assert_int_equal(s->cfg.log_level, LOG_LVL_WARN);
	assert_int_equal(load(s, "[daemon]\nlog_level = warn\n"), 0);
	assert_int_equal(s->cfg.log_level, LOG_LVL_WARN);
	assert_int_equal(load(s, "[daemon]\nlog_level = error\n"), 0);
	assert_int_equal(s->cfg.log_level, LOG_LVL_ERROR);
}

static void bad_log_level_is_refused(void **state)
{
	expect_refused(*state, "[daemon]\nlog_level = loud\n", 2,
	    "log_level = 'loud': expected debug, info, warning or error");
	expect_refused(*state, "[daemon]\nlog_level = INFO\n", 2, "log_level");
}

static void bad_backup_keeps_are_refused_naming_file_and_line(void **state)
{
	expect_refused(*state, "[backup]\ncompression = zstd\nkeep = 0\n", 3,
	    "keep = 0 is out of range (1 to 100000)");
	expect_refused(*state, "[backup]\nkeep = seven\n", 2, "keep = 'seven' is not a whole number");
	expect_refused(*state, "[backup]\nkeep_pre_restore = -1\n", 2,
	    "keep_pre_restore = -1 is out of range (0 to 1000)");
	expect_refused(*state, "[backup]\nkeep_pre_restore = 1d\n", 2,
	    "keep_pre_restore = '1d' is not a whole number");
}

static void socket_group_longer_than_63_bytes_is_refused(void **state)
{
	struct scratch *s = *state;
	char text[256];
	char name[65];

	memset(name, 'g', 63);
	name[63] = '\0';
	snprintf(text, sizeof text, "[daemon]\nsocket_group = %s\n", name);
	expect_refused(s, text, 2, "no such group");
	memset(name, 'g', 64);
	name[64] = '\0';
	snprintf(text, sizeof text, "[daemon]\nsocket_group = %s\n", name);
	expect_refused(s, text, 2, "socket_group is longer than 63 bytes");
}

static void a_group_that_does_not_exist_is_refused(void **state)
{
	expect_refused(*state, "[daemon]\nsocket_group = no-such-group-here\n", 2,
	    "socket_group = 'no-such-group-here': no such group");
	expect_refused(*state, "[publish]\n\ngroup = no-such-group-here\n", 3,
	    "group = 'no-such-group-here': no such group");
}

static void publish_dir_defaults_to_dir_publish(void **state)
{
	struct scratch *s = *state;
	char out[256];

	assert_int_equal(load(s, "[publish]\ngroup =\n"), 0);
	assert_int_equal(s->cfg.publish_gid, (gid_t)-1);
	assert_int_equal(config_publish_dir(&s->cfg, "/var/lib/depot", out, sizeof out), 0);
	assert_string_equal(out, "/var/lib/depot/publish");
	assert_int_equal(load(s, "[publish]\ndir = /srv/www/depot\n"), 0);
	assert_int_equal(config_publish_dir(&s->cfg, "/var/lib/depot", out, sizeof out), 0);
	assert_string_equal(out, "/srv/www/depot");
}

static void a_relative_publish_dir_is_refused(void **state)
{
	expect_refused(*state, "[publish]\ndir = www/depot\n", 2,
	    "dir = 'www/depot' is not an absolute path");
	expect_refused(*state, "[publish]\ndir = /srv/../var/lib/depot\n", 2,
	    "is not an absolute path without . or ..");
	expect_refused(*state, "[publish]\ndir = /srv/depot/..\n", 2, "not an absolute path");
}

static void line_without_equals_is_a_syntax_error(void **state)
{
	expect_refused(*state, "[daemon]\nworkers = 2\nworkers 3\n", 3, "syntax error");
}

static void unclosed_section_header_is_a_syntax_error(void **state)
{
	expect_refused(*state, "[daemon\nworkers = 2\n", 1, "syntax error");
}

/* The reason given is the one of the line named, not of a later bad line. */
static void first_bad_line_is_reported_with_its_own_reason(void **state)
{
	expect_refused(*state, "[daemon]\nbogus = 1\n[monitor]\nstall_after = 2 fortnights\n",
	    2, "unknown key 'bogus'");
}

static void syntax_error_is_not_reported_with_a_later_lines_reason(void **state)
{
	expect_refused(*state, "[daemon]\nthis line has no equals\nworkers = 1000\n",
	    2, "syntax error");
}

static void worker_timeout_not_longer_than_heartbeat_is_refused(void **state)
{
	struct scratch *s = *state;
	char prefix[160];

	snprintf(prefix, sizeof prefix, "%s:", s->path);
	assert_int_equal(load(s, "[monitor]\nheartbeat_interval = 5s\n"
	    "worker_timeout = 5s\n"), -1);
	assert_int_equal(strncmp(s->err, prefix, strlen(prefix)), 0);
	assert_non_null(strstr(s->err, "worker_timeout"));
	assert_non_null(strstr(s->err, "heartbeat_interval"));
	/* Shorter: refused too; a heartbeat raised alone past the default timeout also. */
	assert_int_equal(load(s, "[monitor]\nheartbeat_interval = 5s\n"
	    "worker_timeout = 4s\n"), -1);
	assert_int_equal(load(s, "[monitor]\nheartbeat_interval = 10s\n"), -1);
	assert_int_equal(load(s, "[monitor]\nheartbeat_interval = 5s\n"
	    "worker_timeout = 5001ms\n"), 0);
}

static void directory_as_config_path_is_an_error(void **state)
{
	struct scratch *s = *state;

	s->err[0] = '\0';
	assert_int_equal(config_load(s->dir, &s->cfg, s->err, sizeof s->err), -1);
	assert_non_null(strstr(s->err, s->dir));
}

static void duration_units_ms_s_m_h_d(void **state)
{
	(void)state;
	assert_int_equal(dur("1500ms"), 1500);
	assert_int_equal(dur("2s"), 2000);
	assert_int_equal(dur("3m"), 180000);
	assert_int_equal(dur("1h"), 3600000);
	assert_int_equal(dur("30d"), 30LL * 86400000);
	assert_int_equal(dur("0ms"), 0);
	assert_int_equal(dur("0d"), 0);
}

static void duration_bare_number_is_seconds(void **state)
{
	(void)state;
	assert_int_equal(dur("5"), 5000);
	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("1.5"), 1500);
}

static void duration_fractions_round_to_the_nearest_ms(void **state)
{
	(void)state;
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("0.5m"), 30000);
	assert_int_equal(dur("0.0004s"), 0);
	assert_int_equal(dur("0.0006s"), 1);
}

static void duration_allows_spaces_before_number_and_unit(void **state)
{
	(void)state;
	assert_int_equal(dur(" 2s"), 2000);
	assert_int_equal(dur("2 s"), 2000);
	assert_int_equal(dur("\t10ms"), 10);
}

static void duration_refuses_unknown_units_signs_and_garbage(void **state)
{
	(void)state;
	assert_int_equal(dur("2 fortnights"), -1);
	assert_int_equal(dur("2S"), -1);
	assert_int_equal(dur("2sec"), -1);
	assert_int_equal(dur("2w"), -1);
	assert_int_equal(dur("2KiB"), -1);
	assert_int_equal(dur("-1s"), -1);
	assert_int_equal(dur("-0"), -1);
	assert_int_equal(dur("+1s"), -1);
	assert_int_equal(dur(""), -1);
	assert_int_equal(dur("   "), -1);
	assert_int_equal(dur("s"), -1);
	assert_int_equal(dur("ms"), -1);
	assert_int_equal(dur("1s2"), -1);
}

static void duration_refuses_overflow_and_infinity(void **state)
{
	(void)state;
	assert_int_equal(dur("1e400"), -1);
	assert_int_equal(dur("inf"), -1);
	assert_int_equal(dur("infinity"), -1);
	assert_int_equal(dur("200000000d"), -1);
	assert_int_equal(dur("9000000000000000ms"), 9000000000000000LL);
	assert_int_equal(dur("9000000000000001ms"), -1);
}

static void duration_refuses_nan(void **state)
{
	(void)state;
	assert_int_equal(dur("nan"), -1);
	assert_int_equal(dur("NaN s"), -1);
}

static void duration_refuses_null(void **state)
{
	int64_t v = 7;

	(void)state;
	assert_int_equal(time_parse_duration(NULL, &v), -1);
	assert_int_equal(v, 7);
}

static void size_units_kib_mib_gib_and_bare_bytes(void **state)
{
	(void)state;
	assert_int_equal(size("100"), 100);
	assert_int_equal(size("100B"), 100);
	assert_int_equal(size("512KiB"), 512 * 1024);
	assert_int_equal(size("1MiB"), 1024 * 1024);
	assert_int_equal(size("2GiB"), 2LL * 1024 * 1024 * 1024);
	assert_int_equal(size("1.5KiB"), 1536);
	assert_int_equal(size("1 MiB"), 1024 * 1024);
	assert_int_equal(size("0"), 0);
}

static void size_refuses_decimal_units_lowercase_and_signs(void **state)
{
	(void)state;
	assert_int_equal(size("1MB"), -1);
	assert_int_equal(size("1KB"), -1);
	assert_int_equal(size("1mib"), -1);
	assert_int_equal(size("1TiB"), -1);
	assert_int_equal(size("1s"), -1);
	assert_int_equal(size("-1"), -1);
	assert_int_equal(size("+1KiB"), -1);
	assert_int_equal(size(""), -1);
	assert_int_equal(size("KiB"), -1);
	assert_int_equal(size("1e30GiB"), -1);
	assert_int_equal(size(NULL), -1);
}

static void rfc3339_of_zero_is_the_epoch(void **state)
{
	char buf[TIME_RFC3339_LEN];

	(void)state;
	time_format_rfc3339(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void rfc3339_renders_milliseconds_with_three_digits(void **state)
{
	char buf[TIME_RFC3339_LEN];

	(void)state;
	time_format_rfc3339(1, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.001Z");
	time_format_rfc3339(45, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.045Z");
	time_format_rfc3339(999, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.999Z");
	time_format_rfc3339(1000, buf);
	assert_string_equal(buf, "1970-01-01T00:00:01.000Z");
}

static void rfc3339_renders_dates_in_utc(void **state)
{
	char buf[TIME_RFC3339_LEN];

	(void)state;
	/* DESIGN's example time, 2026-11-24T20:01:02.345Z. */
	time_format_rfc3339(1795550462345LL, buf);
	assert_string_equal(buf, "2026-11-24T20:01:02.345Z");
	/* A leap day, and the last millisecond of a year. */
	time_format_rfc3339(951782400000LL, buf);
	assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
	time_format_rfc3339(1704067199999LL, buf);
	assert_string_equal(buf, "2023-12-31T23:59:59.999Z");
	time_format_rfc3339(253402300799999LL, buf);
	assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
	assert_int_equal(strlen(buf), 24);
}

static void rfc3339_of_now_is_24_characters(void **state)
{
	char buf[TIME_RFC3339_LEN];
	int64_t now = time_now_ms();

	(void)state;
	assert_true(now > 1600000000000LL);
	time_format_rfc3339(now, buf);
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[23], 'Z');
}

/* Found by fuzz_request: "-3:0" was read as an offset and the parser stepped past the end. */
static void rfc3339_offset_is_exactly_two_and_two_digits(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(time_parse_rfc3339("2026-11-24T21:01:02.345+01:00", &ms), 0);
	assert_int_equal(ms, 1795550462345LL);
	assert_int_equal(time_parse_rfc3339("2026-11-24T19:31:02.345-00:30", &ms), 0);
	assert_int_equal(ms, 1795550462345LL);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02-3:0", &ms), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02+01:0", &ms), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02+0100", &ms), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02+ 1:00", &ms), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02+24:00", &ms), -1);
	assert_int_equal(time_parse_rfc3339("2026-11-24T20:01:02+", &ms), -1);
}

static void monotonic_clock_does_not_go_back(void **state)
{
	int64_t a = time_mono_ms(), b = time_mono_ms();

	(void)state;
	assert_true(b >= a);
}

static void format_duration_for_display(void **state)
{
	char buf[32];

	(void)state;
	time_format_duration(0, buf, sizeof buf);
	assert_string_equal(buf, "0.0s");
	time_format_duration(1500, buf, sizeof buf);
	assert_string_equal(buf, "1.5s");
	time_format_duration(-5, buf, sizeof buf);
	assert_string_equal(buf, "0.0s");
	time_format_duration(10000, buf, sizeof buf);
	assert_string_equal(buf, "10s");
	time_format_duration(61000, buf, sizeof buf);
	assert_string_equal(buf, "1m01s");
	time_format_duration(3660000, buf, sizeof buf);
	assert_string_equal(buf, "1h01m");
	time_format_duration(90000000, buf, sizeof buf);
	assert_string_equal(buf, "1d01h");
}

static void limits_keys_parse_and_refuse_out_of_range(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[limits]\nrestore_max_members = 10\nrestore_free_margin = 1GiB\n"), 0);
	assert_int_equal(s->cfg.restore_max_members, 10);
	assert_int_equal(s->cfg.restore_free_margin, 1LL << 30);
	expect_refused(s, "[limits]\nrestore_max_members = 0\n", 2, "out of range");
	expect_refused(s, "[limits]\nrestore_free_margin = lots\n", 2, "not a size");
	assert_int_equal(load(s, "[limits]\nparked_requests_per_peer = 3\n"), 0);
	assert_int_equal(s->cfg.parked_requests_per_peer, 3);
	expect_refused(s, "[limits]\nparked_requests_per_peer = 0\n", 2, "out of range");
}

static void metrics_listen_takes_host_port_only(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(load(s, "[metrics]\nlisten = 127.0.0.1:9469\n"), 0);
	assert_string_equal(s->cfg.metrics_listen, "127.0.0.1:9469");
	assert_int_equal(load(s, "[metrics]\nlisten = [::1]:9469\n"), 0);
	assert_string_equal(s->cfg.metrics_listen, "[::1]:9469");
	assert_int_equal(load(s, "[metrics]\nlisten = localhost:1\n"), 0);
	assert_int_equal(load(s, "[metrics]\nlisten =\n"), 0);
	assert_string_equal(s->cfg.metrics_listen, "");
	expect_refused(s, "[metrics]\nlisten = 127.0.0.1\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = :9469\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = 127.0.0.1:0\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = 127.0.0.1:65536\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = 127.0.0.1:80x\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = ::1:9469\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = [::1:9469\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = host/path:80\n", 2, "HOST:PORT");
	expect_refused(s, "[metrics]\nlisten = user@host:80\n", 2, "HOST:PORT");
}

/* A backup's depot.conf is checked from memory, with the name it is given standing for the file. */
static void config_parse_reads_text_held_in_memory(void **state)
{
	static const char bad[] = "[daemon]\nworkers = lots\n";
	static const char good[] = "[daemon]\nworkers = 5\n";
	struct depot_config cfg;
	char err[256] = "";

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_parse("depot.conf", good, strlen(good), &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.workers, 5);
	config_defaults(&cfg);
	assert_int_equal(config_parse("depot.conf", "", 0, &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(config_parse("depot.conf", bad, strlen(bad), &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "depot.conf:2: workers = 'lots'"));
	/* Only len bytes are read: what follows them, here a bad line, is not. */
	assert_int_equal(config_parse("depot.conf", "[daemon]\nworkers = 3\nJUNK", 21, &cfg, err,
	    sizeof err), 0);
	assert_int_equal(cfg.workers, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_design_section_4),
		cmocka_unit_test_setup_teardown(metrics_listen_takes_host_port_only, setup, teardown),
		cmocka_unit_test_setup_teardown(limits_keys_parse_and_refuse_out_of_range, setup, teardown),
		cmocka_unit_test(config_parse_reads_text_held_in_memory),
		cmocka_unit_test_setup_teardown(missing_file_is_not_an_error_and_keeps_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_file_keeps_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(full_file_with_every_key_and_inline_comments_parses, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_value_with_inline_comment_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_left_out_keep_their_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(durability_normal_and_compression_none_are_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(config_durations_take_every_unit_and_bare_seconds, setup, teardown),
		cmocka_unit_test_setup_teardown(config_range_limits_are_inclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_key_is_refused_with_file_line_and_key, setup, teardown),
		cmocka_unit_test_setup_teardown(key_in_the_wrong_section_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_section_is_refused_with_file_line_and_section, setup, teardown),
		cmocka_unit_test_setup_teardown(key_before_any_section_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_duration_is_refused_naming_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(negative_duration_is_refused_naming_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(negative_number_is_refused_naming_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(negative_size_is_refused_naming_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(workers_out_of_range_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(workers_that_is_not_a_whole_number_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(durations_out_of_range_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(sizes_out_of_range_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_size_unit_is_refused_naming_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_durability_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_compression_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(log_level_takes_each_level_and_defaults_to_info, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_log_level_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_backup_keeps_are_refused_naming_file_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(socket_group_longer_than_63_bytes_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_group_that_does_not_exist_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(publish_dir_defaults_to_dir_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(a_relative_publish_dir_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(line_without_equals_is_a_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(unclosed_section_header_is_a_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(first_bad_line_is_reported_with_its_own_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_error_is_not_reported_with_a_later_lines_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(worker_timeout_not_longer_than_heartbeat_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(directory_as_config_path_is_an_error, setup, teardown),
		cmocka_unit_test(duration_units_ms_s_m_h_d),
		cmocka_unit_test(duration_bare_number_is_seconds),
		cmocka_unit_test(duration_fractions_round_to_the_nearest_ms),
		cmocka_unit_test(duration_allows_spaces_before_number_and_unit),
		cmocka_unit_test(duration_refuses_unknown_units_signs_and_garbage),
		cmocka_unit_test(duration_refuses_overflow_and_infinity),
		cmocka_unit_test(duration_refuses_nan),
		cmocka_unit_test(duration_refuses_null),
		cmocka_unit_test(size_units_kib_mib_gib_and_bare_bytes),
		cmocka_unit_test(size_refuses_decimal_units_lowercase_and_signs),
		cmocka_unit_test(rfc3339_of_zero_is_the_epoch),
		cmocka_unit_test(rfc3339_renders_milliseconds_with_three_digits),
		cmocka_unit_test(rfc3339_renders_dates_in_utc),
		cmocka_unit_test(rfc3339_of_now_is_24_characters),
		cmocka_unit_test(rfc3339_offset_is_exactly_two_and_two_digits),
		cmocka_unit_test(monotonic_clock_does_not_go_back),
		cmocka_unit_test(format_duration_for_display),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
