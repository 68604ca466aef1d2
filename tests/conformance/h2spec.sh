#!/usr/bin/env bash
# HTTP/2 conformance: runs h2spec (github.com/summerwind/h2spec) against a hub started
# here, over h2c (prior knowledge) and over TLS (ALPN h2). h2spec is not packaged by
# Debian and its source is not kept in this repository: point H2SPEC_SRC at a checkout
# of it, and this script builds it offline in GOPATH mode with Debian's Go toolchain
# and golang-*-dev libraries (install them: FB_SETUP_CONFORMANCE=1 bash scripts/setup.sh).
# Or set H2SPEC to an h2spec binary built elsewhere.
#
#   H2SPEC_SRC=/path/to/h2spec bash tests/conformance/h2spec.sh [build/fedbroker]
#
# Exit status 0 only when every test passes on both transports. The score is recorded
# in docs/security.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FEDBROKER=${1:-${FEDBROKER:-$ROOT/build/fedbroker}}
[ -x "$FEDBROKER" ] || { echo "h2spec.sh: no fedbroker binary at $FEDBROKER (build first)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/fb-h2spec.XXXXXX)
HUB_PID=""
cleanup() {
  if [ -n "$HUB_PID" ]; then kill "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${H2SPEC:-}" ]; then
  : "${H2SPEC_SRC:?set H2SPEC_SRC to a checkout of the h2spec source, or H2SPEC to a binary}"
  [ -f "$H2SPEC_SRC/cmd/h2spec/h2spec.go" ] || { echo "h2spec.sh: $H2SPEC_SRC is not h2spec's source" >&2; exit 2; }
  command -v go >/dev/null || { echo "h2spec.sh: no Go toolchain: FB_SETUP_CONFORMANCE=1 bash scripts/setup.sh" >&2; exit 2; }
  # GOPATH mode: the source under src/github.com/summerwind/h2spec, its imports from
  # Debian's packages in /usr/share/gocode; no module download, no network.
  mkdir -p "$WORK/gopath/src/github.com/summerwind"
  cp -r "$H2SPEC_SRC" "$WORK/gopath/src/github.com/summerwind/h2spec"
  (cd "$WORK/gopath/src/github.com/summerwind/h2spec" &&
    GOPATH="$WORK/gopath:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$WORK/gocache" \
      go build -o "$WORK/h2spec" ./cmd/h2spec) ||
    { echo "h2spec.sh: build failed (missing golang-*-dev packages? FB_SETUP_CONFORMANCE=1 bash scripts/setup.sh)" >&2; exit 2; }
  H2SPEC=$WORK/h2spec
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P=$(free_port)
PT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/hub.key" -out "$WORK/hub.pem" \
  -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
cat >"$WORK/hub.lua" <<LUA
listen = {
  { address = "127.0.0.1:$P" },
  { address = "127.0.0.1:$PT", tls = { cert = "hub.pem", key = "hub.key" } },
}
audit = { path = "audit.jsonl" }
LUA
"$FEDBROKER" serve --config "$WORK/hub.lua" 2>"$WORK/hub.log" &
HUB_PID=$!
for i in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$P/healthz" && break
  sleep 0.05
done

status=0
for transport in h2c tls; do
  if [ $transport = h2c ]; then args=(-p "$P"); else args=(-p "$PT" -t -k); fi
  # The path answers 200 to GET and POST alike, with a body: h2spec needs both.
  "$H2SPEC" -h 127.0.0.1 "${args[@]}" -P /healthz -o 3 >"$WORK/$transport.out" 2>&1 || status=1
  summary=$(tail -n 1 "$WORK/$transport.out")
  echo "h2spec $transport: $summary"
  if ! grep -q ' 0 failed' <<<"$summary"; then
    sed -n '/^Failures:/,$p' "$WORK/$transport.out"
    status=1
  fi
done
# The hub must have survived, stop cleanly, and (ASan builds) report nothing.
if ! kill -0 "$HUB_PID" 2>/dev/null; then
  echo "h2spec.sh: the hub died during the run" >&2
  status=1
else
  kill -TERM "$HUB_PID"
  rc=0
  wait "$HUB_PID" || rc=$?
  HUB_PID=""
  [ $rc -eq 0 ] || { echo "h2spec.sh: the hub exited with status $rc" >&2; status=1; }
fi
if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/hub.log"; then
  grep -A20 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$WORK/hub.log" | head -40 >&2
  status=1
fi
exit $status
