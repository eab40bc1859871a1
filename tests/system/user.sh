#!/bin/bash
# --user: bind a port under 1024 as root, then run as "nobody" (uid and gid),
# still serving; an unknown user is a usage error (exit 2, nothing bound).
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to bind under 1024"; exit 77; }
getent passwd nobody >/dev/null || { echo "SKIP: no user nobody"; exit 77; }

low=$(python3 -c 'import socket
for p in range(1000, 900, -1):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass')
[ -n "$low" ] || fail "no free port under 1024"
server_start "$low:echo" 0:cmd --user nobody
uid=$(getent passwd nobody | cut -d: -f3)
gid=$(getent passwd nobody | cut -d: -f4)
assert_match "$(grep '^Uid:' /proc/$SRV_PID/status)" "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "uids"
assert_match "$(grep '^Gid:' /proc/$SRV_PID/status)" "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "gids"
assert_match "$(grep '^Groups:' /proc/$SRV_PID/status)" "^Groups:\s+$gid\s*$" "supplementary groups"
assert_eq "$(nc_send 127.0.0.1 "$low" 'low port\n')" "low port" "echo on port $low"
wait_log 'event=privileges .*running as user nobody' >/dev/null
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status"

rc=0
"$MPSERVER" 0 --user no-such-user-here >"$E2E_TMP/o" 2>"$E2E_TMP/e" || rc=$?
assert_eq "$rc" 2 "unknown user exit status"
assert_eq "$(cat "$E2E_TMP/e")" 'mpserver: unknown user "no-such-user-here"' "message"
