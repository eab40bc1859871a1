#!/bin/bash
# The real client behind a proxy (SPEC 10, 11 and 12), with HAProxy on
# loopback. HAProxy in front of mpserver (`send-proxy`, `send-proxy-v2`),
# clients connecting to HAProxy from 127.0.0.2 or 127.0.0.3: on a cmd
# channel with proxy-from=127.0.0.1/32 WHOAMI names the real client and the
# accept line has peer=127.0.0.2:... via=127.0.0.1:...; a line's deny=
# 127.0.0.2/32 refuses that client through HAProxy (no byte, reason acl)
# while HAProxy's health checks (v2 LOCAL, v1 UNKNOWN; tcp-check expects
# the 220 banner) keep the server UP (stats socket); max-per-ip=1 counts
# the real client (a second one from 127.0.0.2 refused, reason per_ip, one
# from 127.0.0.3 served). A header and its payload in one write, v1 and
# v2, from an allowed proxy source get ACK. Malformed headers from a proxy
# source (bad v1 and v2 signatures, v1 over 107 bytes, truncated then
# closed, garbage, silence past idle-timeout=1), each on a channel of its
# own (reject lines are rate-limited per channel), are closed without a
# byte, logged reason=proxy and counted in
# mpserver_connections_rejected_total{reason="proxy"}. The other way:
# forward channels with proxy-protocol=v1 and v2 to an HAProxy frontend
# with accept-proxy, whose log names the real client 127.0.0.2.
# Skipped (77) when haproxy is not installed. Clients are proxy_peer.py.
# Usage: proxy.sh MPSERVER
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
bin=${1:?usage: $0 MPSERVER}
[ -x "$bin" ] || fail "no executable mpserver at $bin"
need haproxy
require python3
require curl
PEER=$(dirname "$0")/proxy_peer.py

# peer ARGS...: run proxy_peer.py, bounded; its output in $T/peer.out and,
# as words of its first line, in R.
peer() {
	timeout "$DEPLOY_TIMEOUT" python3 "$PEER" "$@" >"$T/peer.out" 2>&1 ||
	    fail "proxy_peer.py $*: $(cat "$T/peer.out")"
	read -r -a R <"$T/peer.out"
}

# log_line FILE ERE: the first line of FILE matching ERE, waited for.
log_line() {
	local deadline=$(($(now_ms) + DEPLOY_TIMEOUT * 1000))
	while ! grep -Eq -- "$2" "$1"; do
		[ "$(now_ms)" -lt "$deadline" ] || {
			show "$1" "log"
			fail "no line matching /$2/ in $(basename "$1")"
		}
		sleep 0.02
	done
	grep -Em1 -- "$2" "$1"
}

# metric NAME PORT [REASON]: the value of NAME for channel PORT (and reason).
metric() {
	curl -sS -m "$DEPLOY_TIMEOUT" "http://127.0.0.1:$m_metrics/metrics" |
	    grep -E "^$1\\{" | grep -F "port=\"$2\"" |
	    grep -F "${3:+reason=\"$3\"}" | awk '{ print $NF }'
}

# no_byte WHAT: R (a raw exchange) got nothing and saw the connection end.
no_byte() {
	[ "${R[3]}" = 0 ] || fail "$1: got ${R[3]} bytes: ${R[*]:4}"
	case ${R[2]} in
	eof | reset) ;;
	*) fail "$1: the connection was not closed within the wait (${R[1]} ms)" ;;
	esac
}

note "mpserver with proxy-from channels"
cat >"$T/m.conf" <<'EOF'
# 2: WHOAMI behind send-proxy and send-proxy-v2
0 cmd proxy-from=127.0.0.1/32
# 3: the real client's ACL; 4: its max-per-ip
0 cmd proxy-from=127.0.0.1/32 deny=127.0.0.2/32
0 cmd proxy-from=127.0.0.1/32 max-per-ip=1
# 5: a header and its payload in one write
0 ack proxy-from=127.0.0.1/32
# 6-11: malformed headers, one channel each (reject lines are rate-limited
# per channel); idle-timeout=30, so that a refusal within the client's 5 s
# is the header's doing; 11 (silence) has idle-timeout=1
0 ack proxy-from=127.0.0.1/32 idle-timeout=30
0 ack proxy-from=127.0.0.1/32 idle-timeout=30
0 ack proxy-from=127.0.0.1/32 idle-timeout=30
0 ack proxy-from=127.0.0.1/32 idle-timeout=30
0 ack proxy-from=127.0.0.1/32 idle-timeout=30
0 ack proxy-from=127.0.0.1/32 idle-timeout=1
# 12: a plain ack behind HAProxy's accept-proxy frontend
0 ack
EOF
srv_start "$bin" 0:metrics -f "$T/m.conf"
m_pid=$SRV_PID m_out=$SRV_OUT m_err=$SRV_ERR
m_metrics=$(srv_port "$m_out" 1)
who_p=$(srv_port "$m_out" 2)
deny_p=$(srv_port "$m_out" 3)
perip_p=$(srv_port "$m_out" 4)
ack_p=$(srv_port "$m_out" 5)
plain_p=$(srv_port "$m_out" 12)

