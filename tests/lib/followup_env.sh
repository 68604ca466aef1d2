# Follow-up test fixtures (sourced after common.sh and hub_env.sh): tokens for focal
# points, policies with a formal rule, and small HTTP helpers.
#   setup_followup_env       tokens FOCAL_MYS, FOCAL_IDN, FPADMIN_MYS, ANALYST_THA; policies
#   call METHOD PATH TOKEN [JSON]  body to $TMP/resp, prints the status (hub $HUB_PORT)
setup_followup_env() {
  local mint="$FEDBROKER token --key $TMP/keys/issuer.pem --iss https://idp.test"
  FOCAL_MYS=$($mint --sub fp.mys --state MYS --roles focal_point)
  FOCAL_IDN=$($mint --sub fp.idn --state IDN --roles focal_point)
  FPADMIN_MYS=$($mint --sub fpa.mys --state MYS --roles focal_point_admin)
  ANALYST_THA=$($mint --sub a.tha --state THA --roles analyst)
  cat >"$TMP/policies/common.lua" <<'LUA'
redact "victim identities" { records = { tags = { "victim" } }, fields = { "name", "aliases" }, action = "mask" }
LUA
  # Malaysia confirms matches on searches and shares them on a formal request under a
  # treaty or MOU; Indonesia likewise; Thailand shares everything.
  cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia", contact = { unit = "MY policy contact", email = "fp@example.my", channel = "central authority" } }
allow "formal under a treaty or MOU" { legal_basis = { "mla_treaty", "bilateral_mou" }, formal = true }
hit_only "searches: confirm a match only" { reason = "Malaysia confirms a match." }
LUA
  cat >"$TMP/policies/IDN.lua" <<'LUA'
state "IDN" { name = "Indonesia", contact = { unit = "ID policy contact", email = "fp@example.id", channel = "NCB" } }
hit_only "confirm only, even on formal requests" { }
LUA
  cat >"$TMP/policies/THA.lua" <<'LUA'
state "THA" { name = "Thailand", contact = { unit = "TH policy contact", email = "fp@example.th", channel = "central authority" } }
allow "all" { }
LUA
}

call() {
  local method=$1 path=$2 token=$3 body=${4:-}
  local port=${CALL_PORT:-$HUB_PORT}
  if [ -n "$body" ]; then
    curl -s -o "$TMP/resp" -w '%{http_code}' -X "$method" "http://127.0.0.1:$port$path" \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body"
  else
    curl -s -o "$TMP/resp" -w '%{http_code}' -X "$method" "http://127.0.0.1:$port$path" -H "Authorization: Bearer $token"
  fi
}

# audit_lines FILTER_PY: the audit log's entries (parsed) for which FILTER_PY (over e) holds, as JSON lines.
audit_lines() {
  $PY -c "
import json,sys
for line in open('$TMP/audit.jsonl'):
    e=json.loads(line)
    if $1: print(json.dumps(e))"
}
