#!/usr/bin/env bats
# DESIGN §8, §11 and doc/protocol.md (repo.*): repositories are created,
# changed, listed, shown and deleted with depotctl; names and importer keys
# are checked; PEM options read a file and the daemon keeps its text;
# secrets are read from files or standard input, never from the command
# line ps shows, and never leave the daemon; a repository with an
# unfinished task is not deleted.

load helpers
load repo_helpers

# A PEM-looking file with a marker line no other text in the test has.
make_pem() {
	local file=$1 kind=$2 marker=$3
	{
		echo "-----BEGIN $kind-----"
		echo "$marker"
		head -c 300 /dev/urandom | base64 -w 64
		echo "-----END $kind-----"
	} >"$file"
}

@test "repo create, update, list, show and delete a repository" {
	depot_start

	run ctl repo create fedora-39_x86.64 --feed http://127.0.0.1:9/fedora/PULP_MANIFEST
	[ "$status" -eq 0 ]
	[ "$output" = "created fedora-39_x86.64" ]
	run ctl repo create other --feed file:///srv/feed/PULP_MANIFEST --mirror false
	[ "$status" -eq 0 ]

	run ctl --json repo show fedora-39_x86.64
	[ "$status" -eq 0 ]
	[ "$(jq -r .name <<<"$output")" = fedora-39_x86.64 ]
	[ "$(jq -r .importer.feed <<<"$output")" = http://127.0.0.1:9/fedora/PULP_MANIFEST ]
	[ "$(jq -r .latest_version <<<"$output")" = null ]
	[ "$(jq -r .files <<<"$output")" = 0 ]
	[ "$(jq -r '.versions | length' <<<"$output")" = 0 ]
	[ "$(jq -r .created_at <<<"$output")" != null ]

	run ctl repo update fedora-39_x86.64 --download-concurrency 3 --mirror no --max-speed 2MiB
	[ "$status" -eq 0 ]
	[ "$output" = "updated fedora-39_x86.64" ]
	run ctl --json repo show fedora-39_x86.64
	[ "$(jq -r .importer.feed <<<"$output")" = http://127.0.0.1:9/fedora/PULP_MANIFEST ]
	[ "$(jq -r .importer.download_concurrency <<<"$output")" = 3 ]
	[ "$(jq -r .importer.mirror <<<"$output")" = false ]
	[ "$(jq -r .importer.max_speed <<<"$output")" = 2097152 ]

	# An empty value removes the setting.
	run ctl repo update fedora-39_x86.64 --max-speed ''
	[ "$status" -eq 0 ]
	run ctl --json repo show fedora-39_x86.64
	[ "$(jq -r '.importer | has("max_speed")' <<<"$output")" = false ]
	[ "$(jq -r .importer.download_concurrency <<<"$output")" = 3 ]

	run ctl repo show fedora-39_x86.64
	[ "$status" -eq 0 ]
	[[ $output == *fedora-39_x86.64* ]]
	[[ $output == *http://127.0.0.1:9/fedora/PULP_MANIFEST* ]]

	run ctl --json repo list
	[ "$status" -eq 0 ]
	[ "$(jq -r '[.[].name] | sort | join(" ")' <<<"$output")" = "fedora-39_x86.64 other" ]
	[ "$(jq -r '[.[] | has("versions")] | any' <<<"$output")" = false ]
	[ "$(jq -r '.[] | select(.name == "other") | .importer.mirror' <<<"$output")" = false ]
	run ctl repo list
	[ "$status" -eq 0 ]
	[[ $output == *fedora-39_x86.64* ]]
	[[ $output == *other* ]]

	# A second create of the same name is refused.
	run ctl repo create other
	[ "$status" -eq 1 ]
	[[ $output == *other* ]]

	run ctl repo delete fedora-39_x86.64
	[ "$status" -eq 0 ]
	[ "$output" = "deleted fedora-39_x86.64" ]
	run ctl repo show fedora-39_x86.64
	[ "$status" -eq 6 ]
	[[ $output == *fedora-39_x86.64* ]]
	[[ $output == *not_found* || $output == *"no repository"* ]]
	run ctl --json repo list
	[ "$(jq -r '[.[].name] | join(" ")' <<<"$output")" = other ]
	run ctl repo delete fedora-39_x86.64
	[ "$status" -eq 6 ]
	run ctl repo update nosuch --mirror true
	[ "$status" -eq 6 ]
	[[ $output == *nosuch* ]]
}

@test "repository names outside [A-Za-z0-9._-]{1,64} are refused, naming the name" {
	depot_start
	long=$(printf 'a%.0s' {1..65})

	for bad in 'bad/name' 'sp ace' 'semi;colon' 'naïve' "$long" '*'; do
		run ctl repo create "$bad" --feed file:///x/PULP_MANIFEST
		echo "create '$bad': status $status: $output"
		[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
		[[ $output == *"${bad:0:20}"* ]]
	done
	run ctl repo create '' --feed file:///x/PULP_MANIFEST
	[ "$status" -eq 1 ] || [ "$status" -eq 2 ]
	[ -n "$output" ]

	# The daemon checks too, whatever the client.
	run bash -c "printf '%s' '{\"cmd\": \"repo.create\", \"args\": {\"name\": \"../etc\"}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$status" -eq 0 ]
	[ "$(jq -r .ok <<<"$output")" = false ]
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	run bash -c "printf '%s' '{\"cmd\": \"repo.create\", \"args\": {\"name\": \"$long\"}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]

	# A name of exactly 64 characters is fine.
	run ctl repo create "${long:1}"
	[ "$status" -eq 0 ]
	run ctl --json repo list
	[ "$(jq -r 'length' <<<"$output")" = 1 ]
}

@test "an unknown importer key is refused, by depotctl and by the daemon" {
	depot_start

	run ctl repo create r1 --feed file:///x/PULP_MANIFEST --colour blue
	[ "$status" -eq 2 ]
	[[ $output == *colour* ]]
	run ctl repo show r1
	[ "$status" -eq 6 ]

	run bash -c "printf '%s' '{\"cmd\": \"repo.create\", \"args\": {\"name\": \"r1\", \"importer\": {\"colour\": \"blue\"}}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	[[ $(jq -r .error.message <<<"$output") == *colour* ]]
	run ctl repo show r1
	[ "$status" -eq 6 ]

	ctl repo create r1 --feed file:///x/PULP_MANIFEST
	run ctl repo update r1 --colour red
	[ "$status" -eq 2 ]
	[[ $output == *colour* ]]
	# Bad values are refused too, naming the key.
	run ctl repo update r1 --proxy-port 70000
	[ "$status" -eq 2 ]
	[[ $output == *proxy-port* || $output == *proxy_port* ]]
	run ctl repo update r1 --mirror maybe
	[ "$status" -eq 2 ]
	[[ $output == *mirror* ]]
	run bash -c "printf '%s' '{\"cmd\": \"repo.update\", \"args\": {\"name\": \"r1\", \"importer\": {\"download_concurrency\": 0}}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	[[ $(jq -r .error.message <<<"$output") == *download_concurrency* ]]
	run ctl --json repo show r1
	[ "$(jq -r '.importer | keys | join(" ")' <<<"$output")" = feed ]
}

@test "importer keys are taken with dashes or underscores" {
	depot_start

	run ctl repo create r1 --feed file:///x/PULP_MANIFEST --proxy-url http://127.0.0.1 --proxy-port 3128
	[ "$status" -eq 0 ]
	run ctl repo create r2 --feed file:///x/PULP_MANIFEST --proxy_url http://127.0.0.1 --proxy_port 3129 \
		--download_concurrency 2 --ssl_validation false
	[ "$status" -eq 0 ]

	run ctl --json repo show r1
	[ "$(jq -r .importer.proxy_url <<<"$output")" = http://127.0.0.1 ]
	[ "$(jq -r .importer.proxy_port <<<"$output")" = 3128 ]
	run ctl --json repo show r2
	[ "$(jq -r .importer.proxy_url <<<"$output")" = http://127.0.0.1 ]
	[ "$(jq -r .importer.proxy_port <<<"$output")" = 3129 ]
	[ "$(jq -r .importer.download_concurrency <<<"$output")" = 2 ]
	[ "$(jq -r .importer.ssl_validation <<<"$output")" = false ]

	run ctl repo update r2 --proxy-url https://proxy.example
	[ "$status" -eq 0 ]
	run ctl repo update r1 --proxy_url https://proxy2.example
	[ "$status" -eq 0 ]
	[ "$(repo_json r2 | jq -r .importer.proxy_url)" = https://proxy.example ]
	[ "$(repo_json r1 | jq -r .importer.proxy_url)" = https://proxy2.example ]
}

@test "PEM options take a file path and the daemon stores the file's text" {
	depot_start
	make_pem "$WORK/ca.pem" CERTIFICATE ca-marker-7c1
	make_pem "$WORK/crl.pem" "X509 CRL" crl-marker-7c2
	make_pem "$WORK/client.pem" CERTIFICATE client-marker-7c3

	run ctl repo create r1 --feed https://127.0.0.1:9/PULP_MANIFEST --ssl-ca-cert "$WORK/ca.pem" \
		--ssl-crl "$WORK/crl.pem" --ssl_client_cert "$WORK/client.pem"
	[ "$status" -eq 0 ]

	# Shown as "PEM, N bytes", N the file's size.
	run ctl --json repo show r1
	[ "$(jq -r .importer.ssl_ca_cert <<<"$output")" = "PEM, $(stat -c %s "$WORK/ca.pem") bytes" ]
	[ "$(jq -r .importer.ssl_crl <<<"$output")" = "PEM, $(stat -c %s "$WORK/crl.pem") bytes" ]
	[ "$(jq -r .importer.ssl_client_cert <<<"$output")" = "PEM, $(stat -c %s "$WORK/client.pem") bytes" ]
	[[ $output != *ca-marker-7c1* ]]

	# The database holds the text, not the path (the file may go away).
	stored=$(sqlite3 -readonly "$DIR/depot.db" \
		"SELECT json_extract(importer, '\$.ssl_ca_cert') FROM repositories WHERE name = 'r1'")
	[ "$stored" = "$(cat "$WORK/ca.pem")" ]
	stored=$(sqlite3 -readonly "$DIR/depot.db" \
		"SELECT json_extract(importer, '\$.ssl_crl') FROM repositories WHERE name = 'r1'")
	[ "$stored" = "$(cat "$WORK/crl.pem")" ]
	[[ $stored != *"$WORK"* ]]

	# A missing file or one that is not PEM is refused, naming the file.
	run ctl repo update r1 --ssl-ca-cert "$WORK/nosuch.pem"
	[ "$status" -eq 2 ]
	[[ $output == *"$WORK/nosuch.pem"* ]]
	head -c 100 /dev/urandom | base64 >"$WORK/junk.txt"
	run ctl repo update r1 --ssl-crl "$WORK/junk.txt"
	[ "$status" -eq 2 ]
	[[ $output == *"$WORK/junk.txt"* ]]
	run ctl --json repo show r1
	[ "$(jq -r .importer.ssl_crl <<<"$output")" = "PEM, $(stat -c %s "$WORK/crl.pem") bytes" ]
}

# stored_setting REPO KEY: the importer setting KEY of REPO as the database holds it.
stored_setting() {
	sqlite3 -readonly "$DIR/depot.db" \
		"SELECT json_extract(importer, '\$.$2') FROM repositories WHERE name = '$1'"
}

# ctl_waits_on PID: depotctl (not yet the shell that starts it) is PID.
ctl_waits_on() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- 'depotctl.* repo '
}

@test "secrets come from --proxy-password-file, @FILE or standard input, and stand on no command line" {
	depot_start
	secret=Pw-$RANDOM$RANDOM-s3cret
	# Only the first line counts, however long the rest.
	{ printf '%s\n' "$secret"; head -c 9000 /dev/zero | tr '\0' x; } >"$WORK/pw"
	make_pem "$WORK/client.key" "PRIVATE KEY" key-marker-1
	ctl repo create r1 --feed file:///nonexistent/PULP_MANIFEST \
		--proxy-password-file "$WORK/pw" --ssl-client-key "@$WORK/client.key"
	[ "$(stored_setting r1 proxy_password)" = "$secret" ]
	[ "$(stored_setting r1 ssl_client_key)" = "$(cat "$WORK/client.key")" ]
	[ "$(ctl --json repo show r1 | jq -r .importer.proxy_password)" = "********" ]
	ctl repo show r1 | grep -E '^ +proxy_password +\*{8}$'
	ctl repo show r1 | grep -E '^ +ssl_client_key +\*{8}$'

	# A Windows line end goes too; standard input is "-".
	printf 'crlf-%s\r\n' "$secret" >"$WORK/pw-crlf"
	ctl repo update r1 --proxy_password_file "$WORK/pw-crlf"
	[ "$(stored_setting r1 proxy_password)" = "crlf-$secret" ]
	ctl repo update r1 --proxy-password-file - <<<"stdin-$secret"
	[ "$(stored_setting r1 proxy_password)" = "stdin-$secret" ]
	make_pem "$WORK/ca.pem" CERTIFICATE ca-marker-2
	ctl repo update r1 --ssl-ca-cert - <"$WORK/ca.pem"
	[ "$(stored_setting r1 ssl_ca_cert)" = "$(cat "$WORK/ca.pem")" ]

	# While depotctl waits for them, its command line names only "-" and
	# the file: the password on a fifo it reads as standard input, the key
	# in a fifo it opens as @FILE.
	mkfifo "$WORK/pw.fifo" "$WORK/key.fifo"
	make_pem "$WORK/client2.key" "PRIVATE KEY" key-marker-3
	# Not through ctl: a function would leave a shell, not depotctl, as $!.
	"$DEPOT_BIN/depotctl" -d "$DIR" repo update r1 --proxy-password-file - \
		--ssl-client-key "@$WORK/key.fifo" <"$WORK/pw.fifo" >"$WORK/update.out" 2>&1 &
	pid=$!
	exec 8>"$WORK/pw.fifo"
	wait_for ctl_waits_on "$pid"
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	echo "cmdline: $cmdline"
	[[ $cmdline == *"--proxy-password-file - --ssl-client-key @$WORK/key.fifo"* ]]
	printf 'fifo-%s\n' "$secret" >&8
	exec 8>&-
	exec 7>"$WORK/key.fifo"
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	ps_line=$(ps -ww -o args= -p "$pid")
	cat "$WORK/client2.key" >&7
	exec 7>&-
	wait "$pid"
	cat "$WORK/update.out"
	[[ $cmdline != *"$secret"* && $cmdline != *key-marker* ]]
	[[ $ps_line == *depotctl* && $ps_line != *"$secret"* && $ps_line != *key-marker* ]]
	[ "$(stored_setting r1 proxy_password)" = "fifo-$secret" ]
	[ "$(stored_setting r1 ssl_client_key)" = "$(cat "$WORK/client2.key")" ]
}

@test "two options on standard input, a file that cannot be read, or a password given twice are refused, sending nothing" {
	depot_start
	make_pem "$WORK/ca.pem" CERTIFICATE ca-marker-4
	printf 'old-pass\n' >"$WORK/pw"
	ctl repo create r1 --feed file:///nonexistent/PULP_MANIFEST --proxy-password-file "$WORK/pw"

	run ctl repo create r2 --ssl-ca-cert - --ssl-client-key - <"$WORK/ca.pem"
	[ "$status" -eq 2 ]
	[[ $output == *--ssl-ca-cert*--ssl-client-key*"standard input"* ]]
	run ctl repo update r1 --proxy-password-file - --ssl-crl - <"$WORK/ca.pem"
	[ "$status" -eq 2 ]
	[[ $output == *--proxy-password-file*--ssl-crl*"standard input"* ]]

	run ctl repo create r2 --proxy-password-file "$WORK/nosuch.pw"
	[ "$status" -eq 2 ]
	[[ $output == *"'$WORK/nosuch.pw'"*--proxy-password-file*"No such file"* ]]
	run ctl repo update r1 --ssl-client-key "@$WORK/nosuch.key"
	[ "$status" -eq 2 ]
	[[ $output == *"'$WORK/nosuch.key'"*--ssl-client-key*"No such file"* ]]
	# A directory opens but does not read.
	run ctl repo update r1 --proxy-password-file "$WORK"
	[ "$status" -eq 2 ]
	[[ $output == *"'$WORK'"* ]]
	: >"$WORK/empty"
	run ctl repo update r1 --proxy-password-file "$WORK/empty"
	[ "$status" -eq 2 ]
	[[ $output == *"'$WORK/empty'"*empty* ]]
	run ctl repo update r1 --proxy-password new-pass --proxy-password-file "$WORK/pw"
	[ "$status" -eq 2 ]
	[[ $output == *--proxy-password*--proxy-password-file*proxy_password* ]]

	# Nothing reached the daemon.
	[ "$(ctl --json repo list | jq -r '[.[].name] | join(" ")')" = r1 ]
	[ "$(stored_setting r1 proxy_password)" = old-pass ]
	[ "$(stored_setting r1 ssl_client_key)" = "" ]
	[ "$(stored_setting r1 ssl_crl)" = "" ]
}

@test "secrets show as ******** in show, --json and list, and never reach the log or events" {
	depot_start
	secret=Pw-$RANDOM$RANDOM-s3cret
	keymark=KEY$RANDOM$RANDOM
	make_pem "$WORK/client.key" "PRIVATE KEY" "$keymark"
	start_events "$WORK/events.out"
	wait_for events_subscribed "$WORK/events.out" 10s

	# Nothing listens on either port: the sync fails on the proxy.
	ctl repo create r1 --feed "$(feed_url "$(free_port)")" --proxy-url http://127.0.0.1 \
		--proxy-port "$(free_port)" --proxy-username depot --proxy-password "$secret" \
		--ssl-client-key "$WORK/client.key"
	ctl repo create r2 --feed file:///nonexistent/PULP_MANIFEST
	ctl repo update r2 --proxy_password "$secret" --ssl_client_key "$WORK/client.key"

	run ctl --json repo show r1
	[ "$(jq -r .importer.proxy_password <<<"$output")" = "********" ]
	[ "$(jq -r .importer.ssl_client_key <<<"$output")" = "********" ]
	[ "$(jq -r .importer.proxy_username <<<"$output")" = depot ]
	[[ $output != *"$secret"* && $output != *"$keymark"* ]]
	run ctl repo show r1
	[[ $output == *proxy_password*"********"* ]]
	[[ $output == *ssl_client_key*"********"* ]]
	[[ $output != *"$secret"* && $output != *"$keymark"* ]]
	run ctl --json repo list
	[ "$(jq -r '[.[].importer.proxy_password] | join(" ")' <<<"$output")" = "******** ********" ]
	[ "$(jq -r '[.[].importer.ssl_client_key] | join(" ")' <<<"$output")" = "******** ********" ]
	[[ $output != *"$secret"* && $output != *"$keymark"* ]]
	run ctl repo list
	[[ $output != *"$secret"* && $output != *"$keymark"* ]]

	# A sync hands the settings to a worker; it fails (no proxy there) but
	# neither its task, its log nor the daemon's log shows the secrets.
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $TASK != *"$secret"* && $TASK != *"$keymark"* ]]
	run ctl task log "$ID"
	[[ $output != *"$secret"* && $output != *"$keymark"* ]]

	# The daemon still has them.
	stored=$(sqlite3 -readonly "$DIR/depot.db" \
		"SELECT json_extract(importer, '\$.proxy_password') FROM repositories WHERE name = 'r2'")
	[ "$stored" = "$secret" ]

	ctl repo delete r2
	wait_for grep -q '"state"' "$WORK/events.out" 5s
	[ "$(grep -c '"event"' "$WORK/events.out")" -ge 2 ]
	run -1 grep -- "$secret" "$DIR/depotd.log"
	run -1 grep -- "$keymark" "$DIR/depotd.log"
	run -1 grep -- "$secret" "$WORK/events.out"
	run -1 grep -- "$keymark" "$WORK/events.out"
	run -1 grep -r -- "$secret" "$DIR/logs"
	run -1 grep -r -- "$keymark" "$DIR/logs"
}

@test "deleting a repository with a waiting sync behind a holder of repository:NAME is refused with conflict" {
	depot_start
	ctl repo create r1 --feed file:///nonexistent/PULP_MANIFEST
	submit --lock repository:r1 -- sleep 30
	holder=$ID
	wait_for task_is "$holder" running
	submit_task sync r1
	sync=$ID
	run task_state "$sync"
	[ "$output" = waiting ]

	run ctl repo delete r1

	[ "$status" -eq 1 ]
	[[ $output == *conflict* || $output == *unfinished* ]]
	[[ $output == *r1* ]]
	run ctl --json repo show r1
	[ "$status" -eq 0 ]
	[ "$(task_state "$sync")" = waiting ]

	# Once nothing of it is unfinished, it goes.
	ctl task cancel "$sync" "$holder" >/dev/null
	wait_for task_is "$holder" canceled 5s
	wait_for task_is "$sync" canceled 5s
	run ctl repo delete r1
	[ "$status" -eq 0 ]
	run ctl repo show r1
	[ "$status" -eq 6 ]
}

@test "deleting a repository whose sync is running (slow server) is refused with conflict" {
	depot_start
	mkdir -p "$WORK/feed"
	write_bytes "$WORK/feed/big.bin" $((1024 * 1024))
	make_feed "$WORK/feed"
	start_slow_http "$WORK/feed" 50000
	ctl repo create slow --feed "$(feed_url "$HTTP_PORT")"
	submit_task sync slow
	sync=$ID
	wait_for download_started "$sync" 10s

	run ctl repo delete slow

	[ "$status" -eq 1 ]
	[[ $output == *conflict* || $output == *unfinished* ]]
	run ctl --json repo show slow
	[ "$status" -eq 0 ]
	[ "$(task_state "$sync")" = running ]
	ctl task cancel "$sync" >/dev/null
	wait_for task_is "$sync" canceled 5s
	run ctl repo delete slow
	[ "$status" -eq 0 ]
}

@test "a sync of a repository without a feed is refused (bad_request); of an unknown one, not_found" {
	depot_start
	ctl repo create nofeed --mirror true

	run ctl sync nofeed
	[ "$status" -eq 1 ]
	[[ $output == *nofeed* ]]
	[[ $output == *feed* ]]
	run ctl sync nosuch
	[ "$status" -eq 6 ]
	[[ $output == *nosuch* ]]
	run ctl publish nosuch
	[ "$status" -eq 6 ]
	[[ $output == *nosuch* ]]
	run ctl --json task list
	[ "$(jq -r 'length' <<<"$output")" = 0 ]
	run bash -c "printf '%s' '{\"cmd\": \"task.submit\", \"args\": {\"type\": \"sync\", \"repository\": \"nofeed\"}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
	run bash -c "printf '%s' '{\"cmd\": \"task.submit\", \"args\": {\"type\": \"sync\", \"repository\": \"nosuch\"}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = not_found ]
	# A sync's reservation is fixed: resources are refused.
	run bash -c "printf '%s' '{\"cmd\": \"task.submit\", \"args\": {\"type\": \"sync\", \"repository\": \"nofeed\", \"resources\": [{\"name\": \"x\"}]}}' |
		'$DEPOT_BIN/tests/nng-send' 'ipc://$DIR/run/control.sock' 3000"
	[ "$(jq -r .error.code <<<"$output")" = bad_request ]
}

# pty_start CMD: CMD in a private tmux server's 120x10 pane (a terminal);
# the pane stays after CMD ends (also by Ctrl-C, which the pane's shell
# ignores), and then shows CMD's exit status and whether the terminal echoes.
pty_start() {
	# A server of its own each time: one being killed may still hold the last name.
	PTY_N=$((${PTY_N:-0} + 1))
	PTY_TMUX=dr$$-$BATS_TEST_NUMBER-$PTY_N
	tmux -L "$PTY_TMUX" -f /dev/null new-session -d -x 120 -y 10 -s pty \
		"trap '' INT; (trap - INT; $1); echo \"exited \$?\"; stty -a | grep -o -- '-\\{0,1\\}echo ' | head -1; exec cat"
}

pty_screen() {
	tmux -L "$PTY_TMUX" capture-pane -p -t pty
}

pty_has() {
	pty_screen | grep -qF -- "$1"
}

pty_stop() {
	local sock
	sock=$(tmux -L "$PTY_TMUX" display -p '#{socket_path}' 2>/dev/null) || sock=
	tmux -L "$PTY_TMUX" kill-server 2>/dev/null || true
	[ -z "$sock" ] || rm -f "$sock"
}

@test "a password typed at a terminal for '-' is asked for and not echoed, and the terminal echoes again after, also when interrupted" {
	depot_start
	secret=Typed-$RANDOM$RANDOM
	printf -v cmd '%q ' "$DEPOT_BIN/depotctl" -d "$DIR" repo create r1 \
		--feed file:///nonexistent/PULP_MANIFEST --proxy-password-file -
	pty_start "$cmd"
	# (capture-pane drops the prompt's trailing space)
	wait_for pty_has "Password for --proxy-password-file:" 10s
	tmux -L "$PTY_TMUX" send-keys -t pty "$secret" Enter
	wait_for pty_has "exited 0" 10s
	pty_screen
	if pty_has "$secret"; then false; fi
	# The terminal's echo is back on.
	[ "$(pty_screen | grep -xE -- '-?echo ?' | tr -d ' ')" = echo ]
	[ "$(stored_setting r1 proxy_password)" = "$secret" ]
	pty_stop

	# Ctrl-C at the prompt: the shell after it echoes again, nothing is stored.
	printf -v cmd '%q ' "$DEPOT_BIN/depotctl" -d "$DIR" repo update r1 --proxy-password-file -
	pty_start "$cmd"
	wait_for pty_has "Password for --proxy-password-file:" 10s
	tmux -L "$PTY_TMUX" send-keys -t pty "half" C-c
	wait_for pty_has "exited 130" 10s
	pty_screen
	[ "$(pty_screen | grep -xE -- '-?echo ?' | tr -d ' ')" = echo ]
	[ "$(stored_setting r1 proxy_password)" = "$secret" ]
	pty_stop
}
