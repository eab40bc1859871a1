#!/bin/sh
# Install what mpserver needs on Debian (run as root or with sudo):
#   scripts/setup.sh build   what building and running it needs (serve.sh)
#   scripts/setup.sh test    that, and every tool the tests and the
#                            benchmark use (test.sh, bench.sh)
set -eu

build="build-essential cmake pkg-config libevent-dev"
test="$build check clang libclang-rt-dev netcat-openbsd curl prometheus
valgrind procps python3 systemd mandoc haproxy dpkg-dev binutils socat
util-linux iproute2"

case ${1:-test} in
build) packages=$build ;;
test) packages=$test ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
