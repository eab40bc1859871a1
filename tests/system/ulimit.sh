#!/bin/bash
# A real low descriptor limit (ulimit -n 48, soft and hard): mpserver warns
# at start-up that --max-clients cannot fit, pauses accepting when accept
# fails with EMFILE (logged, rate-limited) instead of spinning, and serves
# every waiting client once descriptors are free again.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"

real=$MPSERVER
MPSERVER=$E2E_TMP/lowfd
printf '#!/bin/sh\nulimit -n 48\nexec "%s" "$@"\n' "$real" >"$MPSERVER"
chmod +x "$MPSERVER"
server_start 0:echo -l info
port=$(server_port 1)
wait_log 'event=nofile .*descriptor limit 48 is below' >/dev/null

python3 - "$port" "$SRV_PID" <<'PY' || fail "clients were not all served"
import os, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]

def cpu_ticks():
    f = open('/proc/%s/stat' % pid).read().rsplit(')', 1)[1].split()
    return int(f[11]) + int(f[12])          # utime + stime

socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(100)]
for s in socks:
    s.settimeout(10)
# The server holds about 40; the rest wait in the backlog while it pauses.
before = cpu_ticks()
time.sleep(1.0)     # a measurement window, not synchronisation
spent = cpu_ticks() - before
hz = os.sysconf('SC_CLK_TCK')
assert spent < hz / 2, 'listener spins: %d ticks of CPU in 1 s' % spent
# Let the first 60 go: their descriptors come back and the rest get in.
for s in socks[:60]:
    s.close()
for i, s in enumerate(socks[60:]):
    s.sendall(b'late %d\n' % i)
    want = b'late %d\n' % i
    got = b''
    while len(got) < len(want):
        chunk = s.recv(100)
        assert chunk, 'closed before the echo'
        got += chunk
    assert got == want, got
    s.close()
print('100 clients, %d ticks while paused' % spent)
PY
wait_log 'event=accept_pause .*error="Too many open files"' >/dev/null
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status"
