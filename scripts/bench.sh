#!/usr/bin/env bash
# Benchmark mpserver side by side with reference servers and relays, on
# loopback only, and print tables of medians, ratios and the 0.2 targets.
#
#   scripts/bench.sh [-q] [-n] [-o DIR] [-r REPS] [--png FILE]
#     -q          quick: 1 repetition, 2 s runs, 2,000 held
#     -n          do not build (use BUILD, default build-load, as it is)
#     -o DIR      where results go (default BUILD/bench)
#     -r REPS     repetitions (default 3)
#     --png FILE  also draw churn rate and p99 against concurrency there
#
# Per repetition, each group in an order that rotates from one repetition
# to the next:
#  - mpserver, ref-epoll, ref-threads: churn (C=32, ack and echo),
#    persistent echo (C=64, 32 B), hold (10,000 clients; PSS at 2,000 and
#    10,000 for the slope), ports (1,000 and 100 channels on a free block
#    of ports, started by mpload and timed from fork);
#  - mpserver: churn ack at --log-level warn and info; 4,096 channels
#    under a 20,000-descriptor limit;
#  - relays in front of a ref-epoll echo backend: none (direct), an
#    mpserver forward channel, HAProxy (mode tcp), socat: churn echo and
#    persistent echo through each;
#  - bulk, 4 connections of 1 MiB round trips: direct to the backend,
#    through forward, through exec /bin/cat.
# Every load run is bounded by mpload's duration and timeouts, every wait
# for a server by MP_TIMEOUT (tests/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-load}
REPS=3 DUR=5 HOLD_N=10000 HOLD_MARK=2000 PORTS_N=1000 CHAN_N=4096
CHAN_NOFILE=20000 CHURN_C=32 ECHO_C=64 ECHO_S=32 BULK_C=4 BULK_S=1048576
SWEEP="1 4 16 64 256" SWEEP_DUR=2
OUT="" PNG="" BUILD_IT=1
SERVERS="mpserver ref-epoll ref-threads"
FRONTS="direct mpserver haproxy socat"
BULKS="direct forward exec"

usage() {
	echo "usage: $0 [-q] [-n] [-o DIR] [-r REPS] [--png FILE]"
}

while [ $# -gt 0 ]; do
	case $1 in
	-q) REPS=1 DUR=2 HOLD_N=2000 HOLD_MARK=500 SWEEP="1 16 64"
	    SWEEP_DUR=1 ;;
	-n) BUILD_IT=0 ;;
	-o) OUT=$2; shift ;;
	-r) REPS=$2; shift ;;
	--png) PNG=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
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
REF_EPOLL=$BUILD/tests/load/ref-epoll
for bin in "$MPSERVER" "$MPLOAD" "$REF_EPOLL" "$BUILD/tests/load/ref-threads"; do
	[ -x "$bin" ] || { echo "bench: $bin is not built" >&2; exit 1; }
done
for tool in haproxy:haproxy socat:socat ps:procps python3:python3; do
	command -v "${tool%:*}" >/dev/null || { echo "bench: ${tool%:*} is" \
	    "not installed (apt-get install ${tool#*:})" >&2; exit 1; }
done

# Held clients and 1,000 channels need descriptors (root may raise both).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
TICK=$(getconf CLK_TCK)
MP_TMP=$(mktemp -d)
MP_TIMEOUT=30
TMP=$MP_TMP
# shellcheck source=tests/lib.sh
. tests/lib.sh
RESULTS=$OUT/results.tsv
TARGETS=$TMP/targets.tsv
REP=0
: >"$RESULTS"

trap mp_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

die() {
	log "bench: $*"
	exit 1
}

# CPU ticks of a process, all its threads and its reaped children.
cpu_ticks() {
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"
}

pss_kib() {
	awk '/^Pss:/ { print $2; exit }' "/proc/$1/smaps_rollup"
}

threads_of() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# settle PID: until its thread count holds still for 0.2 s (idle clients
# give their thread back after 50 ms), at most 3 s.
settle() {
	local a b=x c=y i

	for i in $(seq 30); do
		a=$(threads_of "$1")
		[ "$a" = "$b" ] && [ "$b" = "$c" ] && return 0
		c=$b b=$a
		sleep 0.1
	done
}

