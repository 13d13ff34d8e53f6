#!/usr/bin/env bats
# Issue 9: secrets at rest and least privilege. depot.db holds the
# importers' proxy_password and ssl_client_key, task logs hold what
# commands print: nothing in the data directory is readable by another
# user, with or without socket_group (whose members only pass through to
# run/). Publications are what is meant to be read, from [publish] dir,
# world-readable or by [publish] group only. Judged from outside the daemon:
# stat, and another uid (nobody) trying to read.

load helpers
load repo_helpers

setup_file() {
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"
	[ "$(id -u)" -eq 0 ] || skip "switching users and making groups needs root"
	export TEST_GROUP=dpe2e$$
	groupadd "$TEST_GROUP"
}

teardown_file() {
	[ -z "${TEST_GROUP:-}" ] || groupdel "$TEST_GROUP" 2>/dev/null || true
}

test_gid() {
	getent group "$TEST_GROUP" | cut -d: -f3
}

# as_nobody CMD...: CMD as nobody, in no group of ours.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# as_member CMD...: CMD as nobody in the test group (its primary group: the
# daemon sees a peer's uid and gid only).
as_member() {
	setpriv --reuid=65534 --regid="$(test_gid)" --clear-groups "$@"
}

# readable_by RUNNER: what under $DIR the user RUNNER runs as can read (list a
# directory, read a byte of a file), one a line. Publications are meant to be
# read, and depotd.log is the test's own capture of the daemon's stderr.
readable_by() {
	local f
	find "$DIR" -mindepth 1 \( -path "$DIR/publish" -o -path "$DIR/depotd.log" \) -prune -o -print |
		while IFS= read -r f; do
			if [ -d "$f" ] && [ ! -L "$f" ]; then
				"$1" ls "$f" >/dev/null 2>&1 && echo "$f"
			elif [ -f "$f" ]; then
				"$1" head -c1 "$f" >/dev/null 2>&1 && echo "$f"
			fi
		done
	return 0
}

# with_secrets: a repository whose importer holds a password and a key, a
# task whose log holds a secret, a backup; every kind of file depot keeps.
with_secrets() {
	mkdir -p "$WORK/feed"
	printf 'public\n' >"$WORK/feed/a.txt"
	make_feed "$WORK/feed"
	printf -- '-----BEGIN PRIVATE KEY-----\nS3CRET-KEY\n-----END PRIVATE KEY-----\n' >"$WORK/key.pem"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST" \
		--proxy-password S3CRET-PASSWORD --ssl-client-key "$WORK/key.pem"
	run ctl run --wait -- echo S3CRET-OUTPUT
	[ "$status" -eq 0 ]
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	run ctl backup --wait
	[ "$status" -eq 0 ]
	[ -n "$(ls "$DIR/backups")" ]
}

# no_secret_for RUNNER: RUNNER reads nothing under $DIR and finds no secret there.
no_secret_for() {
	local readable
	readable=$(readable_by "$1")
	[ -z "$readable" ] || { echo "readable by another user: $readable" >&2; return 1; }
	# grep lists on stdout the files where it found a secret; what it may not open goes to stderr.
	run --separate-stderr "$1" grep -rl S3CRET "$DIR"
	[ -z "$output" ] || { echo "secret found in: $output" >&2; return 1; }
}

# outside_pub: $PUB, a publish directory outside the data directory that
# another user can reach ($WORK is passed through, not listed).
outside_pub() {
	chmod 711 "$WORK"
	PUB=$WORK/pub
}