# haproxy_cfg WHO1 WHO2 DENY PERIP AP: the config, frontends on those ports.
haproxy_cfg() {
	cat <<CFG
global
    log stderr format raw local0 info
    stats socket $T/haproxy.sock mode 600 level user
    maxconn 256

defaults
    mode tcp
    log global
    log-format "fe=%f client=%ci:%cp be=%b"
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend who1
    bind 127.0.0.1:$1
    default_backend who1
backend who1
    server m 127.0.0.1:$who_p send-proxy

frontend who2
    bind 127.0.0.1:$2
    default_backend who2
backend who2
    server m 127.0.0.1:$who_p send-proxy-v2

# Health checks alone: v1 (PROXY UNKNOWN) on the WHOAMI channel.
backend chk1
    option tcp-check
    tcp-check expect string 220
    default-server inter 300ms fall 1 rise 1
    server m 127.0.0.1:$who_p send-proxy check

frontend deny
    bind 127.0.0.1:$3
    default_backend deny
backend deny
    option tcp-check
    tcp-check expect string 220
    default-server inter 300ms fall 1 rise 1
    server m 127.0.0.1:$deny_p send-proxy-v2 check

frontend perip
    bind 127.0.0.1:$4
    default_backend perip
backend perip
    server m 127.0.0.1:$perip_p send-proxy-v2

frontend ap
    bind 127.0.0.1:$5 accept-proxy
    default_backend ap
backend ap
    server m 127.0.0.1:$plain_p
CFG
}

# HAProxy listens once its stats socket answers; a frontend port taken
# meanwhile makes it exit at once: then other ports are tried (5 times).
haproxy_up() {
	gone "$h_pid" || python3 "$PEER" stats "$T/haproxy.sock" who1 m \
	    >/dev/null 2>&1
}
for attempt in 1 2 3 4 5; do
	read -r -d '' f_who1 f_who2 f_deny f_perip f_ap < <(mp_free_ports 5) ||
	    true
	haproxy_cfg "$f_who1" "$f_who2" "$f_deny" "$f_perip" "$f_ap" \
	    >"$T/haproxy.cfg"
	haproxy -c -f "$T/haproxy.cfg" >"$T/check" 2>&1 ||
	    { cat "$T/check" >&2; fail "haproxy -c rejects the test's config"; }
	rm -f "$T/haproxy.sock"
	haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
	h_pid=$!
	track "$h_pid"
	wait_for "$DEPLOY_TIMEOUT" "HAProxy to start or exit" haproxy_up
	gone "$h_pid" || break
	note "haproxy could not start (attempt $attempt):" \
	    "$(grep -m1 ALERT "$T/haproxy.log" || true)"
	[ "$attempt" -lt 5 ] || { show "$T/haproxy.log" "haproxy output";
	    fail "haproxy did not start in 5 attempts"; }
done
note "HAProxy frontends who1 $f_who1, who2 $f_who2, deny $f_deny," \
    "perip $f_perip, ap $f_ap (accept-proxy)"

