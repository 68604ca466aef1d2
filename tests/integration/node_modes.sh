#!/usr/bin/env bash
# fedbroker node: command-line errors and every --mode (docs/node.md): invalid_json,
# bad_record, oversized, reset, status500, slow — over HTTP/1.1 and h2c — and a stop
# while a slow answer is pending.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

"$FEDBROKER" demo-data --out "$TMP/data" >/dev/null
DB=$TMP/data/THA.db
DOC=$($PY - "$DB" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (j,) in db.execute("select json from records order by rid"):
    r = json.loads(j)
    if r.get("documents"):
        print(r["documents"][0]["number"]); break
PY
)
REQ=$(jq -nc --arg d "$DOC" '{subject:{document:$d}, purpose:"prosecution", limit:5}')

# -- command line --
grep -q -- '--fail-rate' <<<"$("$FEDBROKER" node --help)" || fail "--help does not describe --fail-rate"
usage_error() {
  local rc=0 err
  err=$("$FEDBROKER" node "$@" 2>&1 >/dev/null) || rc=$?
  expect_eq "exit status of 'node $*'" "$rc" 2
  grep -q '^usage: fedbroker node' <<<"$err" || fail "no usage after 'node $*'"
}
usage_error
usage_error --data "$DB"
usage_error --listen 127.0.0.1:0
usage_error --data "$DB" --listen 127.0.0.1:0 --fail-rate 1.5
usage_error --data "$DB" --listen 127.0.0.1:0 --fail-rate abc
usage_error --data "$DB" --listen 127.0.0.1:0 --latency -5
usage_error --data "$DB" --listen 127.0.0.1:0 --mode chaos
usage_error --data "$DB" --listen 127.0.0.1:0 --tls only-a-cert.pem
usage_error --data "$DB" --listen 127.0.0.1:0 --workers 0
usage_error --data "$DB" --listen 127.0.0.1:0 --bogus
usage_error --data "$DB" --listen
rc=0; err=$("$FEDBROKER" node --data "$TMP/missing.db" --listen 127.0.0.1:0 2>&1) || rc=$?
expect_eq "missing database exit" "$rc" 1
grep -q "cannot open" <<<"$err" || fail "missing database message: $err"
echo "not a database" >"$TMP/junk.db"
rc=0; "$FEDBROKER" node --data "$TMP/junk.db" --listen 127.0.0.1:0 2>/dev/null || rc=$?
expect_eq "junk database exit" "$rc" 1
rc=0; err=$("$FEDBROKER" node --data "$DB" --listen 127.0.0.1:99999 2>&1) || rc=$?
expect_eq "bad address exit" "$rc" 1
grep -q "cannot listen on" <<<"$err" || fail "bad address message: $err"
pass "command line: --help, usage errors (exit 2), start-up errors (exit 1)"

# -- invalid_json --
launch_node invalid_json --data "$DB" --mode invalid_json
for proto in --http1.1 --http2-prior-knowledge; do
  code=$(curl -s -m 5 $proto -o "$TMP/body" -w '%{http_code}' -X POST -d "$REQ" "$URL/search")
  expect_eq "invalid_json $proto status" "$code" 200
  if jq . "$TMP/body" >/dev/null 2>&1; then fail "invalid_json $proto: body parsed as JSON"; fi
  grep -q '^{"records":\[' "$TMP/body" || fail "invalid_json: body does not look like a start of records"
done
expect_eq "invalid_json: bad requests are still 400" \
  "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -d '{}' "$URL/search")" 400
pass "--mode invalid_json answers 200 with a truncated JSON body"
stop_cleanly "$NODE_PID" invalid_json

