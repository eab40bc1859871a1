# Shared helpers for the deploy tests (install, man pages, units, package, HAProxy).
#
# A layer over tests/lib.sh, which starts, watches and stops the servers.
# A test script does:
#
#	set -eu
#	. "$(dirname "$0")/lib.sh"
#	deploy_init			# temporary directory $T, cleanup trap
#	need haproxy			# or skip (exit 77) with a clear message
#	srv_start "$MPSERVER" 0:cmd	# waits for "ready"; SRV_PID SRV_OUT SRV_ERR
#	port=$(srv_port "$SRV_OUT" 1)	# port of the 1st "listening" line
#	srv_stop "$SRV_PID"		# SIGTERM, bounded wait; SRV_RC
#
# Several servers may run at once: keep each one's SRV_PID and SRV_OUT.
# Every wait is bounded by DEPLOY_TIMEOUT seconds (10 by default): start-up
# reads the server's stdout through a FIFO up to its "ready" line instead of
# sleeping, and the other waits poll a condition against a deadline. The
# trap kills every process started with `track` (and every server) and
# removes $T. note, fail, skip, need, require, show, assert_eq, track,
# now_ms, wait_for, free_port and gone come from tests/lib.sh.

# shellcheck shell=bash disable=SC2034 # SRV_RC, T are for the callers
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DEPLOY_TIMEOUT=${DEPLOY_TIMEOUT:-10}
DEPLOY_NAME=$MP_NAME
SRV_N=0
SRV_PID=
SRV_OUT=
SRV_ERR=
SRV_RC=

deploy_init() {
	mp_init deploy
	T=$MP_TMP
}

# srv_start BINARY ARGS...: start an mpserver and wait for its "ready" line.
# Sets SRV_PID, SRV_OUT (its stdout so far) and SRV_ERR (its log).
srv_start() {
	SRV_N=$((SRV_N + 1))
	MP_TIMEOUT=$DEPLOY_TIMEOUT
	if ! mp_start "srv$SRV_N" "$@"; then
		show "${MP_ERR[srv$SRV_N]}" "server log"
		fail "$MP_ERROR"
	fi
	SRV_PID=${MP_PID[srv$SRV_N]}
	SRV_OUT=${MP_OUT[srv$SRV_N]}
	SRV_ERR=${MP_ERR[srv$SRV_N]}
}

# srv_port OUTFILE N: the port of the Nth "listening" line.
srv_port() {
	mp_port_in "$1" "$2" || fail "no listening line $2 in $1"
}

# srv_stop PID [SIGNAL]: signal an mpserver, wait (bounded) for it to exit;
# its exit status is in SRV_RC.
srv_stop() {
	local pid=$1 sig=${2:-TERM} name

	name=$(mp_name_of "$pid") || fail "no server with pid $pid"
	mp_stop "$name" "$sig" "$DEPLOY_TIMEOUT" ||
	    fail "pid $pid to exit after SIG$sig: not within ${DEPLOY_TIMEOUT}s"
	SRV_RC=${MP_RC[$name]}
}
