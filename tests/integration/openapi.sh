#!/usr/bin/env bash
# docs/openapi.yaml against the running hub: every route documented, every documented
# operation answering with its documented status, content type and required fields
# (tests/lib/openapi_check.py).
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cp "$FB_SOURCE_DIR"/policies/*.lua "$TMP/policies/"
STATES_LUA="
  MYS = { adapter = \"sqlite\", path = \"data/MYS.db\" },
  IDN = { adapter = \"sqlite\", path = \"data/IDN.db\" },
  THA = { adapter = \"sqlite\", path = \"data/THA.db\" },
  BGD = { adapter = \"sqlite\", path = \"data/BGD.db\" },"
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
export ANALYST_MYS ANALYST_IDN LEGAL AUDITOR ADMIN
# Focal point identities, for the follow-up endpoints where the hub has them.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANALYST_MYS" "http://127.0.0.1:$HUB_PORT/v1/focal-points")
if [ "$code" != 404 ]; then
  mint="$FEDBROKER token --key $TMP/keys/issuer.pem --iss https://idp.test"
  FOCAL_MYS=$($mint --sub fp.mys --state MYS --roles focal_point) || fail "cannot mint a focal point token"
  FPADMIN_MYS=$($mint --sub fpa.mys --state MYS --roles focal_point_admin) || fail "cannot mint a focal point admin token"
  export FOCAL_MYS FPADMIN_MYS
fi
$PY "$FB_SOURCE_DIR/tests/lib/openapi_check.py" "$FB_SOURCE_DIR/docs/openapi.yaml" "$FB_SOURCE_DIR" \
  "http://127.0.0.1:$HUB_PORT" || fail "the hub does not answer as docs/openapi.yaml says (above)"
pass "docs/openapi.yaml matches the running hub"
