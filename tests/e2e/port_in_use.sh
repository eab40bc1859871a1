#!/bin/bash
# Port in use (SPEC 2): a port bound by another process makes mpserver exit 1
# with "mpserver: cannot listen on 127.0.0.1:PORT: Address already in use",
# nothing on stdout, and nothing left bound: the free port given in the same
# command line can be served again right after. Also: a port held by another
# mpserver is refused the same way and the first server keeps serving; a
# restart on the same port right after a stop succeeds (SO_REUSEADDR, with a
# connection in TIME_WAIT).
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

out=$E2E_TMP/stdout
err=$E2E_TMP/stderr

# hold_port: a python3 listener on 127.0.0.1:0; its port in HELD_PORT.
hold_port() {
	local fifo=$E2E_TMP/hold fd
	mkfifo "$fifo"
	python3 -c 'import signal, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
signal.pause()' >"$fifo" &
	track $!
	exec {fd}<"$fifo"
	read -r -t "$E2E_TIMEOUT" -u "$fd" HELD_PORT ||
	    fail "python3 listener gave no port"
	exec {fd}<&-
}

# refused BUSY ARGS...: mpserver ARGS exits 1 naming 127.0.0.1:BUSY.
refused() {
	local busy=$1 rc=0
	shift
	timeout "$E2E_TIMEOUT" "$MPSERVER" "$@" >"$out" 2>"$err" </dev/null ||
	    rc=$?
	[ "$rc" -eq 1 ] ||
	    fail "mpserver $*: exit status $rc, expected 1 ($(cat "$err"))"
	[ ! -s "$out" ] || fail "mpserver $*: stdout not empty: $(cat "$out")"
	grep -qxF "mpserver: cannot listen on 127.0.0.1:$busy: Address already in use" \
	    "$err" || fail "mpserver $*: expected \"mpserver: cannot listen on" \
	    "127.0.0.1:$busy: Address already in use\", got: $(cat "$err")"
	echo "ok: mpserver $* -> $(cat "$err")"
}

hold_port
busy=$HELD_PORT
free=$(free_port)
note "port $busy held by python3, $free free"

note "busy port after a free one: exit 1, and the free one is released"
refused "$busy" "$free,$busy" 0:echo
server_start "$free"
assert_eq "$(server_port 1)" "$free" "port served after the failed start"
assert_eq "$(echo hi | timeout 5 nc -N 127.0.0.1 "$free")" ACK "ack on $free"
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "busy port first, then free ones"
refused "$busy" -b 127.0.0.1 "$busy" "$free:echo" 0:cmd
server_start "$free:echo"
assert_eq "$(server_port 1)" "$free" "port served after the failed start"
server_stop

note "a port held by another mpserver"
server_start 0:echo 0
a=("$SRV_PID" "$SRV_FD" "$SRV_OUT" "$SRV_ERR")
a_port=$(server_port 2)
refused "$a_port" "$free" "$a_port:discard"
assert_eq "$(echo hi | timeout 5 nc -N 127.0.0.1 "$a_port")" ACK \
    "first server still answers on $a_port"
kill -0 "${a[0]}" || fail "first server died"
server_start "$free"
server_stop
SRV_PID=${a[0]} SRV_FD=${a[1]} SRV_OUT=${a[2]} SRV_ERR=${a[3]}
server_stop
assert_eq "$SRV_RC" 0 "exit status of the first server"

note "restart on the same port right after a stop (TIME_WAIT)"
server_start "$free"
# ack closes first, so the connection is in TIME_WAIT on the server's port.
assert_eq "$(echo hi | timeout 5 nc -N 127.0.0.1 "$free")" ACK "ack on $free"
server_stop
server_start "$free"
assert_eq "$(server_port 1)" "$free" "port after restart"
server_stop
assert_eq "$SRV_RC" 0 "exit status"
