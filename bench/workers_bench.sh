#!/usr/bin/env bash
# Does throughput scale with event-loop workers when the hub is the bottleneck?
# The realistic search (bench/realistic_bench.sh's (r): the 5-key subject, four states
# answering 10 records each, ~30 merged records, JWT and audit on) against canned nodes
# (bench/canned_node.c: each serves the bytes its real node answered, so the nodes cost
# next to nothing), one hub with `workers = 1` and one with `workers = 2`, measured in
# alternating rounds of the same run so that the ratio is a same-run figure. Per row:
# searches/s, hub CPU per search (all threads), the CPU of each hub thread, and the hub
# lock's share (/metrics: fedbroker_hub_lock_held_seconds_total over the hub's CPU time,
# and the share of acquisitions that had to wait).
#
#   bash bench/workers_bench.sh [build dir]   (a build with the canned_node target)
#   env: DUR=10 (seconds per row)  ROUNDS=2  CLIENTS=16 STREAMS=8  WORKERS="1 2"
#        FSYNC=false (default) — the hubs' audit.fsync: entries are still written and
#        chained, but a search does not wait for a disk flush. With fsync on, 128 searches
#        in flight wait for the flush and throughput is 128 / (flush latency), whatever
#        the CPU: on this shared machine's disk that bound (~1,300 searches/s with flushes
#        of ~100 ms while others build) hid the hub's CPU. FSYNC=true measures it anyway.
#        NICE=-10 — run this script, and so the hubs, nodes and h2load, at that niceness
#        (needs root): on a machine shared with other work, the hub then gets the cores
#        it asks for, as on a machine of its own.
#        BEFORE=DIR (a build dir, or a fedbroker binary, of another build): its hubs
#        with the same WORKERS run in the same rounds, so that "this build" and
#        "before" are compared in one run (a build without the hub lock metrics shows
#        "-" for them).
#        SYSCALLS=1 (default when perf is installed) — count the hub's system calls and
#        context switches (all threads) during each row with `perf stat`, shown per search;
#        SYSCALLS=0 skips it.
#        PERF=1 — afterwards, `perf record` the last hub of WORKERS for PERF_DUR=5 s and
#        print the share of samples per thread.
#        HUB_CPU_PER_WORKER=0.6 — make the hub the bottleneck: each hub runs in a cgroup of
#        its own whose CPU quota is (its workers) x that many cores, so 1 worker gets 0.6
#        core, 2 workers 1.2 cores. Without a cap, on a small machine the load side
#        (h2load and the nodes, ~0.5 core) and the other work on it decide how many cores
#        the hub gets, and the 2/1 ratio measures the machine; with the cap the ratio
#        measures the hub's own scaling (lock contention, cross-thread wake-ups, CPU per
#        search) — provided the rest of the machine keeps up, which each row shows:
#        "throttled" (the share of quota periods in which the hub ran out of its quota:
#        near 100 % when the cap binds), h2load's and the nodes' cores, and the machine's
#        idle share (the load side is not the limit while it has idle CPU left and h2load,
#        one thread, stays below one core). The load side runs in a group of its own with
#        a high weight and no quota, so that other work on the machine does not starve
#        it. Pick the cap low enough that every row binds (the script names the rows that
#        did not): on a 2-core machine shared with other work, 0.4 bound in every row where
#        0.6 did not with two workers. Needs root and a writable cgroup: v2 with the
#        cpu controller (/sys/fs/cgroup/cgroup.controllers; cpu.max), else v1
#        (/sys/fs/cgroup/cpu; cpu.cfs_quota_us). CPU_PERIOD_US=20000: the quota's period
#        (short, so that a capped hub is paused for a few ms at a time, not 40 ms).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-16}
STREAMS=${STREAMS:-8}
WORKERS=${WORKERS:-"1 2"}
PERF=${PERF:-0}
SYSCALLS=${SYSCALLS:-$(command -v perf >/dev/null && echo 1 || echo 0)}
PERF_DUR=${PERF_DUR:-5}
NICE=${NICE:-}
BEFORE=${BEFORE:-}
OLD_FB=""
if [ -n "$BEFORE" ]; then
  OLD_FB=$BEFORE
  [ -d "$BEFORE" ] && OLD_FB=$BEFORE/fedbroker
  [ -x "$OLD_FB" ] || die "BEFORE=$BEFORE: no fedbroker binary there"
  OLD_FB=$(cd "$(dirname "$OLD_FB")" && pwd)/$(basename "$OLD_FB")
