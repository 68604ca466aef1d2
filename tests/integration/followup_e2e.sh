#!/usr/bin/env bash
# Follow-up end to end with real processes (FOLLOWUP.md), SQLite store: a search with a
# hit-only state -> a request quoting its hit_ref -> the focal point's inbox -> a hub
# restart -> release (the state's formal rule lets records out, the victim's name stays
# masked) -> the analyst reads them -> audit entries with the disclosed ids; concurrent
# decisions (one wins, 409); decline; withdrawal; expiry; another state's query (403);
# the focal point directory.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
source "$FB_SOURCE_DIR/tests/lib/followup_env.sh"
setup_hub_env
setup_followup_env
# Bangladesh answers through a slow node (2 s), so that a release can be in flight
# when the hub stops.
start_node BGD "$TMP/data/BGD.db" --latency 2000
cat >"$TMP/policies/BGD.lua" <<'LUA'
state "BGD" { name = "Bangladesh", contact = { unit = "BD policy contact", email = "fp@example.bd", channel = "MLA" } }
allow "formal" { formal = true }
hit_only "searches: confirm a match only" { }
LUA
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },
  THA = { adapter = \"sqlite\", path = \"data/THA.db\" },
  BGD = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_BGD/search\" },"
write_hub_config 'followup = { due = { immediate = "1s" }, expire_after = "1s" }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"

SEARCH='{"subject":{"document":"B7654321"},"purpose":"investigation","priority":"urgent","legal_basis":"mla_treaty","justification":"Trafficking route through Johor, case ID-2026-0107","states":["MYS"]}'
new_search() {
  expect_eq "search" "$(search "$ANALYST_IDN" "$SEARCH")" 200
  QID=$(pyq 'd["query_id"]')
  HREF=$(pyq '[s.get("hit_ref","") for s in d["states"] if s["state"]=="MYS"][0]')
}
new_request() { # new_request PRIORITY -> RID
  local body="{\"query_id\":\"$QID\",\"state\":\"MYS\",\"hit_ref\":\"$HREF\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\",\"case_ref\":\"ID-2026-0107\",\"priority\":\"$1\"}"
  expect_eq "create request" "$(call POST /v1/requests "$ANALYST_IDN" "$body")" 201
  RID=$(pyq 'd["request"]["request_id"]')
}

# --- hit reference on the hit_only line and in the audit entry
new_search
expect_eq "MYS outcome" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" hit_only
[[ "$HREF" == hr1.* ]] || fail "hit_ref missing: '$HREF'"
seq=$(pyq 'd["audit"]["seq"]')
expect_eq "audited hit_ref" "$(sed -n "${seq}p" "$TMP/audit.jsonl" | $PY -c 'import json,sys; e=json.load(sys.stdin); print([s.get("hit_ref") for s in e["states"] if s["state"]=="MYS"][0])')" "$HREF"
expect_eq "no records disclosed on hit_only" "$(sed -n "${seq}p" "$TMP/audit.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["disclosed"])')" "{}"
pass "hit_ref on the hit_only line and in the audit entry"

# --- bad requests
bad="{\"query_id\":\"$QID\",\"state\":\"MYS\",\"hit_ref\":\"${HREF%?}x\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\",\"priority\":\"urgent\"}"
expect_eq "forged hit_ref" "$(call POST /v1/requests "$ANALYST_IDN" "$bad")" 400
expect_eq "field" "$(pyq 'd["error"]["field"]')" hit_ref
other="{\"query_id\":\"$QID\",\"state\":\"MYS\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\",\"priority\":\"urgent\"}"
expect_eq "another state's query" "$(call POST /v1/requests "$ANALYST_THA" "$other")" 403
expect_eq "unknown query" "$(call POST /v1/requests "$ANALYST_IDN" "${other/$QID/q-00000000000000ZZ}")" 404
expect_eq "state not asked" "$(call POST /v1/requests "$ANALYST_IDN" "${other/\"MYS\"/\"THA\"}")" 400
expect_eq "unknown key" "$(call POST /v1/requests "$ANALYST_IDN" "${other/\"priority\"/\"colour\"}")" 400
expect_eq "unknown key named" "$(pyq 'd["error"]["field"]')" colour
expect_eq "focal point cannot create" "$(call POST /v1/requests "$FOCAL_MYS" "$other")" 403
pass "forged hit_ref 400, another state's query 403, unknown 404, state not asked 400"

