#!/usr/bin/env bash
# The realistic workload of the "every core" issue, in one run:
#   (r) the hub in front of four `fedbroker node` processes over HTTP/1.1 (http adapter),
#       each node answering 10 person records to a search whose subject has name, dob,
#       document, nationality and phone, with case_ref; the merged answer carries ~30
#       records (victims masked, one cross-state merge); JWT and audit (fsync'd) on;
#   (c) the static baseline: nghttpd serving a file as large as that merged answer;
#   (w) the fan-out to 48 sqlite states (copies of the demo's four databases under 48
#       ISO 3166-1 alpha-3 codes, each with a policy file allowing the request), by
#       document: once for a document every demo database holds (about one record per
#       leg), once for a document no database holds (legs answering no record).
# An analyst of MYS searches, so every configured state but MYS answers.
#
# The demo data has no subject with ten records per state once the dob narrows the
# name matches, so the script constructs one in its copies of the databases: nine more
# persons of each state (three of them victims) are indexed under the subject's
# document number, next to the one person who holds it. Nothing else changes.
#
#   bash bench/realistic_bench.sh [build dir]   (default: build/; use a Release build)
#   env: DUR=10 (seconds per row)  CLIENTS=16 STREAMS=8 (the realistic rows)
#        WIDE_CLIENTS=8 WIDE_STREAMS=8 (the 48-state rows)  WIDE=0 skips them
#        PERF=1 — afterwards, `perf record --call-graph dwarf` the hub for PERF_DUR=5 s of
#        the realistic workload (a separate row: the figures above carry no perf
#        overhead) and print the hottest symbols of its event-loop thread and the share
#        of samples per thread; PERF_DIR=DIR keeps perf.data (default: the temp dir).
#        SYSCALLS=1 — afterwards, the hub's system calls per search during SYS_DUR=5 s of
#        the realistic workload (`perf stat` on the syscalls:sys_enter_* tracepoints, all
#        of the hub's threads), for the BEFORE hub too when there is one.
#        NODES=canned — the (r) hubs talk to canned nodes (bench/canned_node.c; build its
#        target) instead: each real node's answer to the search is captured once, a hub
#        on the real nodes answers the search for reference, the real nodes stop, and
#        canned nodes serve the captured bytes; the hubs' answers must hold the same
#        results as the reference. The nodes then cost next to nothing and the hub is
#        the bottleneck (with REAL_WORKERS="1 2": does throughput scale with workers?).
#        BEFORE=DIR (a build dir, or a fedbroker binary, of another build): its hubs
#        serve the same (r) and (w) workloads beside this build's, their answers must
#        hold the same results, and every (r) / (w) row is measured for both, alternating
#        (AB_ROUNDS=2 rounds of (r)), so that before/after is a ratio of one run.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-10}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-8}
WIDE=${WIDE:-1}
WIDE_CLIENTS=${WIDE_CLIENTS:-8}
WIDE_STREAMS=${WIDE_STREAMS:-8}
PERF=${PERF:-0}
PERF_DUR=${PERF_DUR:-5}
PERF_DIR=${PERF_DIR:-$TMP}
SYSCALLS=${SYSCALLS:-0}
SYS_DUR=${SYS_DUR:-5}
REAL_WORKERS=${REAL_WORKERS:-1}
NODES=${NODES:-real}
case $NODES in real | canned) ;; *) die "NODES=$NODES: real or canned" ;; esac
BEFORE=${BEFORE:-}
AB_ROUNDS=${AB_ROUNDS:-2}
OLD_FB=""
if [ -n "$BEFORE" ]; then
  OLD_FB=$BEFORE
  [ -d "$BEFORE" ] && OLD_FB=$BEFORE/fedbroker
  [ -x "$OLD_FB" ] || die "BEFORE=$BEFORE: no fedbroker binary there"
  OLD_FB=$(cd "$(dirname "$OLD_FB")" && pwd)/$(basename "$OLD_FB")
