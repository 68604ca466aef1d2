#!/usr/bin/env bash
# Policy replay (`fedbroker policy diff`, the same core as POST /v1/policy/diff): how
# many audited searches per second are replayed under the live and a drafted policy,
# and whether memory stays flat as the log grows. Generates a synthetic audit log of
# LINES lines (search entries like the hub writes, 3 responding states each, with a
# checkpoint line every 1000), then replays
#   S. the first tenth of it (LINES/10 lines),
#   L. all of it,
# ROUNDS times alternately, and reports searches/s, state decisions/s (each decided
# twice: live and draft), and the peak RSS of L relative to S (flat memory: ~1.0).
#
#   bash bench/replay_bench.sh [build dir]   (default: build/; use a Release build)
#   env: LINES=1000000  ROUNDS=2
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
BUILD=${1:-${BUILD:-$BENCH_ROOT/build}}
FEDBROKER=$(cd "$BUILD" 2>/dev/null && pwd)/fedbroker
[ -x "$FEDBROKER" ] || die "no fedbroker binary in '$BUILD'"
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)"
[ "$BUILD_TYPE" = Release ] || echo "bench: warning: '$BUILD' is not a Release build (${BUILD_TYPE:-no type})" >&2
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package time)"
LINES=${LINES:-1000000}
ROUNDS=${ROUNDS:-2}
TMP=$(mktemp -d /tmp/fbbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
machine_line

# Live: the demo policies. Draft: MYS denies Indonesia first (changes many decisions).
mkdir -p "$TMP/old" "$TMP/new"
cp "$BENCH_ROOT"/policies/*.lua "$TMP/old/"
cp "$BENCH_ROOT"/policies/*.lua "$TMP/new/"
{ echo 'deny "nothing for Indonesia while the MOU is renegotiated" { from = "IDN" }'; cat "$BENCH_ROOT/policies/MYS.lua"; } >"$TMP/new/MYS.lua"

$PY - "$TMP/audit.jsonl" "$LINES" <<'PY'
import json, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
states = ["IDN", "MYS", "THA", "BGD"]
purposes = ["investigation", "prosecution", "victim_protection", "intelligence", "border_screening"]
priorities = ["routine", "urgent", "immediate"]
bases = ["mla_treaty", "bilateral_mou", "interpol_channel", "domestic_law", "consent", "informal"]
subjects = [{"document": "A12345678"}, {"name": "Ahmad bin Ismail"}, {"name": "Siti", "dob": "1990"},
            {"vessel": "KM Harapan"}, {"phone": "+60123456789"}]
with open(path, "w") as f:
    for seq in range(1, n + 1):
        ts = "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (1 + seq * 12 // (n + 1), 1 + seq % 28, seq % 24, seq % 60, seq % 60, seq % 1000)
        if seq % 1000 == 0:
            e = {"seq": seq, "ts": ts, "event": "checkpoint", "prev": "%064x" % seq, "sig": "x" * 88}
        else:
            me = rnd.choice(states)
            to = [s for s in states if s != me]
            e = {"seq": seq, "ts": ts, "event": "search", "prev": "%064x" % seq, "query_id": "q-%016d" % seq,
                 "requester": {"sub": "analyst-%d" % (seq % 50), "state": me, "agency": "Police", "roles": ["analyst"]},
                 "purpose": rnd.choice(purposes), "priority": rnd.choice(priorities), "legal_basis": rnd.choice(bases),
                 "justification": "Synthetic benchmark request number %d, boat arrivals" % seq,
                 "case_ref": "CASE-%d" % seq if seq % 3 else None, "subject": rnd.choice(subjects),
                 "states": [{"state": s, "outcome": "shared", "rule": "r", "records": 1, "redacted": 0,
                             "review": False, "latency_ms": 3.2} for s in to], "review": False}
            if e["case_ref"] is None: del e["case_ref"]
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
PY
head -n $((LINES / 10)) "$TMP/audit.jsonl" >"$TMP/audit-small.jsonl"
echo "synthetic audit log: $LINES lines, $(du -m "$TMP/audit.jsonl" | cut -f1) MiB"

# run LOG: sets RUN_S (wall seconds), RUN_KB (peak RSS), RUN_N (searches replayed).
run() {
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$TMP/rss" "$FEDBROKER" policy diff --audit "$1" --old "$TMP/old" --new "$TMP/new" --json >"$TMP/out.json"
  t1=$(date +%s.%N)
  RUN_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  RUN_KB=$(tail -1 "$TMP/rss")
  RUN_N=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["replayed"], d["changed"])' "$TMP/out.json")
}

best_s=0; best_l=0
for r in $(seq 1 "$ROUNDS"); do
  run "$TMP/audit-small.jsonl"; s_s=$RUN_S; s_kb=$RUN_KB; s_n=${RUN_N%% *}
  run "$TMP/audit.jsonl"; l_s=$RUN_S; l_kb=$RUN_KB; l_n=${RUN_N%% *}; l_changed=${RUN_N##* }
  s_rate=$(awk -v n="$s_n" -v t="$s_s" 'BEGIN { printf "%.0f", n / t }')
  l_rate=$(awk -v n="$l_n" -v t="$l_s" 'BEGIN { printf "%.0f", n / t }')
  printf 'round %d: S %d searches in %.2f s (%s/s, peak RSS %s MiB); L %d searches in %.2f s (%s/s, %s decisions/s, peak RSS %s MiB, %s changed); RSS L/S %s\n' \
    "$r" "$s_n" "$s_s" "$s_rate" "$(mib "$s_kb")" "$l_n" "$l_s" "$l_rate" "$((l_rate * 3 * 2))" "$(mib "$l_kb")" "$l_changed" "$(ratio "$l_kb" "$s_kb")"
done