# no_children PID: its forked relays (socat) or programs (exec) are gone,
# so their CPU is in its own counters.
no_children() {
	[ -z "$(ps -o pid= --ppid "$1" 2>/dev/null || true)" ]
}

jnum() {		# jnum KEY FILE: a number from the JSON line
	{ grep '^{' "$2" || true; } | sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p"
}

record() {		# record SERVER METRIC VALUE, for this repetition
	printf '%s\t%s\t%s\t%s\n' "$REP" "$1" "$2" "$3" >>"$RESULTS"
}

this_rep() {		# this_rep SERVER METRIC: its value in this repetition
	awk -F'\t' -v r="$REP" -v s="$1" -v m="$2" '$1 == r && $2 == s &&
	    $3 == m { v = $4 } END { print v }' "$RESULTS"
}

# The command line of server KIND for SERVICE (ack|echo) on PORTSPEC,
# where PORTSPEC is a comma-separated list of ports ("0,0,0,0") or ranges.
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

# start_server KIND SERVICE SPEC [LEVEL]: start it as "srv", wait for its
# ready line; sets SRV_PID and SRV_PORTS.
start_server() {
	local cmd

	cmd=$(server_cmd "$@")
	# shellcheck disable=SC2086
	if ! mp_start srv $cmd; then
		show "$(mp_err srv)" "server stderr"
		die "$MP_ERROR"
	fi
	SRV_PID=$(mp_pid srv)
	SRV_PORTS=$(mp_ports srv)
}

# stop_server KIND [NAME]: SIGTERM; the exit status is a result too.
stop_server() {
	local kind=$1 name=${2:-srv}

	if ! mp_stop "$name" TERM 30; then
		log "bench: $MP_ERROR; killed"
		mp_stop "$name" KILL 10 || true
	fi
	record "$kind" exit_status "${MP_RC[$name]}"
}

# load_run KIND METRIC PID MPLOAD-ARGS...: one mpload run; records rate,
# latencies, errors, MB/s (bulk) and the CPU of process PID per
# operation, children included, under the name METRIC.
load_run() {
	local kind=$1 metric=$2 pid=$3 c0 c1 count f=$TMP/load.out

	shift 3
	c0=$(cpu_ticks "$pid")
	"$MPLOAD" "$@" >"$f" 2>&1 || true
	mp_poll 3 no_children "$pid" || true
	c1=$(cpu_ticks "$pid")
	count=$(jnum count "$f")
	record "$kind" "$metric.rate" "$(jnum rate "$f")"
	record "$kind" "$metric.p50" "$(jnum p50_us "$f")"
	record "$kind" "$metric.p99" "$(jnum p99_us "$f")"
	record "$kind" "$metric.errors" "$(jnum errors "$f")"
	record "$kind" "$metric.client_cpu" "$(jnum client_cpu_s "$f")"
	[ -n "$(jnum mb_s "$f")" ] && record "$kind" "$metric.mb_s" \
	    "$(jnum mb_s "$f")"
	record "$kind" "$metric.cpu_us" "$(awk -v t=$((c1 - c0)) -v k="$TICK" \
	    -v n="${count:-0}" 'BEGIN { printf "%.1f", n ? t / k * 1e6 / n : 0 }')"
	log "  $kind $metric: rate $(jnum rate "$f")/s" \
	    "p99 $(jnum p99_us "$f") us errors $(jnum errors "$f")" \
	    "$([ -n "$(jnum mb_s "$f")" ] && echo "$(jnum mb_s "$f") MB/s")"
}

bench_churn_echo() {
	local kind=$1

	start_server "$kind" ack 0,0,0,0
	load_run "$kind" churn_ack "$SRV_PID" churn -e ack -p "$SRV_PORTS" \
	    -c "$CHURN_C" -d "$DUR"
	stop_server "$kind"
	start_server "$kind" echo 0,0,0,0
	load_run "$kind" churn_echo "$SRV_PID" churn -e echo -p "$SRV_PORTS" \
	    -c "$CHURN_C" -d "$DUR"
	load_run "$kind" echo "$SRV_PID" echo -p "$SRV_PORTS" -c "$ECHO_C" \
	    -s "$ECHO_S" -d "$DUR"
	stop_server "$kind"
}

