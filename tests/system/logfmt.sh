#!/bin/bash
# Every log line of a busy run is strict logfmt (tests/system/logfmt.py), and
# with --log-format json every line is one JSON object with the same keys:
# ack messages full of quotes, backslashes, control and binary bytes, cmd
# verbs at debug level, refusals, and shutdown.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"

busy_run() {
	server_start "$@" 0 0:cmd 0:echo --max-clients 40 -l debug
	local ack cmd echo i
	ack=$(server_port 1) cmd=$(server_port 2) echo=$(server_port 3)
	for i in $(seq 20); do
		printf 'a "quoted" \\ back\tslash \x01\x02\xff\xfe = end %d\n' "$i" |
		    timeout 5 nc -N 127.0.0.1 "$ack" >/dev/null &
		printf 'PING\r\nECHO x=y "z"\r\nNOPE\r\nQUIT\r\n' |
		    timeout 5 nc -N 127.0.0.1 "$cmd" >/dev/null &
		printf 'echo %d\n' "$i" | timeout 5 nc -N 127.0.0.1 "$echo" >/dev/null &
	done
	wait_clients
	server_stop TERM
	assert_eq "$SRV_RC" 0 "exit status"
}

wait_clients() {
	local pid
	for pid in $(jobs -p); do
		[ "$pid" = "$SRV_PID" ] || wait "$pid" || true
	done
}

busy_run --log-format text
python3 "$(dirname "$0")/logfmt.py" "$SRV_ERR" || fail "logfmt check failed"
grep -q 'event=recv .*data="a \\"quoted\\" \\\\ back\\tslash \\x01\\x02\\xff\\xfe = end' "$SRV_ERR" ||
    fail "ack data not escaped as SPEC 7 says"
busy_run --log-format json
python3 "$(dirname "$0")/logfmt.py" --json "$SRV_ERR" || fail "JSON check failed"