# -- bad_record --
launch_node bad_record --data "$DB" --mode bad_record
out=$(curl -s -m 5 -X POST -d "$REQ" "$URL/search")
expect_eq "bad_record: records" "$(jq '.records | length' <<<"$out")" 1
expect_eq "bad_record: no id" "$(jq '[.records[] | has("id")] | any' <<<"$out")" false
expect_eq "bad_record: still the record" "$(jq -r '.records[0].documents[0].number' <<<"$out")" "$DOC"
out=$(curl -s -m 5 --http2-prior-knowledge -X POST -d '{"subject":{"document":"NONE-0"}}' "$URL/search")
expect_eq "bad_record on no hit" "$(jq -c '[(.records | length), (.records[0] | has("id"))]' <<<"$out")" "[1,false]"
pass "--mode bad_record answers records without an id"
stop_cleanly "$NODE_PID" bad_record

# -- oversized --
launch_node oversized --data "$DB" --mode oversized
for proto in --http1.1 --http2-prior-knowledge; do
  out=$(curl -s -m 20 $proto -o "$TMP/big" -w '%{http_code} %{size_download}' -X POST -d "$REQ" "$URL/search")
  expect_eq "oversized $proto" "$out" "200 9437184"
  $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["records"] == [] else 1)' "$TMP/big" ||
    fail "oversized: the 9 MiB body is not the expected valid JSON"
done
pass "--mode oversized answers a valid 9 MiB JSON body"
stop_cleanly "$NODE_PID" oversized

# -- reset --
launch_node reset --data "$DB" --mode reset
expect_eq "reset: healthz" "$(curl -s -m 5 "$URL/healthz")" '{"status":"ok"}'
for proto in --http1.1 --http2-prior-knowledge; do
  rc=0; curl -s -m 5 $proto -o "$TMP/r" -X POST -d "$REQ" "$URL/search" || rc=$?
  # 56 receive failure (reset), 55 send failure (reset while still sending), 52 empty
  # reply: which one depends on timing. Never an HTTP answer.
  [ $rc -eq 56 ] || [ $rc -eq 55 ] || [ $rc -eq 52 ] || fail "reset $proto: curl exit $rc"
  [ ! -s "$TMP/r" ] || fail "reset $proto: got a body"
done
rc=0; curl -s -m 5 -o /dev/null -X POST -d "$REQ" "$URL/" || rc=$?
[ $rc -eq 56 ] || [ $rc -eq 55 ] || [ $rc -eq 52 ] || fail "reset POST /: curl exit $rc"
# HTTP/1.1 searches are counted (their body arrived); the h2c one is reset at the preface.
expect_eq "reset: stats" "$(curl -s -m 5 "$URL/stats" | jq -c '[.requests, .by_purpose.prosecution, .mode]')" \
  '[2,2,"reset"]'
pass "--mode reset resets search connections without an answer, still counts them"
stop_cleanly "$NODE_PID" reset

# -- status500 --
launch_node status500 --data "$DB" --mode status500
for proto in --http1.1 --http2-prior-knowledge; do
  out=$(curl -s -m 5 $proto -w ' %{http_code}' -X POST -d "$REQ" "$URL/search")
  expect_eq "status500 $proto" "${out##* }" 500
  expect_eq "status500 body" "$(jq -r .error.code <<<"${out% *}")" internal
done
pass "--mode status500 answers 500"
stop_cleanly "$NODE_PID" status500

# -- slow: a client with a deadline gives up; stopping the node does not wait 60 s --
launch_node slow --data "$DB" --mode slow
rc=0; curl -s -m 1 -o /dev/null -X POST -d "$REQ" "$URL/search" || rc=$?
expect_eq "slow: the client times out" "$rc" 28
curl -s -m 30 -o /dev/null --http2-prior-knowledge -X POST -d "$REQ" "$URL/search" &
PENDING=$!
# The node holds the search once its stats count it.
requests() { curl -s -m 1 "$URL/stats" | jq .requests; }
expect_eq "slow: stats" "$(poll_eq 2 requests)" 2
expect_eq "slow: healthz is not delayed" "$(curl -s -m 1 "$URL/healthz")" '{"status":"ok"}'
start=$(date +%s)
stop_cleanly "$NODE_PID" slow
[ $(($(date +%s) - start)) -le 4 ] || fail "stopping with a slow answer pending took too long"
wait "$PENDING" 2>/dev/null || true
pass "--mode slow holds answers; a stop closes them after the grace period"
