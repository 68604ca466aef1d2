#!/usr/bin/env bash
# A national node's address changes (a container recreated): the hub must follow the
# new address within `dns_cache_ms`, not keep dialling the old one for libcurl's 60 s.
# Two nodes share one host name in /etc/hosts (127.0.0.2, then 127.0.0.3); the test
# swaps the entry and stops the first node. A hub with dns_cache_ms = 1000 reaches the
# second node within a few seconds; a hub told to cache for 60 s still fails then.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"

HOSTS=/etc/hosts
NAME="fb-dns-swap-$$.test"
if ! [ -w "$HOSTS" ]; then
  echo "skip: $HOSTS is not writable here"
  exit 77
fi
# Edit in place (a container's /etc/hosts is a bind mount: it cannot be renamed over).
set_host() { # ADDRESS or "" to remove the entry
  $PY - "$HOSTS" "$NAME" "$1" <<'PY'
import sys
path, name, addr = sys.argv[1:]
with open(path, "r+") as f:
    lines = [l for l in f.read().splitlines() if not l.rstrip().endswith(" " + name)]
    if addr:
        lines.append(f"{addr} {name}")
    f.seek(0); f.truncate(); f.write("\n".join(lines) + "\n")
PY
}
# common.sh's cleanup reads the exit status first: hand it on past the hosts clean-up.
trap 'st=$?; set_host "" || true; set +e; (exit $st); cleanup' EXIT

setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
PORT=$(free_port)
"$FEDBROKER" node --data "$TMP/data/IDN.db" --listen "127.0.0.2:$PORT" --log-level warn 2>>"$TMP/node-old.log" &
OLD_PID=$!
PIDS+=("$OLD_PID")
"$FEDBROKER" node --data "$TMP/data/IDN.db" --listen "127.0.0.3:$PORT" --log-level warn 2>>"$TMP/node-new.log" &
PIDS+=($!)
wait_http "http://127.0.0.2:$PORT/healthz"
wait_http "http://127.0.0.3:$PORT/healthz"
set_host 127.0.0.2

# hub CACHE_MS: a hub whose IDN is the node behind $NAME; sets HUB_PORT.
hub() {
  STATES_LUA="  IDN = { adapter = \"http\", url = \"http://$NAME:$PORT/search\", dns_cache_ms = $1 },"
  write_hub_config 'breaker = { failures = 1000, open_ms = 1000 }'
  sed "s|audit.jsonl|audit-$1.jsonl|" "$TMP/hub.lua" >"$TMP/hub-$1.lua"
  start_hub "$TMP/hub-$1.lua"
  wait_http "http://127.0.0.1:$HUB_PORT/healthz"
}
hub 1000
FAST=$HUB_PORT
# One worker: each event-loop worker has its own adapters and DNS cache, and the one
# search before the swap fills only the cache of the worker that served it.
FEDBROKER_WORKERS=1 hub 60000
SLOW=$HUB_PORT

BODY='{"subject": {"document": "A12345678"}, "purpose": "prosecution", "priority": "urgent",
  "legal_basis": "mla_treaty", "justification": "DNS swap test, case MY-2026-0042",
  "case_ref": "MY-2026-0042", "states": ["IDN"]}'
outcome() { # HUB_PORT: IDN's outcome of one search
  curl -s -m 10 "http://127.0.0.1:$1/v1/search" -H "Authorization: Bearer $ANALYST_MYS" \
    -H 'Content-Type: application/json' -d "$BODY" | jq -r '.states[0].outcome'
}
expect_eq "fast hub before the swap" "$(outcome "$FAST")" shared
expect_eq "slow hub before the swap" "$(outcome "$SLOW")" shared
new_requests() { curl -s "http://127.0.0.3:$PORT/stats" | jq .requests; }
expect_eq "the new node is not asked before the swap" "$(new_requests)" 0
pass "both hubs reach the node at its first address"

# The container is recreated: the old address goes away, the name points elsewhere.
set_host 127.0.0.3
kill "$OLD_PID"
wait "$OLD_PID" 2>/dev/null || true
start=$(date +%s%N)
i=0
until [ "$(outcome "$FAST")" = shared ]; do
  i=$((i + 1))
  [ $i -gt 60 ] && fail "the hub with dns_cache_ms = 1000 did not follow the new address in 6 s"
  sleep 0.1
done
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(new_requests)" -ge 1 ] || fail "the new node received nothing"
pass "dns_cache_ms = 1000: the hub follows the new address after ${ms} ms"

expect_eq "a hub caching for 60 s still dials the old address" "$(outcome "$SLOW")" error
pass "dns_cache_ms = 60000: still the old address (what libcurl's default did in the pilot)"
