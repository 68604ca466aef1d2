#!/usr/bin/env bash
# `fedbroker policy test|check|eval`: failing cases are reported with what differed,
# check names file:line with a suggestion, eval prints the evaluate response.
set -euo pipefail
: "${FEDBROKER:?}" "${FB_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- usage
grep -q "policy test \[-v\] \[--junit FILE\] DIR" <<<"$("$FEDBROKER" policy --help)" || fail "--help"
set +e
"$FEDBROKER" policy frobnicate 2>"$tmp/err"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "unknown sub-command exit $rc"
grep -q "unknown sub-command" "$tmp/err" || fail "usage error text"

# --- test: a failing case makes the run fail and says what differed
mkdir -p "$tmp/p/tests"
cp "$FB_SOURCE_DIR"/policies/*.lua "$tmp/p/"
cat > "$tmp/p/tests/x_test.lua" <<'LUA'
case "wrong on purpose" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "informal",
              from = "IDN", subject = { name = "X" } },
  expect = { MYS = "allow" },
}
case "right" {
  request = { purpose = "investigation", priority = "routine", legal_basis = "informal",
              from = "IDN", subject = { name = "X" } },
  expect = { MYS = "deny" },
}
LUA
set +e
"$FEDBROKER" policy test "$tmp/p" >"$tmp/out"; rc=$?
set -e
[[ $rc -ne 0 ]] || fail "policy test exit 0 with a failing case"
grep -q 'FAIL .*x_test.lua:1: wrong on purpose' "$tmp/out" || fail "failing case not named: $(cat "$tmp/out")"
grep -q 'MYS: expected allow, got deny' "$tmp/out" || fail "difference not shown"
[[ "$(tail -n 1 "$tmp/out")" =~ ^[0-9]+\ passed,\ 1\ failed$ ]] || fail "summary: $(tail -n 1 "$tmp/out")"
grep -q '^PASS ' "$tmp/out" && fail "PASS lines without -v"

# --- test -v lists every case by name; --junit writes a JUnit report CI can read
set +e
"$FEDBROKER" policy test -v --junit "$tmp/junit.xml" "$tmp/p" >"$tmp/out"; rc=$?
set -e
[[ $rc -eq 1 ]] || fail "policy test -v exit $rc"
grep -qx 'PASS .*x_test.lua:6: right' "$tmp/out" || fail "-v: passing case not listed: $(cat "$tmp/out")"
grep -qx 'FAIL .*x_test.lua:1: wrong on purpose' "$tmp/out" || fail "-v: failing case not listed"
grep -q 'MYS: expected allow, got deny' "$tmp/out" || fail "-v: difference not shown"
total=$(grep -c '^case ' "$tmp/p/tests/x_test.lua")
[[ $(grep -c '^\(PASS\|FAIL\) ' "$tmp/out") -eq $total ]] || fail "-v: not every one of $total cases listed"
[[ "$(tail -n 1 "$tmp/out")" == "$((total - 1)) passed, 1 failed" ]] || fail "-v summary: $(tail -n 1 "$tmp/out")"
/usr/bin/python3 - "$tmp/junit.xml" "$total" <<'PY' || fail "junit report"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall("./testsuite/testcase")
assert root.tag == "testsuites" and root.get("tests") == sys.argv[2] and root.get("failures") == "1", root.attrib
assert len(cases) == int(sys.argv[2]), len(cases)
failed = [c for c in cases if c.find("failure") is not None]
assert [c.get("name") for c in failed] == ["wrong on purpose"], [c.get("name") for c in failed]
assert "MYS: expected allow, got deny" in failed[0].find("failure").text
assert any(c.get("name") == "right" and c.get("line") == "6" for c in cases)
PY
set +e
"$FEDBROKER" policy test --junit 2>"$tmp/err" >/dev/null; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--junit without a file: exit $rc"

# --- check: a clean file, then misspellings and an unreachable rule
"$FEDBROKER" policy check "$FB_SOURCE_DIR/policies/MYS.lua" >/dev/null || fail "check of MYS.lua"
cat > "$tmp/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia" }
allow "everything urgent" { priority = "urgent" }
allow "urgent prosecution" {
  purpose = "prosecution", priority = "urgent",
}
deny "typo" {
  purpose = "prosecuton",
}
LUA
set +e
"$FEDBROKER" policy check "$tmp/MYS.lua" >"$tmp/out"; rc=$?
set -e
[[ $rc -ne 0 ]] || fail "check exit 0 on a bad file"
grep -qF "MYS.lua:7: unknown purpose 'prosecuton'; did you mean \"prosecution\"?" "$tmp/out" || fail "typo: $(cat "$tmp/out")"
printf 'allow "a" { priority = "urgent" }\nallow "b" { purpose = "prosecution", priority = "urgent" }\n' > "$tmp/THA.lua"
set +e
"$FEDBROKER" policy check "$tmp/THA.lua" >"$tmp/out"; rc=$?
set -e
[[ $rc -ne 0 ]] || fail "check exit 0 with an unreachable rule"
grep -q 'THA.lua:2: allow "b" can never match' "$tmp/out" || fail "unreachable: $(cat "$tmp/out")"

# --- eval
cat > "$tmp/req.json" <<'JSON'
{"subject": {"name": "Siti"}, "purpose": "prosecution", "priority": "urgent",
 "legal_basis": "mla_treaty", "justification": "Victim identified in case ID-2026-0117",
 "case_ref": "ID-2026-0117", "as": {"state": "IDN", "agency": "POLRI", "roles": ["legal_officer"]},
 "states": ["MYS", "THA"],
 "records": {"MYS": [{"id": "MYS-P-1", "type": "person", "tags": ["victim"], "name": "Siti"}]}}
JSON
"$FEDBROKER" policy eval --request "$tmp/req.json" --policies "$FB_SOURCE_DIR/policies" >"$tmp/eval.json"
/usr/bin/python3 - "$tmp/eval.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["state"]: x for x in r["states"]}
assert set(s) == {"MYS", "THA"}, s.keys()
m = s["MYS"]
assert m["effect"] == "allow" and m["rule"] == "prosecution under a treaty or MOU", m
assert m["records"][0]["name"] == "[REDACTED]" and m["records"][0]["redacted"] == ["name"], m["records"]
assert m["contact"]["email"] == "focal.point@example.my"
assert any(t["rule"] == "prosecution under a treaty or MOU" and t["matched"] for t in m["trace"])
assert m["trace"][-1]["why"].startswith("purpose is prosecution"), m["trace"][-1]
assert any(x["kind"] == "redact" for x in m["redactions"])
t = s["THA"]
assert t["effect"] == "allow" and t["records"] == [], t
for k in ("state", "effect", "rule", "reason", "review", "contact", "trace", "redactions", "records"):
    assert k in m, k
PY
echo "ok"