# The same churn at warn and at info, back to back; the log goes to a
# file, as it would in production.
bench_logging() {
	local level order="warn info" w i

	[ $((REP % 2)) = 0 ] && order="info warn"
	for level in $order; do
		start_server mpserver ack 0,0,0,0 "$level"
		load_run mpserver "churn_ack_$level" "$SRV_PID" churn -e ack \
		    -p "$SRV_PORTS" -c "$CHURN_C" -d "$DUR"
		record mpserver "log_bytes_$level" "$(stat -c %s "$(mp_err srv)")"
		stop_server mpserver
	done
	w=$(this_rep mpserver churn_ack_warn.cpu_us)
	i=$(this_rep mpserver churn_ack_info.cpu_us)
	record mpserver log_cost_cpu "$(awk -v w="$w" -v i="$i" 'BEGIN {
	    if (w + 0 > 0) printf "%.1f", 100 * (i / w - 1) }')"
	w=$(this_rep mpserver churn_ack_warn.rate)
	i=$(this_rep mpserver churn_ack_info.rate)
	record mpserver log_cost_rate "$(awk -v w="$w" -v i="$i" 'BEGIN {
	    if (w + 0 > 0) printf "%.1f", 100 * (1 - i / w) }')"
}

# Hold HOLD_N clients; PSS at HOLD_MARK and at HOLD_N gives the slope,
# each read once the server's threads have settled.
bench_hold() {
	local kind=$1 line p1=0 p2=0 lp stage=0 fd

	start_server "$kind" echo 0,0,0,0
	rm -f "$TMP/hold.fifo"
	mkfifo "$TMP/hold.fifo"
	"$MPLOAD" hold -p "$SRV_PORTS" -c "$HOLD_N" --pause-at "$HOLD_MARK" \
	    --hold 120 -t 20 >"$TMP/hold.fifo" 2>&1 &
	lp=$!
	mp_track "$lp"
	exec {fd}<"$TMP/hold.fifo"
	while IFS= read -r -t 150 -u "$fd" line; do
		case $line in
		"held "*)
			stage=$((stage + 1))
			settle "$SRV_PID"
			if [ $stage = 1 ]; then
				p1=$(pss_kib "$SRV_PID")
			else
				p2=$(pss_kib "$SRV_PID")
				record "$kind" hold.threads "$(threads_of "$SRV_PID")"
			fi
			kill -USR1 "$lp"
			[ $stage = 2 ] && break ;;
		esac
	done
	cat <&"$fd" >"$TMP/load.out"
	wait "$lp" || true
	exec {fd}<&-
	record "$kind" hold.held "$(jnum held "$TMP/load.out")"
	record "$kind" hold.errors "$(jnum errors "$TMP/load.out")"
	record "$kind" hold.establish_ms "$(awk -v s="$(jnum elapsed_s \
	    "$TMP/load.out")" 'BEGIN { printf "%.1f", s * 1000 }')"
	record "$kind" hold.verify_p99 "$(jnum verify_p99_us "$TMP/load.out")"
	record "$kind" hold.open_ms "$(jnum open_ms "$TMP/load.out")"
	record "$kind" hold.verify_ms "$(jnum verify_ms "$TMP/load.out")"
	record "$kind" hold.pss_mark_kib "$p1"
	record "$kind" hold.pss_all_kib "$p2"
	record "$kind" hold.kib_per_client "$(awk -v a="$p1" -v b="$p2" \
	    -v n=$((HOLD_N - HOLD_MARK)) 'BEGIN { printf "%.2f", (b - a) / n }')"
	log "  $kind hold: held $(jnum held "$TMP/load.out")" \
	    "in $(jnum elapsed_s "$TMP/load.out") s, PSS $p1 -> $p2 KiB"
	stop_server "$kind"
}

# block N: the first of N consecutive free ports outside the kernel's
# ephemeral range. Not port 0: binding 4,096 port-0 listeners while
# earlier runs' connections hold ephemeral ports in TIME_WAIT costs the
# kernel seconds of port search, which is no part of mpserver's start-up.
block() {
	mp_free_block "$1" || die "no block of $1 free ports"
}

