#!/bin/bash
# The exec service with real programs (SPEC 8 and 10): /bin/cat relays
# 1 MiB both ways byte-exact (nc -N half-closes), bytes_in/bytes_out exact;
# /usr/bin/env sees exactly PATH, PROTO, TCPREMOTEIP/PORT (the client's),
# TCPLOCALIP/PORT, MPSERVER_CONN (the accept line's conn=) and the env=
# entries; stderr lines are logged (event=stderr, warn, escaped, cut to 200
# bytes), never sent to the client; exit 3 gives exit=3; a program that
# shrugs off SIGTERM is sent it after idle-timeout=1 and killed (signal=KILL)
# about a second later, with nothing of its process group left; a program
# gone since start-up closes its client with reason error; a program that
# leaves a grandchild behind (detached, or holding its stdout) ends its
# client when it exits and leaves no process behind. A missing, relative or
# non-executable program, on the command line or in the file, is exit 2 at
# start-up. After every case the server has no child left (/proc).
# The programs are /bin/sh scripts written to the temporary directory (the
# file's fields are split at blanks: no shell quoting there).
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

# prog NAME BODY: an executable /bin/sh script $E2E_TMP/NAME running BODY.
prog() {
	printf '#!/bin/sh\n%s\n' "$2" >"$E2E_TMP/$1"
	chmod 755 "$E2E_TMP/$1"
}

# client PORT OUT [IN]: connect to 127.0.0.1:PORT; send the file IN, then
# shut the write side (without IN send nothing and keep it open); write what
# comes back, up to EOF, to OUT. Sets CPORT (the client's own port), T0 and
# T1 (wall clock ms, as now_ms, of the connect and of the EOF) and CONN (the
# conn= of its accept line).
client() {
	local r
	timeout "$E2E_TIMEOUT" python3 -c '
import socket, sys, threading, time
port, out = int(sys.argv[1]), sys.argv[2]
src = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(None)
t0 = time.time_ns() // 1000000
def send():
    with open(src, "rb") as f:
        s.sendall(f.read())
    s.shutdown(socket.SHUT_WR)
if src is not None:
    threading.Thread(target=send, daemon=True).start()
with open(out, "wb") as f:
    while True:
        b = s.recv(65536)
        if not b:
            break
        f.write(b)
t1 = time.time_ns() // 1000000
print(s.getsockname()[1], t0, t1)
' "$@" >"$E2E_TMP/client.r" || fail "client of port $1 failed or timed out"
	read -r CPORT T0 T1 <"$E2E_TMP/client.r"
	r=$(wait_log "event=accept .*peer=127\\.0\\.0\\.1:$CPORT conn=[0-9]+")
	CONN=$(log_field "$r" conn)
}

# close_of CONN: the close line of CONN.
close_of() {
	wait_log "event=close .*conn=$1( |\$)"
}

