#!/usr/bin/env bats
# The Debian package: debian/ agrees with the Makefile, and the .deb that
# dpkg-buildpackage makes from it holds what it should, depends on shared
# libraries and no test tool, passes lintian, and (DEPOT_TEST_DEBOOTSTRAP=1)
# installs and runs in a clean Debian 12 root.
#
# The package is built once for the file, in a copy of the tree (dh clean
# would otherwise touch the checkout). By default the copy reuses the
# objects of $DEPOT_BIN (a build directory of this tree, as make check and
# make e2e give), so no C is compiled: debian/rules' install, strip, shlibs,
# maintainer scripts and lintian run in 16-38 s. DEPOT_TEST_DEB=full
# builds from nothing with the package's own flags and runs its unit tests,
# as `dpkg-buildpackage -us -uc -b` does (49 s on 2 idle cores, 4 minutes busy);
# DEPOT_TEST_DEB=off skips the package's tests (the Makefile's are kept).
# DEPOT_TEST_DEBOOTSTRAP=1 (root, debootstrap, a Debian mirror: DEPOT_TEST_MIRROR,
# default deb.debian.org) adds the install into a fresh root: minutes.

SRC=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# make_var NAME: the Makefile's value of NAME.
make_var() {
	make -s --no-print-directory -C "$SRC" -f Makefile -f - print-var VAR="$1" <<-'EOF'
	print-var: ; @echo $($(VAR))
	EOF
}

# copy_tree DEST: the tree's files (tracked and new, not ignored) into DEST.
copy_tree() {
	mkdir -p "$1"
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC" ls-files -co --exclude-standard -z | (cd "$SRC" && tar --null -T - -cf -) | tar -xf - -C "$1"
	else
		(cd "$SRC" && tar --exclude='./build*' --exclude=./data --exclude=./debian/depot \
			--exclude=./debian/.debhelper -cf - .) | tar -xf - -C "$1"
	fi
}

setup_file() {
	export PKG_DIR=$BATS_FILE_TMPDIR/pkg DEB= PKG_SKIP=
	local need t0 bin
	for need in dpkg-buildpackage dh lintian; do
		command -v "$need" >/dev/null || { PKG_SKIP="$need is missing (make check installs it)"; return 0; }
	done
	[ "${DEPOT_TEST_DEB:-}" != off ] || { PKG_SKIP="DEPOT_TEST_DEB=off"; return 0; }
	copy_tree "$PKG_DIR/src"
	local opts=(-us -uc -b)
	if [ "${DEPOT_TEST_DEB:-}" = full ]; then
		export DEB_BUILD_OPTIONS="parallel=$(nproc)"
	else
		bin=$(cd "${DEPOT_BIN:-/nonexistent}" 2>/dev/null && pwd) || bin=
		if [ -z "$bin" ] || [ "$(dirname "$bin")" != "$SRC" ] || [ ! -f "$bin/libdepot.a" ]; then
			PKG_SKIP="DEPOT_BIN is not a build directory of this tree: DEPOT_TEST_DEB=full builds the package from nothing"
			return 0
		fi
		# Timestamps kept (tar), so make finds every object up to date; the
		# test programs under tests/ are not the package's.
		mkdir "$PKG_DIR/src/build-deb"
		(cd "$bin" && tar --exclude=./tests -cf - .) | tar -xf - -C "$PKG_DIR/src/build-deb"
		# make check has run the unit tests on these objects; -nc keeps them;
		# the debug symbols package (compressing the debug info) is not looked at.
		export DEB_BUILD_OPTIONS="nocheck noautodbgsym"
		opts+=(-nc)
	fi
	t0=$(date +%s)
	if ! (cd "$PKG_DIR/src" && dpkg-buildpackage "${opts[@]}") >"$PKG_DIR/build.log" 2>&1; then
		tail -40 "$PKG_DIR/build.log" >&3
		PKG_SKIP=
		export DEB=none
		return 0
	fi
	echo "# package built in $(($(date +%s) - t0)) s (DEPOT_TEST_DEB=${DEPOT_TEST_DEB:-reuse})" >&3
	DEB=$(echo "$PKG_DIR"/depot_*_amd64.deb)
}

