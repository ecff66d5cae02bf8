#!/usr/bin/env bash
# Configures and builds one CMake preset (default: ci) and prints how long the build took.
# Usage: scripts/build.sh [preset] [extra cmake --build args]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-ci}"
shift || true
start=$(date +%s)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" "$@"
echo "build ($preset): $(( $(date +%s) - start )) s on $(nproc) cores"
