#!/bin/bash
# --reuseport (docs/deploy.md, "Several processes on the same ports"): two
# mpserver processes started with --reuseport on the same loopback port both
# bind it and both announce it; the kernel spreads new connections over them
# (20 echo sessions: each process logs at least one accept); a third process
# on that port without --reuseport is refused with exit 1 and "Address
# already in use", and so is one with --reuseport on a port held by a process
# without it. When one sharer stops (SIGTERM, exit 0) the other still serves.
# Usage: reuseport.sh MPSERVER
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
bin=${1:?usage: $0 MPSERVER}
[ -x "$bin" ] || fail "no executable mpserver at $bin"
require nc netcat-openbsd
require python3

# refused ARGS...: mpserver ARGS exits 1 naming the port as in use.
refused() {
	local rc=0
	timeout "$DEPLOY_TIMEOUT" "$bin" "$@" >"$T/r.out" 2>"$T/r.err" \
	    </dev/null || rc=$?
	[ "$rc" -eq 1 ] ||
	    fail "mpserver $*: exit $rc, expected 1 ($(cat "$T/r.err"))"
	grep -q "cannot listen on 127.0.0.1:$port: Address already in use" \
	    "$T/r.err" || fail "mpserver $*: unexpected message: $(cat "$T/r.err")"
	[ ! -s "$T/r.out" ] || fail "mpserver $*: stdout not empty"
	note "refused as expected: $(cat "$T/r.err")"
}

srv_start "$bin" --reuseport 0:echo
a_pid=$SRV_PID a_err=$SRV_ERR
port=$(srv_port "$SRV_OUT" 1)
srv_start "$bin" --reuseport "$port:echo"
b_pid=$SRV_PID b_err=$SRV_ERR
assert_eq "$(srv_port "$SRV_OUT" 1)" "$port" "second process's port"
note "two processes with --reuseport share 127.0.0.1:$port"

refused "$port:echo"

for i in $(seq 1 20); do
	got=$(printf 'ping %s\n' "$i" | timeout "$DEPLOY_TIMEOUT" nc -N \
	    127.0.0.1 "$port") || fail "echo session $i failed"
	assert_eq "$got" "ping $i" "echo reply $i"
done
count_a() { grep -c "event=close port=$port " "$a_err" || true; }
count_b() { grep -c "event=close port=$port " "$b_err" || true; }
all_closed() { [ $(($(count_a) + $(count_b))) -ge 20 ]; }
wait_for "$DEPLOY_TIMEOUT" "20 close log lines" all_closed
note "20 sessions: a served $(count_a), b served $(count_b)"
# 20 connections all hashed to one socket: a chance of 2 in a million.
[ "$(count_a)" -ge 1 ] && [ "$(count_b)" -ge 1 ] ||
    fail "the kernel gave every connection to one process"

srv_stop "$a_pid"
assert_eq "$SRV_RC" 0 "exit status of a after SIGTERM"
got=$(printf 'still here\n' | timeout "$DEPLOY_TIMEOUT" nc -N 127.0.0.1 \
    "$port") || fail "echo after a stopped failed"
assert_eq "$got" "still here" "b serves alone"
srv_stop "$b_pid"
assert_eq "$SRV_RC" 0 "exit status of b after SIGTERM"

note "a port held without --reuseport cannot be shared"
srv_start "$bin" 0:echo
c_pid=$SRV_PID
port=$(srv_port "$SRV_OUT" 1)
refused --reuseport "$port:echo"
srv_stop "$c_pid"
assert_eq "$SRV_RC" 0 "exit status after SIGTERM"
