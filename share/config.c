/* config.c: depot.conf (DESIGN §4), read with inih; every key optional. */
#include "config.h"
#include "envdeny.h"
#include "log.h"
#include "proto.h"
#include "timeutil.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct parse_state {
	struct depot_config *cfg;
	FILE *f;
	int lineno;		/* of the line inih last read */
	int reason_line;	/* of the first bad entry; 0 = none yet */
	int env_deny_seen;	/* env_deny was given: later lines add to it */
	char reason[256];
};

enum kind { K_INT, K_DURATION, K_SIZE, K_STRING, K_DURABILITY, K_COMPRESSION, K_GROUP, K_PATH, K_ENV_DENY, K_LISTEN,
	K_LOG_LEVEL };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t offset;
	/* Numbers, durations (ms) and sizes (bytes): bounds. Strings: max is the longest; K_GROUP's min is where its gid goes. */
	int64_t min, max;
};

#define OFF(f) offsetof(struct depot_config, f)
_Static_assert(sizeof ((struct depot_config *)0)->env_deny > ENV_DENY_MAX_BYTES,
    "env_deny holds what envdeny_check allows");
static const struct key keys[] = {
	{ "daemon", "workers", K_INT, OFF(workers), 0, 64 },
	{ "daemon", "socket_group", K_GROUP, OFF(socket_group), OFF(socket_gid), 63 },
	{ "daemon", "durability", K_DURABILITY, OFF(durability_full), 0, 0 },
	{ "daemon", "max_message", K_SIZE, OFF(max_message), 4096, 1LL << 30 },
	{ "daemon", "log_level", K_LOG_LEVEL, OFF(log_level), 0, 0 },
	{ "monitor", "heartbeat_interval", K_DURATION, OFF(heartbeat_interval_ms), 10, 3600000 },
	{ "monitor", "worker_timeout", K_DURATION, OFF(worker_timeout_ms), 50, 86400000 },
	{ "monitor", "check_interval", K_DURATION, OFF(check_interval_ms), 10, 3600000 },
	{ "monitor", "cancel_grace", K_DURATION, OFF(cancel_grace_ms), 0, 86400000 },
	{ "monitor", "stall_after", K_DURATION, OFF(stall_after_ms), 100, 30LL * 86400000 },
	{ "tasks", "keep_finished", K_DURATION, OFF(keep_finished_ms), 0, 3650LL * 86400000 },
	{ "tasks", "log_max", K_SIZE, OFF(log_max), 1024, 1LL << 40 },
	{ "tasks", "env_deny", K_ENV_DENY, OFF(env_deny), 0, 0 },
	{ "backup", "compression", K_COMPRESSION, OFF(compression), 0, 0 },
	{ "backup", "keep", K_INT, OFF(backup_keep), 1, 100000 },
	{ "backup", "keep_pre_restore", K_INT, OFF(keep_pre_restore), 0, 1000 },
	{ "publish", "dir", K_PATH, OFF(publish_dir), 0, sizeof ((struct depot_config *)0)->publish_dir - 1 },
	{ "publish", "group", K_GROUP, OFF(publish_group), OFF(publish_gid), 63 },
	{ "metrics", "listen", K_LISTEN, OFF(metrics_listen), 0, sizeof ((struct depot_config *)0)->metrics_listen - 1 },
	{ "limits", "restore_max_members", K_INT, OFF(restore_max_members), 1, 100000000 },
	{ "limits", "restore_free_margin", K_SIZE, OFF(restore_free_margin), 0, 1LL << 50 },
	{ "limits", "parked_requests_per_peer", K_INT, OFF(parked_requests_per_peer), 1, 4000 },
	{ "limits", "record_slice_rows", K_INT, OFF(record_slice_rows), 1, 1000000 },
};

/* The key table, read-only, for the test that every key is in depot.conf(5). */
size_t config_key_count(void)
{
	return sizeof keys / sizeof keys[0];
}

int config_key_at(size_t i, const char **section, const char **name)
{
	if (i >= sizeof keys / sizeof keys[0])
		return -1;
	*section = keys[i].section;
	*name = keys[i].name;
	return 0;
}

