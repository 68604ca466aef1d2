#!/usr/bin/env bash
# Durability: kill -9 the hub during a burst of audited searches, many times. Every
# search whose response arrived must be in the log with the hash the response named;
# on restart the hub cuts a torn line, records a `recovery` entry and continues the
# chain; at the end the whole log verifies.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia" }
allow "all" { }
LUA
STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },'
write_hub_config ''
CYCLES=${AUDIT_CRASH_CYCLES:-12}

cat >"$TMP/burst.py" <<'PY'
import json, sys, threading, urllib.request
port, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
body = json.dumps({"subject": {"document": "A12345678"}, "purpose": "prosecution", "priority": "urgent",
                   "legal_basis": "mla_treaty", "justification": "Durability test of the audit log"}).encode()
lock = threading.Lock()
f = open(out, "a")
def worker():
    while True:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/search", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                d = json.loads(r.read())
        except Exception:
            return  # the hub was killed
        with lock:
            f.write(f'{d["audit"]["seq"]} {d["audit"]["hash"]}\n')
            f.flush()
ts = [threading.Thread(target=worker) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
PY

: >"$TMP/acked"
for cycle in $(seq 1 "$CYCLES"); do
  start_hub "$TMP/hub.lua"
  wait_http "http://127.0.0.1:$HUB_PORT/healthz"
  $PY "$TMP/burst.py" "$HUB_PORT" "$ANALYST_IDN" "$TMP/acked" &
  burst=$!
  sleep "0.$((RANDOM % 5 + 2))"
  kill -9 "$HUB_PID"
  wait "$HUB_PID" 2>/dev/null || true
  wait "$burst" 2>/dev/null || true
done
start_hub "$TMP/hub.lua"   # a last restart repairs the tail
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
stop_cleanly "$HUB_PID" hub

acked=$(wc -l <"$TMP/acked")
[ "$acked" -gt 0 ] || fail "no search was answered during the bursts"
$PY - "$TMP/acked" "$TMP/audit.jsonl" <<'PY' || fail "an acknowledged search is missing from the audit log"
import hashlib, sys
lines = open(sys.argv[2], "rb").read().split(b"\n")
for row in open(sys.argv[1]):
    seq, h = row.split()
    line = lines[int(seq) - 1]
    assert hashlib.sha256(line).hexdigest() == h, f"seq {seq}: the logged line does not match the answer's hash"
PY
grep -q '"event":"recovery"' "$TMP/audit.jsonl" || echo "note: no torn line occurred in these cycles"
$PY "$FB_SOURCE_DIR/tests/lib/audit_verify.py" "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" || fail "chain broken after crashes"
pass "$CYCLES kill -9 cycles: all $acked acknowledged searches are in the log; the chain verifies"
