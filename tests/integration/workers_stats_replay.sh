#!/usr/bin/env bash
# workers = 2 over an audit log of many search entries: the statistics are replayed
# from it on the thread pool after start-up (search/engine.c), and a GET /v1/stats that
# arrives meanwhile waits for them on every loop, not only the main one. Right after
# start, one GET /v1/stats on each of many connections at once (the kernel spreads them
# over both loops): every answer carries the replayed counts.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
unset FEDBROKER_WORKERS # the config file says how many
setup_hub_env
ENTRIES=${ENTRIES:-200000}
CONNS=32
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
allow "all" { }
LUA
# No search is made: the state's node never needs to answer.
STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:9/search\" },"
write_hub_config 'workers = 2'

# A chained log (prev = SHA-256 of the line before, which the hub checks at open) of
# search entries only; each counts one shared leg MYS -> THA. Short lines, so that the
# file stays small while its replay takes a while.
$PY - "$TMP/audit.jsonl" "$ENTRIES" <<'PY'
import hashlib, json, sys
path, n = sys.argv[1], int(sys.argv[2])
prev = "0" * 64
with open(path, "w") as f:
    for seq in range(1, n + 1):
        line = json.dumps({"seq": seq, "ts": "2026-11-01T10:00:00.%03dZ" % (seq % 1000), "event": "search",
                           "prev": prev, "requester": {"state": "MYS"}, "purpose": "prosecution",
                           "states": [{"state": "THA", "outcome": "shared", "latency_ms": 1.5}]},
                          separators=(",", ":"))
        f.write(line + "\n")
        prev = hashlib.sha256(line.encode()).hexdigest()
PY

start_hub "$TMP/hub.lua"
# As soon as the hub accepts, CONNS connections at once each ask GET /v1/stats; prints
# the shared-leg count of each answer (0 when the answer had none), one a line.
$PY - "$HUB_PORT" "$AUDITOR" "$CONNS" >"$TMP/counts" <<'PY' || fail "GET /v1/stats right after start did not answer"
import http.client, json, socket, sys, threading, time
port, token, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the hub never listened")
        time.sleep(0.01)
go = threading.Barrier(conns)
out = [None] * conns
def ask(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.connect()
    go.wait(timeout=30)
    c.request("GET", "/v1/stats", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        out[i] = "status %d" % r.status
        return
    out[i] = sum(row["count"] for row in json.loads(body)["stats"]
                 if row["to"] == "THA" and row["outcome"] == "shared")
ts = [threading.Thread(target=ask, args=(i,)) for i in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
for v in out: print(v)
PY

grep -q '2 event-loop workers' "$TMP/hub.log" || fail "the hub did not start 2 workers"
[ "$(wc -l <"$TMP/counts")" -eq "$CONNS" ] || fail "not every connection was answered"
bad=$(grep -vcx "$ENTRIES" "$TMP/counts" || true)
[ "$bad" -eq 0 ] || fail "$bad of $CONNS answers lack the replayed statistics (counts: $(sort "$TMP/counts" | uniq -c | tr '\n' ' '))"
a1=$(metric_at "$HUB_PORT" 'fedbroker_worker_connections_total{worker="1"}')
awk "BEGIN{exit !($a1 > 0)}" || fail "the worker loop served none of the connections"
grep -q "statistics rebuilt from $ENTRIES audited searches" "$TMP/hub.log" || fail "the replay did not read every entry"
pass "all $CONNS answers right after start carry the $ENTRIES replayed searches (worker 1 accepted $a1 connections)"

stop_cleanly "$HUB_PID" hub
pass "clean shutdown"
