#!/bin/bash
# Foreground latency while a shard builds graphs and merges segments, and the sequential
# preload rate that triggers that work (tuning.md, "Background work").
#
# usage: bench/background_load.sh <server binary> <points> [port]
# Starts the server pinned to CPU 1 with one core on a fresh storage directory, preloads
# <points> 128-dim points with sequential `wait=true` batches of 500 (vexfs-bench on CPU 0),
# then, while the collection is still yellow, runs open-loop GET (200/s), search (20/s) and
# `wait=true` upsert of 10 points (100/s) for 8 s each, and finally waits for green.
set -u
BIN=$1; N=$2; PORT=${3:-17633}
B=${VEXFS_BENCH:-target/release/vexfs-bench}
D=$(mktemp -d /var/tmp/vexfs-bg-XXXXXX)
taskset -c 1 "$BIN" --cores 1 --port "$PORT" --storage-path "$D" > "$D.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf "$D" "$D.log"' EXIT
T=http://127.0.0.1:$PORT
for _ in $(seq 50); do curl -sf "$T/healthz" > /dev/null && break; sleep 0.2; done
status() {
  curl -s "$T/collections/vexfs_bench" | python3 -c 'import sys, json
r = json.load(sys.stdin)["result"]
print("  status", r["status"], "indexed", r["indexed_vectors_count"], "segments", r["segments_count"])'
}
latency() {
  python3 -c 'import sys, json
r = json.load(sys.stdin); l = r["latency_us"]
print("%s: %d responses, p50 %.1f ms, p99 %.1f ms, errors %d"
      % (sys.argv[1], r["responses"], l["p50"] / 1000, l["p99"] / 1000, r["errors"]))' "$1"
}
t0=$(date +%s.%N)
"$B" --target "$T" --cpus 0 --scenario get --points "$N" --keep --requests 1 --connections 1 \
  --warmup 0s --json > /dev/null 2>&1
t1=$(date +%s.%N)
python3 -c "print(f'preload $N points: {$N/($t1-$t0):.0f} points/s')"
status
run() {
  "$B" --target "$T" --cpus 0 --no-setup --keep --connections 4 --duration 8s --warmup 0s \
    --json "$@" 2> /dev/null
}
run --scenario get --rate 200 | latency "get 200/s"
status
run --scenario search --rate 20 | latency "search 20/s"
status
run --scenario upsert --wait true --batch 10 --rate 100 | latency "upsert x10 wait=true 100/s"
status
for _ in $(seq 2400); do
  curl -s "$T/collections/vexfs_bench" | grep -q '"status":"green"' && break
  sleep 0.5
done
t2=$(date +%s.%N)
python3 -c "print(f'green {$t2-$t0:.0f} s after the preload started')"
