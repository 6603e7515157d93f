#!/usr/bin/env python3
"""etcd_standin.py PORT SCENARIO -- a STAND-IN for etcd's HTTP endpoints.

Not etcd: a plain-HTTP server on 127.0.0.1:PORT answering the requests the
agent's etcd source makes, with canned bodies in the formats etcd documents,
for what the real etcd installed here (Debian's 3.4.23) cannot show:

  v35-unready  etcd 3.5.13: /livez and /readyz?verbose (Kubernetes healthz
               format) with a failing readyz check, a CORRUPT alarm written
               as the enum's number, no leader, two members (one a learner
               without a name yet), an empty masterleases range, and a
               /metrics page whose disk histograms have slow operations.
               /health answers 500: the agent must not ask it on 3.5.11+.
  dies         etcd 3.4.23 whose /version answers and whose every other
               request has the connection closed without an answer.

Every request line is printed to stdout (the harness log), flushed.
"""
import http.server
import json
import sys

SCENARIO = sys.argv[2]

METRICS = """# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 10
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.064"} 60
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.128"} 90
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.256"} 99
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 100
etcd_disk_wal_fsync_duration_seconds_sum 7.5
etcd_disk_wal_fsync_duration_seconds_count 100
# HELP etcd_disk_backend_commit_duration_seconds The latency distributions of commit called by backend.
# TYPE etcd_disk_backend_commit_duration_seconds histogram
etcd_disk_backend_commit_duration_seconds_bucket{le="0.128"} 30
etcd_disk_backend_commit_duration_seconds_bucket{le="+Inf"} 40
etcd_disk_backend_commit_duration_seconds_sum 9.1
etcd_disk_backend_commit_duration_seconds_count 40
"""

HEADER = {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
          "raft_term": "7"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as etcd's Go server

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, method):
        print(method, self.path, flush=True)
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path == "/version":
            server = "3.5.13" if SCENARIO == "v35-unready" else "3.4.23"
            return self.send(200, json.dumps({"etcdserver": server,
                                              "etcdcluster": server[:3] + ".0"}))
        if SCENARIO == "dies":
            self.close_connection = True
            return None
        if self.path == "/health":
            return self.send(500, "stand-in: /health must not be asked of 3.5.13\n",
                             "text/plain")
        if self.path == "/livez?verbose":
            return self.send(200, "[+]serializable_read ok\nok\n", "text/plain")
        if self.path == "/readyz?verbose":
            return self.send(503, "[+]data_corruption ok\n[+]serializable_read ok\n"
                             "[-]linearizable_read failed: etcdserver: leader changed\n"
                             "readyz check failed\n", "text/plain")
        if self.path == "/v3/maintenance/alarm":
            return self.send(200, json.dumps({"header": HEADER, "alarms": [
                {"memberID": "10276657743932975437", "alarm": 2}]}))
        if self.path == "/v3/maintenance/status":
            return self.send(200, json.dumps({"header": HEADER, "version": "3.5.13",
                                              "dbSize": "4096", "raftIndex": "12",
                                              "raftTerm": "7"}))
        if self.path == "/v3/cluster/member/list":
            return self.send(200, json.dumps({"header": HEADER, "members": [
                {"ID": "10276657743932975437", "name": "pi-master1",
                 "peerURLs": ["https://192.168.1.10:2380"],
                 "clientURLs": ["https://192.168.1.10:2379"]},
                {"ID": "1", "peerURLs": ["https://192.168.1.11:2380"], "isLearner": True}]}))
        if self.path == "/v3/kv/range":
            return self.send(200, json.dumps({"header": HEADER}))
        if self.path == "/metrics":
            return self.send(200, METRICS, "text/plain; version=0.0.4")
        return self.send(404, "404 page not found\n", "text/plain")

    def do_GET(self):
        self.answer("GET")

    def do_POST(self):
        self.answer("POST")


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
