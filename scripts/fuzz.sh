#!/bin/sh
# Fuzz every libFuzzer target for a while: fuzz.sh [SECONDS [BUILD_DIR]]
# (30 s each, build-fuzz). A new BUILD_DIR is configured with clang,
# ASan+UBSan and MPSERVER_FUZZ=ON. Each target runs on a temporary copy of
# tests/fuzz/corpus/TARGET, so the committed seeds never grow; a failure's
# input and log stay in BUILD_DIR/tests/fuzz/artifacts/TARGET. One line per
# target; exits non-zero if any target failed.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-30}
dir=${2:-build-fuzz}
targets="fuzz_portspec_options fuzz_cidr fuzz_command fuzz_conf fuzz_proxyproto
fuzz_httpreq"

if [ -f "$dir/CMakeCache.txt" ]; then
	cmake -S . -B "$dir" -DMPSERVER_FUZZ=ON >/dev/null
else
	cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DMPSERVER_SANITIZE=address -DMPSERVER_FUZZ=ON >/dev/null
fi
# shellcheck disable=SC2086 # one word per target
cmake --build "$dir" -j"$(nproc)" --target $targets >/dev/null

status=0
for t in $targets; do
	sh tests/fuzz/run.sh "$dir/tests/fuzz/$t" "tests/fuzz/corpus/$t" \
	    "$secs" "$dir/tests/fuzz/artifacts/$t" || status=1
done
exit $status
