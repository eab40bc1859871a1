#!/bin/bash
# The configuration file (SPEC 8, 9, 12): a real file (comments where a
# field starts, blank lines, tabs, a '#' inside a value, a range) with ack,
# echo, cmd, metrics, exec (-- /usr/bin/env) and forward (to another
# channel) on fixed ports, beside a command-line channel. --check-config
# prints "config ok: N channels", exits 0 and binds nothing (it passes with
# a port of the file held elsewhere, and the ports are free after). Errors
# (unknown key, bad value, port twice, exec without program, relative or
# non-executable program, ...) are "mpserver: FILE:LINE: ..." quoting the
# token, exit 2, nothing on stdout, nothing bound (a port of the file held
# elsewhere does not turn them into a bind error). mpserver -f serves every
# channel (nc, curl). SIGHUP: a range added (served), a channel removed
# (its port free at once, a session opened before still served to the
# end), one changed (a client loop on it never refused; new clients get
# the new idle-timeout, an old client keeps the old one), the log line's
# counts, nothing on stdout, PORTS and /metrics show the new set (removed
# series gone, unchanged counters kept). A broken file, a port that cannot
# be bound, and the command line's port in the file all fail with
# "event=reload result=failed", changing nothing; the reload counters and
# the last-reload gauge follow. The command line's channel is never touched.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

B=$(mp_free_block 13) || fail "no 13 consecutive free ports"
conf=$E2E_TMP/mpserver.conf
bad=$E2E_TMP/bad.conf
CLI=$((B + 12))
note "ports $B-$((B + 12)) (command line: $CLI)"

# hold PORT: a python3 listener on 127.0.0.1:PORT (bounded); pid in HOLDER.
# A port another test took meanwhile is held already: HOLDER is empty then.
hold() {
	HOLDER=
	if ! mp_bindable "$1"; then
		note "port $1 is taken by someone else: held all the same"
		return 0
	fi
	# SO_REUSEADDR, as mpserver binds: a TIME_WAIT left on the port by
	# another test must not stop us, since it would not stop mpserver.
	# This kernel now and then refuses a bind just after another socket
	# of the same port closed: try again, for two seconds at most.
	python3 -c 'import signal, socket, sys, time
for _ in range(40):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(1)
        break
    except OSError:
        s.close()
        time.sleep(0.05)
else:
    sys.exit("cannot hold port " + sys.argv[1])
signal.pause()' "$1" &
	HOLDER=$!
	track "$HOLDER"
	wait_for "$E2E_TIMEOUT" "python3 to hold port $1" held "$1"
}

held() {
	! mp_bindable "$1"
}

unhold() {
	[ -n "$HOLDER" ] || return 0
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	wait_for "$E2E_TIMEOUT" "port $1 free again" mp_bindable "$1"
}

# refused PORT: nothing listens on 127.0.0.1:PORT.
refused() {
	! nc -z -w 2 127.0.0.1 "$1" 2>/dev/null
}

# scrape: /metrics of the metrics channel into $E2E_TMP/metrics.
scrape() {
	local code
	code=$(curl -s -m "$E2E_TIMEOUT" -o "$E2E_TMP/metrics" -w '%{http_code}' \
	    "http://127.0.0.1:$((B + 3))/metrics") || fail "curl /metrics failed"
	assert_eq "$code" 200 "GET /metrics status"
}

# sample SERIES: its value in the last scrape (nothing if absent).
sample() {
	awk -v s="$1" '$1 == s { print $2; exit }' "$E2E_TMP/metrics"
}

accepted() {
	sample "mpserver_connections_accepted_total{port=\"$1\",service=\"$2\"}"
}

# reloads SUCCESS FAILURE LAST: the reload counters and gauge.
reloads() {
	scrape
	assert_eq "$(sample 'mpserver_config_reloads_total{result="success"}')" \
	    "$1" "reloads_total{result=\"success\"}"
	assert_eq "$(sample 'mpserver_config_reloads_total{result="failure"}')" \
	    "$2" "reloads_total{result=\"failure\"}"
	assert_eq "$(sample mpserver_config_last_reload_successful)" "$3" \
	    "config_last_reload_successful"
}

# reload N: SIGHUP, then print the Nth "event=reload" log line.
reload() {
	kill -HUP "$SRV_PID"
	wait_for "$E2E_TIMEOUT" "reload log line $1" reload_logged "$1"
	grep 'event=reload ' "$SRV_ERR" | sed -n "${1}p"
}

reload_logged() {
	[ "$(grep -c 'event=reload ' "$SRV_ERR" || true)" -ge "$1" ]
}

