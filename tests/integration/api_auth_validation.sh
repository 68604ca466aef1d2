#!/usr/bin/env bash
# Identity, roles and request validation on the real hub: 401 with WWW-Authenticate,
# 403 without the role, 400/415 with the API.md error body and the field at fault,
# authentication failures audited; policy dry run and reload for their roles.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia", contact = { unit = "MY focal point", email = "fp@example.my", channel = "central authority" } }
deny "no informal channel unless a life is at risk" { legal_basis = "informal", priority = { "routine", "urgent" },
  reason = "Informal requests are accepted only for immediate risk to life." }
allow "prosecution under a treaty or MOU" { purpose = "prosecution", legal_basis = { "mla_treaty", "bilateral_mou" } }
redact "victim identities" { records = { tags = { "victim" } }, fields = { "name" }, action = "mask" }
LUA
STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },
  IDN = { adapter = "sqlite", path = "data/IDN.db" },'
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
B="http://127.0.0.1:$HUB_PORT"
Q='{"subject":{"name":"Ahmad bin Ismail"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in a smuggling case"}'

# 401: no token, garbage, alg none, HS256 with the public key as secret.
out=$(curl -s -i "$B/v1/states")
grep -q '^HTTP/1.1 401' <<<"$out" || fail "no token: 401"
grep -qi '^www-authenticate: Bearer' <<<"$out" || fail "WWW-Authenticate"
grep -q '"code":"unauthenticated"' <<<"$out" || fail "401 body"
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/states" -H 'Authorization: Bearer abc.def.ghi')
expect_eq "garbage token" "$code" 401
none=$($PY -c '
import base64,json
e=lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(e({"alg":"none","typ":"JWT"})+"."+e({"iss":"https://idp.test","aud":"fedbroker","sub":"x","state":"IDN","roles":["analyst"],"exp":9999999999})+".")')
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/states" -H "Authorization: Bearer $none")
expect_eq "alg none" "$code" 401
hs=$($PY - "$TMP/keys/issuer.pub.pem" <<'PY'
import base64, hashlib, hmac, json, sys
e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = e(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = e(json.dumps({"iss": "https://idp.test", "aud": "fedbroker", "sub": "x", "state": "IDN", "roles": ["admin"], "exp": 9999999999}).encode())
sig = hmac.new(open(sys.argv[1], "rb").read(), (h + "." + p).encode(), hashlib.sha256).digest()
print(h + "." + p + "." + e(sig))
PY
)
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/states" -H "Authorization: Bearer $hs")
expect_eq "HS256 with the public key" "$code" 401
pass "401 for missing, malformed, alg none and HS256-key-confusion tokens"

# 403: valid identity without the role.
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/audit" -H "Authorization: Bearer $ANALYST_MYS")
expect_eq "analyst on /v1/audit" "$code" 403
expect_eq "403 code" "$(pyq 'd["error"]["code"]')" forbidden
code=$(search "$AUDITOR" "$Q")
expect_eq "auditor searching" "$code" 403
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/v1/admin/reload" -H "Authorization: Bearer $LEGAL")
expect_eq "legal officer reloading" "$code" 403
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/stats" -H "Authorization: Bearer $ANALYST_MYS")
expect_eq "analyst on /v1/stats" "$code" 403
pass "403 without the needed role"

# 400 / 415 with the field at fault.
check_400() { # body expected_field
  code=$(search "$ANALYST_IDN" "$1")
  expect_eq "status for $2" "$code" 400
  expect_eq "field for $2" "$(pyq 'd["error"].get("field")')" "$2"
}
check_400 '{"subject":{"name":"X"},"purpose":"fishing","priority":"urgent","legal_basis":"mla_treaty","justification":"a long enough reason"}' purpose
check_400 '{"subject":{"name":"X","dob":"12/03/1985"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"a long enough reason"}' subject.dob
check_400 '{"subject":{"name":"X","eye_colour":"blue"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"a long enough reason"}' subject.eye_colour
check_400 '{"subject":{"dob":"1985"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"a long enough reason"}' subject
check_400 '{"subject":{"name":"X"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"short"}' justification
check_400 '{"subject":{"name":"X"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"a long enough reason","states":["MYS","XXX"]}' 'states[1]'
check_400 '{"subject":{"name":"X"},"purpose":"prosecution","priority":"soon","legal_basis":"mla_treaty","justification":"a long enough reason"}' priority
check_400 '{"subject":{"name":"X"},"purpose":"prosecution","priority":"urgent","legal_basis":"gossip","justification":"a long enough reason"}' legal_basis
code=$(search "$ANALYST_IDN" '{"subject": {"name": "X"},')
expect_eq "malformed JSON" "$code" 400
expect_eq "invalid_json" "$(pyq 'd["error"]["code"]')" invalid_json
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/search" -H "Authorization: Bearer $ANALYST_IDN" -H 'Content-Type: text/plain' -d "$Q")
expect_eq "wrong content type" "$code" 415
expect_eq "415 code" "$(pyq 'd["error"]["code"]')" unsupported_media_type
pass "400 with the field at fault, invalid_json, 415"

# Policy dry run with trace, as another requester, with sample-record redaction.
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/policy/evaluate" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' \
  -d '{"subject":{"name":"X"},"purpose":"investigation","priority":"routine","legal_basis":"informal","justification":"What would an informal request get?","as":{"state":"IDN"},"states":["MYS"],
       "records":{"MYS":[{"id":"MYS-P-1","type":"person","tags":["victim"],"name":"Siti"}]}}')
expect_eq "evaluate status" "$code" 200
expect_eq "evaluate effect" "$(pyq 'd["states"][0]["effect"]')" deny
expect_eq "evaluate rule" "$(pyq 'd["states"][0]["rule"]')" "no informal channel unless a life is at risk"
expect_eq "trace first rule matched" "$(pyq 'any(t["matched"] for t in d["states"][0]["trace"])')" True
pass "policy dry run with trace"
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "$B/v1/policy/evaluate" -H "Authorization: Bearer $LEGAL" -H 'Content-Type: application/json' \
  -d '{"subject":{"name":"X"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Check the victim masking in a prosecution","states":["MYS"],
       "records":{"MYS":[{"id":"MYS-P-1","type":"person","tags":["victim"],"name":"Siti"}]}}')
