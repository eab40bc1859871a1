#!/bin/bash
# The cmd protocol (SPEC 3 and 7): the banner; PING, ECHO, TIME, WHOAMI (its
# conn id is the one in the accept log line), PORTS in command-line order,
# STATS, HELP, SLEEP, QUIT (221 bye, then close); 500 for an unknown verb,
# 501 for an argument where none is allowed and for bad SLEEP values, the
# session going on after either; lower-case verbs; \r\n and \n input, empty
# lines ignored; every reply line ends in \r\n. With --max-line 16 a longer
# line gets "421 line too long, closing" before its newline arrives; with
# -t 1 an idle client gets "421 idle timeout, closing"; both are closed and
# logged with their reason.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

server_start 0:cmd 0 0:echo
cmd_p=$(server_port 1)
ack_p=$(server_port 2)
echo_p=$(server_port 3)
banner="220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$cmd_p (cmd)"

note "one session over nc, \\r\\n and \\n input"
echo hi | timeout 5 nc -N 127.0.0.1 "$ack_p" >/dev/null
wait_log "event=close .*port=$ack_p " >/dev/null
nc_send 127.0.0.1 "$cmd_p" 'PING\r\nECHO some text\nping\n\r\n\nEcho two words\r\nTIME\r\nPORTS\nFOO bar\r\nPING x\nQUIT\r\n' \
    >"$E2E_TMP/session"
if grep -qv $'\r$' "$E2E_TMP/session"; then
	fail "reply lines without \\r\\n: $(grep -v $'\r$' "$E2E_TMP/session")"
fi
tr -d '\r' <"$E2E_TMP/session" >"$E2E_TMP/lines"
now=$(date -u +%s)
n=0
expect() {
	n=$((n + 1))
	assert_eq "$(sed -n "${n}p" "$E2E_TMP/lines")" "$1" "session line $n"
}
expect "$banner"
expect "200 PONG"
expect "200 some text"
expect "200 PONG"
expect "200 two words"
n=$((n + 1))
time_line=$(sed -n "${n}p" "$E2E_TMP/lines")
assert_match "$time_line" \
    '^200 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' \
    "TIME reply"
t=$(date -u -d "$(echo "${time_line#200 }" | sed 's/T/ /; s/Z$//')" +%s)
[ $((now - t)) -le 3 ] && [ $((t - now)) -le 3 ] ||
    fail "TIME \"$time_line\" is $((t - now)) s off date -u"
expect "211-$cmd_p cmd active=1 accepted=1"
expect "211-$ack_p ack active=0 accepted=1"
expect "211-$echo_p echo active=0 accepted=0"
expect "211 3 channels"
expect "500 unknown command"
n=$((n + 1))
assert_match "$(sed -n "${n}p" "$E2E_TMP/lines")" '^501 ' "PING x"
expect "221 bye"
assert_eq "$(wc -l <"$E2E_TMP/lines" | tr -d ' ')" "$n" "session line count"

note "interactive session: WHOAMI, STATS, HELP, SLEEP, 501s, QUIT"
conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_expect "$c" "$banner" "banner"
conn_send "$c" 'WHOAMI\r\n'
conn_line "$c"
assert_match "$LINE" \
    "^200 client=127\\.0\\.0\\.1:[0-9]+ server=127\\.0\\.0\\.1:$cmd_p service=cmd conn=[0-9]+\$" \
    "WHOAMI"
peer=${LINE#200 client=}
peer=${peer%% *}
id=${LINE##*conn=}
accept=$(wait_log "event=accept .*peer=$peer ")
assert_eq "$(log_field "$accept" conn)" "$id" "conn id of WHOAMI and accept"

conn_send "$c" 'STATS\r\n'
stats=
while conn_line "$c"; [ "${LINE:0:4}" = 211- ]; do
	stats="$stats${LINE#211-} "
done
assert_eq "$LINE" "211 end" "last STATS line"
assert_match "$stats" '(^| )uptime_s=[0-9]+ ' "STATS uptime_s"
assert_match "$stats" '(^| )clients_active=1 ' "STATS clients_active"

conn_send "$c" 'help\n'
help=
while conn_line "$c"; [ "${LINE:0:4}" = 214- ]; do
	help="$help${LINE#214-}"$'\n'
done
assert_eq "$LINE" "214 end" "last HELP line"
for v in PING ECHO TIME WHOAMI PORTS STATS SLEEP HELP QUIT; do
	printf '%s' "$help" | grep -q "^$v" || fail "HELP has no line for $v"
done

for bad in 'PING x' 'TIME x' 'WHOAMI x' 'PORTS x' 'STATS x' 'HELP x' \
    'QUIT x' 'SLEEP' 'SLEEP abc' 'SLEEP -1' 'SLEEP 10001' 'SLEEP 12x'; do
	conn_send "$c" "$bad\\r\\n"
	conn_line "$c"
	assert_match "$LINE" '^501 .' "reply to \"$bad\""
done
conn_send "$c" 'NOSUCH\r\nsleep 0\r\n'
conn_expect "$c" "500 unknown command" "reply to NOSUCH"
conn_expect "$c" "200 slept 0" "reply to sleep 0"
t0=$(now_ms)
conn_send "$c" 'SLEEP 250\n'
conn_expect "$c" "200 slept 250" "reply to SLEEP 250"
t1=$(now_ms)
[ $((t1 - t0)) -ge 240 ] || fail "SLEEP 250 answered after $((t1 - t0)) ms"
conn_send "$c" 'ECHO still here\r\n'
conn_expect "$c" "200 still here" "ECHO after the errors"
conn_send "$c" 'quit\r\n'
conn_expect "$c" "221 bye" "reply to quit"
conn_expect_eof "$c"
conn_close "$c"
line=$(wait_log "event=close .*conn=$id( |\$)")
assert_match "$line" ' reason=quit( |$)' "close after QUIT"

server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "--max-line 16 and -t 1"
server_start --max-line 16 -t 1 0:cmd
cmd_p=$(server_port 1)
banner="220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$cmd_p (cmd)"
conn_open 127.0.0.1 "$cmd_p"
idle=$CONN
t0=$(now_ms)
conn_expect "$idle" "$banner" "banner"

conn_open 127.0.0.1 "$cmd_p"
c=$CONN
conn_expect "$c" "$banner" "banner"
conn_send "$c" 'ECHO 0123456789a\r\n'
conn_expect "$c" "200 0123456789a" "a line of exactly 16 bytes"
conn_send "$c" 'ECHO 0123456789ab'
conn_expect "$c" "421 line too long, closing" "17 bytes without a newline"
conn_expect_eof "$c"
conn_close "$c"
wait_log "event=close .*port=$cmd_p .*reason=line_too_long" >/dev/null

conn_expect "$idle" "421 idle timeout, closing" "idle client"
t1=$(now_ms)
conn_expect_eof "$idle"
conn_close "$idle"
[ $((t1 - t0)) -ge 900 ] || fail "idle client closed after $((t1 - t0)) ms"
note "idle client closed after $((t1 - t0)) ms"
wait_log "event=close .*port=$cmd_p .*reason=idle_timeout" >/dev/null

server_stop
assert_eq "$SRV_RC" 0 "exit status"
