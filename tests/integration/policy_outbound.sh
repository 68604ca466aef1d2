#!/usr/bin/env bash
# Outbound rules through a real hub, on the demo policies: MYS's outbound_require
# refuses a prosecution search without case_ref (400, nothing sent), its outbound_deny
# withholds informal requests to THA (THA's node sees nothing, `complete` stays true),
# the audit entry and /v1/stats say `withheld`, the dry run shows it too, and another
# state's informal search still reaches THA.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"

start_node THA "$TMP/data/THA.db"
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },
  BGD = { adapter = \"sqlite\", path = \"data/BGD.db\" },
  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_THA/search\" },"
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"

# 1. outbound_require: a Malaysian prosecution search without a case reference.
before=$(node_requests THA)
code=$(search "$ANALYST_MYS" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator, boat arrivals in Sabah"}')
expect_eq "missing case_ref status" "$code" 400
expect_eq "error code" "$(pyq 'd["error"]["code"]')" invalid_request
expect_eq "error field" "$(pyq 'd["error"]["field"]')" case_ref
pyq '"prosecution requests carry a case reference" in d["error"]["message"]' | grep -qx True \
  || fail "the message names the rule: $(cat "$TMP/resp")"
expect_eq "THA not contacted for the refused search" "$(node_requests THA)" "$before"
code=$(search "$ANALYST_MYS" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator, boat arrivals in Sabah","case_ref":"MY-2026-0042"}')
expect_eq "with case_ref status" "$code" 200
expect_eq "with case_ref, THA is asked" "$(node_requests THA)" "$((before + 1))"
pass "outbound_require: 400 invalid_request naming case_ref and the rule; with case_ref the search goes out"

# 2. outbound_deny: an informal (immediate) Malaysian search is withheld from THA only.
before=$(node_requests THA)
code=$(search "$ANALYST_MYS" '{"subject":{"document":"A12345678"},"purpose":"investigation","priority":"immediate","legal_basis":"informal","justification":"Passengers at sea, life at immediate risk"}')
expect_eq "informal search status" "$code" 200
$PY - "$TMP/resp" <<'PY' || fail "withheld line: $(cat "$TMP/resp")"
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["state"]: s for s in d["states"]}
t = st["THA"]
assert t["outcome"] == "withheld", t
assert t["rule"] == "no informal requests to Thailand" and t["by"] == "MYS", t
assert t["reason"].startswith("Malaysia sends requests to Thailand only"), t
assert st["IDN"]["outcome"] != "withheld" and st["BGD"]["outcome"] != "withheld", st
assert d["complete"] is True, d
PY
expect_eq "THA's node never saw the withheld search" "$(node_requests THA)" "$before"
QID=$(pyq 'd["query_id"]')
$PY - "$TMP/audit.jsonl" "$QID" <<'PY' || fail "audit entry"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get("query_id") == sys.argv[2]][0]
t = [s for s in e["states"] if s["state"] == "THA"][0]
assert t["outcome"] == "withheld" and t["by"] == "MYS" and t["rule"] == "no informal requests to Thailand", t
assert t["records"] == 0 and t["review"] is False, t
PY
curl -s "http://127.0.0.1:$HUB_PORT/v1/stats" -H "Authorization: Bearer $AUDITOR" -o "$TMP/resp"
pyq '[r["count"] for r in d["stats"] if r["from"]=="MYS" and r["to"]=="THA" and r["outcome"]=="withheld"]' | grep -qx '\[1\]' \
  || fail "stats: $(cat "$TMP/resp")"
pass "outbound_deny: THA withheld (rule, reason, by MYS), not contacted, complete; audited and counted"

# 3. Another state's informal request is not Malaysia's business.
before=$(node_requests THA)
code=$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"investigation","priority":"immediate","legal_basis":"informal","justification":"Passengers at sea, life at immediate risk","states":["THA"]}')
expect_eq "IDN informal status" "$code" 200
[ "$(pyq 'd["states"][0]["outcome"]')" != withheld ] || fail "IDN's search withheld by MYS's rule"
expect_eq "THA contacted for IDN" "$(node_requests THA)" "$((before + 1))"
pass "MYS's outbound rules do not touch other states' requests"

# 4. The dry run shows the same.
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/policy/evaluate" -H "Authorization: Bearer $LEGAL" \
  -H 'Content-Type: application/json' \
  -d '{"subject":{"document":"A12345678"},"purpose":"investigation","priority":"immediate","legal_basis":"informal","justification":"Passengers at sea, life at immediate risk","states":["THA","IDN"],"as":{"state":"MYS"}}'
$PY - "$TMP/resp" <<'PY' || fail "evaluate: $(cat "$TMP/resp")"
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["state"]: s for s in d["states"]}
assert st["THA"]["effect"] == "withheld" and st["THA"]["by"] == "MYS", st["THA"]
assert st["THA"]["trace"][-1]["kind"] == "outbound_deny" and st["THA"]["trace"][-1]["matched"], st["THA"]["trace"]
assert st["IDN"]["effect"] != "withheld", st["IDN"]
PY
pass "evaluate shows withheld with the outbound rule in the trace"
