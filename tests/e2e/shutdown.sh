#!/bin/bash
# Shutdown (SPEC 4 and 7): on SIGTERM an idle cmd client gets "421 server
# shutting down" and is closed, idle echo clients are woken, and the server
# exits 0 well before the grace ends; a "SLEEP 500" already sent is still
# answered "200 slept 500" (then 421), while the ports are already closed;
# what is left after --shutdown-grace is closed and the exit status is 0; a
# second SIGTERM during a long grace stops the server at once.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

# refused_soon PORT: new connections to PORT are refused within 1 s.
refused_soon() {
	local deadline=$(($(now_ms) + 1000))
	while nc -z -w 1 127.0.0.1 "$1" 2>/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] ||
		    fail "port $1 still accepts 1 s after SIGTERM"
		sleep 0.02
	done
}

note "idle cmd and echo clients, SIGTERM"
server_start 0:cmd 0:echo
cmd_p=$(server_port 1)
echo_p=$(server_port 2)
conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_expect "$c" "220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$cmd_p (cmd)"
conn_open 127.0.0.1 "$echo_p"
e=$CONN
conn_send "$e" 'ping\n'
conn_expect "$e" ping "echo before the signal"
t0=$(now_ms)
kill -TERM "$SRV_PID"
conn_expect "$c" "421 server shutting down" "idle cmd client at SIGTERM"
conn_expect_eof "$c"
conn_expect_eof "$e"
conn_close "$c"
conn_close "$e"
wait_exit "$SRV_PID" 2 || fail "still running 2 s after SIGTERM (grace 5 s)" \
    "with only idle clients"
note "exited in $(($(now_ms) - t0)) ms"
assert_eq "$SRV_RC" 0 "exit status"
wait_log 'event=shutdown' >/dev/null
wait_log 'event=stop' >/dev/null
wait_log "event=close .*port=$cmd_p .*reason=shutdown" >/dev/null

note "SLEEP 500 sent before SIGTERM is answered"
server_start 0:cmd 0
cmd_p=$(server_port 1)
ack_p=$(server_port 2)
conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_expect "$c" "220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$cmd_p (cmd)"
t0=$(now_ms)
conn_send "$c" 'SLEEP 500\r\n'
kill -TERM "$SRV_PID"
refused_soon "$ack_p"
refused_soon "$cmd_p"
kill -0 "$SRV_PID" 2>/dev/null || fail "server gone before the SLEEP ended"
conn_expect "$c" "200 slept 500" "SLEEP 500 running at SIGTERM"
t1=$(now_ms)
[ $((t1 - t0)) -ge 450 ] || fail "SLEEP 500 answered after $((t1 - t0)) ms"
conn_expect "$c" "421 server shutting down" "after the SLEEP"
conn_expect_eof "$c"
conn_close "$c"
wait_exit "$SRV_PID" 3 || fail "still running 3 s after SIGTERM"
assert_eq "$SRV_RC" 0 "exit status"

note "--shutdown-grace 1 cuts a SLEEP 10000 short"
server_start --shutdown-grace 1 0:cmd
cmd_p=$(server_port 1)
conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_line "$c"
conn_send "$c" 'SLEEP 10000\r\n'
t0=$(now_ms)
kill -TERM "$SRV_PID"
wait_exit "$SRV_PID" 4 || fail "still running 4 s after SIGTERM with grace 1"
t1=$(now_ms)
assert_eq "$SRV_RC" 0 "exit status after the grace"
[ $((t1 - t0)) -ge 900 ] || fail "exited $((t1 - t0)) ms after SIGTERM," \
    "before the 1 s grace"
note "exited $((t1 - t0)) ms after SIGTERM"
# The client may get a 421 before the close, but no "200 slept".
while IFS= read -r -t 2 -u "$c" LINE; do
	case $LINE in
	"200 slept"*) fail "SLEEP 10000 finished: $LINE" ;;
	esac
done
conn_close "$c"

note "a second SIGTERM during a 30 s grace stops at once"
server_start --shutdown-grace 30 0:cmd
cmd_p=$(server_port 1)
conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_line "$c"
conn_send "$c" 'SLEEP 10000\r\n'
kill -TERM "$SRV_PID"
wait_log 'event=shutdown' >/dev/null
kill -0 "$SRV_PID" 2>/dev/null || fail "server gone after the first SIGTERM"
t0=$(now_ms)
kill -TERM "$SRV_PID"
wait_exit "$SRV_PID" 1 || fail "still running 1 s after a second SIGTERM"
note "exited $(($(now_ms) - t0)) ms after the second SIGTERM," \
    "status $SRV_RC"
rest=$(timeout 2 cat <&"$c" | tr -d '\r') || true
case $rest in
*"200 slept"*) fail "SLEEP 10000 finished: $rest" ;;
esac
conn_close "$c"
