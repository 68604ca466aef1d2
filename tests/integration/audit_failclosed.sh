#!/usr/bin/env bash
# Fail closed: when the audit log cannot be written (here: the file size limit of the
# process is reached), searches are answered 503, /readyz turns 503, and the log that
# exists still verifies.
source "$FB_SOURCE_DIR/tests/lib/common.sh"
source "$FB_SOURCE_DIR/tests/lib/hub_env.sh"
setup_hub_env
cat >"$TMP/policies/MYS.lua" <<'LUA'
state "MYS" { name = "Malaysia" }
allow "all" { }
LUA
STATES_LUA='  MYS = { adapter = "sqlite", path = "data/MYS.db" },'
write_hub_config ''
HUB_PORT_SAVED=$HUB_PORT
# Its log goes through cat, which the file size limit does not bind: a sanitizer report
# reaches $TMP/hub.log (checked on exit) instead of /dev/null.
prlimit --fsize=200000 -- "$FEDBROKER" serve --config "$TMP/hub.lua" 2> >(cat >>"$TMP/hub.log") &
HUB_PID=$!
PIDS+=("$HUB_PID")
wait_http "http://127.0.0.1:$HUB_PORT/healthz"
expect_eq "ready at first" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/readyz")" 200
m=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics") # not piped: grep -q would SIGPIPE curl under pipefail
grep -q '^fedbroker_audit_healthy 1$' <<<"$m" || fail "metric fedbroker_audit_healthy is not 1"

Q='{"subject":{"document":"A12345678"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Fail-closed test of the audit log"}'
ok=0; refused=0
for i in $(seq 1 2000); do
  code=$(search "$ANALYST_IDN" "$Q")
  if [ "$code" = 200 ]; then ok=$((ok + 1)); continue; fi
  expect_eq "refusal status" "$code" 503
  expect_eq "refusal code" "$(pyq 'd["error"]["code"]')" not_ready
  refused=$((refused + 1))
  break
done
[ "$refused" = 1 ] || fail "the hub never refused although its log could not grow"
[ "$ok" -gt 0 ] || fail "no search succeeded before the limit"
expect_eq "unready after the failure" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/readyz")" 503
expect_eq "later searches refused" "$(search "$ANALYST_IDN" "$Q")" 503
expect_eq "still alive" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HUB_PORT/healthz")" 200
m=$(curl -s "http://127.0.0.1:$HUB_PORT/metrics")
grep -q '^fedbroker_audit_healthy 0$' <<<"$m" || fail "metric fedbroker_audit_healthy is not 0"
grep -qE '^fedbroker_audit_lines_failed [1-9]' <<<"$m" || fail "metric fedbroker_audit_lines_failed"
kill -9 "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
$PY "$FB_SOURCE_DIR/tests/lib/audit_verify.py" "$TMP/audit.jsonl" --key "$TMP/keys/audit.pub.pem" >/dev/null ||
  fail "the log written before the failure does not verify"
pass "after $ok audited searches the log could not grow: 503, unready, log intact"
