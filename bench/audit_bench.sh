#!/usr/bin/env bash
# What the audit log costs, as ratios measured in one run: POST /v1/search (document
# search on the demo's four sqlite states) at 64 concurrent streams
#   A. audit fsync'd (the default: entries that arrive together share one fdatasync),
#   B. audit with `fsync = false` (lines still written and hash-chained, not synced),
#   C. GET /v1/states, authenticated and not audited (the same token check and HTTP/2).
# The rounds alternate A, B, C so that drift in the machine's load hits all three alike.
#
#   bash bench/audit_bench.sh [build dir]       (default: build/; use a Release build)
#   env: DUR=5 (seconds per measurement)  ROUNDS=2  CLIENTS=4  STREAMS=16
#        AUDIT_DIR=DIR (where the audit logs go; default the temp dir, which must be on
#        a real disk for fsync to mean anything: not tmpfs)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-4}
STREAMS=${STREAMS:-16}
AUDIT_DIR=${AUDIT_DIR:-$TMP}
mkdir -p "$AUDIT_DIR"
fstype=$(df --output=fstype "$AUDIT_DIR" | tail -1)
[ "$fstype" = tmpfs ] && echo "bench: warning: $AUDIT_DIR is on tmpfs: fsync costs nothing there" >&2

demo_setup
search_body "$TMP/doc.json" document
PA=$(free_port); PB=$(free_port)
AUD_A=$AUDIT_DIR/fbbench-audit-fsync.$$.jsonl
AUD_B=$AUDIT_DIR/fbbench-audit-nofsync.$$.jsonl
trap 'rm -f "$AUD_A" "$AUD_B"; bench_cleanup' EXIT
demo_config "$TMP/demo/a.lua" "$PA" true "$AUD_A"
demo_config "$TMP/demo/b.lua" "$PB" false "$AUD_B"
bg_start hubA "$FEDBROKER" serve --config "$TMP/demo/a.lua"; HA=$BG_PID
bg_start hubB "$FEDBROKER" serve --config "$TMP/demo/b.lua"; HB=$BG_PID
wait_http "http://127.0.0.1:$PA/readyz" "$HA" hubA
wait_http "http://127.0.0.1:$PB/readyz" "$HB" hubB

AUTH="Authorization: Bearer $ANALYST_MYS"
JSON="Content-Type: application/json"
common=(-c "$CLIENTS" -m "$STREAMS" -t 1 -H "$AUTH")

# Warm both hubs (sqlite page cache, connection pools, allocator) outside the figures.
outcomes=$(search_once "http://127.0.0.1:$PA/v1/search" "$TMP/doc.json" "$TMP/answer.json")
h2 warm "${common[@]}" -n 2000 -H "$JSON" -d "$TMP/doc.json" "http://127.0.0.1:$PA/v1/search"
h2 warm "${common[@]}" -n 2000 -H "$JSON" -d "$TMP/doc.json" "http://127.0.0.1:$PB/v1/search"

declare -A sum_rps sum_p99 sum_ticks sum_n
for k in A B C; do sum_rps[$k]=0; sum_p99[$k]=0; sum_ticks[$k]=0; sum_n[$k]=0; done
lines() { wc -l <"$1"; }
audit_lines_before=$(lines "$AUD_A")
searches_A=0
for r in $(seq "$ROUNDS"); do
  for k in A B C; do
    case $k in
      A) pid=$HA; args=(-H "$JSON" -d "$TMP/doc.json" "http://127.0.0.1:$PA/v1/search") ;;
      B) pid=$HB; args=(-H "$JSON" -d "$TMP/doc.json" "http://127.0.0.1:$PB/v1/search") ;;
      C) pid=$HA; args=("http://127.0.0.1:$PA/v1/states") ;;
    esac
    t0=$(cpu_ticks "$pid")
    h2 "$k$r" "${common[@]}" -D "$DUR" "${args[@]}"
    t1=$(cpu_ticks "$pid")
    [ $k = A ] && searches_A=$((searches_A + H2_OK))
    sum_rps[$k]=$(awk -v a="${sum_rps[$k]}" -v b="$H2_RPS" 'BEGIN { print a + b }')
    sum_p99[$k]=$(awk -v a="${sum_p99[$k]}" -v b="$H2_P99" 'BEGIN { print a + b }')
    sum_ticks[$k]=$((${sum_ticks[$k]} + t1 - t0))
    sum_n[$k]=$((${sum_n[$k]} + H2_OK))
  done
done
audit_lines=$(($(lines "$AUD_A") - audit_lines_before))

# Every answered search must have its audit entry (plus a checkpoint every 1,000).
[ "$audit_lines" -ge "$searches_A" ] || die "only $audit_lines audit lines for $searches_A searches"

avg() { awk -v s="$1" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }'; }
avgf() { awk -v s="$1" -v n="$ROUNDS" 'BEGIN { printf "%.2f", s / n }'; }
rA=$(avg "${sum_rps[A]}"); rB=$(avg "${sum_rps[B]}"); rC=$(avg "${sum_rps[C]}")
cost=$(awk -v a="$rA" -v b="$rB" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }')

echo "audit_bench: h2load -c $CLIENTS -m $STREAMS ($((CLIENTS * STREAMS)) streams), one h2load thread, ${DUR}s x $ROUNDS rounds each, alternating"
echo "the hub is one event-loop process (+ its audit writer and sqlite worker threads); h2load is one thread; both share the $(nproc) cores"
machine_line
echo "search: document A12345678 as an analyst of MYS; per state: $outcomes; answer $(wc -c <"$TMP/answer.json") bytes"
echo "audit log on $fstype ($AUDIT_DIR)"
printf '%-44s %10s %8s %9s %12s\n' "case" "req/s" "ratio" "p99 ms" "hub CPU ms/req"
printf '%-44s %10s %8s %9s %12s\n' "A search, audit fsync'd (default)" "$rA" "$(ratio "$rA" "$rB")" "$(avgf "${sum_p99[A]}")" "$(ms_per "${sum_ticks[A]}" "${sum_n[A]}")"
printf '%-44s %10s %8s %9s %12s\n' "B search, audit fsync = false" "$rB" "1.00" "$(avgf "${sum_p99[B]}")" "$(ms_per "${sum_ticks[B]}" "${sum_n[B]}")"
printf '%-44s %10s %8s %9s %12s\n' "C GET /v1/states (authenticated, no audit)" "$rC" "$(ratio "$rC" "$rB")" "$(avgf "${sum_p99[C]}")" "$(ms_per "${sum_ticks[C]}" "${sum_n[C]}")"
echo "cost of fsync'ing the audit: ${cost}% of search throughput (target: at most 20%)"
echo "audit lines written during the fsync'd runs: $audit_lines for $searches_A searches"
