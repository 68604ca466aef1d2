#!/usr/bin/env bash
# The hub against misbehaving nodes: each `fedbroker node --mode` (and --fail-rate,
# --latency past the deadline) must make that one state `error` or `timeout` while the
# others still answer, and the node must show that it was asked.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

"$FEDBROKER" demo-data --out "$TMP/data" >/dev/null
mkdir -p "$TMP/keys" "$TMP/var"
openssl genpkey -algorithm ed25519 -out "$TMP/keys/issuer.pem" 2>/dev/null
openssl pkey -in "$TMP/keys/issuer.pem" -pubout -out "$TMP/keys/issuer.pub.pem"
openssl rand -hex 32 >"$TMP/keys/redaction.key"
ISS=https://idp.test.example
TOKEN=$("$FEDBROKER" token --key "$TMP/keys/issuer.pem" --iss "$ISS" --sub analyst-mys-1 \
  --state MYS --roles analyst --agency "Royal Malaysia Police")

declare -A PORT NPID
# run_round "IDN-ARGS" "THA-ARGS" "BGD-ARGS": nodes with those extra arguments, a hub on
# them, one urgent treaty-based search from MYS; leaves the answer in $BODY.
run_round() {
  local args=("$@") i=0 s
  local states=(IDN THA BGD)
  for i in 0 1 2; do
    s=${states[$i]}
    PORT[$s]=$(free_port)
    # shellcheck disable=SC2086
    "$FEDBROKER" node --data "$TMP/data/$s.db" --listen "127.0.0.1:${PORT[$s]}" ${args[$i]} \
      2>>"$TMP/node-$s.log" &
    NPID[$s]=$!
    PIDS+=($!)
  done
  for s in IDN THA BGD; do wait_http "http://127.0.0.1:${PORT[$s]}/healthz"; done
  HP=$(free_port)
  cat >"$TMP/hub.lua" <<LUA
listen = { { address = "127.0.0.1:$HP" } }
policies = "$FB_SOURCE_DIR/policies"
audit = { path = "$TMP/var/audit-$HP.jsonl" }
issuers = { { iss = "$ISS", key = "$TMP/keys/issuer.pub.pem" } }
redaction_key = "$TMP/keys/redaction.key"
deadlines = { immediate = 2000, urgent = 1500, routine = 15000 }
states = {
  MYS = { adapter = "sqlite", path = "$TMP/data/MYS.db" },
  IDN = { adapter = "http", url = "http://127.0.0.1:${PORT[IDN]}/search" },
  THA = { adapter = "http", url = "http://127.0.0.1:${PORT[THA]}/search" },
  BGD = { adapter = "http", url = "http://127.0.0.1:${PORT[BGD]}/search" },
}
LUA
  start_hub "$TMP/hub.lua"
  i=0
  until [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/readyz")" = 200 ]; do
    i=$((i + 1))
    kill -0 "$HUB_PID" 2>/dev/null || { tail -20 "$TMP/hub.log" >&2; fail "the hub exited"; }
    [ $i -gt 200 ] && fail "the hub never became ready"
    sleep 0.05
  done
  local out
  out=$(curl -s -m 20 -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -w '\n%{http_code}' "http://127.0.0.1:$HP/v1/search" -d '{"subject": {"document": "A12345678"},
    "purpose": "prosecution", "priority": "urgent", "legal_basis": "mla_treaty",
    "justification": "Node fault test: facilitator in case MY-2026-0042", "case_ref": "MY-2026-0042",
    "states": ["IDN", "THA", "BGD"]}') || true
  kill -0 "$HUB_PID" 2>/dev/null || { grep -v '^{' "$TMP/hub.log" | head -30 >&2; fail "the hub died"; }
  expect_eq "search status" "$(tail -n1 <<<"$out")" 200
  BODY=$(sed '$d' <<<"$out")
}

# outcome STATE -> that state's outcome in $BODY
outcome() { jq -r --arg s "$1" '.states[] | select(.state == $s) | .outcome' <<<"$BODY"; }
asked() { curl -s -m 5 "http://127.0.0.1:${PORT[$1]}/stats" | jq .requests; }
stop_round() {
  kill "$HUB_PID" "${NPID[IDN]}" "${NPID[THA]}" "${NPID[BGD]}" 2>/dev/null || true
  wait "$HUB_PID" "${NPID[IDN]}" "${NPID[THA]}" "${NPID[BGD]}" 2>/dev/null || true
}

run_round "--mode invalid_json" "--mode bad_record" "--mode oversized"
for s in IDN THA BGD; do
  expect_eq "$s outcome" "$(outcome $s)" error
  expect_eq "$s was asked" "$(asked $s)" 1
done
pass "invalid_json, bad_record and oversized nodes each make their state 'error'"
stop_round

run_round "--mode reset" "--mode status500" ""
expect_eq "IDN (reset)" "$(outcome IDN)" error
expect_eq "THA (status500)" "$(outcome THA)" error
expect_eq "BGD (ok) unaffected" "$(outcome BGD)" shared
for s in IDN THA BGD; do expect_eq "$s was asked" "$(asked $s)" 1; done
pass "reset and status500 nodes make their state 'error'; a healthy one still shares"
stop_round

run_round "--mode slow" "--latency 3000" "--fail-rate 1"
expect_eq "IDN (slow)" "$(outcome IDN)" timeout
expect_eq "THA (latency past the deadline)" "$(outcome THA)" timeout
expect_eq "BGD (fail-rate 1)" "$(outcome BGD)" error
expect_eq "partial answer" "$(jq .complete <<<"$BODY")" false
pass "slow and late nodes give 'timeout' at the deadline; --fail-rate 1 gives 'error'"
stop_round
