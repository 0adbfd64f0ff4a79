#!/bin/bash
# The outbox under a broker outage (BENCHMARKS.md, "The outbox under a
# broker outage"): a release hotlined with Kafka configured takes COUNT
# contacts over a gRPC stream while its tansu broker is stopped (SIGSTOP),
# then the broker resumes (SIGCONT) and the time until the outbox is empty
# gives the backlog's publish rate.
#
#   bench/scripts/outbox_backlog.sh [COUNT]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-50000}
BIN=${HOTLINED:-$ROOT/target/release/hotlined}
BENCH=${HOTLINE_BENCH:-$ROOT/target/release/hotline-bench}
TANSU=${HOTLINE_TANSU:-$HOME/.cargo/bin/tansu}
DIR=$(mktemp -d)
trap 'kill -CONT "${TP:-}" 2>/dev/null || true; kill "${TP:-}" "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
source "$(dirname "$0")/kafka_env.sh"
start_kafka ob
"$BIN" serve --config "$DIR/hotlined.toml" --data-dir "$DIR/data" --grpc-addr 127.0.0.1:50591 \
  --admin-addr 127.0.0.1:9595 > "$DIR/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  "$BIN" ready --admin-addr 127.0.0.1:9595 > /dev/null 2>&1 && break
  sleep 0.1
done
# A gauge's value summed over its labels (the outbox gauges are per tenant).
metric() { curl -s http://127.0.0.1:9595/metrics | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2; n++} END {if (n) print s}'; }
kill -STOP "$TP"
"$BENCH" grpc --mode stream --target 127.0.0.1:50591 --count "$N" --concurrency 4 --json > "$DIR/intake.json"
python3 - "$DIR/intake.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["subject"]
print(f"intake with the broker stopped: {r['per_second']:.0f} contacts/s, p99 {r['latency_us']['p99']} us, {r['errors']} errors")
PY
sleep 1
rows=$(metric hotline_outbox_unpublished); age=$(metric hotline_outbox_oldest_age_seconds)
echo "backlog at SIGCONT: $rows rows, oldest $age s"
start=$(date +%s.%N)
kill -CONT "$TP"
while :; do
  left=$(metric hotline_outbox_unpublished)
  [ "${left%.*}" = "0" ] && break
  sleep 0.1
done
end=$(date +%s.%N)
python3 -c "s=$end-$start; print(f'published {int(float($rows))} rows in {s:.1f} s: {float($rows)/s:.0f} rows/s')"