# --- request, inbox, outbox
new_request urgent
expect_eq "status" "$(pyq 'd["request"]["status"]')" open
expect_eq "overdue" "$(pyq 'd["request"]["overdue"]')" False
expect_eq "inbox MYS" "$(call GET '/v1/requests?box=inbox' "$FOCAL_MYS")" 200
expect_eq "in the inbox" "$(pyq "[r['request_id'] for r in d['requests']]")" "['$RID']"
call GET '/v1/requests?box=inbox' "$FOCAL_IDN" >/dev/null
expect_eq "not in IDN's inbox" "$(pyq 'len(d["requests"])')" 0
call GET '/v1/requests?box=outbox&status=open' "$ANALYST_IDN" >/dev/null
expect_eq "in the outbox" "$(pyq "[r['request_id'] for r in d['requests']]")" "['$RID']"
expect_eq "analyst has no inbox" "$(call GET '/v1/requests?box=inbox' "$ANALYST_IDN")" 403
pass "request created; in MYS focal point's inbox and IDN's outbox only"

# --- the hub restarts between steps: the request survives
stop_cleanly "$HUB_PID" hub
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
expect_eq "after restart" "$(call GET "/v1/requests/$RID" "$FOCAL_MYS")" 200
expect_eq "still open" "$(pyq 'd["request"]["status"]')" open
pass "request survives a hub restart"

# --- release: two focal points decide at once, one wins
expect_eq "wrong state's focal point" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_IDN" '{"decision":"release"}')" 403
D='{"decision":"release","note":"Under the MLA treaty"}'
deciders=()
for i in 1 2; do
  curl -s -o "$TMP/dec$i" -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/v1/requests/$RID/decision" \
    -H "Authorization: Bearer $FOCAL_MYS" -H 'Content-Type: application/json' -d "$D" >"$TMP/code$i" &
  deciders+=($!)
done
wait "${deciders[@]}"

codes=$(cat "$TMP/code1" "$TMP/code2" | fold -w3 | sort | tr '\n' ' ')
expect_eq "two deciders" "$codes" "200 409 "
pass "two simultaneous decisions: one 200, one 409"

expect_eq "analyst reads" "$(call GET "/v1/requests/$RID" "$ANALYST_IDN")" 200
expect_eq "released" "$(pyq 'd["request"]["status"]')" released
expect_eq "record released" "$(pyq '"MYS-P-000002" in [r["id"] for r in d["request"]["records"]]')" True
expect_eq "victim's name masked" "$(pyq '[r["name"] for r in d["request"]["records"] if r["id"]=="MYS-P-000002"][0] != "Nur Aisyah Rahman"')" True
expect_eq "marked redacted" "$(pyq '"name" in [r for r in d["request"]["records"] if r["id"]=="MYS-P-000002"][0]["redacted"]')" True
call GET "/v1/requests/$RID" "$FOCAL_MYS" >/dev/null
expect_eq "focal point does not see the records" "$(pyq '"records" in d["request"]')" False
expect_eq "another state's analyst" "$(call GET "/v1/requests/$RID" "$ANALYST_THA")" 403
expect_eq "auditor reads" "$(call GET "/v1/requests/$RID" "$AUDITOR")" 200
expect_eq "withdraw after release" "$(call POST "/v1/requests/$RID/withdraw" "$ANALYST_IDN")" 409
pass "release re-queried MYS under its formal rule; records to the requesting analyst only, victim masked"

