#!/usr/bin/env bash
# fedbroker node over TLS: server-only TLS, and mTLS with --tls CERT,KEY,CLIENT_CA —
# a client certificate from the CA is accepted (h2 and http/1.1 by ALPN), none or a
# rogue one is refused, and refused handshakes never reach the search counter.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

start_node() {
  local name=$1
  shift
  NODE_PORT=$(free_port)
  "$FEDBROKER" node --listen "127.0.0.1:$NODE_PORT" "$@" 2>>"$TMP/$name.log" &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  URL=https://localhost:$NODE_PORT
  # wait_http cannot present a client certificate; poll with one (bounded, 10 s).
  local i=0
  until curl -s -o /dev/null -m 1 --cacert "$K/ca.pem" --cert "$K/client.pem" --key "$K/client.key" "$URL/healthz"; do
    i=$((i + 1))
    [ $i -gt 200 ] && fail "$name did not come up"
    sleep 0.05
  done
}

"$FEDBROKER" demo-data --out "$TMP/data" >/dev/null
make_pki "$TMP/pki"
K=$TMP/pki
DB=$TMP/data/IDN.db
read -r ID DOC < <($PY - "$DB" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (j,) in db.execute("select json from records order by rid"):
    r = json.loads(j)
    if r.get("documents"):
        print(r["id"], r["documents"][0]["number"]); break
PY
)
REQ=$(jq -nc --arg d "$DOC" '{subject:{document:$d}, purpose:"victim_protection", limit:3}')

# Server-only TLS: any client that trusts the CA.
start_node tls --data "$DB" --tls "$K/hub.pem,$K/hub.key"
out=$(curl -s -m 5 --cacert "$K/ca.pem" -w '\n%{http_code} %{http_version}' -X POST -d "$REQ" "$URL/search")
expect_eq "TLS h2 status" "$(tail -n1 <<<"$out")" "200 2"
expect_eq "TLS h2 record" "$(head -n1 <<<"$out" | jq -r '.records[0].id')" "$ID"
if curl -s -m 5 -o /dev/null "$URL/healthz" 2>/dev/null; then fail "an untrusted server certificate was accepted"; fi
pass "TLS without client CA serves any client that trusts the server"
stop_cleanly "$NODE_PID" tls

# mTLS.
start_node mtls --data "$DB" --tls "$K/hub.pem,$K/hub.key,$K/ca.pem"
for proto in --http2 --http1.1; do
  out=$(curl -s -m 5 $proto --cacert "$K/ca.pem" --cert "$K/client.pem" --key "$K/client.key" \
    -w '\n%{http_code}' -X POST -d "$REQ" "$URL/search")
  expect_eq "mTLS $proto status" "$(tail -n1 <<<"$out")" 200
  expect_eq "mTLS $proto record" "$(head -n1 <<<"$out" | jq -r '.records[0].id')" "$ID"
done
pass "mTLS: a client certificate from the CA is accepted (h2 and http/1.1)"

rc=0; curl -s -m 5 --cacert "$K/ca.pem" -o "$TMP/r" -X POST -d "$REQ" "$URL/search" || rc=$?
[ $rc -ne 0 ] || fail "mTLS: a client without a certificate got an answer"
[ ! -s "$TMP/r" ] || fail "mTLS: a client without a certificate got a body"
rc=0; curl -s -m 5 --cacert "$K/ca.pem" --cert "$K/rogue.pem" --key "$K/rogue.key" -o "$TMP/r" \
  -X POST -d "$REQ" "$URL/search" || rc=$?
[ $rc -ne 0 ] || fail "mTLS: a rogue client certificate got an answer"
[ ! -s "$TMP/r" ] || fail "mTLS: a rogue client got a body"
stats=$(curl -s -m 5 --cacert "$K/ca.pem" --cert "$K/client.pem" --key "$K/client.key" "$URL/stats")
expect_eq "mTLS stats" "$(jq -c '[.requests, .by_purpose.victim_protection]' <<<"$stats")" "[2,2]"
pass "mTLS: no certificate or a rogue one is refused and never counted"
stop_cleanly "$NODE_PID" mtls
