#!/bin/bash
# The man page is clean mdoc: `mandoc -T lint` (every level, style
# included) reports nothing about docs/mpserver.8. Two kinds of message are
# about this machine, not the page, and are shown but not counted:
# "referenced manual not found" (whether inetd(8), xinetd(8), tcpserver(1)
# ... are installed here) and notes about an outdated mandoc.db. Skipped
# (77) when mandoc is not installed.
# Usage: man_lint.sh MANPAGE
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
man=${1:?usage: $0 MANPAGE}
[ -r "$man" ] || fail "no man page at $man"
need mandoc

rc=0
mandoc -T lint -W style "$man" >"$T/lint" 2>&1 || rc=$?
grep -E 'referenced manual not found|mandoc\.db' "$T/lint" |
    sed 's/^/ignored (this machine): /' || true
if grep -vE 'referenced manual not found|mandoc\.db' "$T/lint" >"$T/real"; then
	cat "$T/real" >&2
	fail "mandoc -T lint reports $(wc -l <"$T/real") problem(s) in $man"
fi
note "mandoc -T lint: clean (exit $rc, environment-only messages ignored)"

# It must also render: a page that lints but renders empty is no page.
mandoc -T ascii "$man" >"$T/page.raw" || fail "mandoc cannot render $man"
sed 's/.\x08//g' "$T/page.raw" >"$T/page"	# drop bold and underline
for s in NAME SYNOPSIS DESCRIPTION SIGNALS ENVIRONMENT FILES "EXIT STATUS" \
    EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" "$T/page" || fail "rendered page has no $s section"
done
note "renders with every section"