void config_defaults(struct depot_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->workers = 2;
	cfg->socket_gid = cfg->publish_gid = (gid_t)-1;
	cfg->max_message = 1024 * 1024;
	cfg->log_level = LOG_LVL_INFO;
	cfg->heartbeat_interval_ms = 2000;
	cfg->worker_timeout_ms = 10000;
	cfg->check_interval_ms = 1000;
	cfg->cancel_grace_ms = 10000;
	cfg->stall_after_ms = 60000;
	cfg->keep_finished_ms = 30LL * 86400000;
	cfg->log_max = 1024 * 1024;
	strcpy(cfg->env_deny, ENV_DENY_DEFAULT);
	strcpy(cfg->compression, "zstd");
	cfg->backup_keep = 7;
	cfg->keep_pre_restore = 1;
	cfg->restore_max_members = 2000000;
	cfg->restore_free_margin = 256LL * 1024 * 1024;
	cfg->parked_requests_per_peer = 64;
	cfg->record_slice_rows = 500;
}

static int set_number(struct parse_state *st, const struct key *k, int64_t v,
    const char *value)
{
	char *field = (char *)st->cfg + k->offset;

	if (v < k->min || v > k->max) {
		snprintf(st->reason, sizeof st->reason,
		    "%s = %s is out of range (%lld to %lld%s)", k->name, value,
		    (long long)k->min, (long long)k->max,
		    k->kind == K_DURATION ? " ms" : k->kind == K_SIZE ? " bytes" : "");
		return 0;
	}
	if (k->kind == K_INT)
		*(int *)field = (int)v;
	else
		*(int64_t *)field = v;
	return 1;
}

/* Whether this process may give its files to gid: chown to a group needs root or membership. */
static int group_usable(gid_t gid)
{
	gid_t groups[NGROUPS_MAX];
	int n = getgroups(NGROUPS_MAX, groups);

	if (geteuid() == 0 || getegid() == gid)
		return 1;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* A group depotd gives files or sockets to: it must exist, and depotd must be able to chown to it. */
static int set_group(struct parse_state *st, const struct key *k, const char *value)
{
	char *field = (char *)st->cfg + k->offset;
	gid_t *gid = (gid_t *)((char *)st->cfg + k->min);
	struct group *gr;

	if (strlen(value) > (size_t)k->max) {
		snprintf(st->reason, sizeof st->reason, "%s is longer than %lld bytes", k->name,
		    (long long)k->max);
		return 0;
	}
	if (*value == '\0') {
		field[0] = '\0';
		*gid = (gid_t)-1;
		return 1;
	}
	if ((gr = getgrnam(value)) == NULL) {
		snprintf(st->reason, sizeof st->reason, "%s = '%s': no such group", k->name, value);
		return 0;
	}
	if (!group_usable(gr->gr_gid)) {
		snprintf(st->reason, sizeof st->reason, "%s = '%s': depotd's user (uid %d) is not "
		    "in that group, so it cannot give files to it", k->name, value, (int)geteuid());
		return 0;
	}
	strcpy(field, value);
	*gid = gr->gr_gid;
	return 1;
}

/* An absolute directory, kept without its trailing slashes; empty means the default. */
static int set_path(struct parse_state *st, const struct key *k, const char *value)
{
	char *field = (char *)st->cfg + k->offset;
	size_t len = strlen(value);

	if (len > (size_t)k->max) {
		snprintf(st->reason, sizeof st->reason, "%s is longer than %lld bytes", k->name,
		    (long long)k->max);
		return 0;
	}
	if (len > 0 && (value[0] != '/' || strstr(value, "/../") || strstr(value, "/./") ||
	    (len >= 3 && strcmp(value + len - 3, "/..") == 0) ||
	    (len >= 2 && strcmp(value + len - 2, "/.") == 0))) {
		snprintf(st->reason, sizeof st->reason, "%s = '%s' is not an absolute path "
		    "without . or .. (depotd must not depend on its working directory)", k->name, value);
		return 0;
	}
	strcpy(field, value);
	while (len > 1 && field[len - 1] == '/')
		field[--len] = '\0';
	return 1;
}

/* HOST:PORT, HOST a name, an IPv4 address or a bracketed IPv6 one: what metrics.c hands nng as http://HOST:PORT. */
static int set_listen(struct parse_state *st, const struct key *k, const char *value)
{
	char *field = (char *)st->cfg + k->offset;
	const char *colon = strrchr(value, ':');
	char *end;
	long port = 0;
	int bad = 0;

	if (*value == '\0') {
		*field = '\0';
		return 1;
	}
	for (const char *p = value; *p != '\0'; p++)
		bad |= (unsigned char)*p <= 0x20 || *p == 0x7f || strchr("/?#@%\\", *p) != NULL;
	if (colon != NULL) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		bad |= errno != 0 || end == colon + 1 || *end != '\0';
	}
	if (bad || colon == NULL || colon == value || port < 1 || port > 65535 ||
	    strlen(value) > (size_t)k->max ||
	    (value[0] == '[') != (colon[-1] == ']') || (value[0] != '[' && memchr(value, ':',
	    (size_t)(colon - value)) != NULL)) {
		snprintf(st->reason, sizeof st->reason, "%s = '%s' is not HOST:PORT (as in "
		    "127.0.0.1:9469 or [::1]:9469; empty: off)", k->name, value);
		return 0;
	}
	strcpy(field, value);
	return 1;
}

