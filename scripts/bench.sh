#!/usr/bin/env bash
# Benchmark mpserver side by side with the two reference servers of
# tests/load (ref-epoll: edge-triggered epoll; ref-threads: a thread per
# connection), on loopback only, and print a table of medians and ratios.
#
#   scripts/bench.sh [-q] [-n] [-o DIR] [-r REPS] [--png FILE]
#     -q          quick: 1 repetition, 2 s runs, 2,000 held, 200 channels
#     -n          do not build (use BUILD, default build-load, as it is)
#     -o DIR      where results go (default BUILD/bench)
#     -r REPS     repetitions (default 3)
#     --png FILE  also draw churn rate and p99 against concurrency there
#
# Per repetition and server, in rotating order: churn (C=32, ack and echo),
# persistent echo (C=64, 32 B), hold (10,000 clients, PSS at 2,000 and at
# 10,000 for the slope), ports (1,000 channels started by mpload, timed
# from fork); for mpserver also churn ack at log level info. Every run is
# bounded by mpload's duration and timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-load}
REPS=3 DUR=5 HOLD_N=10000 HOLD_MARK=2000 PORTS_N=1000
CHURN_C=32 ECHO_C=64 ECHO_S=32 SWEEP="1 4 16 64 256" SWEEP_DUR=2
OUT="" PNG="" BUILD_IT=1
SERVERS="mpserver ref-epoll ref-threads"

while [ $# -gt 0 ]; do
	case $1 in
	-q) REPS=1 DUR=2 HOLD_N=2000 HOLD_MARK=500 PORTS_N=200 SWEEP="1 16 64"
	    SWEEP_DUR=1 ;;
	-n) BUILD_IT=0 ;;
	-o) OUT=$2; shift ;;
	-r) REPS=$2; shift ;;
	--png) PNG=$2; shift ;;
	-h|--help) echo "usage: $0 [-q] [-n] [-o DIR] [-r REPS] [--png FILE]"
	   exit 0 ;;
	*) echo "usage: $0 [-q] [-n] [-o DIR] [-r REPS] [--png FILE]" >&2
	   exit 2 ;;
	esac
	shift
done
OUT=${OUT:-$BUILD/bench}
mkdir -p "$OUT"
if [ "$BUILD_IT" = 1 ]; then
	# Warnings are the test builds' business (scripts/test.sh); a new
	# compiler's -O3 warning must not stop a measurement.
	scripts/build.sh "$BUILD" -DCMAKE_BUILD_TYPE=Release \
	    -DMPSERVER_WERROR=OFF >/dev/null
fi
MPSERVER=$BUILD/server/mpserver
MPLOAD=$BUILD/tests/load/mpload
for bin in "$MPSERVER" "$MPLOAD" "$BUILD/tests/load/ref-epoll" \
    "$BUILD/tests/load/ref-threads"; do
	[ -x "$bin" ] || { echo "bench: $bin is not built" >&2; exit 1; }
done

# Held clients and 1,000 channels need descriptors (root may raise both).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TICK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
SRV_PID=""
RESULTS=$OUT/results.tsv
: >"$RESULTS"

cleanup() {
	[ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The command line of server KIND for SERVICE (ack|echo) on PORTSPEC,
# where PORTSPEC is "0,0,0,0" or "A-B".
server_cmd() {
	local kind=$1 service=$2 spec=$3 level=${4:-warn} items="" p
	case $kind in
	mpserver)
		IFS=, read -ra parts <<<"$spec"
		for p in "${parts[@]}"; do
			items="${items:+$items,}$p:$service"
		done
		echo "$MPSERVER --log-level $level --max-clients 20000 $items" ;;
	ref-*)
		echo "$BUILD/tests/load/$kind $([ "$service" = ack ] && echo -a)" \
		    "$spec" ;;
	esac
}

