#!/usr/bin/env bash
# HTTP benchmark: our server (Benchmarks/http/Server, the real runtime) against a Hummingbird 2
# hello-world peer (Benchmarks/peers/hummingbird-hello), same JSON endpoint, same run.
#
#   Benchmarks/http/run.sh [DURATION_SECONDS]      (default 15)
#
# Needs: wrk (apt-get install wrk), the Hummingbird 2.28.1 package reachable by SwiftPM.
# Prints requests/s and p99 for each, the ratio ours/Hummingbird, and our idle RSS.
# Targets (issue 3): ratio >= 0.8, our p99 <= 5 ms, idle RSS <= 20 MB.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DURATION="${1:-15}"
CONNECTIONS=64
THREADS=2
OUR_PORT=18090
PEER_PORT=18091
LOG_DIR="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }

echo "== building (release)"
(cd "$ROOT" && swift build -c release --product http-bench-server >"$LOG_DIR/build-ours.log" 2>&1) \
    || { cat "$LOG_DIR/build-ours.log"; exit 1; }
(cd "$ROOT/Benchmarks/peers/hummingbird-hello" && swift build -c release >"$LOG_DIR/build-peer.log" 2>&1) \
    || { cat "$LOG_DIR/build-peer.log"; exit 1; }
OURS="$(cd "$ROOT" && swift build -c release --show-bin-path)/http-bench-server"
PEER="$(cd "$ROOT/Benchmarks/peers/hummingbird-hello" && swift build -c release --show-bin-path)/hummingbird-hello"

wait_for() {
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$1/hello" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    exit 1
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

HTTP_HOST=127.0.0.1 HTTP_PORT=$OUR_PORT DATABASE_URL=postgres://bench@localhost/bench LOG_LEVEL=warning \
    "$OURS" >"$LOG_DIR/ours.log" 2>&1 &
OUR_PID=$!; PIDS+=("$OUR_PID")
"$PEER" "$PEER_PORT" >"$LOG_DIR/peer.log" 2>&1 &
PEER_PID=$!; PIDS+=("$PEER_PID")
wait_for $OUR_PORT
wait_for $PEER_PORT
sleep 0.5
IDLE_RSS=$(rss_kib "$OUR_PID")
PEER_IDLE_RSS=$(rss_kib "$PEER_PID")

echo "== response of each"
curl -si "http://127.0.0.1:$OUR_PORT/hello"; echo
curl -si "http://127.0.0.1:$PEER_PORT/hello"; echo

run_wrk() {  # port label
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"3s" "http://127.0.0.1:$1/hello" >/dev/null  # warm-up
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/hello" | tee "$LOG_DIR/$2.wrk"
}

echo "== ours: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
run_wrk $OUR_PORT ours
LOADED_RSS=$(rss_kib "$OUR_PID")
echo "== hummingbird: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
run_wrk $PEER_PORT peer

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
to_ms() {  # wrk prints 1.23ms / 456.00us / 1.20s
    awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 } else { sub(/s$/, "", v); print v * 1000 } }'
}
OUR_RPS=$(rps "$LOG_DIR/ours.wrk"); PEER_RPS=$(rps "$LOG_DIR/peer.wrk")
OUR_P99=$(to_ms "$(p99 "$LOG_DIR/ours.wrk")"); PEER_P99=$(to_ms "$(p99 "$LOG_DIR/peer.wrk")")
RATIO=$(awk -v a="$OUR_RPS" -v b="$PEER_RPS" 'BEGIN { printf "%.2f", a / b }')

echo
echo "== summary ($CONNECTIONS keep-alive connections, $THREADS wrk threads, ${DURATION}s, $(nproc) cores shared by servers and wrk)"
printf "%-14s %12s %10s\n" "server" "requests/s" "p99 (ms)"
printf "%-14s %12s %10s\n" "ours" "$OUR_RPS" "$OUR_P99"
printf "%-14s %12s %10s\n" "hummingbird" "$PEER_RPS" "$PEER_P99"
echo "ratio ours/hummingbird: $RATIO   (target >= 0.8)"
echo "our p99: $OUR_P99 ms            (target <= 5 ms)"
echo "our idle RSS: $((IDLE_RSS / 1024)) MiB ($IDLE_RSS KiB), after load: $((LOADED_RSS / 1024)) MiB   (target idle <= 20 MB)"
echo "hummingbird idle RSS: $((PEER_IDLE_RSS / 1024)) MiB"
