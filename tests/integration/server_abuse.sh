#!/usr/bin/env bash
# Bad clients: garbage bytes, oversized bodies and header blocks over both protocols, a
# slowloris client, a half-open TLS handshake, an RST_STREAM flood, too many
# connections. The process stays up, keeps answering others, and its memory stays bounded.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

P=$(free_port); PT=$(free_port)
make_pki "$TMP/pki"
cat >"$TMP/hub.lua" <<LUA
listen = {
  { address = "127.0.0.1:$P" },
  { address = "127.0.0.1:$PT", tls = { cert = "pki/hub.pem", key = "pki/hub.key" } },
}
limits = { body = 4096, header = 2048, header_timeout = 1000, idle_timeout = 5000, connections = 64 }
LUA
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$P/healthz"
alive() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/healthz")" = 200 ] || fail "hub stopped answering after: $1"; }

# Garbage bytes.
$PY - "$P" <<'PY'
import os, socket, sys
for i in range(20):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(os.urandom(4096))
    try:
        s.settimeout(2); s.recv(4096)
    except Exception:
        pass
    s.close()
PY
alive "garbage bytes"
out=$(printf 'BLAH / HTTP/9.9\r\n\r\n' | timeout 5 $PY -c "
import socket,sys
s=socket.create_connection(('127.0.0.1',$P)); s.sendall(sys.stdin.buffer.read()); print(s.recv(4096).split(b'\r\n')[0].decode())")
expect_eq "garbage request line" "$out" "HTTP/1.1 400 Bad Request"
pass "garbage bytes get 400 / close, hub keeps serving"

# Oversized body: HTTP/1.1 (declared and chunked) and HTTP/2.
head -c 10000 /dev/zero | tr '\0' 'a' >"$TMP/big"
code=$(curl -s -o "$TMP/out" -w '%{http_code}' --data-binary @"$TMP/big" -H 'Content-Type: application/json' "http://127.0.0.1:$P/healthz")
expect_eq "413 (content-length)" "$code" 413
grep -q '"code":"payload_too_large"' "$TMP/out" || fail "413 body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big" "http://127.0.0.1:$P/healthz")
expect_eq "413 (chunked)" "$code" 413
code=$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge --data-binary @"$TMP/big" "http://127.0.0.1:$P/healthz")
expect_eq "413 (h2)" "$code" 413
alive "oversized bodies"
pass "oversized body: 413 over HTTP/1.1 and HTTP/2"

# Oversized header block.
long=$(head -c 3000 /dev/zero | tr '\0' 'x')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Long: $long" "http://127.0.0.1:$P/healthz")
expect_eq "431 (h1)" "$code" 431
code=$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge -H "X-Long: $long" "http://127.0.0.1:$P/healthz")
expect_eq "431 (h2)" "$code" 431
alive "oversized header blocks"
pass "oversized header block: 431 over HTTP/1.1 and HTTP/2"

# Slowloris: trickle headers; the hub closes it after the header timeout while serving others.
$PY - "$P" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
start = time.time()
closed_after = None
s.sendall(b"GET /healthz HTTP/1.1\r\n")
try:
    for i in range(100):
        time.sleep(0.1)
        s.sendall(b"X-A: b\r\n")
except (BrokenPipeError, ConnectionResetError):
    closed_after = time.time() - start
if closed_after is None:
    s.settimeout(1)
    try:
        closed_after = time.time() - start if s.recv(10) == b"" else None
    except Exception:
        pass
sys.exit(0 if closed_after is not None and closed_after < 4 else 1)
PY
slow=$!
for i in 1 2 3 4 5; do alive "during slowloris"; sleep 0.2; done
wait $slow || fail "slowloris connection was not closed by the header timeout"
pass "slowloris closed after the header timeout while others are served"

# Half-open TLS handshake: a partial ClientHello, then nothing.
$PY - "$PT" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes.fromhex("160301020001"))  # record header + start of a ClientHello
s.settimeout(5)
t = time.time()
try:
    data = s.recv(10)
except Exception:
    data = None