# Start a server, wait for its ready line; sets SRV_PID and SRV_PORTS.
start_server() {
	local cmd line
	cmd=$(server_cmd "$@")
	rm -f "$TMP/srv.fifo"
	mkfifo "$TMP/srv.fifo"
	# shellcheck disable=SC2086
	$cmd >"$TMP/srv.fifo" 2>"$TMP/srv.err" &
	SRV_PID=$!
	SRV_PORTS=""
	exec 3<"$TMP/srv.fifo"
	while IFS= read -r -t 30 line <&3; do
		case $line in
		"listening "*)
			line=${line#listening }
			line=${line%% *}
			SRV_PORTS="${SRV_PORTS:+$SRV_PORTS,}${line##*:}" ;;
		"ready "*)
			return 0 ;;
		esac
	done
	echo "bench: $cmd did not get ready" >&2
	cat "$TMP/srv.err" >&2
	exit 1
}

# SIGTERM; the exit status is a result too.
stop_server() {
	local kind=$1 rc=0
	kill -TERM "$SRV_PID"
	wait "$SRV_PID" || rc=$?
	exec 3<&-
	SRV_PID=""
	record "$kind" exit_status "$rc"
}

cpu_ticks() {		# user + system ticks of a process, all its threads
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

pss_kib() {
	awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup"
}

jnum() {		# jnum KEY FILE: a number from the JSON line
	{ grep '^{' "$2" || true; } | sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p"
}

last() {		# last SERVER METRIC: the value recorded last
	awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $2 == m { v = $3 }
	    END { print v }' "$RESULTS"
}

record() {		# record SERVER METRIC VALUE
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"
}

# One mpload run against the running server; records rate, latencies,
# errors and the server's CPU per operation under the name METRIC.
load_run() {
	local kind=$1 metric=$2 c0 c1 count
	shift 2
	c0=$(cpu_ticks "$SRV_PID")
	"$MPLOAD" "$@" -p "$SRV_PORTS" >"$TMP/load.out" 2>&1 || true
	c1=$(cpu_ticks "$SRV_PID")
	count=$(jnum count "$TMP/load.out")
	record "$kind" "$metric.rate" "$(jnum rate "$TMP/load.out")"
	record "$kind" "$metric.p50" "$(jnum p50_us "$TMP/load.out")"
	record "$kind" "$metric.p99" "$(jnum p99_us "$TMP/load.out")"
	record "$kind" "$metric.errors" "$(jnum errors "$TMP/load.out")"
	record "$kind" "$metric.client_cpu" "$(jnum client_cpu_s \
	    "$TMP/load.out")"
	record "$kind" "$metric.cpu_us" "$(awk -v t=$((c1 - c0)) -v k="$TICK" \
	    -v n="${count:-0}" 'BEGIN { printf "%.1f", n ? t / k * 1e6 / n : 0 }')"
	log "  $kind $metric: rate $(jnum rate "$TMP/load.out")/s" \
	    "p99 $(jnum p99_us "$TMP/load.out") us" \
	    "errors $(jnum errors "$TMP/load.out")"
}

bench_churn_echo() {
	local kind=$1
	start_server "$kind" ack 0,0,0,0
	load_run "$kind" churn_ack churn -e ack -c "$CHURN_C" -d "$DUR"
	stop_server "$kind"
	start_server "$kind" echo 0,0,0,0
	load_run "$kind" churn_echo churn -e echo -c "$CHURN_C" -d "$DUR"
	load_run "$kind" echo echo -c "$ECHO_C" -s "$ECHO_S" -d "$DUR"
	stop_server "$kind"
}

# The same churn at warn and at info, back to back; the log goes to a
# file, as it would in production.
bench_logging() {
	local level order="warn info"
	[ $(($1 % 2)) = 0 ] && order="info warn"
	for level in $order; do
		start_server mpserver ack 0,0,0,0 "$level"
		load_run mpserver "churn_ack_$level" churn -e ack -c "$CHURN_C" \
		    -d "$DUR"
		record mpserver "log_bytes_$level" "$(stat -c %s "$TMP/srv.err")"
		stop_server mpserver
	done
}

# Hold HOLD_N clients; PSS at HOLD_MARK and at HOLD_N gives the slope.
bench_hold() {
	local kind=$1 line p1 p2 lp stage=0
	start_server "$kind" echo 0,0,0,0
	rm -f "$TMP/hold.fifo"
	mkfifo "$TMP/hold.fifo"
	"$MPLOAD" hold -p "$SRV_PORTS" -c "$HOLD_N" --pause-at "$HOLD_MARK" \
	    --hold 120 -t 20 >"$TMP/hold.fifo" 2>&1 &
	lp=$!
	exec 4<"$TMP/hold.fifo"
	p1=0 p2=0
	while IFS= read -r -t 150 line <&4; do
		case $line in
		"held "*)
			stage=$((stage + 1))
			if [ $stage = 1 ]; then
				p1=$(pss_kib "$SRV_PID")
			else
				p2=$(pss_kib "$SRV_PID")
			fi
			kill -USR1 $lp
			[ $stage = 2 ] && break ;;
		esac
	done
	cat <&4 >"$TMP/load.out"
	wait $lp || true
	exec 4<&-
	record "$kind" hold.held "$(jnum held "$TMP/load.out")"
	record "$kind" hold.errors "$(jnum errors "$TMP/load.out")"
	record "$kind" hold.establish_ms "$(awk -v s="$(jnum elapsed_s \
	    "$TMP/load.out")" 'BEGIN { printf "%.1f", s * 1000 }')"
	record "$kind" hold.verify_p99 "$(jnum verify_p99_us "$TMP/load.out")"
	record "$kind" hold.pss_mark_kib "$p1"
	record "$kind" hold.pss_all_kib "$p2"
	record "$kind" hold.kib_per_client "$(awk -v a="$p1" -v b="$p2" \
	    -v n=$((HOLD_N - HOLD_MARK)) 'BEGIN { printf "%.2f", (b - a) / n }')"
	log "  $kind hold: held $(jnum held "$TMP/load.out")" \
	    "in $(jnum elapsed_s "$TMP/load.out") s," \
	    "PSS $p1 -> $p2 KiB"
	stop_server "$kind"
}

