# Shared helpers for the end-to-end tests of the built mpserver binary.
#
# A layer over tests/lib.sh, which starts, watches and stops the servers
# (and gives note, fail, assert_eq, assert_match, need, skip, show, track,
# now_ms, free_port, gone and wait_for). A test script does:
#	. "$(dirname "$0")/lib.sh"
#	e2e_init "$@"		# $1 is the path of the built mpserver
#	server_start 0 0:echo	# waits for "ready"; SRV_PID, SRV_OUT, SRV_ERR
#	port=$(server_port 2)	# port of the 2nd "listening" line
#	server_stop		# SIGTERM, bounded wait, SRV_RC
#
# The SRV_* variables describe the current server, the one started last;
# with several running, server_select NAME makes another current (SRV_NAME
# is each one's name). Every wait is bounded (E2E_TIMEOUT seconds, 10 by
# default). The server's stdout is read through a FIFO, so start-up waits
# for the "ready" line itself, not for a guessed delay; the lines read are
# kept in SRV_OUT. One-shot exchanges use nc; interactive sessions (cmd,
# shutdown) use bash's /dev/tcp, whose reads see the server's close as EOF
# (nc keeps running while its stdin is open, so it cannot show that).
# The trap set by e2e_init kills every process started here and removes the
# temporary directory.

# shellcheck shell=bash disable=SC2034 # SRV_RC, CONN, LINE are for the callers
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
E2E_TIMEOUT=${E2E_TIMEOUT:-10}
E2E_NAME=$MP_NAME
SRV_N=0
SRV_NAME=
SRV_PID=
SRV_OUT=
SRV_ERR=
SRV_FD=
SRV_RC=

e2e_init() {
	local tool
	MPSERVER=${1:?usage: $0 PATH-OF-MPSERVER}
	[ -x "$MPSERVER" ] || fail "no executable mpserver at $MPSERVER"
	for tool in nc curl python3 timeout od awk; do
		command -v "$tool" >/dev/null || fail "$tool is not installed"
	done
	# ctest sets it from CMake's project version; by hand, the binary's.
	MPSERVER_VERSION=${MPSERVER_VERSION:-$("$MPSERVER" --version |
	    awk '{ print $2 }')}
	mp_init e2e
	E2E_TMP=$MP_TMP
}

# fail MSG: say what went wrong, show the current server's output, exit 1.
fail() {
	echo "FAIL: $E2E_NAME: $*" >&2
	if [ -n "$SRV_ERR" ] && [ -s "$SRV_ERR" ]; then
		echo "---- server stderr ($SRV_ERR, last 30 lines):" >&2
		tail -n 30 "$SRV_ERR" >&2
	fi
	if [ -n "$SRV_OUT" ] && [ -s "$SRV_OUT" ]; then
		echo "---- server stdout:" >&2
		head -n 20 "$SRV_OUT" >&2
	fi
	exit 1
}

# server_start ARGS...: start mpserver ($MPSERVER, read at each call) and
# wait for its "ready" line; it becomes the current server.
server_start() {
	SRV_N=$((SRV_N + 1))
	MP_TIMEOUT=$E2E_TIMEOUT
	if ! mp_start "$SRV_N" "$MPSERVER" "$@"; then
		server_select "$SRV_N"
		fail "$MP_ERROR"
	fi
	server_select "$SRV_N"
}

# server_select NAME: make the server called NAME (its SRV_NAME) current.
server_select() {
	[ -n "${MP_PID[$1]:-}" ] || fail "no server called $1"
	SRV_NAME=$1
	SRV_PID=${MP_PID[$1]}
	SRV_OUT=${MP_OUT[$1]}
	SRV_ERR=${MP_ERR[$1]}
	SRV_FD=${MP_FD[$1]}
	SRV_RC=${MP_RC[$1]}
}

# server_field N FIELD: of the Nth "listening" line, 1 = ADDR:PORT,
# 2 = SERVICE.
server_field() {
	mp_field_in "$SRV_OUT" "$1" "$2"
}

# server_port N: the port of the Nth channel.
server_port() {
	mp_port_in "$SRV_OUT" "$1" || fail "no listening line $1"
}

# server_channels: the number of "listening" lines.
server_channels() {
	grep -c '^listening ' "$SRV_OUT" || true
}

# wait_exit PID SECONDS: wait for PID (a child) to end, at most SECONDS
# (fractions allowed); 0 and SRV_RC set if it did, 1 if it is still running.
wait_exit() {
	mp_wait_exit "$1" "$2" || return 1
	SRV_RC=$MP_EXIT
}

# server_stop [SIGNAL [SECONDS]]: signal the current server (the one whose
# pid is SRV_PID), wait for it to exit; SRV_RC is its exit status.
server_stop() {
	local sig=${1:-TERM} secs=${2:-$E2E_TIMEOUT} name

	name=$(mp_name_of "$SRV_PID") || fail "no server with pid $SRV_PID"
	mp_stop "$name" "$sig" "$secs" ||
	    fail "mpserver (pid $SRV_PID) still running ${secs}s after SIG$sig"
	SRV_RC=${MP_RC[$name]}
}

# wait_log ERE [SECONDS]: wait for a line matching ERE in SRV_ERR; print it.
wait_log() {
	mp_wait_log "$SRV_ERR" "$1" "${2:-$E2E_TIMEOUT}" ||
	    fail "no log line matching /$1/ within ${2:-$E2E_TIMEOUT}s"
}

# log_field LINE KEY: the value of KEY=... in a logfmt line (unquoted ones).
log_field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# nc_send HOST PORT DATA: send DATA (printf %b), print what comes back.
nc_send() {
	printf '%b' "$3" | timeout "$E2E_TIMEOUT" nc -N "$1" "$2"
}

# conn_open HOST PORT: a /dev/tcp connection; its fd is in CONN.
conn_open() {
	exec {CONN}<>"/dev/tcp/$1/$2" ||
	    fail "cannot connect to $1:$2"
}

# conn_send FD TEXT: send TEXT as is (printf %b escapes are expanded).
conn_send() {
	printf '%b' "$2" >&"$1" || fail "write to fd $1 failed"
}

# conn_line FD [SECONDS]: read one line into LINE, its \r removed; fails on
# timeout or EOF.
conn_line() {
	local rc=0
	LINE=
	IFS= read -r -t "${2:-$E2E_TIMEOUT}" -u "$1" LINE || rc=$?
	if [ "$rc" -gt 128 ]; then
		fail "no reply line within ${2:-$E2E_TIMEOUT}s (got \"$LINE\")"
	elif [ "$rc" -ne 0 ]; then
		fail "connection closed before a full line (got \"$LINE\")"
	fi
	LINE=${LINE%$'\r'}
}

# conn_expect FD WANT [WHAT]: the next line is exactly WANT.
conn_expect() {
	conn_line "$1"
	assert_eq "$LINE" "$2" "${3:-reply}"
}

# conn_expect_eof FD [SECONDS]: the server closes without sending more.
conn_expect_eof() {
	local rc=0 rest=
	IFS= read -r -t "${2:-$E2E_TIMEOUT}" -u "$1" rest || rc=$?
	if [ "$rc" -gt 128 ]; then
		fail "connection still open after ${2:-$E2E_TIMEOUT}s"
	elif [ "$rc" -eq 0 ] || [ -n "$rest" ]; then
		fail "expected the server to close, got \"$rest\""
	fi
}

# conn_close FD
conn_close() {
	eval "exec $1<&-"
}
