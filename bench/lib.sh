# shellcheck shell=bash disable=SC2034  # sourced; the H2_* results are read by the scripts
# Shared helpers for the bench/*.sh scripts. Sourced, never run.
#
# A script calls `bench_init "${1:-}"` first: it resolves the build directory (argument,
# else $BUILD, else build/), checks the binary and the load tools, makes a temp dir
# ($TMP) and installs an EXIT trap that kills, by pid, every process started with
# `bg_start` and removes $TMP. Nothing here kills by name.
#
# Machines are noisy and shared: every script reports ratios of figures measured in the
# same run, next to the absolute numbers.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
BG_PIDS=()
CLK_TCK=$(getconf CLK_TCK)

die() { echo "bench: $*" >&2; exit 1; }

bench_init() {
  local build=${1:-${BUILD:-$BENCH_ROOT/build}}
  local dir
  dir=$(cd "$build" 2>/dev/null && pwd) || die "no build directory '$build': build first (a Release build: cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target fedbroker)"
  FEDBROKER=$dir/fedbroker
  CANNED_NODE=$dir/canned_node # only for canned nodes (canned_start)
  [ -x "$FEDBROKER" ] || die "no fedbroker binary in '$build': build first (a Release build: cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target fedbroker)"
  command -v h2load >/dev/null || die "h2load is missing (Debian package nghttp2-client)"
  command -v nghttpd >/dev/null || die "nghttpd is missing (Debian package nghttp2-server)"
  command -v curl >/dev/null || die "curl is missing"
  TMP=$(mktemp -d /tmp/fbbench.XXXXXX)
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  if grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" 2>/dev/null; then
    BUILD_TYPE=Release
  else
    BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null)"
    echo "bench: warning: '$build' is not a Release build (${BUILD_TYPE:-no type}); figures will be low" >&2
  fi
}

bench_cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # Bounded wait: SIGTERM gives the hub 2 s to drain; after 5 s, SIGKILL.
  for _ in $(seq 50); do
    local alive=0
    for p in "${BG_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# bg_start NAME CMD...: run CMD in the background, output in $TMP/NAME.log; the pid is
# in $BG_PID and is killed at exit.
bg_start() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# bg_stop PID: SIGTERM, wait at most 5 s, then SIGKILL.
bg_stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL PID NAME [http1]: until URL answers 200 (at most 15 s), or PID dies.
# Over h2c prior knowledge, or HTTP/1.1 when the fourth argument says so.
wait_http() {
  local proto=--http2-prior-knowledge
  [ "${4:-}" = http1 ] && proto=--http1.1
  for _ in $(seq 150); do
    curl -sf -o /dev/null --max-time 1 "$proto" "$1" && return 0
    kill -0 "$2" 2>/dev/null || { tail -5 "$TMP/$3.log" >&2; die "$3 exited during start-up"; }
    sleep 0.1
  done
  tail -5 "$TMP/$3.log" >&2
  die "$3 did not answer $1 within 15 s"
}

# cpu_ticks PID: utime+stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat;
# the command name is "fedbroker", without spaces, so field numbers hold).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
loop_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }   # the main (event-loop) thread only
vm_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }   # vm_kb PID VmHWM

# Sets CHILD_CPU: CPU seconds (user + system) of this shell's waited-for children so
# far. Call it directly, not in $(...): a subshell's `times` counts only its own.
children_cpu() {
  times >"$TMP/times"
  CHILD_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }; print t }' "$TMP/times")
}

# perf_under_load DATA PID URL SECONDS CLIENTS STREAMS PERF-RECORD-ARGS...: records
#   `perf record -e cpu-clock -F 999 ARGS -p PID -o DATA` while h2 "perf" posts
#   $TMP/real.json to URL (headers $AUTH and $JSON) for SECONDS, then stops perf and
#   waits for it to write DATA.
perf_under_load() {
  local data=$1 pid=$2 url=$3 secs=$4 clients=$5 streams=$6
  shift 6
  perf record -q -e cpu-clock -F 999 "$@" -p "$pid" -o "$data" >"$TMP/perf.log" 2>&1 &
  local perf_pid=$!
  BG_PIDS+=("$perf_pid")
  sleep 0.5
  h2 perf -t 1 -D "$secs" -c "$clients" -m "$streams" -H "$AUTH" -H "$JSON" -d "$TMP/real.json" "$url"
  kill -INT "$perf_pid"
  for _ in $(seq 300); do kill -0 "$perf_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$perf_pid" 2>/dev/null || true
}

