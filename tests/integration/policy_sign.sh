#!/usr/bin/env bash
# `fedbroker policy keygen` and `policy sign` (CONFIG.md), the way a legal officer uses
# them: make a key pair, sign the state's file, the hub with policy_keys loads it as
# signed; an altered file is refused at reload (the signed version stays) and at
# start-up; a file with a typo is not signed; keys are never overwritten.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env

# keygen: an Ed25519 pair, the private half readable by its owner only.
"$FEDBROKER" policy keygen --out "$TMP/keys/mys-policy" >"$TMP/out" || fail "keygen"
[[ -s "$TMP/keys/mys-policy.pem" && -s "$TMP/keys/mys-policy.pub.pem" ]] || fail "keygen wrote no pair"
expect_eq "private key mode" "$(stat -c %a "$TMP/keys/mys-policy.pem")" 600
grep -q 'ED25519' <<<"$(openssl pkey -in "$TMP/keys/mys-policy.pem" -noout -text 2>/dev/null)" || fail "not an Ed25519 key"
if "$FEDBROKER" policy keygen --out "$TMP/keys/mys-policy" 2>"$TMP/err"; then fail "keygen overwrote a key"; fi
grep -q 'cannot create .*mys-policy.pem: File exists' "$TMP/err" || fail "overwrite message: $(cat "$TMP/err")"
set +e; "$FEDBROKER" policy keygen 2>/dev/null; rc=$?; set -e
expect_eq "keygen without --out" "$rc" 2
pass "keygen writes an Ed25519 pair and never overwrites one"

cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia" }
allow "prosecution" { purpose = "prosecution" }
LUA
"$FEDBROKER" policy sign "$TMP/policies/MYS.lua" --key "$TMP/keys/mys-policy.pem" >"$TMP/out" || fail "sign"
grep -qx "signed: $TMP/policies/MYS.lua.sig" "$TMP/out" || fail "sign output: $(cat "$TMP/out")"
# The signature is plain Ed25519 over the file's bytes: OpenSSL agrees.
base64 -d "$TMP/policies/MYS.lua.sig" >"$TMP/sig.bin"
openssl pkeyutl -verify -rawin -pubin -inkey "$TMP/keys/mys-policy.pub.pem" -in "$TMP/policies/MYS.lua" \
  -sigfile "$TMP/sig.bin" >/dev/null 2>&1 || fail "openssl does not verify the signature"
pass "sign writes FILE.sig that OpenSSL verifies"

# A file with a typo is not signed.
printf 'state "THA" { name = "Thailand" }\nallow "x" { from = BGD }\n' >"$TMP/THA.lua"
if "$FEDBROKER" policy sign "$TMP/THA.lua" --key "$TMP/keys/mys-policy.pem" >/dev/null 2>"$TMP/err"; then
  fail "a file that does not load was signed"
fi
[[ ! -e "$TMP/THA.lua.sig" ]] || fail "a .sig was written for a broken file"
grep -q 'THA.lua:2: BGD is not defined' "$TMP/err" || fail "sign names the problem: $(cat "$TMP/err")"
if "$FEDBROKER" policy sign "$TMP/policies/MYS.lua" --key "$TMP/keys/mys-policy.pub.pem" 2>"$TMP/err"; then
  fail "signed with a public key"
fi
grep -q 'not an Ed25519 private key' "$TMP/err" || fail "public key message"
pass "a file that does not load, or a public key, signs nothing"

STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },'
write_hub_config 'policy_keys = { MYS = "keys/mys-policy.pub.pem" }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"
expect_eq "signed" "$(pyq '[s["policy"]["signed"] for s in d["states"] if s["state"]=="MYS"][0]')" True
sha=$(pyq '[s["policy"]["sha256"] for s in d["states"] if s["state"]=="MYS"][0]')
pass "the hub with policy_keys loads the signed file"

# Someone widens the file without re-signing it.
echo 'allow "everything" { }' >>"$TMP/policies/MYS.lua"
code=$(curl -s -o "$TMP/reload" -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" -H "Authorization: Bearer $ADMIN")
expect_eq "reload of an altered file" "$code" 422
grep -q 'does not match' "$TMP/reload" || fail "reload names the signature: $(cat "$TMP/reload")"
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"
expect_eq "old version kept" "$(pyq '[s["policy"]["sha256"] for s in d["states"] if s["state"]=="MYS"][0]')" "$sha"
expect_eq "last_error names the signature" "$(pyq '[s["policy"]["last_error"]["message"] for s in d["states"] if s["state"]=="MYS"][0]')" \
  "the signature in $TMP/policies/MYS.lua.sig does not match the file and the configured policy key"
expect_eq "a signature has no line" "$(pyq '[s["policy"]["last_error"]["line"] for s in d["states"] if s["state"]=="MYS"][0]')" None
pass "an altered file is refused on reload; the signed version stays; /v1/states says why"

# Re-signed by the legal officer, the change loads.
"$FEDBROKER" policy sign "$TMP/policies/MYS.lua" --key "$TMP/keys/mys-policy.pem" >/dev/null || fail "re-sign"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" -H "Authorization: Bearer $ADMIN")
expect_eq "reload of the re-signed file" "$code" 200
curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"
[[ "$(pyq '[s["policy"]["sha256"] for s in d["states"] if s["state"]=="MYS"][0]')" != "$sha" ]] || fail "re-signed version not loaded"
expect_eq "error cleared" "$(pyq '[s["policy"]["last_error"] for s in d["states"] if s["state"]=="MYS"][0]')" None
pass "the re-signed file loads"

stop_cleanly "$HUB_PID" hub
echo '-- an unsigned edit' >>"$TMP/policies/MYS.lua"
if "$FEDBROKER" serve --config "$TMP/hub.lua" 2>"$TMP/start.err"; then fail "the hub started with an altered signed policy"; fi
grep -q 'MYS.lua.sig does not match' "$TMP/start.err" || fail "the start-up error names the file: $(cat "$TMP/start.err")"
pass "the hub refuses to start with an altered signed policy"