fi
# Same results from two hubs: the answers without what differs per search.
same_results() {
  local who=${3:-"the BEFORE hub and this build's hub"}
  $PY - "$1" "$2" <<'PY' || die "$who answer different results ($1, $2)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if a["results"] == b["results"] else 1)
PY
}
if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || die "PERF=1 needs perf (Debian package linux-perf)"
  mkdir -p "$PERF_DIR"
fi
if [ "$SYSCALLS" = 1 ]; then
  command -v perf >/dev/null || die "SYSCALLS=1 needs perf (Debian package linux-perf)"
fi

demo_setup
AUTH="Authorization: Bearer $ANALYST_MYS"
JSON="Content-Type: application/json"
realistic_setup
search_body "$TMP/document.json" document
sed 's/A12345678/Z99999999/' "$TMP/document.json" >"$TMP/nomatch.json"

# Four nodes serving the realistic copies of the databases (HTTP/1.1 from the hub's curl).
real_nodes_start "$TMP/real"
nodes=$NODES_CFG
if [ "$NODES" = canned ]; then
  canned_nodes_start "$TMP/real.json" 0
  # The reference answer: a hub on the real nodes.
  p=$(free_port)
  demo_config "$TMP/demo/ref.lua" "$p" true "audit-ref.jsonl" "$nodes"
  bg_start hubRef "$FEDBROKER" serve --config "$TMP/demo/ref.lua"
  wait_http "http://127.0.0.1:$p/readyz" "$BG_PID" hubRef
  search_once "http://127.0.0.1:$p/v1/search" "$TMP/real.json" "$TMP/real-ref.out" >/dev/null
  bg_stop "$BG_PID"
  for p in "${NODE_PIDS[@]}"; do bg_stop "$p"; done
  nodes=$CANNED_CFG
  NODE_PIDS=("${CANNED_PIDS[@]}")
fi
# What one node answers to the subject (the hub's request body, as the http adapter sends it).
$PY -c 'import json,sys; b=json.load(open(sys.argv[1])); print(json.dumps({"query_id":"q-bench","subject":b["subject"],"purpose":b["purpose"],"limit":100}))' \
  "$TMP/real.json" >"$TMP/node-req.json"
node_url=$(state_url IDN "$nodes")
curl -sf -o "$TMP/node-answer.json" --max-time 10 -H "$JSON" --data-binary "@$TMP/node-req.json" "$node_url" ||
  die "node IDN did not answer the subject"
NODE_SIZE=$(wc -c <"$TMP/node-answer.json")
NODE_RECORDS=$($PY -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a["records"]))' "$TMP/node-answer.json")
# One (r) hub per entry of REAL_WORKERS (`workers` in its config), same nodes, same run.
R_PIDS=()
R_PORTS=()
for w in $REAL_WORKERS; do
  p=$(free_port)
  demo_config "$TMP/demo/r$w.lua" "$p" true "audit-r$w.jsonl" "$nodes"
  echo "workers = $w" >>"$TMP/demo/r$w.lua"
  bg_start "hubR$w" "$FEDBROKER" serve --config "$TMP/demo/r$w.lua"
  wait_http "http://127.0.0.1:$p/readyz" "$BG_PID" "hubR$w"
  R_PIDS+=("$BG_PID")
  R_PORTS+=("$p")
done
HR=${R_PIDS[0]}
PR=${R_PORTS[0]}
if [ -n "$OLD_FB" ]; then
  PR0=$(free_port)
  demo_config "$TMP/demo/r0.lua" "$PR0" true "audit-r0.jsonl" "$nodes"
  bg_start hubR0 "$OLD_FB" serve --config "$TMP/demo/r0.lua"; HR0=$BG_PID
  wait_http "http://127.0.0.1:$PR0/readyz" "$HR0" hubR0
fi

