#!/bin/bash
# The metrics service (SPEC 3, 5 and 7): GET /metrics passes promtool check
# metrics; the families of SPEC 5 are there, labelled by port and service
# for every channel (build_info, handler_threads and uptime without them);
# every channel x reason series of rejected_total exists at 0 from the
# start; accepted, bytes received and sent move after an ack exchange;
# /healthz answers ok; another path 404; POST 405 with "Allow: GET, HEAD";
# HEAD works; a connection is kept alive across requests.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

server_start 0:metrics 0 0:echo
m_p=$(server_port 1)
ack_p=$(server_port 2)
echo_p=$(server_port 3)
base=http://127.0.0.1:$m_p
assert_eq "$(server_field 1 2)" metrics "service of the first channel"

# scrape FILE: GET /metrics into FILE.
scrape() {
	local code
	code=$(curl -sS -m "$E2E_TIMEOUT" -o "$1" -w '%{http_code}' \
	    "$base/metrics") || fail "curl $base/metrics failed"
	assert_eq "$code" 200 "status of GET /metrics"
}

# flatten FILE: each sample of a scraped FILE as "NAME|K=V,K=V|VALUE"
# (labels sorted) in FILE.flat, for sample to look up.
flatten() {
	python3 - "$1" >"$1.flat" <<'EOF'
import re, sys
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
label_re = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')
for line in open(sys.argv[1]):
    m = line_re.match(line)
    if line.startswith("#") or not m:
        continue
    labels = sorted(label_re.findall(m.group(3) or ""))
    v = float(m.group(4))
    print("%s|%s|%s" % (m.group(1), ",".join("%s=%s" % kv for kv in labels),
        int(v) if v == int(v) else v))
EOF
}