# procs FIELD VALUE: "PID STATE (COMM)" of each process whose parent
# (FIELD ppid) or process group (FIELD pgrp) is VALUE, from /proc/*/stat.
procs() {
	local f st pid a want=$2 i
	case $1 in
	ppid) i=1 ;;
	pgrp) i=2 ;;
	esac
	for f in /proc/[0-9]*/stat; do
		st=
		read -r st 2>/dev/null <"$f" || continue
		[ -n "$st" ] || continue
		read -r -a a <<<"${st##*) }"
		[ "${a[$i]}" = "$want" ] || continue
		pid=${f#/proc/}
		pid=${pid%/stat}
		printf '%s %s (%s)\n' "$pid" "${a[0]}" \
		    "$(printf '%s' "${st#*(}" | sed 's/) [^)]*$//')"
	done
}

# no_procs FIELD VALUE WHAT: within 2 s, no process is left with that
# parent or process group.
no_procs() {
	local deadline=$(($(now_ms) + 2000)) left
	while :; do
		left=$(procs "$1" "$2")
		[ -n "$left" ] || return 0
		[ "$(now_ms)" -lt "$deadline" ] ||
		    fail "$3: still there 2 s later: $(printf "%s; " "$left")"
		sleep 0.02
	done
}

# no_children: the server has no child process left, zombie or not.
no_children() {
	no_procs ppid "$SRV_PID" "children of mpserver (pid $SRV_PID)"
}

note "exit 2 at start-up: missing, relative or non-executable program"
# rejected WHAT ARGS...: mpserver ARGS exits 2, prints nothing on stdout and
# one line on stderr starting "mpserver: "; the line is in LINE.
rejected() {
	local what=$1 rc=0
	shift
	timeout "$E2E_TIMEOUT" "$MPSERVER" "$@" >"$E2E_TMP/rej.out" \
	    2>"$E2E_TMP/rej.err" </dev/null || rc=$?
	[ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2" \
	    "(stderr: $(cat "$E2E_TMP/rej.err"))"
	[ ! -s "$E2E_TMP/rej.out" ] ||
	    fail "$what: stdout not empty: $(cat "$E2E_TMP/rej.out")"
	LINE=$(head -n 1 "$E2E_TMP/rej.err")
	assert_match "$LINE" '^mpserver: ' "$what: message"
}
rejected "relative program" 0:exec=bin/cat
rejected "missing program" 0:exec=/nonexistent/mpserver-e2e-prog
rejected "non-executable program" 0:exec=/etc/passwd
conf=$E2E_TMP/bad.conf
for body in '0 exec -- cat' '0 exec -- /nonexistent/mpserver-e2e-prog' \
    '0 exec -- /etc/passwd' '0 exec' '0 exec env=A=b'; do
	printf '# exec lines\n%s\n' "$body" >"$conf"
	rejected "file line \"$body\"" -f "$conf"
	assert_match "$LINE" "^mpserver: $conf:2: " \
	    "file line \"$body\": message names FILE:LINE"
done

note "cat: 1 MiB both ways, byte-exact"
prog stderr.sh 'printf "first line\n" >&2
printf "tab\there \"quoted\" back\\\\slash \001 end\r\n" >&2
printf "%0300d\n" 0 | tr 0 x >&2
printf "no newline at the end" >&2
echo out'
prog exit3.sh 'echo hi
exit 3'
prog gone.sh 'echo never'
cat >"$E2E_TMP/exec.conf" <<EOF
# Channels 3 to 6 (1 and 2 are on the command line).
0 exec env=LANG=C env=GREETING=a=b=c -- /usr/bin/env
0 exec -- $E2E_TMP/stderr.sh
0 exec -- $E2E_TMP/exit3.sh
0 exec -- $E2E_TMP/gone.sh
EOF
server_start 0:exec=/bin/cat 0:exec=/usr/bin/env -f "$E2E_TMP/exec.conf"
cat_p=$(server_port 1)
env_p=$(server_port 2)
envx_p=$(server_port 3)
err_p=$(server_port 4)
exit3_p=$(server_port 5)
gone_p=$(server_port 6)
assert_eq "$(server_channels)" 6 "channels"
assert_eq "$(server_field 1 2)" exec "service of channel 1"
assert_eq "$(server_field 6 2)" exec "service of channel 6"

head -c 1048576 /dev/urandom >"$E2E_TMP/mib"
timeout "$E2E_TIMEOUT" nc -N 127.0.0.1 "$cat_p" <"$E2E_TMP/mib" \
    >"$E2E_TMP/mib.back" || fail "nc through cat failed"
want=$(sha256sum <"$E2E_TMP/mib")
assert_eq "$(sha256sum <"$E2E_TMP/mib.back")" "$want" "sha256 of 1 MiB back"
line=$(wait_log "event=close port=$cat_p .*bytes_in=")
assert_eq "$(log_field "$line" bytes_in)" 1048576 "bytes_in of cat"
assert_eq "$(log_field "$line" bytes_out)" 1048576 "bytes_out of cat"
assert_eq "$(log_field "$line" reason)" "done" "close reason of cat"
assert_eq "$(log_field "$line" exit)" 0 "exit of cat"
no_children

note "env: exactly the environment of SPEC 10"
# env_check PORT EXTRA...: the environment seen by /usr/bin/env on PORT is
# exactly SPEC 10's for this client plus EXTRA.
env_check() {
	local p=$1
	shift
	client "$p" "$E2E_TMP/env.got"
	{
		echo "PATH=/usr/local/bin:/usr/bin:/bin"
		echo "PROTO=TCP"
		echo "TCPREMOTEIP=127.0.0.1"
		echo "TCPREMOTEPORT=$CPORT"
		echo "TCPLOCALIP=127.0.0.1"
		echo "TCPLOCALPORT=$p"
		echo "MPSERVER_CONN=$CONN"
		[ "$#" -eq 0 ] || printf '%s\n' "$@"
	} | sort >"$E2E_TMP/env.want"
	sort "$E2E_TMP/env.got" >"$E2E_TMP/env.sorted"
	diff "$E2E_TMP/env.want" "$E2E_TMP/env.sorted" >&2 ||
	    fail "environment on port $p (- expected, + got)"
	line=$(close_of "$CONN")
	assert_eq "$(log_field "$line" exit)" 0 "exit of env on port $p"
	assert_eq "$(log_field "$line" bytes_out)" \
	    "$(wc -c <"$E2E_TMP/env.got")" "bytes_out of env on port $p"
}
env_check "$env_p"
env_check "$envx_p" LANG=C GREETING=a=b=c
no_children

note "stderr: logged line by line, escaped, cut, never sent"
client "$err_p" "$E2E_TMP/err.got"
conn=$CONN
assert_eq "$(cat "$E2E_TMP/err.got")" out "what the client got from stderr.sh"
line=$(close_of "$conn")
assert_eq "$(log_field "$line" bytes_out)" 4 "bytes_out of stderr.sh"
grep -E "event=stderr .*conn=$conn " "$SRV_ERR" >"$E2E_TMP/err.lines" || true
x200=$(printf '%0200d' 0 | tr 0 x)
i=0
for want in 'first line' 'tab\there \"quoted\" back\\slash \x01 end' \
    "$x200" 'no newline at the end'; do
	i=$((i + 1))
	got=$(sed -n "${i}p" "$E2E_TMP/err.lines")
	assert_match "$got" '^ts=[^ ]+ level=warn event=stderr ' \
	    "stderr line $i: level"
	assert_match "$got" " port=$err_p( |\$)" "stderr line $i: port"
	got=${got#* data=\"}
	got=${got%\"*}
	assert_eq "$got" "$want" "data of stderr line $i"
done
assert_eq "$(wc -l <"$E2E_TMP/err.lines")" 4 "stderr lines logged"
no_children

note "exit 3: exit=3 in the close line"
client "$exit3_p" "$E2E_TMP/exit3.got"
assert_eq "$(cat "$E2E_TMP/exit3.got")" hi "output of exit3.sh"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" exit)" 3 "exit of exit3.sh"
assert_eq "$(log_field "$line" reason)" "done" "close reason of exit3.sh"
no_children

note "a program gone since start-up: reason error, nothing sent"
rm -f "$E2E_TMP/gone.sh"
client "$gone_p" "$E2E_TMP/gone.got"
[ ! -s "$E2E_TMP/gone.got" ] ||
    fail "client of a missing program got: $(cat "$E2E_TMP/gone.got")"
conn=$CONN
line=$(close_of "$conn")
assert_eq "$(log_field "$line" reason)" error "close reason of a missing program"
grep -E "conn=$conn( |\$)" "$SRV_ERR" | grep -q 'gone\.sh' ||
    fail "no log line of conn $conn says why gone.sh did not start"
no_children
server_stop
assert_eq "$SRV_RC" 0 "exit status"

note "SIGTERM shrugged off when idle: SIGKILL about 1 s later"
d=$E2E_TMP
prog stubborn.sh "echo \$\$ >$d/stubborn.pid
trap 'date +%s%3N >>$d/stubborn.term' TERM
echo ready
while :; do sleep 300 & wait \$!; done"
prog orphan.sh "echo \$\$ >$d/orphan.pid
sleep 300 </dev/null >/dev/null 2>&1 &
echo \$! >$d/orphan.child
echo bye"
prog holder.sh "echo \$\$ >$d/holder.pid
sleep 300 &
echo \$! >$d/holder.child
echo bye"
cat >"$E2E_TMP/kill.conf" <<EOF
0 exec idle-timeout=1 -- $d/stubborn.sh
0 exec -- $d/orphan.sh
0 exec idle-timeout=8 -- $d/holder.sh
EOF
server_start -f "$E2E_TMP/kill.conf"
stub_p=$(server_port 1)
orph_p=$(server_port 2)
hold_p=$(server_port 3)
client "$stub_p" "$E2E_TMP/stubborn.got"
assert_eq "$(cat "$E2E_TMP/stubborn.got")" ready "output of stubborn.sh"
[ -s "$d/stubborn.term" ] || fail "stubborn.sh never got SIGTERM"
assert_eq "$(wc -l <"$d/stubborn.term")" 1 "SIGTERMs received by stubborn.sh"
term=$(cat "$d/stubborn.term")
note "SIGTERM $((term - T0)) ms after connect, client EOF $((T1 - term)) ms later"
[ $((term - T0)) -ge 900 ] && [ $((term - T0)) -le 2500 ] ||
    fail "SIGTERM came $((term - T0)) ms after connect (idle-timeout=1)"
[ $((T1 - term)) -ge 850 ] && [ $((T1 - term)) -le 2000 ] ||
    fail "client closed $((T1 - term)) ms after SIGTERM, expected about 1 s"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" signal)" KILL "signal of stubborn.sh"
assert_eq "$(log_field "$line" reason)" idle_timeout "close reason of stubborn.sh"
no_procs pgrp "$(cat "$d/stubborn.pid")" "process group of stubborn.sh"
no_children

note "a detached grandchild: the client ends, nothing is left"
client "$orph_p" "$E2E_TMP/orphan.got"
assert_eq "$(cat "$E2E_TMP/orphan.got")" bye "output of orphan.sh"
[ $((T1 - T0)) -lt 5000 ] ||
    fail "client of orphan.sh closed only after $((T1 - T0)) ms"
line=$(close_of "$CONN")
assert_eq "$(log_field "$line" exit)" 0 "exit of orphan.sh"
assert_eq "$(log_field "$line" reason)" "done" "close reason of orphan.sh"
no_procs pgrp "$(cat "$d/orphan.pid")" "process group of orphan.sh"
[ ! -e "/proc/$(cat "$d/orphan.child")" ] ||
    fail "orphan.sh's sleep 300 (pid $(cat "$d/orphan.child")) still exists"
no_children

note "a grandchild holding stdout: the client ends when the program exits"
client "$hold_p" "$E2E_TMP/holder.got"
assert_eq "$(cat "$E2E_TMP/holder.got")" bye "output of holder.sh"
line=$(close_of "$CONN")
[ $((T1 - T0)) -lt 3000 ] ||
    fail "holder.sh exited at once, its client was closed only after" \
    "$((T1 - T0)) ms (idle-timeout=8; SPEC 10: closed when the program" \
    "exits): $line"
assert_eq "$(log_field "$line" exit)" 0 "exit of holder.sh"
assert_eq "$(log_field "$line" reason)" "done" "close reason of holder.sh"
no_procs pgrp "$(cat "$d/holder.pid")" "process group of holder.sh"
no_children
server_stop
assert_eq "$SRV_RC" 0 "exit status"
no_procs pgrp "$(cat "$d/holder.pid")" "process group of holder.sh after stop"

note "user=nobody: the program runs as that user and group (as root only)"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	printf '0 exec user=nobody -- /usr/bin/id\n' >"$E2E_TMP/user.conf"
	server_start -f "$E2E_TMP/user.conf"
	client "$(server_port 1)" "$E2E_TMP/user.got"
	assert_match "$(cat "$E2E_TMP/user.got")" \
	    "^uid=$(id -u nobody)\\(nobody\\) gid=$(id -g nobody)\\(" \
	    "id run with user=nobody"
	line=$(close_of "$CONN")
	assert_eq "$(log_field "$line" exit)" 0 "exit of id as nobody"
	no_children
	server_stop
	assert_eq "$SRV_RC" 0 "exit status"
else
	note "skipped: not root, or no user nobody"
fi
