#!/bin/bash
# Usage errors (SPEC 1 and 7): every rejected command line exits 2 with one
# stderr line that starts "mpserver: " and quotes the offending token, prints
# nothing on stdout and binds nothing (no listen log line: the one stderr
# line is the message); an unknown service lists the valid ones.
# --help and --version exit 0, and --version prints "mpserver 0.1.0".
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

P=$(free_port)
Q=$(free_port)
while [ "$Q" = "$P" ]; do Q=$(free_port); done
out=$E2E_TMP/stdout
err=$E2E_TMP/stderr

# run ARGS...: run mpserver to completion (bounded); RC, stdout and stderr.
run() {
	RC=0
	timeout "$E2E_TIMEOUT" "$MPSERVER" "$@" >"$out" 2>"$err" </dev/null ||
	    RC=$?
	[ "$RC" -ne 124 ] || fail "mpserver $* still running after" \
	    "${E2E_TIMEOUT}s"
}

# rejected TOKEN ARGS...: mpserver ARGS is a usage error naming TOKEN
# ("" when there is no token to quote).
rejected() {
	local tok=$1 msg
	shift
	run "$@"
	msg=$(cat "$err")
	[ "$RC" -eq 2 ] ||
	    fail "mpserver $*: exit status $RC, expected 2 (stderr: $msg)"
	[ ! -s "$out" ] ||
	    fail "mpserver $*: stdout not empty: $(head -c 200 "$out")"
	[ "$(wc -l <"$err")" -eq 1 ] ||
	    fail "mpserver $*: expected one stderr line, got: $msg"
	case $msg in
	"mpserver: "*) ;;
	*) fail "mpserver $*: message does not start \"mpserver: \": $msg" ;;
	esac
	if [ -n "$tok" ]; then
		case $msg in
		*"\"$tok\""* | *"'$tok'"* | *"\`$tok'"*) ;;
		*) fail "mpserver $*: message does not quote \"$tok\": $msg" ;;
		esac
	fi
	echo "ok: mpserver $* -> $msg"
}

note "port specs"
rejected 123BOGUS 123BOGUS
rejected 70000 70000
rejected 65536 "$P,65536"
rejected 7-3 7-3
rejected -1 -- -1
rejected -1 -1
rejected "$P:" "$P:"
rejected "$P,,$Q" "$P,,$Q"
rejected "$P," "$P,"
rejected ",$P" ",$P"
rejected 0:nosuch 0:nosuch
rejected 0:ACK 0:ACK
for s in ack echo discard chargen daytime time cmd metrics; do
	grep -qw "$s" "$err" || fail "unknown-service message lacks \"$s\""
done
rejected "$P" "$P" "$P"
rejected "$P:echo" "$P,$Q,$P:echo"
rejected "$((P - 1))-$((P + 1))" "$P" "$((P - 1))-$((P + 1))"
rejected ""
rejected 1-4097 1-4097
rejected "$P-$((P + 4096))" "$P-$((P + 4096))"
rejected "" 0 -b 127.0.0.1 1-4095 "$P"

note "options"
rejected --bogus --bogus 0
rejected --bogus 0 --bogus
rejected 0 --max-clients 0 0
rejected 0 --max-clients=0 0
rejected abc -c abc 0
rejected 0 --max-line 0 0
rejected 12x --max-line 12x 0
rejected loud --log-level loud 0
rejected LOUD --log-level=LOUD 0
rejected xml --log-format xml 0
rejected no-such-host.invalid --bind no-such-host.invalid 0
rejected x --idle-timeout x 0
rejected -1 --shutdown-grace -1 0
rejected 300.0.0.1/8 --allow 300.0.0.1/8 0
rejected 10.0.0.0/33 --deny 10.0.0.0/33 0
rejected "" --bind

note "--help and --version"
run --help
assert_eq "$RC" 0 "--help exit status"
grep -q 'PORTSPEC' "$out" || fail "--help does not mention PORTSPEC"
grep -q -- '--max-clients' "$out" || fail "--help does not list options"
run -h
assert_eq "$RC" 0 "-h exit status"
run --version
assert_eq "$RC" 0 "--version exit status"
assert_eq "$(cat "$out")" "mpserver $MPSERVER_VERSION" "--version output"
run -V
assert_eq "$(cat "$out")" "mpserver $MPSERVER_VERSION" "-V output"
