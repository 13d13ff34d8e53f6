/* reload.c: SIGHUP — depot.conf read again and applied in the main loop, canceling nothing. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int reload_pending;
static int log_forced;			/* depotd -v: debug whatever log_level says */
static int64_t loaded_at;		/* wall ms of the settings in force */
static int64_t last_at;			/* wall ms of the last reload; 0: none yet */
static int last_ok;
static int applied;			/* new settings since reload_tick last said so */
static char last_error[1024];

void reload_init(int verbose)
{
	log_forced = verbose;
	loaded_at = time_now_ms();
}

/* From the signal handler's loop turn: the work waits for reload_tick, off the signal path. */
void reload_request(void)
{
	reload_pending = 1;
}

/*
 * Keys whose value is fixed while depotd runs: max_message sizes the
 * sockets' listeners, durability the database connections (also the
 * checkpoint thread's), [publish] dir the place publications and their
 * pre-restore copies live, [metrics] listen the HTTP server's address. A
 * change is said, and waits for a restart.
 */
static void keep_fixed(struct depot_config *cfg, const char *path)
{
	if (cfg->max_message != D->cfg.max_message) {
		log_warn("%s: [daemon] max_message changes only when depotd restarts; "
		    "keeping %lld bytes", path, (long long)D->cfg.max_message);
		cfg->max_message = D->cfg.max_message;
	}
	if (cfg->durability_full != D->cfg.durability_full) {
		log_warn("%s: [daemon] durability changes only when depotd restarts; keeping %s",
		    path, D->cfg.durability_full ? "full" : "normal");
		cfg->durability_full = D->cfg.durability_full;
	}
	if (strcmp(cfg->publish_dir, D->cfg.publish_dir) != 0) {
		log_warn("%s: [publish] dir changes only when depotd restarts; keeping %s",
		    path, D->publish_dir);
		memcpy(cfg->publish_dir, D->cfg.publish_dir, sizeof cfg->publish_dir);
	}
	/* Its HTTP server is started once, with the sockets. */
	if (strcmp(cfg->metrics_listen, D->cfg.metrics_listen) != 0) {
		log_warn("%s: [metrics] listen changes only when depotd restarts; keeping '%s'",
		    path, D->cfg.metrics_listen);
		memcpy(cfg->metrics_listen, D->cfg.metrics_listen, sizeof cfg->metrics_listen);
	}
}

/* The control and events sockets, run/ and DIR, as open_sockets and prepare_dir leave them. */
static void apply_socket_group(void)
{
	const char *shared[] = { DEPOT_CONTROL_SOCK, DEPOT_EVENTS_SOCK };
	mode_t sock_mode = D->have_socket_gid ? 0660 : 0600;
	char path[64], full[4200];
	int fd, dfd;

	/* A restore may have swapped another directory in since it was opened. */
	dfd = daemon_data()->fd;
	datadir_secure();
	if ((fd = fs_open_beneath(dfd, "run", O_RDONLY | O_DIRECTORY, 0)) >= 0) {
		paths_join(full, sizeof full, D->dir, "run");
		datadir_set_mode(fd, full, D->have_socket_gid ? 0710 : 0700,
		    D->have_socket_gid ? D->socket_gid : (gid_t)-1);
		close(fd);
	}
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
		snprintf(path, sizeof path, "run/%s", shared[i]);
		if ((D->have_socket_gid && fchownat(dfd, path, (uid_t)-1, D->socket_gid,
		    AT_SYMLINK_NOFOLLOW) < 0) || fchmodat(dfd, path, sock_mode, 0) < 0)
			log_warn("%s/%s: applying socket_group: %m", D->dir, path);
	}
}

/* The publish directory's group and modes, as at start (prepare_dir); publications keep theirs until published again. */
static void apply_publish_group(void)
{
	char err[1024];
	struct pub_modes pm;
	struct fs_root pub;

	publish_modes(D->cfg.publish_gid, &pm);
	if (publish_root_open(&pub, daemon_data(), D->publish_dir, &pm, err, sizeof err) < 0)
		log_warn("%s", err);
	else
		fs_root_close(&pub);
}

