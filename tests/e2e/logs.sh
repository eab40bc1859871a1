#!/bin/bash
# Logs (SPEC 2 and 7): recv data is escaped (\" \t \\ \xHH), drops its
# newline and is cut to 80 bytes; with --log-format json every stderr line
# is a JSON object with the same keys and the data decodes to the bytes
# sent; -l warn drops the info events; -l debug logs each cmd verb.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

note "text: escaping and the 80-byte cut"
server_start 0
p=$(server_port 1)
assert_eq "$(printf 'a"b\tc\\d\001e\177\n' | timeout 5 nc -N 127.0.0.1 "$p")" \
    ACK "ack reply"
line=$(wait_log "event=recv .*conn=1( |\$)")
got=$(printf '%s\n' "$line" | sed -n 's/.* data=\(".*"\).*/\1/p')
want='"a\"b\tc\\d\x01e\x7f"'
[ "$got" = "$want" ] || [ "$got" = '"a\"b\tc\\d\x01e\x7F"' ] ||
    fail "escaped data: expected $want, got $got (in: $line)"
printf '%0100d\n' 0 | timeout 5 nc -N 127.0.0.1 "$p" >/dev/null
line=$(wait_log "event=recv .*conn=2( |\$)")
got=$(printf '%s\n' "$line" | sed -n 's/.* data="\([^"]*\)".*/\1/p')
assert_eq "$got" "$(printf '%080d' 0)" "data of a 100-byte message"
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "json: one object per line, same keys"
server_start --log-format json 0
p=$(server_port 1)
printf 'a"b\tc\\d\001e\177\n' | timeout 5 nc -N 127.0.0.1 "$p" >/dev/null
wait_log '"event": *"close"' >/dev/null
server_stop
assert_eq "$SRV_RC" 0 "exit status"
python3 - "$SRV_ERR" "$p" <<'EOF' || fail "JSON log check failed (above)"
import json, sys
events = {}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        obj = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
    for k in ("ts", "level", "event"):
        if k not in obj:
            sys.exit("line %d has no %s: %r" % (n, k, line))
    events.setdefault(obj["event"], obj)
for ev in ("listen", "ready", "accept", "recv", "close", "shutdown", "stop"):
    if ev not in events:
        sys.exit("no %s event in %s" % (ev, sorted(events)))
recv = events["recv"]
for k in ("port", "service", "peer", "conn", "data"):
    if k not in recv:
        sys.exit("recv has no %s: %r" % (k, recv))
if str(recv["port"]) != sys.argv[2] or recv["service"] != "ack":
    sys.exit("recv port/service: %r" % recv)
if recv["data"] != 'a"b\tc\\d\x01e\x7f':
    sys.exit("recv data decodes to %r" % recv["data"])
close = events["close"]
for k in ("bytes_in", "bytes_out", "ms", "reason"):
    if k not in close:
        sys.exit("close has no %s: %r" % (k, close))
if close["conn"] != recv["conn"] or events["accept"]["conn"] != recv["conn"]:
    sys.exit("conn ids differ: accept %r recv %r close %r"
             % (events["accept"]["conn"], recv["conn"], close["conn"]))
EOF

note "-l warn: no info lines"
server_start -l warn 0
p=$(server_port 1)
echo hi | timeout 5 nc -N 127.0.0.1 "$p" >/dev/null
server_stop
assert_eq "$SRV_RC" 0 "exit status"
if grep -E 'level=(info|debug)' "$SRV_ERR"; then
	fail "info or debug lines with -l warn"
fi

note "-l debug: each cmd verb"
server_start -l debug 0:cmd
p=$(server_port 1)
printf 'PING\r\nQUIT\r\n' | timeout 5 nc -N 127.0.0.1 "$p" >/dev/null
wait_log 'level=debug .*PING' >/dev/null
wait_log 'level=debug .*QUIT' >/dev/null
server_stop
assert_eq "$SRV_RC" 0 "exit status"
