#!/usr/bin/env bats
# DESIGN §8 and §15: a sync goes through the importer's proxy (proxy_url,
# proxy_port, proxy_username, proxy_password) and through nothing else:
# http_proxy in the daemon's environment never leaks in. The proxy is
# tinyproxy with basic auth on loopback, the feed python3's http.server.

load helpers
load repo_helpers

# The default path of Debian's package; TINYPROXY overrides it.
TINYPROXY=${TINYPROXY:-/usr/bin/tinyproxy}

# start_tinyproxy [CONF LINE]...: tinyproxy in the foreground on a free
# port ($PROXY_PORT) with basic auth user/pass; its log in $PROXY_LOG.
start_tinyproxy() {
	local line
	PROXY_PORT=$(free_port)
	PROXY_LOG=$WORK/tinyproxy.log
	{
		echo "Port $PROXY_PORT"
		echo "Listen 127.0.0.1"
		echo "Timeout 30"
		echo "BasicAuth user pass"
		echo "Allow 127.0.0.1"
		echo "PidFile \"$WORK/tinyproxy.pid\""
		echo "LogFile \"$PROXY_LOG\""
		echo "LogLevel Info"
		echo "MaxClients 20"
		for line in "$@"; do echo "$line"; done
	} >"$WORK/tinyproxy.conf"
	start_server "$WORK/tinyproxy.out" "$TINYPROXY" -d -c "$WORK/tinyproxy.conf"
	wait_for port_open "$PROXY_PORT" 10s
}

# proxied_requests: how many requests tinyproxy forwarded (its log's
# "Request" lines), one a line as "GET URL".
proxied_requests() {
	grep -o 'Request (file descriptor [0-9]*): [A-Z]* [^ ]*' "$PROXY_LOG" | sed 's/.*: //'
}

small_feed() {
	mkdir -p "$WORK/feed/dir"
	printf 'one\n' >"$WORK/feed/one.txt"
	write_bytes "$WORK/feed/dir/two.bin" 4096
	printf 'three\n' >"$WORK/feed/dir/th,ree.txt"
	make_feed "$WORK/feed"
}

@test "a sync through an authenticating proxy completes, and every request went through the proxy" {
	[ -x "$TINYPROXY" ] || skip "tinyproxy is not installed"
	depot_start
	small_feed
	start_http "$WORK/feed"
	start_tinyproxy
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --proxy-url http://127.0.0.1 \
		--proxy-port "$PROXY_PORT" --proxy-username user --proxy-password pass

	sync_wait r1

	echo "$TASK"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.downloaded_files <<<"$TASK")" = 3 ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
	proxied_requests
	# The manifest and the three files, each through tinyproxy.
	[ "$(proxied_requests | wc -l)" -eq 4 ]
	[ "$(proxied_requests | grep -c "^GET http://127.0.0.1:$HTTP_PORT/PULP_MANIFEST$")" -eq 1 ]
	[ "$(proxied_requests | grep -c "^GET http://127.0.0.1:$HTTP_PORT/dir/two.bin$")" -eq 1 ]
	# And the server saw no more requests than the proxy forwarded.
	[ "$(grep -c '"GET ' "$HTTP_LOG")" -eq 4 ]
	run -1 grep -F -- '"pass"' "$DIR/depotd.log"
}

@test "a proxy password given by file, not on the command line, gets a sync through the authenticating proxy" {
	[ -x "$TINYPROXY" ] || skip "tinyproxy is not installed"
	depot_start
	small_feed
	start_http "$WORK/feed"
	start_tinyproxy
	printf 'pass\n' >"$WORK/proxy.pw"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --proxy-url http://127.0.0.1 \
		--proxy-port "$PROXY_PORT" --proxy-username user --proxy-password-file "$WORK/proxy.pw"
	[ "$(repo_json r1 | jq -r .importer.proxy_password)" = "********" ]

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(proxied_requests | wc -l)" -eq 4 ]
	# Given on standard input, a wrong one is refused by the proxy: the file's was used.
	ctl repo update r1 --proxy-password-file - <<<"not-pass"
	printf 'four\n' >"$WORK/feed/four.txt"
	make_feed "$WORK/feed"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $(jq -r .error.message <<<"$TASK") == *proxy* ]]
}

