#!/usr/bin/env bash
# Several hub replicas, each with its own audit chain and checkpoint key:
# `fedbroker audit verify` checks the set, each chain with its own key, one line each,
# and fails when any chain fails (a key given to the wrong chain included). With
# `audit.peers` naming the other replica's chain, /v1/stats and the report sum both.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
STATES_LUA="  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },"
declare -A OTHER=([a]=b [b]=a) PORT_OF
for r in a b; do
  openssl genpkey -algorithm ED25519 -out "$TMP/keys/audit-$r.pem" 2>/dev/null
  openssl pkey -in "$TMP/keys/audit-$r.pem" -pubout -out "$TMP/keys/audit-$r.pub.pem"
  write_hub_config ""
  sed -e "s|audit.jsonl\"|audit-$r.jsonl\", peers = { \"audit-${OTHER[$r]}.jsonl\" }|" \
      -e "s|keys/audit.pem|keys/audit-$r.pem|" "$TMP/hub.lua" >"$TMP/hub-$r.lua"
  grep -q "peers = { \"audit-${OTHER[$r]}.jsonl\" }" "$TMP/hub-$r.lua" || fail "peers not configured"
  PORT_OF[$r]=$HUB_PORT
  start_hub "$TMP/hub-$r.lua"
  eval "PID_$r=$HUB_PID"
  wait_http "http://127.0.0.1:$HUB_PORT/healthz"
  code=$(search "$ANALYST_MYS" '{"subject": {"document": "A12345678"}, "purpose": "prosecution",
    "priority": "urgent", "legal_basis": "mla_treaty", "justification": "Replica chain test MY-2026-0042",
    "case_ref": "MY-2026-0042", "states": ["IDN"]}')
  expect_eq "search on replica $r" "$code" 200
done
# One more search, on replica b (the last started): 1 on a, 2 on b.
code=$(search "$ANALYST_MYS" '{"subject": {"document": "A12345678"}, "purpose": "prosecution",
  "priority": "urgent", "legal_basis": "mla_treaty", "justification": "Replica chain test MY-2026-0042",
  "case_ref": "MY-2026-0042", "states": ["IDN"]}')
expect_eq "second search on replica b" "$code" 200
for r in a b; do
  n=$(curl -s "http://127.0.0.1:${PORT_OF[$r]}/v1/stats" -H "Authorization: Bearer $AUDITOR" |
    jq '[.stats[] | select(.from == "MYS" and .to == "IDN") | .count] | add')
  expect_eq "searches MYS -> IDN counted on replica $r" "$n" 3
  n=$(curl -s "http://127.0.0.1:${PORT_OF[$r]}/v1/reports/summary" -H "Authorization: Bearer $AUDITOR" | jq .searches)
  expect_eq "searches in replica $r's report" "$n" 3
done
pass "with audit.peers, /v1/stats and the report on either replica count both chains (3 searches)"

stop_cleanly "$PID_a" hub
stop_cleanly "$PID_b" hub
A=$TMP/audit-a.jsonl B=$TMP/audit-b.jsonl
KA=$TMP/keys/audit-a.pub.pem KB=$TMP/keys/audit-b.pub.pem

out=$("$FEDBROKER" audit verify "$A" --key "$KA" "$B" --key "$KB") || fail "two chains with their keys: $out"
grep -q "^$A: ok: " <<<"$out" || fail "a line for chain a: $out"
grep -q "^$B: ok: " <<<"$out" || fail "a line for chain b: $out"
grep -q "^2 chains, 0 failed$" <<<"$out" || fail "summary: $out"
pass "two replicas' chains verify, each with its own key"

status=0
out=$("$FEDBROKER" audit verify "$A" --key "$KB" "$B" --key "$KA") || status=$?
expect_eq "swapped keys exit status" "$status" 1
grep -q "^$A: fail: " <<<"$out" && grep -q "^$B: fail: " <<<"$out" || fail "both chains fail with the other's key: $out"
status=0
out=$("$FEDBROKER" audit verify --key "$KA" "$A" "$B") || status=$?
expect_eq "one key for both chains" "$status" 1
grep -q "^$A: ok: " <<<"$out" && grep -q "^$B: fail: " <<<"$out" || fail "the default key fits chain a only: $out"
grep -q "^2 chains, 1 failed$" <<<"$out" || fail "summary counts the failure: $out"
pass "a chain checked with another replica's key fails, named by its file"

status=0
"$FEDBROKER" audit verify "$A" --key "$KA" --key "$KB" 2>/dev/null || status=$?
expect_eq "two keys for one chain is a usage error" "$status" 2
out=$("$FEDBROKER" audit verify "$A" --key "$KA") || fail "one chain: $out"
grep -q "^ok: " <<<"$out" || fail "one chain keeps the unprefixed line: $out"
pass "usage errors; a single chain's output is unchanged"
