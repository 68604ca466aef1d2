#!/usr/bin/env bash
# Federated search throughput, latency, hub CPU per search and peak RSS, in one run:
#   (a) the demo hub (four sqlite states, the demo policies, audit fsync'd), searching
#       by document and by name;
#   (b) the hub in front of four `fedbroker node` processes over loopback (http
#       adapter, same data and policies), same two searches;
#   (c) the ceiling: nghttpd serving a static file of the size of the document answer,
#       same h2load parameters, so (a) and (b) can be read as ratios of it.
# An analyst of MYS searches, so IDN, THA and BGD answer (three legs per search).
#
#   bash bench/search_bench.sh [build dir]      (default: build/; use a Release build)
#   env: DUR=5 (seconds per measurement)  CLIENTS=4  STREAMS=16 (64 streams in all)
#        DURATION=600 — afterwards, a memory-flatness run of that many seconds on the
#        hub of FLAT=a|b (default a), document and name searches alternating every 10 s,
#        the hub's RSS sampled every 10 s; prints first / last / max.
#        PERF=1 — also `perf record` the hub during the (a) and (b) document rows (those
#        rows then carry perf's overhead) and print its hottest symbols; PERF_DIR=DIR
#        keeps the perf.data files (default: deleted with the temp dir).
#        BEFORE=DIR (a build dir, or a fedbroker binary, of another build) — its hub
#        serves (a) beside this build's (same databases, policies and config; the script
#        checks both answer the same results), and AB_ROUNDS=2 rounds of the (a) name and
#        document rows are measured for both, alternating: before/after as a ratio of
#        one run.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-5}
CLIENTS=${CLIENTS:-4}
STREAMS=${STREAMS:-16}
DURATION=${DURATION:-0}
PERF=${PERF:-0}
PERF_DIR=${PERF_DIR:-$TMP}
if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || die "PERF=1 needs perf (Debian package linux-perf)"
  mkdir -p "$PERF_DIR"
fi
FLAT=${FLAT:-a}
case $FLAT in a | b) ;; *) die "FLAT must be a or b" ;; esac
case $DURATION in '' | *[!0-9]*) die "DURATION must be a number of seconds" ;; esac
BEFORE=${BEFORE:-}
AB_ROUNDS=${AB_ROUNDS:-2}
OLD_FB=""
if [ -n "$BEFORE" ]; then
  OLD_FB=$BEFORE
  [ -d "$BEFORE" ] && OLD_FB=$BEFORE/fedbroker
  [ -x "$OLD_FB" ] || die "BEFORE=$BEFORE: no fedbroker binary there"
fi

demo_setup
search_body "$TMP/document.json" document
search_body "$TMP/name.json" name
AUTH="Authorization: Bearer $ANALYST_MYS"
JSON="Content-Type: application/json"
common=(-c "$CLIENTS" -m "$STREAMS" -t 1)

# (a) the demo's sqlite states.
PA=$(free_port)
demo_config "$TMP/demo/a.lua" "$PA" true "audit-a.jsonl"
bg_start hubA "$FEDBROKER" serve --config "$TMP/demo/a.lua"; HA=$BG_PID
wait_http "http://127.0.0.1:$PA/readyz" "$HA" hubA
if [ -n "$OLD_FB" ]; then # (a) on the BEFORE build
  PA0=$(free_port)
  demo_config "$TMP/demo/a0.lua" "$PA0" true "audit-a0.jsonl"
  bg_start hubA0 "$OLD_FB" serve --config "$TMP/demo/a0.lua"; HA0=$BG_PID
  wait_http "http://127.0.0.1:$PA0/readyz" "$HA0" hubA0
fi

# (b) four nodes serving the same databases, and a hub with http adapters in front.
nodes=""
NODE_PIDS=()
for s in IDN MYS THA BGD; do
  p=$(free_port)
  bg_start "node$s" "$FEDBROKER" node --data "$TMP/demo/data/$s.db" --listen "127.0.0.1:$p" --log-level warn
  NODE_PIDS+=("$BG_PID")
  wait_http "http://127.0.0.1:$p/healthz" "$BG_PID" "node$s"
  nodes+="  $s = { adapter = \"http\", url = \"http://127.0.0.1:$p/search\", timeout = 5000 },"$'\n'
done
PB=$(free_port)
demo_config "$TMP/demo/b.lua" "$PB" true "audit-b.jsonl" "$nodes"
bg_start hubB "$FEDBROKER" serve --config "$TMP/demo/b.lua"; HB=$BG_PID
wait_http "http://127.0.0.1:$PB/readyz" "$HB" hubB

