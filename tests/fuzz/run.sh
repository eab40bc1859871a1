#!/bin/sh
# Run one libFuzzer target on a throw-away copy of its seed corpus:
# run.sh FUZZER SEEDS SECONDS [ARTIFACTS [RUNS]]. Prints one line; if the
# target crashed, leaked, hung or broke an invariant, keeps the input and
# the log in ARTIFACTS (./fuzz-artifacts/NAME) and exits non-zero.
set -eu
bin=$1
seeds=$2
secs=$3
name=$(basename "$bin")
arts=${4:-fuzz-artifacts/$name}
runs=${5:--1}
dict=$(dirname "$0")/$name.dict

work=$(mktemp -d "${TMPDIR:-/tmp}/mpfuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/corpus" "$arts"
cp -R "$seeds/." "$work/corpus/"
seeded=$(ls "$work/corpus" | wc -l)

# UBSan's reports are fatal in this build; a stack makes them useful.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS
set -- -max_total_time="$secs" -runs="$runs" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$arts/"
[ -f "$dict" ] && set -- "$@" -dict="$dict"
rc=0
"$bin" "$@" "$work/corpus" >"$work/log" 2>&1 || rc=$?

executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" |
    tail -n 1)
elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
    "$work/log" | tail -n 1)
grown=$(ls "$work/corpus" | wc -l)
if [ "$rc" -ne 0 ]; then
	cp "$work/log" "$arts/$name.log"
	input=$(ls -t "$arts" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' |
	    head -n 1)
	echo "$name: FAILED (exit $rc) after ${executed:-?} runs:" \
	    "${input:+$arts/$input, }log $arts/$name.log"
	[ -n "$input" ] && echo "  reproduce: $bin $arts/$input"
	# The report: from its first line, 30 lines, and the summary.
	awk '/ERROR|invariant failed|runtime error|ALARM/ { p = 1 }
	    p && n++ < 30; /^SUMMARY/ && n >= 30' "$work/log" >&2
	exit 1
fi
rmdir "$arts" 2>/dev/null || true
elapsed=${elapsed:-$secs}
[ "$elapsed" -gt 0 ] || elapsed=1
echo "$name: ok, ${executed:-?} runs in ${elapsed} s" \
    "($(( ${executed:-0} / elapsed )) runs/s), corpus $seeded -> $grown"
