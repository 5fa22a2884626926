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
    local want="qdrant-client==$version pytest numpy"
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
    "$venv/bin/python" -c "import qdrant_client, numpy, pytest" >&2
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

echo "=== compat summary ==="
for line in "${summary[@]}"; do echo "$line"; done
exit $status