sys.exit(0 if data == b"" and time.time() - t < 4 else 1)
PY
halfopen=$!
out=$(curl -s --cacert "$TMP/pki/ca.pem" "https://localhost:$PT/healthz")
expect_eq "TLS while a handshake hangs" "$out" '{"status":"ok"}'
wait $halfopen || fail "half-open TLS handshake was not closed by the timeout"
pass "half-open TLS handshake closed, others served"

# RST_STREAM flood over HTTP/2: the process stays up.
$PY - "$P" "$FB_SOURCE_DIR/tests/lib" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
import h2raw
s = h2raw.connect(int(sys.argv[1]))
out = b""
for i in range(1, 20000, 2):
    out += h2raw.headers_frame(i, h2raw.get_headers()) + h2raw.rst_stream(i)
    if len(out) > 60000:
        try:
            s.sendall(out)
        except Exception:
            break
        out = b""
s.close()
PY
alive "RST_STREAM flood"
pass "RST_STREAM flood survived"

# Hostile HTTP/2 frames: random types, flags, stream ids and payloads after a valid
# preface, and mutated HTTP/1.1 requests; deterministic seed, bounded count.
$PY - "$P" "$FB_SOURCE_DIR/tests/lib" <<'PY'
import os, random, socket, struct, sys
sys.path.insert(0, sys.argv[2])
import h2raw
rng = random.Random(1234)
port = int(sys.argv[1])
for conn in range(150):
    try:
        s = h2raw.connect(port)
        out = b""
        for i in range(rng.randint(1, 40)):
            ftype = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, rng.randint(10, 255)])
            flags = rng.randint(0, 255)
            stream = rng.choice([0, 1, 3, 5, rng.randint(0, 2**31 - 1)])
            payload = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 4, 5, 8, 9, 16, rng.randint(0, 300)])))
            if ftype == 1 and rng.random() < 0.5:
                payload = h2raw.get_headers(rng.choice(["/healthz", "/v1/search", "/x" * 50]))
            out += h2raw.frame(ftype, flags, stream, payload)
        s.sendall(out)
        s.settimeout(0.2)
        try:
            s.recv(65536)
        except Exception:
            pass
        s.close()
    except (ConnectionResetError, BrokenPipeError, ConnectionRefusedError):
        pass
base = b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"subject\":1}"
for conn in range(150):
    m = bytearray(base)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(m))
        if op < 0.4: m[pos] = rng.getrandbits(8)
        elif op < 0.7: m.insert(pos, rng.getrandbits(8))
        else: del m[pos]
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(bytes(m))
        s.settimeout(0.2)
        try: s.recv(65536)
        except Exception: pass
        s.close()
    except (ConnectionResetError, BrokenPipeError):
        pass
PY
alive "hostile frames and mutated requests"
pass "random HTTP/2 frames and mutated HTTP/1.1 requests survived"

# Connection cap: 80 idle connections against a cap of 64: at least 16 are refused at
# accept (counted), and once they close the hub serves again.
refused='fedbroker_connections_refused_total{reason="connections"}'
before=$(metric_at "$P" "$refused")
$PY - "$P" <<'PY'
import socket, sys, time
socks = []
for i in range(80):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
    except Exception:
        pass
time.sleep(0.5)
for s in socks: s.close()
PY
i=0; until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/healthz")" = 200 ]; do
  i=$((i + 1)); [ $i -gt 100 ] && fail "the hub did not serve again within 5 s after the connections closed"; sleep 0.05
done
after=$(metric_at "$P" "$refused")
[ $((${after%.*} - ${before%.*})) -ge 16 ] || fail "80 connections over a cap of 64: $((${after%.*} - ${before%.*})) refused, want at least 16"
pass "connection cap: $((${after%.*} - ${before%.*})) of 80 refused at accept, served again after"

rss=$(awk '/VmRSS/ {print $2}' /proc/$HUB_PID/status)
[ "$rss" -lt 200000 ] || fail "RSS grew to $rss kB"
pass "RSS after abuse: ${rss} kB"
