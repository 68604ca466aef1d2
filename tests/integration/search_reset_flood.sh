#!/usr/bin/env bash
# Reset searches (issue 9, finding 3): an HTTP/2 client opens /v1/search streams to a
# slow state and resets them in a loop. A reset frees the search's slot at once, one
# identity holds at most limits.per_identity searches, its abandoned searches are
# bounded per minute (then 429 with Retry-After), and they are audited compactly. 24
# other analysts searching meanwhile all get 200 within 1 s.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
start_node SLOW "$TMP/data/THA.db" --latency 2000
for s in THA MYS; do printf 'state "%s" { name = "%s" }\nallow "all" { }\n' "$s" "$s" >"$TMP/policies/$s.lua"; done
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_SLOW/search\" },
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },"
# concurrency = 64: without the per-identity limit one client could hold all of it.
write_hub_config 'limits = { concurrency = 64, per_identity = 8, aborts_per_minute = 100 }
deadlines = { immediate = 5000, urgent = 5000, routine = 5000 }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"

mint="$FEDBROKER token --key $TMP/keys/issuer.pem --iss https://idp.test --state IDN --roles analyst"
TOKENS=()
for i in $(seq 1 24); do TOKENS+=("$($mint --sub "analyst-$i")"); done
HOLDER=$($mint --sub holder)
SLOW_Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Reset flood against a slow state","states":["THA"]}'
FAST_Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"A normal analyst searching meanwhile","states":["MYS"]}'
audit_lines() { wc -l <"$TMP/audit.jsonl"; }
lines0=$(audit_lines)

# The flood: one HTTP/2 connection, 3 s of (HEADERS + DATA + RST_STREAM) batches, 4
# searches left open (not reset) to hold half of the identity's in-flight quota. At the
# end another identity opens 4 searches to the slow state and resets them, its
# connection still open: their legs and slots must be free at once.
$PY - "$HUB_PORT" "$FB_SOURCE_DIR/tests/lib" "$ANALYST_MYS" "$SLOW_Q" "$HOLDER" "$TMP/gone" >"$TMP/flood.out" <<'PY' &
import socket, sys, time
sys.path.insert(0, sys.argv[2])
import h2raw
port, token, body = int(sys.argv[1]), sys.argv[3], sys.argv[4].encode()
def headers_for(token):
    return (b"\x83\x86" + h2raw.literal(4, "/v1/search") + h2raw.literal(1, "localhost") +
            h2raw.literal_new("authorization", "Bearer " + token) + h2raw.literal_new("content-type", "application/json"))
block = headers_for(token)
s = h2raw.connect(port)
s.settimeout(0.001)
def post(sid, reset):
    out = h2raw.headers_frame(sid, block, end_stream=False) + h2raw.data_frame(sid, body, end_stream=True)
    return out + (h2raw.rst_stream(sid) if reset else b"")
sid, sent, end = 1, 0, time.time() + 3
out = b""
for k in range(4):
    out += post(sid, False)
    sid += 2
s.sendall(out)
while time.time() < end:
    out = b""
    for k in range(20):
        out += post(sid, True)
        sid += 2
        sent += 1
    try:
        s.sendall(out)
        while s.recv(65536):
            pass
    except (socket.timeout, BlockingIOError):
        pass
    except OSError:  # the hub ended the connection (a flood limit): come back, as an attacker would
        s = h2raw.connect(port)
        s.settimeout(0.001)
        sid = 1
    time.sleep(0.01)
s.close()
# The holder: 4 searches to the slow state (2 s), reset after 0.4 s; the connection
# stays open while the hub's gauges are watched.
import urllib.request
block = headers_for(sys.argv[5])
h = h2raw.connect(port)
h.sendall(b"".join(h2raw.headers_frame(i, block, end_stream=False) + h2raw.data_frame(i, body, end_stream=True)
                   for i in (1, 3, 5, 7)))
def gauges():
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port).read().decode()
    v = {l.split()[0]: float(l.split()[1]) for l in m.splitlines() if l and not l.startswith("#")}
    return v.get("fedbroker_searches_in_flight"), v.get('fedbroker_legs_in_flight{state="THA"}')
start = time.time()
while gauges() != (4, 4) and time.time() - start < 1.5:  # all 4 waiting on the slow state
    time.sleep(0.02)
gone = "not started: %s" % (gauges(),)
if gauges() == (4, 4):
    gone = "never"
    h.sendall(b"".join(h2raw.rst_stream(i) for i in (1, 3, 5, 7)))
    start = time.time()
    while time.time() - start < 1.5:
        if gauges() == (0, 0):
            gone = "%.2f" % (time.time() - start)
            break
        time.sleep(0.02)