# --- audit: created and released, with disclosed ids
FIRST_RID=$RID
audit_lines "e['event']=='request' and e['request_id']=='$RID'" >"$TMP/req_audit"
expect_eq "request audit entries" "$($PY -c "import json; print([json.loads(l)['status'] for l in open('$TMP/req_audit')])")" "['open', 'released']"
expect_eq "disclosed ids" "$(tail -1 "$TMP/req_audit" | $PY -c 'import json,sys; print("MYS-P-000002" in json.load(sys.stdin)["disclosed"]["MYS"])')" True
pass "audit entries for each step, with the disclosed ids"

# --- what was disclosed, to whom: search entries' `disclosed`, audit filters, CSV
expect_eq "shared search" "$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"investigation","priority":"urgent","legal_basis":"mla_treaty","justification":"Trafficking route through Johor, case ID-2026-0107","states":["THA"]}')" 200
SQID=$(pyq 'd["query_id"]')
THA_ID=$(pyq '[x["id"] for r in d["results"] for x in r["records"] if x["state"]=="THA"][0]')
expect_eq "disclosed in the search entry" "$(audit_lines "e.get('query_id')=='$SQID'" | $PY -c 'import json,sys; print("'"$THA_ID"'" in json.loads(sys.stdin.readline())["disclosed"]["THA"])')" True
expect_eq "filter record" "$(call GET "/v1/audit?record=$THA_ID" "$AUDITOR")" 200
expect_eq "record -> the search" "$(pyq "sorted(set(e.get('query_id') for e in d['entries']))")" "['$SQID']"
call GET "/v1/audit?record=MYS-P-000002&event=request" "$AUDITOR" >/dev/null
expect_eq "record -> the release" "$(pyq "[(e['request_id'], e['status']) for e in d['entries']]")" "[('$FIRST_RID', 'released')]"
call GET "/v1/audit?request_id=$FIRST_RID" "$AUDITOR" >/dev/null
expect_eq "request_id filter" "$(pyq "[e['status'] for e in d['entries']]")" "['open', 'released']"
call GET "/v1/audit?event=search&state=THA&sub=a.idn" "$AUDITOR" >/dev/null
expect_eq "event+state+sub" "$(pyq "[e['query_id'] for e in d['entries']]")" "['$SQID']"
call GET "/v1/audit?event=search&limit=1" "$AUDITOR" >/dev/null
expect_eq "limit" "$(pyq 'len(d["entries"])')" 1
NEXT=$(pyq 'd["next"]')
call GET "/v1/audit?event=search&after=$NEXT" "$AUDITOR" >/dev/null
expect_eq "after continues" "$(pyq "[e['query_id'] for e in d['entries']]")" "['$SQID']"
call GET "/v1/audit?since=2099-01-01T00:00:00Z" "$AUDITOR" >/dev/null
expect_eq "since in the future" "$(pyq 'len(d["entries"])')" 0
call GET "/v1/audit?until=2000-01-01T00:00:00%2B02:00&event=search" "$AUDITOR" >/dev/null
expect_eq "until in the past" "$(pyq 'len(d["entries"])')" 0
expect_eq "bad since" "$(call GET '/v1/audit?since=yesterday' "$AUDITOR")" 400
expect_eq "analyst cannot read the audit" "$(call GET "/v1/audit?record=$THA_ID" "$ANALYST_IDN")" 403
curl -s -o "$TMP/csv" -H "Authorization: Bearer $AUDITOR" -H 'Accept: text/csv' "http://127.0.0.1:$HUB_PORT/v1/audit?request_id=$FIRST_RID"
expect_eq "csv header" "$(head -1 "$TMP/csv" | tr -d '\r')" "seq,ts,event,requester_state,requester_sub,query_id,request_id,purpose,states,status,review,disclosed"
expect_eq "csv rows" "$($PY -c "import csv; r=list(csv.DictReader(open('$TMP/csv'))); print([x['status'] for x in r], 'MYS-P-000002' in r[1]['disclosed'])")" "['open', 'released'] True"
curl -s -o "$TMP/csv2" -H "Authorization: Bearer $AUDITOR" "http://127.0.0.1:$HUB_PORT/v1/audit?format=csv&limit=3"
expect_eq "format=csv unfiltered" "$(($(wc -l <"$TMP/csv2")))" 4
pass "disclosed ids in search entries; audit filters (record, request_id, event, state, sub, since, until, after/limit) and CSV"

