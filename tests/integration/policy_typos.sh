#!/usr/bin/env bash
# `fedbroker policy check` on each typo a new legal officer made (issue 8): every one
# exits non-zero and names file:line with the nearest known word; none loads as a
# wider rule. Also `policy test`, which loads the same files, refuses them.
set -euo pipefail
: "${FEDBROKER:?}" "${FB_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/p"
cp "$FB_SOURCE_DIR"/policies/*.lua "$tmp/p/"

# check FILE BODY EXPECTED...: writes BODY to $tmp/p/FILE, expects exit 1 and each
# EXPECTED line (exactly) in the output.
check() {
  local file=$1 body=$2
  shift 2
  printf '%s' "$body" >"$tmp/p/$file"
  set +e
  "$FEDBROKER" policy check "$tmp/p/$file" >"$tmp/out" 2>&1; local rc=$?
  set -e
  [[ $rc -eq 1 ]] || fail "$file: exit $rc for: $body"
  for want in "$@"; do
    grep -qxF "$tmp/p/$want" "$tmp/out" || fail "$file: missing '$want' in: $(cat "$tmp/out")"
  done
  cp "$FB_SOURCE_DIR/policies/$file" "$tmp/p/$file" 2>/dev/null || rm -f "$tmp/p/$file"
}

# `from = BGD` without quotes: once loaded as "any state".
check IDN.lua 'state "IDN" { name = "Indonesia" }

allow "Bangladesh only" {
  from = BGD,
  purpose = "prosecution",
}
' 'IDN.lua:4: BGD is not defined; did you mean "BGD"?'

# `from = "BGN"`: not a state (the tools know the states with a file here and every
# ISO 3166-1 alpha-3 code; BGN is neither).
check THA.lua 'state "THA" { name = "Thailand" }
deny "nothing for Bangladesh" { from = "BGN" }
' "THA.lua:2: from 'BGN' is not an ISO 3166-1 alpha-3 country code; did you mean \"BGD\"?"

# A wrong value: the allowed values are listed even without a suggestion.
check MYS.lua 'allow "x" { legal_basis = "treaty" }
' "MYS.lua:1: unknown legal_basis 'treaty' (expected one of: mla_treaty, bilateral_mou, interpol_channel, domestic_law, consent, informal)"

# An unknown rule kind is named as such.
check MYS.lua 'state "MYS" { name = "Malaysia" }
alow "x" {}
' "MYS.lua:2: unknown rule kind 'alow'; did you mean \"allow\"? (expected one of: allow, hit_only, deny, redact, drop, limit, outbound_deny, outbound_require, state)"

# A missing comma is reported on the line that lacks it, not the next one.
check BGD.lua 'state "BGD" { name = "Bangladesh" }
allow "prosecution under a treaty" {
  purpose = "prosecution"
  legal_basis = "mla_treaty",
}
' "BGD.lua:3: missing comma or closing brace at the end of this line (line 4 goes on with 'legal_basis')"

# An unknown key, with the keys a rule may have.
check MYS.lua 'allow "x" { purpsoe = "prosecution" }
' "MYS.lua:1: unknown key 'purpsoe' in allow \"x\"; did you mean \"purpose\"? (expected one of: purpose, priority, legal_basis, from, agency, role, subject, case_ref, when, unless, justification_shorter_than, formal, reason, review)"

# An unclosed quote.
check MYS.lua 'deny "x" { reason = "Informal requests are refused }
' 'MYS.lua:1: a text in quotes is not closed on this line: add the closing quote'

echo "policy check: every typo refused with file:line"

# policy test loads the same files: a typo makes the whole run fail, naming it.
printf 'state "IDN" { name = "Indonesia" }\nallow "x" { from = BGD }\n' >"$tmp/p/IDN.lua"
mkdir -p "$tmp/p/tests"
cp "$FB_SOURCE_DIR"/policies/tests/*.lua "$tmp/p/tests/"
set +e
"$FEDBROKER" policy test "$tmp/p" >"$tmp/out" 2>&1; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "policy test with a typo exit $rc"
grep -qF 'IDN.lua:2: BGD is not defined; did you mean "BGD"?' "$tmp/out" || fail "policy test: $(cat "$tmp/out")"
echo "policy test: a typo fails the run"