# ack PORT, echo_ PORT: one exchange with nc.
ack() {
	assert_eq "$(nc_send 127.0.0.1 "$1" "hello $1\n")" ACK "ack on $1"
}

echo_() {
	assert_eq "$(nc_send 127.0.0.1 "$1" "ping $1\n")" "ping $1" "echo on $1"
}

# rejected LINE TOKEN ARGS...: mpserver ARGS exits 2 with one line
# "mpserver: $bad:LINE: ..." quoting TOKEN, and nothing on stdout.
rejected() {
	local line=$1 token=$2 rc=0 err
	shift 2
	timeout "$E2E_TIMEOUT" "$MPSERVER" "$@" >"$E2E_TMP/r.out" \
	    2>"$E2E_TMP/r.err" </dev/null || rc=$?
	err=$(cat "$E2E_TMP/r.err")
	[ "$rc" -eq 2 ] || fail "mpserver $* with line $line" \
	    "\"$(sed -n "${line}p" "$bad")\": exit $rc, expected 2 ($err)"
	[ ! -s "$E2E_TMP/r.out" ] ||
	    fail "mpserver $*: stdout not empty: $(cat "$E2E_TMP/r.out")"
	assert_eq "$(wc -l <"$E2E_TMP/r.err")" 1 "lines of the error ($err)"
	case $err in
	"mpserver: $bad:$line: "*) ;;
	*) fail "expected \"mpserver: $bad:$line: ...\", got \"$err\"" ;;
	esac
	case $err in
	*"\"$token\""*) ;;
	*) [ -z "$token" ] || fail "\"$err\" does not quote \"$token\"" ;;
	esac
	echo "ok: $err"
}

# bad_line TEXT: $bad is two good lines, a comment, then TEXT (line 4).
bad_line() {
	printf '%s ack\n%s\techo\n# the next line is wrong\n%s\n' "$B" \
	    "$((B + 1))" "$1" >"$bad"
}

# The file: ports B .. B+7; B+8, B+9 come with the reload, B+10 and B+11
# are for failed reloads, B+12 is the command line's.
printf '#!/bin/sh\nexit 0\n' >"$E2E_TMP/notexec"
chmod 644 "$E2E_TMP/notexec"
write_conf() {
	cat <<EOF
# mpserver.conf of the e2e test
	# an indented comment, then a blank line and a line of blanks

   	
$B		ack
$((B + 1))	echo		# the forward's target
$((B + 2))  cmd   idle-timeout=60 max-line=200
$((B + 3))  metrics   allow=127.0.0.0/8 allow=::1/128
$((B + 4))  exec  env=MARK=one#two env=LANG=C -- /usr/bin/env
$((B + 5))  forward  to=127.0.0.1:$((B + 1)) connect-timeout=2
EOF
	case $1 in
	first)
		echo "$((B + 6))  echo  idle-timeout=0	# changed by the reload"
		echo "$((B + 7))  cmd	# removed by the reload" ;;
	second)
		echo "$((B + 8))-$((B + 9)) ack	# added by the reload"
		echo "$((B + 6))  echo  idle-timeout=1" ;;
	esac
}

note "--check-config"
write_conf first >"$conf"
out=$("$MPSERVER" --check-config -f "$conf" "$CLI:cmd") ||
    fail "--check-config exited $?"
assert_eq "$out" "config ok: 9 channels" "--check-config"
out=$("$MPSERVER" --check-config -f "$conf") || fail "--check-config exited $?"
assert_eq "$out" "config ok: 8 channels" "--check-config without PORTSPEC"
for p in $(seq "$B" $((B + 7))) "$CLI"; do
	mp_bindable "$p" || fail "port $p not bindable after --check-config"
done
hold "$B"
out=$("$MPSERVER" --check-config -f "$conf" "$CLI:cmd") ||
    fail "--check-config with port $B held elsewhere exited $?"
assert_eq "$out" "config ok: 9 channels" "--check-config, port $B held"
unhold "$B"

note "errors: FILE:LINE, exit 2, nothing bound (port $((B + 1)) held meanwhile)"
hold $((B + 1))
P=$((B + 2))
bad_line "$P cmd colour=blue"
rejected 4 colour -f "$bad"
rejected 4 colour --check-config -f "$bad"
bad_line "$P cmd idle-timeout=soon"
rejected 4 soon -f "$bad"
bad_line "$P cmd max-clients=0"
rejected 4 0 -f "$bad"
bad_line "$P echo max-line=1048577"
rejected 4 1048577 -f "$bad"
bad_line "$B echo"
rejected 4 "$B" -f "$bad"
bad_line "$P exec env=LANG=C"
rejected 4 "" -f "$bad"
grep -q program "$E2E_TMP/r.err" || fail "exec without a program: $(cat \
    "$E2E_TMP/r.err")"
