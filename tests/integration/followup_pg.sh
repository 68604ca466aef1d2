#!/usr/bin/env bash
# Follow-up against PostgreSQL (CONFIG.md `store = "postgresql://..."`) with two hubs
# sharing one database: a search and a request made on hub A, the inbox and the release
# on hub B; two focal points deciding at once on different hubs (one wins, 409);
# withdrawal across hubs; a directory change reaching the other hub; a restart; a hub
# that cannot reach its store refuses to start. The server is a throw-away one started here (initdb + pg_ctl in the test's
# temp dir, no system service).
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
source "$FB_SOURCE_DIR/tests/lib/followup_env.sh"

BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/initdb" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] || fail "PostgreSQL server binaries not found (scripts/setup.sh installs postgresql)"
AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); chmod 755 "$TMP"; fi
PGDIR=$TMP/pg
PGPORT=$(free_port)
mkdir -p "$PGDIR" && [ ${#AS[@]} -eq 0 ] || chown postgres "$PGDIR"
"${AS[@]}" "$BIN/initdb" -D "$PGDIR/data" -A trust -U fb --no-sync >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; fail initdb; }
"${AS[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" -w -t 30 -l "$PGDIR/pg.log" \
  -o "-k $PGDIR -p $PGPORT -c listen_addresses='' -c fsync=off" start >/dev/null || { cat "$PGDIR/pg.log"; fail "pg_ctl start"; }
pg_stop() { "${AS[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true; }
# cleanup reads the exit status from $?; errexit must be off for (exit $st) not to end the trap
trap 'st=$?; set +e; pg_stop; (exit $st); cleanup' EXIT
"$BIN/createdb" -h "$PGDIR" -p "$PGPORT" -U fb fbstore
STORE="postgresql://fb@/fbstore?host=$PGDIR&port=$PGPORT"

setup_hub_env
setup_followup_env
STATES_LUA='
  MYS = { adapter = "sqlite", path = "data/MYS.db" },
  IDN = { adapter = "sqlite", path = "data/IDN.db" },
  THA = { adapter = "sqlite", path = "data/THA.db" },'
hub_config() { # hub_config NAME PORT STORE
  cat >"$TMP/$1.lua" <<LUA
listen = { { address = "127.0.0.1:$2" } }
policies = "policies"
audit = { path = "$1-audit.jsonl", key = "keys/audit.pem" }
issuers = { { iss = "https://idp.test", key = "keys/issuer.pub.pem" } }
store = "$3"
focal_points = { refresh = "1s" }
states = {
$STATES_LUA
}
LUA
}
PORT_A=$(free_port)
PORT_B=$(free_port)
hub_config a "$PORT_A" "$STORE"
hub_config b "$PORT_B" "$STORE"
"$FEDBROKER" serve --config "$TMP/a.lua" 2>>"$TMP/a.log" & PID_A=$!; PIDS+=("$PID_A")
wait_http "http://127.0.0.1:$PORT_A/healthz"
"$FEDBROKER" serve --config "$TMP/b.lua" 2>>"$TMP/b.log" & PID_B=$!; PIDS+=("$PID_B")
wait_http "http://127.0.0.1:$PORT_B/healthz"
grep -q 'store open (postgresql' "$TMP/b.log" || fail "hub B did not open the PostgreSQL store"
pass "two hubs share one PostgreSQL store (migrated once)"

SEARCH='{"subject":{"document":"B7654321"},"purpose":"investigation","priority":"urgent","legal_basis":"mla_treaty","justification":"Trafficking route through Johor, case ID-2026-0107","states":["MYS"]}'
on() { CALL_PORT=$1; HUB_PORT=$1; }
new_request() { # on hub $CALL_PORT
  expect_eq "search" "$(search "$ANALYST_IDN" "$SEARCH")" 200
  local qid href
  qid=$(pyq 'd["query_id"]')
  href=$(pyq '[s.get("hit_ref","") for s in d["states"] if s["state"]=="MYS"][0]')
  expect_eq "create request" "$(call POST /v1/requests "$ANALYST_IDN" "{\"query_id\":\"$qid\",\"state\":\"MYS\",\"hit_ref\":\"$href\",\"legal_basis\":\"mla_treaty\",\"justification\":\"Prosecution of the facilitator\",\"priority\":\"urgent\"}")" 201
  RID=$(pyq 'd["request"]["request_id"]')
}

on "$PORT_A"
new_request
on "$PORT_B"
expect_eq "inbox on B" "$(call GET '/v1/requests?box=inbox' "$FOCAL_MYS")" 200
expect_eq "request made on A in B's inbox" "$(pyq "'$RID' in [r['request_id'] for r in d['requests']]")" True
expect_eq "release on B" "$(call POST "/v1/requests/$RID/decision" "$FOCAL_MYS" '{"decision":"release"}')" 200
on "$PORT_A"
expect_eq "analyst reads on A" "$(call GET "/v1/requests/$RID" "$ANALYST_IDN")" 200
expect_eq "released" "$(pyq 'd["request"]["status"]')" released
expect_eq "record" "$(pyq '"MYS-P-000002" in [r["id"] for r in d["request"]["records"]]')" True
expect_eq "victim masked" "$(pyq '[r["name"] for r in d["request"]["records"] if r["id"]=="MYS-P-000002"][0] != "Nur Aisyah Rahman"')" True
grep -q "\"request_id\":\"$RID\".*\"status\":\"released\".*\"disclosed\":{\"MYS\":\[.*MYS-P-000002" "$TMP/b-audit.jsonl" || fail "hub B's audit log lacks the release with disclosed ids"
pass "request made on hub A, released on hub B, read on hub A; B audited the disclosure"

# Two focal points, one on each hub, decide the same request at once: one wins.
on "$PORT_A"
new_request
deciders=()
for p in "$PORT_A" "$PORT_B"; do
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/v1/requests/$RID/decision" -H "Authorization: Bearer $FOCAL_MYS" \
    -H 'Content-Type: application/json' -d '{"decision":"decline","reason":"Outside scope"}' >"$TMP/code$p" &
  deciders+=($!)
done
wait "${deciders[@]}"
expect_eq "two hubs deciding" "$(cat "$TMP/code$PORT_A" "$TMP/code$PORT_B" | fold -w3 | sort | tr '\n' ' ')" "200 409 "
expect_eq "declined once in both logs" "$(cat "$TMP/a-audit.jsonl" "$TMP/b-audit.jsonl" | grep -c "\"request_id\":\"$RID\".*\"status\":\"declined\"")" 1
pass "simultaneous decisions on two hubs: one 200, one 409, one audit entry"

# Withdrawal on B of a request made on A.
on "$PORT_A"
new_request
on "$PORT_B"
expect_eq "withdraw on B" "$(call POST "/v1/requests/$RID/withdraw" "$ANALYST_IDN")" 200
on "$PORT_A"
call GET "/v1/requests/$RID" "$ANALYST_IDN" >/dev/null
expect_eq "withdrawn seen on A" "$(pyq 'd["request"]["status"]')" withdrawn
pass "withdrawal on the other hub"

# The directory changed on hub A is served by hub B after its refresh (1 s here).
FP='{"focal_points":[{"unit":"ATIPSOM desk","email":"shared@example.my","channel":"formal","verified_at":"2026-01-01"}]}'
on "$PORT_A"
expect_eq "PUT on A" "$(call PUT /v1/focal-points/MYS "$ADMIN" "$FP")" 200
on "$PORT_B"
i=0
until call GET /v1/focal-points "$ANALYST_IDN" >/dev/null && [ "$(pyq "[f['email'] for f in d['focal_points'] if f['state']=='MYS']")" = "['shared@example.my']" ]; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "hub B never served hub A's directory change"
  sleep 0.05
done
expect_eq "search on B" "$(search "$ANALYST_IDN" "$SEARCH")" 200
expect_eq "contact on B" "$(pyq '[s["contact"]["email"] for s in d["states"] if s["state"]=="MYS"][0]')" shared@example.my
pass "a directory change on one hub reaches the other (refresh)"

# Hub restart: the requests are in PostgreSQL.
stop_cleanly "$PID_A" a
"$FEDBROKER" serve --config "$TMP/a.lua" 2>>"$TMP/a.log" & PID_A=$!; PIDS+=("$PID_A")
wait_http "http://127.0.0.1:$PORT_A/healthz"
on "$PORT_A"
expect_eq "after restart" "$(call GET "/v1/requests/$RID" "$ANALYST_IDN")" 200
expect_eq "status kept" "$(pyq 'd["request"]["status"]')" withdrawn
pass "hub A restarted: the requests are still there"

# A store that cannot be reached: the hub does not start (fail closed).
hub_config c "$(free_port)" "postgresql://fb@/nosuchdb?host=$PGDIR&port=$PGPORT"
rc=0; "$FEDBROKER" serve --config "$TMP/c.lua" 2>"$TMP/c.log" || rc=$?
[ $rc -ne 0 ] || fail "a hub with an unreachable store started"
grep -q "postgresql" "$TMP/c.log" || fail "the start-up error does not name the store: $(cat "$TMP/c.log")"
pass "unreachable store: the hub refuses to start"

stop_cleanly "$PID_A" a
stop_cleanly "$PID_B" b
