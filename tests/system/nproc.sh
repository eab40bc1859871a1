#!/bin/bash
# Out of threads, refused at once: mpserver runs as nobody (setpriv), and
# once it is up its RLIMIT_NPROC is lowered (prlimit --pid, as nobody) to
# what its user runs now plus three, so three handler threads can start.
# Three cmd clients sleeping in SLEEP hold them; a burst of 20 more gets
# "421 too many connections" from each, all within two seconds (not one a
# second), logged and counted with reason=resources; once the sleepers are
# done a new client gets 220 again. Every stderr line is strict logfmt.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
[ "$(id -u)" -eq 0 ] || skip "needs root to run mpserver as nobody"
getent passwd nobody >/dev/null || skip "no user nobody"
need setpriv util-linux
need prlimit util-linux
group=nogroup
getent group "$group" >/dev/null || group=nobody
setpriv --reuid=nobody --regid="$group" --clear-groups test -x "$MPSERVER" ||
    skip "nobody cannot run $MPSERVER"

# nobody_threads: the tasks of every process whose real user is nobody,
# which is what RLIMIT_NPROC counts.
nobody_threads() {
	local uid n=0 f t

	uid=$(id -u nobody)
	for f in /proc/[0-9]*/status; do
		t=$(awk -v uid="$uid" '$1 == "Uid:" && $2 != uid { exit }
		    $1 == "Threads:" { print $2 }' "$f" 2>/dev/null) || continue
		n=$((n + ${t:-0}))
	done
	echo "$n"
}

real=$MPSERVER
MPSERVER=$E2E_TMP/asnobody
cat >"$MPSERVER" <<EOF
#!/bin/sh
exec setpriv --reuid=nobody --regid=$group --clear-groups "$real" "\$@"
EOF
chmod +x "$MPSERVER"
server_start 0:cmd --max-clients 1000 -l info
port=$(server_port 1)
limit=$(($(nobody_threads) + 3))
# As nobody too: without CAP_SYS_RESOURCE only the same user may.
setpriv --reuid=nobody --regid="$group" --clear-groups \
    prlimit --pid "$SRV_PID" --nproc="$limit:$limit" ||
    fail "prlimit --nproc on $SRV_PID"
note "RLIMIT_NPROC $limit for nobody's $((limit - 3)) threads"

python3 - "$port" <<'PY' || fail "out of threads, not refused at once"
import socket, sys, time
port = int(sys.argv[1])

def connect():
    s = socket.create_connection(('127.0.0.1', port), 10)
    s.settimeout(10)
    return s

def first_line(s):
    got = b''
    while not got.endswith(b'\r\n'):
        chunk = s.recv(1)
        if not chunk:
            break
        got += chunk
    return got

# Sleepers: SLEEP goes out with the connect, so no thread is ever given
# back in between; each holds one until it is answered.
sleepers, refused = [], 0
for i in range(10):
    s = connect()
    s.sendall(b'SLEEP 4000\r\n')
    line = first_line(s)
    if line == b'421 too many connections\r\n':
        refused += 1
        s.close()
        break
    assert line.startswith(b'220 '), line
    sleepers.append(s)
assert refused == 1, 'never out of threads with %d sleepers' % len(sleepers)
assert 1 <= len(sleepers) <= 3, '%d sleepers for 3 threads' % len(sleepers)

# The burst: no thread for any of them, and no waiting for one.
t0 = time.monotonic()
burst = [connect() for _ in range(20)]
for i, s in enumerate(burst):
    got = b''
    while True:
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == b'421 too many connections\r\n', (i, got)
    s.close()
spent = time.monotonic() - t0
assert spent < 2.0, '20 refusals took %.1f s' % spent

for s in sleepers:
    assert first_line(s) == b'200 slept 4000\r\n'
    s.close()
# Threads are back: served again, and the counter has every refusal.
s = connect()
assert first_line(s).startswith(b'220 ')
s.sendall(b'STATS\r\n')
stats = {}
while True:
    line = first_line(s).decode().rstrip()
    if line == '211 end':
        break
    key, _, value = line[4:].partition('=')
    stats[key] = value
assert stats['rejected_resources'] == '21', stats
s.close()
print('%d sleepers, 21 refused, 20 of them in %.2f s' % (len(sleepers), spent))
PY
wait_log 'event=reject .*reason=resources' >/dev/null
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status"
python3 "$(dirname "$0")/logfmt.py" "$SRV_ERR" >/dev/null ||
    fail "stderr is not strict logfmt"
