#!/usr/bin/env bash
# Intake benchmark (issue 4): builds the release `intake` and `intake-bench`, then runs the bench,
# which starts its own durable PostgreSQL and the intake service.
#
#   Benchmarks/intake/run.sh [--seconds 15] [--connections 32] [--rate 1000]
#
# Prints applications accepted per second (small form, no attachments, keep-alive), latency
# p50/p99 at a fixed 1,000/s, and the time and peak RSS of one upload with 20 MiB of attachments.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
swift build -c release --product intake >/dev/null
swift build -c release --product intake-bench >/dev/null
exec "$(swift build -c release --show-bin-path)/intake-bench" "$@"