# One search first: complete, ~30 records, victims masked, one entity merged across states.
real_outcome=$(search_once "http://127.0.0.1:$PR/v1/search" "$TMP/real.json" "$TMP/real.out")
real_shape=$($PY - "$TMP/real.out" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
recs = [r for e in a["results"] for r in e["records"]]
merged = sum(1 for e in a["results"] if len({r["state"] for r in e["records"]}) > 1)
masked = sum(1 for r in recs if "victim" in r.get("tags", []) and "name" in r.get("redacted", []))
victims = sum(1 for r in recs if "victim" in r.get("tags", []))
print(len(recs), len(a["results"]), merged, masked, victims)
PY
)
read -r REAL_RECORDS REAL_ENTITIES REAL_MERGED REAL_MASKED REAL_VICTIMS <<<"$real_shape"
REAL_SIZE=$(wc -c <"$TMP/real.out")
[ "$REAL_RECORDS" -ge 25 ] || die "the realistic search answered $REAL_RECORDS records, not ~30 ($real_outcome)"
if [ "$REAL_VICTIMS" = 0 ] || [ "$REAL_MASKED" != "$REAL_VICTIMS" ]; then
  die "victims not masked: $REAL_MASKED of $REAL_VICTIMS victim records"
fi
[ "$REAL_MERGED" -ge 1 ] || die "no entity merged across states"
[ "$NODES" = canned ] && same_results "$TMP/real-ref.out" "$TMP/real.out" "the hub on the real nodes and the hub on the canned nodes"
if [ -n "$OLD_FB" ]; then
  search_once "http://127.0.0.1:$PR0/v1/search" "$TMP/real.json" "$TMP/real0.out" >/dev/null
  same_results "$TMP/real0.out" "$TMP/real.out"
fi

# (c) the static baseline: a file as large as the merged answer.
mkdir -p "$TMP/www"
cp "$TMP/real.out" "$TMP/www/answer.json"
PC=$(free_port)
bg_start nghttpd nghttpd --no-tls -d "$TMP/www" "$PC"
wait_http "http://127.0.0.1:$PC/answer.json" "$BG_PID" nghttpd
NG=$BG_PID

# (w) 48 sqlite states: the demo's four, and 44 more (Bali Process members and others)
# on copies of the four databases, each with a policy file that allows the request.
WIDE_CODES="IDN MYS THA BGD AFG AUS BTN BRN KHM CHN FJI IND IRN IRQ JPN JOR KIR LAO MNG MMR
NPL NRU NZL PAK PNG PHL KOR WSM SGP SLB LKA SYR TLS TON TUR ARE USA VUT VNM FRA GBR CAN DEU
ITA ESP NLD SWE CHE"
if [ "$WIDE" = 1 ]; then
  mkdir -p "$TMP/demo/wide"
  cp -r "$TMP/demo/policies" "$TMP/demo/wide/policies"
  wide_states=""
  i=0
  for s in $WIDE_CODES; do
    src=$(echo IDN MYS THA BGD | cut -d' ' -f$((i % 4 + 1)))
    i=$((i + 1))
    case $s in IDN | MYS | THA | BGD) db="data/$s.db" ;;
    *)
      db="wide/$s.db"
      cp "$TMP/demo/data/$src.db" "$TMP/demo/$db"
      cat >"$TMP/demo/wide/policies/$s.lua" <<EOF
state "$s" { name = "Benchmark state $s" }