bad_line "$P exec --"
rejected 4 -- -f "$bad"
bad_line "$P exec -- bin/env"
rejected 4 bin/env -f "$bad"
bad_line "$P exec -- $E2E_TMP/notexec"
rejected 4 "$E2E_TMP/notexec" -f "$bad"
bad_line "$P exec -- $E2E_TMP/none"
rejected 4 "$E2E_TMP/none" -f "$bad"
bad_line "$P echo -- /bin/cat"
rejected 4 /bin/cat -f "$bad"
bad_line "$P echo to=127.0.0.1:9"
rejected 4 to -f "$bad"
bad_line "$P forward connect-timeout=2"
rejected 4 "" -f "$bad"
grep -q 'to=' "$E2E_TMP/r.err" || fail "forward without to=: $(cat \
    "$E2E_TMP/r.err")"
bad_line "$P forward to=127.0.0.1:$P"
rejected 4 "127.0.0.1:$P" -f "$bad"
bad_line "$P gopher"
rejected 4 gopher -f "$bad"
bad_line "$((B + 1))-$P echo"
rejected 4 "$((B + 1))-$P" -f "$bad"
bad_line "$P-$((B + 1)) echo"
rejected 4 "$P-$((B + 1))" -f "$bad"
bad_line "$P"
rejected 4 "$P" -f "$bad"
# The command line's port in the file: the file's line is the error.
rejected 1 "$B" -f "$bad" "$B:echo"
rc=0
"$MPSERVER" -f "$E2E_TMP/none.conf" >"$E2E_TMP/r.out" 2>"$E2E_TMP/r.err" \
    </dev/null || rc=$?
assert_eq "$rc" 2 "exit status with a missing file"
assert_match "$(cat "$E2E_TMP/r.err")" "^mpserver: .*$E2E_TMP/none\\.conf" \
    "error for a missing file"
unhold $((B + 1))

note "serving the file beside the command line"
server_start -f "$conf" "$CLI:cmd"
assert_eq "$(server_channels)" 9 "channels"
i=1
for want in "$CLI cmd" "$B ack" "$((B + 1)) echo" "$((B + 2)) cmd" \
    "$((B + 3)) metrics" "$((B + 4)) exec" "$((B + 5)) forward" \
    "$((B + 6)) echo" "$((B + 7)) cmd"; do
	assert_eq "$(sed -n "${i}p" "$SRV_OUT")" \
	    "listening 127.0.0.1:${want% *} ${want#* }" "listening line $i"
	i=$((i + 1))
done
ack "$B"
echo_ $((B + 1))
echo_ $((B + 6))
got=$(nc_send 127.0.0.1 $((B + 2)) 'PING\r\nQUIT\r\n' | tr -d '\r')
assert_match "$got" "^220 .*" "cmd banner"
assert_match "$(printf '%s\n' "$got" | sed -n 2p)" "^200 PONG$" "cmd PING"
assert_eq "$(curl -s -m "$E2E_TIMEOUT" "http://127.0.0.1:$((B + 3))/healthz")" \
    ok "/healthz"
nc_send 127.0.0.1 $((B + 4)) '' >"$E2E_TMP/env"
for want in "TCPLOCALPORT=$((B + 4))" "MARK=one#two" LANG=C PROTO=TCP; do
	grep -qxF "$want" "$E2E_TMP/env" ||
	    fail "exec env has no line $want: $(cat "$E2E_TMP/env")"
done
assert_eq "$(nc_send 127.0.0.1 $((B + 5)) 'through the forward\n')" \
    "through the forward" "forward to the echo channel"
conn_open 127.0.0.1 "$CLI"
cli=$CONN
conn_expect "$cli" "220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$CLI (cmd)"
reloads 0 0 1
acc_ack=$(accepted "$B" ack)
acc_cli=$(accepted "$CLI" cmd)
assert_eq "$acc_ack" 1 "accepted on $B before the reload"
assert_eq "$acc_cli" 1 "accepted on $CLI before the reload"

