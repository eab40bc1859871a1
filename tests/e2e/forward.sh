#!/bin/bash
# The forward service with real peers on loopback (SPEC 8 and 10): through
# another mpserver's echo channel 256 KiB come back byte-exact, and both
# close lines count them exactly; a file from Python's http.server is
# fetched through the relay with curl; a half-close is passed on both ways
# (the client's EOF reaches the upstream, which still answers; the
# upstream's EOF reaches the client after all its data, and the client
# still sends afterwards); a refused upstream and a connect timeout
# (connect-timeout=1 to a listener whose accept queue is full) close the
# client without a byte, reason=upstream with the error, counted in
# mpserver_upstream_failures_total; `P1-P2 forward to=127.0.0.2` keeps each
# channel's port; a name that resolves to the channel itself is refused at
# run time (reason upstream, no loop); a file that names the channel itself
# literally is exit 2. Peers are tests/e2e/fwd_peer.py.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
PEER=$(dirname "$0")/fwd_peer.py

# peer_start NAME MODE ARGS...: start a server mode of fwd_peer.py, wait
# for its "port P" line; PEER_PORT is P.
peer_start() {
	local out=$E2E_TMP/peer.$1 pid deadline
	shift
	python3 "$PEER" "$@" >"$out" 2>"$out.err" &
	pid=$!
	track "$pid"
	deadline=$(($(now_ms) + E2E_TIMEOUT * 1000))
	until grep -q '^port ' "$out"; do
		if gone "$pid" || [ "$(now_ms)" -ge "$deadline" ]; then
			cat "$out.err" >&2
			fail "fwd_peer.py $* did not start"
		fi
		sleep 0.02
	done
	PEER_PORT=$(awk '$1 == "port" { print $2; exit }' "$out")
}

# peer_client MODE ARGS...: a client mode of fwd_peer.py; its words (the
# client's own port first) in R, the conn= of its accept line in CONN.
peer_client() {
	local line
	timeout "$E2E_TIMEOUT" python3 "$PEER" "$@" >"$E2E_TMP/client.r" ||
	    fail "fwd_peer.py $* failed: $(cat "$E2E_TMP/client.r")"
	read -r -a R <"$E2E_TMP/client.r"
	line=$(wait_log "event=accept .*peer=127\\.0\\.0\\.1:${R[0]} conn=[0-9]+")
	CONN=$(log_field "$line" conn)
}

# close_of CONN: the close line of CONN (current server).
close_of() {
	wait_log "event=close .*conn=$1( |\$)"
}

# failures PORT: mpserver_upstream_failures_total of channel PORT.
failures() {
	curl -sS -m "$E2E_TIMEOUT" "http://127.0.0.1:$m_p/metrics" |
	    sed -n "s/^mpserver_upstream_failures_total{\\(.*,\\)\\{0,1\\}port=\"$1\"[,}].* \\([0-9.e+]*\\)\$/\\2/p"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

note "upstreams: an mpserver echo channel, http.server, fwd_peer.py"
server_start 0:echo
up=$SRV_NAME
echo_p=$(server_port 1)
mkdir "$E2E_TMP/www"
head -c 300000 /dev/urandom >"$E2E_TMP/www/file.bin"
python3 -u -m http.server --bind 127.0.0.1 --directory "$E2E_TMP/www" 0 \
    >"$E2E_TMP/http.out" 2>"$E2E_TMP/http.err" &
track $!
http_pid=$!
http_up() {
	gone "$http_pid" || grep -q '^Serving HTTP on ' "$E2E_TMP/http.out"
}
wait_for "$E2E_TIMEOUT" "http.server to start" http_up
http_p=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\) .*/\1/p' \
    "$E2E_TMP/http.out")
[ -n "$http_p" ] || fail "http.server: $(cat "$E2E_TMP/http.out" "$E2E_TMP/http.err")"
peer_start rae reply-after-eof
rae_p=$PEER_PORT
peer_start sf send-first 200000 "$E2E_TMP/late.got"
sf_p=$PEER_PORT
peer_start full full
full_p=$PEER_PORT
# A port bound by nobody: a free port, held by no listener.
dead_p=$(free_port)

cat >"$E2E_TMP/fwd.conf" <<EOF
# Channels 4 to 7 (1 to 3 are on the command line).
0 forward to=127.0.0.1:$rae_p
0 forward to=127.0.0.1:$sf_p connect-timeout=2
0 forward to=127.0.0.1:$dead_p
0 forward to=127.0.0.1:$full_p connect-timeout=1
EOF
server_start --bind 127.0.0.1 0:metrics "0:forward=127.0.0.1:$echo_p" \
    "0:forward=127.0.0.1:$http_p" -f "$E2E_TMP/fwd.conf"
