#!/usr/bin/env bash
# Runs the container pilot end to end, as docs/pilot.md tells an operator to, and prints
# one line per check: starts a container engine when none answers, builds the images,
# brings the topology up (two hub replicas behind HAProxy), searches over TLS (three mTLS
# nodes and Thailand's PostgreSQL), takes a node down and back, kills one replica under
# load (no acknowledged search lost, the other serves), kills the hub with SIGKILL and
# verifies the replicas' audit chains, then tears everything down (volumes included;
# --keep leaves it up).
# Exit status: the number of failed checks (0: all passed).
#   bash scripts/pilot-check.sh [--keep]
set -uo pipefail
cd "$(dirname "$0")/.."
KEEP=${1:-}
export PILOT_TLS_PORT=${PILOT_TLS_PORT:-18443} PILOT_HTTP_PORT=${PILOT_HTTP_PORT:-18080}
export PILOT_LB_PORT=${PILOT_LB_PORT:-19443} PILOT_HUB2_PORT=${PILOT_HUB2_PORT:-18444}
C="docker-compose -p fbpilot -f docker/compose.yaml -f docker/compose.replicas.yaml"
FAILED=0
ok() { printf 'ok   - %s\n' "$*"; }
bad() { printf 'FAIL - %s\n' "$*"; FAILED=$((FAILED + 1)); }
check() { # DESCRIPTION COMMAND...: one line, ok or FAIL
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

bash scripts/setup.sh   # web/node_modules: the image's build stage bundles the workspace offline
eval "$(bash scripts/container-engine.sh)" || { bad "a container engine runs"; exit 1; }
ok "a container engine answers at $DOCKER_HOST"
check "docker-compose accepts docker/compose.yaml and compose.replicas.yaml" $C config -q

start=$(date +%s)
if $C build >/tmp/pilot-build.log 2>&1; then
  size=$(docker image inspect fedbroker:pilot --format '{{.Size}}')
  ok "images built in $(($(date +%s) - start)) s; fedbroker:pilot is $((size / 1000000)) MB"
  check "fedbroker:pilot is at most 120 MB" test "$size" -le 120000000
  check "the image runs as a non-root user" test "$(docker image inspect fedbroker:pilot --format '{{.Config.User}}')" = "10001:10001"
  check "the image has a HEALTHCHECK and no VOLUME" test "$(docker image inspect fedbroker:pilot \
    --format '{{if .Config.Healthcheck}}h{{end}}{{if .Config.Volumes}}v{{end}}')" = h
else
  bad "images build (log: /tmp/pilot-build.log)"
  exit 1
fi

$C down -v >/dev/null 2>&1
$C up -d >/tmp/pilot-up.log 2>&1 || bad "compose up (log: /tmp/pilot-up.log)"

# healthy SERVICE SECONDS: waits for the container's health check to pass.
healthy() {
  local id i
  id=$($C ps -q "$1")
  for ((i = 0; i < $2 * 2; i++)); do
    [ "$(docker inspect "$id" --format '{{.State.Health.Status}}' 2>/dev/null)" = healthy ] && return 0
    sleep 0.5
  done
  return 1
}
check "the hub is healthy (/readyz) within 120 s" healthy hub 120
for n in hub2 idn-node mys-node bgd-node tha-db; do check "$n is healthy" healthy "$n" 60; done
check "init ran once and exited 0" test "$(docker inspect "$($C ps -q init)" --format '{{.State.ExitCode}}')" = 0

CA=$(mktemp)
trap 'rm -f "$CA"' EXIT
$C run --rm -T --entrypoint cat init /pilot/tls/ca.pem >"$CA" 2>/dev/null
token() { $C run --rm -T --entrypoint cat init "/pilot/tokens/$1.jwt" 2>/dev/null; }
MYS=$(token analyst-mys)
check "a token read with run -T has no carriage return" test -n "$MYS" -a "${MYS%$'\r'}" = "$MYS"

# search [PORT]: the MYS analyst's treaty search over TLS (default: the first hub's
# port); the answer in $ANSWER.
search() {
  ANSWER=$(curl -s -m 20 --cacert "$CA" -H "authorization: Bearer $MYS" -H 'content-type: application/json' \
    "https://localhost:${1:-$PILOT_TLS_PORT}/v1/search" -d '{"subject": {"document": "A12345678"},
    "purpose": "prosecution", "priority": "urgent", "legal_basis": "mla_treaty",
    "justification": "Pilot check: facilitator in case MY-2026-0042", "case_ref": "MY-2026-0042"}')
}
outcome() { jq -r --arg s "$1" '.states[] | select(.state == $s) | .outcome' <<<"$ANSWER" 2>/dev/null; }
search
check "a search over TLS reaches IDN and BGD over mTLS (shared)" test "$(outcome IDN)$(outcome BGD)" = sharedshared
check "Thailand answers from PostgreSQL (shared)" test "$(outcome THA)" = shared

# A national node goes down: only its state fails; it comes back.
$C stop idn-node >/dev/null 2>&1
search
o=$(outcome IDN)
check "IDN down: IDN is timeout, error or unavailable ($o), BGD still shared" test "$(outcome BGD)" = shared -a \( "$o" = timeout -o "$o" = error -o "$o" = unavailable \)
$C start idn-node >/dev/null 2>&1
healthy idn-node 60
for _ in $(seq 1 30); do search; [ "$(outcome IDN)" = shared ] && break; sleep 1; done
check "IDN back: shared again" test "$(outcome IDN)" = shared

# Two replicas behind HAProxy: one is killed under load. Every search answered 200 must
# be in one of the two chains (by its audit hash), and the other replica serves on.
LOAD=$(mktemp -d)
load() { # WORKER: 30 searches through the load balancer, "status hash" per line
  local i
  for i in $(seq 1 30); do
    curl -s -m 20 --cacert "$CA" -H "authorization: Bearer $MYS" -H 'content-type: application/json' \
      -o "$LOAD/$1.$i" -w '%{http_code}\n' "https://localhost:$PILOT_LB_PORT/v1/search" \
      -d '{"subject": {"name": "Ahmad bin Ismail"}, "purpose": "prosecution", "priority": "urgent",
      "legal_basis": "mla_treaty", "justification": "Pilot check: replica kill under load",
      "case_ref": "MY-2026-0042"}' >"$LOAD/$1.$i.status" || echo 000 >"$LOAD/$1.$i.status"
  done
}
for _ in $(seq 1 60); do search "$PILOT_LB_PORT"; [ -n "$(outcome IDN)" ] && break; sleep 1; done
check "the load balancer serves searches" test "$(outcome IDN)" = shared
for w in 1 2 3 4; do load "$w" & done
sleep 2
$C kill -s SIGKILL hub2 >/dev/null 2>&1
wait
acked=0 lost=0 refused=0
for f in "$LOAD"/*.status; do
  if [ "$(cat "$f")" = 200 ]; then
    acked=$((acked + 1))
    jq -r .audit.hash "${f%.status}" >>"$LOAD/acked"
  else
    refused=$((refused + 1))
  fi
done
$C up -d --no-deps hub2 >/dev/null 2>&1
healthy hub2 60
{ $C exec -T hub cat /var/lib/fedbroker/audit.jsonl; $C exec -T hub2 cat /var/lib/fedbroker/audit.jsonl; } >"$LOAD/chains"
lost=$(python3 -c 'import hashlib, sys
have = {hashlib.sha256(l.rstrip(b"\n")).hexdigest() for l in open(sys.argv[1], "rb")}
print(sum(1 for h in open(sys.argv[2]).read().split() if h not in have))' "$LOAD/chains" "$LOAD/acked")
check "replica killed under load: $acked searches acknowledged, $refused not, $lost acknowledged ones missing from the chains" \
  test "$lost" = 0 -a "$acked" -ge 100
last=$(for w in 1 2 3 4; do cat "$LOAD/$w.30.status"; done | sort -u | tr -d '\n')
check "the surviving replica served the last searches of every worker (statuses: $last)" test "$last" = 200
check "the replicas' chains verify as a set, each with its own key" docker run --rm \
  -v fbpilot_audit:/a:ro -v fbpilot_audit2:/b:ro -v fbpilot_pilot:/pilot:ro fedbroker:pilot \
  audit verify /a/audit.jsonl --key /pilot/keys/audit.pem /b/audit.jsonl --key /pilot/keys/audit-2.pem --allow-unsigned
rm -rf "$LOAD"
AUD=$(token auditor)
total() { curl -s -m 20 --cacert "$CA" -H "authorization: Bearer $AUD" "https://localhost:$1/v1/stats" |
  jq '[.stats[] | select(.from == "MYS") | .count] | add'; }
t1=$(total "$PILOT_TLS_PORT") t2=$(total "$PILOT_HUB2_PORT")
check "/v1/stats counts both replicas' searches on either replica ($t1 and $t2 searches from MYS)" \
  test -n "$t1" -a "$t1" = "$t2" -a "${t1:-0}" -ge $((acked + 3))

# The follow-up flow across the replicas, through the shared PostgreSQL store: IDN's
# analyst searches Malaysia (hit only, with a hit_ref) and asks formally on the first
# hub; Malaysia's focal point sees it and releases it on the second; the analyst reads
# the released records back on the first.
IDN=$(token analyst-idn)
FOCAL=$(token focal-mys)
api() { # PORT TOKEN METHOD PATH [BODY]
  curl -s -m 20 --cacert "$CA" -H "authorization: Bearer $2" -H 'content-type: application/json' \
    -X "$3" "https://localhost:$1$4" ${5:+-d "$5"}
}
hit=$(api "$PILOT_TLS_PORT" "$IDN" POST /v1/search '{"subject": {"name": "Ahmad bin Ismail"},
  "purpose": "intelligence", "priority": "routine", "legal_basis": "mla_treaty",
  "justification": "Network analysis of a smuggling route", "states": ["MYS"]}')
qid=$(jq -r .query_id <<<"$hit")
ref=$(jq -r '.states[0].hit_ref // empty' <<<"$hit")
check "Malaysia answers hit_only with a hit reference" test "$(jq -r '.states[0].outcome' <<<"$hit")" = hit_only -a -n "$ref"
req=$(api "$PILOT_TLS_PORT" "$IDN" POST /v1/requests "{\"query_id\": \"$qid\", \"state\": \"MYS\",
  \"hit_ref\": \"$ref\", \"legal_basis\": \"mla_treaty\", \"priority\": \"urgent\",
  \"justification\": \"Prosecution of the facilitator in case ID-2026-0107\", \"case_ref\": \"ID-2026-0107\"}")
rid=$(jq -r '.request.request_id // empty' <<<"$req")
check "a follow-up request is stored (first hub)" test -n "$rid"
inbox=$(api "$PILOT_HUB2_PORT" "$FOCAL" GET '/v1/requests?box=inbox')
check "Malaysia's focal point sees it on the second hub" test "$(jq -r --arg r "$rid" '[.requests[] | select(.request_id == $r)] | length' <<<"$inbox")" = 1
dec=$(api "$PILOT_HUB2_PORT" "$FOCAL" POST "/v1/requests/$rid/decision" '{"decision": "release", "note": "Under the MLA treaty"}')
check "the focal point releases it on the second hub" test "$(jq -r .request.status <<<"$dec")" = released
again=$(curl -s -o /dev/null -w '%{http_code}' -m 20 --cacert "$CA" -H "authorization: Bearer $FOCAL" \
  -H 'content-type: application/json' "https://localhost:$PILOT_TLS_PORT/v1/requests/$rid/decision" \
  -d '{"decision": "decline", "reason": "second thoughts"}')
check "a second decision, on the first hub, is 409" test "$again" = 409
got=$(api "$PILOT_TLS_PORT" "$IDN" GET "/v1/requests/$rid")
check "the analyst reads the released records on the first hub ($(jq '.request.records | length' <<<"$got") records)" \
  test "$(jq '.request.records | length' <<<"$got")" -ge 1

# The hub killed without warning: it restarts, and its audit chain still verifies.
search   # on the first hub itself (not through the load balancer): its hash is in that hub's chain
acked=$(jq -r '.audit.hash' <<<"$ANSWER")
$C kill -s SIGKILL hub >/dev/null 2>&1
$C up -d --no-deps hub >/dev/null 2>&1
check "after SIGKILL the hub is healthy again" healthy hub 60
check "the audit chain verifies after the kill (unsigned tail allowed)" \
  $C exec -T hub fedbroker audit verify /var/lib/fedbroker/audit.jsonl --key /pilot/keys/audit.pem --allow-unsigned
# The answer's audit.hash is the SHA-256 of its own line: that line must be in the log.
acked_in_log() {
  $C exec -T hub cat /var/lib/fedbroker/audit.jsonl | python3 -c 'import hashlib, sys
sys.exit(0 if any(hashlib.sha256(l.rstrip(b"\n")).hexdigest() == sys.argv[1] for l in sys.stdin.buffer) else 1)' "$acked"
}
check "the last acknowledged search is in the log" acked_in_log
search
check "a search after the restart is shared" test "$(outcome IDN)" = shared

if [ "$KEEP" = --keep ]; then
  ok "left running (--keep): $C down -v tears it down"
else
  $C down -v >/dev/null 2>&1
  check "teardown leaves no container and no volume of the pilot" \
    test -z "$(docker ps -aq --filter label=com.docker.compose.project=fbpilot)$(docker volume ls -q --filter label=com.docker.compose.project=fbpilot)"
fi
echo "$FAILED failed"
exit $FAILED