# ports_once KIND N TAG: N echo channels, started by mpload and timed from
# fork: the ready line, PSS then (idle channels, probed only from the
# ready line on) and once every channel answered a probe, the SIGTERM stop.
# A block another program took in the meantime is a failed start: retried.
ports_once() {
	local kind=$1 n=$2 tag=$3 cmd f=$TMP/load.out base

	for _ in 1 2 3; do
		base=$(block "$n")
		cmd=$(server_cmd "$kind" echo "$base-$((base + n - 1))")
		# shellcheck disable=SC2086
		"$MPLOAD" ports -p 0 -c 64 -t 20 -- $cmd >"$f" \
		    2>"$TMP/ports.err" || true
		[ "$(jnum exit "$f")" = 0 ] && break
	done
	record "$kind" "$tag.ready_ms" "$(jnum ready_ms "$f")"
	record "$kind" "$tag.all_ms" "$(jnum all_ms "$f")"
	record "$kind" "$tag.pss_ready_kib" "$(jnum pss_ready_kib "$f")"
	record "$kind" "$tag.pss_kib" "$(jnum pss_kib "$f")"
	record "$kind" "$tag.stop_ms" "$(jnum stop_ms "$f")"
	record "$kind" "$tag.errors" "$(jnum errors "$f")"
	record "$kind" "$tag.exit" "$(jnum exit "$f")"
}

per_channel() {		# per_channel KIND METRIC: the slope, 100 to 1,000
	awk -v a="$(this_rep "$1" "ports.$2")" \
	    -v b="$(this_rep "$1" "ports_small.$2")" \
	    -v n=$((PORTS_N - PORTS_N / 10)) 'BEGIN {
	    if (a != "" && b != "") printf "%.1f", (a - b) / n }'
}

bench_ports() {
	local kind=$1

	ports_once "$kind" "$PORTS_N" ports
	ports_once "$kind" $((PORTS_N / 10)) ports_small
	record "$kind" ports.kib_per_channel "$(per_channel "$kind" \
	    pss_ready_kib)"
	record "$kind" ports.kib_per_served "$(per_channel "$kind" pss_kib)"
	log "  $kind ports: $PORTS_N channels ready in" \
	    "$(this_rep "$kind" ports.ready_ms) ms, PSS" \
	    "$(this_rep "$kind" ports.pss_ready_kib) KiB" \
	    "($(this_rep "$kind" ports.kib_per_channel) KiB a channel)," \
	    "$(this_rep "$kind" ports.pss_kib) KiB once each answered," \
	    "SIGTERM $(this_rep "$kind" ports.stop_ms) ms"
}

# CHAN_N channels (ack, the default service) under a CHAN_NOFILE
# descriptor limit, hard too where we may set it.
bench_channels() {
	local f=$TMP/load.out base

	for _ in 1 2 3; do
		base=$(block "$CHAN_N")
		(
			ulimit -n "$CHAN_NOFILE" 2>/dev/null ||
			    ulimit -Sn "$(ulimit -Hn)"
			ulimit -n >"$TMP/chan.nofile"
			exec "$MPLOAD" ports -p 0 -c 64 -t 30 -- "$MPSERVER" \
			    --log-level warn "$base-$((base + CHAN_N - 1))"
		) >"$f" 2>"$TMP/chan.err" || true
		[ "$(jnum exit "$f")" = 0 ] && break
	done
	record mpserver chan.nofile "$(cat "$TMP/chan.nofile")"
	record mpserver chan.channels "$(jnum channels "$f")"
	record mpserver chan.ready_ms "$(jnum ready_ms "$f")"
	record mpserver chan.all_ms "$(jnum all_ms "$f")"
	record mpserver chan.pss_ready_mib "$(awk -v k="$(jnum pss_ready_kib \
	    "$f")" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }')"
	record mpserver chan.pss_mib "$(awk -v k="$(jnum pss_kib "$f")" \
	    'BEGIN { if (k != "") printf "%.1f", k / 1024 }')"
	record mpserver chan.stop_ms "$(jnum stop_ms "$f")"
	record mpserver chan.errors "$(jnum errors "$f")"
	record mpserver chan.exit "$(jnum exit "$f")"
	log "  mpserver $CHAN_N channels (limit $(cat "$TMP/chan.nofile")):" \
	    "ready in $(jnum ready_ms "$f") ms, PSS" \
	    "$(this_rep mpserver chan.pss_ready_mib) MiB," \
	    "$(this_rep mpserver chan.pss_mib) MiB once each answered," \
	    "SIGTERM $(jnum stop_ms "$f") ms"
}

