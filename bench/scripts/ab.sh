#!/bin/bash
# Alternating A/B runs of two hotlined builds on the streaming load, each on a
# fresh data directory: the bench report (throughput, latency, ratio to the
# no-op baseline) plus the daemon's CPU time and bytes written per contact,
# read from /proc over the run. The VM's speed drifts by 10-20 % within an
# hour: compare builds within one invocation, alternating.
#
#   bench/scripts/ab.sh OLD_HOTLINED NEW_HOTLINED [PAIRS] [COUNT]
set -euo pipefail
A=${1:?old hotlined binary}; B=${2:?new hotlined binary}
PAIRS=${3:-3}; N=${4:-300000}
BENCH=${HOTLINE_BENCH:-$(dirname "$0")/../../target/release/hotline-bench}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
T=$(getconf CLK_TCK)

one() {
  local bin=$1 label=$2
  rm -rf "$DIR/data"
  "$bin" serve --data-dir "$DIR/data" --grpc-addr 127.0.0.1:50571 --admin-addr 127.0.0.1:9584 \
    > "$DIR/daemon.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    "$bin" ready --admin-addr 127.0.0.1:9584 > /dev/null 2>&1 && break
    sleep 0.1
  done
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
  local w1; w1=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  local out; out=$("$BENCH" grpc-stream --target 127.0.0.1:50571 --count "$N" --concurrency 4)
  read -r u2 s2 < <(awk '{print $14, $15}' /proc/$pid/stat)
  local w2; w2=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local rate ratio
  rate=$(echo "$out" | awk '/^  hotlined/ {print $2}')
  ratio=$(echo "$out" | awk '/^  ratio [0-9]/ {print $2; exit}')
  python3 -c "print('%-4s %12s  ratio %s  daemon CPU %.1f us/contact  written %.0f B/contact' % ('$label', '$rate', '$ratio', ((($u2-$u1)+($s2-$s1))/$T)*1e6/$N, ($w2-$w1)/$N))"
}

for _ in $(seq 1 "$PAIRS"); do
  one "$A" old
  one "$B" new
done
