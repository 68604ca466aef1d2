#!/usr/bin/env bash
# Signed policies (CONFIG.md policy_keys): a state's file signed with the state's key
# loads and shows "signed": true; an altered file is refused at start-up and, on
# reload, keeps the previous version.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
openssl genpkey -algorithm ED25519 -out "$TMP/keys/mys-policy.pem" 2>/dev/null
openssl pkey -in "$TMP/keys/mys-policy.pem" -pubout -out "$TMP/keys/mys-policy.pub.pem" 2>/dev/null
cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia" }
allow "prosecution" { purpose = "prosecution" }
LUA
sign() { openssl pkeyutl -sign -rawin -inkey "$TMP/keys/mys-policy.pem" -in "$1" | base64 -w0 >"$1.sig"; }
sign "$TMP/policies/MYS.lua"
STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },'
write_hub_config 'policy_keys = { MYS = "keys/mys-policy.pub.pem" }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"
expect_eq "signed" "$(pyq '[s["policy"]["signed"] for s in d["states"] if s["state"]=="MYS"][0]')" True
sha=$(pyq '[s["policy"]["sha256"] for s in d["states"] if s["state"]=="MYS"][0]')
pass "a signed policy loads and is reported signed"

# The operator alters the file without the state's key: reload keeps the signed version.
echo 'allow "everything" { }' >>"$TMP/policies/MYS.lua"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" -H "Authorization: Bearer $ADMIN")
expect_eq "reload of an altered file" "$code" 422
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"
expect_eq "old version kept" "$(pyq '[s["policy"]["sha256"] for s in d["states"] if s["state"]=="MYS"][0]')" "$sha"
pass "an altered file is refused on reload; the signed version stays"

stop_cleanly "$HUB_PID" hub
if "$FEDBROKER" serve --config "$TMP/hub.lua" 2>"$TMP/start.err"; then fail "the hub started with an altered signed policy"; fi
grep -qi 'MYS' "$TMP/start.err" || fail "the start-up error names the file"
pass "the hub refuses to start with an altered signed policy"