@test "depot.db, its -wal and -shm are 0600; the data directory, tmp/, logs/ and each log are the daemon's user's alone" {
	depot_start
	with_secrets

	[ "$(stat -c %a "$DIR/depot.db")" = 600 ]
	[ "$(stat -c %a "$DIR/depot.db-wal")" = 600 ]
	[ "$(stat -c %a "$DIR/depot.db-shm")" = 600 ]
	[ "$(stat -c %a "$DIR/depot.conf")" = 600 ]
	[ "$(stat -c %a "$DIR")" = 700 ]
	[ "$(stat -c %a "$DIR/tmp")" = 700 ]
	[ "$(stat -c %a "$DIR/logs")" = 700 ]
	[ "$(stat -c %a "$DIR/run")" = 700 ]
	[ -n "$(ls "$DIR/logs")" ]
	for f in "$DIR"/logs/*.log; do
		[ "$(stat -c %a "$f")" = 600 ]
	done
	# Content is hard-linked into publications, so it keeps their mode; its directories are private.
	[ "$(stat -c %a "$DIR/content")" = 700 ]
	[ "$(stat -c %a "$(content_path "$(sha_of "$WORK/feed/a.txt")")")" = 644 ]
}

@test "a data directory left open by an older depotd is narrowed at start, never widened" {
	depot_start
	depot_terminate
	chmod 755 "$DIR" "$DIR/logs" "$DIR/tmp"
	chmod 644 "$DIR/depot.db"
	printf 'older\n' >"$DIR/logs/9.log"
	chmod 644 "$DIR/logs/9.log"

	depot_launch

	[ "$(stat -c %a "$DIR")" = 700 ]
	[ "$(stat -c %a "$DIR/logs")" = 700 ]
	[ "$(stat -c %a "$DIR/tmp")" = 700 ]
	[ "$(stat -c %a "$DIR/depot.db")" = 600 ]
	[ "$(stat -c %a "$DIR/depot.db-wal")" = 600 ]
	run as_nobody cat "$DIR/logs/9.log"
	[ "$status" -ne 0 ]
}

@test "another user reads no secret in the data directory: not the database, depot.conf, logs, tmp/ or backups" {
	depot_start
	with_secrets

	no_secret_for as_nobody
	# Nor can it use the daemon.
	run as_nobody "$DEPOT_BIN/depotctl" -d "$DIR" ping
	[ "$status" -eq 3 ]
}

@test "with socket_group, members reach the control socket through DIR 0710 and run/ 0710, and read no secret" {
	depot_start "daemon.socket_group = $TEST_GROUP"
	with_secrets

	[ "$(stat -c '%a %G' "$DIR")" = "710 $TEST_GROUP" ]
	[ "$(stat -c '%a %G' "$DIR/run")" = "710 $TEST_GROUP" ]
	[ "$(stat -c '%a %G' "$DIR/run/control.sock")" = "660 $TEST_GROUP" ]
	[ "$(stat -c '%a %G' "$DIR/run/events.sock")" = "660 $TEST_GROUP" ]
	[ "$(stat -c %a "$DIR/run/worker.sock")" = 600 ]
	run as_member "$DEPOT_BIN/depotctl" -d "$DIR" ping
	[ "$status" -eq 0 ]
	run as_member "$DEPOT_BIN/depotctl" -d "$DIR" --json repo show r1
	[ "$status" -eq 0 ]
	[[ $output != *S3CRET* ]]

	no_secret_for as_member
	no_secret_for as_nobody
	run as_nobody "$DEPOT_BIN/depotctl" -d "$DIR" ping
	[ "$status" -eq 3 ]
}

@test "publications are 0644 and 0755 without [publish] group" {
	outside_pub
	depot_start "publish.dir = $PUB"
	with_secrets

	[ "$(stat -c %a "$PUB")" = 755 ]
	[ "$(stat -c %a "$PUB/r1")" = 755 ]
	[ "$(stat -c %a "$PUB/r1/versions")" = 755 ]
	[ "$(stat -c %a "$PUB/r1/versions/1")" = 755 ]
	[ "$(stat -c %a "$PUB/r1/versions/1/a.txt")" = 644 ]
	[ "$(stat -c %a "$PUB/r1/versions/1/PULP_MANIFEST")" = 644 ]
	[ "$(jq -r .result.path <<<"$TASK")" = "$PUB/r1/versions/1" ]
	run as_nobody cat "$PUB/r1/current/a.txt"
	[ "$status" -eq 0 ]
	[ "$output" = public ]
	no_secret_for as_nobody
}

@test "with [publish] dir outside and [publish] group, only the group reads publications, and still nothing in the data directory" {
	outside_pub
	depot_start "publish.dir = $PUB" "publish.group = $TEST_GROUP"
	with_secrets

	for d in "$PUB" "$PUB/r1" "$PUB/r1/versions" "$PUB/r1/versions/1"; do
		[ "$(stat -c '%a %G' "$d")" = "750 $TEST_GROUP" ]
	done
	[ "$(stat -c '%a %G' "$PUB/r1/versions/1/a.txt")" = "640 $TEST_GROUP" ]
	[ "$(stat -c '%a %G' "$PUB/r1/versions/1/PULP_MANIFEST")" = "640 $TEST_GROUP" ]
	# Published from the store by a hard link, not a copy.
	[ "$(stat -c %i "$PUB/r1/versions/1/a.txt")" = "$(stat -c %i "$(content_path "$(sha_of "$WORK/feed/a.txt")")")" ]
	run as_member cat "$PUB/r1/current/a.txt"
	[ "$status" -eq 0 ]
	[ "$output" = public ]
	run as_member cat "$PUB/r1/current/PULP_MANIFEST"
	[ "$status" -eq 0 ]
	run as_nobody cat "$PUB/r1/current/a.txt"
	[ "$status" -ne 0 ]
	# The web server's group needs the publish dir only: nothing in the data directory opens to it.
	[ "$(stat -c %a "$DIR")" = 700 ]
	no_secret_for as_member
	# A publication of the outside dir is still a feed for another depot.
	second_depot
	ctl repo create copy --feed "file://$PUB/r1/current/PULP_MANIFEST"
	sync_wait copy
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	use_depot 1
}

@test "a [publish] group that does not exist, or a relative [publish] dir, stops start-up with depot.conf:LINE" {
	depot_init "publish.group = no-such-group-dpe2e"
	line=$(grep -n no-such-group "$DIR/depot.conf" | cut -d: -f1)
	run timeout 20 "$DEPOT_BIN/depotd" -d "$DIR"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"depot.conf:$line: group = 'no-such-group-dpe2e': no such group"* ]]

	DEPOT_CONF=("${DEPOT_DEFAULT_CONF[@]}" "publish.dir = www/depot")
	depot_write_conf
	line=$(grep -n www/depot "$DIR/depot.conf" | cut -d: -f1)
	run timeout 20 "$DEPOT_BIN/depotd" -d "$DIR"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"depot.conf:$line: dir = 'www/depot' is not an absolute path"* ]]
}

@test "exec tasks' commands create files with the umask depotd was started with, not its own 077" {
	umask 0027
	depot_start
	umask 0022
	submit -- sh -c umask
	task_final "$ID"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(ctl task log "$ID")" = 0027 ]
	# depotd's own files stay private all the same.
	[ "$(stat -c %a "$DIR"/logs/*.log)" = 600 ]
}