@test "the proxy setting is honoured: a feed only the proxy can reach syncs through it" {
	[ -x "$TINYPROXY" ] || skip "tinyproxy is not installed"
	depot_start
	small_feed
	# The feed's host, feed.invalid, resolves nowhere (RFC 2606); tinyproxy
	# hands every request to an upstream proxy that serves the feed's
	# directory whatever the host. Only the proxy route can work.
	upstream_port=$(free_port)
	start_server "$WORK/upstream.log" "$PY" -c '
import functools, http.server, sys, urllib.parse
class Upstream(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        return super().translate_path(urllib.parse.urlsplit(path).path or "/")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
    functools.partial(Upstream, directory=sys.argv[2])).serve_forever()
' "$upstream_port" "$WORK/feed"
	wait_for port_open "$upstream_port" 10s
	start_tinyproxy "Upstream http 127.0.0.1:$upstream_port"
	ctl repo create direct --feed http://feed.invalid/PULP_MANIFEST
	ctl repo create proxied --feed http://feed.invalid/PULP_MANIFEST --proxy-url http://127.0.0.1 \
		--proxy-port "$PROXY_PORT" --proxy-username user --proxy-password pass

	sync_wait direct
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[[ $(jq -r .error.message <<<"$TASK") == *feed.invalid* ]]
	[ -z "$(proxied_requests)" ]

	sync_wait proxied
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.files <<<"$TASK")" = 3 ]
	[ "$(proxied_requests | grep -c '^GET http://feed.invalid/')" -eq 4 ]
	cmp "$(content_path "$(sha_of "$WORK/feed/dir/th,ree.txt")")" "$WORK/feed/dir/th,ree.txt"
}

@test "a wrong proxy password fails the sync with a message about the proxy's refusal" {
	[ -x "$TINYPROXY" ] || skip "tinyproxy is not installed"
	depot_start
	small_feed
	start_http "$WORK/feed"
	start_tinyproxy
	wrong=wrong-$RANDOM$RANDOM
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")" --proxy-url http://127.0.0.1 \
		--proxy-port "$PROXY_PORT" --proxy-username user --proxy-password "$wrong"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	message=$(jq -r .error.message <<<"$TASK")
	echo "message: $message"
	[[ $message == *proxy* ]]
	[[ $message == *407* || $message == *401* || $message == *credential* ]]
	[[ $message != *"$wrong"* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	# Nothing reached the server.
	[ "$(grep -c '"GET ' "$HTTP_LOG")" -eq 0 ]
	run -1 grep -F -- "$wrong" "$DIR/depotd.log"
	run -1 grep -rF -- "$wrong" "$DIR/logs"
}

@test "http_proxy in the daemon's environment is not used when no proxy is configured" {
	[ -x "$TINYPROXY" ] || skip "tinyproxy is not installed"
	depot_init
	small_feed
	start_http "$WORK/feed"
	# A proxy that would log (and refuse, without credentials) what reached it.
	start_tinyproxy
	depot_launch_env "http_proxy=http://127.0.0.1:$PROXY_PORT" "HTTP_PROXY=http://127.0.0.1:$PROXY_PORT" \
		"https_proxy=http://127.0.0.1:$PROXY_PORT" "ALL_PROXY=http://127.0.0.1:$PROXY_PORT" \
		"all_proxy=http://127.0.0.1:$PROXY_PORT" "no_proxy=" "NO_PROXY="
	# The workers did inherit it.
	tr '\0' '\n' <"/proc/$(worker_pid w1)/environ" | grep -qx "http_proxy=http://127.0.0.1:$PROXY_PORT"
	ctl repo create r1 --feed "$(feed_url "$HTTP_PORT")"

	sync_wait r1

	echo "$TASK"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
	[ -z "$(proxied_requests)" ]
	[ "$(grep -c '"GET ' "$HTTP_LOG")" -eq 4 ]
}
