#!/usr/bin/env bash
# startup.sh: what a client costs at start, side by side with its peers in
# the same rounds: `depotctl --version` (no socket) against a bare program
# linked with nng and cJSON alone (built here with cc; issue 14's goal:
# within 1.2x) and against `tsp -V`; and one `depotctl ping` round trip
# against `tsp -S` on a private task-spooler server (goal: no slower).
# Each figure is the median over BENCH_STARTUP_ROUNDS rounds (7) of the
# mean of BENCH_STARTUP_RUNS (200) runs; the peers alternate run by run,
# so load from elsewhere falls on all of them alike.
. "$(dirname "$0")/lib.bash"

ROUNDS=${BENCH_STARTUP_ROUNDS:-7}
RUNS=${BENCH_STARTUP_RUNS:-200}
echo "== startup: depotctl --version and ping vs a bare nng+cJSON program and tsp, $ROUNDS rounds of $RUNS runs =="

command -v tsp >/dev/null || { echo "tsp is not installed (Debian package task-spooler: make deps)" >&2; exit 2; }
command -v cc >/dev/null || { echo "cc is not installed (make deps)" >&2; exit 2; }

# --- the bare peer: what any nng+cJSON client must load, and no more ---------
bench_tmp
cat >"$TMPD/bare.c" <<'EOF'
/* bare.c: a client linked with nng and cJSON that prints versions and exits. */
#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <stdio.h>

int main(void)
{
	printf("bare %s, nng %s\n", cJSON_Version(), nng_version());
	return 0;
}
EOF
nng_libs=$(pkg-config --libs nng 2>/dev/null || echo -lnng)
cjson_libs=$(pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
cjson_cflags=$(pkg-config --cflags libcjson 2>/dev/null)
# shellcheck disable=SC2086  # the pkg-config words are separate flags
cc -O2 $cjson_cflags -o "$TMPD/bare" "$TMPD/bare.c" -Wl,--as-needed $nng_libs $cjson_libs ||
	{ result startup FAIL "cannot build the bare nng+cJSON program"; bench_exit; }
BARE=$TMPD/bare
for b in "$DEPOTCTL" "$BARE"; do
	libs=$(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	echo "$(basename "$b") needs: ${libs:-no library (linked statically)}"
done

# run_us CMD...: wall time of one run of CMD in microseconds, added to the
# sum named by RUN_SUM (a variable name); 1 when CMD failed.
run_us() {
	local sum=$1 t0 t1
	shift
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
	t1=${EPOCHREALTIME/./}
	printf -v "$sum" '%d' $(( ${!sum} + t1 - t0 ))
}

# per_run SUM_US: the mean of $RUNS runs in ms, three decimals.
per_run() {
	awk -v us="$1" -v n="$RUNS" 'BEGIN { printf "%.3f", us / 1000 / n }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
		printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'
}

# --- a private task-spooler server, for tsp -S -------------------------------
TSP_DIR=$(mktemp -d /tmp/dpb.XXXXXX)
export TS_SOCKET=$TSP_DIR/ts.sock TMPDIR=$TSP_DIR
unset TS_ONFINISH TS_ENV TS_SAVELIST TS_MAILTO
tsp -S 1 >/dev/null  # starts the server before the clock runs

# --- depot's daemon, for ping --------------------------------------------------
bench_dir
bench_conf "[daemon]" "workers = 1"
bench_launch 1 || { result startup FAIL "depotd did not start"; bench_exit; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
v_ctl=() v_bare=() v_tsp=() p_ctl=() p_tsp=()
fail=0
for ((r = 1; r <= ROUNDS; r++)); do
	# The peers alternate run by run, so a burst of load elsewhere falls on all alike.
	sa=0 sb=0 sc=0 sd=0 se=0
	for ((i = 0; i < RUNS && fail == 0; i++)); do
		run_us sa "$DEPOTCTL" --version || fail=1
		run_us sb "$BARE" || fail=1
		run_us sc tsp -V || fail=1
		run_us sd "$DEPOTCTL" -d "$DIR" ping || fail=1
		run_us se tsp -S || fail=1
	done
	[ "$fail" -eq 0 ] || break
	a=$(per_run "$sa") b=$(per_run "$sb") c=$(per_run "$sc") d=$(per_run "$sd") e=$(per_run "$se")
	v_ctl+=("$a") v_bare+=("$b") v_tsp+=("$c") p_ctl+=("$d") p_tsp+=("$e")
	printf 'round %d: --version depotctl %s ms, bare %s ms, tsp -V %s ms; ping depotctl %s ms, tsp -S %s ms\n' \
		"$r" "$a" "$b" "$c" "$d" "$e"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
bench_stop
tsp -K >/dev/null 2>&1
unset TS_SOCKET
export TMPDIR=/tmp
rm -rf "$TSP_DIR"
TSP_DIR=

if [ "$fail" -ne 0 ]; then
	result startup FAIL "a client run failed (see above)"
	bench_exit
fi
m_ctl=$(printf '%s\n' "${v_ctl[@]}" | median)
m_bare=$(printf '%s\n' "${v_bare[@]}" | median)
m_tsp=$(printf '%s\n' "${v_tsp[@]}" | median)
m_pctl=$(printf '%s\n' "${p_ctl[@]}" | median)
m_ptsp=$(printf '%s\n' "${p_tsp[@]}" | median)
r_bare=$(ratio "$m_ctl" "$m_bare")
r_tsp=$(ratio "$m_ctl" "$m_tsp")
r_ping=$(ratio "$m_pctl" "$m_ptsp")
met() {
	awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "met" : "NOT met" }'
}

echo "medians over $ROUNDS rounds of $RUNS runs (load $load_before before, $load_after after):"
printf 'depotctl --version  %7s ms   bare nng+cJSON %7s ms   %sx (goal <= 1.2x: %s)\n' \
	"$m_ctl" "$m_bare" "$r_bare" "$(met "$r_bare" 1.2)"
printf 'depotctl --version  %7s ms   tsp -V         %7s ms   %sx\n' "$m_ctl" "$m_tsp" "$r_tsp"
printf 'depotctl ping       %7s ms   tsp -S         %7s ms   %sx (goal <= 1.0x: %s)\n' \
	"$m_pctl" "$m_ptsp" "$r_ping" "$(met "$r_ping" 1.0)"

result startup INFO "--version ${m_ctl} ms vs bare ${m_bare} ms ${r_bare}x (goal 1.2x $(met "$r_bare" 1.2)), vs tsp -V ${m_tsp} ms ${r_tsp}x; ping ${m_pctl} ms vs tsp -S ${m_ptsp} ms ${r_ping}x (goal 1.0x $(met "$r_ping" 1.0)); load $load_before"
bench_exit