# A free block of N ports below the ephemeral range, picked at random.
free_base() {
	local n=$1 base try
	for try in 1 2 3 4 5 6 7 8; do
		base=$((20000 + RANDOM % (32000 - 20000 - n)))
		# Without ss, a busy block shows as a failed start: ports_once retries.
		command -v ss >/dev/null || { echo "$base"; return; }
		if ! ss -Htan | awk -v lo="$base" -v hi=$((base + n - 1)) '
		    { sub(/.*:/, "", $4); if ($4 >= lo && $4 <= hi) f = 1 }
		    END { exit !f }'; then
			echo "$base"
			return
		fi
	done
	echo "bench: no free block of $n ports" >&2
	exit 1
}

# Start N channels through mpload (timed from fork); record the ready line,
# all answered, PSS, and the SIGTERM stop. Small N too, for the per-channel
# memory slope.
ports_once() {
	local kind=$1 n=$2 tag=$3 base cmd try
	for try in 1 2 3; do
		base=$(free_base "$n")
		cmd=$(server_cmd "$kind" echo "$base-$((base + n - 1))")
		# shellcheck disable=SC2086
		"$MPLOAD" ports -p "$base-$((base + n - 1))" -c 64 -t 10 -- \
		    $cmd >"$TMP/load.out" 2>"$TMP/ports.err" || true
		[ "$(jnum errors "$TMP/load.out")" = 0 ] && break
	done
	record "$kind" "$tag.ready_ms" "$(jnum ready_ms "$TMP/load.out")"
	record "$kind" "$tag.all_ms" "$(jnum all_ms "$TMP/load.out")"
	record "$kind" "$tag.pss_kib" "$(jnum pss_kib "$TMP/load.out")"
	record "$kind" "$tag.stop_ms" "$(jnum stop_ms "$TMP/load.out")"
	record "$kind" "$tag.errors" "$(jnum errors "$TMP/load.out")"
	record "$kind" "$tag.exit" "$(jnum exit "$TMP/load.out")"
}