open(sys.argv[6], "w").write(gone)
h.close()
print(sent)
PY
flood=$!
sleep 0.5

# 24 analysts, each its own identity, all at once while the flood runs.
CURLS=()
for i in $(seq 0 23); do
  curl -s -o "$TMP/normal-$i.json" -w '%{http_code} %{time_total}\n' --max-time 5 \
    "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer ${TOKENS[$i]}" \
    -H 'Content-Type: application/json' -d "$FAST_Q" >"$TMP/normal-$i.out" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
for i in $(seq 0 23); do
  read -r code t <"$TMP/normal-$i.out"
  [ "$code" = 200 ] || fail "analyst $i got $code during the reset flood: $(cat "$TMP/normal-$i.json")"
  awk -v t="$t" 'BEGIN { exit !(t < 1.0) }' || fail "analyst $i waited $t s during the reset flood"
done
pass "24 analysts all answered 200 within 1 s during the reset flood"
wait $flood || fail "flood client failed"
sent=$(cat "$TMP/flood.out")
[ "$sent" -ge 200 ] || fail "the flood sent only $sent reset searches"

# The holder's reset searches: legs and slots free at once, long before the slow
# state (2 s) would have answered.
gone=$(cat "$TMP/gone")
[[ "$gone" =~ ^[0-9.]+$ ]] && awk -v t="$gone" 'BEGIN { exit !(t < 0.5) }' ||
  fail "reset searches still in flight ($gone s after RST_STREAM; the slow state answers after 2 s)"
pass "RST_STREAM freed the searches' legs and slots at once (${gone} s)"

# The abandoned searches are bounded: over aborts_per_minute the flooder gets 429 with
# a Retry-After of some seconds, though it has nothing in flight any more.
out=$(curl -s -i "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_MYS" \
  -H 'Content-Type: application/json' -d "$FAST_Q")
grep -q '^HTTP/1.1 429' <<<"$out" || fail "over aborts_per_minute: 429 (got: $(echo "$out" | head -1))"
grep -q 'abandoned' <<<"$out" || fail "429 says why"
ra=$(echo "$out" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }' | tr -d '\r')
[ "$ra" -ge 2 ] || fail "Retry-After for abandoned searches: '$ra'"
pass "over aborts_per_minute the flooding identity gets 429 (Retry-After $ra s); others are unaffected"

# Audited: each abandoned search that started is in the log, compactly.
$PY - "$TMP/audit.jsonl" "$lines0" <<'PY' || fail "audit entries of abandoned searches"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
aborted = [e for e in map(json.loads, lines) if e.get("event") == "search" and e.get("client_aborted")]
flooder = [e for e in aborted if e["requester"]["sub"] == "a.mys"]
assert 100 <= len(flooder) <= 100 + 4, "abandoned searches audited: %d (aborts_per_minute = 100)" % len(flooder)
assert len([e for e in aborted if e["requester"]["sub"] == "holder"]) == 4, "the holder's 4 reset searches"
for e in aborted:
    assert e["subject"] and e["purpose"] == "prosecution" and e["justification"], e
    for st in e["states"]:
        assert set(st) == {"state", "outcome"}, st
full = [e for e in map(json.loads, lines) if e.get("event") == "search" and not e.get("client_aborted")]
print("ok - %d abandoned searches audited, %d bytes each on average (a completed one: %d)" %
      (len(aborted), sum(len(json.dumps(e)) for e in aborted) // len(aborted),
       sum(len(json.dumps(e)) for e in full) // max(len(full), 1)))
PY
# Per-identity limit on its own: 8 searches in flight from one analyst, the 9th is 429.
CURLS=()
for i in $(seq 1 8); do
  curl -s -o /dev/null "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer ${TOKENS[0]}" \
    -H 'Content-Type: application/json' -d "$SLOW_Q" &
  CURLS+=($!)
done
for i in $(seq 1 50); do
  n=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics" | awk '$1 == "fedbroker_searches_in_flight" { print $2 }')
  [ "${n%.*}" = 8 ] && break
  sleep 0.05
done
code=$(curl -s -o "$TMP/ninth" -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/v1/search" \
  -H "Authorization: Bearer ${TOKENS[0]}" -H 'Content-Type: application/json' -d "$FAST_Q")
expect_eq "9th search of one identity (per_identity = 8)" "$code" 429
grep -q '"code":"overloaded"' "$TMP/ninth" || fail "per-identity 429 code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/v1/search" \
  -H "Authorization: Bearer ${TOKENS[1]}" -H 'Content-Type: application/json' -d "$FAST_Q")
expect_eq "another identity meanwhile" "$code" 200
wait "${CURLS[@]}"
pass "limits.per_identity: the 9th search of one analyst is 429, another analyst is served"
