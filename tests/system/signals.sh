#!/bin/bash
# SIGUSR1 writes the STATS block to the log as one line; SIGHUP is logged
# and changes nothing; the server keeps serving after both.
set -eu
. "$(dirname "$0")/../e2e/lib.sh"
e2e_init "$@"

server_start 0 0:cmd
assert_eq "$(nc_send 127.0.0.1 "$(server_port 1)" 'one\n')" "ACK" "ack"
kill -USR1 "$SRV_PID"
line=$(wait_log 'event=stats ')
assert_eq "$(log_field "$line" accepted)" 1 "accepted in the stats line"
assert_eq "$(log_field "$line" channels)" 2 "channels in the stats line"
assert_match "$line" "rejected_busy=0 rejected_per_ip=0 rejected_acl=0 rejected_resources=0" "rejections"
kill -HUP "$SRV_PID"
wait_log 'event=signal .*SIGHUP ignored' >/dev/null
assert_match "$(nc_send 127.0.0.1 "$(server_port 2)" 'PING\r\nQUIT\r\n')" "200 PONG" "still serving"
server_stop TERM
assert_eq "$SRV_RC" 0 "exit status"
