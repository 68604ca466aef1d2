#!/usr/bin/env bash
# fedbroker node: the national node protocol over HTTP/1.1 and h2c, `limit`, request
# validation, /stats counting, --fail-rate (all, none, deterministic by seed),
# --latency, a client that gives up early, and a clean exit on SIGTERM.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

"$FEDBROKER" demo-data --out "$TMP/data" >/dev/null
DB=$TMP/data/MYS.db
# Three different records to search for: one by document, one by phone, one by both.
read -r ID1 DOC1 ID2 PHONE2 < <($PY - "$DB" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
recs = [json.loads(j) for (j,) in db.execute("select json from records order by rid")]
d = next(r for r in recs if r.get("documents"))
p = next(r for r in recs if r.get("phones") and r["id"] != d["id"] and not r.get("documents"))
print(d["id"], d["documents"][0]["number"], p["id"], p["phones"][0])
PY
)
[ -n "$PHONE2" ] || fail "demo data has no suitable records"

launch_node ok --data "$DB"
URL=http://127.0.0.1:$NODE_PORT
post() { curl -s -m 10 -X POST -H 'content-type: application/json' -w '\n%{http_code}' "$@"; }

req=$(jq -nc --arg d "$DOC1" '{query_id:"q-1", subject:{document:$d}, purpose:"prosecution",
  priority:"urgent", legal_basis:"mla_treaty", requester:{state:"IDN", agency:"POLRI"}, limit:10}')
out=$(post -d "$req" "$URL/search")
expect_eq "HTTP/1.1 search status" "$(tail -n1 <<<"$out")" 200
expect_eq "HTTP/1.1 document hit" "$(head -n1 <<<"$out" | jq -c '[.records[].id]')" "[\"$ID1\"]"
pass "document search over HTTP/1.1 returns the matching record"

out=$(curl -s -m 10 --http2-prior-knowledge -d "$req" -w '\n%{http_code} %{http_version}' "$URL/search")
expect_eq "h2c search status" "$(tail -n1 <<<"$out")" "200 2"
expect_eq "h2c document hit" "$(head -n1 <<<"$out" | jq -c '[.records[].id]')" "[\"$ID1\"]"
pass "document search over h2c returns the matching record"

out=$(post -d "$req" "$URL/")
expect_eq "POST / also searches" "$(head -n1 <<<"$out" | jq -r '.records[0].id')" "$ID1"
pass "POST / is the same as POST /search"

both=$(jq -nc --arg d "$DOC1" --arg p "$PHONE2" '{subject:{document:$d, phone:$p}, purpose:"investigation"}')
out=$(post -d "$both" "$URL/search")
expect_eq "two criteria, default limit" "$(head -n1 <<<"$out" | jq -c '[.records[].id] | sort')" \
  "$(jq -nc --arg a "$ID1" --arg b "$ID2" '[$a, $b] | sort')"
out=$(post -d "$(jq -c '.limit = 1' <<<"$both")" "$URL/search")
expect_eq "limit 1" "$(head -n1 <<<"$out" | jq '.records | length')" 1
expect_eq "limit keeps the strongest (exact document first)" "$(head -n1 <<<"$out" | jq -r '.records[0].id')" "$ID1"
pass "limit is honoured"

out=$(post -d '{"subject":{"document":"NO-SUCH-DOC-999"},"purpose":"intelligence"}' "$URL/search")
expect_eq "no hit" "$(head -n1 <<<"$out")" '{"records":[]}'
pass "no hit gives an empty records array"

# Validation: 400 with the API.md error shape; each of these still counts as received.
check_400() {
  local what=$1 body=$2 code=$3 field=$4 out
  out=$(post -d "$body" "$URL/search")
  expect_eq "$what: status" "$(tail -n1 <<<"$out")" 400
  expect_eq "$what: code" "$(head -n1 <<<"$out" | jq -r .error.code)" "$code"
  expect_eq "$what: field" "$(head -n1 <<<"$out" | jq -r '.error.field // ""')" "$field"
}
check_400 "not JSON" '{"subject":' invalid_json ""
check_400 "empty body" '' invalid_json ""
check_400 "not an object" '[1,2]' invalid_request ""
check_400 "no subject" '{"purpose":"prosecution"}' invalid_request subject
check_400 "subject not an object" '{"subject":"A123"}' invalid_request subject
check_400 "limit 0" '{"subject":{"document":"X"},"limit":0}' invalid_request limit
check_400 "limit too large" '{"subject":{"document":"X"},"limit":100000}' invalid_request limit
check_400 "limit not an integer" '{"subject":{"document":"X"},"limit":"5"}' invalid_request limit
check_400 "duplicate key" '{"subject":{"document":"X"},"subject":{}}' invalid_json ""
pass "bad requests get 400 with code and field"

out=$(curl -s -m 5 -w ' %{http_code}' "$URL/search")
expect_eq "GET /search" "${out##* }" 405
pass "GET /search is 405"

