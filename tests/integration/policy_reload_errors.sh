#!/usr/bin/env bash
# Visible reloads: a reload that fails keeps the previous version in force and says so
# where the legal officer looks — /v1/states shows policy.last_error {file, line,
# message, at} for that state, /metrics counts fedbroker_policy_reload_failures_total —
# and the next good reload clears the error. The hub knows its configured states only:
# a rule naming another state is refused.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand" }
allow "prosecution" { purpose = "prosecution" }
LUA
cp "$TMP/policies/THA.lua" "$TMP/THA.good"
STATES_LUA='  THA = { adapter = "sqlite", path = "data/THA.db" },
  MYS = { adapter = "sqlite", path = "data/MYS.db" },'
write_hub_config ''
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
states() { curl -s -o "$TMP/resp" "http://127.0.0.1:$HUB_PORT/v1/states" -H "Authorization: Bearer $ANALYST_IDN"; }
tha() { pyq "[s['policy'] for s in d['states'] if s['state'] == 'THA'][0]$1"; }
failures() { curl -s "http://127.0.0.1:$HUB_PORT/metrics" |
  awk '/^fedbroker_policy_reload_failures_total\{state="THA"\}/ {print $2}'; }
reload() { curl -s -o "$TMP/reload" -w '%{http_code}' -X POST "http://127.0.0.1:$HUB_PORT/v1/admin/reload" -H "Authorization: Bearer $ADMIN"; }

states
expect_eq "no error at start" "$(tha "['last_error']")" None
expect_eq "no failures at start" "$(failures)" 0
sha=$(tha "['sha256']")

# A legal officer's typo: a bare name on line 3.
# Files are replaced atomically (mv) so that the file watch never reads half a file.
cat >"$TMP/next.lua" <<'LUA'
state "THA" { name = "Thailand" }
allow "prosecution" { purpose = "prosecution" }
allow "Bangladesh only" { from = BGD }
LUA
mv "$TMP/next.lua" "$TMP/policies/THA.lua"
expect_eq "reload of a broken file" "$(reload)" 422
states
expect_eq "previous version in force" "$(tha "['sha256']")" "$sha"
[[ "$(tha "['last_error']['file']")" == */policies/THA.lua ]] || fail "last_error.file: $(tha "['last_error']['file']")"
expect_eq "last_error.line" "$(tha "['last_error']['line']")" 3
expect_eq "last_error.message" "$(tha "['last_error']['message']")" 'BGD is not defined; did you mean "BGD"?'
[[ "$(tha "['last_error']['at']")" =~ ^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T ]] || fail "last_error.at: $(tha "['last_error']['at']")"
expect_eq "failures counted (once, though the file watch and the admin both reloaded)" "$(failures)" 1
pass "a failed reload shows in /v1/states and /metrics; the previous version stays"

# A state the hub does not serve is refused, naming those it does.
cat >"$TMP/next.lua" <<'LUA'
state "THA" { name = "Thailand" }
deny "no requests from Bangladesh" { from = "BGN" }
allow "prosecution" { purpose = "prosecution" }
LUA
mv "$TMP/next.lua" "$TMP/policies/THA.lua"
expect_eq "reload naming an unknown state" "$(reload)" 422
states
expect_eq "unknown state message" "$(tha "['last_error']['message']")" \
  "from 'BGN' is not a state this hub knows (expected one of: MYS, THA)"
expect_eq "line of the unknown state" "$(tha "['last_error']['line']")" 2
expect_eq "failures counted twice" "$(failures)" 2
pass "a state the hub does not know is refused"

# Fixed: the error clears; the count stays.
cp "$TMP/THA.good" "$TMP/next.lua"
printf -- '-- fixed\n' >>"$TMP/next.lua"
mv "$TMP/next.lua" "$TMP/policies/THA.lua"
expect_eq "reload of the fixed file" "$(reload)" 200
states
expect_eq "error cleared" "$(tha "['last_error']")" None
[[ "$(tha "['sha256']")" != "$sha" ]] || fail "fixed version not loaded"
expect_eq "failures still 2" "$(failures)" 2
pass "a good reload clears last_error"
