#!/usr/bin/env bash
# The federated search end to end, with real processes: the hub, sqlite states and
# simulated national nodes. Every outcome (shared, hit_only, denied with proof the
# node saw nothing, error, timeout, unavailable), merge across states, streaming order,
# HTTP/1.1 and HTTP/2, the audit entry written before the answer.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env

start_node IDN "$TMP/data/IDN.db"
start_node BGD "$TMP/data/BGD.db"
start_node THA "$TMP/data/THA.db" --mode status500
cat >"$TMP/policies/common.lua" <<'LUA'
deny "justification must explain the need" {
  when = function(q) return #q.justification < 20 end,
  reason = "Give a justification of at least 20 characters.",
}
LUA
cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia", contact = { unit = "MY focal point", email = "fp@example.my", channel = "central authority" } }
allow "prosecution under a treaty or MOU" { purpose = "prosecution", legal_basis = { "mla_treaty", "bilateral_mou" } }
hit_only "other requests: confirm a match only" { reason = "Malaysia confirms a match." }
redact "victim identities" { records = { tags = { "victim" } }, fields = { "name", "aliases" }, action = "mask" }
LUA
cat >"$TMP/policies/IDN.lua" <<'LUA'
state "IDN" { name = "Indonesia", contact = { unit = "ID focal point", email = "fp@example.id", channel = "NCB" } }
allow "everything to partners" { }
redact "dates of birth keep the year" { fields = { "dob" }, action = "year" }
LUA
cat >"$TMP/policies/BGD.lua" <<'LUA'
state "BGD" { name = "Bangladesh", contact = { unit = "BD focal point", email = "fp@example.bd", channel = "MLA" } }
deny "nothing without a treaty request" { legal_basis = { "informal", "domestic_law", "consent", "bilateral_mou", "interpol_channel" },
  reason = "Bangladesh shares only on an MLA treaty request." }
allow "treaty" { legal_basis = "mla_treaty", purpose = "victim_protection" }
LUA
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand", contact = { unit = "TH focal point", email = "fp@example.th", channel = "central authority" } }
allow "all" { }
LUA
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_IDN/search\" },
  BGD = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_BGD/search\" },
  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_THA/search\" },"
write_hub_config 'breaker = { failures = 2, open_ms = 60000 }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/readyz")
expect_eq "readyz" "$code" 200

Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in case MY-2026-0042, boat arrivals in Sabah","case_ref":"MY-2026-0042"}'

# From IDN: MYS shares, BGD denies (never contacted), THA errors, IDN is the requester.
code=$(search "$ANALYST_IDN" "$Q")
expect_eq "search status" "$code" 200
expect_eq "MYS outcome" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" shared
expect_eq "BGD outcome" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="BGD"][0]')" denied
expect_eq "BGD reason" "$(pyq '[s["reason"] for s in d["states"] if s["state"]=="BGD"][0]')" "No rule of BGD allows this request."
expect_eq "BGD rule" "$(pyq '[s["rule"] for s in d["states"] if s["state"]=="BGD"][0]')" "default_deny"
expect_eq "BGD contact" "$(pyq '[s["contact"]["email"] for s in d["states"] if s["state"]=="BGD"][0]')" "fp@example.bd"
expect_eq "THA outcome" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="THA"][0]')" error
expect_eq "requester's own state not searched" "$(pyq '"IDN" in [s["state"] for s in d["states"]]')" False
expect_eq "complete" "$(pyq 'd["complete"]')" False
expect_eq "records from MYS" "$(pyq 'sum(1 for r in d["results"] for x in r["records"] if x["state"]=="MYS")>=1')" True
expect_eq "audit seq" "$(pyq 'd["audit"]["seq"]>0 and len(d["audit"]["hash"])==64')" True
expect_eq "query id" "$(pyq 'd["query_id"].startswith("q-") and len(d["query_id"])==18')" True
expect_eq "BGD node saw nothing" "$(node_requests BGD)" 0
if grep -qE '"latency_ms":[0-9]+\.[0-9]{2,}' "$TMP/resp"; then fail "latency_ms is not rounded to 0.1 ms: $(grep -oE '"latency_ms":[0-9.]+' "$TMP/resp" | head -1)"; fi
pass "shared, denied (node never contacted), error; requester's own state excluded"

