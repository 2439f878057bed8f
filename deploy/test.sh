#!/usr/bin/env bash
# README command two: runs every test from a fresh clone on Debian.
# Installs missing system packages, builds, then runs the whole suite against a private
# PostgreSQL that the tests start themselves (in a temporary folder, Unix socket only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source deploy/prerequisites.sh

amtsweg_require_swift
amtsweg_install_apt_packages
amtsweg_python_env "$root"

# Every private server the tests start lives under this folder; whatever a crashed run leaves
# behind is stopped here.
export AMTSWEG_TEST_TMPDIR
AMTSWEG_TEST_TMPDIR=$(mktemp -d /tmp/amtsweg-test.XXXXXX)
chmod 1777 "$AMTSWEG_TEST_TMPDIR"
cleanup() {
    for data in "$AMTSWEG_TEST_TMPDIR"/amtsweg-pg-*/data; do
        [ -f "$data/postmaster.pid" ] || continue
        pid=$(head -1 "$data/postmaster.pid")
        kill -QUIT "$pid" 2>/dev/null || true
    done
    rm -rf "$AMTSWEG_TEST_TMPDIR"
}
trap cleanup EXIT

deploy/lint.sh

# Executables the tests start as child processes are built with the tests.
swift build --build-tests
swift test --skip-build --no-parallel "$@"
