#!/usr/bin/env bash
# Runs the container pilot end to end, as docs/pilot.md tells an operator to, and prints
# one line per check: starts a container engine when none answers, builds the images,
# brings the topology up, searches over TLS (three mTLS nodes and Thailand's PostgreSQL),
# takes a node down and back, kills the hub with SIGKILL and verifies its audit chain
# after the restart, then tears everything down (volumes included; --keep leaves it up).
# Exit status: the number of failed checks (0: all passed).
#   bash scripts/pilot-check.sh [--keep]
set -uo pipefail
cd "$(dirname "$0")/.."
KEEP=${1:-}
export PILOT_TLS_PORT=${PILOT_TLS_PORT:-18443} PILOT_HTTP_PORT=${PILOT_HTTP_PORT:-18080}
C="docker-compose -p fbpilot -f docker/compose.yaml"
FAILED=0
ok() { printf 'ok   - %s\n' "$*"; }
bad() { printf 'FAIL - %s\n' "$*"; FAILED=$((FAILED + 1)); }
check() { # DESCRIPTION COMMAND...: one line, ok or FAIL
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

eval "$(bash scripts/container-engine.sh)" || { bad "a container engine runs"; exit 1; }
ok "a container engine answers at $DOCKER_HOST"
check "docker-compose accepts docker/compose.yaml" $C config -q

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
for n in idn-node mys-node bgd-node tha-db; do check "$n is healthy" healthy "$n" 60; done
check "init ran once and exited 0" test "$(docker inspect "$($C ps -q init)" --format '{{.State.ExitCode}}')" = 0

CA=$(mktemp)
trap 'rm -f "$CA"' EXIT
$C run --rm -T --entrypoint cat init /pilot/tls/ca.pem >"$CA" 2>/dev/null
token() { $C run --rm -T --entrypoint cat init "/pilot/tokens/$1.jwt" 2>/dev/null; }
MYS=$(token analyst-mys)
check "a token read with run -T has no carriage return" test -n "$MYS" -a "${MYS%$'\r'}" = "$MYS"

# search STATE-OF-LAST-ANSWER: the MYS analyst's treaty search over TLS; the answer in $ANSWER.
search() {
  ANSWER=$(curl -s -m 20 --cacert "$CA" -H "authorization: Bearer $MYS" -H 'content-type: application/json' \
    "https://localhost:$PILOT_TLS_PORT/v1/search" -d '{"subject": {"document": "A12345678"},
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

# The hub killed without warning: it restarts, and its audit chain still verifies.
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
