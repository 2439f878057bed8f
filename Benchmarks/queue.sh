#!/usr/bin/env bash
# Queue benchmark: our PostgreSQL queue and pgqueuer (PyPI) on the same private server, one run.
#   Benchmarks/queue.sh [queue-bench options, e.g. --jobs 100000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source deploy/prerequisites.sh
amtsweg_require_swift
amtsweg_install_apt_packages
venv="$root/.build/pgqueuer-venv"
[ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r Benchmarks/pgqueuer/requirements.txt
swift build -c release --product queue-bench
export AMTSWEG_TEST_TMPDIR=${AMTSWEG_TEST_TMPDIR:-/tmp/amtsweg-bench}
mkdir -p "$AMTSWEG_TEST_TMPDIR"
.build/release/queue-bench --pgqueuer-python "$venv/bin/python3" "$@"