# The audit entry is durable and matches the answer.
seq=$(pyq 'd["audit"]["seq"]'); hash=$(pyq 'd["audit"]["hash"]')
line=$(sed -n "${seq}p" "$TMP/audit.jsonl")
expect_eq "audited line hash" "$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)" "$hash"
echo "$line" | $PY -c '
import json,sys
e=json.loads(sys.stdin.read())
assert e["event"]=="search", e
assert e["requester"]["state"]=="IDN" and e["requester"]["roles"]==["analyst"], e
assert e["purpose"]=="prosecution" and e["case_ref"]=="MY-2026-0042", e
st={s["state"]:s for s in e["states"]}
assert st["BGD"]["outcome"]=="denied" and st["BGD"]["rule"]=="default_deny", st
assert st["MYS"]["outcome"]=="shared" and st["MYS"]["records"]>=1, st
assert set(["state","outcome","rule","records","redacted","review"]) <= set(st["MYS"]), st
' || fail "audit entry content"
pass "audit entry written with the answer's hash"

# From MYS: IDN shares through its node with dob reduced to the year; merge across states.
code=$(search "$ANALYST_MYS" '{"subject":{"name":"Ahmad bin Ismail"},"purpose":"investigation","priority":"urgent","legal_basis":"bilateral_mou","justification":"Linked to boat arrivals under investigation"}' )
expect_eq "search from MYS" "$code" 200
expect_eq "IDN shared" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="IDN"][0]')" shared
# Every IDN dob shown is a bare year, and at least one is shown (an empty list proves nothing).
expect_eq "IDN dob reduced to the year" "$(pyq '(lambda ds: len(ds) > 0 and all(len(x) == 4 and x.isdigit() for x in ds))([x["dob"] for r in d["results"] for x in r["records"] if x["state"]=="IDN" and "dob" in x])')" True
expect_eq "IDN redacted count" "$(pyq '[s["redacted"] for s in d["states"] if s["state"]=="IDN"][0]>0')" True
pass "redaction per state (year) before merge"

# hit_only: MYS answers a non-prosecution request with a count only.
code=$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"intelligence","priority":"routine","legal_basis":"bilateral_mou","justification":"Intelligence picture of the smuggling route"}')
expect_eq "hit_only search" "$code" 200
expect_eq "MYS hit_only" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" hit_only
expect_eq "MYS count" "$(pyq '[s["records"] for s in d["states"] if s["state"]=="MYS"][0]>=1')" True
expect_eq "MYS hit_only contact" "$(pyq '[s["contact"]["unit"] for s in d["states"] if s["state"]=="MYS"][0]')" "MY focal point"
expect_eq "no MYS content" "$(pyq 'sum(1 for r in d["results"] for x in r["records"] if x["state"]=="MYS")')" 0
pass "hit_only reports a count and the focal point, no content"

# common.lua deny wins: a short justification.
code=$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"short one."}')
expect_eq "short justification" "$code" 200
expect_eq "all denied by common" "$(pyq 'all(s["outcome"]=="denied" and s["rule"]=="justification must explain the need" for s in d["states"])')" True
pass "common.lua deny wins"

# THA has failed twice: its breaker is open now.
code=$(search "$ANALYST_IDN" "$Q")
expect_eq "THA unavailable" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="THA"][0]')" unavailable
states=$(curl -s "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN")
echo "$states" | $PY -c '
import json,sys
d={s["state"]:s for s in json.load(sys.stdin)["states"]}
assert d["THA"]["breaker"]=="open" and d["THA"]["health"]=="down", d["THA"]
assert d["MYS"]["breaker"]=="closed" and d["MYS"]["adapter"]=="sqlite", d["MYS"]
assert d["MYS"]["name"]=="Malaysia" and len(d["MYS"]["policy"]["sha256"])==64, d["MYS"]
assert d["BGD"]["contact"]["email"]=="fp@example.bd", d["BGD"]
' || fail "/v1/states"
pass "circuit breaker opens: unavailable; /v1/states shows it"

# Streaming NDJSON: state lines, then results, then done; over HTTP/2 too.
curl -s --http2-prior-knowledge "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_MYS" \
  -H 'Content-Type: application/json' -H 'Accept: application/x-ndjson' \
  -d '{"subject":{"name":"Ahmad bin Ismail"},"purpose":"investigation","priority":"urgent","legal_basis":"bilateral_mou","justification":"Linked to boat arrivals under investigation"}' >"$TMP/stream"
