#!/bin/sh
# Set up, build and run the whole suite: a Debug build, then ThreadSanitizer,
# then AddressSanitizer with UndefinedBehaviorSanitizer, which also runs each
# libFuzzer target for a bounded time (MPSERVER_FUZZ_SECONDS, 30 by default).
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh test

run() {
	dir=$1
	shift
	echo "== $dir: $*"
	scripts/build.sh "$dir" "$@"
	(cd "$dir" && ctest --output-on-failure -j2 --timeout 300)
}

run build -DCMAKE_BUILD_TYPE=Debug
run build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPSERVER_SANITIZE=thread \
    -DCMAKE_C_COMPILER=clang
run build-asan -DCMAKE_BUILD_TYPE=Debug -DMPSERVER_SANITIZE=address \
    -DCMAKE_C_COMPILER=clang -DMPSERVER_FUZZ=ON \
    -DMPSERVER_FUZZ_SECONDS="${MPSERVER_FUZZ_SECONDS:-30}"
echo "all test builds passed"
