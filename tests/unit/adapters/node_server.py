"""A tiny national node for test_http.c: canned answers by path.

Prints the port it listens on, then serves until killed. With
`--tls CERT KEY CA` it serves HTTPS and requires a client certificate signed by CA.
Paths:
  /good       200 with two valid records
  /large      200 with the two valid records and 24 KiB of padding (parsed on the thread pool)
  /echo       200 with one record whose `notes` is the request body it received
  /500        HTTP 500
  /badjson    200 with a body that is not JSON
  /norecords  200 with JSON lacking "records"
  /schema     200 with a third record that has no id
  /big        200 with a 2 MiB body and Content-Length
  /bigchunk   200 with a 2 MiB chunked body (no Content-Length)
  /slow       waits 3 s, then 200
  /reset      reads the request, then resets the connection
  /conn       200 with one record whose `notes` is the client's port (names the connection)
  /dropped    as /conn, then closes the connection without saying so (kept alive for curl)
"""
import json
import socket
import ssl
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD = {"records": [
    {"id": "IDN-P-000001", "type": "person", "name": "Ahmad Ismail", "dob": "1985-03-12",
     "documents": [{"kind": "passport", "number": "A12345678", "country": "MYS"}]},
    {"id": "IDN-V-000001", "type": "vessel", "name": "KM Sinar Laut",
     "vessel": {"name": "KM Sinar Laut", "imo": "9123453", "flag": "IDN"}},
]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, chunked=False):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 65536
            for i in range(0, len(data), step):
                part = data[i:i + step]
                try:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                except OSError:
                    return
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:
                pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        p = self.path
        if p == "/good":
            self.send(200, json.dumps(GOOD))
        elif p == "/large":
            self.send(200, json.dumps(dict(GOOD, pad="x" * (24 << 10))))
        elif p == "/echo":
            rec = {"id": "E1", "type": "person", "notes": body.decode(),
                   "ctype": self.headers.get("Content-Type", "")}
            self.send(200, json.dumps({"records": [rec]}))
        elif p == "/500":
            self.send(500, '{"error":"boom"}')
        elif p == "/badjson":
            self.send(200, '{"records": [ {"id": ')
        elif p == "/norecords":
            self.send(200, '{"data": []}')
        elif p == "/schema":
            recs = GOOD["records"] + [{"type": "person", "name": "No Id"}]
            self.send(200, json.dumps({"records": recs}))
        elif p == "/big":
            self.send(200, b'{"records":[],"pad":"' + b"x" * (2 << 20) + b'"}')
        elif p == "/bigchunk":
            self.send(200, b'{"records":[],"pad":"' + b"x" * (2 << 20) + b'"}', chunked=True)
        elif p == "/slow":
            time.sleep(3)
            self.send(200, json.dumps(GOOD))
        elif p in ("/conn", "/dropped"):
            rec = {"id": "C1", "type": "person", "notes": str(self.client_address[1])}
            self.send(200, json.dumps({"records": [rec]}))
            if p == "/dropped":
                self.close_connection = True
        elif p == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            self.send(404, "{}")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients abort on purpose (size caps, timeouts): not worth a traceback


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 5 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        ctx.load_verify_locations(sys.argv[4])
        ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