# wait_listening PORT PID: until PORT takes a connection (PID still alive),
# MP_TIMEOUT at most.
wait_listening() {
	"$MPLOAD" ports -p "$1" -e connect -c 1 -t "$MP_TIMEOUT" >/dev/null \
	    2>&1 && ! mp_gone "$2"
}

haproxy_conf() {	# haproxy_conf PORT BACKEND: a TCP relay, nothing more
	cat <<EOF
global
	maxconn 4096
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend relay
	bind 127.0.0.1:$1
	default_backend echo
backend echo
	server echo 127.0.0.1:$2
EOF
}

# relay_start FRONT: in front of BACKEND; sets RELAY_PID and RELAY_PORT.
relay_start() {
	local front=$1

	case $front in
	direct)
		RELAY_PID=$BACKEND_PID RELAY_PORT=$BACKEND
		return ;;
	mpserver)
		mp_start relay "$MPSERVER" --log-level warn \
		    "0:forward=127.0.0.1:$BACKEND" || die "$MP_ERROR"
		RELAY_PID=$(mp_pid relay) RELAY_PORT=$(mp_port relay 1)
		return ;;
	esac
	for _ in 1 2 3; do
		RELAY_PORT=$(mp_free_block 1)
		if [ "$front" = haproxy ]; then
			haproxy_conf "$RELAY_PORT" "$BACKEND" >"$TMP/haproxy.cfg"
			haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/relay.log" 2>&1 &
		else
			# socat listens with a backlog of 5 unless told.
			socat "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,fork,reuseaddr,backlog=1024" \
			    "TCP:127.0.0.1:$BACKEND" >"$TMP/relay.log" 2>&1 &
		fi
		RELAY_PID=$!
		mp_track "$RELAY_PID"
		wait_listening "$RELAY_PORT" "$RELAY_PID" && return 0
		kill -KILL "$RELAY_PID" 2>/dev/null || true
		wait "$RELAY_PID" 2>/dev/null || true
	done
	show "$TMP/relay.log" "$front"
	die "$front did not start"
}

relay_stop() {
	case $1 in
	direct) ;;
	mpserver) stop_server relay-mpserver relay ;;
	*)
		kill -TERM "$RELAY_PID" 2>/dev/null || true
		if ! mp_wait_exit "$RELAY_PID" 10; then
			kill -KILL "$RELAY_PID" 2>/dev/null || true
			wait "$RELAY_PID" 2>/dev/null || true
		fi ;;
	esac
}

# Churn echo and persistent echo through each front, in turn.
bench_relay() {
	local fronts i front

	read -ra fronts <<<"$FRONTS"
	for i in 0 1 2 3; do
		front=${fronts[$(((i + REP - 1) % 4))]}
		relay_start "$front"
		load_run "relay-$front" churn_echo "$RELAY_PID" churn -e echo \
		    -p "$RELAY_PORT" -c "$CHURN_C" -d "$DUR"
		load_run "relay-$front" echo "$RELAY_PID" echo -p "$RELAY_PORT" \
		    -c "$ECHO_C" -s "$ECHO_S" -d "$DUR"
		relay_stop "$front"
	done
}

# BULK_C connections of BULK_S-byte round trips: the client sends the
# bytes and reads them all back (both at once), each byte checked.
bench_bulk() {
	local kinds i k pid port

	read -ra kinds <<<"$BULKS"
	mp_start bulk "$MPSERVER" --log-level warn \
	    "0:forward=127.0.0.1:$BACKEND,0:exec=/bin/cat" || die "$MP_ERROR"
	for i in 0 1 2; do
		k=${kinds[$(((i + REP - 1) % 3))]}
		case $k in
		direct) pid=$BACKEND_PID port=$BACKEND ;;
		forward) pid=$(mp_pid bulk) port=$(mp_port bulk 1) ;;
		exec) pid=$(mp_pid bulk) port=$(mp_port bulk 2) ;;
		esac
		load_run "bulk-$k" bulk "$pid" bulk -p "$port" -c "$BULK_C" \
		    -s "$BULK_S" -d "$DUR" -t 10
	done
	stop_server bulk-mpserver bulk
}

