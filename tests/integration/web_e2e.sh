#!/usr/bin/env bash
# The browser workspace end to end: a real hub with one slow state (a `fedbroker node`
# with --latency), driven in headless Chromium by web/tests/e2e.mjs (playwright-core,
# axe-core): analyst search with progress and cards, a merged entity, an error at its
# field, the network banner, a legal officer's evaluation with trace, an auditor's
# filter and CSV export, accessibility on every view, a 375 px wide screen.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
[ -x /usr/bin/chromium ] || fail "chromium is missing: run scripts/setup.sh"
[ -d "$FB_SOURCE_DIR/web/node_modules/playwright-core" ] || fail "web/node_modules is missing: run scripts/setup.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
mkdir -p "$TMP/policies/tests" && cp "$FB_SOURCE_DIR"/policies/tests/*.lua "$TMP/policies/tests/"
SLOW=THA
start_node "$SLOW" "$TMP/data/$SLOW.db" --latency 1500
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },
  BGD = { adapter = \"sqlite\", path = \"data/BGD.db\" },
  $SLOW = { adapter = \"http\", url = \"http://127.0.0.1:$NODE_PORT_THA/search\" },"
write_hub_config 'deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }'
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"

# The follow-up flow runs where the hub has the follow-up API (FOLLOWUP.md).
FOCAL_MYS="" FPADMIN_MYS=""
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANALYST_IDN" "http://127.0.0.1:$HUB_PORT/v1/requests?box=outbox")
if [ "$code" != 404 ]; then
  FOCAL_MYS=$("$FEDBROKER" token --key "$TMP/keys/issuer.pem" --iss https://idp.test --sub fp.mys --state MYS \
    --roles focal_point) || fail "cannot mint a focal point token"
  FPADMIN_MYS=$("$FEDBROKER" token --key "$TMP/keys/issuer.pem" --iss https://idp.test --sub fpa.mys --state MYS \
    --roles focal_point_admin) || fail "cannot mint a focal point admin token"
fi
HUB="http://127.0.0.1:$HUB_PORT" ANALYST="$ANALYST_MYS" ANALYST_IDN="$ANALYST_IDN" FOCAL_MYS="$FOCAL_MYS" FPADMIN_MYS="$FPADMIN_MYS" \
  LEGAL="$LEGAL" AUDITOR="$AUDITOR" SLOW_STATE=$SLOW \
  timeout 120 node "$FB_SOURCE_DIR/web/tests/e2e.mjs" || fail "browser flows failed (above)"
pass "workspace flows in Chromium"
