#!/bin/bash
# The configuration file's documentation against mpserver itself: every key
# of SPEC 8 has an entry in docs/mpserver.conf.5, and the page and the
# parser agree on the keys (a key the page lists is known; one under
# "Settings of forward" or "of exec" is refused by ack and taken by its
# service; one under "Settings of every service" is taken by every
# service), on each numeric key's range ("A to B": A and B pass, A-1 and
# B+1 fail) and on the services. The page's EXAMPLES file passes
# --check-config with the channel count the page shows, and so does
# contrib/mpserver.conf (the example /etc/mpserver.conf), whose
# commented-out channel lines are valid too once uncommented (those whose
# program is installed here). Then `mandoc -T lint -W warning` reports
# nothing and the page renders every section (skipped, 77, without mandoc).
# Usage: conf_man.sh MANPAGE EXAMPLE_CONF MPSERVER
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
man=${1:?usage: $0 MANPAGE EXAMPLE_CONF MPSERVER}
example=${2:?usage: $0 MANPAGE EXAMPLE_CONF MPSERVER}
bin=${3:?usage: $0 MANPAGE EXAMPLE_CONF MPSERVER}
[ -r "$man" ] || fail "no man page at $man"
[ -r "$example" ] || fail "no example configuration at $example"
[ -x "$bin" ] || fail "no executable mpserver at $bin"

# check LINE...: mpserver --check-config on a file of these lines; its
# output (both streams) in $T/check.out, its status returned.
check() {
	printf '%s\n' "$@" >"$T/check.conf"
	timeout "$DEPLOY_TIMEOUT" "$bin" --check-config -f "$T/check.conf" \
	    >"$T/check.out" 2>&1 </dev/null
}

# said TEXT: the last check's output contains TEXT.
said() {
	grep -qF -- "$1" "$T/check.out"
}

# The key entries of the page: "SECTION KEY" lines, from ".It Cm KEY Ns ="
# under ".Ss Settings of ...".
awk '/^\.Ss / { sub(/^\.Ss Settings of /, ""); sect = ($0 ~ /^\.S/) ? "" : $0; next }
    /^\.Sh / { sect = "" }
    sect != "" && /^\.It Cm [a-z-]+ Ns = / { print sect "\t" $3 }' "$man" \
    >"$T/keys"
[ -s "$T/keys" ] || fail "no \".It Cm KEY Ns =\" entries under .Ss Settings of ... in $man"

note "every key of SPEC 8 has an entry"
for key in max-clients max-per-ip allow deny idle-timeout max-line rate \
    proxy-from to connect-timeout proxy-protocol user env; do
	cut -f2 "$T/keys" | grep -qxF "$key" || fail "$man has no entry for $key"
done
grep -qE '^\.It Fl - Ar program' "$man" ||
    fail "$man has no entry for the program after \"--\""
grep -qF 'event=reload result=ok added=A removed=R changed=C unchanged=U' \
    "$man" || fail "$man does not show the reload log line"
note "$(wc -l <"$T/keys") keys: $(cut -f2 "$T/keys" | tr '\n' ' ')"

note "the page and the parser agree on the keys"
services=$("$bin" --help | sed -nE 's/^services: ([a-z ]+) \(.*/\1/p')
[ -n "$services" ] || fail "no services line in mpserver --help"
# The page's list: the .Cm names after "is required: one of".
awk '/is required: one of/ { on = 1; next } on && /^\.Cm / { print $2 }
    on && !/^\.Cm / && !/^and$/ { exit }' "$man" | sort >"$T/man.svc"
printf '%s\n' $services | sort >"$T/help.svc"
if ! diff -u "$T/help.svc" "$T/man.svc" >"$T/svc.diff"; then
	cat "$T/svc.diff" >&2
	fail "services differ between --help (-) and the SERVICE list of $man (+)"
fi
check "0 ack no-such-key=1" && fail "an unknown key passes --check-config"
said 'unknown key "no-such-key"' ||
    fail "unknown key: unexpected message: $(cat "$T/check.out")"
while IFS=$'\t' read -r sect key; do
	case $sect in
	"every service")
		for s in $services; do
			check "0 $s $key=@" || true
			if said 'unknown key' || said 'is not taken'; then
				fail "$key on $s: $(cat "$T/check.out")"
			fi
		done ;;
	forward | exec)
		check "0 ack $key=@" && fail "$key passes on ack"
		said "key \"$key\" is not taken by service ack" ||
		    fail "$key on ack: $(cat "$T/check.out")"
		check "0 $sect $key=@" || true
		if said 'unknown key' || said 'is not taken'; then
			fail "$key on $sect: $(cat "$T/check.out")"
		fi
		;;
	*) fail "unexpected section \"Settings of $sect\" in $man" ;;
	esac