bench_relays() {
	mp_start backend "$REF_EPOLL" 0 || die "$MP_ERROR"
	BACKEND_PID=$(mp_pid backend) BACKEND=$(mp_port backend 1)
	bench_relay
	bench_bulk
	stop_server backend backend
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

# --- The tables -------------------------------------------------------------

median_of() {		# the median of the numbers on stdin, or "-"
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	    else if (NR % 2) print v[(NR + 1) / 2];
	    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

median() {		# median SERVER METRIC
	awk -F'\t' -v s="$1" -v m="$2" '$2 == s && $3 == m && $4 != "" {
	    print $4 }' "$RESULTS" | median_of
}

# pratio A B METRIC: the median over repetitions of A's value over B's in
# the same repetition (the two measured minutes apart, not a run apart).
pratio() {
	awk -F'\t' -v a="$1" -v b="$2" -v m="$3" '$3 == m && $4 != "" {
	    if ($2 == a) x[$1] = $4; else if ($2 == b) y[$1] = $4 }
	    END { for (r in x) { if ((r in y) && y[r] + 0 != 0)
	    print x[r] / y[r] } }' "$RESULTS" | median_of |
	    awk '{ if ($1 == "-") print; else printf "%.2f\n", $1 }'
}

verdict() {		# verdict VALUE ge|gt|le|lt LIMIT: met, missed or -
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
	    if (v == "-" || v == "") { print "-"; exit }
	    if (op == "ge") ok = v >= l; else if (op == "gt") ok = v > l
	    else if (op == "le") ok = v <= l; else ok = v < l
	    print ok ? "met" : "missed" }'
}

# trow LABEL METRIC "SERVERS" "A/B ..." [TARGET CHECK]...: one table row:
# the median of each server, the paired ratios, then each target with its
# verdict. CHECK is "r1|r2|v1 OP LIMIT": the first or second ratio, or the
# first server's median, against LIMIT.
trow() {
	local label=$1 metric=$2 servers=$3 ratios=$4 s p x kind op lim vd
	local cells="" text="" verdicts="" vals=() rs=()

	shift 4
	for s in $servers; do
		vals+=("$(median "$s" "$metric")")
		cells="$cells ${vals[-1]} |"
	done
	for p in $ratios; do
		rs+=("$(pratio "${p%/*}" "${p#*/}" "$metric")")
		cells="$cells ${rs[-1]} |"
	done
	while [ $# -ge 2 ]; do
		read -r kind op lim <<<"$2"
		case $kind in
		r1) x=${rs[0]} ;;
		r2) x=${rs[1]} ;;
		*) x=${vals[0]} ;;
		esac
		vd=$(verdict "$x" "$op" "$lim")
		text="${text:+$text; }$1"
		verdicts="${verdicts:+$verdicts; }$vd"
		printf '%s\t%s\t%s\t%s\n' "$label" "$1" "$x" "$vd" >>"$TARGETS"
		shift 2
	done
	echo "| $label |$cells $text | $verdicts |"
}