note "reload: $((B + 8))-$((B + 9)) added, $((B + 7)) removed, $((B + 6)) changed"
conn_open 127.0.0.1 $((B + 7))
gone_c=$CONN
conn_expect "$gone_c" "220 mpserver $MPSERVER_VERSION ready on 127.0.0.1:$((B + 7)) (cmd)"
conn_open 127.0.0.1 $((B + 6))
old_c=$CONN
conn_send "$old_c" 'before\n'
conn_expect "$old_c" before "echo on $((B + 6)) before the reload"
old_t=$(now_ms)
# A client loop on the changed channel, across the reload.
python3 -c 'import os, socket, sys, time
port, stop, prog = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n = refused = other = 0
end = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.settimeout(5)
        s.sendall(b"x\n")
        if s.recv(16) != b"x\n":
            other += 1
        s.close()
        n += 1
    except ConnectionRefusedError:
        refused += 1
    except OSError as e:
        other += 1
        print("error:", e, file=sys.stderr)
    with open(prog + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.replace(prog + ".tmp", prog)
print(n, refused, other)' $((B + 6)) "$E2E_TMP/stop" "$E2E_TMP/loop.n" \
    >"$E2E_TMP/loop.out" &
loop=$!
track "$loop"
loop_n() {
	local n=0
	read -r n 2>/dev/null <"$E2E_TMP/loop.n" || true
	echo "${n:-0}"
}
loop_past() {
	[ "$(loop_n)" -ge "$1" ]
}
wait_for "$E2E_TIMEOUT" "20 connections of the loop" loop_past 20
write_conf second >"$conf"
line=$(reload 1)
n_at=$(loop_n)
assert_match "$line" "level=info event=reload result=ok " "reload log line"
assert_eq "$(log_field "$line" added)" 2 "added= ($line)"
assert_eq "$(log_field "$line" removed)" 1 "removed= ($line)"
assert_eq "$(log_field "$line" changed)" 1 "changed= ($line)"
assert_eq "$(log_field "$line" unchanged)" 6 "unchanged= ($line)"
mp_bindable $((B + 7)) || fail "removed port $((B + 7)) not free after the reload"
refused $((B + 7)) || fail "removed port $((B + 7)) still accepts"
conn_open 127.0.0.1 $((B + 6))
new_c=$CONN
new_t=$(now_ms)
wait_for "$E2E_TIMEOUT" "20 more connections of the loop" loop_past \
    $((n_at + 20))
: >"$E2E_TMP/stop"
wait_exit "$loop" "$E2E_TIMEOUT" || fail "client loop did not stop"
read -r n nref nother <"$E2E_TMP/loop.out" || fail "client loop said nothing"
note "client loop on $((B + 6)): $n connections, $nref refused, $nother other errors"
assert_eq "$nref" 0 "connections refused on the changed channel during the reload"
assert_eq "$nother" 0 "failed exchanges on the changed channel"

# Nothing on stdout: a reload prints no listening or ready line.
rc=0
IFS= read -r -t 0.3 -u "$SRV_FD" extra || rc=$?
[ "$rc" -gt 128 ] || fail "stdout after the reload: \"${extra:-}\" (read $rc)"

ack $((B + 8))
ack $((B + 9))
ack "$B"
echo_ $((B + 1))
assert_eq "$(nc_send 127.0.0.1 $((B + 5)) 'forward after\n')" \
    "forward after" "forward after the reload"
grep -qxF "TCPLOCALPORT=$((B + 4))" <(nc_send 127.0.0.1 $((B + 4)) '') ||
    fail "exec after the reload"

note "the removed channel's session goes on to the end"
conn_send "$gone_c" 'ECHO still here\r\n'
conn_expect "$gone_c" "200 still here" "removed channel's client after the reload"
conn_send "$gone_c" 'QUIT\r\n'
conn_expect "$gone_c" "221 bye"
conn_expect_eof "$gone_c"
conn_close "$gone_c"

note "the changed channel: new idle-timeout for new clients only"
conn_expect_eof "$new_c" 5
waited=$(($(now_ms) - new_t))
[ "$waited" -ge 800 ] || fail "new client closed after $waited ms (idle-timeout=1)"
line=$(wait_log "event=close port=$((B + 6)) .*reason=idle_timeout")
conn_close "$new_c"
left=$((2500 - ($(now_ms) - old_t)))
[ "$left" -le 0 ] || sleep "$(awk -v m="$left" 'BEGIN { print m / 1000 }')"
conn_send "$old_c" 'after\n'
conn_expect "$old_c" after "old client of the changed channel, idle 2.5 s"
conn_close "$old_c"

note "the command line's channel is untouched"
conn_send "$cli" 'PING\r\n'
conn_expect "$cli" "200 PONG" "command-line channel's client after the reload"

note "PORTS and /metrics show the new set"
nc_send 127.0.0.1 $((B + 2)) 'PORTS\r\nQUIT\r\n' | tr -d '\r' |
    sed -n '/^211/p' >"$E2E_TMP/ports"
awk '{ sub(/^211[- ]/, ""); print $1, $2 }' "$E2E_TMP/ports" | head -n -1 \
    >"$E2E_TMP/ports.got"
printf '%s\n' "$CLI cmd" "$B ack" "$((B + 1)) echo" "$((B + 2)) cmd" \
    "$((B + 3)) metrics" "$((B + 4)) exec" "$((B + 5)) forward" \
    "$((B + 8)) ack" "$((B + 9)) ack" "$((B + 6)) echo" \
    >"$E2E_TMP/ports.want"
if ! diff -u "$E2E_TMP/ports.want" "$E2E_TMP/ports.got" >"$E2E_TMP/ports.diff"
then
	cat "$E2E_TMP/ports.diff" >&2
	fail "PORTS after the reload (- wanted, + got)"
fi
assert_eq "$(tail -n 1 "$E2E_TMP/ports")" "211 10 channels" "PORTS last line"
reloads 1 0 1
if grep -q "port=\"$((B + 7))\"" "$E2E_TMP/metrics"; then
	fail "series of the removed port $((B + 7)) still in /metrics:" \
	    "$(grep "port=\"$((B + 7))\"" "$E2E_TMP/metrics" | head -n 3)"
