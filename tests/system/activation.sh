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

# activate NAME NSOCKETS SERVER-ARGS...: systemd-socket-activate listens on
# NSOCKETS fresh ports (P1 P2 P3) and execs mpserver with SERVER-ARGS (where
# P1..P3 are replaced) on the first connection; ACTIVATOR is its pid. A port
# found free can be taken by another test's client before it is bound: then
# it tries other ports, a bounded number of times.
activate() {
	local name=$1 n=$2 attempt i arg args listen
	shift 2
	for attempt in 1 2 3 4 5; do
		read -r P1 P2 P3 < <(free_ports)
		listen=(-l 127.0.0.1:$P1)
		[ "$n" -lt 3 ] || listen+=(-l 127.0.0.1:$P2 -l 127.0.0.1:$P3)
		args=()
		for arg in "$@"; do
			arg=${arg//P1/$P1} arg=${arg//P2/$P2} arg=${arg//P3/$P3}
			args+=("$arg")
		done
		: >"$E2E_TMP/$name.err"
		systemd-socket-activate "${listen[@]}" "$MPSERVER" "${args[@]}" \
		    >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
		ACTIVATOR=$!
		track $ACTIVATOR
		for i in $(seq 250); do
			grep -q "Listening on 127.0.0.1:" "$E2E_TMP/$name.err" &&
			    [ "$(grep -c 'Listening on' "$E2E_TMP/$name.err")" -eq "$n" ] &&
			    return 0
			kill -0 $ACTIVATOR 2>/dev/null || break
			sleep 0.02
		done
		kill $ACTIVATOR 2>/dev/null || true
		wait $ACTIVATOR 2>/dev/null || true
	done
	fail "systemd-socket-activate did not listen: $(cat "$E2E_TMP/$name.err")"
}

activate good 3 P1 P2:echo P3:cmd
SRV_ERR=$E2E_TMP/good.err SRV_OUT=$E2E_TMP/good.out
assert_eq "$(nc_send 127.0.0.1 $P1 'hello\n')" "ACK" "ack over an inherited socket"
assert_eq "$(nc_send 127.0.0.1 $P2 'hi\n')" "hi" "echo over an inherited socket"
assert_match "$(nc_send 127.0.0.1 $P3 'PING\r\n')" "200 PONG" "cmd over an inherited socket"
wait_log 'event=activation .*adopted 3 listening sockets' >/dev/null
wait_log "event=listen from=systemd addr=127.0.0.1:$P2 port=$P2 service=echo" >/dev/null
grep -q "^ready 3 channels$" "$SRV_OUT" || fail "no ready line"
kill -TERM $ACTIVATOR	# it has become mpserver (exec)
wait_exit $ACTIVATOR 5 || fail "mpserver did not stop"
assert_eq "$SRV_RC" 0 "exit status"

# A socket for a port the command line does not name: refused, exit 1
# (a channel the sockets do not cover, P2, would be bound by mpserver).
activate bad 1 P2
nc -z 127.0.0.1 $P1 || true
wait_exit $ACTIVATOR 5 || fail "mismatched activation did not exit"
assert_eq "$SRV_RC" 1 "exit status on mismatched sockets"
grep -q "mpserver: socket activation: inherited socket on port $P1 matches no channel" "$E2E_TMP/bad.err" ||
    fail "no clear refusal: $(cat "$E2E_TMP/bad.err")"
