"""A fake remote fedbroker hub for test_broker.c: canned /v1/search answers.

Prints the port it listens on, then serves until killed. The adapter posts to
{url}/v1/search, so the test picks the answer with the url's path: a url of
http://127.0.0.1:PORT/shared makes the adapter POST /shared/v1/search.
  /shared    BGD shared: two BGD records in two results, one IDN record to ignore
  /echo      BGD shared: one record whose notes is the request body, `auth` the
             Authorization header and `conn` a serial number of the TCP connection
  /denied    BGD denied (rule no_informal)
  /hitonly   BGD hit_only
  /missing   no BGD entry in states[]
  /badrecord BGD shared, but a BGD record has no id
  /nostate   BGD shared, but a record has no state
  /401       401 with the hub's error body
  /badjson   200 with a body that is not JSON
  /slow      waits 3 s, then /shared's answer
"""
import itertools
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REC1 = {"state": "BGD", "id": "BGD-P-000001", "type": "person", "name": "Ahmad Ismail",
        "dob": "1985", "redacted": ["dob", "address"]}
REC2 = {"state": "BGD", "id": "BGD-V-000002", "type": "vessel", "name": "KM Sinar Laut",
        "vessel": {"name": "KM Sinar Laut", "imo": "9123453", "flag": "BGD"}}
OTHER = {"state": "IDN", "id": "IDN-P-000009", "type": "person", "name": "Ahmad Ismail"}


def answer(bgd_state, results):
    return {"query_id": "q-remote", "complete": True,
            "states": [{"state": "IDN", "outcome": "shared", "records": 1, "redacted": 0,
                        "rule": "ok"}] + ([bgd_state] if bgd_state else []),
            "results": results, "audit": {"seq": 1, "hash": "00"}}


SHARED = {"state": "BGD", "outcome": "shared", "records": 2, "redacted": 2, "rule": "treaty"}
GOOD = answer(SHARED, [
    {"entity": "e1", "score": 0.9, "match": ["name"], "records": [OTHER, REC1]},
    {"entity": "e2", "score": 0.5, "match": [], "records": [REC2]},
])
conn_ids = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(conn_ids)

    def log_message(self, *args):
        pass

    def send(self, code, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
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
        if not p.endswith("/v1/search"):
            return self.send(404, {"error": {"code": "not_found", "message": "No such path."}})
        p = p[: -len("/v1/search")]
        if p == "/shared":
            self.send(200, GOOD)
        elif p == "/echo":
            rec = {"state": "BGD", "id": "E1", "type": "person", "notes": body.decode(),
                   "auth": self.headers.get("Authorization", ""),
                   "ctype": self.headers.get("Content-Type", ""), "conn": self.conn_id}
            self.send(200, answer(SHARED, [{"entity": "e1", "score": 1, "match": [], "records": [rec]}]))
        elif p == "/denied":
            self.send(200, answer({"state": "BGD", "outcome": "denied", "rule": "no_informal",
                                   "reason": "No informal channel.", "contact": None}, []))
        elif p == "/hitonly":
            self.send(200, answer({"state": "BGD", "outcome": "hit_only", "records": 3,
                                   "rule": "hit_only_routine"}, []))
        elif p == "/missing":
            self.send(200, answer(None, [{"entity": "e1", "score": 1, "match": [], "records": [OTHER]}]))
        elif p == "/badrecord":
            bad = {"state": "BGD", "type": "person", "name": "No Id"}
            self.send(200, answer(SHARED, [{"entity": "e1", "score": 1, "match": [], "records": [REC1, bad]}]))
        elif p == "/nostate":
            bad = {"id": "X1", "type": "person"}
            self.send(200, answer(SHARED, [{"entity": "e1", "score": 1, "match": [], "records": [bad]}]))
        elif p == "/401":
            self.send(401, {"error": {"code": "unauthorized", "message": "The bearer token has expired."}})
        elif p == "/badjson":
            self.send(200, '{"states": [')
        elif p == "/slow":
            time.sleep(3)
            self.send(200, GOOD)
        else:
            self.send(404, {"error": {"code": "not_found", "message": "No such path."}})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients abort on purpose (timeouts, cancels)


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