# need_deb: skips when the package could not be tried, fails when its build failed.
need_deb() {
	[ -z "$PKG_SKIP" ] || skip "$PKG_SKIP"
	if [ "$DEB" = none ]; then
		echo "dpkg-buildpackage failed: $PKG_DIR/build.log" >&2
		return 1
	fi
	[ -f "$DEB" ]
}

# The first word of each alternative of a relationship field: its package names.
rel_names() {
	tr ',|' '\n\n' | sed 's/^ *//; s/[ (<\[].*//' | sed '/^$/d'
}

@test "debian/control builds with the Makefile's build packages; only tests need the others" {
	local control=$SRC/debian/control want got
	want=$(make_var DEB_PKGS | tr ' ' '\n' | grep -vx build-essential | sort -u)
	# Build-Depends without debhelper and the <!nocheck> ones (the unit tests').
	got=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$control" | sed '1s/^Build-Depends://; $d' |
		tr ',' '\n' | grep -v '<!nocheck>' | rel_names | grep -v '^debhelper-compat$' | sort -u)
	echo "Makefile DEB_PKGS: $want"
	echo "Build-Depends:     $got"
	[ "$want" = "$got" ]
	# What only the unit tests need is marked so, and is a test package.
	local tests p
	tests=" $(make_var TEST_PKGS) "
	for p in $(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$control" | tr ',' '\n' | grep '<!nocheck>' | rel_names); do
		[[ $tests == *" $p "* ]]
	done
	# The binary package depends on what dpkg-shlibdeps and debhelper find, nothing named by hand.
	[ "$(sed -n '/^Depends:/,/^[A-Z]/p' "$control" | sed '1s/^Depends://; $d' | rel_names | sort | tr '\n' ' ')" = '${misc:Depends} ${shlibs:Depends} ' ]
}

# make_dry TARGET: the package lists TARGET would have make deps check (make -n).
make_dry() {
	make -n --no-print-directory -C "$SRC" "$1" 2>/dev/null | grep -o 'for p in [^;]*;' | sed 's/^for p in //; s/;$//' | tr ' ' '\n' | sort -u
}

@test "make deps and make run install only what building needs; make check, bench and soak their tools too; nginx only make bench" {
	local p deps run check soak
	deps=$(make_dry deps) run=$(make_dry run) check=$(make_dry check) soak=$(make_dry soak)
	for p in libnng-dev libsqlite3-dev pkg-config build-essential; do
		grep -qx "$p" <<<"$deps"
		grep -qx "$p" <<<"$check"
	done
	[ "$run" = "$deps" ]
	for p in bats libcmocka-dev tmux task-spooler tinyproxy jq lintian debhelper parallel prometheus; do
		if grep -qx "$p" <<<"$deps"; then echo "make deps installs $p"; false; fi
		grep -qx "$p" <<<"$check" || { echo "make check does not install $p"; false; }
	done
	for p in jq python3 sqlite3; do grep -qx "$p" <<<"$soak"; done
	if grep -qx tinyproxy <<<"$soak"; then false; fi
	[ "$(make_dry bench)" = "$check" ]
	# nginx-light and libcjson-dev (startup.sh's bare peer) are make bench's alone (BENCH_PKGS),
	# installed with no service started.
	for p in nginx-light libcjson-dev; do
		if grep -qx "$p" <<<"$check"; then echo "make check installs $p"; false; fi
		if grep -qx "$p" <<<"$deps"; then echo "make deps installs $p"; false; fi
	done
	make -n --no-print-directory -C "$SRC" bench 2>/dev/null | grep -qx 'tests/bench/install-pkgs nginx-light libcjson-dev'
}

@test "the changelog's version is depotd's" {
	local v
	v=$(cd "$SRC" && dpkg-parsechangelog -S Version)
	echo "debian/changelog: $v; share/proto.h: $(grep DEPOT_VERSION "$SRC/share/proto.h")"
	grep -qx "#define DEPOT_VERSION \"$v\"" "$SRC/share/proto.h"
	if [ -x "${DEPOT_BIN:-}/depotd" ]; then
		[ "$("$DEPOT_BIN/depotd" --version)" = "depotd $v" ]
	fi
}

