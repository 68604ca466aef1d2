#!/usr/bin/env bash
# Load limits on searches: over `limits.concurrency` searches in flight the hub answers
# 429 overloaded with Retry-After; over a state's `max_legs` that state is `unavailable`
# while the others still answer.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
start_node SLOW "$TMP/data/THA.db" --latency 1500
for s in THA MYS; do printf 'state "%s" { name = "%s" }\nallow "all" { }\n' "$s" "$s" >"$TMP/policies/$s.lua"; done
Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Load limits on the federated search"}'
slow_search() { # in the background, answer in $1
  curl -s -o "$1" "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_IDN" \
    -H 'Content-Type: application/json' -d "$Q" &
  BG=$!
  wait_leg_in_flight THA # THA answers after 1.5 s
}

# concurrency = 1: while one search waits on the slow node, the next is refused.
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_SLOW/search\" },"
write_hub_config 'limits = { concurrency = 1 }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
slow_search "$TMP/first"
out=$(curl -s -i "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_IDN" -H 'Content-Type: application/json' -d "$Q")
grep -q '^HTTP/1.1 429' <<<"$out" || fail "over the concurrency limit: 429"
grep -qi '^retry-after: 1' <<<"$out" || fail "429 has Retry-After"
grep -q '"code":"overloaded"' <<<"$out" || fail "429 code overloaded"
wait $BG
expect_eq "the search in flight finished" "$($PY -c "import json; print(json.load(open('$TMP/first'))['states'][0]['outcome'])")" shared
expect_eq "accepted again" "$(search "$ANALYST_IDN" "$Q")" 200
pass "over limits.concurrency: 429 overloaded with Retry-After"
stop_cleanly "$HUB_PID" hub

# max_legs = 1 for THA: a second search finds THA unavailable, MYS still shares.
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_SLOW/search\", max_legs = 1 },
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },"
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
slow_search "$TMP/first"
expect_eq "second search" "$(search "$ANALYST_IDN" "$Q")" 200
expect_eq "THA over max_legs" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="THA"][0]')" unavailable
expect_eq "MYS still answers" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" shared
wait $BG
pass "a state over max_legs is unavailable; the others answer"
