#!/bin/bash
# IPv6 and --bind (SPEC 1, 2 and 7): "--bind ::1" prints "listening
# [::1]:PORT SERVICE", answers nc -6 and not 127.0.0.1, logs the peer and
# shows it in the cmd banner and WHOAMI in brackets; "--bind localhost"
# resolves and serves; on "--bind ::" (dual stack) an IPv4 client is logged
# and shown by WHOAMI as IPv4, not IPv4-mapped. Skipped (77) without ::1.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
PROBE=$(cd "$(dirname "$0")/../.." && pwd)/scripts/probe.sh

python3 -c 'import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))' 2>/dev/null || { echo "SKIP: no ::1 on this host"; exit 77; }

note "--bind ::1"
server_start --bind=::1 0 0:echo 0:cmd
for i in 1 2 3; do
	assert_match "$(sed -n "${i}p" "$SRV_OUT")" \
	    '^listening \[::1\]:[1-9][0-9]* (ack|echo|cmd)$' "listening line $i"
done
assert_eq "$(sed -n 4p "$SRV_OUT")" "ready 3 channels" "ready line"
ack_p=$(server_port 1)
echo_p=$(server_port 2)
cmd_p=$(server_port 3)
assert_eq "$(echo hello | timeout 5 nc -6 -N ::1 "$ack_p")" ACK "ack over ::1"
assert_eq "$(echo hello6 | timeout 5 nc -6 -N ::1 "$echo_p")" hello6 \
    "echo over ::1"
recv=$(wait_log "event=recv .*port=$ack_p ")
assert_match "$recv" ' peer=\[::1\]:[0-9]+ ' "peer in the recv line"
if nc -4 -z -w 2 127.0.0.1 "$ack_p" 2>/dev/null; then
	fail "a channel bound to ::1 answers on 127.0.0.1:$ack_p"
fi
printf 'WHOAMI\r\nQUIT\r\n' | timeout 5 nc -6 -N ::1 "$cmd_p" |
    tr -d '\r' >"$E2E_TMP/cmd6"
assert_eq "$(sed -n 1p "$E2E_TMP/cmd6")" \
    "220 mpserver $MPSERVER_VERSION ready on [::1]:$cmd_p (cmd)" "banner"
assert_match "$(sed -n 2p "$E2E_TMP/cmd6")" \
    "^200 client=\\[::1\\]:[0-9]+ server=\\[::1\\]:$cmd_p service=cmd conn=[0-9]+\$" \
    "WHOAMI over ::1"
out=$("$PROBE" <"$SRV_OUT") || fail "probe.sh on ::1 failed: $out"
echo "$out"
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "--bind localhost"
server_start --bind localhost 0:echo 0
assert_match "$(sed -n 1p "$SRV_OUT")" \
    '^listening (127\.0\.0\.1|\[::1\]):[1-9][0-9]* echo$' "listening line 1"
assert_eq "$(sed -n 3p "$SRV_OUT")" "ready 2 channels" "ready line"
out=$("$PROBE" <"$SRV_OUT") || fail "probe.sh on localhost failed: $out"
echo "$out"
assert_eq "$(echo hi | timeout 5 nc -N localhost "$(server_port 2)")" ACK \
    "ack via the name localhost"
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "--bind :: serves IPv4 clients as IPv4"
server_start -b :: 0 0:cmd
assert_match "$(sed -n 1p "$SRV_OUT")" '^listening \[::\]:[1-9][0-9]* ack$' \
    "listening line 1"
ack_p=$(server_port 1)
cmd_p=$(server_port 2)
assert_eq "$(echo v4 | timeout 5 nc -4 -N 127.0.0.1 "$ack_p")" ACK \
    "ack over 127.0.0.1"
assert_eq "$(echo v6 | timeout 5 nc -6 -N ::1 "$ack_p")" ACK "ack over ::1"
recv=$(wait_log "event=recv .*data=\"v4\"")
assert_match "$recv" ' peer=127\.0\.0\.1:[0-9]+ ' "IPv4 peer in the recv line"
recv=$(wait_log "event=recv .*data=\"v6\"")
assert_match "$recv" ' peer=\[::1\]:[0-9]+ ' "IPv6 peer in the recv line"
who=$(printf 'WHOAMI\r\n' | timeout 5 nc -4 -N 127.0.0.1 "$cmd_p" |
    tr -d '\r' | sed -n 2p)
assert_match "$who" '^200 client=127\.0\.0\.1:[0-9]+ server=' "WHOAMI over IPv4"
server_stop
assert_eq "$SRV_RC" 0 "exit status"
