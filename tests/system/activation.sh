#!/bin/bash
# systemd socket activation for real: systemd-socket-activate hands mpserver
# three listening sockets; it adopts them by port (logged), all three answer
# nc; sockets that do not match the command line are refused with exit 1.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
command -v systemd-socket-activate >/dev/null || { echo "SKIP: no systemd-socket-activate"; exit 77; }

free_ports() {
	python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])'
}

# systemd-socket-activate binds the ports and execs mpserver on the first
# connection. A port found free can be taken by another test's client before
# it binds: then try other ports, a bounded number of times.
for attempt in 1 2 3 4 5; do
	read -r p1 p2 p3 < <(free_ports)
	: >"$E2E_TMP/err"
	systemd-socket-activate -l 127.0.0.1:$p1 -l 127.0.0.1:$p2 \
	    -l 127.0.0.1:$p3 --fdname=ack:echo:cmd "$MPSERVER" $p1 $p2:echo \
	    $p3:cmd >"$E2E_TMP/out" 2>"$E2E_TMP/err" &
	activator=$!
	track $activator
	for i in $(seq 250); do
		grep -q "Listening on 127.0.0.1:$p3" "$E2E_TMP/err" && break 2
		kill -0 $activator 2>/dev/null || break
		sleep 0.02
	done
	kill $activator 2>/dev/null || true
	wait $activator 2>/dev/null || true
done
SRV_ERR=$E2E_TMP/err SRV_OUT=$E2E_TMP/out
grep -q "Listening on 127.0.0.1:$p3" "$E2E_TMP/err" ||
    fail "systemd-socket-activate did not listen"
assert_eq "$(nc_send 127.0.0.1 $p1 'hello\n')" "ACK" "ack over an inherited socket"
assert_eq "$(nc_send 127.0.0.1 $p2 'hi\n')" "hi" "echo over an inherited socket"
assert_match "$(nc_send 127.0.0.1 $p3 'PING\r\n')" "200 PONG" "cmd over an inherited socket"
wait_log 'event=activation .*adopted 3 listening sockets' >/dev/null
wait_log "event=listen from=systemd addr=127.0.0.1:$p2 port=$p2 service=echo" >/dev/null
grep -q "^ready 3 channels$" "$E2E_TMP/out" || fail "no ready line"
pkill -TERM -f "mpserver $p1 " || true

# A socket for a port the command line does not name: refused, exit 1.
for attempt in 1 2 3 4 5; do
	read -r q1 q2 _ < <(free_ports)
	: >"$E2E_TMP/err2"
	systemd-socket-activate -l 127.0.0.1:$q1 "$MPSERVER" $q2 \
	    >"$E2E_TMP/out2" 2>"$E2E_TMP/err2" &
	pid=$!
	track $pid
	for i in $(seq 250); do
		grep -q "Listening on" "$E2E_TMP/err2" && break 2
		kill -0 $pid 2>/dev/null || break
		sleep 0.02
	done
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
done
grep -q "Listening on" "$E2E_TMP/err2" || fail "systemd-socket-activate did not listen"
nc -z 127.0.0.1 $q1 || true
wait_exit $pid 5 || fail "mismatched activation did not exit"
assert_eq "$SRV_RC" 1 "exit status on mismatched sockets"
grep -q "mpserver: socket activation: no inherited socket for port $q2" "$E2E_TMP/err2" ||
    fail "no clear refusal: $(cat "$E2E_TMP/err2")"
