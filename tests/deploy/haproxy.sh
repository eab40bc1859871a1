#!/bin/bash
# Scaling out behind HAProxy (docs/deploy.md): the example haproxy.cfg of
# the doc passes `haproxy -c`. Then, live, on loopback only: two mpserver
# instances (cmd and metrics channels on kernel-chosen ports) behind one
# HAProxy in TCP mode (`haproxy -f CFG -db`, foreground, config in a
# scratch directory) whose frontend is on a third free port, balancing
# roundrobin and checking each instance's /healthz on its metrics channel.
# 20 sessions through HAProxy each send WHOAMI: both instances answer (the
# server= field), and each instance's log shows the accepts. Then instance
# b is stopped (SIGTERM, exit 0): HAProxy marks it DOWN and every session
# goes to a. Skipped (77) when haproxy is not installed.
# Usage: haproxy.sh MPSERVER DEPLOY_MD
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
bin=${1:?usage: $0 MPSERVER DEPLOY_MD}
doc=${2:?usage: $0 MPSERVER DEPLOY_MD}
[ -x "$bin" ] || fail "no executable mpserver at $bin"
need haproxy
require python3

# The doc's example: the first ```haproxy block of docs/deploy.md.
awk '/^```haproxy$/ { on = 1; next } on && /^```$/ { exit } on' "$doc" \
    >"$T/doc.cfg"
[ -s "$T/doc.cfg" ] || fail "no \`\`\`haproxy block in $doc"
haproxy -c -f "$T/doc.cfg" >"$T/doc.check" 2>&1 ||
    { cat "$T/doc.check" >&2; fail "the haproxy.cfg of $doc does not pass haproxy -c"; }
note "the example haproxy.cfg of $(basename "$doc") passes haproxy -c"

srv_start "$bin" 0:cmd 0:metrics
a_pid=$SRV_PID a_err=$SRV_ERR
a_cmd=$(srv_port "$SRV_OUT" 1) a_metrics=$(srv_port "$SRV_OUT" 2)
srv_start "$bin" 0:cmd 0:metrics
b_pid=$SRV_PID b_err=$SRV_ERR
b_cmd=$(srv_port "$SRV_OUT" 1) b_metrics=$(srv_port "$SRV_OUT" 2)

# haproxy_cfg FRONT: the test's config, frontend on 127.0.0.1:FRONT.
haproxy_cfg() {
	cat <<CFG
global
    log stderr format short local0 info
    maxconn 256

defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend cmd
    bind 127.0.0.1:$1
    default_backend cmd

backend cmd
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 300ms fall 2 rise 1
    server a 127.0.0.1:$a_cmd check port $a_metrics
    server b 127.0.0.1:$b_cmd check port $b_metrics
CFG
}

# A port found free may be taken by another test before HAProxy binds it:
# then HAProxy exits at once, and another port is tried (at most 5).
haproxy_listens() {
	gone "$h_pid" || python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
	    "$front" 2>/dev/null
}
for attempt in 1 2 3 4 5; do
	front=$(free_port)
	haproxy_cfg "$front" >"$T/haproxy.cfg"
	haproxy -c -f "$T/haproxy.cfg" >"$T/check" 2>&1 ||
	    { cat "$T/check" >&2; fail "haproxy -c rejects the test's config"; }
	haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
	h_pid=$!
	track "$h_pid"
	wait_for "$DEPLOY_TIMEOUT" "HAProxy to listen or exit" haproxy_listens
	gone "$h_pid" || break
	note "haproxy could not start on $front (attempt $attempt):" \
	    "$(grep -m1 ALERT "$T/haproxy.log" || true)"
	[ "$attempt" -lt 5 ] || { show "$T/haproxy.log" "haproxy output";
	    fail "haproxy did not start in 5 attempts"; }
done
note "instances a 127.0.0.1:$a_cmd (metrics $a_metrics)," \
    "b 127.0.0.1:$b_cmd (metrics $b_metrics); HAProxy on 127.0.0.1:$front"

# whoami PORT: one cmd session (banner, WHOAMI, QUIT); prints the server=
# field of the WHOAMI reply, or fails (returns 1) quietly.
whoami() {
	local fd line server
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
	IFS= read -r -t 5 -u "$fd" line || { exec {fd}<&-; return 1; }
	case $line in
	220\ *) ;;
	*) exec {fd}<&-; return 1 ;;
	esac
	printf 'WHOAMI\r\n' >&"$fd"
	IFS= read -r -t 5 -u "$fd" line || { exec {fd}<&-; return 1; }
	line=${line%$'\r'}
	server=$(printf '%s\n' "$line" | sed -n 's/^200 .* server=\([^ ]*\) .*/\1/p')
	printf 'QUIT\r\n' >&"$fd"
	IFS= read -r -t 5 -u "$fd" line || true
	exec {fd}<&-
	[ -n "$server" ] || return 1
	echo "$server"
}
through_haproxy() {
	whoami "$front" >/dev/null 2>&1
}
wait_for "$DEPLOY_TIMEOUT" "a cmd session through HAProxy" through_haproxy
! gone "$h_pid" || { show "$T/haproxy.log" "haproxy output";
    fail "haproxy exited"; }

na=0 nb=0
for i in $(seq 1 20); do
	s=$(whoami "$front" 2>/dev/null) ||
	    { show "$T/haproxy.log" "haproxy output";
	    fail "session $i through HAProxy failed"; }
	case $s in
	"127.0.0.1:$a_cmd") na=$((na + 1)) ;;
	"127.0.0.1:$b_cmd") nb=$((nb + 1)) ;;
	*) fail "session $i: WHOAMI names server=$s, neither instance" ;;
	esac
done
note "20 sessions through HAProxy: a served $na, b served $nb"
[ "$na" -ge 5 ] && [ "$nb" -ge 5 ] ||
    fail "roundrobin should give each instance about half: a $na, b $nb"
# Each instance's own log agrees (the probe session above may add one).
la=$(grep -c "event=accept port=$a_cmd service=cmd" "$a_err" || true)
lb=$(grep -c "event=accept port=$b_cmd service=cmd" "$b_err" || true)
[ "$la" -ge "$na" ] && [ "$lb" -ge "$nb" ] ||
    fail "accept log lines (a $la, b $lb) fewer than sessions (a $na, b $nb)"
grep -q "event=accept port=$a_metrics service=metrics" "$a_err" ||
    fail "HAProxy's health check never reached a's metrics channel"
note "accept logs: a $la, b $lb cmd sessions; health checks reach /healthz"

note "stop b: HAProxy marks it DOWN, a takes every session"
srv_stop "$b_pid"
assert_eq "$SRV_RC" 0 "exit status of b after SIGTERM"
b_down() {
	grep -q 'Server cmd/b is DOWN' "$T/haproxy.log"
}
wait_for "$DEPLOY_TIMEOUT" "HAProxy to mark b DOWN" b_down
for i in 1 2 3 4 5; do
	s=$(whoami "$front" 2>/dev/null) || fail "session $i after b stopped failed"
	assert_eq "$s" "127.0.0.1:$a_cmd" "server of session $i after b stopped"
done
note "5 sessions after b stopped: all served by a"

kill -TERM "$h_pid"
wait_for "$DEPLOY_TIMEOUT" "haproxy to exit" gone "$h_pid"
srv_stop "$a_pid"
assert_eq "$SRV_RC" 0 "exit status of a after SIGTERM"