static void reload_run(void)
{
	struct depot_config cfg, old;
	char path[4200], err[1024];

	paths_join(path, sizeof path, D->dir, "depot.conf");
	config_defaults(&cfg);
	last_at = time_now_ms();
	/* systemd shows the unit reloading until READY=1 again, whatever the outcome. */
	notify_reloading();
	/* A bad file changes nothing: every check is config_load's, before anything is applied. */
	if (config_load(path, &cfg, err, sizeof err) < 0) {
		last_ok = 0;
		snprintf(last_error, sizeof last_error, "%s", err);
		log_error("reload refused: %s; the settings loaded before stay", err);
		notify_ready();
		return;
	}
	keep_fixed(&cfg, path);
	old = D->cfg;
	D->cfg = cfg;
	/* validate.c reads env_deny once, at this call: the text just changed. */
	validate_set_env_deny(D->cfg.env_deny);
	if (!log_forced)
		log_set_level((enum log_level)D->cfg.log_level);
	server_set_park_cap(D->control, D->cfg.parked_requests_per_peer);
	if (strcmp(old.socket_group, cfg.socket_group) != 0) {
		D->have_socket_gid = cfg.socket_group[0] != '\0';
		D->socket_gid = cfg.socket_gid;
		apply_socket_group();
	}
	if (strcmp(old.publish_group, cfg.publish_group) != 0)
		apply_publish_group();
	if (queue_config_reapply(&old, err, sizeof err) < 0)
		log_warn("reload: %s", err);
	if (D->cfg.workers != old.workers)
		supervisor_resize(D->cfg.workers);
	last_ok = applied = 1;
	last_error[0] = '\0';
	loaded_at = last_at;
	log_info("reloaded %s: workers %d, heartbeat_interval %lld ms, log_level %s", path,
	    D->cfg.workers, (long long)D->cfg.heartbeat_interval_ms,
	    log_level_name(log_forced ? LOG_LVL_DEBUG : (enum log_level)D->cfg.log_level));
	notify_ready();
}

int reload_tick(void)
{
	int r;

	/* Signals that came while stopping are moot: nothing new starts then. */
	if (reload_pending && !D->stopping) {
		reload_pending = 0;
		reload_run();
	}
	r = applied;
	applied = 0;
	return r;
}

/* depotctl reload: the same reload, now, answered with its outcome (control refuses it while stopping). */
void cmd_config_reload(struct conn *conn, struct request *rq)
{
	(void)rq;
	reload_pending = 0;
	reload_run();
	if (last_ok)
		server_reply_ok(conn, reload_status_json());
	else
		server_reply_err(conn, ERR_BAD_REQUEST, "%s; the settings loaded before stay",
		    last_error);
}

const char *reload_refused(void)
{
	return last_at != 0 && !last_ok ? last_error : NULL;
}

cJSON *reload_status_json(void)
{
	cJSON *o = cJSON_CreateObject(), *r;
	char path[4200];

	paths_join(path, sizeof path, D->dir, "depot.conf");
	cJSON_AddStringToObject(o, "path", path);
	json_add_time(o, "loaded_at", loaded_at);
	cJSON_AddNumberToObject(o, "workers", D->cfg.workers);
	cJSON_AddStringToObject(o, "log_level",
	    log_level_name(log_forced ? LOG_LVL_DEBUG : (enum log_level)D->cfg.log_level));
	if (last_at == 0) {
		cJSON_AddNullToObject(o, "last_reload");
		return o;
	}
	r = cJSON_AddObjectToObject(o, "last_reload");
	json_add_time(r, "at", last_at);
	cJSON_AddBoolToObject(r, "ok", last_ok);
	if (last_ok)
		cJSON_AddNullToObject(r, "error");
	else
		cJSON_AddStringToObject(r, "error", last_error);
	return o;
}
