#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite with CTest.
# GPU tests (label `gpu`) skip themselves with a message where no GPU is present.
# Then, with no CTest arguments, the sanitizer builds and the bounded fuzzing of
# scripts/sanitize.sh: the daemon, ingestion, flow, store and http tests, and a sanitized
# reamd under the daemon's path, auth, limits and API tests, under ASan+UBSan, the executor, runners, schedulers and engine core under TSan, and every
# fuzz target for REAM_FUZZ_SECONDS (15) seconds (docs/operations.md, "Fuzzing and
# sanitizers"). REAM_SANITIZERS=0 leaves them out; CTest arguments (`-R Store`) run
# only that subset of the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${REAM_BUILD_DIR:-$PWD/build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
if [ $# -eq 0 ] && [ "${REAM_SANITIZERS:-1}" != 0 ]; then
  scripts/sanitize.sh
fi
