# Shared shell helpers for every script that runs mpserver or a reference server.
#
# Starting a server, waiting for its "ready" line through a FIFO, a bounded
# stop, free loopback ports, and the few assertions every test uses. Several
# servers may run at once: each has a NAME its caller picks, and its state
# (pid, stdout so far, stderr file, FIFO descriptor, exit status) is kept
# per name in the MP_* arrays. tests/e2e/lib.sh and tests/deploy/lib.sh are
# thin layers over this file; tests/load/smoke.sh uses it directly.
#
#	. "$(dirname "$0")/../lib.sh"
#	mp_init e2e			# MP_TMP, a cleanup trap, PASS/FAIL line
#	mp_start a "$MPSERVER" 0 0:echo || fail "$MP_ERROR"
#	port=$(mp_port a 2)		# port of a's 2nd "listening" line
#	mp_stop a || fail "$MP_ERROR"	# SIGTERM, bounded wait
#	assert_eq "${MP_RC[a]}" 0 "exit status"
#
# A script with an EXIT trap of its own (scripts/bench.sh) sets MP_TMP
# itself, skips mp_init and calls mp_cleanup from its trap. Nothing here
# needs `set -e` or breaks under `set -euo pipefail`.
#
# Every wait is bounded: MP_TIMEOUT seconds (whole seconds, 10 by default)
# unless a call says otherwise. Start-up reads the server's stdout through
# a FIFO up to the "ready" line instead of sleeping; the FIFO stays open, so
# a server never finds its stdout gone. Failures return 1 with the reason
# in MP_ERROR; the unprefixed helpers (fail, wait_for ...) are the tests'
# conveniences and exit on failure.

# shellcheck shell=bash disable=SC2034 # MP_RC, MP_EXIT are for the callers
MP_TIMEOUT=${MP_TIMEOUT:-10}
MP_NAME=${MP_NAME:-$(basename "$0" .sh)}
MP_TMP=${MP_TMP:-}
MP_PIDS=
MP_ERROR=
MP_EXIT=
declare -gA MP_PID=() MP_FD=() MP_OUT=() MP_ERR=() MP_RC=()

# mp_init KIND: a temporary directory (MP_TMP, removed at exit) and traps
# that kill every tracked process and print "PASS: NAME" or "FAIL: NAME".
mp_init() {
	MP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpserver-${1:-test}.XXXXXX")
	trap mp_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

mp_exit() {
	local rc=$?

	mp_cleanup
	case $rc in
	0) echo "PASS: $MP_NAME" ;;
	77) ;;
	*) echo "FAIL: $MP_NAME (exit $rc)" >&2 ;;
	esac
	exit "$rc"
}

# mp_cleanup: kill (SIGKILL) every tracked process still alive, reap it,
# remove MP_TMP.
mp_cleanup() {
	local pid

	for pid in $MP_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [ -n "$MP_TMP" ]; then
		rm -rf "$MP_TMP"
	fi
}

# mp_track PID: have the cleanup kill it.
mp_track() {
	MP_PIDS="$MP_PIDS $1"
}

# mp_now_ms: wall clock in milliseconds.
mp_now_ms() {
	local t=${EPOCHREALTIME/./}

	echo $((t / 1000))
}

# mp_free_ports N: N distinct TCP ports of 127.0.0.1, free a moment ago
# (all held at once while chosen, so they differ), one a line.
mp_free_ports() {
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
for s in ss:
    print(s.getsockname()[1])' "${1:-1}"
}

mp_free_port() {
	mp_free_ports 1
}

# mp_free_block N: the first of N consecutive ports of 127.0.0.1, all free a
# moment ago (no listener, no connection, no TIME_WAIT), for tests that
# need fixed ports or a range. Picked at random outside the kernel's
# ephemeral range, so no client's port can take one in the meantime.
mp_free_block() {
	python3 -c 'import random, socket, sys
n = int(sys.argv[1])
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
spans = [(s, e) for s, e in ((10000, lo), (hi + 1, 65536)) if e - s > n]
for _ in range(200):
    s, e = random.choice(spans)
    base = random.randrange(s, e - n)
    held = []
    try:
        for p in range(base, base + n):
            k = socket.socket()
            held.append(k)
            k.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for k in held:
            k.close()
    print(base)
    sys.exit(0)
sys.exit("no block of %d free ports" % n)' "$1"
}