$PY - "$TMP/stream" "$TMP/audit.jsonl" <<'PY' || fail "NDJSON stream order"
import json, sys, hashlib
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = [next(iter(l)) for l in lines]
assert kinds[-1] == "done", kinds
first_result = kinds.index("result") if "result" in kinds else len(kinds) - 1
assert all(k == "state" for k in kinds[:first_result]), kinds
assert all(k == "result" for k in kinds[first_result:-1]), kinds
assert len([k for k in kinds if k == "state"]) == 3, kinds
done = lines[-1]["done"]
audit = open(sys.argv[2], "rb").read().split(b"\n")[done["audit"]["seq"] - 1]
assert hashlib.sha256(audit).hexdigest() == done["audit"]["hash"]
# State lines carry the per-state summary only: known summary keys, `records` a count,
# never the records themselves (those come as `result` lines).
summary_keys = {"state", "outcome", "records", "redacted", "latency_ms", "rule", "reason",
                "contact", "by", "review", "hit_ref", "error"}
for l in lines:
    if "state" in l:
        st = l["state"]
        assert isinstance(st, dict) and set(st) <= summary_keys, st
        assert isinstance(st.get("records", 0), int) and not isinstance(st.get("records", 0), bool), st
PY
pass "NDJSON streaming over HTTP/2: states, results, done; audit durable"

# Deadline: a slow node becomes `timeout` and the answer goes out with what arrived.
stop_cleanly "$HUB_PID" hub
start_node SLOW "$TMP/data/THA.db" --latency 3000
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_SLOW/search\" },"
write_hub_config 'deadlines = { immediate = 500, urgent = 5000, routine = 15000 }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
# Statistics survive the restart: rebuilt from the audit log.
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/stats" -H "Authorization: Bearer $AUDITOR"
expect_eq "stats after restart" "$(pyq 'any(r["from"]=="IDN" and r["to"]=="BGD" and r["outcome"]=="denied" and r["count"]>=1 for r in d["stats"])')" True
expect_eq "stats latency after restart" "$(pyq 'all(r["latency_ms_p50"] is not None for r in d["stats"] if r["outcome"]=="shared")')" True
pass "/v1/stats rebuilt from the audit log after a restart"
t0=$(date +%s%N)
code=$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"immediate","legal_basis":"mla_treaty","justification":"Immediate risk to life of passengers at sea"}')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "timeout search" "$code" 200
expect_eq "THA timeout" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="THA"][0]')" timeout
expect_eq "MYS still shared" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" shared
[ "$ms" -lt 2500 ] || fail "the deadline did not cut the search short ($ms ms)"
pass "per-priority deadline: timeout after ${ms} ms with partial results"

# A client that disconnects mid-search cancels its legs.
rc=0
curl -s -m 0.3 "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_IDN" -H 'Content-Type: application/json' \
  -d '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"routine","legal_basis":"mla_treaty","justification":"Routine check that the client will abandon"}' >/dev/null || rc=$?
expect_eq "the client gave up mid-search (curl timeout)" "$rc" 28
# Polled for 2 s at most: THA answers after 3 s, so a leg left running would still count.
t_end=$(($(date +%s%N) + 2000000000))
while [ "$(date +%s%N)" -lt "$t_end" ]; do
  inflight=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics" | awk '/^fedbroker_legs_in_flight\{state="THA"\}/ {print $2}')
  [ "$inflight" = 0 ] && break
  sleep 0.05
done
expect_eq "legs in flight after disconnect" "$inflight" 0
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/healthz")
expect_eq "alive after disconnect" "$code" 200
pass "client disconnect cancels the legs"

# The whole log verifies with the independent verifier.
kill -TERM "$HUB_PID"; wait "$HUB_PID" || fail "hub exit status"
$PY "$FB_SOURCE_DIR/tests/lib/audit_verify.py" "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" || fail "audit log verification"
"$FEDBROKER" audit verify "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" >/dev/null || fail "fedbroker audit verify"
pass "audit log verifies (independent verifier and fedbroker audit verify)"
