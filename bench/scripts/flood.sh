#!/bin/bash
# Floods a fresh release hotlined (bench/scripts/flood.py) while a paced
# client submits, and prints that client's p99 before and during the flood
# and the daemon's memory (BENCHMARKS.md, "Floods").
#
#   bench/scripts/flood.sh [HOTLINED] [RATE] [SECONDS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/target/release/hotlined}
RATE=${2:-500}; SECS=${3:-20}
BENCH=${HOTLINE_BENCH:-$ROOT/target/release/hotline-bench}
PY=${PYTHON:-$ROOT/target/pyenv/bin/python}
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
# Many descriptors: the flood opens more connections than the daemon keeps.
ulimit -n 8192
"$BIN" serve --data-dir "$DIR/data" --grpc-addr 127.0.0.1:50581 --admin-addr 127.0.0.1:9591 \
  > "$DIR/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  "$BIN" ready --admin-addr 127.0.0.1:9591 > /dev/null 2>&1 && break
  sleep 0.1
done
"$PY" "$ROOT/bench/scripts/flood.py" --target 127.0.0.1:50581 --pid "$PID" --bench "$BENCH" \
  --rate "$RATE" --seconds "$SECS"
echo "connections closed by reason:"
curl -s http://127.0.0.1:9591/metrics | grep '^hotline_connections_closed_total' || true
