#!/bin/bash
# Shutdown under load, under valgrind: SIGTERM while 500 cmd clients are
# connected and 50 of them are mid-request (SLEEP 300): every request fully
# received is answered, every client then hears "421 server shutting down",
# the process exits 0 within --shutdown-grace, and memcheck reports no error
# and no leak, with every thread joined.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
command -v valgrind >/dev/null || { echo "SKIP: no valgrind"; exit 77; }
E2E_TIMEOUT=60

real=$MPSERVER
MPSERVER=$E2E_TMP/vg
printf '#!/bin/sh\nexec valgrind -q --max-threads=1000 --leak-check=full --errors-for-leak-kinds=all --show-leak-kinds=all --error-exitcode=99 --log-file=%s "%s" "$@"\n' \
    "$E2E_TMP/valgrind.log" "$real" >"$MPSERVER"
chmod +x "$MPSERVER"
server_start 0:cmd --shutdown-grace 5 -l warn --max-clients 1000
port=$(server_port 1)

python3 - "$port" "$SRV_PID" <<'PY' || fail "a client was not answered as it should be"
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(500):
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(30)
    socks.append(s)
def line(s, buf):
    while b'\r\n' not in buf[0]:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError('EOF before a line, have %r' % buf[0])
        buf[0] += chunk
    l, buf[0] = buf[0].split(b'\r\n', 1)
    return l.decode()
bufs = [[b''] for _ in socks]
for s, b in zip(socks, bufs):
    assert line(s, b).startswith('220 ')
for s in socks[:50]:
    s.sendall(b'SLEEP 300\r\n')
os.kill(pid, signal.SIGTERM)
t0 = time.monotonic()
for i, (s, b) in enumerate(zip(socks, bufs)):
    if i < 50:
        got = line(s, b)
        assert got == '200 slept 300', (i, got)
    got = line(s, b)
    assert got == '421 server shutting down', (i, got)
print('500 clients answered in %.1f s' % (time.monotonic() - t0))
PY
server_stop TERM 30
assert_eq "$SRV_RC" 0 "exit status under valgrind (99 means memcheck found errors or leaks)"
if [ -s "$E2E_TMP/valgrind.log" ]; then
	cat "$E2E_TMP/valgrind.log" >&2
	fail "valgrind reported something"
fi
