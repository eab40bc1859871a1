#!/bin/bash
# The systemd units of contrib/systemd: the service keeps every hardening
# line docs/deploy.md explains (so none is dropped by accident), the socket
# unit listens on exactly the ports the service's ExecStart= serves (else
# mpserver refuses the inherited sockets), and `systemd-analyze verify`
# accepts both units as installed by `cmake --install` into a scratch
# prefix, with no warning at all (Documentation=man:mpserver(8) is found in
# that prefix when man is installed). systemd need not be running: verify
# only loads the units. Skipped (77) when systemd-analyze is not installed.
# Usage: units.sh BUILD_DIR SOURCE_DIR
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
build=${1:?usage: $0 BUILD_DIR SOURCE_DIR}
src=${2:?usage: $0 BUILD_DIR SOURCE_DIR}
cmake=${CMAKE_COMMAND:-cmake}
service=$src/contrib/systemd/mpserver.service
socket=$src/contrib/systemd/mpserver.socket

for line in Type=notify DynamicUser=yes ProtectSystem=strict \
    ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" CapabilityBoundingSet= \
    SystemCallFilter=@system-service LimitNOFILE=65536 KillSignal=SIGTERM \
    TimeoutStopSec=10 "ExecStart=/usr/local/bin/mpserver 7001 7002:echo 7003:cmd"
do
	grep -qxF "$line" "$service" || fail "$service has no line \"$line\""
done
note "hardening lines present"

# Ports: ListenStream=ADDR:PORT lines against the port specs of ExecStart=.
sed -n 's/^ListenStream=.*:\([0-9]*\)$/\1/p' "$socket" | sort -n >"$T/sock"
sed -n 's/^ExecStart=[^ ]* //p' "$service" | tr ' ,' '\n\n' |
    grep -E '^[0-9]' | sed 's/:.*//' | sort -n >"$T/exec"
[ -s "$T/sock" ] || fail "no ListenStream= port in $socket"
if ! diff -u "$T/sock" "$T/exec" >"$T/diff"; then
	cat "$T/diff" >&2
	fail "socket ports (-) differ from ExecStart ports (+)"
fi
note "socket and service agree on ports: $(tr '\n' ' ' <"$T/sock")"

need systemd-analyze systemd
prefix=$T/prefix
"$cmake" --install "$build" --prefix "$prefix" --component Unspecified \
    >"$T/install.log" 2>&1 || { show "$T/install.log" "install log";
    fail "cmake --install failed"; }
units=$prefix/lib/systemd/system
if command -v man >/dev/null 2>&1; then
	man_opt=--man=yes
	export MANPATH=$prefix/share/man
else
	man_opt=--man=no
	note "man is not installed: Documentation= not checked"
fi
rc=0
(cd "$units" && systemd-analyze verify "$man_opt" mpserver.socket \
    mpserver.service) >"$T/verify" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$T/verify" ]; then
	cat "$T/verify" >&2
	fail "systemd-analyze verify: exit $rc, or warnings (above)"
fi
note "systemd-analyze verify: clean ($(systemd-analyze --version | head -n 1))"
