#!/usr/bin/env bash
# Hot reload: a changed policy file is picked up by itself (file watch), SIGHUP reloads
# too, each reload is audited with its trigger, and a search in flight finishes under
# the policy it started with.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
start_node SLOW "$TMP/data/THA.db" --latency 1500
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
allow "all" { }
LUA
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_SLOW/search\" },"
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
sha() { curl -s "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN" |
  $PY -c 'import json,sys; print(json.load(sys.stdin)["states"][0]["policy"]["sha256"])'; }
before=$(sha)

# A search starts under "allow all"; while it waits on the slow node the file changes to
# deny everything. The search in flight still shares; the next one is denied.
Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Reload while a search is in flight"}'
curl -s -o "$TMP/inflight" "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_IDN" \
  -H 'Content-Type: application/json' -d "$Q" &
inflight=$!
wait_leg_in_flight THA # THA answers after 1.5 s
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
deny "closed for maintenance" { reason = "Thailand is not sharing today." }
LUA
for i in $(seq 1 60); do [ "$(sha)" != "$before" ] && break; sleep 0.05; done
[ "$(sha)" != "$before" ] || fail "the changed file was not reloaded"
wait $inflight
expect_eq "in-flight search kept its policy" "$($PY -c "import json; print(json.load(open('$TMP/inflight'))['states'][0]['outcome'])")" shared
search "$ANALYST_IDN" "$Q" >/dev/null
expect_eq "next search uses the new policy" "$(pyq 'd["states"][0]["outcome"]')" denied
pass "file change reloads; a search in flight finishes under its old policy"

after=$(sha)
printf '\n-- touched\n' >>"$TMP/policies/THA.lua"
kill -HUP "$HUB_PID"
for i in $(seq 1 60); do grep -q '"trigger":"sighup"' "$TMP/audit.jsonl" && break; sleep 0.05; done
grep -q '"trigger":"sighup"' "$TMP/audit.jsonl" || fail "SIGHUP reload not audited"
grep -q '"trigger":"file_change"' "$TMP/audit.jsonl" || fail "file-change reload not audited"
pass "SIGHUP reloads; every reload is audited with its trigger"
