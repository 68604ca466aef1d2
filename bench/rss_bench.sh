#!/usr/bin/env bash
# The hub's memory with 1,000 searches in flight, over time (issue "every core": RSS
# < 64 MiB at 1,000 concurrent searches, and flat over 10 minutes).
#
# The realistic workload (bench/lib.sh realistic_setup: the 5-key subject, each node
# answering 10 person records, ~31 records in the merged answer) against one hub whose
# four states are canned nodes (bench/canned_node.c) serving what real `fedbroker node`
# processes answered to that search, each answer held back DELAY ms, as a national
# system takes its time: the searches wait on their legs instead of queueing in front of
# the hub. h2load keeps CLIENTS x STREAMS (125 x 8 = 1,000) searches in flight for DUR
# seconds (600) while the script samples the hub's VmRSS and VmHWM (/proc) and, from
# /metrics, where the searches in flight are, every SAMPLE seconds: their number, the
# legs in flight per state (waiting in the hub's queue for a connection or for the
# node's answer), the ended legs held for a slower state's (fedbroker_legs_held), the
# searches waiting for their audit entry (fedbroker_searches_auditing), the audit lines
# appended and not yet durable, and the unsent answer bytes (fedbroker_send_buffer_bytes).
# Then it prints the series, min / max / last, and the slope of RSS (least squares, MiB
# per minute) after the first WARM seconds and over the second half.
#
# A search waits for its slowest state. The states' queues are independent (first in,
# first out, 16 connections each): at equal DELAY the slowest node of the moment keeps
# all 1,000 searches' legs while the others' queues shorten slowly, and their ended legs
# are held meanwhile: RSS grows towards the bound of 1,000 x (answering states - 1) held
# legs over tens of minutes. The script fits RSS against time and the held legs together:
# what one held leg costs (roughly: a leg held under 250 ms is not frozen yet), and what
# grows besides them (a leak would show there). The memory at the bound is measured, not
# extrapolated:
# SLOW_STATE=IDN SLOW_DELAY=60 makes one node slower: the bound (the memory at 1,000
# searches in flight when one state lags) is reached within the warm-up, and the run
# shows whether it is flat there.
#
# The hub's config, besides the demo's keys, policies and fsync'd audit log:
#   limits.concurrency = 1024 (the default, written out): all 1,000 are admitted;
#   limits.per_identity, per_client, connections, aborts_per_minute lifted (demo_config:
#     one token and one address carry the whole load, and h2load abandons the searches
#     in flight when it stops);
#   max_legs = 2048 per state (the default 256 would answer the 257th concurrent leg to a
#     state "unavailable" at once, and the search would not wait);
#   deadlines.urgent = 30000 and timeout = 30000 per state: legs queue for one of the 16
#     connections the hub keeps per node (broker/http_client/client.h), so a search
#     waits ~1,000 / (16 / DELAY) s for its legs; a loaded machine must not turn that
#     queue into timeouts, which would measure something else;
#   workers = WORKERS (1).
# The script fails if any answer is not 2xx, or if more than one leg in 1,000 ended other
# than `shared` (fedbroker_state_outcomes_total at the end; on a loaded machine the odd
# leg may still time out), or if the searches in flight were fewer than MIN_INFLIGHT
# (900) on average over the samples after WARM.
#
#   bash bench/rss_bench.sh [build dir]    (a Release build, with the canned_node target)
#   env: DUR=600 SAMPLE=5 WARM=60 DELAY=50 CLIENTS=125 STREAMS=8 WORKERS=1 MIN_INFLIGHT=900
#        SLOW_STATE= (none) SLOW_DELAY=60
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-600}
SAMPLE=${SAMPLE:-5}
WARM=${WARM:-60}
DELAY=${DELAY:-50}
CLIENTS=${CLIENTS:-125}
STREAMS=${STREAMS:-8}
WORKERS=${WORKERS:-1}
MIN_INFLIGHT=${MIN_INFLIGHT:-900}
SLOW_STATE=${SLOW_STATE:-}
SLOW_DELAY=${SLOW_DELAY:-60}
[ "$WARM" -lt "$DUR" ] || die "WARM ($WARM) must be shorter than DUR ($DUR)"
[ -x "$CANNED_NODE" ] || die "no canned_node in the build directory: cmake --build <build> --target canned_node"

demo_setup
AUTH="Authorization: Bearer $ANALYST_MYS"
JSON="Content-Type: application/json"
realistic_setup

# Real nodes answer once (captured); canned nodes serve those bytes after DELAY ms.
STATE_OPTS="timeout = 30000, max_legs = 2048"
real_nodes_start "$TMP/real" "$STATE_OPTS"
CANNED_SLOW_STATE=$SLOW_STATE CANNED_SLOW_DELAY=$SLOW_DELAY canned_nodes_start "$TMP/real.json" "$DELAY" "$STATE_OPTS"
for p in "${NODE_PIDS[@]}"; do bg_stop "$p"; done

