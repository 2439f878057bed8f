#!/usr/bin/env bash
# System load benchmark (issue 10): builds the whole package in release (the five services, the
# postbox sandbox and the `amtsweg` CLI that seeds the demo are found next to the benchmark), then
# runs `system-bench`, which starts a private durable PostgreSQL, aiosmtpd, the sandbox and the
# five services, and posts applications at the offered rates.
#
#   Benchmarks/system/run.sh [--seconds 20] [--rates 100,500,max] [--posters 64] [--connections 64]
#                            [--warmup 200] [--inbox-limit 50] [--statements] [--drain-timeout 300] [--env service:NAME=VALUE ...]
#
# Prints per rate: accepted/s, end-to-end/s, p50/p99 from intake's 201 to the inbox (long-poll),
# the e-mail and the sandbox status; CPU per process; peak RSS; PostgreSQL commits per application.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
swift build -c release >/dev/null
exec "$(swift build -c release --show-bin-path)/system-bench" "$@"
