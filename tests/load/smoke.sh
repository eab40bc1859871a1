#!/bin/bash
# Smoke test of mpload against one server: smoke.sh SERVER MPLOAD.
# SERVER is the built mpserver (an echo and an ack channel on port 0) or a
# reference server (one echo and one -a instance). Short bounded runs of
# every mode must report zero errors and a non-zero rate; the servers must
# exit 0 on SIGTERM. Synchronisation is the "ready" line, never a sleep
# (tests/lib.sh starts and stops the servers).
# ctest runs this with sh: the library needs bash.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu
. "$(dirname "$0")/../lib.sh"

server=$1
mpload=$2
failed=0
MP_TIMEOUT=30
mp_init load

# start NAME ARGS...: run the server, wait (bounded) for "ready".
start() {
	local name=$1

	shift
	if ! mp_start "$name" "$server" "$@"; then
		show "$(mp_err "$name")" "$name stderr"
		fail "$MP_ERROR"
	fi
}

json_num() {		# json_num KEY < json line
	sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

# check LABEL MPLOAD-ARGS...: run mpload, require errors 0 and rate > 0.
check() {
	local label=$1 rc json errors rate

	shift
	if "$mpload" "$@" >"$MP_TMP/out" 2>&1; then rc=0; else rc=$?; fi
	json=$(grep '^{' "$MP_TMP/out" || true)
	errors=$(echo "$json" | json_num errors)
	rate=$(echo "$json" | json_num rate)
	if [ "$rc" -eq 0 ] && [ "${errors:-x}" = 0 ] &&
	    awk -v r="${rate:-0}" 'BEGIN { exit !(r > 0) }'; then
		echo "ok   $label: rate=$rate errors=$errors"
	else
		echo "FAIL $label (exit $rc): $json" >&2
		cat "$MP_TMP/out" >&2
		failed=1
	fi
}

# stop NAME: SIGTERM, and the exit status must be 0 (within MP_TIMEOUT).
stop() {
	if ! mp_stop "$1"; then
		echo "FAIL $MP_ERROR" >&2
		failed=1
	elif [ "${MP_RC[$1]}" -eq 0 ]; then
		echo "ok   $1 exited 0 on SIGTERM"
	else
		echo "FAIL $1 exited ${MP_RC[$1]} on SIGTERM" >&2
		cat "$(mp_err "$1")" >&2
		failed=1
	fi
}

case $(basename "$server") in
mpserver*)
	start srv --log-level warn 0:echo,0:ack
	echo_srv=srv ack_srv=srv ;;
*)
	start echo 0
	start ack -a 0
	echo_srv=echo ack_srv=ack ;;
esac
echo_port=$(mp_service_port $echo_srv echo)
ack_port=$(mp_service_port $ack_srv ack)
if [ -z "$echo_port" ] || [ -z "$ack_port" ]; then
	fail "no echo or ack channel: $(cat "$(mp_out $echo_srv)" \
	    "$(mp_out $ack_srv)")"
fi

check "churn ack" churn -e ack -p "$ack_port" -c 8 -d 1 -t 5
check "churn echo" churn -e echo -p "$echo_port" -c 8 -d 1 -t 5
check "echo" echo -p "$echo_port" -c 8 -s 32 -d 1 -t 5
check "hold" hold -p "$echo_port" -c 200 -t 5
check "ports" ports -p "$echo_port,$ack_port" -t 5

# Refused before any packet is sent: load never leaves loopback.
if "$mpload" churn -H 192.0.2.1 -p 9 -d 1 >/dev/null 2>"$MP_TMP/out"; then
	rc=0
else
	rc=$?
fi
if [ "$rc" -eq 2 ] && grep -q "non-loopback" "$MP_TMP/out"; then
	echo "ok   non-loopback host refused"
else
	echo "FAIL non-loopback host: exit $rc" >&2
	failed=1
fi

for name in $(echo "$echo_srv $ack_srv" | tr ' ' '\n' | sort -u); do
	stop "$name"
done
[ "$failed" -eq 0 ] && echo "load smoke: all passed"
exit "$failed"