# mp_bindable PORT: true when 127.0.0.1:PORT can be bound right now (as a
# server would, with SO_REUSEADDR: a TIME_WAIT left over does not count).
mp_bindable() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)' "$1"
}

# mp_gone PID: true once PID (a child of this shell) has exited; a child
# that has exited stays a zombie until waited for.
mp_gone() {
	local stat=

	read -r stat 2>/dev/null <"/proc/$1/stat" || true
	stat=${stat##*) }
	case $stat in
	"" | Z*) return 0 ;;
	esac
	return 1
}

# mp_ms SECONDS: SECONDS (fractions allowed) in milliseconds.
mp_ms() {
	awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'
}

# mp_wait_exit PID SECONDS: wait for PID (a child) to end, at most SECONDS;
# 0 and its status in MP_EXIT if it did, 1 if it is still running.
mp_wait_exit() {
	local pid=$1 deadline

	deadline=$(($(mp_now_ms) + $(mp_ms "$2")))
	until mp_gone "$pid"; do
		[ "$(mp_now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
	MP_EXIT=0
	wait "$pid" || MP_EXIT=$?
	return 0
}

# mp_poll SECONDS CMD...: run CMD until it succeeds, at most SECONDS; 1 if
# it never did.
mp_poll() {
	local deadline

	deadline=$(($(mp_now_ms) + $(mp_ms "$1")))
	shift
	until "$@"; do
		[ "$(mp_now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# mp_start NAME CMD [ARG...]: run CMD (stdin /dev/null, stdout a FIFO read
# here, stderr a file) and wait for its "ready" line. 1 with MP_ERROR set
# if it exits first (its status in MP_RC[NAME]) or says nothing ready
# within MP_TIMEOUT seconds. A NAME may be used again once its server has
# stopped.
mp_start() {
	local name=$1 fifo line fd deadline left now secs

	shift
	[ -n "$MP_TMP" ] || { MP_ERROR="mp_start: MP_TMP is not set"; return 1; }
	MP_OUT[$name]=$MP_TMP/$name.out
	MP_ERR[$name]=$MP_TMP/$name.err
	MP_RC[$name]=
	fifo=$MP_TMP/$name.fifo
	rm -f "$fifo"
	mkfifo "$fifo" || { MP_ERROR="mkfifo $fifo failed"; return 1; }
	: >"${MP_OUT[$name]}"
	"$@" >"$fifo" 2>"${MP_ERR[$name]}" </dev/null &
	MP_PID[$name]=$!
	mp_track "$!"
	exec {fd}<"$fifo"
	MP_FD[$name]=$fd
	deadline=$(($(mp_now_ms) + MP_TIMEOUT * 1000))
	while :; do
		# No $(mp_now_ms) here: a fork a line is seconds for 4096 lines.
		now=${EPOCHREALTIME/./}
		left=$((deadline - now / 1000))
		printf -v secs '%d.%03d' $((left / 1000)) $((left % 1000))
		if [ "$left" -le 0 ] || ! IFS= read -r -t "$secs" -u "$fd" line
		then
			MP_ERROR="$(basename "$1") ${*:2}"
			if mp_wait_exit "${MP_PID[$name]}" 0.5; then
				MP_RC[$name]=$MP_EXIT
				MP_ERROR="$MP_ERROR exited $MP_EXIT before its ready line"
			else
				MP_ERROR="$MP_ERROR gave no ready line within ${MP_TIMEOUT}s"
			fi
			return 1
		fi
		printf '%s\n' "$line" >>"${MP_OUT[$name]}"
		case $line in
		ready\ *) return 0 ;;
		esac
	done
}

# mp_pid NAME, mp_out NAME, mp_err NAME: its pid, the file of its stdout up
# to "ready", the file of its stderr.
mp_pid() {
	echo "${MP_PID[$1]:-}"
}

mp_out() {
	echo "${MP_OUT[$1]:-}"
}

mp_err() {
	echo "${MP_ERR[$1]:-}"
}

# mp_name_of PID: the NAME of the server started with that pid, or nothing.
mp_name_of() {
	local name

	for name in "${!MP_PID[@]}"; do
		if [ "${MP_PID[$name]}" = "$1" ]; then
			echo "$name"
			return 0
		fi
	done
	return 1
}

# mp_field_in FILE N F: of the Nth "listening" line of FILE, field F
# (1 = ADDR:PORT, 2 = SERVICE).
mp_field_in() {
	awk -v n="$2" -v f="$3" '
	    $1 == "listening" && ++i == n { print $(f + 1); exit }' "$1"
}

# mp_port_in FILE N: the port of the Nth "listening" line of FILE.
mp_port_in() {
	local a

	a=$(mp_field_in "$1" "$2" 1)
	[ -n "$a" ] || return 1
	echo "${a##*:}"
}

# mp_field NAME N F, mp_port NAME N: the same for server NAME.
mp_field() {
	mp_field_in "${MP_OUT[$1]}" "$2" "$3"
}

mp_port() {
	mp_port_in "${MP_OUT[$1]}" "$2"
}

# mp_channels NAME: the number of its "listening" lines.
mp_channels() {
	grep -c '^listening ' "${MP_OUT[$1]}" || true
}

# mp_ports NAME: its ports in order, comma-separated (mpload's -p).
mp_ports() {
	awk '$1 == "listening" { sub(/.*:/, "", $2); printf "%s%s", s, $2;
	    s = "," } END { print "" }' "${MP_OUT[$1]}"
}

# mp_service_port NAME SERVICE: the port of its first SERVICE channel.
mp_service_port() {
	awk -v s="$2" '$1 == "listening" && $3 == s { sub(/.*:/, "", $2);
	    print $2; exit }' "${MP_OUT[$1]}"
}