declare -A outcome size
for kind in document name; do
  outcome[a$kind]=$(search_once "http://127.0.0.1:$PA/v1/search" "$TMP/$kind.json" "$TMP/a-$kind.out")
  outcome[b$kind]=$(search_once "http://127.0.0.1:$PB/v1/search" "$TMP/$kind.json" "$TMP/b-$kind.out")
  size[$kind]=$(wc -c <"$TMP/a-$kind.out")
done
# Same data and policies behind both hubs: the answers must agree (query ids differ).
for kind in document name; do
  [ "${outcome[a$kind]}" = "${outcome[b$kind]}" ] ||
    die "the $kind search differs between (a) and (b): '${outcome[a$kind]}' vs '${outcome[b$kind]}'"
done

if [ -n "$OLD_FB" ]; then
  for kind in document name; do
    search_once "http://127.0.0.1:$PA0/v1/search" "$TMP/$kind.json" "$TMP/a0-$kind.out" >/dev/null
    $PY - "$TMP/a0-$kind.out" "$TMP/a-$kind.out" <<'PY' || die "the BEFORE hub and this build's hub answer the $kind search with different results"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if a["results"] == b["results"] else 1)
PY
  done
fi

# (c) the ceiling: a static file as large as the document answer.
mkdir -p "$TMP/www"
cp "$TMP/a-document.out" "$TMP/www/answer.json"
PC=$(free_port)
bg_start nghttpd nghttpd --no-tls -d "$TMP/www" "$PC"
wait_http "http://127.0.0.1:$PC/answer.json" "$BG_PID" nghttpd
NG=$BG_PID

# Warm-up, outside the figures.
for kind in document name; do
  h2 warm "${common[@]}" -n 1000 -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json" "http://127.0.0.1:$PA/v1/search"
  h2 warm "${common[@]}" -n 1000 -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json" "http://127.0.0.1:$PB/v1/search"
  [ -n "$OLD_FB" ] && h2 warm "${common[@]}" -n 1000 -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json" "http://127.0.0.1:$PA0/v1/search"
done

