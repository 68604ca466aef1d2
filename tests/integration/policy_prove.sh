#!/usr/bin/env bash
# `fedbroker policy prove`: verdict, regions and exit codes (0; 1 with --no-widening
# when the change widens; 1 when a policy does not load; 2 usage), and
# POST /v1/policy/diff with "exhaustive": true on the real hub (the replay handler
# hands it to the prover).
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"

prove() { # prove ARGS...: exit code in $rc, stdout in $TMP/out
  set +e
  "$FEDBROKER" policy prove "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  set -e
}

old="$FB_SOURCE_DIR/policies"
mkdir -p "$TMP/wide" "$TMP/narrow" "$TMP/broken"
cp "$old"/*.lua "$TMP/wide/"
cp "$old"/*.lua "$TMP/narrow/"
cp "$old"/*.lua "$TMP/broken/"
# widen: MYS allows intelligence under a treaty or MOU as well
$PY - "$TMP/wide/MYS.lua" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
a = 'allow "prosecution under a treaty or MOU" {\n  purpose = "prosecution",'
assert a in s
open(p, "w").write(s.replace(a, 'allow "prosecution under a treaty or MOU" {\n  purpose = { "prosecution", "intelligence" },'))
PY
# narrow: THA no longer accepts INTERPOL for victim protection
$PY - "$TMP/narrow/THA.lua" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
a = 'legal_basis = { "mla_treaty", "bilateral_mou", "interpol_channel" },'
assert a in s
open(p, "w").write(s.replace(a, 'legal_basis = { "mla_treaty", "bilateral_mou" },'))
PY
echo 'allow "broken" { purpose = "prosecuton" }' >>"$TMP/broken/IDN.lua"

prove --old "$old" --new "$old" --no-widening
expect_eq "equivalent exit" "$rc" 0
grep -q '^verdict: equivalent$' "$TMP/out" || fail "equivalent verdict: $(cat "$TMP/out")"

prove --old "$old" --new "$TMP/wide"
expect_eq "widening without --no-widening" "$rc" 0
grep -q '^verdict: widens$' "$TMP/out" || fail "widens verdict"
grep -q '^+ MYS: requests from any state except IDN and THA, purpose intelligence, priority routine or urgent, legal basis mla_treaty or bilateral_mou, justification of at least 20 characters: deny -> allow' "$TMP/out" \
  || fail "widening region: $(cat "$TMP/out")"
prove --old "$old" --new "$TMP/wide" --no-widening
expect_eq "widening with --no-widening" "$rc" 1
pass "a widening change is found, and fails CI with --no-widening"

prove --old "$old" --new "$TMP/narrow" --no-widening --json
expect_eq "narrowing with --no-widening" "$rc" 0
$PY - "$TMP/out" <<'PY' || fail "narrowing JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "narrows", d["verdict"]
assert d["regions"] and all(r["state"] == "THA" and r["where"]["legal_basis"] == ["interpol_channel"] and r["change"] == "narrows" for r in d["regions"]), d["regions"]
assert d["space"] > 1000000
# no when in the demo policies; their outbound rules are named as not proved
assert d["unknown"] and all(u["in"] == "outbound" for u in d["unknown"]), d["unknown"]
PY
# the reverse edit widens: --no-widening fails; one state only with --state
prove --old "$TMP/narrow" --new "$old" --no-widening --state THA
expect_eq "reverse edit" "$rc" 1
prove --old "$TMP/narrow" --new "$old" --no-widening --state MYS
expect_eq "another state unchanged" "$rc" 0
pass "a narrowing change passes --no-widening; --state proves one state"

prove --old "$old" --new "$TMP/broken"
expect_eq "policy that does not load" "$rc" 1
grep -q 'IDN.lua' "$TMP/err" || fail "load error names the file: $(cat "$TMP/err")"
prove --old "$old" --new "$old" --state XYZ
expect_eq "unknown state" "$rc" 1
prove --old "$old"
expect_eq "missing --new" "$rc" 2
prove --old "$old" --new "$old" --frobnicate
expect_eq "unknown option" "$rc" 2
pass "load errors exit 1, usage errors 2"

# --- the API
setup_hub_env
cp "$old"/*.lua "$TMP/policies/"
STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },
  IDN = { adapter = "sqlite", path = "data/IDN.db" },
  THA = { adapter = "sqlite", path = "data/THA.db" },
  BGD = { adapter = "sqlite", path = "data/BGD.db" },'
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz" || fail "hub: $(cat "$TMP/hub.log")"
B="http://127.0.0.1:$HUB_PORT"
body=$($PY -c 'import json,sys; print(json.dumps({"exhaustive": True, "state": "MYS", "draft": {"MYS.lua": open(sys.argv[1]).read()}}))' "$TMP/wide/MYS.lua")
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/policy/diff" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' -d "$body")
expect_eq "diff status" "$code" 200
expect_eq "diff verdict" "$(pyq 'd["verdict"]')" widens
expect_eq "diff region purpose" "$(pyq 'd["regions"][0]["where"]["purpose"]')" "['intelligence']"
expect_eq "diff space" "$(pyq 'd["space"] > 1000000')" True
expect_eq "diff unknown" "$(pyq 'all(u["in"] == "outbound" for u in d["unknown"])')" True
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/policy/diff" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' -d '{"exhaustive": true, "draft": {"MYS": "allow \"x\" { purpose = \"fun\" }"}}')
expect_eq "draft that does not load" "$code" 422
expect_eq "draft error code" "$(pyq 'd["error"]["code"]')" invalid_policy
expect_eq "draft error" "$(pyq '"purpose" in d["error"]["message"]')" True
expect_eq "draft problem file" "$(pyq 'd["problems"][0]["file"]')" MYS.lua
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/policy/diff" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' -d "$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); d["state"]="XYZ"; print(json.dumps(d))' "$body")")
expect_eq "unknown state" "$code" 422
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/policy/diff" -H "Authorization: Bearer $ANALYST_MYS" -H 'Content-Type: application/json' -d "$body")
expect_eq "analyst" "$code" 403
grep -q '"event":"policy_prove"' "$TMP/audit.jsonl" || fail "proof not audited"
pass "POST /v1/policy/diff with exhaustive: true proves a draft; a draft that does not load is 422; audited"