# --- decline (a reason is required)
new_search
new_request routine
expect_eq "decision: unknown key" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"decline","reason":"x","mood":"bad"}')" 400
expect_eq "decision: key named" "$(pyq 'd["error"]["field"]')" mood
expect_eq "decline without reason" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"decline"}')" 400
expect_eq "decline" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"decline","reason":"Outside the treaty scope"}')" 200
expect_eq "declined" "$(pyq 'd["request"]["status"]')" declined
expect_eq "decline reason" "$(pyq 'd["request"]["decision"]["reason"]')" "Outside the treaty scope"
expect_eq "second decision" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"release"}')" 409
expect_eq "declined audited" "$(audit_lines "e['event']=='request' and e['request_id']=='$RID' and e['status']=='declined'" | wc -l)" 1
pass "decline with reason; second decision 409"

# --- withdrawal
new_request routine
expect_eq "withdraw by another state" "$(call POST "/v1/requests/$RID/withdraw" "$ANALYST_THA")" 403
expect_eq "withdraw" "$(call POST "/v1/requests/$RID/withdraw" "$ANALYST_IDN")" 200
expect_eq "withdrawn" "$(pyq 'd["request"]["status"]')" withdrawn
expect_eq "decide after withdrawal" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"release"}')" 409
pass "withdrawal; decisions after it 409"

# --- expiry: immediate requests are due in 1 s and expire 1 s later
new_request immediate
i=0
while call GET "/v1/requests/$RID" "$ANALYST_IDN" >/dev/null && [ "$(pyq 'd["request"]["status"]')" = open ]; do
  i=$((i + 1)); [ $i -gt 200 ] && fail "request did not expire"
  sleep 0.05
done
expect_eq "expired" "$(pyq 'd["request"]["status"]')" expired
expect_eq "expired audited" "$(audit_lines "e['event']=='request' and e['request_id']=='$RID' and e['status']=='expired'" | wc -l)" 1
pass "an open request past its due expires (audited)"

# --- focal point directory
expect_eq "directory" "$(call GET /v1/focal-points "$ANALYST_IDN")" 200
FP='{"focal_points":[{"unit":"ATIPSOM desk","name":"Insp. Aziz","email":"atipsom@example.my","channel":"formal","languages":["ms","en"],"hours":"24/7","timezone":"Asia/Kuala_Lumpur","verified_at":"2020-01-01"}]}'
expect_eq "PUT other state" "$(call PUT /v1/focal-points/IDN "$FPADMIN_MYS" "$FP")" 403
expect_eq "PUT by analyst" "$(call PUT /v1/focal-points/MYS "$ANALYST_MYS" "$FP")" 403
expect_eq "PUT bad channel" "$(call PUT /v1/focal-points/MYS "$FPADMIN_MYS" "${FP/\"formal\"/\"carrier pigeon\"}")" 400
expect_eq "bad field named" "$(pyq 'd["error"]["field"]')" channel
expect_eq "PUT bad date" "$(call PUT /v1/focal-points/MYS "$FPADMIN_MYS" "${FP/2020-01-01/2020-13-01}")" 400
expect_eq "PUT" "$(call PUT /v1/focal-points/MYS "$FPADMIN_MYS" "$FP")" 200
expect_eq "stale (verified 2020)" "$(pyq 'd["focal_points"][0]["stale"]')" True
call GET /v1/states "$ANALYST_IDN" >/dev/null
expect_eq "states: stale" "$(pyq '[s["focal_point_stale"] for s in d["states"] if s["state"]=="MYS"][0]')" True
expect_eq "states: THA not stale" "$(pyq '[s["focal_point_stale"] for s in d["states"] if s["state"]=="THA"][0]')" False
new_search
expect_eq "search contact from the directory" "$(pyq '[s["contact"]["email"] for s in d["states"] if s["state"]=="MYS"][0]')" atipsom@example.my
audit_lines "e['event']=='focal_point'" >"$TMP/fp_audit"
expect_eq "focal_point audited" "$($PY -c "import json; e=json.loads(open('$TMP/fp_audit').readline()); print(e['state'], e['requester']['sub'], len(e['before']), len(e['after']), e['before']!=e['after'])")" "MYS fpa.mys 64 64 True"
pass "focal point directory: PUT rules, stale flag, search contacts, audited"

