#!/usr/bin/env bash
# workers = 2: both event loops accept connections (the kernel spreads them over the
# SO_REUSEPORT listeners; /metrics counts per worker), searches answer on either, and a
# policy hot reload reaches every worker: after it, searches over fresh connections
# served by both workers all see the new policy. Shutdown is clean.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
unset FEDBROKER_WORKERS # the config file says how many
setup_hub_env
start_node THA "$TMP/data/THA.db"
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
allow "all" { }
LUA
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_THA/search\" },"
write_hub_config 'workers = 2'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
grep -q '2 event-loop workers' "$TMP/hub.log" || fail "the hub did not start 2 workers"

# accepted WORKER: connections worker WORKER accepted so far (0 when never).
accepted() {
  curl -s "http://127.0.0.1:$HUB_PORT/metrics" |
    awk -v w="$1" '$1 == "fedbroker_worker_connections_total{worker=\"" w "\"}" { print $2; f = 1 } END { if (!f) print 0 }'
}
Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Workers spread the load"}'
# outcome: one search on a fresh connection, its THA outcome.
outcome() {
  curl -s "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_IDN" \
    -H 'Content-Type: application/json' -d "$Q" | $PY -c 'import json,sys; print(json.load(sys.stdin)["states"][0]["outcome"])'
}

# Fresh connections until both workers accepted some (each curl is a new connection
# from a new source port; the kernel's hash spreads them). Bounded.
for i in $(seq 1 200); do
  [ "$(outcome)" = shared ] || fail "search $i was not shared under allow-all"
  if [ $((i % 10)) -eq 0 ] && awk "BEGIN{exit !($(accepted 0) > 0 && $(accepted 1) > 0)}"; then break; fi
done
a0=$(accepted 0)
a1=$(accepted 1)
awk "BEGIN{exit !($a0 > 0 && $a1 > 0)}" || fail "connections were not spread: worker 0 accepted $a0, worker 1 $a1"
pass "both workers accept connections and answer searches (worker 0: $a0, worker 1: $a1)"

# Process-wide counters are summed: every search so far is in fedbroker_searches_total.
total=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics" | awk '$1 == "fedbroker_searches_total{complete=\"true\"}" { print $2 }')
[ "$total" = "$i" ] || fail "fedbroker_searches_total is $total after $i searches"
pass "searches of both workers are counted once each ($total)"

# Hot reload (asked through the API, on whichever worker) to deny; every later search, on either worker, is denied.
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
deny "closed for maintenance" { reason = "Thailand is not sharing today." }
LUA
code=$(curl -s -o "$TMP/reload" -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" \
  -H "Authorization: Bearer $ADMIN")
expect_eq "POST /v1/admin/reload" "$code" 200
b0=$(accepted 0)
b1=$(accepted 1)
for j in $(seq 1 200); do
  [ "$(outcome)" = denied ] || fail "search $j after the reload was not denied"
  if [ $((j % 10)) -eq 0 ] && awk "BEGIN{exit !($(accepted 0) > $b0 && $(accepted 1) > $b1)}"; then break; fi
done
awk "BEGIN{exit !($(accepted 0) > $b0 && $(accepted 1) > $b1)}" || fail "after the reload not both workers served"
pass "a policy reload reaches every worker ($j searches after it, all denied, both workers served)"

stop_cleanly "$HUB_PID" hub
grep -q '"trigger":"api"' "$TMP/audit.jsonl" || fail "the reload was not audited"
"$FEDBROKER" audit verify "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" >/dev/null 2>&1 ||
  fail "the audit chain written by two workers does not verify"
pass "clean shutdown; the audit chain written by both workers verifies"