@test "the .deb holds the binaries, manuals, units, completion, web server snippets and sample configuration" {
	need_deb
	local list f
	list=$(dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}')
	echo "$list"
	for f in usr/bin/depotd usr/bin/depotctl usr/bin/depot-console; do
		grep -qx -- "-rwxr-xr-x root/root ./$f" <<<"$list"
		# Stripped: dh_strip moved the symbols to the dbgsym package.
		dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - "./$f" >"$BATS_TEST_TMPDIR/bin"
		if readelf -S "$BATS_TEST_TMPDIR/bin" | grep -q '\.symtab'; then false; fi
	done
	for f in usr/share/man/man1/depotctl.1.gz usr/share/man/man1/depot-console.1.gz \
		usr/share/man/man5/depot.conf.5.gz usr/share/man/man8/depotd.8.gz \
		usr/share/bash-completion/completions/depotctl \
		usr/share/depot/depot-httpd.conf usr/share/depot/depot-nginx.conf \
		usr/share/depot/depot.conf.sample \
		usr/share/doc/depot/copyright usr/share/doc/depot/changelog.gz; do
		grep -qx -- "-rw-r--r-- root/root ./$f" <<<"$list"
	done
	# depotd reads DIR/depot.conf, not /etc: the sample is no conffile.
	if grep -q ' \./etc/' <<<"$list"; then false; fi
	# Every unit is where systemd looks, with the user and the data
	# directory's entries, and the maintainer scripts make the user and the
	# directory and enable and start depotd.service (not the template).
	for f in "$SRC"/share/systemd/*.service; do
		grep -qx -- "-rw-r--r-- root/root ./usr/lib/systemd/system/${f##*/}" <<<"$list"
	done
	grep -qx -- "-rw-r--r-- root/root ./usr/lib/sysusers.d/depot.conf" <<<"$list"
	grep -qx -- "-rw-r--r-- root/root ./usr/lib/tmpfiles.d/depot.conf" <<<"$list"
	if grep -q ' \./lib/' <<<"$list"; then false; fi
	dpkg-deb -I "$DEB" postinst >"$BATS_TEST_TMPDIR/postinst"
	grep -q 'systemd-sysusers.*depot.conf' "$BATS_TEST_TMPDIR/postinst"
	grep -q 'systemd-tmpfiles.*depot.conf' "$BATS_TEST_TMPDIR/postinst"
	grep -q "deb-systemd-helper.*enable.*'depotd.service'" "$BATS_TEST_TMPDIR/postinst"
	grep -q "deb-systemd-invoke \$_dh_action 'depotd.service'" "$BATS_TEST_TMPDIR/postinst"
	if grep -q 'depot-worker@' "$BATS_TEST_TMPDIR/postinst"; then false; fi
	# The manual's command list was generated from the built depotctl.
	dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/man/man1/depotctl.1.gz | zcat | grep -q '^\.B.*backup'
	if dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/man/man1/depotctl.1.gz | zcat | grep -qx '@COMMANDS@'; then false; fi
}

@test "the .deb depends on the shared libraries it links and on no test tool" {
	need_deb
	local deps names p
	deps=$(dpkg-deb -f "$DEB" Depends)
	echo "Depends: $deps"
	names=" $(rel_names <<<"$deps" | tr '\n' ' ') "
	for p in libc6 libnng1 libsqlite3-0 libarchive13 libcurl4 libssl3 libinih1 libncursesw6; do
		[[ $names == *" $p "* ]] || { echo "missing $p"; false; }
	done
	# cJSON is compiled in (vendor/cjson).
	[[ $names != *" libcjson1 "* ]] || { echo "libcjson1 in Depends"; false; }
	for p in $(make_var TEST_PKGS) $(make_var BENCH_PKGS) $(make_var SOAK_PKGS) $(make_var FUZZ_DEB_PKGS) build-essential pkg-config; do
		# The tests use systemd-analyze; installing needs systemd-sysusers (dh_installsysusers' alternative).
		[ "$p" != systemd ] || continue
		[[ $names != *" $p "* ]] || { echo "test or build package $p in Depends"; false; }
	done
	# No -dev package either: those are the build's.
	if grep -q -- '-dev$' <<<"${names// /$'\n'}"; then false; fi
	[ -z "$(dpkg-deb -f "$DEB" Recommends Suggests Pre-Depends)" ]
	# depotctl holds libc.a's code (Makefile: CTL_STATIC): the glibc it was built with is named.
	echo "Built-Using: $(dpkg-deb -f "$DEB" Built-Using)"
	[[ $(dpkg-deb -f "$DEB" Built-Using) == "glibc (= $(dpkg-query -f '${Version}' -W libc6-dev))" ]]
}

