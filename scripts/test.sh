#!/usr/bin/env bash
# README command (2): installs dependencies, builds once, runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh ci
ctest --preset ci "$@"
