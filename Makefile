# depot: the one build entry (make, make run, make check, make install, make deps).

PREFIX  ?= /usr/local
CC      ?= cc
# SANITIZE=address,undefined builds every binary and test with those sanitizers,
# in a build directory of their own so the two kinds of objects never mix.
SANITIZE ?=
BUILD   ?= $(if $(SANITIZE),build-san,build)

# Debian 12 packages. DEB_PKGS: what building needs (make deps, make run);
# debian/control's Build-Depends name the same (tests/e2e/package.bats compares).
DEB_PKGS = build-essential pkg-config libnng-dev libsqlite3-dev libarchive-dev \
	libncurses-dev libcurl4-openssl-dev libssl-dev libinih-dev
# What make check (and make bench) needs beyond DEB_PKGS: the test frameworks,
# the tools the tests drive or judge with, and the package build and lintian
# (no fakeroot: debian/control says Rules-Requires-Root: no).
TEST_PKGS = libcmocka-dev bats jq task-spooler tmux tinyproxy openssl python3 \
	sqlite3 procps psmisc curl zstd parallel debhelper dpkg-dev lintian
# What only make bench needs beyond TEST_PKGS: nginx serves tests/bench/sync.sh's
# feeds. Not for make check: Debian's nginx package starts a system nginx on :80,
# so tests/bench/install-pkgs installs it with service starts forbidden.
BENCH_PKGS = nginx-light
# tests/bench/startup.sh's peer: a bare program linked with Debian's nng and cJSON.
BENCH_PKGS += libcjson-dev
# What make soak needs beyond DEB_PKGS (tests/soak/soak, tests/soak/judge).
SOAK_PKGS = jq python3 sqlite3 procps
# sd_notify (daemon/notify.c).
DEB_PKGS += libsystemd-dev
# systemd-analyze and systemd-run for the units' test (tests/e2e/systemd.bats).
TEST_PKGS += systemd
# promtool and a real scrape for the metrics' test (tests/e2e/metrics.bats).
TEST_PKGS += prometheus
# man -l and mandoc -T lint for the man pages' test (tests/e2e/manuals.bats).
TEST_PKGS += mandoc man-db
# strace -c counts a resting listener's accept() calls (tests/e2e/server-wire.bats).
TEST_PKGS += strace

PKGS = sqlite3 libarchive libcurl libcrypto inih
# sd_notify (daemon/notify.c): depotd's alone.
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null || echo -lsystemd)
# Debian ships libnng without a pkg-config file.
NNG_LIBS := $(shell pkg-config --libs nng 2>/dev/null || echo -lnng)

