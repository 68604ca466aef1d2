#!/usr/bin/env bash
# A TLS client certificate as identity: its subject supplies state (ST), agency (O),
# sub (CN) and roles (OU). Without a token, a trusted certificate authenticates; a
# token, when present, decides.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
make_pki "$TMP/pki"
cat >"$TMP/policies/IDN.lua" <<'LUA'
state "IDN" { name = "Indonesia" }
allow "all" { }
LUA
STATES_LUA='  IDN = { adapter = "sqlite", path = "data/IDN.db" },'
write_hub_config ''
PT=$(free_port)
sed -i "s|^listen = .*|listen = { { address = \"127.0.0.1:$HUB_PORT\" }, { address = \"127.0.0.1:$PT\", tls = { cert = \"pki/hub.pem\", key = \"pki/hub.key\", client_ca = \"pki/ca.pem\", client_cert = \"optional\" } } }|" "$TMP/hub.lua"
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
C=(--cacert "$TMP/pki/ca.pem" --cert "$TMP/pki/client.pem" --key "$TMP/pki/client.key")

code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "${C[@]}" "https://localhost:$PT/v1/states")
expect_eq "certificate identity" "$code" 200
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "${C[@]}" "https://localhost:$PT/v1/search" -H 'Content-Type: application/json' \
  -d '{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Search with a certificate identity"}')
expect_eq "certificate analyst searches" "$code" 200
seq=$(pyq 'd["audit"]["seq"]')
sed -n "${seq}p" "$TMP/audit.jsonl" | $PY -c '
import json,sys
r=json.loads(sys.stdin.read())["requester"]
assert r=={"sub":"analyst-mys-1","state":"MYS","agency":"Royal Malaysia Police","roles":["analyst"]}, r' || fail "requester from the certificate"
code=$(curl -s -o "$TMP/resp" -w '%{http_code}' "${C[@]}" "https://localhost:$PT/v1/me")
expect_eq "GET /v1/me with a certificate" "$code" 200
expect_eq "/v1/me from the certificate" "$(pyq '[d["sub"], d["state"], d["roles"], d["via"], "exp" in d]')" \
  "['analyst-mys-1', 'MYS', ['analyst'], 'certificate', False]"
pass "a trusted client certificate authenticates (CN, ST, O, OU)"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/pki/ca.pem" "https://localhost:$PT/v1/states")
expect_eq "no certificate, no token" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' "${C[@]}" "https://localhost:$PT/v1/audit")
expect_eq "certificate without the auditor role" "$code" 403
code=$(curl -s -o /dev/null -w '%{http_code}' "${C[@]}" -H 'Authorization: Bearer not.a.token' "https://localhost:$PT/v1/states")
expect_eq "a bad token is not rescued by the certificate" "$code" 401
# A certificate from the trusted CA whose OU names no role is no identity.
(
  cd "$TMP/pki"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout norole.key -out norole.csr \
    -subj "/ST=MYS/O=Royal Malaysia Police/OU=janitor/CN=nobody-mys-1" 2>/dev/null
  openssl x509 -req -in norole.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out norole.pem -days 2 2>/dev/null
)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/pki/ca.pem" --cert "$TMP/pki/norole.pem" \
  --key "$TMP/pki/norole.key" "https://localhost:$PT/v1/states")
expect_eq "a trusted certificate without a known role" "$code" 401
pass "no identity 401 (no credentials, or a certificate naming no role); role enforced; a presented token decides"
