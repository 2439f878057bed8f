#!/usr/bin/env bash
# Mail benchmark: 5,000 notification e-mails (default) through the Mail library's SMTP
# transport (libcurl, one reused connection per worker thread) to a local aiosmtpd sink that
# counts messages and connections without saving them.
#
#   Benchmarks/mail/run.sh [count] [connections]
#
# Needs python3 with aiosmtpd (pip install aiosmtpd) and libcurl4-openssl-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-5000}
connections=${2:-1}
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

swift build -c release --product mail-bench >/dev/null
bin=$(swift build -c release --show-bin-path)

python3 Tests/Fixtures/smtp/smtp_server.py --spool "$work" --no-save --stats-interval 0.2 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q '^LISTENING ' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^LISTENING //p' "$work/server.log")
[[ -n "$port" ]] || { echo "SMTP sink did not start"; cat "$work/server.log"; exit 1; }

echo "mail-bench: $count messages, $connections connection(s), aiosmtpd sink on port $port"
SMTP_URL="smtp://127.0.0.1:$port" SMTP_STARTTLS=off SMTP_CONNECTIONS="$connections" "$bin/mail-bench" "$count"
sleep 0.5
python3 - "$work/stats.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
print(f"server: {stats['messages']} messages received over {stats['connections']} connection(s)")
PY
