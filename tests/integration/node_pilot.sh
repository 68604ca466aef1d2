#!/usr/bin/env bash
# The docker pilot without docker: docker/init-pilot.sh writes the PKI, keys, demo data
# and tokens; four nodes run with the compose file's arguments (mTLS); the hub runs
# docker/hub.lua with its paths and addresses mapped to this machine (Thailand, a
# PostgreSQL database in the containers, is a fourth mTLS node here; scripts/pilot-check.sh
# runs the real thing). Then a federated
# search over TLS must reach exactly the states whose policy lets the query through,
# each over mutual TLS, and no state may end in `error`.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

P=$TMP/pilot
PILOT_DIR=$P FEDBROKER=$FEDBROKER TOKEN_TTL=600 bash "$FB_SOURCE_DIR/docker/init-pilot.sh" 2>"$TMP/init.log" ||
  { cat "$TMP/init.log" >&2; fail "init-pilot failed"; }
for f in tls/ca.pem tls/hub.pem tls/hub.key keys/issuer.pem keys/issuer.pub.pem keys/audit.pem \
  keys/redaction.key data/IDN.db data/BGD.db tokens/analyst-mys.jwt tokens/auditor.jwt; do
  [ -s "$P/$f" ] || fail "init-pilot did not write $f"
done
for s in idn mys tha bgd; do
  openssl verify -CAfile "$P/tls/ca.pem" "$P/tls/$s-node.pem" >/dev/null || fail "$s-node.pem not signed by the CA"
  grep -q "DNS:$s-node" <<<"$(openssl x509 -in "$P/tls/$s-node.pem" -noout -ext subjectAltName)" ||
    fail "$s-node.pem lacks its compose host name"
done
# A second run keeps the PKI and re-mints tokens.
sum=$(sha256sum "$P/tls/ca.pem")
PILOT_DIR=$P FEDBROKER=$FEDBROKER bash "$FB_SOURCE_DIR/docker/init-pilot.sh" 2>>"$TMP/init.log"
expect_eq "init-pilot is idempotent" "$(sha256sum "$P/tls/ca.pem")" "$sum"
pass "init-pilot writes the PKI, keys, data and tokens, and keeps them on a second run"

# The nodes, as compose.yaml starts them (but on loopback ports).
declare -A PORT
for s in IDN MYS THA BGD; do
  lc=${s,,}
  PORT[$s]=$(free_port)
  "$FEDBROKER" node --data "$P/data/$s.db" --listen "127.0.0.1:${PORT[$s]}" \
    --tls "$P/tls/$lc-node.pem,$P/tls/$lc-node.key,$P/tls/ca.pem" 2>>"$TMP/$lc-node.log" &
  PIDS+=($!)
done
nstats() { # STATE -> the node's search request count, asked with the hub's certificate
  curl -s -m 5 --cacert "$P/tls/ca.pem" --cert "$P/tls/hub.pem" --key "$P/tls/hub.key" \
    "https://localhost:${PORT[$1]}/stats" | jq .requests
}
for s in IDN MYS THA BGD; do
  i=0
  until [ "$(nstats $s 2>/dev/null)" = 0 ]; do
    i=$((i + 1)); [ $i -gt 200 ] && fail "$s node did not come up"; sleep 0.05
  done
done
# What the compose healthcheck runs.
curl -sf -o /dev/null --cacert "$P/tls/ca.pem" --cert "$P/tls/hub.pem" --key "$P/tls/hub.key" \
  "https://localhost:${PORT[MYS]}/healthz" || fail "the compose healthcheck command fails"
pass "four nodes up with mTLS"

HP=$(free_port); HT=$(free_port)
mkdir -p "$TMP/var"
sed -e "s|/opt/fedbroker/policies|$FB_SOURCE_DIR/policies|; s|/var/lib/fedbroker|$TMP/var|; s|\"/pilot/|\"$P/|g" \
    -e "s|0.0.0.0:8080|127.0.0.1:$HP|; s|0.0.0.0:8443|127.0.0.1:$HT|" \
    -e "s|https://idn-node:9443|https://localhost:${PORT[IDN]}|; s|https://mys-node:9443|https://localhost:${PORT[MYS]}|" \
    -e "s|https://bgd-node:9443|https://localhost:${PORT[BGD]}|" \
    -e "s|adapter = \"postgres\", conninfo = \"[^\"]*\"|adapter = \"http\", url = \"https://localhost:${PORT[THA]}/search\", ca = \"$P/tls/ca.pem\", cert = \"$P/tls/hub.pem\", key = \"$P/tls/hub.key\"|" \
    -e "s|store = \"postgresql://[^\"]*\"|store = \"$TMP/var/store.db\"|" \
    "$FB_SOURCE_DIR/docker/hub.lua" >"$TMP/hub.lua"
