#!/bin/bash
# A stalled stderr costs log lines, never service: with stderr on a FIFO
# that nobody reads (held open here, never read) and --log-level debug,
# 4,000 ack clients are all answered, /metrics counts the dropped lines,
# SIGTERM still ends the process within a few seconds with exit 0, the
# ports are free, and what did reach the pipe is whole log lines. Then the
# same with a reader coming back: the writer reports what it dropped
# (event=log_dropped lines=N) before the lines that follow.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"
NCLIENTS=4000

# stalled_start ARGS...: server_start with its stderr on a FIFO (at the
# path mp_start writes stderr to), kept open for reading in STALL and
# never read, so the server's writes block once the pipe is full.
stalled_start() {
	local fifo=$E2E_TMP/$((SRV_N + 1)).err

	mkfifo "$fifo"
	exec {STALL}<>"$fifo"
	server_start "$@"
}

# drive PORT: NCLIENTS ack clients, eight at a time; each must get ACK.
drive() {
	python3 - "$1" "$NCLIENTS" <<'PY' || fail "an ack client was not served"
import socket, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
errors = []

def run(first):
    for i in range(first, n, 8):
        try:
            s = socket.create_connection(('127.0.0.1', port), 10)
            s.settimeout(10)
            s.sendall(b'message %d with "quotes" and \\ backslash\n' % i)
            got = b''
            while len(got) < 4:
                chunk = s.recv(4)
                if not chunk:
                    break
                got += chunk
            s.close()
            if got != b'ACK\n':
                errors.append('client %d got %r' % (i, got))
        except OSError as e:
            errors.append('client %d: %s' % (i, e))

threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, '%d failed, first: %s' % (len(errors), errors[0])
print('%d ack clients answered' % n)
PY
}

# dropped PORT: mpserver_log_lines_dropped_total from a scrape.
dropped() {
	curl -sf --max-time 10 "http://127.0.0.1:$1/metrics" |
	    awk '$1 == "mpserver_log_lines_dropped_total" { print $2 }'
}

note "nobody reads stderr"
stalled_start 0:metrics 0:ack -l debug
metrics=$(server_port 1) ack=$(server_port 2)
drive "$ack"
n=$(dropped "$metrics")
[ -n "$n" ] && [ "$n" -gt 0 ] ||
    fail "mpserver_log_lines_dropped_total is \"$n\" with stderr stalled"
note "$n lines dropped"
t0=$(now_ms)
server_stop TERM 5
note "stopped in $(($(now_ms) - t0)) ms with stderr stalled"
assert_eq "$SRV_RC" 0 "exit status with stderr stalled"
mp_bindable "$metrics" || fail "port $metrics still bound"
mp_bindable "$ack" || fail "port $ack still bound"
# What reached the pipe before it filled: whole lines but perhaps the
# last, which the writer may have been cut off in at the stop.
python3 - "$E2E_TMP/piped" <<'PY' 3<&"$STALL" || fail "cannot read the pipe"
import os, sys
os.set_blocking(3, False)
data = b''
while True:
    try:
        chunk = os.read(3, 65536)
    except BlockingIOError:
        break
    if not chunk:
        break
    data += chunk
open(sys.argv[1], 'wb').write(data[:data.rfind(b'\n') + 1])
PY
[ -s "$E2E_TMP/piped" ] || fail "nothing reached the pipe"
python3 "$(dirname "$0")/logfmt.py" "$E2E_TMP/piped" >/dev/null ||
    fail "the lines in the pipe are not whole logfmt lines"
exec {STALL}<&-

note "the reader comes back"
stalled_start 0:metrics 0:ack -l debug
metrics=$(server_port 1) ack=$(server_port 2)
drive "$ack"
n=$(dropped "$metrics")
[ -n "$n" ] && [ "$n" -gt 0 ] || fail "no lines dropped with stderr stalled"
# Without our read-write descriptor, which would keep it from seeing EOF.
cat "$SRV_ERR" >"$E2E_TMP/resumed" {STALL}<&- &
track $!
reader=$!
line=$(mp_wait_log "$E2E_TMP/resumed" 'event=log_dropped lines=[0-9]+' 10) ||
    fail "no event=log_dropped line once stderr is read again"
note "$line"
server_stop TERM 5
assert_eq "$SRV_RC" 0 "exit status"
exec {STALL}<&-
mp_wait_exit "$reader" 5 || fail "the reader did not see the end of stderr"
python3 "$(dirname "$0")/logfmt.py" "$E2E_TMP/resumed" >/dev/null ||
    fail "stderr after the stall is not strict logfmt"
grep -q 'event=stop ' "$E2E_TMP/resumed" || fail "no stop line once read again"
