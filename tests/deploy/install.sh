#!/bin/bash
# `cmake --install` (README "Install", docs/deploy.md): into a scratch
# prefix it installs exactly bin/mpserver, share/man/man8/mpserver.8, the
# docs in share/doc/mpserver/ and the two units in lib/systemd/system/, and
# nothing else. The installed tree stands on its own: the binary has no
# RPATH/RUNPATH and no installed text file names the build tree; the units
# run the installed binary; the binary runs. The manifest lists every file,
# and the documented uninstall, `xargs rm < install_manifest.txt`, leaves no
# file behind.
# Usage: install.sh BUILD_DIR SOURCE_DIR
# (The install is of the component "Unspecified", which holds every rule,
# so that the manifest goes to install_manifest_Unspecified.txt and the
# user's own build/install_manifest.txt, needed to uninstall, is untouched.)
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
build=${1:?usage: $0 BUILD_DIR SOURCE_DIR}
src=${2:?usage: $0 BUILD_DIR SOURCE_DIR}
cmake=${CMAKE_COMMAND:-cmake}
version=${MPSERVER_VERSION:-}
[ -n "$version" ] || fail "MPSERVER_VERSION is not set"
require readelf binutils
prefix=$T/prefix
manifest=$build/install_manifest_Unspecified.txt

note "cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" --component Unspecified \
    >"$T/install.log" 2>&1 || { show "$T/install.log" "install log";
    fail "cmake --install failed"; }

# Exactly these files; protocol.md whenever the source tree has it.
{
	echo bin/mpserver
	echo etc/mpserver.conf
	echo lib/systemd/system/mpserver.service
	echo lib/systemd/system/mpserver.socket
	echo share/doc/mpserver/README.md
	echo share/doc/mpserver/deploy.md
	[ ! -e "$src/docs/protocol.md" ] || echo share/doc/mpserver/protocol.md
	echo share/man/man5/mpserver.conf.5
	echo share/man/man8/mpserver.8
} | sort >"$T/want"
(cd "$prefix" && find . -type f | sed 's|^\./||' | sort) >"$T/got"
if ! diff -u "$T/want" "$T/got" >"$T/diff"; then
	cat "$T/diff" >&2
	fail "installed files differ from the expected list (-want +got)"
fi
note "installed: $(tr '\n' ' ' <"$T/got")"

[ -x "$prefix/bin/mpserver" ] || fail "bin/mpserver is not executable"
cmp -s "$src/docs/mpserver.8" "$prefix/share/man/man8/mpserver.8" ||
    fail "installed man page differs from docs/mpserver.8"
for f in $(sed -n 's|^share/doc/mpserver/||p' "$T/want"); do
	case $f in
	README.md) s=$src/README.md ;;
	*) s=$src/docs/$f ;;
	esac
	cmp -s "$s" "$prefix/share/doc/mpserver/$f" ||
	    fail "installed $f differs from $s"
done

# Nothing installed leads back to the build tree.
if readelf -d "$prefix/bin/mpserver" | grep -E 'RPATH|RUNPATH'; then
	fail "installed binary carries an RPATH/RUNPATH"
fi
if grep -rlF "$build" "$prefix/share" "$prefix/lib"; then
	fail "installed files name the build tree $build"
fi
unit=$prefix/lib/systemd/system/mpserver.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
assert_eq "${exec_start%% *}" "$prefix/bin/mpserver" "ExecStart binary"
note "ExecStart=$exec_start"

out=$("$prefix/bin/mpserver" --version) || fail "installed --version failed"
assert_eq "$out" "mpserver $version" "installed mpserver --version"

# The documented uninstall.
[ -s "$manifest" ] || fail "no manifest at $manifest"
sed "s|^$prefix/||" "$manifest" | sort >"$T/listed"
diff -u "$T/want" "$T/listed" >"$T/diff" || { cat "$T/diff" >&2;
    fail "manifest does not list exactly the installed files"; }
xargs rm <"$manifest"
left=$(find "$prefix" -type f | head -n 5)
[ -z "$left" ] || fail "files left after xargs rm < manifest: $left"
note "uninstall with the manifest leaves no file"