# --- statistics over a period and the monitoring and evaluation report
expect_eq "stats by" "$(call GET '/v1/stats?by=from,to,outcome,rule' "$AUDITOR")" 200
expect_eq "stats rows" "$(pyq "sorted((r['from'], r['to'], r['outcome'], r['rule'], r['count']) for r in d['stats'])")" \
  "[('IDN', 'MYS', 'hit_only', 'searches: confirm a match only', 3), ('IDN', 'THA', 'shared', 'all', 1)]"
expect_eq "p50 present" "$(pyq "all(r['latency_ms_p50'] is not None and 'purpose' not in r for r in d['stats'])")" True
call GET '/v1/stats?since=2099-01-01T00:00:00Z' "$AUDITOR" >/dev/null
expect_eq "stats of an empty period" "$(pyq 'd["stats"]')" "[]"
expect_eq "stats bad by" "$(call GET '/v1/stats?by=colour' "$AUDITOR")" 400
expect_eq "summary" "$(call GET /v1/reports/summary "$AUDITOR")" 200
expect_eq "summary searches" "$(pyq 'd["searches"]')" 4
expect_eq "summary followups" "$(pyq "[d['followups'][k] for k in ('sent','released','declined','expired')]")" "[4, 1, 1, 1]"
expect_eq "summary share rate" "$(pyq 'd["share_rate"]')" 0.25
expect_eq "summary MYS row" "$(pyq "[(s['sent'], s['withdrawn'], s['median_hours_to_decision'] is not None) for s in d['followups']['by_state'] if s['state']=='MYS']")" "[(4, 1, True)]"
expect_eq "stale focal points" "$(pyq 'd["stale_focal_points"]')" "['MYS']"
expect_eq "summary for analysts" "$(call GET /v1/reports/summary "$ANALYST_IDN")" 403
curl -s -o "$TMP/sum.csv" -H "Authorization: Bearer $AUDITOR" "http://127.0.0.1:$HUB_PORT/v1/reports/summary?format=csv"
expect_eq "summary csv" "$(tr -d '\r' <"$TMP/sum.csv" | sort)" "$(printf 'IDN,MYS,3,0,3,0,0,0.000\nIDN,THA,1,1,0,0,0,1.000\nfrom,to,legs,shared,hit_only,denied,other,share_rate')"
pass "stats with since/until/by; the summary report (JSON and CSV)"

# --- a search where every state shared is not copied to the store: a request for it
# finds it in the audit log
expect_eq "no store row for an all-shared search" "$(sqlite3 "$TMP/fedbroker.db" "SELECT COUNT(*) FROM searches WHERE query_id = '$SQID'")" 0
expect_eq "request on an all-shared search" "$(call POST /v1/requests "$ANALYST_IDN" "{\"query_id\":\"$SQID\",\"state\":\"THA\",\"legal_basis\":\"mla_treaty\",\"justification\":\"The full case file, formally\"}")" 201
expect_eq "its purpose, from the audit entry" "$(pyq 'd["request"]["purpose"]')" investigation
expect_eq "other state's all-shared search" "$(call POST /v1/requests "$ANALYST_THA" "{\"query_id\":\"$SQID\",\"state\":\"THA\",\"legal_basis\":\"mla_treaty\",\"justification\":\"The full case file, formally\"}")" 403
pass "a request on an all-shared search finds it in the audit log"

