#!/usr/bin/env python3
"""Drives headless chromium over WebDriver (chromedriver) against a running server and checks
that /admin/dashboard shows the routes exercised here, with their counts, after refreshing.

Standard library only, so it runs on a fresh machine with nothing but Debian's chromium and
chromium-driver installed. Called by run.sh, which starts the server.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# Requests sent before the page is opened, by route label; the page must show these counts.
EXACT = {"create_collection": 1, "upsert": 4, "get_point": 6, "count": 2}
# Searches sent before the page opens; more arrive in the background while it is open.
SEARCHES_BEFORE = 5
# How long the page is watched while background load runs (the chart gets that many points).
WATCH_S = 6
# Longest wait for any one condition on the page.
WAIT_S = 20
DRIVER_START_S = 15
WINDOW = (1280, 1000)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]


def http(method, url, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Api:
    def __init__(self, base, key):
        self.base = base
        self.headers = {"api-key": key}

    def call(self, method, path, body=None, want=200):
        status, raw = http(method, self.base + path, body, self.headers)
        if status != want:
            raise SystemExit(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


def send_requests(api):
    api.call("PUT", "/collections/dash", {"vectors": {"size": 3, "distance": "Cosine"}})
    for i in range(EXACT["upsert"]):
        pts = [{"id": i * 10 + j, "vector": [1.0, i, j]} for j in range(10)]
        api.call("PUT", "/collections/dash/points?wait=true", {"points": pts})
    for i in range(EXACT["get_point"]):
        api.call("GET", f"/collections/dash/points/{i}")
    for _ in range(EXACT["count"]):
        api.call("POST", "/collections/dash/points/count", {})
    for _ in range(SEARCHES_BEFORE):
        api.call("POST", "/collections/dash/points/search", {"vector": [1, 0, 0], "limit": 3})


class Driver:
    """The few W3C WebDriver commands this check needs."""

    def __init__(self):
        exe = shutil.which("chromedriver")
        chromium = shutil.which("chromium")
        if not exe or not chromium:
            raise SystemExit("chromedriver or chromium not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.profile = tempfile.mkdtemp(prefix="vexfs-chromium-")
        self.proc = subprocess.Popen(
            [exe, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + DRIVER_START_S
        while True:
            try:
                if json.loads(http("GET", self.url + "/status", timeout=2)[1])["value"]["ready"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.time() > deadline:
                self.close()
                raise SystemExit("chromedriver did not start")
            time.sleep(0.1)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": CHROMIUM_ARGS + [f"--user-data-dir={self.profile}"],
                    },
                }
            }
        }
        self.session = None
        self.session = self.cmd("POST", "/session", caps)["sessionId"]

    def cmd(self, method, path, body=None):
        if self.session and path != "/session":
            path = f"/session/{self.session}{path}"
        status, raw = http(method, self.url + path, body if body is not None else (
            {} if method == "POST" else None), timeout=60)
        value = json.loads(raw).get("value") if raw else None
        if status != 200:
            raise SystemExit(f"webdriver {method} {path}: {status} {value}")
        return value

    def open(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": []})

    def wait(self, what, script):
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}; page status: {self.status()}")

    def status(self):
        return self.js("const s = document.getElementById('status'); "
                       "return s ? [s.className, s.textContent] : null;")

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)

    def close(self):
        try:
            if self.session:
                self.cmd("DELETE", "")
        except SystemExit:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


ROWS_JS = """
const rows = {};
for (const tr of document.querySelectorAll('#routes tbody tr')) {
  rows[tr.dataset.route] = Number(tr.dataset.count);
}
return rows;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    api = Api(args.base, args.api_key)
    send_requests(api)

    driver = Driver()
    stop = threading.Event()
    try:
        # Without the key the page loads and says why it shows no data.
        driver.open(args.base + "/admin/dashboard")
        cls, text = driver.wait(
            "the 401 message",
            "const s = document.getElementById('status');"
            "return s.className.includes('error') ? [s.className, s.textContent] : null;",
        )
        if "401" not in text or "API key" not in text:
            raise SystemExit(f"without a key the page says {text!r}")
        print(f"no key: page shows {text!r}")

        # Background searches while the page is open, so the chart has a live series.
        def load():
            while not stop.is_set():
                api.call("POST", "/collections/dash/points/search",
                         {"vector": [0, 1, 0], "limit": 3})
                time.sleep(0.02)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()

        driver.open(f"{args.base}/admin/dashboard?api_key={args.api_key}")
        rows = driver.wait(
            "the exercised routes",
            ROWS_JS.replace("return rows;", f"return {json.dumps(list(EXACT) + ['search'])}"
                            ".every(r => r in rows) ? rows : null;"),
        )
        first_status = driver.status()[1]
        # "After it refreshed": the status line names the time of the last poll.
        driver.wait("a refresh", f"return document.getElementById('status').textContent"
                                 f" !== {json.dumps(first_status)};")
        # Checked (and photographed) while the load still runs, so the rates are live.
        time.sleep(WATCH_S)
        rows = driver.js(ROWS_JS)
        cls, text = driver.status()
        if "error" in cls:
            raise SystemExit(f"page reports an error: {text!r}")
        for route, n in EXACT.items():
            if rows.get(route) != n:
                raise SystemExit(f"{route}: page shows {rows.get(route)}, sent {n}; rows {rows}")
        if rows.get("search", 0) <= SEARCHES_BEFORE:
            raise SystemExit(f"search count did not grow under load: {rows}")
        cores = driver.js("return [...document.querySelectorAll('#cores tbody tr')]"
                          ".map(tr => [...tr.cells].map(td => td.textContent));")
        if not cores:
            raise SystemExit("no per-core rows")
        legend = driver.js("return document.getElementById('legend').textContent;")
        if "search" not in legend:
            raise SystemExit(f"chart legend lacks search: {legend!r}")
        print(f"with key: status {text!r}")
        print(f"routes on the page: {rows}")
        print(f"cores on the page: {cores}")

        # The API reference page renders every operation of /openapi.json (no key needed).
        doc = json.loads(http("GET", args.base + "/openapi.json")[1])
        want = sum(len(item) for item in doc["paths"].values())
        driver.open(args.base + "/docs")
        shown = driver.wait(
            "the operations of /openapi.json",
            f"const n = document.querySelectorAll('details.op').length;"
            f"return n >= {want} ? n : null;",
        )
        error = driver.js("return document.getElementById('error').textContent;")
        if error or shown != want:
            raise SystemExit(f"/docs shows {shown} of {want} operations; error {error!r}")
        linked = driver.js(
            "const d = document.querySelector('details.op[data-op=upsert_points]');"
            "d.open = true; return [...d.querySelectorAll('a')].map(a => a.textContent);"
        )
        if "UpsertBody" not in linked:
            raise SystemExit(f"upsert_points links {linked}, not its UpsertBody schema")
        driver.screenshot(os.path.join(args.out, "docs.png"))
        print(f"/docs: {shown} operations rendered, upsert links {linked}")
    finally:
        shot = os.path.join(args.out, "admin-dashboard.png")
        try:
            driver.screenshot(shot)
            with open(os.path.join(args.out, "admin-dashboard.html"), "w") as f:
                f.write(driver.js("return document.documentElement.outerHTML;"))
            print(f"screenshot: {shot}")
        finally:
            stop.set()
            driver.close()


if __name__ == "__main__":
    sys.exit(main())
