# Shared helpers for the deploy tests (install, man page, units, package,
# HAProxy, SO_REUSEPORT). A test script does:
#
#	set -eu
#	. "$(dirname "$0")/lib.sh"
#	deploy_init			# temporary directory $T, cleanup trap
#	need haproxy			# or skip (exit 77) with a clear message
#	srv_start "$MPSERVER" 0:cmd	# waits for "ready"; SRV_PID SRV_OUT SRV_ERR
#	port=$(srv_port "$SRV_OUT" 1)	# port of the 1st "listening" line
#	srv_stop "$SRV_PID"		# SIGTERM, bounded wait; SRV_RC
#
# Every wait is bounded by DEPLOY_TIMEOUT seconds (10 by default): start-up
# reads the server's stdout through a FIFO up to its "ready" line instead of
# sleeping, and the other waits poll a condition against a deadline. The
# trap kills every process started with `track` and removes $T.

DEPLOY_TIMEOUT=${DEPLOY_TIMEOUT:-10}
DEPLOY_NAME=$(basename "$0" .sh)
DEPLOY_PIDS=
SRV_N=0
SRV_PID=
SRV_OUT=
SRV_ERR=
SRV_RC=

deploy_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/mpserver-deploy.XXXXXX")
	trap deploy_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

deploy_cleanup() {
	local rc=$? pid
	for pid in $DEPLOY_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$T"
	case $rc in
	0) echo "PASS: $DEPLOY_NAME" ;;
	77) ;;
	*) echo "FAIL: $DEPLOY_NAME (exit $rc)" >&2 ;;
	esac
	exit "$rc"
}

note() {
	echo "-- $*"
}

# fail MSG: say what went wrong and exit 1.
fail() {
	echo "FAIL: $DEPLOY_NAME: $*" >&2
	exit 1
}

# skip MSG: the test cannot run here; ctest shows it as skipped (77).
skip() {
	echo "SKIP: $DEPLOY_NAME: $*"
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

# show FILE WHAT: print a file for a failure report.
show() {
	if [ -s "$1" ]; then
		echo "---- $2 ($1):" >&2
		tail -n 40 "$1" >&2
	fi
}

assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected \"$2\", got \"$1\""
}

track() {
	DEPLOY_PIDS="$DEPLOY_PIDS $1"
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds, at most SECONDS.
wait_for() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$(($(now_ms) + secs * 1000))
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] ||
		    fail "$what: not within ${secs}s"
		sleep 0.05
	done
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# srv_start BINARY ARGS...: start an mpserver and wait for its "ready" line.
# Sets SRV_PID, SRV_OUT (its stdout so far) and SRV_ERR (its log).
srv_start() {
	local bin=$1 fifo line fd
	shift
	SRV_N=$((SRV_N + 1))
	SRV_OUT=$T/srv$SRV_N.out
	SRV_ERR=$T/srv$SRV_N.err
	fifo=$T/srv$SRV_N.fifo
	mkfifo "$fifo"
	: >"$SRV_OUT"
	"$bin" "$@" >"$fifo" 2>"$SRV_ERR" </dev/null &
	SRV_PID=$!
	track "$SRV_PID"
	exec {fd}<"$fifo"
	while :; do
		if ! IFS= read -r -t "$DEPLOY_TIMEOUT" -u "$fd" line; then
			show "$SRV_ERR" "server log"
			fail "$bin $* gave no ready line within" \
			    "${DEPLOY_TIMEOUT}s (or exited)"
		fi
		printf '%s\n' "$line" >>"$SRV_OUT"
		case $line in
		ready\ *) break ;;
		esac
	done
	# The FIFO stays open: a server never finds its stdout gone.
}

# srv_port OUTFILE N: the port of the Nth "listening" line.
srv_port() {
	local a
	a=$(awk -v n="$2" '$1 == "listening" && ++i == n { print $2; exit }' \
	    "$1")
	[ -n "$a" ] || fail "no listening line $2 in $1"
	echo "${a##*:}"
}

# gone PID: true once PID (a child of this shell) has exited.
gone() {
	local stat=
	read -r stat 2>/dev/null <"/proc/$1/stat" || true
	stat=${stat##*) }
	case $stat in
	"" | Z*) return 0 ;;
	esac
	return 1
}

# srv_stop PID [SIGNAL]: signal an mpserver, wait (bounded) for it to exit;
# its exit status is in SRV_RC.
srv_stop() {
	local pid=$1 sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null || true
	wait_for "$DEPLOY_TIMEOUT" "pid $pid to exit after SIG$sig" gone "$pid"
	SRV_RC=0
	wait "$pid" || SRV_RC=$?
}