fw=$SRV_NAME
m_p=$(server_port 1)
fecho_p=$(server_port 2)
fhttp_p=$(server_port 3)
frae_p=$(server_port 4)
fsf_p=$(server_port 5)
fdead_p=$(server_port 6)
ffull_p=$(server_port 7)
assert_eq "$(server_channels)" 7 "channels"
for i in 2 3 4 5 6 7; do
	assert_eq "$(server_field "$i" 2)" forward "service of channel $i"
done
for p in "$fecho_p" "$fdead_p" "$ffull_p"; do
	assert_eq "$(failures "$p")" 0 "upstream failures of $p at start"
done

note "to an mpserver echo channel: 256 KiB back byte-exact"
head -c 262144 /dev/urandom >"$E2E_TMP/echo.in"
peer_client send-shut "$fecho_p" "$E2E_TMP/echo.in" "$E2E_TMP/echo.out"
assert_eq "$(sha "$E2E_TMP/echo.out")" "$(sha "$E2E_TMP/echo.in")" \
    "sha256 of what came back"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" bytes_in)" 262144 "forward bytes_in"
assert_eq "$(log_field "$line" bytes_out)" 262144 "forward bytes_out"
assert_eq "$(log_field "$line" reason)" "done" "forward close reason"
server_select "$up"
line=$(wait_log "event=close port=$echo_p ")
assert_eq "$(log_field "$line" bytes_in)" 262144 "echo upstream bytes_in"
assert_eq "$(log_field "$line" bytes_out)" 262144 "echo upstream bytes_out"
assert_eq "$(log_field "$line" reason)" client_closed "echo upstream close reason"
server_select "$fw"

note "to Python's http.server: curl through the relay"
code=$(curl -sS -m "$E2E_TIMEOUT" -o "$E2E_TMP/file.got" -w '%{http_code}' \
    "http://127.0.0.1:$fhttp_p/file.bin") || fail "curl through forward failed"
assert_eq "$code" 200 "HTTP status through forward"
assert_eq "$(sha "$E2E_TMP/file.got")" "$(sha "$E2E_TMP/www/file.bin")" \
    "sha256 of the file fetched"
line=$(wait_log "event=close port=$fhttp_p ")
assert_eq "$(log_field "$line" reason)" "done" "close reason after HTTP"
[ "$(log_field "$line" bytes_out)" -gt 300000 ] ||
    fail "bytes_out after HTTP: $(log_field "$line" bytes_out)"
grep -q '"GET /file.bin HTTP/1.1" 200' "$E2E_TMP/http.err" ||
    fail "http.server did not log the GET: $(cat "$E2E_TMP/http.err")"

note "half-close: the client's EOF reaches the upstream, which answers"
head -c 102400 /dev/urandom >"$E2E_TMP/half.in"
peer_client send-shut "$frae_p" "$E2E_TMP/half.in" "$E2E_TMP/half.out"
assert_eq "$(cat "$E2E_TMP/half.out")" \
    "got 102400 bytes $(sha "$E2E_TMP/half.in")" "reply after the client's EOF"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" bytes_in)" 102400 "bytes_in, client half-close"
assert_eq "$(log_field "$line" bytes_out)" "$(wc -c <"$E2E_TMP/half.out")" \
    "bytes_out, client half-close"
assert_eq "$(log_field "$line" reason)" "done" "close reason, client half-close"

note "half-close: the upstream's EOF reaches the client after the data"
timeout "$E2E_TIMEOUT" python3 "$PEER" eof-then-send "$fsf_p" \
    "$E2E_TMP/first.got" 'late
