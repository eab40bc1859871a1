#!/bin/bash
# Hostile conditions, seen in the log. Out of descriptors (a real limit,
# ulimit -n 64) with clients of echo, metrics and cmd waiting: the server
# pauses, serves them all once descriptors are back, and every stderr line
# is ours (ts= first, strict logfmt), nothing raw from libevent. A burst of
# 50 refusals and SIGTERM right after (as a rule within the rate limit's
# second): every refusal is in the log, one line each or counted in a
# suppressed=N, as many as the counter says. And a JSON recv line gives the
# client's UTF-8 back, an invalid byte as U+FFFD.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
real=$MPSERVER
logfmt=$(dirname "$0")/logfmt.py

# only_ours FILE: every line is one of our log lines.
only_ours() {
	local raw

	raw=$(grep -v '^ts=' "$1" || true)
	[ -z "$raw" ] || fail "stderr lines that are not ours: $raw"
	python3 "$logfmt" "$1" >/dev/null || fail "stderr is not strict logfmt"
}

note "out of descriptors"
MPSERVER=$E2E_TMP/lowfd
printf '#!/bin/sh\nulimit -n 64\nexec "%s" "$@"\n' "$real" >"$MPSERVER"
chmod +x "$MPSERVER"
server_start 0:echo 0:metrics 0:cmd -l debug
python3 - "$(server_port 1)" "$(server_port 2)" "$(server_port 3)" \
    "$SRV_ERR" <<'PY' || fail "clients were not served after the pause"
import socket, sys, time
echo, metrics, cmd = map(int, sys.argv[1:4])
err = sys.argv[4]

def wait_log(word, secs=10):
    deadline = time.monotonic() + secs
    while word not in open(err).read():
        assert time.monotonic() < deadline, 'no %s in the log' % word
        time.sleep(0.02)        # polling a log line

# The server takes some 50 holders; the rest, and everyone after, wait.
holders = [socket.create_connection(('127.0.0.1', echo)) for _ in range(80)]
wait_log('event=accept_pause')
late = []
for i in range(10):
    s = socket.create_connection(('127.0.0.1', metrics))
    s.sendall(b'GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    late.append(('metrics', s))
    s = socket.create_connection(('127.0.0.1', cmd))
    s.sendall(b'QUIT\r\n')
    late.append(('cmd', s))
for s in holders:
    s.close()
for kind, s in late:
    s.settimeout(10)
    got = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    if kind == 'metrics':
        assert got.startswith(b'HTTP/1.1 200 OK\r\n'), got[:100]
        assert b'\nmpserver_build_info{' in got, got[-200:]
    else:
        assert got.startswith(b'220 ') and got.endswith(b'221 bye\r\n'), got
print('20 clients served after the pause')
PY
# Whether the metrics listener itself met EMFILE depends on timing here;
# tests/integration/check_metrics.c forces that case in-process.
grep -q 'event=accept_pause .*port='"$(server_port 2)"' ' "$SRV_ERR" ||
    note "this time the metrics listener did not meet EMFILE itself"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status out of descriptors"
only_ours "$SRV_ERR"

note "50 refusals, then SIGTERM"
MPSERVER=$real
server_start 0:cmd 0:echo --max-clients 1 -l info
echo=$(server_port 2)
conn_open 127.0.0.1 "$(server_port 1)"
conn_line "$CONN"
assert_match "$LINE" '^220 ' "the one client admitted"
python3 - "$echo" <<'PY' || fail "a refused client got bytes"
import socket, sys
for i in range(50):
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
    s.settimeout(10)
    assert s.recv(100) == b'', 'refused client %d got bytes' % i
    s.close()
PY
conn_send "$CONN" 'STATS\r\n'
busy=
while conn_line "$CONN" && [ "$LINE" != "211 end" ]; do
	case $LINE in
	211-rejected_busy=*) busy=${LINE#211-rejected_busy=} ;;
	esac
done
assert_eq "$busy" 50 "rejected_busy in STATS"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status after the refusals"
only_ours "$SRV_ERR"
# A line naming a peer is one refused client; suppressed=N are N more.
# A line without a peer only reports suppressed ones, and must say so.
reported=$(awk -v port="$echo" '
	/ event=reject / && $0 ~ " port=" port " " {
		n = 0
		if ($0 ~ / peer=/)
			n = 1
		if (match($0, / suppressed=[0-9]+/))
			n += substr($0, RSTART + 12, RLENGTH - 12)
		else if (n == 0)
			bad++
		sum += n
	}
	END { print (bad ? "bad" : sum + 0) }' "$SRV_ERR")
assert_eq "$reported" 50 "refusals in the reject lines (peers + suppressed)"
grep -E "event=reject .*port=$echo .*reason=busy" "$SRV_ERR" >/dev/null ||
    fail "no reason=busy on the reject lines"

note "JSON keeps UTF-8"
server_start 0 --log-format json
python3 - "$(server_port 1)" <<'PY' || fail "no ACK"
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(10)
s.sendall('café ☃ '.encode() + b'\xff\n')
assert s.recv(100) == b'ACK\n'
PY
line=$(wait_log '"event":"recv"')
python3 -c 'import json, sys
data = json.loads(sys.argv[1])["data"]
assert data == "café ☃ \ufffd", ascii(data)' "$line" ||
    fail "recv data did not round-trip: $line"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status with JSON logs"
# Not logfmt.py --json: it wants ASCII, and JSON lines keep UTF-8 (SPEC 7).
python3 - "$SRV_ERR" <<'PY' || fail "a stderr line is not one of our JSON lines"
import json, sys
for n, raw in enumerate(open(sys.argv[1], 'rb'), 1):
    assert raw.endswith(b'\n'), 'line %d unterminated' % n
    keys = list(json.loads(raw.decode('utf-8')))
    assert keys[:3] == ['ts', 'level', 'event'], 'line %d: %s' % (n, keys)
PY