P=$(free_port)
demo_config "$TMP/demo/rss.lua" "$P" true "audit-rss.jsonl" "$CANNED_CFG"
sed -i -e 's/^limits = { /limits = { concurrency = 1024, /' \
  -e 's/^deadlines = .*/deadlines = { immediate = 2000, urgent = 30000, routine = 30000 }/' "$TMP/demo/rss.lua"
grep -q '^limits = { concurrency = 1024, ' "$TMP/demo/rss.lua" || die "could not set limits.concurrency"
echo "workers = $WORKERS" >>"$TMP/demo/rss.lua"
bg_start hub "$FEDBROKER" serve --config "$TMP/demo/rss.lua"
HUB=$BG_PID
wait_http "http://127.0.0.1:$P/readyz" "$HUB" hub
outcome=$(search_once "http://127.0.0.1:$P/v1/search" "$TMP/real.json" "$TMP/real.out")
RECORDS=$($PY -c 'import json,sys; a=json.load(open(sys.argv[1])); print(sum(len(e["records"]) for e in a["results"]))' "$TMP/real.out")
[ "$RECORDS" -ge 25 ] || die "the search answered $RECORDS records, not ~30 ($outcome)"

RSS_IDLE=$(vm_kb "$HUB" VmRSS)
HWM_IDLE=$(vm_kb "$HUB" VmHWM)

# Where the searches in flight are, from one /metrics: "searches legs IDN THA BGD MYS
# held auditing audit_queue send_bytes" (legs: all states; then each state's).
phases() {
  curl -s --max-time 2 "http://127.0.0.1:$P/metrics" | awk '
    $1 == "fedbroker_searches_in_flight" { s = $2 }
    index($1, "fedbroker_legs_in_flight{") == 1 { legs += $2; split($1, a, "\""); st[a[2]] = $2 }
    $1 == "fedbroker_legs_held" { held = $2 }
    $1 == "fedbroker_searches_auditing" { aud = $2 }
    $1 == "fedbroker_audit_last_seq" { last = $2 }
    $1 == "fedbroker_audit_lines_written" { written = $2 }
    $1 == "fedbroker_send_buffer_bytes" { send = $2 }
    END { printf "%d %d %d %d %d %d %d %d %d %d", s, legs, st["IDN"], st["THA"], st["BGD"], st["MYS"], held, aud, last - written, send }'
}

# The sampler: one line per SAMPLE seconds, "t rss_kb hwm_kb" and the phases, while
# h2load runs in the foreground.
sampler() {
  local t0 now
  t0=$(date +%s.%N)
  while kill -0 "$HUB" 2>/dev/null; do
    now=$(date +%s.%N)
    echo "$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.0f", b - a }') $(vm_kb "$HUB" VmRSS) $(vm_kb "$HUB" VmHWM) $(phases)"
    sleep "$SAMPLE"
  done
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(cpu_ticks "$HUB")
sampler >"$TMP/samples" &
SAMPLER=$!
BG_PIDS+=("$SAMPLER")
h2 rss -t 1 -c "$CLIENTS" -m "$STREAMS" -D "$DUR" -H "$AUTH" -H "$JSON" -d "$TMP/real.json" "http://127.0.0.1:$P/v1/search"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
T1=$(cpu_ticks "$HUB")
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# Every leg of every search answered: no timeout, error or unavailable state.
curl -s --max-time 2 "http://127.0.0.1:$P/metrics" | grep '^fedbroker_state_outcomes_total' >"$TMP/outcomes" || true
OTHER=$(awk '!/outcome="shared"/ { s += $2 } END { print s + 0 }' "$TMP/outcomes")
SHARED=$(awk '/outcome="shared"/ { s += $2 } END { print s + 0 }' "$TMP/outcomes")
[ "$SHARED" -gt 0 ] || die "no leg answered shared: $(cat "$TMP/outcomes")"