done <"$T/keys"

note "the page and the parser agree on the ranges"
ranges=0
while IFS=$'\t' read -r sect key; do
	# The entry's text, up to the next .It or .El, on one line.
	text=$(awk -v k="$key" '
	    /^\.It / { inside = ($3 == k); next }
	    /^\.El/ { inside = 0 }
	    inside { printf "%s ", $0 }' "$man")
	range=$(printf '%s\n' "$text" |
	    sed -nE 's/.*[^0-9]([0-9]+) (\([^)]*\) )?to ([0-9]+)[^0-9].*/\1 \3/p')
	[ -n "$range" ] || continue
	read -r lo hi <<<"$range"
	line="0 ack" tail=
	case $sect in
	forward) line="0 forward to=127.0.0.1:9" ;;
	exec) line="0 exec" tail=" -- /bin/cat" ;;
	esac
	for v in "$lo" "$hi"; do
		check "$line $key=$v$tail" ||
		    fail "$key=$v, in the page's range $lo to $hi, is refused:" \
		    "$(cat "$T/check.out")"
	done
	for v in $((lo - 1)) $((hi + 1)); do
		[ "$v" -ge 0 ] || continue
		check "$line $key=$v" &&
		    fail "$key=$v, outside the page's range $lo to $hi, passes"
		said "\"$v\"" || fail "$key=$v: $(cat "$T/check.out")"
	done
	ranges=$((ranges + 1))
done <"$T/keys"
[ "$ranges" -ge 6 ] || fail "only $ranges ranges (\"A to B\") found in $man"
note "$ranges ranges agree"

note "the page's EXAMPLES"
awk '/^\.Sh EXAMPLES/ { e = 1; next } /^\.Sh / { e = 0 }
    e && /^\.Bd / { b = 1; next } b && /^\.Ed/ { exit } b' "$man" \
    >"$T/examples.conf"
want=$(awk '/^\.Sh EXAMPLES/ { e = 1 } e && /^config ok: / { print; exit }' \
    "$man")
[ -s "$T/examples.conf" ] && [ -n "$want" ] ||
    fail "no example file or \"config ok\" line in the EXAMPLES of $man"
got=$("$bin" --check-config -f "$T/examples.conf" 2>&1) ||
    fail "the EXAMPLES file fails --check-config: $got"
assert_eq "$got" "$want" "--check-config of the EXAMPLES file"

note "$example"
got=$("$bin" --check-config -f "$example" 2>&1) ||
    fail "$example fails --check-config: $got"
n=$(awk '!/^[ \t]*(#|$)/ { split($1, r, "-"); n += (2 in r) ? r[2] - r[1] + 1 : 1 }
    END { print n + 0 }' "$example")
assert_eq "$got" "config ok: $n channels" "--check-config of $example"
# Commented-out channels ("#PORT SERVICE ..."), once uncommented.
sed -nE 's/^#([0-9]+(-[0-9]+)?[ \t]+[a-z]+([ \t].*)?)$/\1/p' "$example" \
    >"$T/commented"
kept=0
while IFS= read -r line; do
	prog=$(printf '%s\n' "$line" | sed -nE 's/.*[ \t]--[ \t]+([^ \t]+).*/\1/p')
	if [ -n "$prog" ] && [ ! -x "$prog" ]; then
		note "not checked here ($prog is not installed): $line"
		continue
	fi
	case $line in
	*user=*) [ "$(id -u)" -eq 0 ] || { note "not checked (not root): $line"
	    continue; } ;;
	esac
	check "$line" || fail "commented-out line of $example, uncommented," \
	    "fails: \"$line\": $(cat "$T/check.out")"
	kept=$((kept + 1))
done <"$T/commented"
note "$got; $kept commented-out lines valid too"

need mandoc
rc=0
mandoc -T lint -W warning "$man" >"$T/lint" 2>&1 || rc=$?
if [ -s "$T/lint" ]; then
	cat "$T/lint" >&2
	fail "mandoc -T lint -W warning reports $(wc -l <"$T/lint") problem(s) in $man"
fi
note "mandoc -T lint -W warning: clean (exit $rc)"
mandoc -T ascii "$man" >"$T/page.raw" || fail "mandoc cannot render $man"
sed 's/.\x08//g' "$T/page.raw" >"$T/page"
for s in NAME DESCRIPTION RELOADING FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" "$T/page" || fail "rendered page has no $s section"
done
note "renders with every section"