# whoami_via FRONT SRC: a WHOAMI session to HAProxy's FRONT from SRC; the
# reply names client=SRC:its port; the accept line of that conn has
# peer=SRC:port and via=127.0.0.1:...
whoami_via() {
	local front=$1 src=$2 cport reply conn line
	peer whoami "$src" "$front"
	cport=$(sed -n 1p "$T/peer.out")
	assert_eq "$(sed -n 2p "$T/peer.out" | cut -c1-4)" "220 " \
	    "banner through $front from $src"
	reply=$(sed -n 3p "$T/peer.out")
	[[ $reply =~ ^200\ client=([^ ]+)\ .*conn=([0-9]+) ]] ||
	    fail "WHOAMI through $front from $src: \"$reply\""
	assert_eq "${BASH_REMATCH[1]}" "$src:$cport" "WHOAMI client= from $src"
	conn=${BASH_REMATCH[2]}
	line=$(log_line "$m_err" "event=accept .* conn=$conn( |\$)")
	[[ $line =~ \ peer=${src//./\\.}:$cport( |$) ]] ||
	    fail "accept line of conn $conn: no peer=$src:$cport: $line"
	[[ $line =~ \ via=127\.0\.0\.1:[0-9]+( |$) ]] ||
	    fail "accept line of conn $conn: no via=127.0.0.1:...: $line"
}

note "WHOAMI through send-proxy (v1) and send-proxy-v2 from 127.0.0.2"
whoami_via "$f_who1" 127.0.0.2
whoami_via "$f_who2" 127.0.0.2
whoami_via "$f_who2" 127.0.0.3

# server_up BACKEND: HAProxy's server BACKEND/m is UP after a passed check.
server_up() {
	python3 "$PEER" stats "$T/haproxy.sock" "$1" m >"$T/stat" 2>&1 &&
	    read -r st cs <"$T/stat" && [ "$st" = UP ] && [ "$cs" = L7OK ]
}
note "HAProxy's health checks pass: v2 LOCAL and v1 UNKNOWN"
for b in deny chk1; do
	mp_poll "$DEPLOY_TIMEOUT" server_up "$b" || {
		show "$T/haproxy.log" "haproxy output"
		fail "$b/m not UP with a passed check (L7OK): $(cat "$T/stat")"
	}
done
line=$(log_line "$m_err" "event=accept port=$deny_p .*peer=127\\.0\\.0\\.1:")
case $line in
*" via="*) fail "a LOCAL health check got via=: $line" ;;
esac

note "deny=127.0.0.2/32 refuses the real client through HAProxy, reason acl"
peer raw 127.0.0.2 "$f_deny" "" keep 5
no_byte "a denied client through HAProxy"
cport=${R[0]}
line=$(log_line "$m_err" "event=reject port=$deny_p .*reason=acl")
[[ $line =~ \ peer=127\.0\.0\.2:$cport( |$) ]] ||
    fail "reject line names another peer than 127.0.0.2:$cport: $line"
assert_eq "$(metric mpserver_connections_rejected_total "$deny_p" acl)" 1 \
    "acl rejections on $deny_p"
whoami_via "$f_deny" 127.0.0.3
server_up deny || fail "deny/m no longer UP: $(cat "$T/stat")"
! grep -E "event=reject port=$deny_p .*reason=proxy" "$m_err" ||
    fail "a health check was refused reason=proxy"

note "max-per-ip=1 counts the real client"
python3 "$PEER" hold 127.0.0.2 "$f_perip" >"$T/hold.out" 2>&1 &
hold_pid=$!
track "$hold_pid"
held() {
	grep -q ' 220 ' "$T/hold.out" || { gone "$hold_pid" &&
	    fail "holding client: $(cat "$T/hold.out")"; }
}
wait_for "$DEPLOY_TIMEOUT" "the first client from 127.0.0.2 to be served" held
peer raw 127.0.0.2 "$f_perip" "" keep 5
assert_eq "${R[*]:2}" "eof 26 b'421 too many connections\\r\\n'" \
    "second client from 127.0.0.2"
line=$(log_line "$m_err" "event=reject port=$perip_p .*reason=per_ip")
[[ $line =~ \ peer=127\.0\.0\.2:${R[0]}( |$) ]] ||
    fail "per_ip reject line names another peer than 127.0.0.2:${R[0]}: $line"
whoami_via "$f_perip" 127.0.0.3
assert_eq "$(metric mpserver_connections_rejected_total "$perip_p" per_ip)" 1 \
    "per_ip rejections on $perip_p"
kill -TERM "$hold_pid"
wait_for "$DEPLOY_TIMEOUT" "the holding client to exit" gone "$hold_pid"

note "a header and its payload in one write get ACK (v1, v2)"
peer raw 127.0.0.1 "$ack_p" \
    "b'PROXY TCP4 127.0.0.9 127.0.0.1 5555 $ack_p\\r\\nhello\\n'" keep 5
assert_eq "${R[*]:2}" "eof 4 b'ACK\\n'" "v1 header + payload in one write"
cport=${R[0]}
line=$(log_line "$m_err" "event=accept port=$ack_p .*peer=127\\.0\\.0\\.9:5555 ")
[[ $line =~ \ via=127\.0\.0\.1:$cport( |$) ]] ||
    fail "accept line: no via=127.0.0.1:$cport: $line"
conn=$(printf '%s\n' "$line" | sed -n 's/.* conn=\([0-9]*\).*/\1/p')
log_line "$m_err" "event=recv .*conn=$conn .*data=\"hello\"" >/dev/null
peer v2 127.0.0.9 127.0.0.1 5556 "$ack_p" 'hello v2
'
peer raw 127.0.0.1 "$ack_p" "$(cat "$T/peer.out")" keep 5
assert_eq "${R[*]:2}" "eof 4 b'ACK\\n'" "v2 header + payload in one write"
line=$(log_line "$m_err" "event=accept port=$ack_p .*peer=127\\.0\\.0\\.9:5556 ")
conn=$(printf '%s\n' "$line" | sed -n 's/.* conn=\([0-9]*\).*/\1/p')
log_line "$m_err" "event=recv .*conn=$conn .*data=\"hello v2\"" >/dev/null

note "forward with proxy-protocol=v1 and v2 to HAProxy's accept-proxy"
cat >"$T/f.conf" <<EOF
0 forward to=127.0.0.1:$f_ap proxy-protocol=v1
0 forward to=127.0.0.1:$f_ap proxy-protocol=v2
EOF
srv_start "$bin" -f "$T/f.conf"
f_pid=$SRV_PID f_out=$SRV_OUT
for n in 1 2; do
	p=$(srv_port "$f_out" "$n")
	peer raw 127.0.0.2 "$p" "b'through v$n\\n'" shut 5
	assert_eq "${R[*]:2}" "eof 4 b'ACK\\n'" \
	    "ACK through forward v$n, HAProxy and the plain ack channel"
	log_line "$T/haproxy.log" "^fe=ap client=127\\.0\\.0\\.2:${R[0]} " \
	    >/dev/null
	log_line "$m_err" "event=recv port=$plain_p .*data=\"through v$n\"" \
	    >/dev/null
done
note "HAProxy logged client=127.0.0.2 for both"

srv_stop "$f_pid"
assert_eq "$SRV_RC" 0 "exit status of the forward server"

note "malformed headers from a proxy source: no byte, reason proxy"
ncases=0
while IFS='|' read -r n what bytes mode; do
	ncases=$((ncases + 1))
	p=$(srv_port "$m_out" "$n")
	peer raw 127.0.0.1 "$p" "$bytes" "$mode" 5
	no_byte "$what (port $p)"
	if [ "$what" = silence ]; then
		[ "${R[1]}" -ge 900 ] && [ "${R[1]}" -lt 5000 ] ||
		    fail "silence: closed after ${R[1]} ms, idle-timeout=1"
	fi
	line=$(log_line "$m_err" "event=reject port=$p .*reason=proxy")
	[[ $line =~ \ peer=127\.0\.0\.1:${R[0]}( |$) ]] ||
	    fail "$what: reject line names another peer: $line"
	assert_eq "$(metric mpserver_connections_rejected_total "$p" proxy)" 1 \
	    "$what: proxy rejections on $p"
	assert_eq "$(metric mpserver_connections_accepted_total "$p")" 0 \
	    "$what: accepted on $p"
	note "$what: closed after ${R[1]} ms (${R[2]})"
done <<EOF
6|bad v1 signature|b'PROXZ TCP4 127.0.0.2 127.0.0.1 5555 80\\r\\nhello\\n'|keep
7|bad v2 signature|b'\\r\\n\\r\\n\\x00\\r\\nQUIX\\n\\x21\\x11\\x00\\x0c\\x7f\\x00\\x00\\x02\\x7f\\x00\\x00\\x01\\x15\\xb3\\x00\\x50hello\\n'|keep
8|v1 over 107 bytes|b'PROXY UNKNOWN $(printf '%0100d' 0)\\r\\nhello\\n'|keep
9|garbage|b'\\x00\\xffgarbage\\r\\n\\r\\n'|keep
11|silence||keep
10|truncated then closed|b'PROXY TCP4 127.0.0.2 127.0.0.1 5555'|shut
EOF
[ "$ncases" -eq 6 ] || fail "ran $ncases malformed cases, expected 6"

kill -TERM "$h_pid"
wait_for "$DEPLOY_TIMEOUT" "haproxy to exit" gone "$h_pid"
srv_stop "$m_pid"
assert_eq "$SRV_RC" 0 "exit status of the proxied server"