# syscalls_under_load OUT PID URL SECONDS CLIENTS STREAMS: counts the system calls of PID
#   (all its threads) with `perf stat -e 'syscalls:sys_enter_*'` while h2 "sys" posts
#   $TMP/real.json to URL for SECONDS, then writes OUT: one line per system call made,
#   "name calls-per-request" (H2_OK requests), most first, "total" among them.
syscalls_under_load() {
  local out=$1 pid=$2 url=$3 secs=$4 clients=$5 streams=$6
  perf stat -x, -e 'syscalls:sys_enter_*' -p "$pid" -o "$TMP/sys-stat.csv" >"$TMP/sys-stat.log" 2>&1 &
  local stat_pid=$!
  BG_PIDS+=("$stat_pid")
  sleep 0.5
  h2 sys -t 1 -D "$secs" -c "$clients" -m "$streams" -H "$AUTH" -H "$JSON" -d "$TMP/real.json" "$url"
  kill -INT "$stat_pid"
  for _ in $(seq 300); do kill -0 "$stat_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$stat_pid" 2>/dev/null || true
  # perf stat counted from its start to its stop, a little longer than h2load's requests
  awk -F, -v n="$H2_OK" '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 {
      sub(/^syscalls:sys_enter_/, "", $3); printf "%s %.2f\n", $3, $1 / n; t += $1 }
    END { printf "total %.2f\n", t / n }' "$TMP/sys-stat.csv" | sort -k2,2nr >"$out"
}

# h2 NAME H2LOAD-ARGS...: runs h2load with a per-request log, and sets
#   H2_RPS (req/s), H2_OK (2xx responses), H2_P50 / H2_P99 / H2_MAX (ms, from the log),
#   H2_CPU (h2load's own CPU seconds), H2_WALL (seconds h2load ran).
# Fails the script, showing h2load's output, when any request failed or was not 2xx:
# a benchmark of error answers measures nothing.
h2() {
  local name=$1; shift
  local out=$TMP/h2load-$name.txt log=$TMP/h2load-$name.reqlog
  rm -f "$log"
  local c0 w0
  children_cpu; c0=$CHILD_CPU
  w0=$(date +%s.%N)
  h2load --log-file="$log" "$@" >"$out" 2>&1 || { cat "$out" >&2; die "h2load ($name) failed"; }
  H2_WALL=$(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  children_cpu
  H2_CPU=$(awk -v a="$c0" -v b="$CHILD_CPU" 'BEGIN { print b - a }')
  H2_RPS=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$out")
  local bad
  H2_OK=$(awk '/^requests:/ {print $8}' "$out")
  # failed + errored + timeout, and every non-2xx status. (In -D mode the 2xx count may
  # exceed "succeeded" by a response that ended as the clock stopped.)
  bad=$(awk '/^requests:/ {b += $10 + $12 + $14} /^status codes:/ {b += $5 + $7 + $9} END {print b + 0}' "$out")
  if [ -z "$H2_RPS" ] || [ -z "$H2_OK" ] || [ "$H2_OK" = 0 ] || [ "$bad" != 0 ]; then
    cat "$out" >&2
    die "h2load ($name): not every request got a 2xx answer"
  fi
  read -r H2_P50 H2_P99 H2_MAX < <(awk -F'\t' '$2 ~ /^2/ {print $3}' "$log" | sort -n |
    awk '{v[NR] = $1} END { if (NR == 0) { print "nan nan nan"; exit }
      i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999);
      printf "%.2f %.2f %.2f\n", v[i50] / 1000, v[i99] / 1000, v[NR] / 1000 }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
# ms_per ticks count: CPU milliseconds per item.
ms_per() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n + 0 == 0) print "n/a"; else printf "%.3f", t * 1000 / hz / n }'; }
us_per() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n + 0 == 0) print "n/a"; else printf "%.1f", t * 1000000 / hz / n }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

machine_line() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  echo "machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg); fedbroker build: ${BUILD_TYPE:-?}"
}

# demo_setup PORT: lets `fedbroker demo` write its data, keys, policies and tokens into
# $TMP/demo, then stops it; the scripts run `fedbroker serve` on configs of their own
# there (demo_config). Exports the demo tokens (ANALYST_MYS, ...).
demo_setup() {
  local port
  port=$(free_port)
  bg_start demo "$FEDBROKER" demo --port "$port" --dir "$TMP/demo"
  local pid=$BG_PID
  wait_http "http://127.0.0.1:$port/healthz" "$pid" demo
  [ -s "$TMP/demo/tokens.env" ] || die "demo wrote no tokens.env"
  bg_stop "$pid"
  set -a
  # shellcheck disable=SC1091
  . "$TMP/demo/tokens.env"
  set +a
}