# mp_stop NAME [SIGNAL [SECONDS]]: signal server NAME (TERM), wait for it
# to exit (MP_TIMEOUT seconds); its exit status goes to MP_RC[NAME] and
# MP_EXIT, its FIFO is closed. 1 with MP_ERROR if it is still running.
mp_stop() {
	local name=$1 sig=${2:-TERM} secs=${3:-$MP_TIMEOUT} pid fd

	pid=${MP_PID[$name]:-}
	[ -n "$pid" ] || { MP_ERROR="no server called $name"; return 1; }
	kill -"$sig" "$pid" 2>/dev/null || true
	if ! mp_wait_exit "$pid" "$secs"; then
		MP_ERROR="$name (pid $pid) still running ${secs}s after SIG$sig"
		return 1
	fi
	MP_RC[$name]=$MP_EXIT
	fd=${MP_FD[$name]:-}
	if [ -n "$fd" ]; then
		exec {fd}<&-
		MP_FD[$name]=
	fi
	return 0
}

# mp_wait_log FILE ERE [SECONDS]: wait for a line matching ERE in FILE and
# print the first; 1 if none came.
mp_wait_log() {
	local deadline

	deadline=$(($(mp_now_ms) + $(mp_ms "${3:-$MP_TIMEOUT}")))
	while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
		[ "$(mp_now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
	grep -Em1 -- "$2" "$1"
}

# --- The tests' conveniences (they exit on failure) -------------------------

# note MSG: progress on stdout, shown by ctest --output-on-failure.
note() {
	echo "-- $*"
}

# fail MSG: say what went wrong and exit 1 (the layers may add detail).
fail() {
	echo "FAIL: $MP_NAME: $*" >&2
	exit 1
}

# skip MSG: the test cannot run here; ctest shows it as skipped (77).
skip() {
	echo "SKIP: $MP_NAME: $*"
	exit 77
}

# need TOOL [PACKAGE]: skip unless TOOL is on PATH.
need() {
	command -v "$1" >/dev/null 2>&1 ||
	    skip "$1 is not installed (apt-get install ${2:-$1})"
}

# require TOOL [PACKAGE]: fail unless TOOL is on PATH (scripts/setup.sh
# installs it, so its absence is a broken set-up, not a reason to skip).
require() {
	command -v "$1" >/dev/null 2>&1 ||
	    fail "$1 is not installed (apt-get install ${2:-$1})"
}

# show FILE WHAT: the end of a file, for a failure report.
show() {
	if [ -s "$1" ]; then
		echo "---- $2 ($1):" >&2
		tail -n 40 "$1" >&2
	fi
}

# assert_eq GOT WANT WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected \"$2\", got \"$1\""
}

# assert_match GOT ERE WHAT
assert_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" ||
	    fail "$3: \"$1\" does not match /$2/"
}

track() {
	mp_track "$@"
}

now_ms() {
	mp_now_ms
}

free_port() {
	mp_free_port
}

gone() {
	mp_gone "$1"
}

# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds, at most SECONDS.
wait_for() {
	local secs=$1 what=$2

	shift 2
	mp_poll "$secs" "$@" || fail "$what: not within ${secs}s"
}