fi
FSYNC=${FSYNC:-false}
HUB_CPU_PER_WORKER=${HUB_CPU_PER_WORKER:-}
CPU_PERIOD_US=${CPU_PERIOD_US:-20000}
if [ -n "$NICE" ]; then renice -n "$NICE" -p $$ >/dev/null || die "NICE=$NICE: renice failed (root needed for a negative value)"; fi
[ "$PERF" = 1 ] && { command -v perf >/dev/null || die "PERF=1 needs perf (Debian package linux-perf)"; }

# ---- HUB_CPU_PER_WORKER: a cgroup with a CPU quota per hub ----
CG_ROOT="" CG_VERSION=""
CGROUPS=()
if [ -n "$HUB_CPU_PER_WORKER" ]; then
  awk -v c="$HUB_CPU_PER_WORKER" 'BEGIN { exit !(c + 0 > 0 && c + 0 <= 64) }' ||
    die "HUB_CPU_PER_WORKER=$HUB_CPU_PER_WORKER: expected a number of cores > 0 (e.g. 0.6)"
  if ! [[ "$CPU_PERIOD_US" =~ ^[0-9]+$ ]] || [ "$CPU_PERIOD_US" -lt 1000 ] || [ "$CPU_PERIOD_US" -gt 1000000 ]; then
    die "CPU_PERIOD_US=$CPU_PERIOD_US: expected microseconds between 1000 and 1000000"
  fi
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CG_ROOT=/sys/fs/cgroup CG_VERSION=2
    # children of the root get the cpu controller only when the root hands it down
    grep -qw cpu "$CG_ROOT/cgroup.subtree_control" 2>/dev/null || echo +cpu >"$CG_ROOT/cgroup.subtree_control" 2>/dev/null ||
      die "HUB_CPU_PER_WORKER: cgroup v2 at $CG_ROOT does not hand the cpu controller to its children (echo +cpu > $CG_ROOT/cgroup.subtree_control failed; root needed)"
  elif [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    CG_ROOT=/sys/fs/cgroup/cpu CG_VERSION=1
  else
    die "HUB_CPU_PER_WORKER: no cgroup with a CPU quota here (neither cgroup v2 listing cpu in /sys/fs/cgroup/cgroup.controllers nor v1 /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
  fi
  probe=$CG_ROOT/fbbench-$$-probe
  mkdir "$probe" 2>/dev/null ||
    die "HUB_CPU_PER_WORKER: cannot create a cgroup under $CG_ROOT (cgroup v$CG_VERSION; root and a writable cgroup file system needed)"
  rmdir "$probe"
fi

# cap_hub CASE PID WORKERS: moves PID (all its threads) into a new cgroup whose quota is
# WORKERS x HUB_CPU_PER_WORKER cores; sets CG[CASE] to the group's directory.
declare -A CG
cap_hub() {
  local dir=$CG_ROOT/fbbench-$$-$1 quota
  quota=$(awk -v w="$3" -v c="$HUB_CPU_PER_WORKER" -v p="$CPU_PERIOD_US" 'BEGIN { printf "%d", w * c * p }')
  mkdir "$dir" || die "cannot create the cgroup $dir"
  CGROUPS+=("$dir")
  if [ "$CG_VERSION" = 2 ]; then
    echo "$quota $CPU_PERIOD_US" >"$dir/cpu.max" || die "cannot set $dir/cpu.max"
  else
    echo "$CPU_PERIOD_US" >"$dir/cpu.cfs_period_us" || die "cannot set $dir/cpu.cfs_period_us"
    echo "$quota" >"$dir/cpu.cfs_quota_us" || die "cannot set $dir/cpu.cfs_quota_us"
  fi
  # A group competes with other work as one entity of its weight, whatever its threads'
  # niceness: weigh it like its workers at niceness -10 (9548 each), so that the hub gets
  # its quota before other work on the machine does (never more: the quota bounds it).
  if [ "$CG_VERSION" = 2 ]; then
    echo $(( $3 * 1000 > 10000 ? 10000 : $3 * 1000 )) >"$dir/cpu.weight" || die "cannot set $dir/cpu.weight"
  else
    echo $(( $3 * 9548 )) >"$dir/cpu.shares" || die "cannot set $dir/cpu.shares"
  fi
  echo "$2" >"$dir/cgroup.procs" || die "cannot move the hub (pid $2) into $dir"
  CG[$1]=$dir
}

# "periods throttled-periods" of a capped hub's group, "0 0" when uncapped.
cg_throttle() {
  [ -n "${CG[$1]:-}" ] || { echo "0 0"; return; }
  awk '$1 == "nr_periods" {p = $2} $1 == "nr_throttled" {t = $2} END {print p + 0, t + 0}' "${CG[$1]}/cpu.stat"
}

cgroups_remove() {
  local d
  [ -n "$CG_ROOT" ] && [ "${#CGROUPS[@]}" -gt 0 ] && { echo $$ >"$CG_ROOT/cgroup.procs"; } 2>/dev/null
  for d in "${CGROUPS[@]}"; do
    for _ in $(seq 20); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
    [ -d "$d" ] && echo "bench: warning: could not remove the cgroup $d" >&2
  done
  return 0
}
trap 'bench_cleanup; cgroups_remove' EXIT

# The load side (this script, and so the nodes and h2load it starts) in a group of its
# own with the weight of four tasks at niceness -10 and no quota: on a machine shared
# with other work (whose sessions the kernel's autogroups weigh as one task each,
# whatever this script's niceness), a starved load side would answer late and leave the
# capped hub idle, and the rows would measure the machine again.
if [ -n "$HUB_CPU_PER_WORKER" ]; then
  load_cg=$CG_ROOT/fbbench-$$-load
  mkdir "$load_cg" || die "cannot create the cgroup $load_cg"
  CGROUPS+=("$load_cg")
  if [ "$CG_VERSION" = 2 ]; then echo 4000 >"$load_cg/cpu.weight"; else echo $((4 * 9548)) >"$load_cg/cpu.shares"; fi ||
    die "cannot set the weight of $load_cg"
  echo $$ >"$load_cg/cgroup.procs" || die "cannot move this script into $load_cg"
fi

# "busy total" jiffies of the whole machine (/proc/stat): idle = total - busy.
machine_jiffies() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }

