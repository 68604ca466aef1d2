#!/usr/bin/env bash
# The `broker` adapter between two real hubs. Hub B (`fedbroker serve`) holds MYS
# (sqlite demo data) under its own policy; hub A stands for MYS through hub B
# (adapter "broker", a token minted for hub B's issuer). A search on hub A comes back
# MYS `shared` with B's records, B's redactions still marked; B's policy is applied
# again there (a denial at B is an `error` at A); a bad token and a state B does not
# hold are errors at A; B audits the forwarded request with its justification.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env

# Hub B: its own issuer, policies and audit log.
mkdir -p "$TMP/b/policies" "$TMP/b/keys"
openssl genpkey -algorithm ED25519 -out "$TMP/b/keys/issuer.pem" 2>/dev/null
openssl pkey -in "$TMP/b/keys/issuer.pem" -pubout -out "$TMP/b/keys/issuer.pub.pem" 2>/dev/null
cat >"$TMP/b/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia", contact = { unit = "MY focal point", email = "fp@example.my", channel = "central authority" } }
deny "no intelligence requests through partner hubs" { purpose = "intelligence",
  reason = "Malaysia does not answer intelligence requests through partner hubs." }
allow "everything else" { }
redact "dates of birth keep the year" { fields = { "dob" }, action = "year" }
LUA
printf 'state "IDN" { name = "Indonesia" }\nallow "all" { }\n' >"$TMP/b/policies/IDN.lua"
# Hub B's IDN is a slow national node, so that concurrent legs overlap at hub B.
start_node IDN "$TMP/data/IDN.db" --latency 400
make_pki "$TMP/pki"
B_PORT=$(free_port)
B_TLS=$(free_port)
cat >"$TMP/b/hub.lua" <<LUA
listen = { { address = "127.0.0.1:$B_PORT" },
           { address = "127.0.0.1:$B_TLS", tls = { cert = "$TMP/pki/hub.pem", key = "$TMP/pki/hub.key" } } }
policies = "policies"
audit = { path = "audit.jsonl" }
issuers = { { iss = "https://idp.hub-b", key = "keys/issuer.pub.pem" } }
states = {
  MYS = { adapter = "sqlite", path = "$TMP/data/MYS.db" },
  IDN = { adapter = "http", url = "http://127.0.0.1:$NODE_PORT_IDN/search" },
}
LUA
"$FEDBROKER" token --key "$TMP/b/keys/issuer.pem" --iss https://idp.hub-b --sub hub-a --state IDN \
  --agency "Hub A" --roles analyst >"$TMP/keys/hub-b.jwt"
echo "not-a-token" >"$TMP/keys/bad.jwt"

# Hub A: MYS through hub B; THA with a token hub B refuses; BGD, which hub B does not
# hold; IDN through hub B's TLS listener.
for s in MYS THA BGD IDN; do
  printf 'state "%s" { name = "%s" }\nallow "all" { }\n' "$s" "$s" >"$TMP/policies/$s.lua"
