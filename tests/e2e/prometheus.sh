#!/bin/bash
# A real Prometheus scrapes the metrics channel (SPEC 5): Debian's
# prometheus, on a free loopback port with its own storage directory, has
# one job for the metrics channel of an mpserver that also serves ack and
# echo (scrape_interval 1s). Once a scrape is done (bounded wait), its HTTP
# API says: the target is up with no scrape error; `up` is 1 for the job;
# mpserver_connections_accepted_total has exactly one series per channel
# (3, one per listening port, with its service) and the ack channel's shows
# the one client it had. Prometheus asks for OpenMetrics first (Accept:
# application/openmetrics-text...); mpserver answers text/plain
# version=0.0.4, which a curl with Prometheus' own Accept header also
# gets. Skipped (77) when prometheus is not installed.
set -eu
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
need prometheus
[ "$E2E_TIMEOUT" -ge 30 ] || E2E_TIMEOUT=30

server_start 0:metrics 0:ack 0:echo
mport=$(server_port 1)
ack_port=$(server_port 2)
assert_eq "$(nc_send 127.0.0.1 "$ack_port" 'counted\n')" ACK "ack"

note "mpserver's answer to Prometheus' Accept header"
accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
code=$(curl -s -m 5 -D "$E2E_TMP/headers" -o "$E2E_TMP/body" \
    -w '%{http_code}' -H "Accept: $accept" \
    "http://127.0.0.1:$mport/metrics") || fail "curl /metrics failed"
assert_eq "$code" 200 "status for Prometheus' Accept"
ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *//p' "$E2E_TMP/headers" | tr -d '\r')
assert_match "$ctype" '^text/plain; ?version=0\.0\.4' "Content-Type"

# prom_get PATH: a GET of Prometheus' HTTP API; the JSON on stdout.
prom_get() {
	curl -s -m 5 "http://127.0.0.1:$pport$1"
}

# jq-less JSON: FILTER is Python evaluated with the parsed reply as r.
json() {
	python3 -c 'import json, sys
r = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

scraped() {
	prom_get '/api/v1/query?query=up' >"$E2E_TMP/up.json" 2>/dev/null &&
	    [ "$(json 'len(r["data"]["result"])' <"$E2E_TMP/up.json" \
	    2>/dev/null)" = 1 ]
}

up_or_gone() {
	scraped || gone "$prom"
}

# Prometheus listens where it is told; a port found free may be taken
# before it binds: then it exits, and another port is tried (at most 3).
mkdir "$E2E_TMP/data"
cat >"$E2E_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mpserver
    static_configs:
      - targets: ['127.0.0.1:$mport']
EOF
for attempt in 1 2 3; do
	pport=$(free_port)
	prometheus --config.file="$E2E_TMP/prometheus.yml" \
	    --storage.tsdb.path="$E2E_TMP/data" \
	    --web.listen-address="127.0.0.1:$pport" \
	    >"$E2E_TMP/prometheus.log" 2>&1 &
	prom=$!
	track "$prom"
	wait_for "$E2E_TIMEOUT" "a scrape by Prometheus" up_or_gone
	gone "$prom" || break
	note "prometheus could not start on $pport (attempt $attempt)"
	[ "$attempt" -lt 3 ] || { show "$E2E_TMP/prometheus.log" \
	    "prometheus log"; fail "prometheus did not start"; }
done
note "Prometheus on 127.0.0.1:$pport scraped 127.0.0.1:$mport"

prom_get /api/v1/targets >"$E2E_TMP/targets.json" || fail "GET /api/v1/targets"
assert_eq "$(json '[t["health"] for t in r["data"]["activeTargets"]]' \
    <"$E2E_TMP/targets.json")" "['up']" "target health"
assert_eq "$(json 'r["data"]["activeTargets"][0]["lastError"]' \
    <"$E2E_TMP/targets.json")" "" "last scrape error"
assert_eq "$(json '[(x["metric"]["job"], x["value"][1]) for x in r["data"]["result"]]' \
    <"$E2E_TMP/up.json")" "[('mpserver', '1')]" "up for job mpserver"

prom_get '/api/v1/query?query=mpserver_connections_accepted_total' \
    >"$E2E_TMP/accepted.json" || fail "query accepted_total"
got=$(json '" ".join(sorted("%s:%s=%s" % (x["metric"]["port"],
    x["metric"]["service"], x["value"][1]) for x in r["data"]["result"]))' \
    <"$E2E_TMP/accepted.json")
note "accepted_total series: $got"
assert_eq "$(json 'len(r["data"]["result"])' <"$E2E_TMP/accepted.json")" 3 \
    "series of mpserver_connections_accepted_total"
for i in 1 2 3; do
	p=$(server_port "$i") s=$(server_field "$i" 2)
	case " $got " in
	*" $p:$s="*) ;;
	*) fail "no accepted_total series for port $p ($s): $got" ;;
	esac
done
case " $got " in
*" $ack_port:ack=1 "*) ;;
*) fail "accepted_total of the ack channel is not 1: $got" ;;
esac

kill -TERM "$prom"
wait_exit "$prom" "$E2E_TIMEOUT" || fail "prometheus did not stop on SIGTERM"
server_stop
assert_eq "$SRV_RC" 0 "exit status"