fi
assert_eq "$(accepted $((B + 8)) ack)" 1 "accepted on the added $((B + 8))"
for r in busy per_ip acl resources rate proxy; do
	assert_eq "$(sample "mpserver_connections_rejected_total{port=\"$((B + 9))\",service=\"ack\",reason=\"$r\"}")" \
	    0 "rejected{reason=$r} of the added $((B + 9)), present at 0"
done
# Unchanged channels keep their counters: one ack before, one after.
assert_eq "$(accepted "$B" ack)" $((acc_ack + 1)) "accepted on the unchanged $B"
assert_eq "$(accepted "$CLI" cmd)" "$acc_cli" "accepted on the command line's $CLI"

note "a broken file: nothing changes"
write_conf second >"$conf"
printf '%s echo\n%s ack max-clients=lots\n' $((B + 10)) $((B + 11)) >>"$conf"
badline=$(wc -l <"$conf")
line=$(reload 2)
assert_match "$line" "level=error event=reload result=failed error=\"$conf:$badline: .*lots" \
    "reload of a broken file"
refused $((B + 10)) || fail "port $((B + 10)) of the broken file listens"
ack $((B + 8))
reloads 1 1 0

note "a port that cannot be bound: nothing changes (all or nothing)"
# The port in use is one the kernel gives a listener of ours right now,
# so no other test running beside this one can be using it.
python3 -c 'import signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
signal.pause()' >"$E2E_TMP/busy.port" &
HOLDER=$!
track "$HOLDER"
wait_for "$E2E_TIMEOUT" "python3 to listen" test -s "$E2E_TMP/busy.port"
busy=$(cat "$E2E_TMP/busy.port")
write_conf first >"$conf"
printf '%s echo\n%s echo\n' $((B + 10)) "$busy" >>"$conf"
line=$(reload 3)
assert_match "$line" "event=reload result=failed error=\".*$busy" \
    "reload with a port in use"
refused $((B + 10)) || fail "port $((B + 10)) listens after a failed reload"
refused $((B + 7)) || fail "port $((B + 7)) listens after a failed reload"
ack $((B + 8))
echo_ $((B + 6))
reloads 1 2 0
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true

note "the command line's port in the file: refused"
write_conf second >"$conf"
echo "$CLI echo" >>"$conf"
line=$(reload 4)
assert_match "$line" "event=reload result=failed error=\"$conf:$(wc -l <"$conf"): .*$CLI" \
    "reload naming the command line's port"
conn_send "$cli" 'PING\r\n'
conn_expect "$cli" "200 PONG" "command-line channel's client after failed reloads"
reloads 1 3 0

note "the same file again: all unchanged"
write_conf second >"$conf"
line=$(reload 5)
assert_match "$line" "event=reload result=ok added=0 removed=0 changed=0 unchanged=9" \
    "reload of the same file"
reloads 2 3 1

conn_send "$cli" 'QUIT\r\n'
conn_expect "$cli" "221 bye"
conn_close "$cli"
server_stop
assert_eq "$SRV_RC" 0 "exit status"
