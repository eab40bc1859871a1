#!/bin/bash
# The Debian package (docs/deploy.md, "Debian package"): cpack -G DEB, run
# on the build tree into a scratch directory, makes mpserver_VERSION_ARCH.deb
# whose control data names the package, version and section and depends on
# libevent; it holds the binary in /usr/bin, the man page, the docs and the
# units (ExecStart=/usr/bin/mpserver). Extracted with `dpkg -x` into a
# scratch root, its binary prints its version, serves `0:echo` (an echo
# through nc comes back) and exits 0 on SIGTERM. Skipped (77) when dpkg-deb
# is missing (not a Debian system).
# Usage: deb.sh BUILD_DIR
# (cpack's install runs for the component "Unspecified", which holds every
# rule, so that it writes install_manifest_Unspecified.txt and leaves the
# user's build/install_manifest.txt alone.)
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
build=${1:?usage: $0 BUILD_DIR}
cpack=${CPACK_COMMAND:-cpack}
version=${MPSERVER_VERSION:-}
[ -n "$version" ] || fail "MPSERVER_VERSION is not set"
need dpkg-deb dpkg
require nc netcat-openbsd
[ -f "$build/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $build"

cat >"$T/config.cmake" <<CFG
include("$build/CPackConfig.cmake")
set(CPACK_INSTALL_CMAKE_PROJECTS "$build;mpserver;Unspecified;/")
set(CPACK_PACKAGE_DIRECTORY "$T/pkg")
CFG
note "cpack -G DEB"
"$cpack" -G DEB --config "$T/config.cmake" >"$T/cpack.log" 2>&1 ||
    { show "$T/cpack.log" "cpack output"; fail "cpack -G DEB failed"; }
deb=$(find "$T/pkg" -maxdepth 1 -name "mpserver_${version}_*.deb")
[ -n "$deb" ] && [ -f "$deb" ] ||
    { show "$T/cpack.log" "cpack output"; fail "no mpserver_${version}_*.deb"; }
note "built $(basename "$deb")"

dpkg-deb -I "$deb" >"$T/info" || fail "dpkg-deb -I failed"
field() {
	sed -n "s/^ $1: //p" "$T/info"
}
assert_eq "$(field Package)" mpserver "Package"
assert_eq "$(field Version)" "$version" "Version"
assert_eq "$(field Section)" net "Section"
depends=$(field Depends)
case $depends in
*libevent*) note "Depends: $depends" ;;
*) cat "$T/info" >&2; fail "Depends does not name libevent: \"$depends\"" ;;
esac
[ -n "$(field Maintainer)" ] || fail "no Maintainer"

dpkg-deb -c "$deb" | awk '{ print $NF }' >"$T/contents"
for f in ./usr/bin/mpserver ./usr/share/man/man8/mpserver.8 \
    ./usr/share/doc/mpserver/README.md ./usr/share/doc/mpserver/deploy.md \
    ./usr/lib/systemd/system/mpserver.service \
    ./usr/lib/systemd/system/mpserver.socket \
    ./usr/share/man/man5/mpserver.conf.5 ./etc/mpserver.conf; do
	grep -qxF "$f" "$T/contents" || { cat "$T/contents" >&2;
	    fail "package lacks $f"; }
done

root=$T/root
dpkg -x "$deb" "$root" || fail "dpkg -x failed"
grep -qx 'ExecStart=/usr/bin/mpserver -f /etc/mpserver.conf' \
    "$root/usr/lib/systemd/system/mpserver.service" ||
    fail "packaged unit does not run /usr/bin/mpserver -f /etc/mpserver.conf"
[ -f "$root/etc/mpserver.conf" ] || fail "package lacks /etc/mpserver.conf"
dpkg-deb -e "$deb" "$T/control" || fail "dpkg-deb -e failed"
grep -qx /etc/mpserver.conf "$T/control/conffiles" ||
    fail "/etc/mpserver.conf is not a conffile"
"$root/usr/bin/mpserver" --check-config -f "$root/etc/mpserver.conf" \
    >/dev/null || fail "the packaged /etc/mpserver.conf does not check"
bin=$root/usr/bin/mpserver
out=$("$bin" --version) || fail "extracted mpserver --version failed"
assert_eq "$out" "mpserver $version" "extracted mpserver --version"

srv_start "$bin" 0:echo
port=$(srv_port "$SRV_OUT" 1)
note "extracted binary serves echo on 127.0.0.1:$port"
got=$(printf 'hello from the package\n' | timeout "$DEPLOY_TIMEOUT" nc -N \
    127.0.0.1 "$port") || fail "nc to 127.0.0.1:$port failed"
assert_eq "$got" "hello from the package" "echo reply"
srv_stop "$SRV_PID"
[ "$SRV_RC" -eq 0 ] || { show "$SRV_ERR" "server log";
    fail "extracted mpserver exited $SRV_RC after SIGTERM, expected 0"; }
note "SIGTERM: exit 0"
