"""Sparse search timing through HTTP (not a test): starts the server binary, upserts N random
sparse points (40 non-zeros over a 30 000-word vocabulary) in batches of 1000, then times 300
sequential `points/query` calls of 20 terms on one keep-alive connection (TCP_NODELAY).

Usage: VEXFS_BIN=<binary> MOD=none|idf N=50000 python3 tests/compat/bench_sparse_http.py
"""

import http.client
import json
import os
import random
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    port, storage = free_port(), tempfile.mkdtemp()
    srv = subprocess.Popen([os.environ["VEXFS_BIN"], "--host", "127.0.0.1", "--port", str(port),
                            "--storage-path", storage + "/s", "--cores", "2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(method, path, body=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    try:
        for _ in range(100):
            try:
                call("GET", "/readyz")
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        modifier, n = os.environ.get("MOD", "idf"), int(os.environ.get("N", "50000"))
        call("PUT", "/collections/b", {"sparse_vectors": {"s": {"modifier": modifier}}})
        rng = random.Random(1)

        def sv(k):
            idx = sorted(rng.sample(range(30000), k))
            return {"indices": idx, "values": [rng.random() for _ in idx]}

        t = time.time()
        for start in range(0, n, 1000):
            call("PUT", "/collections/b/points?wait=true",
                 {"points": [{"id": i, "vector": {"s": sv(40)}}
                             for i in range(start, min(n, start + 1000))]})
        upsert = time.time() - t
        queries = [sv(20) for _ in range(300)]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = time.time()
        for q in queries:
            conn.request("POST", "/collections/b/points/query",
                         body=json.dumps({"query": q, "using": "s", "limit": 10}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200
            r.read()
        took = time.time() - t
        print(f"{n} points x 40 nnz (vocab 30000, modifier {modifier}): upsert "
              f"{n / upsert:.0f} points/s; 300 queries of 20 terms: {300 / took:.0f} q/s, "
              f"{took / 300 * 1000:.2f} ms each")
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
