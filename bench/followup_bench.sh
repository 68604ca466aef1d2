#!/usr/bin/env bash
# What follow-up costs the search, and how fast the audit filters are (FOLLOWUP.md):
#   (1) search throughput of this build against a BASE build (without hit references,
#       `disclosed` ids or the search row the store keeps), the demo hub searching by
#       document (records shared, so `disclosed` is filled), alternating ROUNDS rounds
#       of DUR seconds; prints req/s and hub CPU per search for each and the ratio
#       (target: within 5 %);
#   (2) GET /v1/audit?record=ID over a log of LINES (1,000,000) search entries written
#       by this script (a valid chain), timed with curl, with the hub's RSS before and
#       VmHWM after (target: under 2 s, bounded memory).
#
#   BASE=path/to/base/build bash bench/followup_bench.sh [build dir]
#   env: DUR=5 ROUNDS=4 CLIENTS=4 STREAMS=16 LINES=1000000 (BASE unset: skip (1))
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-4}
CLIENTS=${CLIENTS:-4}
STREAMS=${STREAMS:-16}
LINES=${LINES:-1000000}
machine_line

demo_setup
search_body "$TMP/document.json" document
AUTH="Authorization: Bearer $ANALYST_MYS"

if [ -n "${BASE:-}" ] && [ "${SKIP1:-0}" != 1 ]; then
  BASE_BIN=$(cd "$BASE" && pwd)/fedbroker
  [ -x "$BASE_BIN" ] || die "no fedbroker in BASE=$BASE"
  PN=$(free_port); PO=$(free_port)
  demo_config "$TMP/demo/new.lua" "$PN" true "audit-new.jsonl"
  demo_config "$TMP/demo/old.lua" "$PO" true "audit-old.jsonl"
  echo 'store = "new.db"' >>"$TMP/demo/new.lua"
  bg_start hubNew "$FEDBROKER" serve --config "$TMP/demo/new.lua"; HN=$BG_PID
  bg_start hubOld "$BASE_BIN" serve --config "$TMP/demo/old.lua"; HO=$BG_PID
  wait_http "http://127.0.0.1:$PN/readyz" "$HN" hubNew
  wait_http "http://127.0.0.1:$PO/readyz" "$HO" hubOld
  echo "new: $(search_once "http://127.0.0.1:$PN/v1/search" "$TMP/document.json" "$TMP/new.out")"
  echo "old: $(search_once "http://127.0.0.1:$PO/v1/search" "$TMP/document.json" "$TMP/old.out")"
  grep -q '"disclosed":{"' "$TMP/demo/audit-new.jsonl" || die "the new build's audit entry has no disclosed ids"
  declare -A reqs=() ticks=()
  run_round() { # run_round name port pid
    local t0 t1 out n
    t0=$(cpu_ticks "$3")
    out=$(h2load -c "$CLIENTS" -m "$STREAMS" -t 1 -D "$DUR" -H "$AUTH" -H 'Content-Type: application/json' \
      -d "$TMP/document.json" "http://127.0.0.1:$2/v1/search" 2>&1)
    t1=$(cpu_ticks "$3")
    grep -q ' 0 failed, 0 errored' <<<"$out" && grep -q 'status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out" ||
      die "h2load errors on $1: $out"
    n=$(sed -n 's/^requests: [0-9]* total, [0-9]* started, \([0-9]*\) done.*/\1/p' <<<"$out")
    reqs[$1]=$(( ${reqs[$1]:-0} + n ))
    ticks[$1]=$(( ${ticks[$1]:-0} + t1 - t0 ))
    printf '  round %-4s %6d searches in %ss\n' "$1" "$n" "$DUR"
  }
  echo "(1) search by document, $ROUNDS alternating rounds of ${DUR}s (-c $CLIENTS -m $STREAMS)"
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then run_round old "$PO" "$HO"; run_round new "$PN" "$HN"
    else run_round new "$PN" "$HN"; run_round old "$PO" "$HO"; fi
  done
  total=$((DUR * ROUNDS))
  printf '  %-5s %9s %18s\n' build "req/s" "hub CPU/search ms"
  for b in old new; do
    printf '  %-5s %9.0f %18s\n' "$b" "$(awk -v n="${reqs[$b]}" -v t="$total" 'BEGIN{print n/t}')" "$(ms_per "${ticks[$b]}" "${reqs[$b]}")"
  done
  echo "  throughput new/old: $(ratio "${reqs[new]}" "${reqs[old]}")   CPU per search new/old: $(ratio "$(ms_per "${ticks[new]}" "${reqs[new]}")" "$(ms_per "${ticks[old]}" "${reqs[old]}")")"
  bg_stop "$HN"; bg_stop "$HO"
