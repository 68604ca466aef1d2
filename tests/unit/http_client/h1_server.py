"""A raw HTTP/1.1 node for test_h1_client.c: writes its answers byte by byte as the
test needs them, right or wrong, and counts connections.

Prints the port it listens on, then serves until killed. Paths (POST):
  /count      200, body {"conns": N, "held_max": M}: connections accepted so far, and
              the most requests held at once by /hold
  /echo       200, body: the request body; headers X-Host and X-Auth echo Host and
              Authorization
  /hold       waits 150 ms, then 200 {"ok": 1}
  /chunked    200 with a chunked body in three pieces
  /eof        200 with no length and Connection: close; the body runs to the close
  /midbody    200 with Content-Length 1000, 10 bytes of it, then the close
  /midslow    200 with Content-Length 1000, 10 bytes of it, then silence for 3 s
  /big        200 with a 2000-byte body and its Content-Length
  /bigchunk   200 with a 2000-byte chunked body
  /flood      a status line and 100 KiB of headers that never end
  /garbage    a line that is not HTTP
  /slow       waits 3 s, then 200
  /dropped    200 kept alive, then the connection closed without saying so
  /continue   100 Continue, then 200 {"ok": 1}
  /404        404 with {"error": {"message": "no such thing"}}
"""
import json
import socket
import sys
import threading
import time

lock = threading.Lock()
conns = 0
held = 0
held_max = 0


def read_request(f):
    line = f.readline()
    if not line:
        return None, None, None
    path = line.split()[1].decode()
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return path, headers, body


def ok(s, body, extra=b""):
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
              b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve(s):
    global held, held_max
    f = s.makefile("rb")
    while True:
        path, headers, body = read_request(f)
        if path is None:
            return
        if path == "/count":
            with lock:
                ok(s, json.dumps({"conns": conns, "held_max": held_max}).encode())
        elif path == "/echo":
            extra = ("X-Host: %s\r\nX-Auth: %s\r\n" % (headers.get("host", ""),
                                                       headers.get("authorization", ""))).encode()
            ok(s, body, extra)
        elif path == "/hold":
            with lock:
                held += 1
                held_max = max(held_max, held)
            time.sleep(0.15)
            with lock:
                held -= 1
            ok(s, b'{"ok": 1}')
        elif path == "/chunked":
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\n{\"ok\"\r\n")
            time.sleep(0.02)
            s.sendall(b"3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n")
        elif path == "/eof":
            s.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"ok\": ")
            time.sleep(0.02)
            s.sendall(b"2}")
            s.shutdown(socket.SHUT_RDWR)
            s.close()
            return
        elif path == "/midbody":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            s.shutdown(socket.SHUT_RDWR)
            s.close()
            return
        elif path == "/midslow":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            time.sleep(3)
        elif path == "/big":
            ok(s, b'"' + b"x" * 1998 + b'"')
        elif path == "/bigchunk":
            s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(4):
                s.sendall(b"1f4\r\n" + b"x" * 500 + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        elif path == "/flood":
            try:
                s.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Flood: " + b"y" * 100 + b"\r\n" * 1)
                for _ in range(1000):
                    s.sendall(b"X-Flood: " + b"y" * 100 + b"\r\n")
            except OSError:
                return
            time.sleep(1)
        elif path == "/garbage":
            s.sendall(b"SMTP READY\r\n\r\n")
            time.sleep(1)
        elif path == "/slow":
            time.sleep(3)
            ok(s, b'{"ok": 1}')
        elif path == "/dropped":
            ok(s, b'{"ok": 1}')
            time.sleep(0.05)
            s.shutdown(socket.SHUT_RDWR)
            s.close()
            return
        elif path == "/continue":
            s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            ok(s, b'{"ok": 1}')
        else:
            body = b'{"error": {"message": "no such thing"}}'
            s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def handle(s):
    try:
        serve(s)
    except OSError:
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    global conns
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print(srv.getsockname()[1], flush=True)
    while True:
        c, _ = srv.accept()
        with lock:
            conns += 1
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
