#!/usr/bin/env bash
# One port, two protocols, and TLS: HTTP/1.1, h2c with prior knowledge, h2 and
# http/1.1 over TLS by ALPN, client certificates, IPv6, errors in the API.md shape.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

P=$(free_port); P6=$(free_port); PT=$(free_port); PM=$(free_port)
make_pki "$TMP/pki"
cat >"$TMP/hub.lua" <<LUA
listen = {
  { address = "127.0.0.1:$P" },
  { address = "[::1]:$P6" },
  { address = "127.0.0.1:$PT", tls = { cert = "pki/hub.pem", key = "pki/hub.key",
                                       client_ca = "pki/ca.pem", client_cert = "optional" } },
  { address = "127.0.0.1:$PM", tls = { cert = "pki/hub.pem", key = "pki/hub.key",
                                       client_ca = "pki/ca.pem", client_cert = "required" } },
}
LUA
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$P/healthz"

out=$(curl -s -w ' %{http_code} %{http_version}' "http://127.0.0.1:$P/healthz")
expect_eq "HTTP/1.1 healthz" "$out" $'{"status":"ok"}\n 200 1.1'
pass "HTTP/1.1 /healthz"

out=$(curl -s --http2-prior-knowledge -w ' %{http_code} %{http_version}' "http://127.0.0.1:$P/healthz")
expect_eq "h2c healthz" "$out" $'{"status":"ok"}\n 200 2'
pass "h2c prior knowledge /healthz"

out=$(nghttp -n -v "http://127.0.0.1:$P/healthz" 2>&1) # captured: grep -q on a pipe could SIGPIPE nghttp
grep -q ':status: 200' <<<"$out" || fail "nghttp h2c"
pass "nghttp h2c"

out=$(curl -s -g -w ' %{http_code}' "http://[::1]:$P6/healthz")
expect_eq "IPv6" "$out" $'{"status":"ok"}\n 200'
pass "IPv6 listener"

out=$(curl -s --cacert "$TMP/pki/ca.pem" -w ' %{http_code} %{http_version}' "https://localhost:$PT/healthz")
expect_eq "TLS h2 by ALPN" "$out" $'{"status":"ok"}\n 200 2'
out=$(curl -s --http1.1 --cacert "$TMP/pki/ca.pem" -w ' %{http_code} %{http_version}' "https://localhost:$PT/healthz")
expect_eq "TLS http/1.1 by ALPN" "$out" $'{"status":"ok"}\n 200 1.1'
pass "TLS with ALPN h2 and http/1.1"

# TLS 1.1 and below are refused.
if curl -s --tls-max 1.1 --cacert "$TMP/pki/ca.pem" -o /dev/null "https://localhost:$PT/healthz" 2>/dev/null; then
  fail "TLS 1.1 was accepted"
fi
pass "TLS below 1.2 refused"

# Required client certificate: a good one passes, none and a rogue one are refused.
out=$(curl -s --cacert "$TMP/pki/ca.pem" --cert "$TMP/pki/client.pem" --key "$TMP/pki/client.key" \
  -w ' %{http_code}' "https://localhost:$PM/healthz")
expect_eq "mTLS good cert" "$out" $'{"status":"ok"}\n 200'
if curl -s --cacert "$TMP/pki/ca.pem" -o /dev/null "https://localhost:$PM/healthz" 2>/dev/null; then
  fail "no client certificate was accepted on a required listener"
fi
if curl -s --cacert "$TMP/pki/ca.pem" --cert "$TMP/pki/rogue.pem" --key "$TMP/pki/rogue.key" -o /dev/null \
  "https://localhost:$PM/healthz" 2>/dev/null; then
  fail "an untrusted client certificate was accepted"
fi
pass "client certificates: trusted accepted, missing and untrusted refused"

# Errors have the API.md shape.
out=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$P/no/such")
expect_eq "404" "$out" $'{"error":{"code":"not_found","message":"No such endpoint."}}\n 404'
out=$(curl -s -i -X DELETE "http://127.0.0.1:$P/healthz")
grep -q '^HTTP/1.1 405' <<<"$out" || fail "405 status"
grep -qi '^allow: GET' <<<"$out" || fail "405 Allow header"
grep -q '"code":"method_not_allowed"' <<<"$out" || fail "405 body"
pass "404 and 405 with the error body"

# HTTP/2 pseudo-headers in any order (:path before :method).
st=$($PY - "$P" "$FB_SOURCE_DIR/tests/lib" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import h2raw
s = h2raw.connect(int(sys.argv[1]))
block = h2raw.literal(4, "/healthz") + b"\x82" + b"\x86" + h2raw.literal(1, "localhost")
s.sendall(h2raw.headers_frame(1, block))
print(h2raw.status_of(h2raw.read_frames(s, until_stream_end=1), 1))
PY
)
expect_eq "h2 :path before :method" "$st" 200
pass "HTTP/2 pseudo-headers in any order"

# Keep-alive: several requests on one connection, pipelined.
n=$(curl -s "http://127.0.0.1:$P/healthz" "http://127.0.0.1:$P/healthz" "http://127.0.0.1:$P/healthz" | grep -c ok)
expect_eq "keep-alive" "$n" 3
resp=$($PY - "$P" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data.count(b"HTTP/1.1 200"))
PY
)
expect_eq "pipelined requests" "$resp" 3
pass "keep-alive and pipelining"

# Chunked request body is accepted by the parser (route answers 405 on POST /healthz).
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary '{"a":1}' "http://127.0.0.1:$P/healthz")
expect_eq "chunked body" "$out" 405
pass "chunked request body"

# The workspace page (tests/integration/web_serve.sh checks it in detail).
out=$(curl -s -i "http://127.0.0.1:$P/")
grep -qi '^content-type: text/html' <<<"$out" || fail "workspace content type"
grep -q '<title>fedbroker workspace</title>' <<<"$out" || fail "workspace page"
pass "GET / serves the workspace"

# Metrics in Prometheus text format.
m=$(curl -s "http://127.0.0.1:$P/metrics")
grep -q '^fedbroker_http_requests_total{route="/healthz",status="200"} [0-9]' <<<"$m" || fail "requests counter"
grep -q '^# TYPE fedbroker_http_request_duration_seconds histogram' <<<"$m" || fail "duration histogram"
grep -q '^fedbroker_open_connections [0-9]' <<<"$m" || fail "open connections gauge"
pass "/metrics"

# SIGTERM: exits 0.
kill -TERM "$HUB_PID"
status=0
wait "$HUB_PID" || status=$?
expect_eq "exit status after SIGTERM" "$status" 0
pass "SIGTERM stops with status 0"