# sample FILE NAME [LABEL=VALUE...]: the value of the one series of NAME
# that has these labels (and no port or service label when none are given);
# complains on stderr and returns 1 unless there is exactly one.
sample() {
	local file=$1.flat name=$2 vals n
	shift 2
	vals=$(awk -F'|' -v name="$name" -v want="$*" '
	    $1 != name { next }
	    {
		n = split($2, have, ",")
		if (want == "") {
			for (i = 1; i <= n; i++)
				if (have[i] ~ /^(port|service)=/)
					next
			print $3
			next
		}
		m = split(want, w, " ")
		for (j = 1; j <= m; j++) {
			ok = 0
			for (i = 1; i <= n; i++)
				if (have[i] == w[j])
					ok = 1
			if (!ok)
				next
		}
		print $3
	    }' "$file")
	n=$(printf '%s' "$vals" | grep -c . || true)
	if [ "$n" -ne 1 ]; then
		echo "$name{$*}: $n series, expected 1" >&2
		return 1
	fi
	echo "$vals"
}

# expect_sample FILE WANT NAME LABELS...: the sample equals WANT.
expect_sample() {
	local file=$1 want=$2 got
	shift 2
	got=$(sample "$file" "$@") || fail "$(sample "$file" "$@" 2>&1)"
	assert_eq "$got" "$want" "$*"
}

note "GET /metrics passes promtool check metrics"
hdr=$E2E_TMP/headers
code=$(curl -sS -m "$E2E_TIMEOUT" -D "$hdr" -o "$E2E_TMP/m0" \
    -w '%{http_code}' "$base/metrics") || fail "curl $base/metrics failed"
assert_eq "$code" 200 "status of GET /metrics"
grep -qi '^content-type: text/plain' "$hdr" ||
    fail "Content-Type of /metrics is not text/plain: $(cat "$hdr")"
flatten "$E2E_TMP/m0"
lint=$(promtool check metrics <"$E2E_TMP/m0" 2>&1) ||
    fail "promtool check metrics: $lint"
[ -z "$lint" ] || fail "promtool check metrics: $lint"

note "families, labels, rejected series at 0"
for ch in "$m_p metrics" "$ack_p ack" "$echo_p echo"; do
	set -- $ch
	for fam in mpserver_connections_accepted_total \
	    mpserver_connections_active mpserver_bytes_received_total \
	    mpserver_bytes_sent_total; do
		sample "$E2E_TMP/m0" "$fam" "port=$1" "service=$2" >/dev/null ||
		    fail "$(sample "$E2E_TMP/m0" "$fam" "port=$1" "service=$2" 2>&1)"
	done
	for reason in busy per_ip acl resources; do
		expect_sample "$E2E_TMP/m0" 0 mpserver_connections_rejected_total \
		    "port=$1" "service=$2" "reason=$reason"
	done
done
for fam in accepted_total active bytes_received_total bytes_sent_total \
    rejected_total; do
	grep -q "^# TYPE mpserver_connections_$fam \|^# TYPE mpserver_$fam " \
	    "$E2E_TMP/m0" || fail "no # TYPE line for the $fam family"
done
expect_sample "$E2E_TMP/m0" 0 mpserver_connections_accepted_total \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m0" 0 mpserver_connections_active \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m0" 1 mpserver_build_info "version=$MPSERVER_VERSION"
sample "$E2E_TMP/m0" mpserver_handler_threads >/dev/null ||
    fail "$(sample "$E2E_TMP/m0" mpserver_handler_threads 2>&1)"
up=$(sample "$E2E_TMP/m0" mpserver_uptime_seconds) ||
    fail "$(sample "$E2E_TMP/m0" mpserver_uptime_seconds 2>&1)"
awk -v u="$up" 'BEGIN { exit !(u >= 0 && u < 60) }' ||
    fail "mpserver_uptime_seconds is $up"

note "counters move after traffic on the ack channel"
assert_eq "$(echo hello | timeout 5 nc -N 127.0.0.1 "$ack_p")" ACK "ack reply"
assert_eq "$(printf 'abc\n' | timeout 5 nc -N 127.0.0.1 "$echo_p")" abc \
    "echo reply"
wait_log "event=close .*port=$ack_p " >/dev/null
wait_log "event=close .*port=$echo_p " >/dev/null
scrape "$E2E_TMP/m1"
flatten "$E2E_TMP/m1"
expect_sample "$E2E_TMP/m1" 1 mpserver_connections_accepted_total \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m1" 6 mpserver_bytes_received_total \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m1" 4 mpserver_bytes_sent_total \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m1" 0 mpserver_connections_active \
    "port=$ack_p" service=ack
expect_sample "$E2E_TMP/m1" 1 mpserver_connections_accepted_total \
    "port=$echo_p" service=echo
expect_sample "$E2E_TMP/m1" 4 mpserver_bytes_received_total \
    "port=$echo_p" service=echo
expect_sample "$E2E_TMP/m1" 4 mpserver_bytes_sent_total \
    "port=$echo_p" service=echo
acc=$(sample "$E2E_TMP/m1" mpserver_connections_accepted_total \
    "port=$m_p" service=metrics) || fail "no accepted series for metrics"
[ "$acc" -ge 1 ] || fail "metrics channel accepted_total is $acc after scrapes"
lint=$(promtool check metrics <"$E2E_TMP/m1" 2>&1) ||
    fail "promtool check metrics after traffic: $lint"

note "/healthz, 404, 405, HEAD, keep-alive"
body=$(curl -sS -m "$E2E_TIMEOUT" -w '\n%{http_code}' "$base/healthz") ||
    fail "curl /healthz failed"
assert_eq "$(printf '%s\n' "$body" | tail -n 1)" 200 "status of /healthz"
assert_eq "$(printf '%s\n' "$body" | sed '$d' | tr -d '\r\n')" ok \
    "body of /healthz"
for path in /nosuch / /metrics/x /healthzz; do
	code=$(curl -s -m "$E2E_TIMEOUT" -o /dev/null -w '%{http_code}' \
	    "$base$path") || true
	assert_eq "$code" 404 "status of GET $path"
done
for method in POST PUT DELETE; do
	code=$(curl -s -m "$E2E_TIMEOUT" -X "$method" -d x -D "$hdr" \
	    -o /dev/null -w '%{http_code}' "$base/metrics") || true
	assert_eq "$code" 405 "status of $method /metrics"
	allow=$(sed -n 's/^[Aa]llow: *//p' "$hdr" | tr -d '\r')
	assert_eq "$allow" "GET, HEAD" "Allow header of the 405 to $method"
done
code=$(curl -sS -m "$E2E_TIMEOUT" -I -o "$hdr" -w '%{http_code}' \
    "$base/metrics") || fail "curl -I /metrics failed"
assert_eq "$code" 200 "status of HEAD /metrics"
code=$(curl -sS -m "$E2E_TIMEOUT" -I -o /dev/null -w '%{http_code}' \
    "$base/healthz") || fail "curl -I /healthz failed"
assert_eq "$code" 200 "status of HEAD /healthz"
conns=$(curl -sS -m "$E2E_TIMEOUT" -o /dev/null -o /dev/null -o /dev/null \
    -w '%{num_connects} ' "$base/metrics" "$base/healthz" "$base/nosuch") ||
    fail "curl of three URLs failed"
assert_eq "$conns" "1 0 0 " "connections opened for three requests"
printf 'GET /healthz HTTP/1.0\r\n\r\n' |
    timeout "$E2E_TIMEOUT" nc -N 127.0.0.1 "$m_p" >"$E2E_TMP/raw" ||
    fail "nc GET /healthz failed"
assert_match "$(head -n 1 "$E2E_TMP/raw" | tr -d '\r')" '^HTTP/1\.[01] 200 ' \
    "status line of a raw HTTP/1.0 request"

server_stop
assert_eq "$SRV_RC" 0 "exit status"