# Requests so far: 3 (doc) + 2 (two criteria) + 1 (no hit) + 9 (bad) = 15.
stats=$(curl -s -m 5 "$URL/stats")
expect_eq "stats requests" "$(jq .requests <<<"$stats")" 15
expect_eq "stats prosecution" "$(jq .by_purpose.prosecution <<<"$stats")" 4
expect_eq "stats investigation" "$(jq .by_purpose.investigation <<<"$stats")" 2
expect_eq "stats intelligence" "$(jq .by_purpose.intelligence <<<"$stats")" 1
post -d '{"subject":{"document":"X"},"purpose":"made_up_purpose"}' "$URL/search" >/dev/null
expect_eq "unknown purposes count as other" "$(curl -s -m 5 "$URL/stats" | jq -c '[.requests, .by_purpose.other]')" "[16,1]"
pass "/stats counts every search request, by purpose"

# A client that gives up while the node waits must not disturb it (abort path).
stop_cleanly "$NODE_PID" ok
launch_node latency --data "$DB" --latency 400
URL=http://127.0.0.1:$NODE_PORT
t=$(curl -s -m 10 -o "$TMP/lat.json" -w '%{http_code} %{time_total}' -X POST -d "$req" "$URL/search")
expect_eq "latency status" "${t% *}" 200
$PY -c "import sys; t=float(sys.argv[1]); sys.exit(0 if 0.39 <= t < 3 else 1)" "${t#* }" ||
  fail "--latency 400 answered in ${t#* } s"
expect_eq "latency answer" "$(jq -r '.records[0].id' "$TMP/lat.json")" "$ID1"
# Bad requests wait too, like every answer of a node behind a slow link.
t=$(curl -s -m 10 -o /dev/null -w '%{http_code} %{time_total}' -X POST -d 'nope' "$URL/search")
expect_eq "latency 400" "${t% *}" 400
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.39 else 1)" "${t#* }" || fail "400 not delayed"
# Healthz is not delayed.
t=$(curl -s -m 10 -o /dev/null -w '%{time_total}' "$URL/healthz")
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.3 else 1)" "$t" || fail "healthz delayed ($t s)"
# Concurrent searches wait in parallel, not in a queue: 8 at once take ~0.4 s, not 3.2 s.
start=$(date +%s.%N)
CURLS=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -m 10 -o /dev/null -X POST -d "$req" "$URL/search" &
  CURLS+=($!)
done
wait_all=0
for j in "${CURLS[@]}"; do wait "$j" || wait_all=1; done
[ $wait_all -eq 0 ] || fail "a concurrent search failed"
$PY -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) < 2 else 1)" "$start" "$(date +%s.%N)" ||
  fail "concurrent delayed searches were serialised"
if curl -s -m 0.1 -o /dev/null -X POST -d "$req" "$URL/search"; then fail "curl -m 0.1 should time out"; fi
if curl -s --http2-prior-knowledge -m 0.1 -o /dev/null -X POST -d "$req" "$URL/search"; then fail "h2c -m 0.1 should time out"; fi
# The aborted searches are counted once their bodies are in.
requests() { curl -s -m 5 "$URL/stats" | jq .requests; }
expect_eq "after aborts" "$(poll_eq 12 requests)" 12
pass "--latency delays each search answer without blocking the loop; aborts are harmless"
stop_cleanly "$NODE_PID" latency

# --fail-rate 1: every search fails with 500; health and stats still answer.
launch_node fail1 --data "$DB" --fail-rate 1
URL=http://127.0.0.1:$NODE_PORT
for i in 1 2 3; do
  out=$(post -d "$req" "$URL/search")
  expect_eq "fail-rate 1 status" "$(tail -n1 <<<"$out")" 500
  expect_eq "fail-rate 1 code" "$(head -n1 <<<"$out" | jq -r .error.code)" internal
done
expect_eq "fail-rate 1 counted" "$(curl -s -m 5 "$URL/stats" | jq .requests)" 3
pass "--fail-rate 1 answers 500"
stop_cleanly "$NODE_PID" fail1

# --fail-rate 0.5: a mix, and the same seed gives the same sequence.
codes() {
  local s=""
  for i in $(seq 1 24); do s+=$(curl -s -m 5 -o /dev/null -w '%{http_code},' -X POST -d "$req" "$URL/search"); done
  echo "$s"
}
launch_node half_a --data "$DB" --fail-rate 0.5 --seed 42
URL=http://127.0.0.1:$NODE_PORT; A=$(codes); PID_A=$NODE_PID
launch_node half_b --data "$DB" --fail-rate 0.5 --seed 42
URL=http://127.0.0.1:$NODE_PORT; B=$(codes); PID_B=$NODE_PID
launch_node half_c --data "$DB" --fail-rate 0.5 --seed 7
URL=http://127.0.0.1:$NODE_PORT; C=$(codes); PID_C=$NODE_PID
expect_eq "same seed, same failures" "$A" "$B"
[[ "$A" == *200* && "$A" == *500* ]] || fail "fail-rate 0.5 gave no mix: $A"
[ "$A" != "$C" ] || fail "another seed gave the same 24 draws"
pass "--fail-rate 0.5 fails some, deterministically by --seed"
stop_cleanly "$PID_A" half_a; stop_cleanly "$PID_B" half_b; stop_cleanly "$PID_C" half_c
