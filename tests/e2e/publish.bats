#!/usr/bin/env bats
# DESIGN §8 publish: a version's files hard-linked from the content store
# into publish/NAME/versions/N with a PULP_MANIFEST, `current` switched
# atomically, the last two publications kept; a publication is a valid
# feed, so a second depot syncs from the first and publishes the same bytes.

load helpers
load repo_helpers

pub_feed() {
	mkdir -p "$1/sub/deep"
	printf 'first\n' >"$1/first.txt"
	write_bytes "$1/sub/blob.bin" 20000
	printf 'comma\n' >"$1/sub/a,b.txt"
	write_bytes "$1/sub/deep/x.bin" 777
	make_feed "$1"
}

# tree_sums ROOT: "sha256  path" of every file under ROOT (following the
# `current` link), sorted by path.
tree_sums() {
	(cd "$1/" && find -L . -type f -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
		printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
	done)
}

@test "publish links the version's files into publish/NAME/versions/N with a PULP_MANIFEST and points current at it" {
	depot_start
	pub_feed "$WORK/feed"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	publish_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .type <<<"$TASK")" = publish ]
	[ "$(jq -c .resources <<<"$TASK")" = '[{"name":"repository:r1","mode":"exclusive"}]' ]
	[ "$(jq -r .result.version <<<"$TASK")" = 1 ]
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	[ "$(jq -r .result.path <<<"$TASK")" = "$DIR/publish/r1/versions/1" ]
	[ -L "$DIR/publish/r1/current" ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]
	diff <(LC_ALL=C sort "$WORK/feed/PULP_MANIFEST") <(LC_ALL=C sort "$DIR/publish/r1/current/PULP_MANIFEST")
	# Every file is the content store's file itself (a hard link).
	while IFS= read -r line; do
		rest=${line%,*}
		sha=${rest##*,}
		path=${rest%,*}
		echo "checking $path"
		[ -f "$DIR/publish/r1/versions/1/$path" ]
		[ "$(stat -c %i "$DIR/publish/r1/versions/1/$path")" = "$(stat -c %i "$(content_path "$sha")")" ]
		cmp "$DIR/publish/r1/current/$path" "$WORK/feed/$path"
	done <"$WORK/feed/PULP_MANIFEST"
	# Nothing else is there.
	[ "$(find "$DIR/publish/r1/versions/1" -type f | wc -l)" -eq 5 ]
	run repo_json r1
	[ "$(jq -r .published_version <<<"$output")" = 1 ]
	[ "$(jq -r .published_at <<<"$output")" != null ]
}

@test "publishing later versions switches current and keeps only the last two publications" {
	depot_start
	pub_feed "$WORK/feed"
	ctl repo create r1 --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait r1
	publish_wait r1
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]

	printf 'second\n' >"$WORK/feed/second.txt"
	make_feed "$WORK/feed"
	sync_wait r1
	[ "$(jq -r .result.version <<<"$TASK")" = 2 ]

	# A reader of current during the switch always finds a complete publication.
	(
		end=$(($(now_ms) + 3000))
		while [ ! -e "$WORK/stop-reader" ] && [ "$(now_ms)" -lt "$end" ]; do
			if ! head -c 1 "$DIR/publish/r1/current/PULP_MANIFEST" >/dev/null 2>&1 ||
				[ ! -f "$DIR/publish/r1/current/first.txt" ]; then
				echo miss >>"$WORK/reader-misses"
			fi
			echo >>"$WORK/reader-reads"
		done
	) &
	reader=$!
	HAND_PIDS+=("$reader")
	wait_for file_has "$WORK/reader-reads" 5s
	publish_wait r1
	touch "$WORK/stop-reader"
	wait "$reader" || true

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/2 ]
	[ ! -e "$WORK/reader-misses" ]
	echo "reader looked $(wc -l <"$WORK/reader-reads") times"
	diff <(LC_ALL=C sort "$WORK/feed/PULP_MANIFEST") <(LC_ALL=C sort "$DIR/publish/r1/current/PULP_MANIFEST")
	[ "$(ls "$DIR/publish/r1/versions" | sort -n | paste -sd' ')" = "1 2" ]

	printf 'third\n' >"$WORK/feed/third.txt"
	make_feed "$WORK/feed"
	sync_wait r1
	[ "$(jq -r .result.version <<<"$TASK")" = 3 ]
	publish_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/3 ]
	[ "$(ls "$DIR/publish/r1/versions" | sort -n | paste -sd' ')" = "2 3" ]
	cmp "$DIR/publish/r1/current/third.txt" "$WORK/feed/third.txt"
	[ "$(repo_json r1 | jq -r .published_version)" = 3 ]
	# No temporary link or directory left beside current.
	[ "$(ls -A "$DIR/publish/r1" | paste -sd' ')" = "current versions" ]

	# An older version can be published again on request.
	publish_wait r1 --version 1
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(readlink "$DIR/publish/r1/current")" = versions/1 ]
	[ ! -e "$DIR/publish/r1/current/third.txt" ]
	[ "$(repo_json r1 | jq -r .published_version)" = 1 ]
}

@test "a second depot syncs from the first one's publication (http and file) and publishes byte-identical files" {
	depot_start
	pub_feed "$WORK/feed"
	ctl repo create upstream --feed "file://$WORK/feed/PULP_MANIFEST"
	sync_wait upstream
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait upstream
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	first=$DIR
	start_http "$first/publish/upstream/current"

	second_depot
	[ "$DIR" != "$first" ]
	ctl repo create viahttp --feed "$(feed_url "$HTTP_PORT")"
	ctl repo create viafile --feed "file://$first/publish/upstream/current/PULP_MANIFEST"
	sync_wait viahttp
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.files <<<"$TASK")" = 4 ]
	sync_wait viafile
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait viahttp
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	publish_wait viafile
	[ "$(jq -r .state <<<"$TASK")" = completed ]

	# Same manifests, same files, same bytes.
	cmp "$first/publish/upstream/current/PULP_MANIFEST" "$DIR/publish/viahttp/current/PULP_MANIFEST" ||
		diff <(LC_ALL=C sort "$first/publish/upstream/current/PULP_MANIFEST") \
			<(LC_ALL=C sort "$DIR/publish/viahttp/current/PULP_MANIFEST")
	diff <(tree_sums "$first/publish/upstream/current") <(tree_sums "$DIR/publish/viahttp/current")
	diff <(tree_sums "$first/publish/upstream/current") <(tree_sums "$DIR/publish/viafile/current")
	[ "$(tree_sums "$DIR/publish/viahttp/current" | wc -l)" -eq 5 ]
	# The second store is its own: its files are not the first one's.
	sha=$(sha_of "$WORK/feed/sub/blob.bin")
	[ -f "$(content_path "$sha")" ]
	[ "$(stat -c %i "$(content_path "$sha")")" != "$(stat -c %i "$first/content/sha256/${sha:0:2}/$sha")" ]

	# The first depot is still there and answers.
	use_depot 1
	[ "$DIR" = "$first" ]
	run ctl --json repo list
	[ "$(jq -r '.[].name' <<<"$output")" = upstream ]
}
