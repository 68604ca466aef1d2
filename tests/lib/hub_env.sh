# Builds a complete hub environment in $TMP for end-to-end tests (sourced after
# common.sh): demo data, keys, test policies, simulated national nodes, and tokens.
#   setup_hub_env            data + keys + tokens (ANALYST_MYS, ANALYST_IDN, LEGAL, AUDITOR, ADMIN)
#   start_node NAME DB [args...]  starts `fedbroker node`, sets NODE_PORT_<NAME>
#   node_requests NAME       how many searches that node received
#   write_hub_config EXTRA   writes $TMP/hub.lua with the states in $STATES_LUA
setup_hub_env() {
  mkdir -p "$TMP/data" "$TMP/keys" "$TMP/policies"
  "$FEDBROKER" demo-data --out "$TMP/data" --seed 7 >/dev/null 2>&1 || fail "demo-data"
  openssl genpkey -algorithm ED25519 -out "$TMP/keys/issuer.pem" 2>/dev/null
  openssl pkey -in "$TMP/keys/issuer.pem" -pubout -out "$TMP/keys/issuer.pub.pem" 2>/dev/null
  openssl genpkey -algorithm ED25519 -out "$TMP/keys/audit.pem" 2>/dev/null
  openssl pkey -in "$TMP/keys/audit.pem" -pubout -out "$TMP/keys/audit.pub.pem" 2>/dev/null
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/keys/redaction.key"
  local mint="$FEDBROKER token --key $TMP/keys/issuer.pem --iss https://idp.test"
  ANALYST_MYS=$($mint --sub a.mys --state MYS --agency "Royal Malaysia Police" --roles analyst)
  ANALYST_IDN=$($mint --sub a.idn --state IDN --agency "Bareskrim" --roles analyst)
  LEGAL=$($mint --sub l.mys --state MYS --roles legal_officer)
  AUDITOR=$($mint --sub aud --state IDN --roles auditor)
  ADMIN=$($mint --sub adm --state IDN --roles admin)

}

start_node() {
  local name=$1 db=$2
  shift 2
  local port
  port=$(free_port)
  "$FEDBROKER" node --data "$db" --listen "127.0.0.1:$port" --log-level warn "$@" 2>>"$TMP/node-$name.log" &
  PIDS+=($!)
  eval "NODE_PORT_$name=$port"
  eval "NODE_PID_$name=$!"
  wait_http "http://127.0.0.1:$port/healthz"
}

node_requests() {
  local port
  eval "port=\$NODE_PORT_$1"
  curl -s "http://127.0.0.1:$port/stats" | $PY -c 'import json,sys; print(json.load(sys.stdin)["requests"])'
}

write_hub_config() {
  HUB_PORT=$(free_port)
  cat >"$TMP/hub.lua" <<LUA
listen = { { address = "127.0.0.1:$HUB_PORT" } }
policies = "policies"
audit = { path = "audit.jsonl", key = "keys/audit.pem", checkpoint_every = 5 }
issuers = { { iss = "https://idp.test", key = "keys/issuer.pub.pem" } }
redaction_key = "keys/redaction.key"
$1
states = {
$STATES_LUA
}
LUA
}

# search TOKEN JSON [curl args...]: POST /v1/search, body to $TMP/resp, prints status.
search() {
  local token=$1 body=$2
  shift 2
  curl -s -o "$TMP/resp" -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/v1/search" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body" "$@"
}

# jq-like check with Python: pyq 'expression over d' < file
pyq() { $PY -c "import json,sys; d=json.load(open('$TMP/resp')); print($1)"; }

# wait_leg_in_flight STATE: polls /metrics until the hub has a leg to STATE in flight
# (1 s at most), instead of sleeping and hoping the search got that far.
wait_leg_in_flight() {
  local i n
  for i in $(seq 1 50); do
    n=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics" | awk -v s="$1" '$1 == "fedbroker_legs_in_flight{state=\"" s "\"}" {print $2}')
    [ "${n:-0}" -ge 1 ] 2>/dev/null && return 0
    sleep 0.02
  done
  fail "no leg to $1 in flight"
}
