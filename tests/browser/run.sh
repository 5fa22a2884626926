#!/usr/bin/env bash
# The admin dashboard in a real browser: installs Debian's chromium + chromium-driver if
# missing, starts the server with an API key, sends a few requests of several kinds, opens
# /admin/dashboard?api_key=… in headless chromium (driven over WebDriver by check.py, Python
# standard library only), waits until the page has refreshed and shows those routes with the
# right counts, and saves a screenshot; then opens /docs and checks it renders every operation of
# /openapi.json.
#
# Usage: bash tests/browser/run.sh
# Env:   VEXFS_BIN        server binary (default: <repo>/target/release/vexfs-unified-server)
#        BROWSER_OUT_DIR  where the screenshot and the DOM go (default: <repo>/target/browser)
#        PYTHON           interpreter for check.py (default: python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VEXFS_BIN="${VEXFS_BIN:-$REPO/target/release/vexfs-unified-server}"
OUT_DIR="${BROWSER_OUT_DIR:-$REPO/target/browser}"
PYTHON="${PYTHON:-python3}"
API_KEY="browser-test-key"
# Seconds the server gets to answer /readyz.
READY_TIMEOUT_S=20

if [[ ! -x "$VEXFS_BIN" ]]; then
    echo "run.sh: server binary not found: $VEXFS_BIN (cargo build --release or set VEXFS_BIN)" >&2
    exit 2
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "=== installing chromium and chromium-driver from the Debian archive"
    SUDO=""
    [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # No recommends (they pull in desktop services); one font so text renders at all.
    $SUDO apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-dejavu-core >/dev/null
fi

mkdir -p "$OUT_DIR"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$WORK/config.toml" <<TOML
[server]
host = "127.0.0.1"
port = $PORT
[storage]
path = "$WORK/storage"
[runtime]
io_memory_kib = 1024
[service]
api_key = "$API_KEY"
TOML
"$VEXFS_BIN" --config "$WORK/config.toml" 2>"$WORK/server.log" &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
for _ in $(seq $((READY_TIMEOUT_S * 10))); do
    curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$BASE/readyz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

echo "=== dashboard in headless chromium against $BASE"
"$PYTHON" "$HERE/check.py" --base "$BASE" --api-key "$API_KEY" --out "$OUT_DIR"