fi

[ "${SKIP2:-0}" = 1 ] && exit 0
echo "(2) GET /v1/audit?record= over $LINES audit lines"
$PY - "$TMP/demo/big.jsonl" "$LINES" <<'PY'
import hashlib, json, sys
path, n = sys.argv[1], int(sys.argv[2])
prev = "0" * 64
states = ["IDN", "THA", "BGD"]
with open(path, "w") as f:
    for seq in range(1, n + 1):
        disclosed = {s: ["%s-P-%06d" % (s, (seq * 7 + k) % 200000) for k in range(3)] for s in states[: 1 + seq % 3]}
        e = {"seq": seq, "ts": "2026-11-%02dT%02d:%02d:%02d.000Z" % (1 + seq * 29 // n, seq % 24, seq % 60, seq % 60),
             "event": "search", "prev": prev, "query_id": "q-%016d" % seq,
             "requester": {"sub": "analyst.mys", "state": "MYS", "agency": "Royal Malaysia Police", "roles": ["analyst"]},
             "purpose": "prosecution", "priority": "urgent", "legal_basis": "mla_treaty",
             "justification": "Suspected facilitator in case MY-2026-0042", "case_ref": "MY-2026-0042",
             "subject": {"document": "A12345678"},
             "states": [{"state": s, "outcome": "shared", "rule": "prosecution under a treaty or MOU", "records": 3,
                         "redacted": 1, "review": False, "latency_ms": 1.5} for s in states],
             "review": False, "disclosed": disclosed}
        line = json.dumps(e, separators=(",", ":"))
        f.write(line + "\n")
        prev = hashlib.sha256(line.encode()).hexdigest()
PY
echo "  log: $(du -m "$TMP/demo/big.jsonl" | cut -f1) MiB"
PB=$(free_port)
demo_config "$TMP/demo/big.lua" "$PB" true "big.jsonl"
sed -i 's/, key = "keys\/audit.pem"//' "$TMP/demo/big.lua"
echo 'store = "big.db"' >>"$TMP/demo/big.lua"
t0=$(date +%s.%N)
bg_start hubBig "$FEDBROKER" serve --config "$TMP/demo/big.lua"; HB=$BG_PID
for _ in $(seq 1200); do # opening reads the whole log once (sparse index): allow 2 minutes
  curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$PB/readyz" && break
  kill -0 "$HB" 2>/dev/null || die "hubBig exited: $(tail -3 "$TMP/hubBig.log")"
  sleep 0.1
done
echo "  hub ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (opening the log)"
rss0=$(vm_kb "$HB" VmRSS)
for id in IDN-P-000007 BGD-P-123456 THA-P-199999; do
  t=$(curl -s -o "$TMP/q.json" -w '%{time_total}' "http://127.0.0.1:$PB/v1/audit?record=$id&limit=1000" -H "Authorization: Bearer $AUDITOR")
  n=$($PY -c "import json; print(len(json.load(open('$TMP/q.json'))['entries']))")
  printf '  record=%s: %s entries in %.2f s\n' "$id" "$n" "$t"
done
t=$(curl -s -o "$TMP/q.csv" -w '%{time_total}' "http://127.0.0.1:$PB/v1/audit?record=IDN-P-000007&format=csv&limit=1000" -H "Authorization: Bearer $AUDITOR")
printf '  same as CSV: %s lines in %.2f s\n' "$(wc -l <"$TMP/q.csv")" "$t"
echo "  hub RSS before: $(mib "$rss0") MiB, VmHWM after: $(mib "$(vm_kb "$HB" VmHWM)") MiB"