allow "prosecution under a treaty" {
  purpose = "prosecution",
  legal_basis = "mla_treaty",
}
EOF
      ;;
    esac
    wide_states+="  $s = { adapter = \"sqlite\", path = \"$db\" },"$'\n'
  done
  [ "$i" = 48 ] || die "the wide list has $i states, not 48"
  PW=$(free_port)
  demo_config "$TMP/demo/w.lua" "$PW" true "audit-w.jsonl" "$wide_states"
  sed -i 's|^policies = "policies"|policies = "wide/policies"|' "$TMP/demo/w.lua"
  bg_start hubW "$FEDBROKER" serve --config "$TMP/demo/w.lua"; HW=$BG_PID
  wait_http "http://127.0.0.1:$PW/readyz" "$HW" hubW
  wide_doc=$(search_once "http://127.0.0.1:$PW/v1/search" "$TMP/document.json" "$TMP/w-document.out")
  search_once "http://127.0.0.1:$PW/v1/search" "$TMP/nomatch.json" "$TMP/w-nomatch.out" >/dev/null
  legs_of() { $PY -c 'import json,sys; a=json.load(open(sys.argv[1])); print(sum(1 for s in a["states"] if s["outcome"] in ("shared", "hit")), sum(s.get("records", 0) for s in a["states"]))' "$1"; }
  read -r WIDE_LEGS WIDE_RECS < <(legs_of "$TMP/w-document.out")
  read -r NOMATCH_LEGS NOMATCH_RECS < <(legs_of "$TMP/w-nomatch.out")
  [ "$WIDE_LEGS" = 47 ] || die "48-state hub: $WIDE_LEGS admitted legs, not 47: $wide_doc"
  [ "$NOMATCH_LEGS" = 47 ] || die "48-state hub: $NOMATCH_LEGS admitted legs for the unknown document, not 47"
  [ "$NOMATCH_RECS" = 0 ] || die "48-state hub: the unknown document found $NOMATCH_RECS records"
  if [ -n "$OLD_FB" ]; then
    PW0=$(free_port)
    demo_config "$TMP/demo/w0.lua" "$PW0" true "audit-w0.jsonl" "$wide_states"
    sed -i 's|^policies = "policies"|policies = "wide/policies"|' "$TMP/demo/w0.lua"
    bg_start hubW0 "$OLD_FB" serve --config "$TMP/demo/w0.lua"; HW0=$BG_PID
    wait_http "http://127.0.0.1:$PW0/readyz" "$HW0" hubW0
    search_once "http://127.0.0.1:$PW0/v1/search" "$TMP/document.json" "$TMP/w0-document.out" >/dev/null
    same_results "$TMP/w0-document.out" "$TMP/w-document.out"
  fi
fi

# Warm-up, outside the figures.
for p in "${R_PORTS[@]}"; do
  h2 warm -c "$CLIENTS" -m "$STREAMS" -t 1 -n 2000 -H "$AUTH" -H "$JSON" -d "$TMP/real.json" "http://127.0.0.1:$p/v1/search"
done
[ "$WIDE" = 1 ] && h2 warm -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -t 1 -n 500 -H "$AUTH" -H "$JSON" -d "$TMP/document.json" "http://127.0.0.1:$PW/v1/search"
if [ -n "$OLD_FB" ]; then
  h2 warm -c "$CLIENTS" -m "$STREAMS" -t 1 -n 2000 -H "$AUTH" -H "$JSON" -d "$TMP/real.json" "http://127.0.0.1:$PR0/v1/search"
  [ "$WIDE" = 1 ] && h2 warm -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -t 1 -n 500 -H "$AUTH" -H "$JSON" -d "$TMP/document.json" "http://127.0.0.1:$PW0/v1/search"
fi