table_main() {
	local s="$SERVERS" r="mpserver/ref-epoll mpserver/ref-threads"
	local small=$((PORTS_N / 10))

	echo "| metric (median of $REPS) | mpserver | ref-epoll | ref-threads" \
	    "| mp/epoll | mp/threads | target | verdict |"
	echo "|---|---:|---:|---:|---:|---:|---|---|"
	trow "churn ack, C=$CHURN_C: conn/s" churn_ack.rate "$s" "$r" \
	    "≥ 1.0× epoll" "r1 ge 1.0"
	trow "churn ack: p99 µs" churn_ack.p99 "$s" "$r"
	trow "churn ack: server CPU µs/conn" churn_ack.cpu_us "$s" "$r"
	trow "churn echo, C=$CHURN_C: conn/s" churn_echo.rate "$s" "$r" \
	    "≥ 0.8× epoll" "r1 ge 0.8"
	trow "churn echo: p99 µs" churn_echo.p99 "$s" "$r"
	trow "churn echo: server CPU µs/conn" churn_echo.cpu_us "$s" "$r"
	trow "echo C=$ECHO_C ${ECHO_S} B: round trips/s" echo.rate "$s" "$r" \
	    "≥ 0.8× epoll" "r1 ge 0.8" "≥ 1.0× threads" "r2 ge 1.0"
	trow "echo: p99 µs" echo.p99 "$s" "$r"
	trow "echo: server CPU µs/round trip" echo.cpu_us "$s" "$r"
	trow "hold $HOLD_N: verified" hold.held "$s" "$r" "all" \
	    "v1 ge $HOLD_N"
	trow "hold: establish ms (open + verify)" hold.establish_ms "$s" "$r" \
	    "≤ 1.3× epoll" "r1 le 1.3"
	trow "hold: of which opening ms" hold.open_ms "$s" "$r"
	trow "hold: of which verifying ms" hold.verify_ms "$s" "$r"
	trow "hold: verify p99 µs" hold.verify_p99 "$s" "$r"
	trow "hold: PSS KiB per client ($HOLD_MARK→$HOLD_N)" \
	    hold.kib_per_client "$s" "$r" "≤ 6 KiB" "v1 le 6"
	trow "hold: threads at $HOLD_N" hold.threads "$s" "$r"
	trow "ports $PORTS_N: ready line ms" ports.ready_ms "$s" "$r" \
	    "< 1000 ms (0.1)" "v1 lt 1000"
	trow "ports $PORTS_N: all answered ms" ports.all_ms "$s" "$r"
	trow "ports $PORTS_N: PSS KiB at ready" ports.pss_ready_kib "$s" "$r"
	trow "ports $PORTS_N: PSS KiB once each answered" ports.pss_kib "$s" \
	    "$r"
	trow "ports $PORTS_N: SIGTERM to exit ms" ports.stop_ms "$s" "$r" \
	    "< 100 ms" "v1 lt 100"
	trow "ports $small: PSS KiB at ready" ports_small.pss_ready_kib "$s" \
	    "$r"
	trow "ports: PSS KiB per idle channel ($small→$PORTS_N)" \
	    ports.kib_per_channel "$s" "$r" "≤ 16 KiB" "v1 le 16"
	trow "ports: PSS KiB per channel once each answered" \
	    ports.kib_per_served "$s" "$r"
}

table_channels() {
	echo "| $CHAN_N channels (mpserver, ack, limit" \
	    "$(median mpserver chan.nofile) descriptors) | mpserver | target |" \
	    "verdict |"
	echo "|---|---:|---|---|"
	trow "fork to ready line, ms" chan.ready_ms mpserver "" "< 2000 ms" \
	    "v1 lt 2000"
	trow "PSS at ready, MiB" chan.pss_ready_mib mpserver "" "≤ 160 MiB" \
	    "v1 le 160"
	trow "all $CHAN_N answered a probe, ms from fork" chan.all_ms mpserver ""
	trow "PSS once each answered, MiB" chan.pss_mib mpserver ""
	trow "SIGTERM to exit, ms" chan.stop_ms mpserver ""
}

table_relay() {
	local s="relay-direct relay-mpserver relay-haproxy relay-socat"
	local r="relay-mpserver/relay-haproxy relay-mpserver/relay-socat"

	echo "| relay to a ref-epoll echo backend (median of $REPS) | direct" \
	    "| mpserver forward | HAProxy | socat | mp/HAProxy | mp/socat" \
	    "| target | verdict |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
	trow "churn echo, C=$CHURN_C: conn/s" churn_echo.rate "$s" "$r" \
	    "≥ 0.75× HAProxy" "r1 ge 0.75" "> 1.0× socat" "r2 gt 1.0"
	trow "churn echo: p99 µs" churn_echo.p99 "$s" "$r" "< socat" \
	    "r2 lt 1.0"
	trow "churn echo: relay CPU µs/conn" churn_echo.cpu_us "$s" "$r" \
	    "< socat" "r2 lt 1.0"
	trow "echo C=$ECHO_C ${ECHO_S} B: round trips/s" echo.rate "$s" "$r" \
	    "≥ 0.75× HAProxy" "r1 ge 0.75" "> 1.0× socat" "r2 gt 1.0"
	trow "echo: p99 µs" echo.p99 "$s" "$r" "< socat" "r2 lt 1.0"
	trow "echo: relay CPU µs/round trip" echo.cpu_us "$s" "$r" "< socat" \
	    "r2 lt 1.0"
}