demo_setup
AUTH="Authorization: Bearer $ANALYST_MYS"
JSON="Content-Type: application/json"
realistic_setup
real_nodes_start "$TMP/real"
canned_nodes_start "$TMP/real.json" 0
# The reference answer: a hub on the real nodes; the canned hubs must answer the same.
p=$(free_port)
demo_config "$TMP/demo/ref.lua" "$p" true "audit-ref.jsonl" "$NODES_CFG"
bg_start hubRef "$FEDBROKER" serve --config "$TMP/demo/ref.lua"
wait_http "http://127.0.0.1:$p/readyz" "$BG_PID" hubRef
search_once "http://127.0.0.1:$p/v1/search" "$TMP/real.json" "$TMP/ref.out" >/dev/null
bg_stop "$BG_PID"
for p in "${NODE_PIDS[@]}"; do bg_stop "$p"; done

# One hub per case: "<workers>" for this build, "before-<workers>" for BEFORE's.
CASES=""
for w in $WORKERS; do
  [ -n "$OLD_FB" ] && CASES+="before-$w "
  CASES+="$w "
done
declare -A PID PORT
for w in $CASES; do
  bin=$FEDBROKER
  case $w in before-*) bin=$OLD_FB ;; esac
  p=$(free_port)
  demo_config "$TMP/demo/w$w.lua" "$p" "$FSYNC" "audit-w$w.jsonl" "$CANNED_CFG"
  echo "workers = ${w#before-}" >>"$TMP/demo/w$w.lua"
  bg_start "hubW$w" "$bin" serve --config "$TMP/demo/w$w.lua"
  [ -n "$HUB_CPU_PER_WORKER" ] && cap_hub "$w" "$BG_PID" "${w#before-}"
  wait_http "http://127.0.0.1:$p/readyz" "$BG_PID" "hubW$w"
  PID[$w]=$BG_PID
  PORT[$w]=$p
  search_once "http://127.0.0.1:$p/v1/search" "$TMP/real.json" "$TMP/w$w.out" >/dev/null
  $PY - "$TMP/ref.out" "$TMP/w$w.out" <<'PY' || die "the hub of case $w answers other results than the reference hub"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if a["results"] == b["results"] else 1)
