#!/bin/bash
# Unary Submit latency at half of the maximum unary rate, with Kafka
# configured (BENCHMARKS.md, "Unary latency with Kafka on"): a release
# hotlined with its own tansu broker, 32 callers. First the maximum rate
# (unpaced, 5 s), then RUNS paced runs at half of it (10 s each); each run
# prints hotlined beside the no-op tonic server and the durable no-op (the
# committer alone over a store) of the same invocation. EXTRA is appended
# to the daemon's config (e.g. "[pipeline]\nbatch_wait_ms = 0").
#
#   bench/scripts/unary_latency.sh [RUNS] [EXTRA]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-2}
EXTRA=${2:-}
BIN=${HOTLINED:-$ROOT/target/release/hotlined}
BENCH=${HOTLINE_BENCH:-$ROOT/target/release/hotline-bench}
TANSU=${HOTLINE_TANSU:-$HOME/.cargo/bin/tansu}
DIR=$(mktemp -d)
trap 'kill "${TP:-}" "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
source "$(dirname "$0")/kafka_env.sh"
start_kafka ul
GRPC=$(free_port); ADMIN=$(free_port)
printf '%b\n' "$EXTRA" >> "$DIR/hotlined.toml"
"$BIN" serve --config "$DIR/hotlined.toml" --data-dir "$DIR/data" --grpc-addr "127.0.0.1:$GRPC" \
  --admin-addr "127.0.0.1:$ADMIN" > "$DIR/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  "$BIN" ready --admin-addr "127.0.0.1:$ADMIN" > /dev/null 2>&1 && break
  sleep 0.1
done
summary() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def row(name, x):
    l = x["latency_us"]
    print(f"  {name:13} {x['per_second']:9.0f}/s  p50 {l['p50']/1000:5.2f} ms  p99 {l['p99']/1000:5.2f} ms  p99.9 {l['p999']/1000:5.2f} ms  errors {x['errors']}")
print(sys.argv[2])
row("hotlined", r["subject"])
row("no-op tonic", r["baseline"])
if r.get("durable"):
    row("durable no-op", r["durable"][0])
PY
}
"$BENCH" grpc --mode unary --target "127.0.0.1:$GRPC" --duration 5 --concurrency 32 --json > "$DIR/max.json"
summary "$DIR/max.json" "maximum (unpaced, 32 callers, 5 s)"
HALF=$(python3 -c "import json; print(int(json.load(open('$DIR/max.json'))['subject']['per_second'] / 2))")
for i in $(seq 1 "$RUNS"); do
  "$BENCH" grpc --mode unary --target "127.0.0.1:$GRPC" --duration 10 --rate "$HALF" --concurrency 32 --json > "$DIR/half.json"
  summary "$DIR/half.json" "run $i: paced at $HALF/s (half), 32 callers, 10 s"
done
# Summed over the gauge's tenant labels.
echo "outbox left unpublished: $(curl -s "http://127.0.0.1:$ADMIN/metrics" | awk 'index($1, "hotline_outbox_unpublished{") == 1 {s += $2} END {print s + 0}')"