' >"$E2E_TMP/client.r" || {
	rc=$?
	[ "$rc" -ne 3 ] || fail "the upstream shut its write side after" \
	    "200000 bytes; the client got $(wc -c <"$E2E_TMP/first.got")" \
	    "bytes and no EOF within 5 s"
	fail "client of send-first: exit $rc: $(cat "$E2E_TMP/client.r")"
}
read -r -a R <"$E2E_TMP/client.r"
assert_eq "${R[2]}" eof "how the connection ended after the client's late send"
want=$(python3 -c 'import hashlib
print(hashlib.sha256(bytes(i % 251 for i in range(200000))).hexdigest())')
assert_eq "$(sha "$E2E_TMP/first.got")" "$want" "the upstream's 200000 bytes"
late_in() {
	[ "$(cat "$E2E_TMP/late.got" 2>/dev/null)" = late ]
}
wait_for "$E2E_TIMEOUT" "the client's late bytes to reach the upstream" late_in
line=$(wait_log "event=accept .*peer=127\\.0\\.0\\.1:${R[0]} conn=")
line=$(close_of "$(log_field "$line" conn)")
assert_eq "$(log_field "$line" bytes_in)" 5 "bytes_in, upstream half-close"
assert_eq "$(log_field "$line" bytes_out)" 200000 "bytes_out, upstream half-close"
assert_eq "$(log_field "$line" reason)" "done" "close reason, upstream half-close"

note "upstream refused: closed without a byte, reason upstream, counted"
peer_client wait-end "$fdead_p"
assert_eq "${R[2]} ${R[3]}" "eof 0" "the client of a refused upstream"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" reason)" upstream "close reason, refused"
assert_match "$line" ' error="Connection refused"' "close line error, refused"
assert_eq "$(failures "$fdead_p")" 1 "upstream failures of $fdead_p"
assert_eq "$(failures "$fecho_p")" 0 "upstream failures of $fecho_p"

note "connect timeout: connect-timeout=1 to a full accept queue"
peer_client wait-end "$ffull_p"
assert_eq "${R[2]} ${R[3]}" "eof 0" "the client of an unreachable upstream"
[ "${R[1]}" -ge 900 ] && [ "${R[1]}" -lt 5000 ] ||
    fail "closed ${R[1]} ms after connect; expected about 1 s (connect-timeout=1)"
note "closed ${R[1]} ms after connect"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" reason)" upstream "close reason, timeout"
assert_match "$line" ' error="[^"]*[Tt]imed out' "close line error, timeout"
assert_eq "$(failures "$ffull_p")" 1 "upstream failures of $ffull_p"

server_stop
assert_eq "$SRV_RC" 0 "exit status of the forward server"
server_select "$up"
server_stop
assert_eq "$SRV_RC" 0 "exit status of the echo server"

note "to=127.0.0.2 keeps each channel's port; a name that is the channel"
peer_start tag tag 127.0.0.2
p1=$PEER_PORT
p2=$((p1 + 1))
self_p=$(free_port)
cat >"$E2E_TMP/host.conf" <<EOF
$p1-$p2 forward to=127.0.0.2
$self_p forward to=localhost
EOF
server_start --bind 127.0.0.1 0:metrics -f "$E2E_TMP/host.conf"
m_p=$(server_port 1)
assert_eq "$(server_port 2) $(server_port 3)" "$p1 $p2" "ports of the range"
printf hello >"$E2E_TMP/hello"
for p in "$p1" "$p2"; do
	peer_client send-shut "$p" "$E2E_TMP/hello" "$E2E_TMP/tag.out"
	assert_eq "$(cat "$E2E_TMP/tag.out")" "127.0.0.2:$p hello" \
	    "reply through 127.0.0.1:$p"
done
peer_client wait-end "$self_p"
assert_eq "${R[2]} ${R[3]}" "eof 0" "the client of a channel forwarding to itself"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" reason)" upstream "close reason, self by name"
assert_eq "$(grep -c "event=accept port=$self_p " "$SRV_ERR")" 1 \
    "accepts on $self_p (a loop would make more)"
assert_eq "$(failures "$self_p")" 1 "upstream failures of $self_p"
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "a file naming the channel itself: exit 2 at start-up"
self_p=$(free_port)
for to in "127.0.0.1:$self_p" 127.0.0.1; do
	printf '%s forward to=%s\n' "$self_p" "$to" >"$E2E_TMP/self.conf"
	rc=0
	timeout "$E2E_TIMEOUT" "$MPSERVER" -f "$E2E_TMP/self.conf" \
	    >"$E2E_TMP/self.out" 2>"$E2E_TMP/self.err" </dev/null || rc=$?
	assert_eq "$rc" 2 "exit status for to=$to on port $self_p"
	[ ! -s "$E2E_TMP/self.out" ] || fail "stdout for to=$to: $(cat "$E2E_TMP/self.out")"
	assert_match "$(head -n 1 "$E2E_TMP/self.err")" \
	    "^mpserver: $E2E_TMP/self.conf:1: .*to=" "message for to=$to"
done
