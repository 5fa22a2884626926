#!/usr/bin/env bash
# Fuzz smoke run for CI: each libFuzzer target of the HTTP layer for a short, bounded time,
# seeded from the malformed-input corpus. Installs cargo-fuzz when missing. Any crash fails
# the run (its input is left under tests/fuzz/artifacts/<target>/). Longer runs: README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SECONDS_PER_TARGET="${FUZZ_SECONDS_PER_TARGET:-20}"
TARGETS=(http_head http_reader chunked)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
# cargo-fuzz passes nightly-only flags (sanitizers); the stable compiler accepts them this way.
export RUSTC_BOOTSTRAP=1
cargo fuzz build --fuzz-dir tests/fuzz -O
for t in "${TARGETS[@]}"; do
    work="target/fuzz-corpus/$t"
    mkdir -p "$work"
    echo "=== fuzz $t for ${SECONDS_PER_TARGET}s"
    cargo fuzz run --fuzz-dir tests/fuzz -O "$t" "$work" tests/corpus/http -- \
        -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -print_final_stats=1 2>&1 \
        | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" || true
    # libFuzzer exits non-zero on a crash; pipefail would have stopped us, but make it explicit.
    if compgen -G "tests/fuzz/artifacts/$t/*" >/dev/null; then
        echo "fuzz $t: crash inputs in tests/fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
echo "fuzz smoke: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET}s each, no crash"
