#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite with CTest.
# GPU tests (label `gpu`) skip themselves with a message where no GPU is present.
# With REAM_SANITIZERS=1 (and no CTest arguments), then the sanitizer builds and the
# bounded fuzzing of scripts/sanitize.sh: the daemon, ingestion, flow, store and http
# tests under ASan+UBSan, the executor, runners, schedulers and engine core under TSan,
# and every fuzz target for REAM_FUZZ_SECONDS (15) seconds. Not by default: on the
# 2-core CI machine the sanitizer builds alone would take the suite past its time budget
# (docs/operations.md, "Fuzzing and sanitizers").
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${REAM_BUILD_DIR:-$PWD/build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
if [ $# -eq 0 ] && [ "${REAM_SANITIZERS:-0}" = 1 ]; then
  scripts/sanitize.sh
fi