# demo_config FILE PORT FSYNC(true|false) AUDIT-FILE [STATES-BLOCK]: a hub config in
# $TMP/demo (relative paths resolve there) like the demo's, listening on PORT. The
# default states are the demo's four sqlite databases.
demo_config() {
  local file=$1 port=$2 fsync=$3 audit=$4 states=${5:-}
  if [ -z "$states" ]; then
    states='  IDN = { adapter = "sqlite", path = "data/IDN.db" },
  MYS = { adapter = "sqlite", path = "data/MYS.db" },
  THA = { adapter = "sqlite", path = "data/THA.db" },
  BGD = { adapter = "sqlite", path = "data/BGD.db" },'
  fi
  cat >"$file" <<EOF
listen = { { address = "127.0.0.1:$port" } }
log_level = "warn"
policies = "policies"
audit = { path = "$audit", key = "keys/audit.pem", checkpoint_every = 1000, fsync = $fsync }
issuers = { { iss = "https://idp.demo.fedbroker", key = "keys/issuer.pub.pem", aud = "fedbroker" } }
redaction_key = "keys/redaction.key"
deadlines = { immediate = 2000, urgent = 5000, routine = 15000 }
-- One token stands for every analyst and one address for every client: lift the
-- per-identity, abandoned-search and per-address limits (docs/security.md) that would
-- refuse the load (h2load abandons the searches in flight when each run ends).
limits = { connections = 5000, per_client = 5000, per_identity = 100000, aborts_per_minute = 100000 }
states = {
$states
}
EOF
}

# search_body FILE KIND(document|name): the POST /v1/search body the benchmarks send, as
# an analyst of MYS (so IDN, THA and BGD answer). case_ref lets THA's policy answer.
search_body() {
  local subject
  case $2 in
    document) subject='{"document":"A12345678"}' ;;
    name) subject='{"name":"Ahmad bin Ismail"}' ;;
    *) die "search_body: unknown kind $2" ;;
  esac
  printf '{"subject":%s,"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in case MY-2026-0042","case_ref":"MY-2026-0042"}' "$subject" >"$1"
}

# search_once URL BODY-FILE OUT-FILE: one search with curl; prints "IDN shared 1, ..."
# and fails the script unless the answer is a complete 200 (no state in error or
# timeout): a benchmark of failing legs measures nothing.
search_once() {
  local code
  code=$(curl -s -o "$3" -w '%{http_code}' --max-time 10 "$1" -H "Authorization: Bearer $ANALYST_MYS" \
    -H 'Content-Type: application/json' --data-binary "@$2") || true
  [ "$code" = 200 ] || { head -c 500 "$3" >&2; die "search answered HTTP $code"; }
  $PY - "$3" <<'PY' || die "search answer is incomplete: $(head -c 400 "$3")"
import json, sys
a = json.load(open(sys.argv[1]))
print(", ".join("%s %s %s" % (s["state"], s["outcome"], s.get("records", 0)) for s in a["states"]))
sys.exit(0 if a["complete"] else 1)
PY
}

# realistic_setup: the realistic workload of the "every core" issue (realistic_bench.sh):
# the search body $TMP/real.json (an analyst of MYS; the demo's cross-state person,
# IDN-P-000001 and its counterparts, who hold passport A12345678, with all five subject
# keys and case_ref), and copies of the demo databases in $TMP/real/ in which nine more
# persons per state (the shortest records, three of them victims) are indexed under
# that document, so that each node answers 10 person records. Needs demo_setup first.
realistic_setup() {
  local doc=A12345678 s
  printf '{"subject":{"name":"Ahmad bin Ismail","dob":"1985-03-12","document":"%s","nationality":"MYS","phone":"+60123456789"},"purpose":"prosecution","priority":"urgent","legal_basis":"mla_treaty","justification":"Suspected facilitator in case MY-2026-0042","case_ref":"MY-2026-0042"}' \
    "$doc" >"$TMP/real.json"
  mkdir -p "$TMP/real"
  for s in IDN MYS THA BGD; do
    cp "$TMP/demo/data/$s.db" "$TMP/real/$s.db"
    $PY - "$TMP/real/$s.db" "$doc" <<'PY' || die "could not add the benchmark's records to $s"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
doc = sys.argv[2]
key = db.execute("SELECT key FROM keys WHERE kind = 1 AND key = ?", (doc,)).fetchone()
if not key:
    sys.exit("no record holds document " + doc)
held = {r[0] for r in db.execute("SELECT rid FROM keys WHERE kind = 1 AND key = ?", (doc,))}
def pick(victims, n):
    q = ("SELECT rid FROM records WHERE type = 'person' AND json NOT LIKE '%\"sensitive\"%' AND json "
         + ("" if victims else "NOT ") + "LIKE '%\"victim\"%' ORDER BY length(json), rid")
    return [r[0] for r in db.execute(q) if r[0] not in held][:n]
extra = pick(True, 3) + pick(False, 10 - len(held) - 3)
db.executemany("INSERT OR IGNORE INTO keys(kind, key, rid) VALUES(1, ?, ?)", [(doc, r) for r in extra])
db.commit()
PY
  done
}

