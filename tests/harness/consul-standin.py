#!/usr/bin/env python3
"""A minimal stand-in for the Consul KV HTTP API, for tests only (loopback).

Usage: consul-standin.py PORT [--token TOKEN] [--log FILE] [--port-file FILE]

PORT 0 picks a free port; --port-file receives the port actually bound (written
atomically once the server accepts connections).  Only what backy and the
hypervisor stand-in use is implemented:

  PUT    /v1/kv/<key>[?cas=0]   body = value; cas=0 creates only (true/false)
  GET    /v1/kv/<key>[?recurse] JSON list of {Key, Value (base64), Flags,
                                CreateIndex, ModifyIndex, LockIndex}; 404 if none
  DELETE /v1/kv/<key>[?recurse] true

With --token, every request must carry the header X-Consul-Token: TOKEN, or
it gets 403.  Every request is logged as one JSON line to --log: method, path,
query, body (as text), whether a token header was present and whether it
matched, the User-Agent and the status returned.  The token value itself is
never logged, so tests can grep the log for it to prove it did not travel in
the path or the body.
"""
import argparse
import base64
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STORE = {}  # key -> (bytes value, create index, modify index)
LOCK = threading.RLock()
INDEX = [1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "consul-standin/1"

    def log_message(self, fmt, *args):  # quiet stderr
        pass

    def _log(self, status, body):
        if not self.server.logfile:
            return
        tok = self.headers.get("X-Consul-Token")
        rec = {
            "method": self.command,
            "path": self._path,
            "query": self._query,
            "body": body.decode("utf-8", "replace"),
            "token": "absent" if tok is None else ("ok" if tok == self.server.token else "wrong"),
            "agent": self.headers.get("User-Agent", ""),
            "status": status,
        }
        with LOCK:
            with open(self.server.logfile, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def _reply(self, status, payload, body=b""):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._log(status, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Consul-Index", str(INDEX[0]))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        u = urllib.parse.urlsplit(self.path)
        self._path = u.path
        self._query = u.query
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.server.token is not None and self.headers.get("X-Consul-Token") != self.server.token:
            return self._reply(403, b"Permission denied", body)
        if not u.path.startswith("/v1/kv/"):
            return self._reply(404, b"not implemented by the stand-in", body)
        key = urllib.parse.unquote(u.path[len("/v1/kv/"):])
        recurse = "recurse" in q
        with LOCK:
            if self.command == "PUT":
                if not key:
                    return self._reply(400, b"invalid key", body)
                if q.get("cas", [None])[0] == "0" and key in STORE:
                    return self._reply(200, b"false", body)
                if "cas" in q and q["cas"][0] != "0":
                    cur = STORE.get(key)
                    if not cur or str(cur[2]) != q["cas"][0]:
                        return self._reply(200, b"false", body)
                INDEX[0] += 1
                created = STORE[key][1] if key in STORE else INDEX[0]
                STORE[key] = (body, created, INDEX[0])
                return self._reply(200, b"true", body)
            if self.command == "GET":
                keys = sorted(k for k in STORE if (k.startswith(key) if recurse else k == key))
                if not keys:
                    return self._reply(404, b"", body)
                out = []
                for k in keys:
                    v, ci, mi = STORE[k]
                    out.append({"Key": k, "Value": base64.b64encode(v).decode() if v else None,
                                "Flags": 0, "CreateIndex": ci, "ModifyIndex": mi, "LockIndex": 0})
                return self._reply(200, out, body)
            if self.command == "DELETE":
                for k in [k for k in STORE if (k.startswith(key) if recurse else k == key)]:
                    del STORE[k]
                INDEX[0] += 1
                return self._reply(200, b"true", body)
        return self._reply(405, b"method not allowed", body)

    do_GET = do_PUT = do_DELETE = _handle

    def do_POST(self):
        self._handle()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--token")
    ap.add_argument("--log")
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.token = a.token
    srv.logfile = a.log
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