done
STATES_LUA="
  MYS = { adapter = \"broker\", url = \"http://127.0.0.1:$B_PORT/\", token_file = \"keys/hub-b.jwt\" },
  THA = { adapter = \"broker\", url = \"http://127.0.0.1:$B_PORT\", token_file = \"keys/bad.jwt\" },
  BGD = { adapter = \"broker\", url = \"http://127.0.0.1:$B_PORT\", token_file = \"keys/hub-b.jwt\" },
  IDN = { adapter = \"broker\", url = \"https://localhost:$B_TLS\", token_file = \"keys/hub-b.jwt\", ca = \"pki/ca.pem\" },"
write_hub_config ''

"$FEDBROKER" serve --config "$TMP/b/hub.lua" 2>>"$TMP/hub-b.log" &
PIDS+=($!)
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$B_PORT/healthz"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"

J="Suspected facilitator in case MY-2026-0042, boat arrivals in Sabah"
code=$(search "$ANALYST_IDN" "{\"subject\":{\"document\":\"A12345678\"},\"purpose\":\"prosecution\",\"priority\":\"urgent\",\"legal_basis\":\"mla_treaty\",\"justification\":\"$J\",\"case_ref\":\"MY-2026-0042\",\"states\":[\"MYS\"]}")
expect_eq "search status" "$code" 200
expect_eq "MYS outcome" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" shared
expect_eq "MYS records" "$(pyq '[s["records"] for s in d["states"] if s["state"]=="MYS"][0]>=1')" True
expect_eq "records in results" "$(pyq 'sum(1 for r in d["results"] for x in r["records"] if x["state"]=="MYS")>=1')" True
expect_eq "complete" "$(pyq 'd["complete"]')" True
# Hub B cut dob to the year and said so; the mark survives the trip through hub A.
# Every MYS dob shown is a bare year, and at least one is shown (an empty list proves nothing).
expect_eq "MYS dob reduced to the year by hub B" "$(pyq '(lambda ds: len(ds) > 0 and all(len(x) == 4 and x.isdigit() for x in ds))([x["dob"] for r in d["results"] for x in r["records"] if x["state"]=="MYS" and "dob" in x])')" True
expect_eq "B's redactions marked" \
  "$(pyq 'all("dob" in x.get("redacted",[]) for r in d["results"] for x in r["records"] if x["state"]=="MYS" and "dob" in x)')" True
pass "a search on hub A gets MYS shared with hub B's records and redaction marks"

# Hub B audited the forwarded request: requester hub A's token, just MYS, the justification.
$PY - "$TMP/b/audit.jsonl" "$J" <<'PY' || fail "hub B's audit entry"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [e for e in entries if e.get("event") == "search"]
assert len(s) == 1, s
e = s[0]
assert e["requester"]["state"] == "IDN" and e["requester"]["sub"] == "hub-a", e["requester"]
assert [x["state"] for x in e["states"]] == ["MYS"], e["states"]
assert e["states"][0]["outcome"] == "shared", e["states"]
assert e["case_ref"] == "MY-2026-0042", e
assert json.dumps(e).find(sys.argv[2]) >= 0, "justification not forwarded"
PY
pass "hub B audits the request forwarded by hub A, justification included"

# Hub B's policy applies again: MYS denies intelligence requests there, so hub A
# (whose own MYS policy allows everything) reports error and shares nothing.
code=$(search "$ANALYST_IDN" "{\"subject\":{\"document\":\"A12345678\"},\"purpose\":\"intelligence\",\"priority\":\"urgent\",\"legal_basis\":\"mla_treaty\",\"justification\":\"$J\",\"states\":[\"MYS\"]}")
expect_eq "search status" "$code" 200
expect_eq "MYS error" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="MYS"][0]')" error
expect_eq "no MYS content" "$(pyq 'sum(1 for r in d["results"] for x in r["records"])')" 0
expect_eq "incomplete" "$(pyq 'd["complete"]')" False
grep -q 'remote hub: MYS denied (rule no intelligence requests through partner hubs)' "$TMP/hub.log" ||
  fail "hub A's log does not name the remote denial"
pass "a denial at hub B is an error at hub A (defence in depth)"

# A token hub B refuses, and a state hub B does not hold: errors, named in A's audit.
code=$(search "$ANALYST_IDN" "{\"subject\":{\"document\":\"A12345678\"},\"purpose\":\"prosecution\",\"priority\":\"urgent\",\"legal_basis\":\"mla_treaty\",\"justification\":\"$J\",\"states\":[\"THA\",\"BGD\"]}")
expect_eq "search status" "$code" 200
expect_eq "THA error" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="THA"][0]')" error
expect_eq "BGD error" "$(pyq '[s["outcome"] for s in d["states"] if s["state"]=="BGD"][0]')" error
$PY - "$TMP/audit.jsonl" <<'PY' || fail "hub A's audit errors"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
st = {s["state"]: s for s in e["states"]}
assert st["THA"]["error"].startswith("HTTP 401 from remote hub"), st["THA"]
assert st["BGD"]["error"].startswith("HTTP 400 from remote hub"), st["BGD"]
PY
pass "a refused token and a state hub B does not hold are errors at hub A"

# Over TLS hub B offers h2: concurrent legs share one multiplexed connection (HTTP/1.1
# would need one connection per leg in flight, since each waits 400 ms at hub B).
for i in 1 2 3 4; do
  curl -s -o "$TMP/tls$i" -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/v1/search" -H "Authorization: Bearer $ANALYST_MYS" \
    -H 'Content-Type: application/json' \
    -d "{\"subject\":{\"name\":\"Ahmad bin Ismail\"},\"purpose\":\"investigation\",\"priority\":\"urgent\",\"legal_basis\":\"bilateral_mou\",\"justification\":\"$J\",\"states\":[\"IDN\"]}" \
    >"$TMP/tls$i.code" &
  TLS_PIDS[$i]=$!
done
for i in 1 2 3 4; do wait "${TLS_PIDS[$i]}"; done
for i in 1 2 3 4; do
  expect_eq "TLS search $i" "$(cat "$TMP/tls$i.code")" 200
  expect_eq "IDN shared over TLS ($i)" "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["states"][0]["outcome"])' "$TMP/tls$i")" shared
done
conns=$($PY - "$B_TLS" <<'PY'
import sys
port = int(sys.argv[1])
n = 0
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(f).read().splitlines()[1:]
    except OSError:
        continue
    for l in lines:
        cols = l.split()
        if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port:
            n += 1  # an established socket on hub B's side of the TLS listener
print(n)
PY
)
# Each of hub A's event-loop workers has its own adapters: one connection per worker.
workers=${FEDBROKER_WORKERS:-1}
if [ "$workers" -le 1 ]; then
  expect_eq "connections to hub B's TLS listener" "$conns" 1
else
  [ "$conns" -ge 1 ] && [ "$conns" -le "$workers" ] ||
    fail "connections to hub B's TLS listener: $conns, want 1 to $workers (one per worker at most)"
fi
pass "over TLS, concurrent legs multiplex on one HTTP/2 connection to hub B (per worker)"

# A token file that is missing stops start-up with a sentence naming it.
STATES_LUA="
  MYS = { adapter = \"broker\", url = \"http://127.0.0.1:$B_PORT\", token_file = \"keys/gone.jwt\" },"
write_hub_config ''
sed -i 's/audit.jsonl/audit-2.jsonl/' "$TMP/hub.lua" # hub A still holds its log
set +e
timeout 20 "$FEDBROKER" serve --config "$TMP/hub.lua" 2>"$TMP/startup.log"
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "start-up with a missing token file: exit $rc"
grep -q "cannot read token_file $TMP/keys/gone.jwt" "$TMP/startup.log" ||
  fail "start-up error does not name the token file: $(cat "$TMP/startup.log")"
pass "a missing token file stops start-up, naming the file"
