#!/bin/bash
# The systemd units of contrib/systemd: the service keeps every hardening
# line docs/deploy.md explains (so none is dropped by accident), serves
# /etc/mpserver.conf (ExecStart=mpserver -f /etc/mpserver.conf) and reloads
# it with SIGHUP after checking that same file (ExecReload=), binds its
# ports itself (it neither requires nor pulls in mpserver.socket, whose
# sockets could not follow a reload), and `systemd-analyze verify` accepts
# both units as installed by `cmake --install` into a scratch prefix, with
# no warning at all (Documentation=man:mpserver(8) is found in that prefix
# when man is installed). systemd need not be running: verify only loads
# the units. Skipped (77) when systemd-analyze is not installed.
# Usage: units.sh BUILD_DIR SOURCE_DIR
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
build=${1:?usage: $0 BUILD_DIR SOURCE_DIR}
src=${2:?usage: $0 BUILD_DIR SOURCE_DIR}
cmake=${CMAKE_COMMAND:-cmake}
service=$src/contrib/systemd/mpserver.service

for line in Type=notify DynamicUser=yes ProtectSystem=strict \
    ProtectHome=yes NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes \
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" CapabilityBoundingSet= \
    SystemCallFilter=@system-service LimitNOFILE=65536 KillSignal=SIGTERM \
    TimeoutStopSec=10 "ExecStart=/usr/local/bin/mpserver -f /etc/mpserver.conf" \
    "ExecReload=/bin/kill -HUP \$MAINPID"
do
	grep -qxF "$line" "$service" || fail "$service has no line \"$line\""
done
note "hardening, ExecStart= and ExecReload= lines present"

# The check before the SIGHUP reads the file that ExecStart= serves, and
# comes before the kill (systemd runs ExecReload= lines in order).
check=$(grep -n '^ExecReload=.* --check-config ' "$service" || true)
[ -n "$check" ] || fail "no ExecReload= line with --check-config in $service"
assert_eq "$(printf '%s\n' "$check" | sed 's/.* -f //')" /etc/mpserver.conf \
    "file checked by ExecReload="
[ "${check%%:*}" -lt "$(grep -n '^ExecReload=/bin/kill' "$service" |
    cut -d: -f1)" ] || fail "the ExecReload= check comes after the kill"

# mpserver binds the file's ports: inherited sockets could not be freed or
# added by a reload, and would have to match the file's ports exactly.
if grep -E '^(Requires|Wants|BindsTo|Also|Sockets)=.*mpserver\.socket' \
    "$service" >"$T/socket-deps"; then
	cat "$T/socket-deps" >&2
	fail "$service still depends on mpserver.socket"
fi
note "the service binds its own ports (no mpserver.socket dependency)"

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