bench_ports() {
	local kind=$1 small=$((PORTS_N / 10))
	ports_once "$kind" "$PORTS_N" ports
	ports_once "$kind" "$small" ports_small
	log "  $kind ports: $PORTS_N channels ready in" \
	    "$(last "$kind" ports.ready_ms) ms, all answered in" \
	    "$(last "$kind" ports.all_ms) ms, PSS $(last "$kind" ports.pss_kib)" \
	    "KiB ($small: $(last "$kind" ports_small.pss_kib) KiB)"
}

# Churn (ack) rate and p99 against concurrency, one short run per point.
bench_sweep() {
	local kind c
	: >"$OUT/sweep.tsv"
	for kind in $SERVERS; do
		start_server "$kind" ack 0,0,0,0
		for c in $SWEEP; do
			"$MPLOAD" churn -e ack -p "$SRV_PORTS" -c "$c" \
			    -d "$SWEEP_DUR" >"$TMP/load.out" 2>&1 || true
			printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$c" \
			    "$(jnum rate "$TMP/load.out")" \
			    "$(jnum p99_us "$TMP/load.out")" \
			    "$(jnum errors "$TMP/load.out")" >>"$OUT/sweep.tsv"
		done
		stop_server "$kind"
	done
}

plot_sweep() {
	local png=$1 kind
	command -v gnuplot >/dev/null || {
		log "gnuplot not installed: no plot"
		return 0
	}
	for kind in $SERVERS; do
		awk -v k="$kind" '$1 == k' "$OUT/sweep.tsv" >"$TMP/sweep.$kind"
	done
	gnuplot <<EOF
set terminal pngcairo size 1000,420 font ",10" noenhanced
set output "$png"
set multiplot layout 1,2 title "churn (ack): connect, one line, ACK, close; 4 channels, loopback, $(nproc) CPUs"
set logscale x 2
set xlabel "concurrent connections"
set key top left
set grid
set ylabel "connections per second"
set yrange [0:*]
plot for [k in "$SERVERS"] "$TMP/sweep.".k using 2:3 with linespoints title k
set ylabel "p99 latency (us)"
set logscale y
set yrange [*:*]
plot for [k in "$SERVERS"] "$TMP/sweep.".k using 2:4 with linespoints title k
unset multiplot
EOF
	log "plot: $png"
}

median() {		# median SERVER METRIC
	awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $2 == m && $3 != "" {
	    print $3 }' "$RESULTS" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
	    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {		# ratio A B: A / B, or "-"
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a == "-" || b == "-" || b + 0 == 0) print "-";
	    else printf "%.2f\n", a / b }'
}

row() {			# row LABEL METRIC [TARGET]
	local mp ep th
	mp=$(median mpserver "$2") ep=$(median ref-epoll "$2")
	th=$(median ref-threads "$2")
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$mp" "$ep" \
	    "$th" "$(ratio "$mp" "$ep")" "$(ratio "$mp" "$th")" "${3:-}"
}

