#!/bin/bash
# Scale (SPEC 1): the most channels allowed, 4096 "0" items (ack, ports the
# kernel picks), start under a descriptor limit of 20000 (soft and hard,
# lowered in the shell that starts the server when the machine allows
# more): "ready 4096 channels" comes with 4096 distinct listening ports; the
# first, a middle and the last channel answer ACK through nc; SIGTERM stops
# it with exit 0. One more channel (4097) is a usage error. Skipped (77)
# when the hard limit is already below 20000.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

N=4096
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 20000 ]; then
	echo "SKIP: $E2E_NAME: descriptor hard limit $hard is below 20000"
	exit 77
fi
# Start-up binds 4096 sockets and starts 4096 threads: give it time.
[ "$E2E_TIMEOUT" -ge 30 ] || E2E_TIMEOUT=30

real=$MPSERVER
MPSERVER=$E2E_TMP/limited
printf '#!/bin/sh\nulimit -n 20000 && ulimit -Hn 20000 || exit 99\nexec "%s" "$@"\n' \
    "$real" >"$MPSERVER"
chmod +x "$MPSERVER"
spec=$(printf '0,%.0s' $(seq "$N"))
spec=${spec%,}

note "one channel too many"
rc=0
"$MPSERVER" "$spec,0" >"$E2E_TMP/over.out" 2>"$E2E_TMP/over.err" </dev/null ||
    rc=$?
assert_eq "$rc" 2 "exit status with $((N + 1)) channels ($(cat "$E2E_TMP/over.err"))"
[ ! -s "$E2E_TMP/over.out" ] || fail "stdout with $((N + 1)) channels not empty"

note "$N channels under ulimit -n 20000"
t0=$(now_ms)
server_start -l warn "$spec"
note "ready after $(($(now_ms) - t0)) ms"
assert_eq "$(tail -n 1 "$SRV_OUT")" "ready $N channels" "ready line"
assert_eq "$(server_channels)" "$N" "listening lines"
limit=$(awk '$1 == "Max" && $2 == "open" { print $4, $5 }' "/proc/$SRV_PID/limits")
assert_eq "$limit" "20000 20000" "descriptor limits (soft hard) of the server"
assert_eq "$(awk '$1 == "listening" { print $3 }' "$SRV_OUT" | sort -u)" ack \
    "services"
distinct=$(awk '$1 == "listening" { sub(/.*:/, "", $2); print $2 }' \
    "$SRV_OUT" | sort -u | wc -l)
assert_eq "$distinct" "$N" "distinct ports"
for i in 1 $((N / 2)) "$N"; do
	port=$(server_port "$i")
	assert_eq "$(nc_send 127.0.0.1 "$port" "hello $i\n")" ACK \
	    "ack on channel $i (port $port)"
done
note "channels 1, $((N / 2)) and $N answered ACK"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status after SIGTERM"
