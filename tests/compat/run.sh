#!/usr/bin/env bash
# Client-compatibility suite: runs the unmodified Python qdrant-client from PyPI
# against vexfs-unified-server, once with a current client (new) and once with
# an older client that still uses the legacy /points/search endpoint (old).
#
# Usage: bash tests/compat/run.sh [extra pytest args...]
# Env:   VEXFS_BIN   path to the server binary
#                    (default: <repo>/target/release/vexfs-unified-server)
#        COMPAT_FLAVORS  space-separated subset of "new old" (default: both)
#        PYTHON      python interpreter used to create venvs (default: python3)
#        COMPAT_SKIP_JS=1  skip the final JS client step (tests/compat_js/run.sh)
#        QDRANT_OPENAPI_DIR  Qdrant OpenAPI files for test_schema.py
#                    (default: <repo>/../shared/qdrant)
#
# Besides the client flows, test_schema.py validates every response against
# Qdrant's published OpenAPI document; it runs in each flavor.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
export VEXFS_BIN="${VEXFS_BIN:-$REPO/target/release/vexfs-unified-server}"
FLAVORS="${COMPAT_FLAVORS:-new old}"

NEW_VERSION="1.20.0"
OLD_VERSION="1.12.2"

if [[ ! -x "$VEXFS_BIN" ]]; then
    echo "run.sh: server binary not found or not executable: $VEXFS_BIN" >&2
    echo "run.sh: build it (cargo build --release) or set VEXFS_BIN" >&2
    exit 2
fi

ensure_venv() {
    # $1 = qdrant-client version; prints the venv directory
    local version="$1"
    local venv="$REPO/target/compat-venv/$version"
    local stamp="$venv/.compat-installed"
    local want="qdrant-client==$version pytest numpy jsonschema>=4.18 cryptography"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
        echo "$venv"
        return 0
    fi
    echo "run.sh: creating venv $venv ($want)" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$PYTHON" -m venv "$venv" >&2
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q --disable-pip-version-check $want >&2
    "$venv/bin/python" -c "import qdrant_client, numpy, pytest, jsonschema, referencing, cryptography" >&2
    echo "$want" > "$stamp"
    echo "$venv"
}

status=0
summary=()
for flavor in $FLAVORS; do
    case "$flavor" in
        new) version="$NEW_VERSION" ;;
        old) version="$OLD_VERSION" ;;
        *) echo "run.sh: unknown flavor '$flavor'" >&2; exit 2 ;;
    esac
    venv="$(ensure_venv "$version")"
    echo "=== qdrant-client $version (flavor=$flavor) against $VEXFS_BIN ==="
    set +e
    QDRANT_CLIENT_FLAVOR="$flavor" QDRANT_CLIENT_VERSION="$version" \
        "$venv/bin/python" -m pytest "$HERE" -p no:cacheprovider -ra "$@"
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        status=1
        summary+=("qdrant-client $version ($flavor): FAILED (pytest exit $rc)")
    else
        summary+=("qdrant-client $version ($flavor): ok")
    fi
done

if [[ "${COMPAT_SKIP_JS:-0}" != "1" ]]; then
    set +e
    bash "$REPO/tests/compat_js/run.sh"
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        status=1
        summary+=("@qdrant/js-client-rest (tests/compat_js): FAILED (exit $rc)")
    else
        summary+=("@qdrant/js-client-rest (tests/compat_js): ok")
    fi
else
    summary+=("@qdrant/js-client-rest (tests/compat_js): skipped (COMPAT_SKIP_JS=1)")
fi

echo "=== compat summary ==="
for line in "${summary[@]}"; do echo "$line"; done
exit $status