# real_nodes_start DB-DIR [STATE-OPTIONS]: a `fedbroker node` per demo state on DB-DIR/<S>.db;
# sets NODE_PIDS and NODES_CFG (the hub config's states block for them, http adapter,
# each line with `timeout = 5000` or STATE-OPTIONS).
real_nodes_start() {
  local s p opts=${2:-timeout = 5000}
  NODES_CFG=""
  NODE_PIDS=()
  for s in IDN MYS THA BGD; do
    p=$(free_port)
    bg_start "node$s" "$FEDBROKER" node --data "$1/$s.db" --listen "127.0.0.1:$p" --log-level warn
    NODE_PIDS+=("$BG_PID")
    wait_http "http://127.0.0.1:$p/healthz" "$BG_PID" "node$s"
    NODES_CFG+="  $s = { adapter = \"http\", url = \"http://127.0.0.1:$p/search\", $opts },"$'\n'
  done
}

# state_url STATE STATES-BLOCK: the url of STATE's line in a states block.
state_url() { sed -n "s/^  $1 = { adapter = \"http\", url = \"\([^\"]*\)\".*/\1/p" <<<"$2"; }

# Canned national nodes (bench/canned_node.c): each answers every search with the bytes a
# real `fedbroker node` answered to the same search, captured once, so that the nodes
# cost next to no CPU and the hub is what the cores are spent on.
#
# node_request SEARCH-BODY-FILE OUT-FILE: the body the hub's http adapter POSTs to a node
# for that search (adapters/http.c: query_id, subject, purpose, ..., limit 100).
node_request() {
  $PY - "$1" >"$2" <<'PY' || die "node_request: cannot read $1"
import json, sys
b = json.load(open(sys.argv[1]))
print(json.dumps({"query_id": "q-bench", "subject": b["subject"], "purpose": b["purpose"],
                  "priority": b.get("priority"), "legal_basis": b.get("legal_basis"),
                  "case_ref": b.get("case_ref"), "requester": {"state": "MYS"}, "limit": 100},
                 separators=(",", ":")))
PY
}

# canned_capture NODE-URL REQUEST-FILE OUT-FILE: one node's answer to the request, checked
# to be {"records": [...]}; prints the number of records.
canned_capture() {
  curl -sf -o "$3" --max-time 10 -H 'Content-Type: application/json' --data-binary "@$2" "$1" ||
    die "node $1 did not answer the request to capture"
  $PY -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a["records"]))' "$3" ||
    die "node $1 answered no records array: $(head -c 300 "$3")"
}

# canned_start NAME ANSWER-FILE [DELAY-MS]: a canned node on a free port answering every
# POST /search with ANSWER-FILE's bytes (after DELAY-MS, default 0); sets BG_PID and
# CANNED_URL (its search URL).
canned_start() {
  [ -x "$CANNED_NODE" ] || die "no canned_node in the build directory: cmake --build <build> --target canned_node"
  local port
  port=$(free_port)
  bg_start "$1" "$CANNED_NODE" --listen "127.0.0.1:$port" --answer "$2" --delay-ms "${3:-0}"
  wait_http "http://127.0.0.1:$port/healthz" "$BG_PID" "$1" http1
  CANNED_URL="http://127.0.0.1:$port/search"
}

# canned_nodes_start SEARCH-BODY-FILE DELAY-MS [STATE-OPTIONS]: captures what each node of
# NODES_CFG (real_nodes_start) answers to that search and starts a canned node per state
# serving those bytes; sets CANNED_PIDS and CANNED_CFG (a states block like NODES_CFG's).
# With CANNED_SLOW_STATE set, that state's node answers after CANNED_SLOW_DELAY ms instead.
# The real nodes keep running: stop them (NODE_PIDS) once they are no longer needed.
canned_nodes_start() {
  local s d opts=${3:-timeout = 5000}
  node_request "$1" "$TMP/node-req-hub.json"
  CANNED_CFG=""
  CANNED_PIDS=()
  for s in IDN MYS THA BGD; do
    canned_capture "$(state_url "$s" "$NODES_CFG")" "$TMP/node-req-hub.json" "$TMP/canned-$s.json" >/dev/null
    d=$2
    [ "$s" = "${CANNED_SLOW_STATE:-}" ] && d=${CANNED_SLOW_DELAY:?}
    canned_start "canned$s" "$TMP/canned-$s.json" "$d"
    CANNED_PIDS+=("$BG_PID")
    CANNED_CFG+="  $s = { adapter = \"http\", url = \"$CANNED_URL\", $opts },"$'\n'
  done
}
