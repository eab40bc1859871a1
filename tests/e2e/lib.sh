# Shared helpers for the end-to-end tests of the built mpserver binary.
#
# A test script does:
#	. "$(dirname "$0")/lib.sh"
#	e2e_init "$@"		# $1 is the path of the built mpserver
#	server_start 0 0:echo	# waits for "ready"; SRV_PID, SRV_OUT, SRV_ERR
#	port=$(server_port 2)	# port of the 2nd "listening" line
#	server_stop		# SIGTERM, bounded wait, SRV_RC
#
# Every wait is bounded (E2E_TIMEOUT seconds, 10 by default). The server's
# stdout is read through a FIFO, so start-up waits for the "ready" line
# itself, not for a guessed delay; the lines read are kept in SRV_OUT.
# One-shot exchanges use nc; interactive sessions (cmd, shutdown) use bash's
# /dev/tcp, whose reads see the server's close as EOF (nc keeps running
# while its stdin is open, so it cannot show that).
# The trap set by e2e_init kills every process started here and removes the
# temporary directory.

# shellcheck shell=bash disable=SC2034 # SRV_RC, CONN, LINE are for the callers
E2E_TIMEOUT=${E2E_TIMEOUT:-10}
E2E_NAME=$(basename "$0" .sh)
E2E_PIDS=
SRV_N=0
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
	MPSERVER_VERSION=${MPSERVER_VERSION:-0.1.0}
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpserver-e2e.XXXXXX")
	trap e2e_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

e2e_cleanup() {
	local rc=$? pid
	for pid in $E2E_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$E2E_TMP"
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $E2E_NAME"
	fi
	exit "$rc"
}

# note MSG: progress on stdout, shown by ctest --output-on-failure.
note() {
	echo "-- $*"
}

# fail MSG: say what went wrong, show the last server's output, exit 1.
fail() {
	echo "FAIL: $E2E_NAME: $*" >&2
	if [ -n "$SRV_ERR" ] && [ -s "$SRV_ERR" ]; then
		echo "---- server stderr ($SRV_ERR, last 30 lines):" >&2
		tail -n 30 "$SRV_ERR" >&2
	fi
	if [ -n "$SRV_OUT" ] && [ -s "$SRV_OUT" ]; then
		echo "---- server stdout:" >&2
		cat "$SRV_OUT" >&2
	fi
	exit 1
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

# now_ms: wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# track PID: have the cleanup trap kill it.
track() {
	E2E_PIDS="$E2E_PIDS $1"
}

# server_start ARGS...: start mpserver and wait for its "ready" line.
server_start() {
	local fifo line fd
	SRV_N=$((SRV_N + 1))
	SRV_OUT=$E2E_TMP/out.$SRV_N
	SRV_ERR=$E2E_TMP/err.$SRV_N
	fifo=$E2E_TMP/fifo.$SRV_N
	mkfifo "$fifo"
	: >"$SRV_OUT"
	"$MPSERVER" "$@" >"$fifo" 2>"$SRV_ERR" &
	SRV_PID=$!
	track "$SRV_PID"
	exec {fd}<"$fifo"
	SRV_FD=$fd
	while :; do
		if ! IFS= read -r -t "$E2E_TIMEOUT" -u "$fd" line; then
			fail "mpserver $* gave no ready line within" \
			    "${E2E_TIMEOUT}s (or exited)"
		fi
		printf '%s\n' "$line" >>"$SRV_OUT"
		case $line in
		ready\ *) break ;;
		esac
	done
}

# server_field N FIELD: of the Nth "listening" line, 1 = ADDR:PORT,
# 2 = SERVICE.
server_field() {
	awk -v n="$1" -v f="$2" '
	    $1 == "listening" && ++i == n { print $(f + 1); exit }' "$SRV_OUT"
}

# server_port N: the port of the Nth channel.
server_port() {
	local a
	a=$(server_field "$1" 1)
	[ -n "$a" ] || fail "no listening line $1"
	echo "${a##*:}"
}

# server_channels: the number of "listening" lines.
server_channels() {
	grep -c '^listening ' "$SRV_OUT" || true
}

# wait_exit PID SECONDS: wait for PID (a child) to end, at most SECONDS
# (fractions allowed); 0 and SRV_RC set if it did, 1 if it is still running.
wait_exit() {
	local pid=$1 limit deadline stat
	limit=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }')
	deadline=$(($(now_ms) + limit))
	while :; do
		# A child that has exited stays a zombie until waited for.
		stat=
		read -r stat 2>/dev/null <"/proc/$pid/stat" || true
		stat=${stat##*) }
		case $stat in
		"" | Z*) break ;;
		esac
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.02
	done
	SRV_RC=0
	wait "$pid" || SRV_RC=$?
	return 0
}

# server_stop [SIGNAL [SECONDS]]: signal the current server, wait for it to
# exit; SRV_RC is its exit status.
server_stop() {
	local sig=${1:-TERM} secs=${2:-$E2E_TIMEOUT}
	kill -"$sig" "$SRV_PID" 2>/dev/null || true
	wait_exit "$SRV_PID" "$secs" ||
	    fail "mpserver (pid $SRV_PID) still running ${secs}s after SIG$sig"
	exec {SRV_FD}<&-
}

# wait_log ERE [SECONDS]: wait for a line matching ERE in SRV_ERR; print it.
wait_log() {
	local re=$1 secs=${2:-$E2E_TIMEOUT} deadline
	deadline=$(($(now_ms) + secs * 1000))
	while ! grep -Eq -- "$re" "$SRV_ERR"; do
		[ "$(now_ms)" -lt "$deadline" ] ||
		    fail "no log line matching /$re/ within ${secs}s"
		sleep 0.02
	done
	grep -E -- "$re" "$SRV_ERR" | head -n 1
}

# log_field LINE KEY: the value of KEY=... in a logfmt line (unquoted ones).
log_field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# free_port: a TCP port on 127.0.0.1 that is free right now.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
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
