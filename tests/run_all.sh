#!/usr/bin/env bash
# Every test of the project, on a fresh machine: Rust unit and integration tests (the latter
# start the real binary on loopback), the admin dashboard in headless chromium (apt-installs
# chromium if missing), the Python qdrant-client compatibility suite (creates its own venvs
# under target/ and installs the clients from PyPI) and the JS client, then a one-minute fuzz
# smoke run of the HTTP parser (cargo-fuzz, installed if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "=== cargo build --release"
cargo build --release --locked --bin vexfs-unified-server

echo "=== cargo test (unit + integration, release profile: same binary the clients test)"
cargo test --release --locked --workspace

echo "=== admin dashboard in headless chromium (installs Debian's chromium if missing)"
VEXFS_BIN="$PWD/target/release/vexfs-unified-server" bash tests/browser/run.sh

echo "=== qdrant-client compatibility"
VEXFS_BIN="$PWD/target/release/vexfs-unified-server" bash tests/compat/run.sh

echo "=== fuzz smoke run of the HTTP parser (installs cargo-fuzz if missing; 20 s per target)"
bash tests/fuzz/smoke.sh