table_bulk() {
	local s="bulk-direct bulk-forward bulk-exec"
	local r="bulk-forward/bulk-direct bulk-exec/bulk-direct"

	echo "| bulk, C=$BULK_C, $((BULK_S / 1048576)) MiB round trips" \
	    "(median of $REPS) | direct | forward | exec /bin/cat" \
	    "| forward/direct | exec/direct | target | verdict |"
	echo "|---|---:|---:|---:|---:|---:|---|---|"
	trow "MB/s (bytes echoed back, 10⁶ B)" bulk.mb_s "$s" "$r" \
	    "forward ≥ 0.5× direct" "r1 ge 0.5" "exec ≥ 0.5× direct" \
	    "r2 ge 0.5"
	trow "round trip p50 µs" bulk.p50 "$s" "$r"
	trow "round trip p99 µs" bulk.p99 "$s" "$r"
	trow "CPU µs per round trip (direct: the backend's)" bulk.cpu_us "$s" \
	    "$r"
}

table_logging() {
	local s=mpserver

	echo "| logging (mpserver churn ack, C=$CHURN_C) | mpserver | target" \
	    "| verdict |"
	echo "|---|---:|---|---|"
	trow "--log-level warn: conn/s" churn_ack_warn.rate $s ""
	trow "--log-level info (stderr to a file): conn/s" churn_ack_info.rate \
	    $s ""
	trow "warn: server CPU µs/conn" churn_ack_warn.cpu_us $s ""
	trow "info: server CPU µs/conn" churn_ack_info.cpu_us $s ""
	trow "info's cost: rate −%" log_cost_rate $s ""
	trow "info's cost: CPU +% (paired)" log_cost_cpu $s "" \
	    "≤ 25 % (0.1)" "v1 le 25"
}

summary() {
	local met missed

	met=$(awk -F'\t' '$4 == "met"' "$TARGETS" | wc -l)
	missed=$(awk -F'\t' '$4 == "missed"' "$TARGETS" | wc -l)
	echo "targets: $met met, $missed missed"
	awk -F'\t' '$4 == "missed" { printf "  missed: %s: %s (%s)\n", $1, $2,
	    $3 }' "$TARGETS"
	echo "errors (sum over all runs): $(awk -F'\t' '$3 ~ /errors$/ {
	    s += $4 } END { print s + 0 }' "$RESULTS");" \
	    "exit statuses on SIGTERM: $(awk -F'\t' '$3 ~ /exit/ {
	    print $2 "=" $4 }' "$RESULTS" | sort | uniq -c | awk '{
	    printf "%s%s×%s", sep, $2, $1; sep = ", " }')"
	echo "client CPU (s of one core over $DUR s): churn ack" \
	    "$(median mpserver churn_ack.client_cpu) (mpserver)," \
	    "$(median ref-epoll churn_ack.client_cpu) (epoll)"
}

machine() {
	local rev

	if rev=$(git rev-parse --short HEAD 2>/dev/null); then
		git diff --quiet HEAD 2>/dev/null || rev="$rev+changes"
	else
		rev="not a git tree"
	fi
	echo "mpserver bench $(date -u +%Y-%m-%dT%H:%MZ), $rev: $(nproc) CPUs," \
	    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
	    "kernel $(uname -r), libevent $(pkg-config --modversion libevent \
	    2>/dev/null || echo "?"), $(haproxy -v | awk 'NR == 1 {
	    print "HAProxy", $3 }'), socat $(socat -V | awk '/socat version/ {
	    print $3 }'); load average before $LOAD0, after" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: $REPS repetition(s), ${DUR}s runs, output in $OUT"
read -ra rotation <<<"$SERVERS"
for REP in $(seq 1 "$REPS"); do
	log "repetition $REP"
	for i in 0 1 2; do
		kind=${rotation[$(((i + REP - 1) % 3))]}
		bench_churn_echo "$kind"
		bench_hold "$kind"
		bench_ports "$kind"
	done
	bench_logging
	bench_channels
	bench_relays
done
log "concurrency sweep: $SWEEP"
bench_sweep
[ -n "$PNG" ] && plot_sweep "$PNG"
: >"$TARGETS"
{
	machine
	echo
	table_main
	echo
	table_channels
	echo
	table_relay
	echo
	table_bulk
	echo
	table_logging
	echo
	summary
	echo
	echo "churn ack against concurrency (server, C, conn/s, p99 µs, errors):"
	sed 's/^/    /' "$OUT/sweep.tsv"
} | tee "$OUT/table.md"
