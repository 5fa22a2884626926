#!/usr/bin/env bash
# JS client-compatibility suite: drives vexfs-unified-server with the
# unmodified @qdrant/js-client-rest from npm (version pinned in package.json /
# package-lock.json), using node's built-in test runner.
#
# Usage: bash tests/compat_js/run.sh [extra `node --test` args...]
# Env:   VEXFS_BIN   path to the server binary
#                    (default: <repo>/target/release/vexfs-unified-server)
#        VEXFS_COMPAT_KEEP_TMP=1  keep the server's temp dir
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export VEXFS_BIN="${VEXFS_BIN:-$REPO/target/release/vexfs-unified-server}"

if [[ ! -x "$VEXFS_BIN" ]]; then
    echo "compat_js/run.sh: server binary not found or not executable: $VEXFS_BIN" >&2
    echo "compat_js/run.sh: build it (cargo build --release) or set VEXFS_BIN" >&2
    exit 2
fi
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "compat_js/run.sh: $tool not found" >&2; exit 2; }
done

cd "$HERE"
# The lock may only point at the public npm registry.
if grep -n '"resolved"' package-lock.json | grep -v '"https://registry.npmjs.org/' >&2; then
    echo "compat_js/run.sh: package-lock.json resolves packages outside registry.npmjs.org" >&2
    exit 2
fi

echo "=== @qdrant/js-client-rest (node $(node --version)) against $VEXFS_BIN ==="
# engines: the client declares node>=22 but works on node 20 (tested here);
# EBADENGINE is only a warning.
npm ci --no-audit --no-fund --loglevel=error
node -e "const v=require('./node_modules/@qdrant/js-client-rest/package.json').version; \
  console.log('@qdrant/js-client-rest', v); if (!v.startsWith('1.19.')) process.exit(3)"
exec node --test --test-reporter=spec "$@" test/client.test.mjs