table() {
	local warn info
	echo "| metric (median of $REPS) | mpserver | ref-epoll | ref-threads" \
	    "| mp/epoll | mp/threads | target |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	row "churn ack, C=$CHURN_C: conn/s" churn_ack.rate "≥1.0× epoll"
	row "churn ack: p99 µs" churn_ack.p99
	row "churn ack: server CPU µs/conn" churn_ack.cpu_us
	row "churn echo, C=$CHURN_C: conn/s" churn_echo.rate "≥1.0× epoll"
	row "churn echo: p99 µs" churn_echo.p99
	row "churn echo: server CPU µs/conn" churn_echo.cpu_us
	row "echo C=$ECHO_C ${ECHO_S} B: round trips/s" echo.rate "≥0.9× epoll"
	row "echo: p99 µs" echo.p99
	row "echo: server CPU µs/round trip" echo.cpu_us
	row "hold $HOLD_N: verified" hold.held "all"
	row "hold: establish ms (open + verify)" hold.establish_ms \
	    "≤1.2× epoll"
	row "hold: verify p99 µs" hold.verify_p99
	row "hold: PSS KiB per client ($HOLD_MARK→$HOLD_N)" \
	    hold.kib_per_client "≤8 KiB"
	row "ports $PORTS_N: ready line ms" ports.ready_ms "<1000 ms"
	row "ports $PORTS_N: all answered ms" ports.all_ms
	row "ports $PORTS_N: PSS KiB" ports.pss_kib
	row "ports $PORTS_N: SIGTERM to exit ms" ports.stop_ms
	row "ports $((PORTS_N / 10)): PSS KiB" ports_small.pss_kib
	for k in $SERVERS; do
		a=$(median "$k" ports.pss_kib) b=$(median "$k" ports_small.pss_kib)
		record "$k" ports.kib_per_channel "$(awk -v a="$a" -v b="$b" \
		    -v n=$((PORTS_N - PORTS_N / 10)) \
		    'BEGIN { printf "%.1f", (a - b) / n }')"
	done
	row "ports: PSS KiB per idle channel" ports.kib_per_channel
	warn=$(median mpserver churn_ack_warn.rate)
	info=$(median mpserver churn_ack_info.rate)
	wcpu=$(median mpserver churn_ack_warn.cpu_us)
	icpu=$(median mpserver churn_ack_info.cpu_us)
	echo
	echo "| logging (mpserver churn ack, C=$CHURN_C) | conn/s | p99 µs |" \
	    "server CPU µs/conn | cost vs warn: rate, CPU | target |"
	echo "|---|---:|---:|---:|---:|---|"
	echo "| --log-level warn | $warn | $(median mpserver churn_ack_warn.p99)" \
	    "| $wcpu | | |"
	echo "| --log-level info (stderr to a file) | $info |" \
	    "$(median mpserver churn_ack_info.p99) | $icpu |" \
	    "$(awk -v w="$warn" -v i="$info" -v wc="$wcpu" -v ic="$icpu" '
	    BEGIN { if (w + 0 > 0 && wc + 0 > 0)
	    printf "%.1f%%, %+.1f%%", 100 * (1 - i / w), 100 * (ic / wc - 1);
	    else print "-" }') | ≤25% |"
	echo
	echo "errors (sum over all runs): $(awk -F'\t' '$2 ~ /errors$/ {
	    s += $3 } END { print s + 0 }' "$RESULTS");" \
	    "exit statuses on SIGTERM: $(awk -F'\t' '$2 ~ /exit/ {
	    print $1 "=" $3 }' "$RESULTS" | sort | uniq -c | awk '{
	    printf "%s%s×%s", sep, $2, $1; sep = ", " }')"
	echo "client CPU (s of one core over $DUR s): churn ack" \
	    "$(median mpserver churn_ack.client_cpu) (mpserver)," \
	    "$(median ref-epoll churn_ack.client_cpu) (epoll)"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: $REPS repetition(s), ${DUR}s runs, output in $OUT"
rotation=($SERVERS)
for rep in $(seq 1 "$REPS"); do
	log "repetition $rep"
	for i in 0 1 2; do
		kind=${rotation[$(((i + rep - 1) % 3))]}
		bench_churn_echo "$kind"
		bench_hold "$kind"
		bench_ports "$kind"
	done
	bench_logging "$rep"
done
log "concurrency sweep: $SWEEP"
bench_sweep
[ -n "$PNG" ] && plot_sweep "$PNG"
{
	echo "mpserver bench $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) CPUs," \
	    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
	    "kernel $(uname -r); load average before $LOAD0, after" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	table
	echo
	echo "churn ack against concurrency (server, C, conn/s, p99 µs, errors):"
	sed 's/^/    /' "$OUT/sweep.tsv"
} | tee "$OUT/table.md"
