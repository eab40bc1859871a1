#!/bin/sh
# Install what building and testing mpserver needs (Debian; run as root or with sudo).
set -eu

packages="build-essential cmake pkg-config libevent-dev check clang
libclang-rt-dev netcat-openbsd curl prometheus valgrind procps python3
systemd mandoc haproxy dpkg-dev binutils"

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
