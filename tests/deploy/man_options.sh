#!/bin/bash
# The man page and `mpserver --help` never disagree: every long option that
# --help prints is documented in docs/mpserver.8 and every long option the
# page names exists; each short form pairs with the same long one in both;
# each default that --help shows in parentheses is the one the page states
# ("The default is X."); and the services --help lists are exactly the ones
# the page's Services list describes. Needs no mandoc: it reads the source.
# Usage: man_options.sh MPSERVER MANPAGE
set -eu
. "$(dirname "$0")/lib.sh"
deploy_init
bin=${1:?usage: $0 MPSERVER MANPAGE}
man=${2:?usage: $0 MPSERVER MANPAGE}
[ -x "$bin" ] || fail "no executable mpserver at $bin"
[ -r "$man" ] || fail "no man page at $man"

"$bin" --help >"$T/help" || fail "mpserver --help exited $?"

# Long options: every --word in --help; every "Fl -word" in the page (mdoc's
# Fl adds the first dash: "Fl -bind" is --bind).
grep -oE -- '--[a-z][a-z-]*' "$T/help" | sort -u >"$T/help.long"
grep -oE 'Fl -[a-z][a-z-]*' "$man" | sed 's/^Fl /-/' | sort -u >"$T/man.long"
[ -s "$T/help.long" ] || fail "no long options found in --help"
missing=$(comm -23 "$T/help.long" "$T/man.long" | tr '\n' ' ')
extra=$(comm -13 "$T/help.long" "$T/man.long" | tr '\n' ' ')
[ -z "$missing" ] || fail "in --help but not in $man: $missing"
[ -z "$extra" ] || fail "in $man but not in --help: $extra"
note "long options agree: $(tr '\n' ' ' <"$T/help.long")"

# Short forms: "  -b, --bind" in --help; ".It Fl b ... Fl -bind" in the page.
sed -nE 's/^ +-([A-Za-z]), (--[a-z-]+).*/-\1 \2/p' "$T/help" | sort \
    >"$T/help.short"
sed -nE 's/^\.It Fl ([A-Za-z])( .*)?,? Fl (-[-a-z]+).*/-\1 -\3/p' "$man" |
    sort >"$T/man.short"
if ! diff -u "$T/help.short" "$T/man.short" >"$T/short.diff"; then
	cat "$T/short.diff" >&2
	fail "short options differ between --help (-) and $man (+)"
fi
note "short options agree: $(tr '\n' ' ' <"$T/help.short")"

# Every option has an .It entry in the options list of the page.
while read -r opt; do
	grep -qE "^\.It (Fl . .*, )?Fl ${opt#-}( |\$)" \
	    "$man" || fail "$opt has no .It entry of its own in $man"
done <"$T/help.long"

# Defaults: the first item of the trailing "(...)" of an option line of
# --help, unless it is "repeatable", must be stated in the option's entry.
checked=0
while IFS= read -r line; do
	opt=$(printf '%s\n' "$line" | grep -oE -- '--[a-z][a-z-]*' | head -n 1)
	def=$(printf '%s\n' "$line" | sed -nE 's/.*\(([^,)]*)[^)]*\)$/\1/p')
	[ -n "$opt" ] && [ -n "$def" ] || continue
	[ "$def" != repeatable ] || continue
	entry=$(awk -v o="Fl ${opt#-}" '
	    /^\.It / { inside = (index($0 " ", o " ") > 0) ; next }
	    /^\.El/ { inside = 0 }
	    inside' "$man")
	printf '%s\n' "$entry" | grep -qxF "The default is $def." ||
	    fail "$opt: --help says the default is \"$def\" but its entry" \
	    "in $man has no line \"The default is $def.\""
	checked=$((checked + 1))
done < <(grep -E '^ +-' "$T/help")
[ "$checked" -ge 8 ] || fail "only $checked defaults found in --help"
note "$checked defaults agree"

# Services: "services: a b c (default: x)" against ".It Cm x" in "Services".
sed -nE 's/^services: ([a-z ]+) \(.*/\1/p' "$T/help" | tr ' ' '\n' |
    sed '/^$/d' | sort >"$T/help.svc"
awk '/^\.Ss Services/ { s = 1; next } /^\.S[sh] / { s = 0 }
    s && /^\.It Cm / { print $3 }' "$man" | sort >"$T/man.svc"
[ -s "$T/help.svc" ] || fail "no services line in --help"
if ! diff -u "$T/help.svc" "$T/man.svc" >"$T/svc.diff"; then
	cat "$T/svc.diff" >&2
	fail "services differ between --help (-) and $man (+)"
fi
note "services agree: $(tr '\n' ' ' <"$T/help.svc")"