expect_eq "evaluate allow" "$(pyq 'd["states"][0]["effect"]')" allow
expect_eq "sample record masked" "$(pyq 'd["states"][0]["records"][0]["name"]')" "[REDACTED]"
pass "dry run redacts sample records"

# Reload: a broken file keeps the old version and the error is reported; audited.
cp "$TMP/policies/MYS.lua" "$TMP/MYS.good"
echo 'allow "broken" { purpose = "prosecutoin" }' >>"$TMP/policies/MYS.lua"
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' -X POST "$B/v1/admin/reload" -H "Authorization: Bearer $ADMIN")
[ "$code" = 422 ] || fail "reload of a broken file: got $code"
grep -q 'MYS' "$TMP/resp" || fail "reload report names the file"
code=$(search "$ANALYST_IDN" "$Q")
expect_eq "old MYS policy still shares" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" shared
cp "$TMP/MYS.good" "$TMP/policies/MYS.lua"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/v1/admin/reload" -H "Authorization: Bearer $ADMIN")
expect_eq "reload ok" "$code" 200
pass "reload keeps the old policy when the new one is broken"

# Auditor reads the log: auth failures, evaluate and reload are there.
curl -s -o "$TMP/resp" "$B/v1/audit?after=0&limit=1000" -H "Authorization: Bearer $AUDITOR"
events=$(pyq '",".join(sorted(set(e["event"] for e in d["entries"])))')
for ev in auth_failure evaluate reload search; do
  grep -q "$ev" <<<"$events" || fail "audit lacks $ev events ($events)"
done
expect_eq "paging next" "$(pyq 'd["next"]==d["entries"][-1]["seq"]')" True
curl -s -o "$TMP/resp" "$B/v1/audit?after=2&limit=2" -H "Authorization: Bearer $AUDITOR"
expect_eq "paging after=2 limit=2" "$(pyq '[e["seq"] for e in d["entries"]]')" "[3, 4]"
curl -s -o "$TMP/resp" "$B/v1/stats" -H "Authorization: Bearer $AUDITOR"
expect_eq "stats rows" "$(pyq 'any(s["from"]=="IDN" and s["to"]=="MYS" and s["outcome"]=="shared" and s["count"]>=1 for s in d["stats"])')" True
pass "GET /v1/audit paging and GET /v1/stats"
