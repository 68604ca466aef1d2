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
$PY "$FB_SOURCE_DIR/tests/lib/openapi_check.py" "$FB_SOURCE_DIR/docs/openapi.yaml" "$FB_SOURCE_DIR" \
  "http://127.0.0.1:$HUB_PORT" || fail "the hub does not answer as docs/openapi.yaml says (above)"
pass "docs/openapi.yaml matches the running hub"
