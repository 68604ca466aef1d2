# Shared helpers for integration tests (sourced). They start real fedbroker processes
# on free loopback ports, and clean up whatever they started on exit (KEEP_TMP=1 keeps
# the temporary directory with the logs, for debugging).
set -euo pipefail

: "${FEDBROKER:?FEDBROKER must point at the built binary}"
: "${FB_SOURCE_DIR:?}"
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/fbtest.XXXXXX)
PIDS=()

cleanup() {
  local status=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  # Under ASan/UBSan a process that leaked or misbehaved says so in its log.
  if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP"/*.log 2>/dev/null; then
    grep -h -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$TMP"/*.log | head -80 >&2
    echo "FAIL: a sanitizer reported a fault (logs above)" >&2
    status=1
  fi
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
  exit $status
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [seconds]: polls until the URL answers at all.
wait_http() {
  local url=$1 limit=${2:-10} i=0
  while ! curl -s -o /dev/null -k "$url"; do
    i=$((i + 1))
    [ $i -gt $((limit * 20)) ] && fail "nothing answered at $url"
    sleep 0.05
  done
}

# start_hub CONFIG [extra args...]: starts `fedbroker serve`, logs in $TMP/hub.log,
# sets HUB_PID.
start_hub() {
  local config=$1
  shift
  "$FEDBROKER" serve --config "$config" "$@" 2>>"$TMP/hub.log" &
  HUB_PID=$!
  PIDS+=("$HUB_PID")
}

# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# poll_eq WANT CMD...: runs CMD until it prints WANT (every 50 ms, 5 s at most) and
# prints its last output, for expect_eq: a poll instead of a sleep that hopes.
poll_eq() {
  local want=$1 out i
  shift
  for i in $(seq 1 100); do
    out=$("$@")
    [ "$out" = "$want" ] && break
    sleep 0.05
  done
  printf '%s' "$out"
}

# metric_at PORT NAME{labels} [curl args...]: a series' value from the hub's /metrics
# (0 when absent).
metric_at() {
  local port=$1 name=$2
  shift 2
  curl -s "$@" "http://127.0.0.1:$port/metrics" | awk -v m="$name" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }'
}

# make_pki DIR: a test CA, a server cert for localhost/127.0.0.1 and client certs.
make_pki() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -days 2 -subj "/CN=fedbroker test CA" 2>/dev/null
    printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >server.ext
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout hub.key -out hub.csr \
      -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in hub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out hub.pem -days 2 \
      -extfile server.ext 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr \
      -subj "/ST=MYS/O=Royal Malaysia Police/OU=analyst/CN=analyst-mys-1" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
    # A client certificate from a CA the hub does not trust.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.pem \
      -days 2 -subj "/ST=MYS/OU=analyst/CN=rogue" 2>/dev/null
  )
}

# launch_node NAME ARGS...: `fedbroker node` on a free cleartext port, log in
# $TMP/NAME.log; sets NODE_PORT, NODE_PID and URL.
launch_node() {
  local name=$1
  shift
  NODE_PORT=$(free_port)
  "$FEDBROKER" node --listen "127.0.0.1:$NODE_PORT" "$@" 2>>"$TMP/$name.log" &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_http "http://127.0.0.1:$NODE_PORT/healthz"
  URL=http://127.0.0.1:$NODE_PORT
}

# stop_cleanly PID NAME: SIGTERM, at most 5 s, exit status 0 required (an ASan build
# exits non-zero on a leak); shows $TMP/NAME.log when it fails.
stop_cleanly() {
  local pid=$1 name=$2 i=0 rc=0
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "$name did not stop within 5 s"
    sleep 0.05
  done
  wait "$pid" || rc=$?
  [ $rc -eq 0 ] || { cat "$TMP/$name.log" >&2; fail "$name exited with status $rc"; }
}