/*
 * inih reads lines of at most 200 bytes: a long list goes on indented
 * continuation lines, which inih hands over as the same key again. So the
 * first env_deny of a file replaces the default and each later one adds
 * to it.
 */
static int set_env_deny(struct parse_state *st, char *field, const char *value)
{
	char list[ENV_DENY_MAX_BYTES + 2];
	int n = st->env_deny_seen ? snprintf(list, sizeof list, "%s %s", field, value) :
	    snprintf(list, sizeof list, "%s", value);

	if (n < 0 || (size_t)n >= sizeof list) {
		snprintf(st->reason, sizeof st->reason, "env_deny is longer than %d bytes",
		    ENV_DENY_MAX_BYTES);
		return 0;
	}
	if (envdeny_check(list, st->reason, sizeof st->reason) < 0)
		return 0;
	strcpy(field, list);
	st->env_deny_seen = 1;
	return 1;
}

static int apply(struct parse_state *st, const struct key *k, const char *value)
{
	char *field = (char *)st->cfg + k->offset;
	char *end;
	int64_t v;

	switch (k->kind) {
	case K_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0') {
			snprintf(st->reason, sizeof st->reason,
			    "%s = '%s' is not a whole number", k->name, value);
			return 0;
		}
		return set_number(st, k, v, value);
	case K_DURATION:
		if (time_parse_duration(value, &v) < 0) {
			snprintf(st->reason, sizeof st->reason,
			    "%s = '%s' is not a duration (use ms, s, m, h or d, as in 2s)",
			    k->name, value);
			return 0;
		}
		return set_number(st, k, v, value);
	case K_SIZE:
		if (time_parse_size(value, &v) < 0) {
			snprintf(st->reason, sizeof st->reason,
			    "%s = '%s' is not a size (use KiB, MiB or GiB, as in 1MiB)",
			    k->name, value);
			return 0;
		}
		return set_number(st, k, v, value);
	case K_STRING:
		if (strlen(value) > (size_t)k->max) {
			snprintf(st->reason, sizeof st->reason, "%s is longer than %lld bytes",
			    k->name, (long long)k->max);
			return 0;
		}
		strcpy(field, value);
		return 1;
	case K_GROUP:
		return set_group(st, k, value);
	case K_PATH:
		return set_path(st, k, value);
	case K_ENV_DENY:
		return set_env_deny(st, field, value);
	case K_LISTEN:
		return set_listen(st, k, value);
	case K_DURABILITY:
		if (strcmp(value, "normal") != 0 && strcmp(value, "full") != 0) {
			snprintf(st->reason, sizeof st->reason,
			    "durability = '%s': expected normal or full", value);
			return 0;
		}
		*(int *)field = strcmp(value, "full") == 0;
		return 1;
	case K_LOG_LEVEL: {
		enum log_level lvl;
		if (log_level_parse(value, &lvl) < 0) {
			snprintf(st->reason, sizeof st->reason,
			    "log_level = '%s': expected debug, info, warning or error", value);
			return 0;
		}
		*(int *)field = (int)lvl;
		return 1;
	}
	case K_COMPRESSION:
		if (strcmp(value, "zstd") != 0 && strcmp(value, "gzip") != 0 &&
		    strcmp(value, "none") != 0) {
			snprintf(st->reason, sizeof st->reason,
			    "compression = '%s': expected zstd, gzip or none", value);
			return 0;
		}
		strcpy(field, value);
		return 1;
	}
	return 0;
}

/*
 * [resources] names resources, so its keys are not known in advance. inih
 * splits a line at its first '=' or ':', so a name with ':' cannot be
 * given here (resource set can).
 */