@test "lintian finds no error and no warning in the .deb" {
	need_deb
	local out
	# Informational tags are listed for the log, not judged (the reuse build's
	# objects lack the hardening flags: hardening-no-* are such). Overridden
	# tags are left out: --show-overrides would count them for --fail-on.
	out=$(lintian --fail-on error,warning --info --display-info "$DEB" 2>&1) || { echo "$out"; false; }
	echo "$out"
	echo "overrides:"
	cat "$SRC/debian/depot.lintian-overrides"
	if grep -E '^[EW]: ' <<<"$out"; then false; fi
}

# Minutes (debootstrap downloads a base system): never in make check.
@test "the .deb installs with apt-get into a clean Debian 12 root, and depotd runs there" {
	[ "${DEPOT_TEST_DEBOOTSTRAP:-}" = 1 ] || skip "DEPOT_TEST_DEBOOTSTRAP=1 runs it (minutes)"
	need_deb
	command -v debootstrap >/dev/null || skip "debootstrap is missing"
	[ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"
	local root=$BATS_TEST_TMPDIR/root t0 i
	t0=$(date +%s)
	debootstrap --variant=minbase bookworm "$root" "${DEPOT_TEST_MIRROR:-http://deb.debian.org/debian}" >"$BATS_TEST_TMPDIR/debootstrap.log" 2>&1 ||
		{ tail -20 "$BATS_TEST_TMPDIR/debootstrap.log"; false; }
	echo "# debootstrap took $(($(date +%s) - t0)) s" >&3
	mount -t proc proc "$root/proc"
	MOUNTED=$root/proc
	cp "$DEB" "$root/tmp/"
	t0=$(date +%s)
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y "/tmp/${DEB##*/}"
	echo "# apt-get install took $(($(date +%s) - t0)) s" >&3
	chroot "$root" dpkg -s depot | grep -qx 'Status: install ok installed'
	[ "$(chroot "$root" depotd --version)" = "depotd $(dpkg-deb -f "$DEB" Version)" ]
	# The sysusers and tmpfiles entries made depotd's user and data directory,
	# and depotd.service is enabled, when the package ships them.
	if dpkg-deb -c "$DEB" | grep -q '/usr/lib/sysusers.d/'; then
		chroot "$root" getent passwd depot
	fi
	if dpkg-deb -c "$DEB" | grep -q '/usr/lib/tmpfiles.d/'; then
		[ "$(chroot "$root" stat -c '%U %G %a' /var/lib/depot)" = "depot depot 700" ]
	fi
	if dpkg-deb -c "$DEB" | grep -q '/usr/lib/systemd/system/depotd.service'; then
		[ -L "$root/etc/systemd/system/multi-user.target.wants/depotd.service" ]
	fi
	# Judged from the root's files: depotd made its database and socket, and answered.
	chroot "$root" sh -c 'depotd -d /var/tmp/d >/var/tmp/depotd.log 2>&1 & echo $! >/var/tmp/depotd.pid'
	for ((i = 0; i < 100; i++)); do
		chroot "$root" depotctl -d /var/tmp/d ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	chroot "$root" depotctl -d /var/tmp/d ping
	ls -la "$root/var/tmp/d"
	kill -TERM "$(cat "$root/var/tmp/depotd.pid")"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$(cat "$root/var/tmp/depotd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$(cat "$root/var/tmp/depotd.pid")" 2>/dev/null; then false; fi
	cat "$root/var/tmp/depotd.log"
}

MOUNTED=

teardown() {
	[ -z "$MOUNTED" ] || umount "$MOUNTED"
	MOUNTED=
}
