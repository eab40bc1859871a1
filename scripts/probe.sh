#!/bin/sh
# Probe every channel of a running mpserver with a request fit for its
# service and print one line per channel: "ok ADDR:PORT SERVICE detail" or
# "FAIL ADDR:PORT SERVICE reason". Exit 1 if any channel fails.
#
#   mpserver 7001 7002:echo | scripts/probe.sh	(reads the "listening" lines)
#   scripts/probe.sh [-H HOST] [-t SECS] PORT[:SERVICE]...	(default ack)
#
# A channel bound to 0.0.0.0 or :: is probed on 127.0.0.1 or ::1.
# shellcheck disable=SC2317 # the probe_* functions are called as "probe_$3"
set -eu

# usage: the header comment above.
usage() {
	sed -n '/^# shellcheck/q; 2,$ s/^# \{0,1\}//p' "$0"
}

host=127.0.0.1
secs=3
while getopts H:t:h opt; do
	case $opt in
	H) host=$OPTARG ;;
	t) secs=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

tmp=$(mktemp -d "${TMPDIR:-/tmp}/probe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

# pass/bad LABEL DETAIL
pass() {
	echo "ok $1 $2"
}
bad() {
	echo "FAIL $1 $2"
	failed=1
}

# ncfail LABEL: nc could not connect or timed out.
ncfail() {
	bad "$1" "no exchange (refused or timed out)$(sed -n '1s/^/: /p' "$tmp/err")"
}

# shown FILE: the first 60 bytes of FILE, control characters escaped.
shown() {
	head -c 60 "$1" | od -An -c | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# talk HOST PORT DATA: send DATA (printf %b), close our side, keep the reply
# in $tmp/out.
talk() {
	printf '%b' "$3" | timeout "$secs" nc -N "$1" "$2" >"$tmp/out" 2>"$tmp/err"
}

# listen_only HOST PORT: read what the server sends, send nothing.
listen_only() {
	timeout "$secs" nc -d "$1" "$2" >"$tmp/out" 2>"$tmp/err"
}

probe_ack() {
	talk "$1" "$2" 'probe\n' || { ncfail "$3"; return; }
	printf 'ACK\n' >"$tmp/want"
	if cmp -s "$tmp/out" "$tmp/want"; then
		pass "$3" "ACK"
	else
		bad "$3" "expected ACK, got: $(shown "$tmp/out")"
	fi
}

probe_echo() {
	talk "$1" "$2" "probe $2\\n" || { ncfail "$3"; return; }
	printf 'probe %s\n' "$2" >"$tmp/want"
	if cmp -s "$tmp/out" "$tmp/want"; then
		pass "$3" "echoed \"probe $2\""
	else
		bad "$3" "expected \"probe $2\" back, got: $(shown "$tmp/out")"
	fi
}

probe_discard() {
	talk "$1" "$2" 'probe\n' || { ncfail "$3"; return; }
	if [ -s "$tmp/out" ]; then
		bad "$3" "expected nothing back, got: $(shown "$tmp/out")"
	else
		pass "$3" "nothing back"
	fi
}

probe_chargen() {
	timeout "$secs" nc -d "$1" "$2" 2>"$tmp/err" | head -c 74 >"$tmp/out" ||
	    true
	awk 'BEGIN { for (i = 0; i < 72; i++) printf "%c", 32 + i
	    printf "\r\n" }' >"$tmp/want"
	if cmp -s "$tmp/out" "$tmp/want"; then
		pass "$3" "first line ok"
	else
		bad "$3" "unexpected first line: $(shown "$tmp/out")"
	fi
}

probe_daytime() {
	listen_only "$1" "$2" || { ncfail "$3"; return; }
	line=$(tr -d '\r\n' <"$tmp/out")
	end=$(tail -c 2 "$tmp/out" | od -An -c | tr -d ' ')
	if [ "$end" = '\r\n' ] && printf '%s\n' "$line" | grep -Eq \
	    '^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$'
	then
		pass "$3" "$line"
	else
		bad "$3" "not a daytime line: $(shown "$tmp/out")"
	fi
}

probe_time() {
	listen_only "$1" "$2" || { ncfail "$3"; return; }
	# shellcheck disable=SC2046 # one argument per byte
	set -- "$3" $(od -An -tu1 "$tmp/out")
	if [ $# -ne 5 ]; then
		bad "$1" "expected 4 bytes, got $(($# - 1))"
		return
	fi
	t=$(((($2 * 256 + $3) * 256 + $4) * 256 + $5))
	d=$((t - 2208988800 - $(date +%s)))
	if [ "$d" -ge -2 ] && [ "$d" -le 2 ]; then
		pass "$1" "$t"
	else
		bad "$1" "time $t is ${d}s off"
	fi
}

probe_cmd() {
	talk "$1" "$2" 'PING\r\nQUIT\r\n' ||
	    { ncfail "$3"; return; }
	banner=$(sed -n '1s/\r$//p' "$tmp/out")
	rest=$(sed '1d; s/\r$//' "$tmp/out" | tr '\n' '|')
	case $banner in
	"220 mpserver "*) ;;
	*) bad "$3" "bad banner: $(shown "$tmp/out")"; return ;;
	esac
	if [ "$rest" = '200 PONG|221 bye|' ]; then
		pass "$3" "PONG"
	else
		bad "$3" "expected 200 PONG, 221 bye; got: $(shown "$tmp/out")"
	fi
}

probe_metrics() {
	case $1 in
	*:*) url="http://[$1]:$2/healthz" ;;
	*) url="http://$1:$2/healthz" ;;
	esac
	if ! body=$(curl -sS -g -m "$secs" "$url" 2>"$tmp/err"); then
		bad "$3" "curl: $(cat "$tmp/err")"
	elif [ "$(printf '%s' "$body" | tr -d '\r\n')" = ok ]; then
		pass "$3" "healthz ok"
	else
		bad "$3" "healthz answered \"$body\""
	fi
}

# exec and forward speak their program's or upstream's protocol: only the
# connection itself can be checked.
probe_connect() {
	if nc -z -w "$secs" "$1" "$2" 2>"$tmp/err"; then
		pass "$3" "accepts connections"
	else
		bad "$3" "cannot connect: $(cat "$tmp/err")"
	fi
}

probe_exec() { probe_connect "$@"; }
probe_forward() { probe_connect "$@"; }

# probe HOST PORT SERVICE
probe() {
	label="$1:$2 $3"
	case $1 in
	*:*) label="[$1]:$2 $3" ;;
	esac
	case $1 in
	0.0.0.0) set -- 127.0.0.1 "$2" "$3" ;;
	::) set -- ::1 "$2" "$3" ;;
	esac
	case $3 in
	ack | echo | discard | chargen | daytime | time | cmd | metrics | \
	    exec | forward)
		"probe_$3" "$1" "$2" "$label" ;;
	*) bad "$label" "unknown service" ;;
	esac
}

if [ $# -gt 0 ]; then
	for item; do
		case $item in
		*:*) probe "$host" "${item%%:*}" "${item#*:}" ;;
		*) probe "$host" "$item" ack ;;
		esac
	done
else
	n=0
	# Stop at "ready": a server piped in here keeps its stdout open.
	while read -r word addr service; do
		[ "$word" = ready ] && break
		[ "$word" = listening ] || continue
		a=${addr%:*}
		a=${a#[}
		a=${a%]}
		probe "$a" "${addr##*:}" "$service"
		n=$((n + 1))
	done
	if [ "$n" -eq 0 ]; then
		echo "FAIL no listening lines on stdin" >&2
		exit 1
	fi
fi
exit "$failed"
