#!/usr/bin/env bash
# Mail benchmarks against a local aiosmtpd sink (Tests/Fixtures/smtp/smtp_server.py --no-save),
# which counts messages and connections:
#   1. transport: 5,000 e-mails straight through the Mail library's SMTP transport (libcurl,
#      one reused connection per worker thread);
#   2. end to end: 5,000 notify-email jobs on a private PostgreSQL consumed by the notification
#      handler (recipient lookup, template, SMTP), measured from consumer start to empty queue.
#
#   Benchmarks/mail/run.sh [count] [smtp-connections] [consumer-concurrency]
#
# Needs python3 with aiosmtpd (pip install aiosmtpd==1.4.6), libcurl4-openssl-dev, and
# PostgreSQL's initdb/pg_ctl for the end-to-end run (as for the tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-5000}
connections=${2:-2}
concurrency=${3:-8}
work=$(mktemp -d)
server_pid=""
stop_sink() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    server_pid=""
}
trap 'stop_sink; rm -rf "$work"' EXIT

swift build -c release --product mail-bench >/dev/null
swift build -c release --product notification-bench >/dev/null
bin=$(swift build -c release --show-bin-path)

start_sink() {
    local spool="$work/$1"
    mkdir -p "$spool"
    python3 Tests/Fixtures/smtp/smtp_server.py --spool "$spool" --no-save --stats-interval 0.2 >"$spool/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do grep -q '^LISTENING ' "$spool/server.log" 2>/dev/null && break; sleep 0.1; done
    port=$(sed -n 's/^LISTENING //p' "$spool/server.log")
    [[ -n "$port" ]] || { echo "SMTP sink did not start"; cat "$spool/server.log"; exit 1; }
}

sink_stats() {
    sleep 0.5
    python3 - "$work/$1/stats.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
print(f"sink: {stats['messages']} messages received over {stats['connections']} connection(s)")
PY
}

echo "== transport: $count e-mails, $connections SMTP connection(s), $(nproc) cores"
start_sink transport
SMTP_URL="smtp://127.0.0.1:$port" SMTP_STARTTLS=off SMTP_CONNECTIONS="$connections" "$bin/mail-bench" "$count"
sink_stats transport
stop_sink

echo "== end to end: $count notify-email jobs, consumer concurrency $concurrency, $connections SMTP connection(s)"
start_sink service
SMTP_URL="smtp://127.0.0.1:$port" SMTP_STARTTLS=off SMTP_CONNECTIONS="$connections" SMTP_FROM="noreply@erkrath.de" \
    "$bin/notification-bench" "$count" "$concurrency"
sink_stats service
stop_sink
