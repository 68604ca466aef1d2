#!/usr/bin/env bash
# HTTP/1.1 and HTTP/2 conformance gaps (issue 9, findings 4 and 5): whitespace before a
# field's colon, Host rules, Transfer-Encoding in HTTP/1.0; HTTP/1.1 on a connection
# where TLS chose h2, broken prefaces, stream ids that go backwards, and floods of
# WINDOW_UPDATE, PRIORITY and empty DATA frames. The h2spec run itself is
# tests/conformance/h2spec.sh (it needs h2spec's source); this covers the cases fixed.
source "$FB_SOURCE_DIR/tests/lib/common.sh"

P=$(free_port); PT=$(free_port)
make_pki "$TMP/pki"
cat >"$TMP/hub.lua" <<LUA
listen = {
  { address = "127.0.0.1:$P" },
  { address = "127.0.0.1:$PT", tls = { cert = "pki/hub.pem", key = "pki/hub.key" } },
}
audit = { path = "audit.jsonl" }
limits = { control_frames = 100 }
LUA
start_hub "$TMP/hub.lua"
wait_http "http://127.0.0.1:$P/healthz"

$PY - "$P" "$PT" "$FB_SOURCE_DIR/tests/lib" "$TMP/pki/ca.pem" <<'PY' || fail "conformance checks (above)"
import socket, ssl, struct, sys, time
sys.path.insert(0, sys.argv[3])
import h2raw
P, PT, CA = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4]
failed = []

def check(name, ok, detail=""):
    print(("ok - " if ok else "FAIL: ") + name + ("" if ok else " (" + detail + ")"))
    if not ok:
        failed.append(name)