rows=()
nodes_ticks() { local t=0 p; for p in "${NODE_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo $t; }
mean_ms() { awk -F'\t' '$2 ~ /^2/ { s += $3; n++ } END { if (n) printf "%.2f", s / n / 1000; else print "nan" }' "$TMP/h2load-$1.reqlog"; }
measure() { # LABEL TAG PID LEGS URL [h2load args...]  (LEGS: admitted legs per search, or -)
  local label=$1 tag=$2 pid=$3 legs=$4 url=$5; shift 5
  local t0 t1 n0 n1 l0 l1
  t0=$(cpu_ticks "$pid"); n0=$(nodes_ticks); l0=$(loop_ticks "$pid")
  h2 "$tag" -t 1 -D "$DUR" "$@" "$url"
  t1=$(cpu_ticks "$pid"); n1=$(nodes_ticks); l1=$(loop_ticks "$pid")
  local nodes_cpu="-" per_leg="-"
  if [ "$tag" = real ]; then nodes_cpu=$(ms_per $((n1 - n0)) "$H2_OK"); else n1=$n0; fi
  [ "$legs" != - ] && per_leg=$(us_per $((t1 - t0)) $((H2_OK * legs)))
  local hub_cores busy
  hub_cores=$(awk -v h=$((t1 - t0)) -v hz="$CLK_TCK" -v w="$H2_WALL" 'BEGIN { printf "%.2f", h / hz / w }')
  busy=$(awk -v h=$((t1 - t0)) -v n=$((n1 - n0)) -v hz="$CLK_TCK" -v g="$H2_CPU" -v w="$H2_WALL" \
    'BEGIN { printf "%.2f", ((h + n) / hz + g) / w }')
  rows+=("$label|$H2_RPS|$(mean_ms "$tag")|$H2_P50|$H2_P99|$(ms_per $((t1 - t0)) "$H2_OK")|$(ms_per $((l1 - l0)) "$H2_OK")|$per_leg|$nodes_cpu|$hub_cores|$busy")
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
measure "c static file (nghttpd)" static "$NG" - "http://127.0.0.1:$PC/answer.json" -c "$CLIENTS" -m "$STREAMS"
CEIL=$H2_RPS
if [ -z "$OLD_FB" ]; then
  i=0
  for w in $REAL_WORKERS; do
    label="r 4 nodes, 5-key subject"
    [ "$NODES" = canned ] && label="r 4 canned nodes"
    [ "$REAL_WORKERS" != 1 ] && label="r ${NODES} nodes, workers=$w"
    measure "$label" real "${R_PIDS[$i]}" 3 "http://127.0.0.1:${R_PORTS[$i]}/v1/search" -c "$CLIENTS" -m "$STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/real.json"
    i=$((i + 1))
  done
  if [ "$WIDE" = 1 ]; then
    measure "w 48 states, by document" wide "$HW" 47 "http://127.0.0.1:$PW/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/document.json"
    measure "w 48 states, no record" wnone "$HW" 47 "http://127.0.0.1:$PW/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/nomatch.json"
  fi
else # before / this build, alternating
  for round in $(seq "$AB_ROUNDS"); do
    measure "r before ($round)" real "$HR0" 3 "http://127.0.0.1:$PR0/v1/search" -c "$CLIENTS" -m "$STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/real.json"
    measure "r this build ($round)" real "$HR" 3 "http://127.0.0.1:$PR/v1/search" -c "$CLIENTS" -m "$STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/real.json"
  done
  if [ "$WIDE" = 1 ]; then
    measure "w doc before" wide "$HW0" 47 "http://127.0.0.1:$PW0/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/document.json"
    measure "w doc this build" wide "$HW" 47 "http://127.0.0.1:$PW/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/document.json"
    measure "w no record before" wnone "$HW0" 47 "http://127.0.0.1:$PW0/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/nomatch.json"
    measure "w no record this build" wnone "$HW" 47 "http://127.0.0.1:$PW/v1/search" -c "$WIDE_CLIENTS" -m "$WIDE_STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/nomatch.json"
  fi
fi
HWM_R=$(vm_kb "$HR" VmHWM)

echo "realistic_bench: one h2load thread, ${DUR}s per row; (c) and (r) at h2load -c $CLIENTS -m $STREAMS ($((CLIENTS * STREAMS)) streams), (w) at -c $WIDE_CLIENTS -m $WIDE_STREAMS"
echo "one hub process per case; in (r) also four node processes; all share the $(nproc) cores with h2load"
machine_line
echo "load average before the rows: $LOAD0"
echo "(r): node IDN answers $NODE_RECORDS records in $NODE_SIZE bytes"
[ "$NODES" = canned ] && echo "(r): the four nodes are canned (bench/canned_node.c): each serves the bytes its real node answered; the hub's answer holds the same results as a hub's on the real nodes"
echo "(r): $real_outcome; merged answer $REAL_SIZE bytes, $REAL_RECORDS records in $REAL_ENTITIES entities, $REAL_MERGED merged across states, $REAL_MASKED of $REAL_VICTIMS victim records masked"
[ "$WIDE" = 1 ] && echo "(w): $WIDE_LEGS admitted legs per search; by document $WIDE_RECS records, unknown document $NOMATCH_RECS"
echo "CPU columns: ms of CPU (utime + stime) per request: the hub, all threads (for (c): nghttpd); its event-loop thread alone; µs of hub CPU per admitted leg; the four nodes together. hub cores: the hub's CPU over the wall time; busy: hub + nodes + h2load over the wall time, in cores"
printf '%-26s %8s %7s %7s %7s %7s %8s %7s %7s %7s %5s %5s\n' "case" "req/s" "of (c)" "mean ms" "p50 ms" "p99 ms" "hub CPU" "loop" "µs/leg" "nodes" "hub" "busy"
for row in "${rows[@]}"; do
  IFS='|' read -r label rps mean p50 p99 cpu lcpu leg ncpu hcores busy <<<"$row"
  printf '%-26s %8.0f %7s %7s %7s %7s %8s %7s %7s %7s %5s %5s\n' "$label" "$rps" "$(ratio "$rps" "$CEIL")" "$mean" "$p50" "$p99" "$cpu" "$lcpu" "$leg" "$ncpu" "$hcores" "$busy"
done
echo "peak RSS (VmHWM) of hub (r): $(mib "$HWM_R") MiB"
if [ -n "$OLD_FB" ]; then echo "before: $OLD_FB (its hubs: (r) pid $HR0${HW0:+, (w) pid $HW0}); this build: $FEDBROKER"; fi
echo "targets (issue: every core): (r) <= 0.20 ms hub CPU per search, mean latency <= 15 ms at 128 streams; (w) <= 25 µs of hub CPU per admitted leg answering no record"

if [ "$SYSCALLS" = 1 ]; then
  syscalls_under_load "$TMP/sys-now.txt" "$HR" "http://127.0.0.1:$PR/v1/search" "$SYS_DUR" "$CLIENTS" "$STREAMS"
  sys_head="this build"
  if [ -n "$OLD_FB" ]; then
    syscalls_under_load "$TMP/sys-before.txt" "$HR0" "http://127.0.0.1:$PR0/v1/search" "$SYS_DUR" "$CLIENTS" "$STREAMS"
    sys_head="before, this build"
  else
    : >"$TMP/sys-before.txt"
  fi
  echo
  echo "system calls per search of the (r) hub, all threads, ${SYS_DUR}s each (perf stat, syscalls:sys_enter_*): $sys_head"
  $PY - "$TMP/sys-before.txt" "$TMP/sys-now.txt" <<'PY'
import sys
def load(f):
    return {l.split()[0]: float(l.split()[1]) for l in open(f) if l.strip()}
before, now = load(sys.argv[1]), load(sys.argv[2])
names = sorted(set(before) | set(now), key=lambda k: -max(before.get(k, 0), now.get(k, 0)))
for k in names:
    b, n = before.get(k, 0.0), now.get(k, 0.0)
    if max(b, n) < 0.01: continue
    print(f"  {k:<20} {b:8.2f} {n:8.2f}" if before else f"  {k:<20} {n:8.2f}")
PY
fi

if [ "$PERF" = 1 ]; then
  data=$PERF_DIR/perf-realistic.data
  perf_under_load "$data" "$HR" "http://127.0.0.1:$PR/v1/search" "$PERF_DUR" "$CLIENTS" "$STREAMS" --call-graph dwarf,16384
  echo
  echo "perf (cpu-clock, DWARF call graphs), hub during ${PERF_DUR}s of (r): samples per thread (the event-loop thread is $HR)"
  perf report -i "$data" --no-children --stdio -g none --sort pid,comm 2>/dev/null | awk '/^ +[0-9.]+%/ && n++ < 8'
  echo "event-loop thread, self time by shared object:"
  perf report -i "$data" --tid "$HR" --no-children --stdio -g none --sort dso 2>/dev/null | awk '/^ +[0-9.]+%/ && n++ < 10'
  echo "event-loop thread, hottest symbols (self time; libjansson has no symbols without its -dbgsym package):"
  perf report -i "$data" --tid "$HR" --no-children --stdio -g none --sort dso,symbol 2>/dev/null |
    awk '/^ +[0-9.]+%/ && n++ < 20' | sed 's/ *- *- *$//'
  echo "event-loop thread, inclusive time of named functions (children included):"
  perf report -i "$data" --tid "$HR" --children --stdio -g none --sort symbol 2>/dev/null |
    awk '{ sub(/[ -]+$/, "") } /^ +[0-9.]+%/ && $NF !~ /^0x/ && $NF != "(inlined)" && n++ < 30'
fi
