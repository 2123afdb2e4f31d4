#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite with CTest.
# GPU tests (label `gpu`) skip themselves with a message where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${REAM_BUILD_DIR:-$PWD/build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