def h1(raw, port=P):
    """Sends raw bytes; returns (first response line, whether the server closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(raw)
    data = b""
    closed = False
    s.settimeout(1.5)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data.split(b"\r\n")[0].decode(errors="replace"), closed, data

# ---- HTTP/1.1 (RFC 9112) ----
line, closed, data = h1(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nGET /x HTTP/1.1\r\n\r\n")
check("whitespace before colon (Content-Length : 5) -> 400", line == "HTTP/1.1 400 Bad Request", line)
check("... and only one answer (no smuggled second request)", data.count(b"HTTP/1.1 ") == 1, repr(data[:200]))
line, closed, _ = h1(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n")
check("whitespace before colon (Transfer-Encoding : chunked) -> 400", line == "HTTP/1.1 400 Bad Request", line)
line, closed, _ = h1(b"GET /healthz HTTP/1.1\r\nHost\t: x\r\n\r\n")
check("tab before colon -> 400", line == "HTTP/1.1 400 Bad Request", line)
line, _, _ = h1(b"GET /healthz HTTP/1.1\r\n\r\n")
check("HTTP/1.1 without Host -> 400", line == "HTTP/1.1 400 Bad Request", line)
line, _, _ = h1(b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
check("two Host headers -> 400", line == "HTTP/1.1 400 Bad Request", line)
line, _, _ = h1(b"GET /healthz HTTP/1.0\r\n\r\n")
check("HTTP/1.0 without Host is fine -> 200", line == "HTTP/1.1 200 OK", line)
line, closed, _ = h1(b"POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
check("Transfer-Encoding in HTTP/1.0 -> 400", line == "HTTP/1.1 400 Bad Request", line)
check("... and the connection is closed", closed)
line, _, _ = h1(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
check("a well-formed request still -> 200", line == "HTTP/1.1 200 OK", line)

# ---- HTTP/2 over TLS: ALPN h2 then HTTP/1.1 ----
ctx = ssl.create_default_context(cafile=CA)
ctx.set_alpn_protocols(["h2"])
raw = socket.create_connection(("127.0.0.1", PT), timeout=3)
t = ctx.wrap_socket(raw, server_hostname="localhost")
check("TLS chose h2", t.selected_alpn_protocol() == "h2", str(t.selected_alpn_protocol()))
t.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = b""
t.settimeout(2)
try:
    while True:
        c = t.recv(65536)
        if not c:
            break
        got += c
except (socket.timeout, ssl.SSLError, ConnectionResetError):
    pass
check("HTTP/1.1 request after ALPN h2 is not served", b"HTTP/1.1" not in got and b"status" not in got, repr(got[:100]))
t.close()
ctx11 = ssl.create_default_context(cafile=CA)
ctx11.set_alpn_protocols(["http/1.1"])
t = ctx11.wrap_socket(socket.create_connection(("127.0.0.1", PT), timeout=3), server_hostname="localhost")
t.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
check("ALPN http/1.1 is still served", t.recv(100).startswith(b"HTTP/1.1 200"))
t.close()

def h2_until_close(payload, port=P, wait=2):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(payload)
    frames, buf, closed = [], b"", False
    s.settimeout(wait)
    try:
        while True:
            c = s.recv(65536)
            if not c:
                closed = True
                break
            buf += c
    except (socket.timeout, ConnectionResetError):
        closed = closed or False
    s.close()
    raw = buf
    while len(buf) >= 9:
        n = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + n:
            break
        frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]))
        buf = buf[9 + n:]
    return frames, closed, raw

def goaway_code(frames):
    for t_, f, s, p in frames:
        if t_ == 7:
            return struct.unpack(">I", p[4:8])[0]
    return None

# ---- invalid prefaces on h2c ----
frames, closed, raw = h2_until_close(b"INVALID CONNECTION PREFACE\r\n\r\n")
check("invalid preface: no HTTP/1.1 answer, connection closed", closed and b"HTTP/1.1" not in raw, repr(raw[:80]))
frames, closed, raw = h2_until_close(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
check("broken HTTP/2 preface: closed without an HTTP/1.1 answer", closed and b"HTTP/1.1" not in raw, repr(raw[:80]))
# Over TLS with ALPN h2, a wrong preface.
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", PT), timeout=3), server_hostname="localhost")
t.sendall(b"INVALID CONNECTION PREFACE\r\n\r\n")
t.settimeout(2)
got = b""
try:
    while True:
        c = t.recv(65536)
        if not c:
            break
        got += c
except (socket.timeout, ssl.SSLError, ConnectionResetError):
    pass
check("TLS h2: invalid preface closed, no HTTP/1.1 answer", b"HTTP/1.1" not in got, repr(got[:80]))

# ---- stream ids that go backwards (h2spec 5.1.1/2) ----
hdr = h2raw.get_headers("/healthz")
frames, closed, _ = h2_until_close(h2raw.PREFACE + h2raw.settings() + h2raw.headers_frame(5, hdr) + h2raw.headers_frame(3, hdr))
check("HEADERS on stream 3 after 5 -> GOAWAY PROTOCOL_ERROR", goaway_code(frames) == 1 and closed, str(goaway_code(frames)))
post = b"\x83\x86" + h2raw.literal(4, "/healthz") + h2raw.literal(1, "localhost")
frames, closed, _ = h2_until_close(h2raw.PREFACE + h2raw.settings() + h2raw.headers_frame(5, hdr) +
                                   h2raw.data_frame(3, b"x", end_stream=True))
# (DATA on a stream that was opened and has closed is nghttp2's business: STREAM_CLOSED.)
check("DATA on never-opened stream 3 after 5 -> GOAWAY PROTOCOL_ERROR", goaway_code(frames) == 1 and closed,
      str(goaway_code(frames)))
# ---- control-frame floods (limits.control_frames = 100 per second) ----
def flood(frame_bytes, n):
    frames, closed, _ = h2_until_close(h2raw.PREFACE + h2raw.settings() + frame_bytes * n)
    return goaway_code(frames), closed

wu = h2raw.frame(8, 0, 0, struct.pack(">I", 1))
prio = h2raw.frame(2, 0, 1, struct.pack(">IB", 0, 15))
for name, fb in (("WINDOW_UPDATE", wu), ("PRIORITY", prio)):
    code, closed = flood(fb, 1000)
    check(name + " flood -> GOAWAY ENHANCE_YOUR_CALM and close", code == 0xB and closed, str(code))
# Empty DATA frames on an open stream (a POST whose body never ends).
s = socket.create_connection(("127.0.0.1", P), timeout=3)
payload = h2raw.PREFACE + h2raw.settings() + h2raw.headers_frame(1, post, end_stream=False) + h2raw.data_frame(1, b"") * 1000
frames, closed, _ = h2_until_close(payload)
check("empty DATA flood -> GOAWAY ENHANCE_YOUR_CALM and close", goaway_code(frames) == 0xB and closed, str(goaway_code(frames)))
# Under the limit: 50 WINDOW_UPDATEs and a request are fine.
s = h2raw.connect(P)
s.sendall(wu * 50 + h2raw.headers_frame(1, hdr))
fr = h2raw.read_frames(s, until_stream_end=1, timeout=3)
check("50 WINDOW_UPDATEs then a request -> 200", h2raw.status_of(fr, 1) == 200 and goaway_code(fr) is None)
s.close()

sys.exit(1 if failed else 0)
PY
code=$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge "http://127.0.0.1:$P/healthz")
expect_eq "hub serves after the conformance checks" "$code" 200
pass "HTTP/1.1 and HTTP/2 conformance cases"