grep -q '"/pilot/\|-node:9443\|0\.0\.0\.0' "$TMP/hub.lua" && fail "hub.lua mapping missed something"
start_hub "$TMP/hub.lua"
i=0
until [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/readyz")" = 200 ]; do
  i=$((i + 1))
  kill -0 "$HUB_PID" 2>/dev/null || { cat "$TMP/hub.log" >&2; fail "the hub exited"; }
  [ $i -gt 200 ] && { cat "$TMP/hub.log" >&2; fail "the hub never became ready"; }
  sleep 0.05
done
pass "the hub starts on docker/hub.lua and is ready"

TOKEN=$(cat "$P/tokens/analyst-mys.jwt")
# search QUERY: runs it over TLS as the MYS analyst and checks, per state, that a node
# was contacted exactly when its outcome says so. Sets CONTACTED and DENIED.
search() {
  local query=$1 out code body s outcome before after
  declare -A before_n
  for s in IDN MYS THA BGD; do before_n[$s]=$(nstats $s); done
  out=$(curl -s -m 20 --cacert "$P/tls/ca.pem" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -w '\n%{http_code}' -d "$query" "https://localhost:$HT/v1/search") || true
  code=$(tail -n1 <<<"$out"); body=$(sed '$d' <<<"$out")
  if ! kill -0 "$HUB_PID" 2>/dev/null; then
    grep -v '^{' "$TMP/hub.log" | head -40 >&2
    fail "the hub died during the search (its log is above)"
  fi
  [ "$code" = 200 ] || { tail -20 "$TMP/hub.log" >&2; fail "search over TLS: HTTP $code: $body"; }
  expect_eq "states answered" "$(jq -c '[.states[].state] | sort' <<<"$body")" '["BGD","IDN","THA"]'
  expect_eq "no state in error" "$(jq -c '[.states[] | select(.outcome == "error" or .outcome == "timeout")]' <<<"$body")" "[]"
  CONTACTED=0 DENIED=0
  for s in IDN THA BGD; do
    outcome=$(jq -r --arg s "$s" '.states[] | select(.state == $s) | .outcome' <<<"$body")
    after=$(nstats $s)
    case $outcome in
      shared|hit_only) expect_eq "$s ($outcome) contacted once" "$((after - before_n[$s]))" 1; CONTACTED=$((CONTACTED + 1)) ;;
      denied) expect_eq "$s (denied) never contacted" "$((after - before_n[$s]))" 0; DENIED=$((DENIED + 1)) ;;
      withheld) expect_eq "$s (withheld by MYS's own rule) never contacted" "$((after - before_n[$s]))" 0; DENIED=$((DENIED + 1)) ;;
      *) fail "$s: unexpected outcome '$outcome'" ;;
    esac
  done
  expect_eq "the requester's own node is not asked" "$(nstats MYS)" "${before_n[MYS]}"
}

search '{"subject": {"document": "A12345678"}, "purpose": "prosecution", "priority": "urgent",
         "legal_basis": "mla_treaty", "justification": "Pilot check: facilitator in case MY-2026-0042",
         "case_ref": "MY-2026-0042", "states": ["IDN", "THA", "BGD"]}'
[ $CONTACTED -gt 0 ] || fail "the policies let no state through; the mTLS path was not exercised"
pass "a treaty-based search reaches the allowed nodes over mTLS ($CONTACTED of 3), and only them"

search '{"subject": {"document": "A12345678"}, "purpose": "intelligence", "priority": "routine",
         "legal_basis": "informal", "justification": "Pilot check: informal routine request",
         "states": ["IDN", "THA", "BGD"]}'
pass "an informal routine search: $DENIED of 3 states denied or withheld it without being contacted"

if curl -s -m 5 -o /dev/null "https://localhost:${PORT[IDN]}/healthz" --cacert "$P/tls/ca.pem"; then
  fail "a node answered a client without a certificate"
fi
pass "nodes refuse clients without a certificate"
