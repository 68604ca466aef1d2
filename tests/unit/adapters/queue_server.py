"""A national node for test_http_queue.c: how many requests it holds at once, and
how it treats its connections.

Prints the port it listens on, then serves until killed. Every answer is 200 with one
valid record whose `notes` says something about the request. Paths:
  /hold   waits 150 ms; notes: how many requests the node held when this one arrived
          (itself included), so the test sees how many legs were in flight at once
  /slow   waits 3 s
  /holdport  waits 150 ms; notes: the client's port (which connection carried it)
  /close  notes: the client's port; the answer says `Connection: close` and the node
          closes the connection after it
  .../proxied  (an absolute URL: the node acting as the hub's HTTP proxy) notes: "proxied"
  /mixed  notes: the client's port; waits 3 s first when the request's query_id is "slow"
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
held = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, notes, close=False):
        data = json.dumps({"records": [{"id": "Q1", "type": "person", "notes": str(notes)}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass

    def do_POST(self):
        global held
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        p = self.path
        if p.startswith("http://") and p.endswith("/proxied"):
            self.answer("proxied")
        elif p == "/hold":
            with lock:
                held += 1
                now = held
            time.sleep(0.15)
            with lock:
                held -= 1
            self.answer(now)
        elif p == "/holdport":
            time.sleep(0.15)
            self.answer(self.client_address[1])
        elif p == "/slow":
            time.sleep(3)
            self.answer("slow")
        elif p == "/close":
            self.answer(self.client_address[1], close=True)
        elif p == "/mixed":
            if json.loads(body or b"{}").get("query_id") == "slow":
                time.sleep(3)
            self.answer(self.client_address[1])
        else:
            self.send_error(404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # clients abort on purpose (timeouts): not worth a traceback


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
