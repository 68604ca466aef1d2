#!/usr/bin/env bash
# Drafts and replay through a real hub on the demo policies: evaluate with a draft
# (decides under it, deploys nothing: live sha256 and decisions unchanged), a draft
# that does not load (422 with file, line, message), tests run against a draft; then
# POST /v1/policy/diff over the hub's own audit log (counts and example query ids
# match the searches made), since/until/limit, roles, and `fedbroker policy diff`
# giving the same content as text.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
mkdir -p "$TMP/policies/tests"
cp "$FB_SOURCE_DIR"/policies/tests/*.lua "$TMP/policies/tests/"
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },
  BGD = { adapter = \"sqlite\", path = \"data/BGD.db\" },
  THA = { adapter = \"sqlite\", path = \"data/THA.db\" },"
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
B="http://127.0.0.1:$HUB_PORT"

# post PATH TOKEN BODY-FILE: body to $TMP/resp, prints the status.
post() { curl -s -o "$TMP/resp" -w '%{http_code}' "$B$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' --data-binary "@$3"; }

# A draft of MYS.lua that denies every Indonesian request first.
$PY - "$TMP" <<'PY'
import json, sys, os
t = sys.argv[1]
src = open(os.path.join(t, "policies/MYS.lua")).read()
draft = 'deny "nothing for Indonesia while the MOU is renegotiated" { from = "IDN" }\n' + src
os.makedirs(os.path.join(t, "new"), exist_ok=True)
for f in os.listdir(os.path.join(t, "policies")):
    if f.endswith(".lua"):
        open(os.path.join(t, "new", f), "w").write(open(os.path.join(t, "policies", f)).read())
open(os.path.join(t, "new/MYS.lua"), "w").write(draft)
req = {"subject": {"document": "A12345678"}, "purpose": "prosecution", "priority": "urgent",
       "legal_basis": "mla_treaty", "justification": "Suspected facilitator in case ID-2026-0117",
       "case_ref": "ID-2026-0117", "as": {"state": "IDN"}, "states": ["MYS", "THA"]}
json.dump(req, open(os.path.join(t, "eval.json"), "w"))
json.dump(dict(req, draft={"MYS.lua": draft}), open(os.path.join(t, "eval_draft.json"), "w"))
json.dump(dict(req, draft={"MYS.lua": draft}, tests=True), open(os.path.join(t, "eval_tests.json"), "w"))
bad = 'state "MYS" { name = "Malaysia" }\n\nallow "x" { purpose = "prosecuton" }\n'
json.dump(dict(req, draft={"MYS.lua": bad}), open(os.path.join(t, "eval_bad.json"), "w"))
json.dump({"draft": {"MYS.lua": draft}}, open(os.path.join(t, "diff.json"), "w"))
json.dump({"draft": {"MYS.lua": draft}, "limit": 1}, open(os.path.join(t, "diff_limit.json"), "w"))
json.dump({"draft": {"MYS.lua": draft}, "since": "2999-01-01T00:00:00Z"}, open(os.path.join(t, "diff_since.json"), "w"))
json.dump({"draft": {"MYS.lua": bad}}, open(os.path.join(t, "diff_bad.json"), "w"))
# Drafts load as strictly as live files: a bare name, a state the hub does not serve.
bare = 'state "MYS" { name = "Malaysia" }\n\ndeny "x" { from = BGD }\n'
json.dump(dict(req, draft={"MYS.lua": bare}), open(os.path.join(t, "eval_bare.json"), "w"))
vnm = 'state "MYS" { name = "Malaysia" }\noutbound_deny "x" { to = "VNM" }\n'
json.dump({"draft": {"MYS.lua": vnm}}, open(os.path.join(t, "diff_vnm.json"), "w"))
PY

# --- drafts
curl -s "$B/v1/states" -H "Authorization: Bearer $ADMIN" -o "$TMP/states_before.json"
expect_eq "live evaluate" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval.json")" 200
cp "$TMP/resp" "$TMP/live_before.json"
expect_eq "live MYS effect" "$(pyq '[s["effect"] for s in d["states"] if s["state"]=="MYS"][0]')" allow
expect_eq "draft evaluate" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval_draft.json")" 200
expect_eq "draft MYS effect" "$(pyq '[s["effect"] for s in d["states"] if s["state"]=="MYS"][0]')" deny
expect_eq "draft MYS rule" "$(pyq '[s["rule"] for s in d["states"] if s["state"]=="MYS"][0]')" \
  "nothing for Indonesia while the MOU is renegotiated"
curl -s "$B/v1/states" -H "Authorization: Bearer $ADMIN" -o "$TMP/states_after.json"
$PY - "$TMP/states_before.json" "$TMP/states_after.json" <<'PY' || fail "the draft changed the live policy"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
pa = {s["state"]: s["policy"] for s in a["states"]}
pb = {s["state"]: s["policy"] for s in b["states"]}
assert pa == pb and len(pa["MYS"]["sha256"]) == 64, (pa, pb)
PY
post /v1/policy/evaluate "$LEGAL" "$TMP/eval.json" >/dev/null
$PY - "$TMP/live_before.json" "$TMP/resp" <<'PY' || fail "live decisions changed after a draft"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a == b, (a, b)
PY
pass "evaluate with a draft decides under it and deploys nothing (sha256 and decisions unchanged)"

expect_eq "broken draft" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval_bad.json")" 422
$PY - "$TMP/resp" <<'PY' || fail "422 body: $(cat "$TMP/resp")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"]["code"] == "invalid_policy", d
p = d["problems"][0]
assert p["file"] == "MYS.lua" and p["line"] == 3 and "prosecution" in p["message"], p
PY
pass "a draft that does not load: 422 with problems (file, line, message)"

expect_eq "draft with a bare name" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval_bare.json")" 422
$PY - "$TMP/resp" <<'PY' || fail "bare name: $(cat "$TMP/resp")"
import json, sys
p = json.load(open(sys.argv[1]))["problems"][0]
assert p["file"] == "MYS.lua" and p["line"] == 3 and "BGD is not defined" in p["message"], p
PY
expect_eq "diff draft to an unknown state" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff_vnm.json")" 422
$PY - "$TMP/resp" <<'PY' || fail "to VNM: $(cat "$TMP/resp")"
import json, sys
p = json.load(open(sys.argv[1]))["problems"][0]
assert p["line"] == 2 and "to 'VNM' is not a state this hub knows" in p["message"], p
PY
pass "drafts load strictly: from = BGD unquoted (evaluate) and to = \"VNM\" (diff) are 422 naming the line"

expect_eq "draft with tests" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval_tests.json")" 200
$PY - "$TMP/resp" <<'PY' || fail "tests: $(cat "$TMP/resp")"
import json, sys
t = json.load(open(sys.argv[1]))["tests"]
assert t["failed"] >= 1 and t["passed"] >= 1, t
assert all(f["file"].endswith("MYS_test.lua") for f in t["failures"]), t
assert any("expected" in f["message"] for f in t["failures"]), t
PY
pass "tests: true runs MYS's test file against the draft and lists the failures"

# A draft is bounded by the body limit (limits.body, 64 KiB by default).
$PY -c 'import json,sys; json.dump({"subject":{"document":"A1"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in a case","draft":{"MYS.lua":"-- x\n" * 20000}}, open(sys.argv[1], "w"))' "$TMP/eval_big.json"
expect_eq "draft over the body limit" "$(post /v1/policy/evaluate "$LEGAL" "$TMP/eval_big.json")" 413

# --- replay: searches to audit first (IDN -> MYS twice, MYS -> others once)
declare -a IDN_QIDS
for i in 1 2; do
  expect_eq "IDN search $i" "$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in case ID-2026-0117","case_ref":"ID-2026-0117","states":["MYS","THA"]}')" 200
  IDN_QIDS+=("$(pyq 'd["query_id"]')")
done
expect_eq "MYS search" "$(search "$ANALYST_MYS" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in case MY-2026-0042","case_ref":"MY-2026-0042"}')" 200

code=$(post /v1/policy/diff "$ANALYST_IDN" "$TMP/diff.json")
expect_eq "diff as an analyst" "$code" 403
expect_eq "diff" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff.json")" 200
cp "$TMP/resp" "$TMP/diff_api.json"
$PY - "$TMP/resp" "${IDN_QIDS[@]}" <<'PY' || fail "diff: $(cat "$TMP/resp")"
import json, sys
d = json.load(open(sys.argv[1]))
qids = sys.argv[2:]
assert d["replayed"] == 3 and d["changed"] == 2, d
assert len(d["changes"]) == 1, d["changes"]
c = d["changes"][0]
assert c["state"] == "MYS" and c["count"] == 2, c
assert c["from"] == {"effect": "allow", "rule": "prosecution under a treaty or MOU"}, c
assert c["to"] == {"effect": "deny", "rule": "nothing for Indonesia while the MOU is renegotiated"}, c
assert sorted(c["examples"]) == sorted(qids), (c, qids)
PY
pass "POST /v1/policy/diff: 3 searches replayed, the 2 from IDN change at MYS, with their query ids"

expect_eq "diff limit" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff_limit.json")" 200
expect_eq "limit 1 replays 1" "$(pyq 'd["replayed"]')" 1
expect_eq "diff since" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff_since.json")" 200
expect_eq "since the future replays 0" "$(pyq 'd["replayed"]')" 0
expect_eq "diff broken draft" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff_bad.json")" 422
expect_eq "diff problems" "$(pyq 'd["problems"][0]["line"]')" 3
echo '{"draft":{"MYS.lua":"allow \"x\" {}"},"since":"yesterday"}' >"$TMP/diff_badtime.json"
expect_eq "diff bad since" "$(post /v1/policy/diff "$LEGAL" "$TMP/diff_badtime.json")" 400
expect_eq "bad since field" "$(pyq 'd["error"]["field"]')" since
grep -q '"event":"policy_diff"' "$TMP/audit.jsonl" || fail "the replay is not audited"
pass "limit, since, a broken draft (422), a bad time (400); the replay is audited"

# --- the replay runs off the event loop: a slow draft (five costly `when`s, then one
# that fails) over 400 more searches; /healthz answers promptly throughout, and the
# failing `when` is counted, not logged once per decision.
$PY - "$B" "$ANALYST_IDN" <<'PY' || fail "bulk searches"
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = json.dumps({"subject": {"document": "A12345678"}, "purpose": "prosecution", "priority": "urgent",
                   "legal_basis": "mla_treaty", "justification": "Suspected facilitator in case ID-2026-0117",
                   "case_ref": "ID-2026-0117", "states": ["MYS"]})
for i in range(400):
    c.request("POST", "/v1/search", body, {"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
$PY - "$TMP" <<'PY'
import json, os, sys
t = sys.argv[1]
slow = "".join('deny "slow %d" { when = function(q) local x = 0 for i = 1, 40000 do x = x + i end return false end }\n' % i
               for i in range(5))
broken = 'deny "broken" { when = function(q) return q.nothing.at_all end }\n'
src = open(os.path.join(t, "policies/MYS.lua")).read()
json.dump({"draft": {"MYS.lua": slow + broken + src}}, open(os.path.join(t, "diff_slow.json"), "w"))
PY
errors_before=$(grep -c '"event":"policy_error"' "$TMP/hub.log" || true)
curl -s -o "$TMP/slow_resp" "$B/v1/policy/diff" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' \
  --data-binary "@$TMP/diff_slow.json" &
DIFF_PID=$!
probes=0 worst=0
while kill -0 "$DIFF_PID" 2>/dev/null; do
  t=$(curl -s -o /dev/null -w '%{time_total}' "$B/healthz")
  probes=$((probes + 1))
  worst=$($PY -c "print(max($worst, $t))")
done
wait "$DIFF_PID"
echo "healthz during the replay: $probes probes, slowest $worst s"
[ "$probes" -ge 3 ] || fail "the replay finished too fast to probe ($probes probes)"
$PY -c "import sys; sys.exit(0 if $worst < 0.5 else 1)" || fail "/healthz took $worst s during the replay: the loop was blocked"
$PY - "$TMP/slow_resp" <<'PY' || fail "slow diff: $(cat "$TMP/slow_resp")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["replayed"] == 403, d["replayed"]
assert d["policy_errors"]["draft"] >= 400 and d["policy_errors"]["live"] == 0, d
c = [c for c in d["changes"] if c["state"] == "MYS" and c["to"]["rule"] == "policy_error"]
assert c and c[0]["count"] >= 400, d["changes"]
PY
errors_after=$(grep -c '"event":"policy_error"' "$TMP/hub.log" || true)
expect_eq "policy errors logged by the replay" "$((errors_after - errors_before))" 0
pass "the replay runs off the loop (/healthz $worst s at worst over $probes probes); policy errors counted, not logged"

# --- the CLI: same content as text
"$FEDBROKER" policy diff --audit "$TMP/audit.jsonl" --old "$TMP/policies" --new "$TMP/new" --limit 3 >"$TMP/diff.txt"
cat "$TMP/diff.txt"
grep -q '^3 searches replayed, 2 changed$' "$TMP/diff.txt" || fail "CLI summary"
grep -q '^MYS: 2 requests$' "$TMP/diff.txt" || fail "CLI change"
grep -q 'from allow (rule "prosecution under a treaty or MOU")' "$TMP/diff.txt" || fail "CLI from"
grep -q 'to   deny (rule "nothing for Indonesia while the MOU is renegotiated")' "$TMP/diff.txt" || fail "CLI to"
for q in "${IDN_QIDS[@]}"; do grep -q "$q" "$TMP/diff.txt" || fail "CLI example $q"; done
"$FEDBROKER" policy diff --audit "$TMP/audit.jsonl" --old "$TMP/policies" --new "$TMP/new" --limit 3 --json >"$TMP/diff_cli.json"
$PY - "$TMP/diff_api.json" "$TMP/diff_cli.json" <<'PY' || fail "CLI --json differs from the API"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a == b, (a, b)
PY
rc=0; "$FEDBROKER" policy diff --audit "$TMP/nope.jsonl" --old "$TMP/policies" --new "$TMP/new" 2>"$TMP/err" || rc=$?
expect_eq "missing audit file" "$rc" 1
grep -q "cannot open the audit log" "$TMP/err" || fail "missing file message: $(cat "$TMP/err")"
pass "fedbroker policy diff prints the same content (and --json the same JSON)"
