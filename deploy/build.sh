#!/usr/bin/env bash
# Builds the release binaries of every Amtsweg executable into one folder. The one way to build:
# deploy/run.sh and deploy/Dockerfile both call this.
#   deploy/build.sh [OUTPUT_DIR]     (default: .build/amtsweg-bin)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
output=${1:-"$root/.build/amtsweg-bin"}
cd "$root"

# The executables of the product (services, operator CLI, postbox sandbox). Only those the
# package defines are built, so the script works while services are still being added.
executables=(intake inbox routing notification servicekonto-bridge servicekonto-sandbox amtsweg)
defined=$(swift package describe --type json | python3 -c 'import json,sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["products"] if "executable" in p["type"]))')

built=()
for name in "${executables[@]}"; do
    if grep -qx "$name" <<<"$defined"; then built+=("$name"); fi
done
# AMTSWEG_STATIC_STDLIB=1 links the Swift runtime statically (container images need then only
# libc, libpq and libcurl).
flags=(-c release)
[ "${AMTSWEG_STATIC_STDLIB:-0}" = 1 ] && flags+=(--static-swift-stdlib)
for name in "${built[@]}"; do
    swift build "${flags[@]}" --product "$name"
done
mkdir -p "$output"
bin=$(swift build "${flags[@]}" --show-bin-path)
for name in "${built[@]}"; do
    install -m 0755 "$bin/$name" "$output/$name"
done
echo "built into $output: ${built[*]}" >&2
