#!/usr/bin/env bash
# Inbox benchmark (issue 6): builds the release `inbox-bench` and runs it; it starts its own
# PostgreSQL, seeds the applications and serves the inbox API in-process.
#
#   Benchmarks/inbox/run.sh [--rows 1000000] [--open 10000] [--areas 20] [--clients 200] [--requests 2000] [--rounds 40]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
swift build -c release --product inbox-bench >/dev/null
exec "$(swift build -c release --show-bin-path)/inbox-bench" "$@"