CFLAGS ?= -O2 -g
# Truncating snprintf into fixed buffers is deliberate (messages, bounded paths),
# so gcc's guesses about it would only be noise under -Werror.
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -MMD -MP -Ishare -Idaemon -Itui -Ivendor \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Each binary links what it uses and loads nothing more at start (issue 14):
# --as-needed drops a library no object references (gcc does so by default
# on Debian, but not with -fsanitize, nor every toolchain), and the client
# binaries are not even offered the daemon's libraries.
LDFLAGS += -Wl,--as-needed
# depotctl and depot-console: the control protocol (share/spwire.c, not
# nng) and its JSON. Reading archives (backup verify, backup list) is
# depotd's: depotctl execs it.
CLIENT_LIBS = -lpthread -lm
# depotctl is linked statically (static-pie, so still at a random address):
# a dynamic start maps libc.so and resolves its symbols at every run, which
# made `depotctl ping` 1.08-1.11x `tsp -S` against 0.91x static (issue 14;
# tests/bench/startup.sh). It needs libc alone and none of its NSS or iconv
# parts, so nothing is loaded at run time. The price is a rebuild when
# glibc is fixed: debian/ declares Built-Using for it. CTL_STATIC=0 links it
# dynamically; sanitized builds do (ASan has no static runtime for it).
CTL_STATIC ?= 1
ifeq ($(SANITIZE)$(CTL_STATIC),1)
CTL_LDFLAGS = -static-pie
endif
DAEMON_LIBS = $(NNG_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(SYSTEMD_LIBS) \
	-lpthread -lm
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

SHARE_SRC  = $(wildcard share/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
CTL_SRC    = $(wildcard ctl/*.c)
TUI_SRC    = $(wildcard tui/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

# cJSON is compiled in (vendor/cjson, upstream v1.7.19 unchanged): as
# Debian's shared libcjson it cost every depotctl run a library load, a
# third of its start (issue 14).
VENDOR_SRC = vendor/cjson/cJSON.c
SHARE_OBJ  = $(SHARE_SRC:%.c=$(BUILD)/%.o) $(VENDOR_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
# The daemon's modules without main(), for linking into unit tests.
DAEMON_LIB_OBJ = $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJ))
CTL_OBJ    = $(CTL_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ    = $(TUI_SRC:%.c=$(BUILD)/%.o)
# The console's model without its views and loop, for its unit tests.
TUI_MODEL_OBJ = $(filter $(BUILD)/tui/model%.o,$(TUI_OBJ))
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The fuzz targets.
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES = $(FUZZ_SRC:tests/fuzz/%.c=%)
# make check replays each target's seeds and regress/ inputs, built with this build's compiler and sanitizers.
REPLAY_BIN = $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/%)
# The same targets linked with libFuzzer's main, for make fuzz (tests/fuzz/run builds them with clang).
FUZZ_BIN   = $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
# What make fuzz needs beyond DEB_PKGS: Debian's clang ships libFuzzer in libclang-rt-14-dev.
FUZZ_DEB_PKGS = clang libclang-rt-14-dev

BINS = $(BUILD)/depotd $(BUILD)/depotctl $(if $(TUI_SRC),$(BUILD)/depot-console)
NCURSES_CFLAGS := $(shell pkg-config --cflags ncursesw 2>/dev/null)
NCURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
# Helpers the e2e tests drive the daemon with, beside depotctl.
TEST_TOOLS = $(BUILD)/tests/nng-send $(BUILD)/tests/hang-nng-close.so $(BUILD)/tests/hold.so

.PHONY: all deps deps-test deps-soak run check unit e2e bench soak fuzz fuzz-bins install clean distclean
all: $(BINS) $(BUILD)/depotctl.1

# The command list of the man page comes from depotctl's own table.
$(BUILD)/depotctl.1: doc/depotctl.1.in $(BUILD)/depotctl
	$(BUILD)/depotctl __man > $@.cmds
	sed -e '/^@COMMANDS@$$/{r $@.cmds' -e 'd}' doc/depotctl.1.in > $@
	rm -f $@.cmds

# V=1 shows the whole command lines.
Q = $(if $(V),,@)
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libdepot.a: $(SHARE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/depotd: $(DAEMON_OBJ) $(BUILD)/libdepot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(LDLIBS)

$(BUILD)/depotctl: $(CTL_OBJ) $(BUILD)/libdepot.a
	$(CC) $(LDFLAGS) $(CTL_LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(LDLIBS)

$(BUILD)/tui/%.o: tui/%.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(NCURSES_CFLAGS) -Itui -c -o $@ $<

$(BUILD)/depot-console: $(TUI_OBJ) $(BUILD)/libdepot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(NCURSES_LIBS) $(LDLIBS)

# test_vocab reads the docs that list the vocabulary, wherever it runs from.
$(BUILD)/tests/unit/test_vocab.o: CFLAGS += -DDEPOT_SRCDIR='"$(CURDIR)"'
# test_manuals reads the man pages and the sample depot.conf.
$(BUILD)/tests/unit/test_manuals.o: CFLAGS += -DDEPOT_SRCDIR='"$(CURDIR)"'

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(DAEMON_LIB_OBJ) $(TUI_MODEL_OBJ) $(BUILD)/libdepot.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(LDLIBS) -lcmocka

$(BUILD)/tests/nng-send: $(BUILD)/tests/tools/nng-send.o
	$(CC) $(LDFLAGS) -o $@ $^ $(NNG_LIBS) $(CLIENT_LIBS) $(LDLIBS)

# Preloaded into depotd, so no sanitizer: its runtime is depotd's to bring.
$(BUILD)/tests/hang-nng-close.so: tests/tools/hang-nng-close.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -Wall -o $@ $<

$(BUILD)/tests/hold.so: tests/tools/hold.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -Wall -o $@ $< -ldl

# The command every task of the soak test runs; plain, like the preload above:
# it is not depot's code, and it runs thousands of times.
$(BUILD)/tests/soak-task: tests/tools/soak-task.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

$(REPLAY_BIN): $(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o \
    $(DAEMON_LIB_OBJ) $(BUILD)/libdepot.a
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(LDLIBS) -lcmocka

$(FUZZ_BIN): $(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(DAEMON_LIB_OBJ) $(BUILD)/libdepot.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(DAEMON_LIBS) $(LDLIBS)

# Installs only what is missing, so a machine that has everything is not touched.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "make deps: run as root to install:" $$missing >&2; exit 1; }; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# make check and make soak install their tools too; make deps and make run never do.
deps-test:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS) $(TEST_PKGS)"

deps-soak:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS) $(SOAK_PKGS)"

# The demo: depotd on ./data with a small repository fed from share/demo/feed,
# a sync and a publish queued, and depot-console on it; quitting the console
# stops the daemon it started (share/demo/run-demo).
run: deps
	$(MAKE) all
	share/demo/run-demo $(BUILD) data

unit: $(UNIT_BIN) $(REPLAY_BIN)
	@tests/run-unit $(UNIT_BIN) $(REPLAY_BIN)
	@tests/run-rules

e2e: $(BINS) $(TEST_TOOLS)
	@DEPOT_BIN=$(CURDIR)/$(BUILD) tests/run-e2e

check: deps-test
	$(MAKE) all $(UNIT_BIN) $(REPLAY_BIN) $(TEST_TOOLS)
	@DEPOT_BIN=$(CURDIR)/$(BUILD) tests/run-all $(UNIT_BIN) $(REPLAY_BIN)

bench: deps-test
	@tests/bench/install-pkgs $(BENCH_PKGS)
	$(MAKE) all
	@DEPOT_BIN=$(CURDIR)/$(BUILD) tests/bench/run

# The soak test (tests/soak/soak): SOAK_SECONDS of random work while workers
# and depotd are killed, stopped and restarted, judged from a trace of what
# really ran; SOAK_SEED replays a run's choices. .ci/run runs it for 150 s.
SOAK_SECONDS ?= 1800
soak: deps-soak
	$(MAKE) all $(BUILD)/tests/soak-task
	@DEPOT_BIN=$(CURDIR)/$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/soak

# Coverage-guided fuzzing of the parsers that read untrusted input (clang, libFuzzer),
# FUZZ_SECONDS (default 60) each; ends with "fuzz: N passed, N failed".
fuzz: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_DEB_PKGS)"
	@tests/fuzz/run $(FUZZ_NAMES)

fuzz-bins: $(FUZZ_BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/depot $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(BUILD)/depotctl.1 doc/depot-console.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 doc/depot.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 doc/depotd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 share/depotctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/depotctl
	install -m 0644 share/depot.conf.sample share/depot-httpd.conf \
		share/depot-nginx.conf $(DESTDIR)$(PREFIX)/share/depot/
	install -m 0644 share/prometheus/depot-rules.yml $(DESTDIR)$(PREFIX)/share/depot/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	for u in depotd.service depot-worker@.service; do \
		sed 's|@PREFIX@|$(PREFIX)|g' share/systemd/$$u > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u && \
		chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u || exit 1; \
	done
	install -m 0644 share/systemd/depot.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/depot.conf
	install -m 0644 share/systemd/depot.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/depot.conf

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
