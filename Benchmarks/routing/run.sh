#!/usr/bin/env bash
# Routing benchmark (issue 5), one run on a private durable PostgreSQL:
#   Benchmarks/routing/run.sh [--applications 10000] [--rate 200] [--seconds 15] [--concurrency 4] [--batch 50]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
swift build -c release --product routing-bench
export AMTSWEG_TEST_TMPDIR=${AMTSWEG_TEST_TMPDIR:-/tmp/amtsweg-bench}
mkdir -p "$AMTSWEG_TEST_TMPDIR"
.build/release/routing-bench "$@"