static int set_resource(struct parse_state *st, const char *name, const char *value)
{
	struct depot_config *cfg = st->cfg;
	char *end;
	long v;
	int i, control = 0;

	errno = 0;
	v = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0' || errno != 0 || v < 1 || v > RESOURCE_CAPACITY_MAX) {
		snprintf(st->reason, sizeof st->reason, "[resources] %s = %s: a capacity "
		    "is a number of slots, 1 to %d", name, value, RESOURCE_CAPACITY_MAX);
		return 0;
	}
	for (const char *p = name; *p != '\0'; p++)
		control |= (unsigned char)*p < 0x20 || *p == 0x7f;
	if (*name == '\0' || control) {
		snprintf(st->reason, sizeof st->reason, "[resources]: a resource name is "
		    "1 to %zu bytes without control characters", sizeof cfg->resources[0].name - 1);
		return 0;
	}
	if (strlen(name) > sizeof cfg->resources[0].name - 1) {
		snprintf(st->reason, sizeof st->reason, "[resources]: a resource name is at "
		    "most %zu bytes", sizeof cfg->resources[0].name - 1);
		return 0;
	}
	for (i = 0; i < cfg->nresources && strcmp(cfg->resources[i].name, name) != 0; i++)
		;
	if (i == CONFIG_RESOURCES_MAX) {
		snprintf(st->reason, sizeof st->reason, "[resources]: at most %d resources",
		    CONFIG_RESOURCES_MAX);
		return 0;
	}
	snprintf(cfg->resources[i].name, sizeof cfg->resources[i].name, "%s", name);
	cfg->resources[i].capacity = (int)v;
	if (i == cfg->nresources)
		cfg->nresources++;
	return 1;
}

static int on_entry(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse_state *st = user;
	int section_known = 0;

	/* inih calls with name NULL at each new section when INI_CALL_HANDLER_ON_NEW_SECTION is set; not in Debian's build. */
	if (name == NULL)
		return 1;
	/* inih (Debian: no INI_STOP_ON_FIRST_ERROR) goes on after an error; keep the first. */
	if (st->reason_line != 0)
		return 0;
	st->reason_line = st->lineno;
	if (strcmp(section, "resources") == 0) {
		if (set_resource(st, name, value))
			st->reason_line = 0;
		return st->reason_line == 0;
	}
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		section_known = 1;
		if (strcmp(keys[i].name, name) == 0) {
			if (apply(st, &keys[i], value))
				st->reason_line = 0;
			return st->reason_line == 0;
		}
	}
	if (!section_known)
		snprintf(st->reason, sizeof st->reason, "unknown section [%s]", section);
	else
		snprintf(st->reason, sizeof st->reason, "unknown key '%s' in [%s]",
		    name, section);
	return 0;
}

static char *reader(char *buf, int n, void *user)
{
	struct parse_state *st = user;
	char *r = fgets(buf, n, st->f);

	if (r != NULL)
		st->lineno++;
	return r;
}

/* Reads f over cfg; name stands for the file in err. */
static int config_read(FILE *f, const char *name, struct depot_config *cfg, char *err,
    size_t errlen)
{
	struct parse_state st = { .cfg = cfg, .f = f };
	int line = ini_parse_stream(reader, &st, on_entry, &st);

	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", name, line,
		    st.reason_line == line ? st.reason :
		    "syntax error (expected [section] or key = value)");
		return -1;
	}
	if (cfg->worker_timeout_ms <= cfg->heartbeat_interval_ms) {
		snprintf(err, errlen,
		    "%s: worker_timeout must be longer than heartbeat_interval", name);
		return -1;
	}
	return 0;
}

int config_load(const char *path, struct depot_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int rc;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_read(f, path, cfg, err, errlen);
	fclose(f);
	return rc;
}

int config_parse(const char *name, const char *text, size_t len, struct depot_config *cfg,
    char *err, size_t errlen)
{
	FILE *f;
	int rc;

	if (len == 0)
		return 0;	/* fmemopen refuses an empty buffer; an empty file sets nothing */
	if ((f = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	rc = config_read(f, name, cfg, err, errlen);
	fclose(f);
	return rc;
}

int config_publish_dir(const struct depot_config *cfg, const char *dir, char *out, size_t n)
{
	int len = cfg->publish_dir[0] ? snprintf(out, n, "%s", cfg->publish_dir) :
	    snprintf(out, n, "%s/publish", dir);

	return len < 0 || (size_t)len >= n ? -1 : 0;
}
