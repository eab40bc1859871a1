#!/bin/bash
# The inetd services over nc (SPEC 3 and 7): echo returns every byte (text
# and 256 KiB of binary); discard sends nothing back and its close log line
# counts the bytes; chargen's lines follow the BSD ring (line i is 72
# characters from ring position i mod 95, then \r\n), checked for the first
# 96 lines; daytime is one ctime-layout UTC line within a few seconds of
# date -u; time is 4 big-endian bytes within 2 s of now + 2208988800; PORTS
# on a cmd channel counts the clients of each.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

server_start 0:echo 0:discard 0:chargen 0:daytime 0:time 0:cmd
echo_p=$(server_port 1)
discard_p=$(server_port 2)
chargen_p=$(server_port 3)
daytime_p=$(server_port 4)
time_p=$(server_port 5)
cmd_p=$(server_port 6)

note "echo: lines and binary data come back unchanged"
got=$(nc_send 127.0.0.1 "$echo_p" 'hello\nworld\r\nno newline' | od -An -c)
want=$(printf 'hello\nworld\r\nno newline' | od -An -c)
assert_eq "$got" "$want" "echo of three lines"
head -c 262144 /dev/urandom >"$E2E_TMP/blob"
timeout "$E2E_TIMEOUT" nc -N 127.0.0.1 "$echo_p" <"$E2E_TMP/blob" \
    >"$E2E_TMP/blob.back" || fail "nc to echo failed"
cmp -s "$E2E_TMP/blob" "$E2E_TMP/blob.back" ||
    fail "echo of 256 KiB: $(wc -c <"$E2E_TMP/blob.back") bytes back, differing"

note "discard: nothing comes back, the bytes are counted"
head -c 10000 /dev/zero | tr '\0' x >"$E2E_TMP/xs"
timeout "$E2E_TIMEOUT" nc -N 127.0.0.1 "$discard_p" <"$E2E_TMP/xs" \
    >"$E2E_TMP/discard.out" || fail "nc to discard failed"
[ ! -s "$E2E_TMP/discard.out" ] ||
    fail "discard sent $(wc -c <"$E2E_TMP/discard.out") bytes back"
line=$(wait_log "event=close .*port=$discard_p ")
assert_match "$line" ' bytes_in=10000 ' "discard close line"
assert_match "$line" ' bytes_out=0 ' "discard close line"

note "chargen: the first 96 lines"
timeout "$E2E_TIMEOUT" nc -d 127.0.0.1 "$chargen_p" 2>/dev/null |
    head -c $((96 * 74)) >"$E2E_TMP/chargen" || true
python3 - "$E2E_TMP/chargen" <<'EOF' || fail "chargen lines differ (above)"
import sys
got = open(sys.argv[1], "rb").read()
ring = bytes(range(32, 127))
assert len(ring) == 95
want = b"".join((ring * 2)[i % 95:i % 95 + 72] + b"\r\n" for i in range(96))
if got != want:
    n = min(len(got), len(want))
    at = next((i for i in range(n) if got[i] != want[i]), n)
    print("chargen: %d bytes, first difference at byte %d (line %d)"
          % (len(got), at, at // 74))
    print("got  line: %r" % got[at // 74 * 74:at // 74 * 74 + 74])
    print("want line: %r" % want[at // 74 * 74:at // 74 * 74 + 74])
    sys.exit(1)
EOF
assert_eq "$(head -c 74 "$E2E_TMP/chargen")" \
    " !\"#\$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_\`abcdefg"$'\r' \
    "chargen line 0"
assert_eq "$(head -c 148 "$E2E_TMP/chargen" | tail -c 74)" \
    "!\"#\$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_\`abcdefgh"$'\r' \
    "chargen line 1"

note "daytime: one ctime-layout UTC line, then close"
timeout "$E2E_TIMEOUT" nc -d 127.0.0.1 "$daytime_p" >"$E2E_TMP/daytime" ||
    fail "nc to daytime failed or timed out"
now=$(date -u +%s)
assert_eq "$(wc -l <"$E2E_TMP/daytime" | tr -d ' ')" 1 "daytime line count"
day=$(cat "$E2E_TMP/daytime")
assert_match "$day" \
    '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}'$'\r''$' \
    "daytime line"
t=$(python3 -c '
import calendar, sys, time
s = sys.argv[1].rstrip("\r")
tm = time.strptime(s, "%a %b %d %H:%M:%S %Y")
t = calendar.timegm(tm)
# strptime does not check the weekday; the line must agree with itself.
assert time.strftime("%a", time.gmtime(t)) == s[:3], "weekday of " + s
print(t)' "$day") || fail "daytime line does not parse: $day"
[ $((t - now)) -le 3 ] && [ $((now - t)) -le 3 ] ||
    fail "daytime \"${day%$'\r'}\" is $((t - now)) s off date -u ($(date -u))"
line=$(wait_log "event=close .*port=$daytime_p ")
assert_match "$line" ' bytes_out=26 ' "daytime close line"

note "time: 4 bytes, seconds since 1900, big-endian"
timeout "$E2E_TIMEOUT" nc -d 127.0.0.1 "$time_p" >"$E2E_TMP/time" ||
    fail "nc to time failed or timed out"
now=$(date +%s)
assert_eq "$(wc -c <"$E2E_TMP/time" | tr -d ' ')" 4 "time reply length"
read -r b0 b1 b2 b3 < <(od -An -tu1 "$E2E_TMP/time")
t=$((((b0 * 256 + b1) * 256 + b2) * 256 + b3))
d=$((t - 2208988800 - now))
[ "$d" -ge -2 ] && [ "$d" -le 2 ] ||
    fail "time $t is ${d}s off now + 2208988800"

note "PORTS counts every channel's clients"
for p in "$echo_p" "$chargen_p" "$time_p"; do
	wait_log "event=close .*port=$p " >/dev/null
done
ports=$(nc_send 127.0.0.1 "$cmd_p" 'PORTS\r\nQUIT\r\n' | tr -d '\r')
want="211-$echo_p echo active=0 accepted=2
211-$discard_p discard active=0 accepted=1
211-$chargen_p chargen active=0 accepted=1
211-$daytime_p daytime active=0 accepted=1
211-$time_p time active=0 accepted=1
211-$cmd_p cmd active=1 accepted=1
211 6 channels"
assert_eq "$(printf '%s\n' "$ports" | sed -n '2,8p')" "$want" "PORTS"

server_stop
assert_eq "$SRV_RC" 0 "exit status"
