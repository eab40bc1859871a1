#!/bin/bash
# Readiness the systemd way: with NOTIFY_SOCKET set, mpserver sends READY=1
# once every channel is listening and STOPPING=1 when SIGTERM arrives. The
# test plays the notify socket (an AF_UNIX datagram socket) itself.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"

sock=$E2E_TMP/notify
python3 - "$sock" >"$E2E_TMP/notes" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(15)
for _ in range(2):
    print(s.recv(4096).decode(), flush=True)
PY
track $!
listener=$!
for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
[ -S "$sock" ] || fail "notify socket not created"

NOTIFY_SOCKET=$sock server_start 0:echo
for i in $(seq 250); do grep -q READY=1 "$E2E_TMP/notes" && break; sleep 0.02; done
assert_eq "$(head -n 1 "$E2E_TMP/notes")" "READY=1" "first notification"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status"
wait_exit $listener 5 || fail "STOPPING=1 never arrived"
assert_eq "$(sed -n 2p "$E2E_TMP/notes")" "STOPPING=1" "second notification"