PY
done

mean_ms() { awk -F'\t' '$2 ~ /^2/ { s += $3; n++ } END { if (n) printf "%.2f", s / n / 1000; else print "nan" }' "$TMP/h2load-$1.reqlog"; }
# A metric's value, 0 when the build has no such metric.
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {v = $2} END {print v + 0}'; }
# Each thread's CPU ticks, "tid:ticks" sorted by tid (the main thread first).
thread_ticks() { for t in /proc/"$1"/task/*; do awk '{printf "%s:%d\n", $1, $14 + $15}' "$t/stat"; done | sort -n; }

# A count per search, "-" when not counted.
per_search() { awk -v c="$1" -v n="$2" 'BEGIN { if (c > 0 && n > 0) printf "%.1f", c / n; else print "-" }'; }
declare -A SUM_OK SUM_WALL SUM_CPU SUM_HELD SUM_ACQ SUM_CONT SUM_SYS SUM_CS
rows=()
side=()
# Nanoseconds the hub's threads spent runnable but waiting for a CPU (schedstat run_delay), summed.
run_delay_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $2 } END { printf "%.0f", t }'; }
# CPU ticks of the canned nodes, summed.
nodes_ticks() { local p t=0; for p in "${CANNED_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
  for w in $CASES; do
    pid=${PID[$w]} port=${PORT[$w]}
    t0=$(cpu_ticks "$pid"); th0=$(thread_ticks "$pid")
    h0=$(metric "$port" fedbroker_hub_lock_held_seconds_total)
    a0=$(metric "$port" fedbroker_hub_lock_acquisitions_total)
    c0=$(metric "$port" fedbroker_hub_lock_contended_total)
    load=$(cut -d' ' -f1 /proc/loadavg)
    read -r cgp0 cgt0 < <(cg_throttle "$w")
    read -r mb0 mt0 < <(machine_jiffies)
    n0=$(nodes_ticks)
    rd0=$(run_delay_ns "$pid")
    if [ "$SYSCALLS" = 1 ]; then
      perf stat -x, -o "$TMP/stat-w$w-$round" -e raw_syscalls:sys_enter,context-switches -p "$pid" &
      STAT_PID=$!
    fi
    h2 "w$w-$round" -t 1 -D "$DUR" -c "$CLIENTS" -m "$STREAMS" -H "$AUTH" -H "$JSON" -d "$TMP/real.json" \
      "http://127.0.0.1:$port/v1/search"
    t1=$(cpu_ticks "$pid"); th1=$(thread_ticks "$pid")
    read -r cgp1 cgt1 < <(cg_throttle "$w")
    read -r mb1 mt1 < <(machine_jiffies)
    n1=$(nodes_ticks)
    rd1=$(run_delay_ns "$pid")
    side+=("$round|$w|$(awk -v a="$rd0" -v b="$rd1" -v w="$H2_WALL" 'BEGIN { printf "%.2f", (b - a) / 1e9 / w }')|$(awk -v p=$((cgp1 - cgp0)) -v t=$((cgt1 - cgt0)) 'BEGIN { if (p > 0) printf "%.0f", 100 * t / p; else print "-" }')|$(awk -v c="$H2_CPU" -v w="$H2_WALL" 'BEGIN { printf "%.2f", c / w }')|$(awk -v t=$((n1 - n0)) -v hz="$CLK_TCK" -v w="$H2_WALL" 'BEGIN { printf "%.2f", t / hz / w }')|$(awk -v b=$((mb1 - mb0)) -v t=$((mt1 - mt0)) 'BEGIN { if (t > 0) printf "%.0f", 100 * (t - b) / t; else print "-" }')")
    h1=$(metric "$port" fedbroker_hub_lock_held_seconds_total)
    a1=$(metric "$port" fedbroker_hub_lock_acquisitions_total)
    c1=$(metric "$port" fedbroker_hub_lock_contended_total)
    sys_n=0 cs_n=0
    if [ "$SYSCALLS" = 1 ]; then
      kill -INT "$STAT_PID" && wait "$STAT_PID" || true
      sys_n=$(awk -F, '/raw_syscalls:sys_enter/ {print $1 + 0}' "$TMP/stat-w$w-$round")
      cs_n=$(awk -F, '/context-switches/ {print $1 + 0}' "$TMP/stat-w$w-$round")
    fi
    SUM_SYS[$w]=$(( ${SUM_SYS[$w]:-0} + sys_n ))
    SUM_CS[$w]=$(( ${SUM_CS[$w]:-0} + cs_n ))
    cpu_s=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { print t / hz }')
    held=$(awk -v a="$h0" -v b="$h1" 'BEGIN { print b - a }')
    acq=$(awk -v a="$a0" -v b="$a1" 'BEGIN { print b - a }')
    cont=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
    # Per-thread CPU over the row, in cores, busiest first (threads that ran at all).
    threads=$(join -t: <(echo "$th0") <(echo "$th1") | awk -F: -v hz="$CLK_TCK" -v w="$H2_WALL" \
      '{ d = ($3 - $2) / hz / w; if (d >= 0.01) printf "%.2f\n", d }' | sort -rn | paste -sd' ')
    SUM_OK[$w]=$(( ${SUM_OK[$w]:-0} + H2_OK ))
    SUM_WALL[$w]=$(awk -v a="${SUM_WALL[$w]:-0}" -v b="$H2_WALL" 'BEGIN { print a + b }')
    SUM_CPU[$w]=$(awk -v a="${SUM_CPU[$w]:-0}" -v b="$cpu_s" 'BEGIN { print a + b }')
    SUM_HELD[$w]=$(awk -v a="${SUM_HELD[$w]:-0}" -v b="$held" 'BEGIN { print a + b }')
    SUM_ACQ[$w]=$(awk -v a="${SUM_ACQ[$w]:-0}" -v b="$acq" 'BEGIN { print a + b }')
    SUM_CONT[$w]=$(awk -v a="${SUM_CONT[$w]:-0}" -v b="$cont" 'BEGIN { print a + b }')
    rows+=("$round|$w|$H2_RPS|$(mean_ms "w$w-$round")|$H2_P99|$(awk -v c="$cpu_s" -v n="$H2_OK" 'BEGIN { printf "%.3f", c * 1000 / n }')|$(awk -v c="$cpu_s" -v w="$H2_WALL" 'BEGIN { printf "%.2f", c / w }')|$(awk -v h="$held" -v c="$cpu_s" -v a="$acq" 'BEGIN { if (a > 0 && c > 0) printf "%.1f", 100 * h / c; else print "-" }')|$(awk -v x="$cont" -v a="$acq" 'BEGIN { if (a > 0) printf "%.1f", 100 * x / a; else print "-" }')|$(per_search "$sys_n" "$H2_OK")|$(per_search "$cs_n" "$H2_OK")|$load|$threads")
  done
done

echo "workers_bench: realistic search (5-key subject, 4 canned nodes x 10 records, ~30 merged), h2load -t 1 -c $CLIENTS -m $STREAMS, ${DUR}s per row, $ROUNDS alternating rounds"
machine_line
echo "load average before the rows: $LOAD0${NICE:+; niceness $NICE (hubs, nodes and h2load)}; audit.fsync = $FSYNC"
echo "hub cores: the hub's CPU over the wall time; lock held: hub lock held time over hub CPU time; waited: acquisitions that found it taken"
echo "sys/srch, cs/srch: the hub's system calls and context switches (all threads) per search (perf stat; - when not counted)"
printf '%-5s %-9s %8s %8s %8s %9s %6s %8s %7s %8s %7s %6s  %s\n' round workers req/s "mean ms" "p99 ms" "CPU/srch" cores "held %" "wait %" "sys/srch" "cs/srch" load "cores per thread"
for row in "${rows[@]}"; do
  IFS='|' read -r r w rps mean p99 cps cores held wait sys cs load threads <<<"$row"
  printf '%-5s %-9s %8.0f %8s %8s %9s %6s %8s %7s %8s %7s %6s  %s\n' "$r" "$w" "$rps" "$mean" "$p99" "$cps" "$cores" "$held" "$wait" "$sys" "$cs" "$load" "$threads"
done
echo "load side per row: throttled = share of the capped hub's quota periods in which it used up its quota (- uncapped);"
echo "h2load and the 4 canned nodes in cores; machine idle = idle share of all $(nproc) cores (the load side is not the limit while there is idle left and h2load < 1 core)"
echo "hub waited: the hub's threads' time runnable but without a CPU, in cores (schedstat run_delay; a throttled hub waits too)"
printf '%-5s %-9s %10s %10s %7s %7s %13s\n' round workers "hub waited" "throttled%" h2load nodes "machine idle%"
for row in "${side[@]}"; do
  IFS='|' read -r r w rd thr h2c nc idle <<<"$row"
  printf '%-5s %-9s %10s %10s %7s %7s %13s\n' "$r" "$w" "$rd" "$thr" "$h2c" "$nc" "$idle"
done
if [ -n "$HUB_CPU_PER_WORKER" ]; then
  echo "hub CPU cap: workers x $HUB_CPU_PER_WORKER cores (cgroup v$CG_VERSION, period ${CPU_PERIOD_US} us)"
  loose=$(for row in "${side[@]}"; do
    IFS='|' read -r r w _ thr _ <<<"$row"
    if [ "$thr" != - ] && [ "$thr" -lt 70 ]; then echo "$r/$w"; fi
  done | paste -sd' ')
  [ -z "$loose" ] || echo "warning: in rows $loose the hub used its quota in < 70 % of the periods: something else (the machine, the load side) limited them, and the ratio is not the hub's alone"
fi
for w in $CASES; do
  first=${WORKERS%% *}
  case $w in before-*) first=before-$first ;; esac
  rps=$(awk -v n="${SUM_OK[$w]}" -v t="${SUM_WALL[$w]}" 'BEGIN { printf "%.0f", n / t }')
  echo "workers = $w over all rounds: $rps searches/s, $(awk -v c="${SUM_CPU[$w]}" -v n="${SUM_OK[$w]}" 'BEGIN { printf "%.3f", c * 1000 / n }') ms hub CPU per search, lock held $(awk -v h="${SUM_HELD[$w]}" -v c="${SUM_CPU[$w]}" -v a="${SUM_ACQ[$w]}" 'BEGIN { if (a > 0 && c > 0) printf "%.1f", 100 * h / c; else print "-" }') % of hub CPU, $(awk -v x="${SUM_CONT[$w]}" -v a="${SUM_ACQ[$w]}" 'BEGIN { if (a > 0) printf "%.1f", 100 * x / a; else print "-" }') % of acquisitions waited, $(per_search "${SUM_ACQ[$w]%.*}" "${SUM_OK[$w]}") lock takes, $(per_search "${SUM_SYS[$w]}" "${SUM_OK[$w]}") syscalls and $(per_search "${SUM_CS[$w]}" "${SUM_OK[$w]}") context switches per search"
  if [ "$w" != "$first" ]; then
    echo "  throughput workers=$w / workers=$first, same run: $(ratio "$(awk -v n="${SUM_OK[$w]}" -v t="${SUM_WALL[$w]}" 'BEGIN { print n / t }')" "$(awk -v n="${SUM_OK[$first]}" -v t="${SUM_WALL[$first]}" 'BEGIN { print n / t }')")" \
      "; hub CPU per search: $(ratio "$(awk -v c="${SUM_CPU[$w]}" -v n="${SUM_OK[$w]}" 'BEGIN { print c / n }')" "$(awk -v c="${SUM_CPU[$first]}" -v n="${SUM_OK[$first]}" 'BEGIN { print c / n }')")"
  fi
done

if [ "$PERF" = 1 ]; then
  w=${WORKERS##* }
  [ -n "${PID[$w]:-}" ] || die "no hub for workers = $w"
  data=$TMP/perf-workers.data
  perf_under_load "$data" "${PID[$w]}" "http://127.0.0.1:${PORT[$w]}/v1/search" "$PERF_DUR" "$CLIENTS" "$STREAMS" -g
  echo
  echo "perf (cpu-clock), hub with workers = $w during ${PERF_DUR}s: share of samples per thread (main loop thread is ${PID[$w]})"
  perf report -i "$data" --no-children --stdio -g none --sort pid 2>/dev/null | awk '/^ +[0-9.]+%/ && n++ < 8'
  echo "where the threads wait (futex and scheduler, self time):"
  perf report -i "$data" --no-children --stdio -g none --sort symbol 2>/dev/null |
    awk '/^ +[0-9.]+%/ && /futex|finish_task_switch|__lll_lock_wait|pthread_mutex_lock/' | head -6
fi
