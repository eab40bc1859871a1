#!/bin/sh
# Smoke test of mpload against one server: smoke.sh SERVER MPLOAD.
# SERVER is the built mpserver (an echo and an ack channel on port 0) or a
# reference server (one echo and one -a instance). Short bounded runs of
# every mode must report zero errors and a non-zero rate; the servers must
# exit 0 on SIGTERM. Synchronisation is the "ready" line, never a sleep.
set -eu

server=$1
mpload=$2
tmp=$(mktemp -d)
pids=""
fail=0

cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start NAME ARGS...: run the server, wait for "ready", keep its ports in
# $tmp/NAME.ports ("PORT SERVICE" lines) and its pid in $tmp/NAME.pid.
start() {
	name=$1
	shift
	mkfifo "$tmp/$name.fifo"
	"$server" "$@" >"$tmp/$name.fifo" 2>"$tmp/$name.err" &
	echo $! >"$tmp/$name.pid"
	pids="$pids $!"
	: >"$tmp/$name.ports"
	# The fifo stays open on fd 3 in this shell until the end.
	exec 3<"$tmp/$name.fifo"
	while IFS= read -r line <&3; do
		case $line in
		"listening "*)
			set -- $line
			echo "${2##*:} $3" >>"$tmp/$name.ports" ;;
		"ready "*)
			return 0 ;;
		esac
	done
	echo "FAIL: $name exited before its ready line" >&2
	cat "$tmp/$name.err" >&2
	exit 1
}

port_of() {		# port_of NAME SERVICE
	awk -v s="$2" '$2 == s { print $1; exit }' "$tmp/$1.ports"
}

json_num() {		# json_num KEY < json line
	sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

# check LABEL MPLOAD-ARGS...: run mpload, require errors 0 and rate > 0.
check() {
	label=$1
	shift
	if "$mpload" "$@" >"$tmp/out" 2>&1; then rc=0; else rc=$?; fi
	json=$(grep '^{' "$tmp/out" || true)
	errors=$(echo "$json" | json_num errors)
	rate=$(echo "$json" | json_num rate)
	if [ "$rc" -eq 0 ] && [ "${errors:-x}" = 0 ] &&
	    awk -v r="${rate:-0}" 'BEGIN { exit !(r > 0) }'; then
		echo "ok   $label: rate=$rate errors=$errors"
	else
		echo "FAIL $label (exit $rc): $json" >&2
		cat "$tmp/out" >&2
		fail=1
	fi
}

# stop NAME: SIGTERM, and the exit status must be 0.
stop() {
	pid=$(cat "$tmp/$1.pid")
	kill -TERM "$pid"
	if wait "$pid"; then rc=0; else rc=$?; fi
	pids=$(echo "$pids" | sed "s/ $pid\$//; s/ $pid / /")
	if [ "$rc" -eq 0 ]; then
		echo "ok   $1 exited 0 on SIGTERM"
	else
		echo "FAIL $1 exited $rc on SIGTERM" >&2
		cat "$tmp/$1.err" >&2
		fail=1
	fi
}

case $(basename "$server") in
mpserver*)
	start srv --log-level warn 0:echo,0:ack
	echo_srv=srv ack_srv=srv ;;
*)
	start echo 0
	exec 4<&3
	start ack -a 0
	echo_srv=echo ack_srv=ack ;;
esac
echo_port=$(port_of $echo_srv echo)
ack_port=$(port_of $ack_srv ack)

check "churn ack" churn -e ack -p "$ack_port" -c 8 -d 1 -t 5
check "churn echo" churn -e echo -p "$echo_port" -c 8 -d 1 -t 5
check "echo" echo -p "$echo_port" -c 8 -s 32 -d 1 -t 5
check "hold" hold -p "$echo_port" -c 200 -t 5
check "ports" ports -p "$echo_port,$ack_port" -t 5

# Refused before any packet is sent: load never leaves loopback.
if "$mpload" churn -H 192.0.2.1 -p 9 -d 1 >/dev/null 2>"$tmp/out"; then
	rc=0
else
	rc=$?
fi
if [ "$rc" -eq 2 ] && grep -q "non-loopback" "$tmp/out"; then
	echo "ok   non-loopback host refused"
else
	echo "FAIL non-loopback host: exit $rc" >&2
	fail=1
fi

for name in $(echo "$echo_srv $ack_srv" | tr ' ' '\n' | sort -u); do
	stop "$name"
done
[ "$fail" -eq 0 ] && echo "load smoke: all passed"
exit "$fail"
