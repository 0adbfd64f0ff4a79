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

# A free loopback port (fixed ones collide with whatever else runs: a daemon
# that cannot bind exits, and another's /ready would answer for it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

one() {
  local bin=$1 label=$2
  local grpc admin
  grpc=$(free_port); admin=$(free_port)
  rm -rf "$DIR/data"
  "$bin" serve --data-dir "$DIR/data" --grpc-addr "127.0.0.1:$grpc" --admin-addr "127.0.0.1:$admin" \
    > "$DIR/daemon.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    "$bin" ready --admin-addr "127.0.0.1:$admin" > /dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "$label: hotlined exited:" >&2; cat "$DIR/daemon.log" >&2; exit 1; }
    sleep 0.1
  done
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
  local w1; w1=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  local out; out=$("$BENCH" grpc-stream --target "127.0.0.1:$grpc" --count "$N" --concurrency 4)
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
