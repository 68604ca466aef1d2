"""Minimal raw HTTP/2 client frames for abuse tests (no h2 library needed)."""
import socket
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def settings():
    return frame(4, 0, 0)


def literal(name_index, value):
    """Literal header field without indexing, indexed name (RFC 7541 6.2.2)."""
    v = value.encode()
    assert name_index < 15 and len(v) < 127
    return bytes([name_index]) + bytes([len(v)]) + v


def literal_new(name, value):
    n, v = name.encode(), value.encode()
    out = b"\x00"
    for s in (n, v):
        if len(s) < 127:
            out += bytes([len(s)]) + s
        else:  # 7-bit prefix integer
            out += b"\x7f"
            rest = len(s) - 127
            while rest >= 128:
                out += bytes([(rest & 0x7F) | 0x80])
                rest >>= 7
            out += bytes([rest]) + s
    return out


def get_headers(path="/healthz", method_get=True):
    # :method GET (2) or POST (3), :scheme http (6), :path (4, literal), :authority (1, literal)
    return (b"\x82" if method_get else b"\x83") + b"\x86" + literal(4, path) + literal(1, "localhost")


def headers_frame(stream, block, end_stream=True):
    flags = 0x4 | (0x1 if end_stream else 0)
    return frame(1, flags, stream, block)


def rst_stream(stream, code=8):
    return frame(3, 0, stream, struct.pack(">I", code))


def data_frame(stream, payload, end_stream=False):
    return frame(0, 0x1 if end_stream else 0, stream, payload)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(PREFACE + settings())
    return s


def read_frames(sock, until_stream_end=None, timeout=5):
    """Reads frames; returns list of (type, flags, stream, payload)."""
    sock.settimeout(timeout)
    buf = b""
    frames = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                frames.append((ftype, flags, stream, buf[9 : 9 + length]))
                buf = buf[9 + length :]
                if until_stream_end is not None and stream == until_stream_end and flags & 0x1 and ftype in (0, 1):
                    return frames
                if until_stream_end is not None and stream == until_stream_end and ftype == 3:
                    return frames
    except socket.timeout:
        pass
    return frames


def status_of(frames, stream):
    """The :status of a response whose HEADERS used the static table (":status 200" = 0x88)."""
    for t, f, s, p in frames:
        if t == 1 and s == stream and p:
            b = p[0]
            table = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}
            if b in table:
                return table[b]
            # literal with indexed name :status (index 8..14 -> 4-bit prefix forms)
            if b & 0xF0 == 0x00 or b & 0xF0 == 0x10 or b & 0xC0 == 0x40:
                ln = p[1] & 0x7F
                return int(p[2 : 2 + ln])
    return None
