#!/usr/bin/env bash
# workers = 4, policy hot reloads while searches run on every worker: a leg's decision
# (made without the hub lock, search/engine.c decide_leg) reads common's and the
# state's policy of one version, never one of each, and nothing crashes.
#
# Two versions, A and B, of common.lua and THA.lua, each decided by a `when` (so the
# policies' Lua states are used by several workers at once). Searches with purpose
# "investigation" (X) and "intelligence" (Y):
#            common            THA            X answers           Y answers
#   A        deny X            allow tha_A    denied common_A     shared tha_A
#   B        deny Y            allow tha_B    shared tha_B        denied common_B
# A mix shows: common A with THA B shares Y as tha_B; common B with THA A shares X
# as tha_A. Any other (outcome, rule) for a purpose is a failure.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
unset FEDBROKER_WORKERS # the config file says how many
setup_hub_env
start_node THA "$TMP/data/THA.db"

# The two versions live in directories of their own, never written again; `policies`
# is a symlink to one of them, replaced in one rename between reloads: the hub's file
# watch sees no change (the directory it watches stays as it was), and no reload can
# read one file of each version.
write_version() {
  local v=$1 denied=$2
  mkdir -p "$TMP/v$v"
  cat >"$TMP/v$v/common.lua" <<LUA
deny "common_$v" { when = function(r) return r.purpose == "$denied" end }
LUA
  cat >"$TMP/v$v/THA.lua" <<LUA
state "THA" { name = "Thailand" }
allow "tha_$v" { when = function(r) return r.subject.document ~= nil end }
LUA
}
use_version() {
  ln -sfn "v$1" "$TMP/policies.new"
  mv -T "$TMP/policies.new" "$TMP/policies"
}
write_version A investigation
write_version B intelligence
rmdir "$TMP/policies"
use_version A

STATES_LUA="  THA = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_THA/search\" },"
write_hub_config 'workers = 4'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
grep -q '4 event-loop workers' "$TMP/hub.log" || fail "the hub did not start 4 workers"

# Eight searchers (four per purpose), each on its own kept-alive connection (so on
# one worker, the kernel spreads the connections), until $TMP/stop exists: one
# "outcome rule" line per answer in $TMP/out-PURPOSE; a connection that fails is
# counted in $TMP/transport-errors and replaced.
$PY - "$HUB_PORT" "$ANALYST_IDN" "$TMP" <<'PY' &
import http.client, json, os, sys, threading
port, token, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
outs = {p: open(os.path.join(tmp, "out-" + p), "w") for p in ("investigation", "intelligence")}
errors = open(os.path.join(tmp, "transport-errors"), "w")
def run(purpose):
    body = json.dumps({"subject": {"document": "A12345678"}, "purpose": purpose, "priority": "urgent",
                       "legal_basis": "mla_treaty", "justification": "Reloads under load"})
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not os.path.exists(os.path.join(tmp, "stop")):
        try:
            c.request("POST", "/v1/search", body, hdr)
            r = c.getresponse()
            text = r.read()
        except (OSError, http.client.HTTPException) as e:
            # a connection the hub closed (HTTP allows it at any time): a new one; the
            # hub's death shows in the script's own check
            with lock:
                errors.write("%s %s\n" % (purpose, type(e).__name__))
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if not os.path.exists("/proc/%d" % os.getppid()):
                break
            continue
        try:
            st = json.loads(text)["states"][0]
            line = "%s %s" % (st["outcome"], st.get("rule"))
        except (ValueError, KeyError, IndexError, TypeError):
            line = "status %d: %r" % (r.status, text[:200]) # shown by the check below
        with lock:
            outs[purpose].write(line + "\n")
ts = [threading.Thread(target=run, args=(p,)) for p in ("investigation", "intelligence") * 4]
for t in ts: t.start()
for t in ts: t.join()
for f in list(outs.values()) + [errors]: f.close()
PY
LOADER=$!
PIDS+=("$LOADER")

reloads=0
for i in $(seq 1 40); do
  if [ $((i % 2)) -eq 1 ]; then use_version B; else use_version A; fi
  code=$(curl -s -o "$TMP/reload" -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" \
    -H "Authorization: Bearer $ADMIN")
  [ "$code" = 200 ] || { cat "$TMP/reload" >&2; fail "POST /v1/admin/reload $i: status $code"; }
  reloads=$((reloads + 1))
  sleep 0.05
done
touch "$TMP/stop"
wait "$LOADER" || fail "the searchers failed"
kill -0 "$HUB_PID" 2>/dev/null || { tail -20 "$TMP/hub.log" >&2; fail "the hub died during the reloads"; }

sort "$TMP/out-investigation" | uniq -c >"$TMP/x"
sort "$TMP/out-intelligence" | uniq -c >"$TMP/y"
bad_x=$(grep -cvE '^ *[0-9]+ (denied common_A|shared tha_B)$' "$TMP/x" || true)
bad_y=$(grep -cvE '^ *[0-9]+ (shared tha_A|denied common_B)$' "$TMP/y" || true)
[ "$bad_x" = 0 ] || { cat "$TMP/x" >&2; fail "purpose investigation: answers of no single policy version"; }
[ "$bad_y" = 0 ] || { cat "$TMP/y" >&2; fail "purpose intelligence: answers of no single policy version"; }
total=$(cat "$TMP"/out-* | wc -l)
[ "$total" -ge 40 ] || { cat "$TMP/transport-errors" >&2; fail "only $total searches ran during the reloads"; }
# both versions were seen for each purpose: the reloads happened under the load
for f in x y; do
  [ "$(wc -l <"$TMP/$f")" = 2 ] || { cat "$TMP/$f" >&2; fail "not both versions answered ($f)"; }
done
pass "$reloads reloads under $total searches on 4 workers: every decision of one policy version"

stop_cleanly "$HUB_PID" hub