# --- fail closed: while another process holds the store's write lock past the busy
# timeout (5 s), a new request is not acknowledged and leaves no trace
new_search
$PY - "$TMP/fedbroker.db" "$TMP/locked" <<'PY' &
import sqlite3, sys, time, pathlib
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
pathlib.Path(sys.argv[2]).touch()
time.sleep(8)
db.execute("ROLLBACK")
PY
LOCKER=$!
i=0; while [ ! -e "$TMP/locked" ]; do i=$((i + 1)); [ $i -gt 200 ] && fail "locker did not start"; sleep 0.05; done
before=$(grep -c '"event":"request"' "$TMP/audit.jsonl")
body="{\"query_id\":\"$QID\",\"state\":\"MYS\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\"}"
expect_eq "store locked" "$(call POST /v1/requests "$ANALYST_IDN" "$body")" 503
expect_eq "code" "$(pyq 'd["error"]["code"]')" not_ready
wait "$LOCKER"
expect_eq "nothing audited" "$(grep -c '"event":"request"' "$TMP/audit.jsonl")" "$before"
expect_eq "nothing stored" "$(sqlite3 "$TMP/fedbroker.db" "SELECT COUNT(*) FROM requests WHERE query_id = '$QID'")" 0
expect_eq "store free again" "$(call POST /v1/requests "$ANALYST_IDN" "$body")" 201
pass "a request the store cannot record is answered 503 and leaves no trace"

# --- the hub stops while a release is still asking a state (its client gave up): the
# release is cancelled cleanly (exit 0, no leak under ASan) and the request stays open
FOCAL_BGD=$($FEDBROKER token --key "$TMP/keys/issuer.pem" --iss https://idp.test --sub fp.bgd --state BGD --roles focal_point)
expect_eq "slow search" "$(search "$ANALYST_IDN" '{"subject":{"document":"A12345678"},"purpose":"investigation","priority":"urgent","legal_basis":"mla_treaty","justification":"Trafficking route through Johor, case ID-2026-0107","states":["BGD"]}')" 200
expect_eq "BGD hit" "$(pyq 'd["states"][0]["outcome"]')" hit_only
BQID=$(pyq 'd["query_id"]')
expect_eq "request to BGD" "$(call POST /v1/requests "$ANALYST_IDN" "{\"query_id\":\"$BQID\",\"state\":\"BGD\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\"}")" 201
BRID=$(pyq 'd["request"]["request_id"]')
before=$(node_requests BGD)
rc=0
curl -s -o /dev/null --max-time 0.5 "http://127.0.0.1:$HUB_PORT/v1/requests/$BRID/decision" -H "Authorization: Bearer $FOCAL_BGD" \
  -H 'Content-Type: application/json' -d '{"decision":"release"}' || rc=$?
expect_eq "the client gave up waiting for the release (curl: timeout)" "$rc" 28
i=0; while [ "$(node_requests BGD)" = "$before" ]; do i=$((i + 1)); [ $i -gt 100 ] && fail "the release did not ask BGD"; sleep 0.05; done
stop_cleanly "$HUB_PID" hub
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
call GET "/v1/requests/$BRID" "$FOCAL_BGD" >/dev/null
expect_eq "still open after the cancelled release" "$(pyq 'd["request"]["status"]')" open
pass "a release in flight at shutdown is cancelled cleanly; the request stays open"

stop_cleanly "$HUB_PID" hub
"$FEDBROKER" audit verify "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" >/dev/null || fail "audit log does not verify"
pass "audit log verifies"
