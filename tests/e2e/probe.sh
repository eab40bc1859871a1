#!/bin/bash
# Start-up and probe: "mpserver 0 0:echo 0" prints one listening line per
# channel in command-line order and "ready 3 channels"; ack answers exactly
# ACK, echo returns the line; the log has accept/recv/close lines with one
# conn id, the peer and the escaped data; scripts/probe.sh passes on every
# service and fails on a dead port; SIGTERM exits 0 within 1 s with
# event=stop.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
PROBE=$(cd "$(dirname "$0")/../.." && pwd)/scripts/probe.sh

note "mpserver 0 0:echo 0"
server_start 0 0:echo 0
assert_eq "$(wc -l <"$SRV_OUT" | tr -d ' ')" 4 "stdout line count"
for i in 1 2 3; do
	assert_match "$(sed -n "${i}p" "$SRV_OUT")" \
	    '^listening 127\.0\.0\.1:[1-9][0-9]* (ack|echo)$' "listening line $i"
done
assert_eq "$(server_field 1 2) $(server_field 2 2) $(server_field 3 2)" \
    "ack echo ack" "services in command-line order"
assert_eq "$(sed -n 4p "$SRV_OUT")" "ready 3 channels" "ready line"
p1=$(server_port 1)
p2=$(server_port 2)
p3=$(server_port 3)
[ "$p1" != "$p2" ] && [ "$p2" != "$p3" ] && [ "$p1" != "$p3" ] ||
    fail "ports not distinct: $p1 $p2 $p3"

note "ack and echo over nc"
assert_eq "$(echo hello | timeout 5 nc -N 127.0.0.1 "$p1" | od -An -c |
    tr -s ' ')" " A C K \n" "ack reply on $p1 (exactly ACK\\n)"
assert_eq "$(echo hello | timeout 5 nc -N 127.0.0.1 "$p3")" ACK \
    "ack reply on $p3"
assert_eq "$(echo hello | timeout 5 nc -N 127.0.0.1 "$p2")" hello \
    "echo reply on $p2"

note "log lines of the ack exchange"
recv=$(wait_log "event=recv .*port=$p1 ")
assert_match "$recv" ' data="hello"' "recv data"
assert_match "$recv" ' peer=127\.0\.0\.1:[0-9]+ ' "recv peer"
conn=$(log_field "$recv" conn)
[ -n "$conn" ] || fail "recv line has no conn id: $recv"
wait_log "event=accept .*port=$p1 .*conn=$conn( |$)" >/dev/null
close=$(wait_log "event=close .*port=$p1 .*conn=$conn( |$)")
assert_match "$close" ' bytes_in=6 ' "close bytes_in"
assert_match "$close" ' bytes_out=4 ' "close bytes_out"
assert_match "$close" ' reason=' "close reason"
assert_match "$close" ' ms=[0-9]+' "close ms"
grep -E "event=recv .*port=$p3 .*data=\"hello\"" "$SRV_ERR" >/dev/null ||
    fail "no recv line for port $p3"

note "scripts/probe.sh on the listening lines"
out=$("$PROBE" <"$SRV_OUT") || fail "probe.sh failed: $out"
echo "$out"
assert_eq "$(printf '%s\n' "$out" | grep -c '^ok ')" 3 "probe.sh ok lines"

note "SIGTERM exits 0 within 1 s"
t0=$(now_ms)
server_stop TERM 1
t1=$(now_ms)
assert_eq "$SRV_RC" 0 "exit status after SIGTERM"
note "stopped in $((t1 - t0)) ms"
grep -q 'event=stop' "$SRV_ERR" || fail "no event=stop log line"

note "scripts/probe.sh fails once the ports are closed"
if out=$("$PROBE" -t 2 <"$SRV_OUT"); then
	fail "probe.sh succeeded on a stopped server: $out"
fi
assert_eq "$(printf '%s\n' "$out" | grep -c '^FAIL ')" 3 "probe.sh FAIL lines"

note "scripts/probe.sh on every service (comma list and several args)"
server_start 0,0:echo,0:discard 0:chargen 0:daytime 0:time 0:cmd 0:metrics
assert_eq "$(tail -n 1 "$SRV_OUT")" "ready 8 channels" "ready line"
out=$("$PROBE" <"$SRV_OUT") || fail "probe.sh failed: $out"
echo "$out"
assert_eq "$(printf '%s\n' "$out" | grep -c '^ok ')" 8 "probe.sh ok lines"
args=$(awk '$1 == "listening" { sub(/.*:/, "", $2); print $2 ":" $3 }' \
    "$SRV_OUT")
# shellcheck disable=SC2086
out=$("$PROBE" $args) || fail "probe.sh PORT:SERVICE args failed: $out"
server_stop
assert_eq "$SRV_RC" 0 "exit status"
