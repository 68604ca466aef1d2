#!/usr/bin/env bash
# The server's raw speed, as a ratio measured in one run: h2load against fedbroker's
# GET /healthz over h2c and against nghttpd serving a small static file, same
# parameters; then peak RSS with 1,000 open connections.
#   bash bench/http_bench.sh [build dir]   (defaults: build/)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
FEDBROKER=$BUILD/fedbroker
[ -x "$FEDBROKER" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REQS=${REQS:-200000}
CLIENTS=${CLIENTS:-32}
STREAMS=${STREAMS:-10}

P1=$(port); P2=$(port)
printf 'listen = { { address = "127.0.0.1:%s" } }\nlimits = { connections = 5000 }\nlog_level = "warn"\n' "$P1" >"$TMP/hub.lua"
"$FEDBROKER" serve --config "$TMP/hub.lua" 2>"$TMP/hub.log" &
HUB=$!
mkdir -p "$TMP/www" && printf '{"status":"ok"}\n' >"$TMP/www/healthz"
nghttpd --no-tls -d "$TMP/www" "$P2" >/dev/null 2>&1 &
sleep 0.5

run() { h2load -n "$REQS" -c "$CLIENTS" -m "$STREAMS" -t 1 "$1" 2>&1 | awk '/^finished in/ {print $4}' | tr -d 'req/s,'; }
fb=$(run "http://127.0.0.1:$P1/healthz")
ng=$(run "http://127.0.0.1:$P2/healthz")
ratio=$(awk -v a="$fb" -v b="$ng" 'BEGIN { printf "%.2f", a / b }')
echo "h2load -n $REQS -c $CLIENTS -m $STREAMS (one h2load thread), GET /healthz over h2c:"
echo "  fedbroker: $fb req/s   nghttpd: $ng req/s   ratio: $ratio"

# 1,000 idle connections that each made one request, then peak RSS.
/usr/bin/python3 - "$P1" <<'PY'
import socket, sys, time
socks = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    s.recv(4096)
time.sleep(0.5)
PY
echo "  peak RSS of fedbroker after 1,000 connections: $(awk '/VmHWM/ {print $2, $3}' /proc/$HUB/status)"