echo "rss_bench: $((CLIENTS * STREAMS)) searches in flight (h2load -c $CLIENTS -m $STREAMS, one thread) for ${DUR}s; hub workers = $WORKERS, limits.concurrency = 1024, max_legs = 2048 per state"
SLOW_NOTE=""
[ -n "$SLOW_STATE" ] && SLOW_NOTE=" ($SLOW_STATE's after $SLOW_DELAY ms)"
echo "four canned nodes answering after ${DELAY} ms$SLOW_NOTE (the captured answers of real nodes: $outcome); the merged answer holds $RECORDS records"
machine_line
echo "load average at the start: $LOAD0; at the end: $LOAD1"
echo "searches answered: $H2_OK ($H2_RPS/s), latency p50 / p99 $H2_P50 / $H2_P99 ms; hub CPU per search $(ms_per $((T1 - T0)) "$H2_OK") ms"
echo "leg outcomes: $SHARED shared, $OTHER other (timeout, error, unavailable)"
echo
echo "legs: in flight (all states, then per state: queued for a connection or awaiting the node); held: ended,"
echo "their search waiting for another state's; auditing: searches whose audit entry is not durable yet;"
echo "audit q: audit lines appended, not yet durable; send: unsent answer bytes"
printf '%6s %8s %8s %8s %6s %6s %6s %6s %6s %5s %8s %7s %8s\n' "t s" "RSS MiB" "HWM MiB" "searches" "legs" IDN THA BGD MYS held auditing "audit q" send
awk '{ printf "%6d %8.1f %8.1f %8d %6d %6d %6d %6d %6d %5d %8d %7d %8d\n", $1, $2 / 1024, $3 / 1024, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$TMP/samples"
echo
echo "idle, before the load: RSS $(mib "$RSS_IDLE") MiB, VmHWM $(mib "$HWM_IDLE") MiB"
awk -v warm="$WARM" -v dur="$DUR" -v min_inflight="$MIN_INFLIGHT" '
  # least-squares slope of y over t, in MiB per minute
  function slope(lo, hi,   i, n, st, sy, stt, sty) {
    for (i = 1; i <= N; i++) if (t[i] >= lo && t[i] <= hi) { n++; st += t[i]; sy += r[i]; stt += t[i] * t[i]; sty += t[i] * r[i] }
    if (n < 3 || n * stt == st * st) return "n/a"
    return sprintf("%+.3f", (n * sty - st * sy) / (n * stt - st * st) * 60 / 1024)
  }
  # RSS = a + c t + b held, least squares over the samples in [lo, hi]: b is what one
  # held leg costs, c what grows with time besides them (a leak would show here).
  function fit(lo, hi,   i, n, mt, mh, mr, stt, shh, sth, str, shr, det) {
    for (i = 1; i <= N; i++) if (t[i] >= lo && t[i] <= hi) { n++; mt += t[i]; mh += held[i]; mr += r[i] }
    if (n < 4) return 0
    mt /= n; mh /= n; mr /= n
    for (i = 1; i <= N; i++) if (t[i] >= lo && t[i] <= hi) {
      stt += (t[i] - mt) ^ 2; shh += (held[i] - mh) ^ 2; sth += (t[i] - mt) * (held[i] - mh)
      str += (t[i] - mt) * (r[i] - mr); shr += (held[i] - mh) * (r[i] - mr)
    }
    det = stt * shh - sth * sth
    if (det <= 0) return 0
    fit_c = (shh * str - sth * shr) / det; fit_b = (stt * shr - sth * str) / det
    return 1
  }
  { N++; t[N] = $1; r[N] = $2; h[N] = $3; s[N] = $4; held[N] = $10 }
  END {
    for (i = 1; i <= N; i++) if (t[i] >= warm && t[i] <= dur) {
      if (!m || r[i] < lo) lo = r[i]; if (!m || r[i] > hi) hi = r[i]; m++; sum += s[i]
      if (!m2 || s[i] < slo) slo = s[i]; m2++; last = r[i]
    }
    if (!m) { print "no samples after the warm-up"; exit 1 }
    printf "after %d s of warm-up (%d samples): RSS min %.1f, max %.1f, last %.1f MiB; VmHWM %.1f MiB\n", warm, m, lo / 1024, hi / 1024, last / 1024, h[N] / 1024
    printf "RSS slope: %s MiB/min after the warm-up, %s MiB/min over the second half\n", slope(warm, dur), slope(dur / 2, dur)
    printf "searches in flight: mean %.0f, min %d (samples after the warm-up)\n", sum / m, slo
    if (fit(warm, dur)) {
      printf "RSS against the held legs (after the warm-up): %.2f KiB per held leg; with them accounted for, RSS slope %+.3f MiB/min (what grows besides the held legs)\n", fit_b, fit_c * 60 / 1024
    }
    if (sum / m < min_inflight) { printf "rss_bench: fewer than %d searches in flight on average\n", min_inflight; exit 1 }
  }' "$TMP/samples" || die "the run did not hold the searches in flight it should (see above)"
echo "target (issue: every core): RSS < 64 MiB at 1,000 concurrent searches, flat over 10 minutes"
[ $((OTHER * 1000)) -le "$SHARED" ] || die "$OTHER legs ended other than shared: $(grep -v 'outcome="shared"' "$TMP/outcomes" | awk '$2 > 0' | head -5 | tr '\n' ' ')"