rows=()
perf_reports=()
nodes_ticks() { local t=0 p; for p in "${NODE_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo $t; }
measure() { # LABEL PID URL [h2load args...]
  local label=$1 pid=$2 url=$3; shift 3
  local t0 t1 n0 n1 l0 l1 perf_pid="" tag
  tag=$(printf '%s' "$label" | tr -c 'a-z0-9' '-' | tr -s '-')
  if [ "$PERF" = 1 ] && [[ $label == [ab]*document ]]; then
    perf record -q -F 999 -g -p "$pid" -o "$PERF_DIR/perf-$tag.data" >"$TMP/perf-$tag.log" 2>&1 &
    perf_pid=$!
    BG_PIDS+=("$perf_pid")
    sleep 0.5
  fi
  t0=$(cpu_ticks "$pid"); n0=$(nodes_ticks); l0=$(loop_ticks "$pid")
  h2 "$label" "${common[@]}" -D "$DUR" "$@" "$url"
  t1=$(cpu_ticks "$pid"); n1=$(nodes_ticks); l1=$(loop_ticks "$pid")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    for _ in $(seq 100); do kill -0 "$perf_pid" 2>/dev/null || break; sleep 0.1; done
    wait "$perf_pid" 2>/dev/null || true
    perf_reports+=("$tag")
  fi
  local nodes_cpu="-"
  [[ $label == b* ]] && nodes_cpu=$(ms_per $((n1 - n0)) "$H2_OK")
  # Cores busy: the hub's, the nodes' and h2load's CPU seconds over the wall time.
  local busy
  busy=$(awk -v h=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$CLK_TCK" -v g="$H2_CPU" -v w="$H2_WALL" \
    'BEGIN { printf "%.2f", ((h + n) / hz + g) / w }')
  rows+=("$label|$H2_RPS|$H2_P50|$H2_P99|$(ms_per $((t1 - t0)) "$H2_OK")|$(ms_per $((l1 - l0)) "$H2_OK")|$nodes_cpu|$(awk -v g="$H2_CPU" -v n="$H2_OK" 'BEGIN { printf "%.3f", g * 1000 / n }')|$busy")
}
measure "c static file (nghttpd)" "$NG" "http://127.0.0.1:$PC/answer.json"
CEIL=$H2_RPS
for kind in document name; do
  measure "a sqlite, by $kind" "$HA" "http://127.0.0.1:$PA/v1/search" -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json"
  measure "b nodes,  by $kind" "$HB" "http://127.0.0.1:$PB/v1/search" -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json"
done
if [ -n "$OLD_FB" ]; then
  for round in $(seq "$AB_ROUNDS"); do
    for kind in name document; do
      measure "a before ($round), $kind" "$HA0" "http://127.0.0.1:$PA0/v1/search" -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json"
      measure "a this ($round), $kind" "$HA" "http://127.0.0.1:$PA/v1/search" -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json"
    done
  done
fi
HWM_A=$(vm_kb "$HA" VmHWM); HWM_B=$(vm_kb "$HB" VmHWM)

echo "search_bench: h2load -c $CLIENTS -m $STREAMS ($((CLIENTS * STREAMS)) concurrent streams), one h2load thread, ${DUR}s per row"
echo "one hub process (event loop + audit writer + 4 libuv workers); in (b) also four node processes; all share the $(nproc) cores with h2load"
machine_line
for kind in document name; do
  echo "by $kind: ${outcome[a$kind]}; answer ${size[$kind]} bytes"
done
echo "CPU columns, in ms of CPU (utime + stime) per request: the hub, all threads (for (c): nghttpd); its event-loop thread alone; the four nodes together; h2load. busy: all of them over the wall time, in cores"
printf '%-24s %8s %7s %7s %7s %8s %7s %7s %7s %5s\n' "case" "req/s" "of (c)" "p50 ms" "p99 ms" "hub CPU" "loop" "nodes" "h2load" "busy"
for row in "${rows[@]}"; do
  IFS='|' read -r label rps p50 p99 cpu lcpu ncpu gcpu busy <<<"$row"
  printf '%-24s %8.0f %7s %7s %7s %8s %7s %7s %7s %5s\n' "$label" "$rps" "$(ratio "$rps" "$CEIL")" "$p50" "$p99" "$cpu" "$lcpu" "$ncpu" "$gcpu" "$busy"
done
echo "peak RSS (VmHWM): hub (a) $(mib "$HWM_A") MiB, hub (b) $(mib "$HWM_B") MiB"
[ -n "$OLD_FB" ] && echo "before: $OLD_FB (hub pid $HA0); this build: $FEDBROKER"
echo "targets: (a) by document >= 5000 searches/s with p99 < 20 ms; (b) <= 0.25 ms of hub CPU per search"

for tag in "${perf_reports[@]}"; do
  echo
  echo "perf, hub during '$tag' (self time; by shared object, then the hottest symbols):"
  perf report -i "$PERF_DIR/perf-$tag.data" --no-children --stdio -g none --sort dso 2>/dev/null |
    awk '/^ +[0-9.]+%/ && n++ < 8'
  perf report -i "$PERF_DIR/perf-$tag.data" --no-children --stdio -g none --sort dso,symbol 2>/dev/null |
    awk '/^ +[0-9.]+%/ && n++ < 25' | sed 's/ *- *- *$//'
done

if [ "$DURATION" -gt 0 ]; then
  if [ "$FLAT" = a ]; then pid=$HA; url="http://127.0.0.1:$PA/v1/search"; else pid=$HB; url="http://127.0.0.1:$PB/v1/search"; fi
  echo
  echo "memory flatness: ${DURATION}s of searches on hub ($FLAT), document and name alternating every 10 s, RSS every 10 s"
  first="" last="" max=0 n=0 total=0 elapsed=0
  while [ "$elapsed" -lt "$DURATION" ]; do
    step=$((DURATION - elapsed < 10 ? DURATION - elapsed : 10))
    kind=document; [ $((n % 2)) = 1 ] && kind=name
    h2 flat "${common[@]}" -D "$step" -H "$AUTH" -H "$JSON" -d "$TMP/$kind.json" "$url"
    total=$((total + H2_OK))
    elapsed=$((elapsed + step)); n=$((n + 1))
    rss=$(vm_kb "$pid" VmRSS)
    [ -z "$first" ] && first=$rss
    last=$rss
    [ "$rss" -gt "$max" ] && max=$rss
    printf '  t=%4ss  RSS %7s MiB  (%s searches so far)\n' "$elapsed" "$(mib "$rss")" "$total"
  done
  echo "RSS first $(mib "$first") MiB, last $(mib "$last") MiB, max $(mib "$max") MiB; last/first $(ratio "$last" "$first") after $total searches"
fi
