#!/usr/bin/env bash
# Sanitizer builds and bounded fuzzing (issue 14; docs/operations.md, "Fuzzing and
# sanitizers"). scripts/test.sh runs it after the main suite; it can also run alone.
#
#   scripts/sanitize.sh [asan] [tsan] [fuzz]      (no argument: all three, in that order)
#
#   asan  build-asan/ (clang, -fsanitize=address,undefined, UB not recoverable): builds the
#         daemon, ingestion, flow, store and http tests and runs them; then reamd itself,
#         driven by the release build's reamd_daemon_test (ASAN_DAEMON_SUITES, below)
#   tsan  build-tsan/ (clang, -fsanitize=thread): the executor, runners, schedulers and the
#         engine core (CPU) tests
#   fuzz  every libFuzzer target of tests/fuzz (built in build-asan/) for
#         REAM_FUZZ_SECONDS (default 15) each, from its seed corpus
#
# Only the targets these need are built. The functions return instead of relying on set -e,
# which bash ignores inside a function called from `||`. Reports of every process (reamd and `ream` started
# by the tests included) go to <build>/sanitizer-logs/; any report there fails the run.
# Suppressions of third-party code: tests/sanitizers/*.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${REAM_SANITIZE_JOBS:-$(nproc)}  # parallel compile and test jobs
FUZZ_SECONDS=${REAM_FUZZ_SECONDS:-15}
stages=("$@")
((${#stages[@]})) || stages=(asan tsan fuzz)

# ASan+UBSan: every test of these test folders (the daemon libraries, reamd, ingestion;
# tests/fuzz replays each fuzz corpus), and the targets they run.
ASAN_DIRS=(tests/daemon tests/reamd tests/ingest tests/fuzz)
ASAN_TARGETS=(ream_store_test ream_pg_store_test ream_flow_test ream_plugin_host_test
  ream_executor_test ream_kill_resume_test flow_kill_helper reamd_cron_test reamd_jobs_test
  reamd_http_unit_test reamd_upstream_unit_test ingest_test fuzz_all)
# Tests left out of the ASan run (a CTest regex).
ASAN_SKIP=${REAM_ASAN_SKIP:-}
# The tests against a real reamd (label daemon: reamd_daemon_test, reamd_pg_test,
# reamd_soak_test, reamd_pg_soak_test, reamd_upstreams_test; TSan: DaemonRunners) need reamd, ream and a dozen
# large test files built once more per sanitizer, and take 30 minutes on two cores against
# a sanitized reamd: all of them run with REAM_SANITIZE_DAEMON=1. By default, to keep CI
# within its time budget (docs/operations.md, "Fuzzing and sanitizers"), only reamd is
# built with ASan+UBSan and the release build's reamd_daemon_test drives it
# (REAM_TEST_REAMD) through ASAN_DAEMON_SUITES: the path policy, auth, request limits and
# bounds, health under load, and the REST API. reamd_unit_verify (the systemd unit
# against the built reamd) is left out. Any other test of ASAN_DIRS that was not built
# fails the run, so that a test added to those folders is not silently left out.
DAEMON=${REAM_SANITIZE_DAEMON:-0}
RELEASE_DIR=${REAM_BUILD_DIR:-$ROOT/build}
ASAN_DAEMON_SUITES=${REAM_ASAN_DAEMON_SUITES:-DaemonPaths|DaemonAuth|DaemonLimits|BoundsTest|DaemonHealth|DaemonWorkflowNames|ApiTest}
if [ "$DAEMON" = 1 ]; then
  ASAN_TARGETS+=(reamd_daemon_test reamd_pg_test reamd_soak_test reamd_pg_soak_test reamd_upstreams_test reamd ream)
else
  ASAN_TARGETS+=(reamd)
  ASAN_SKIP=${ASAN_SKIP:+$ASAN_SKIP|}'^(reamd_daemon_test|reamd_pg_test|reamd_soak_test|reamd_pg_soak_test|reamd_upstreams_test)_NOT_BUILT$|^reamd_unit_verify$'
  ASAN_SKIP_LABEL=daemon
fi
# TSan: the executor, the job service's group commit and event bus, the runners (through
# the real reamd), the schedulers (engine and cron) and the engine core on the CPU backend.
TSAN_TARGETS=(ream_executor_test reamd_cron_test reamd_jobs_test engine_test scheduler_test
  block_manager_test engine_progress_test)
TSAN_SUITES='ExecutorScripted|RunnersScripted|ProgressRates|ProgressOfAJob|SchedulerTest|GroupCommit|JobEventsTest|Scheduler|BlockManager|EngineTest|EngineProgressTest'
if [ "$DAEMON" = 1 ]; then
  TSAN_TARGETS+=(reamd_daemon_test)
  TSAN_SUITES+='|DaemonRunners'
fi
TSAN_TESTS="^($TSAN_SUITES)\."
# Engine tests whose point is the numbers (batched = solo, preempted = unpreempted, chunked =
# one shot, a cache hit = cold, seeded sampling across batches): under TSan they drive the
# same scheduler and client threads as the engine tests that stay, at 12 to 70 seconds each
# (170 CPU-seconds of the stage's 280 on a 2-core machine). The release suite runs them.
TSAN_SKIP='^EngineTest\.(PreemptedRequestsFinishWithTheSameOutput|BatchedRequestsMatchSoloRuns|InteractiveRequestIsServedWithinTwoStepsOfALongBatchPrefill|SeededSamplingIsReproducibleAcrossBatching|PrefixCacheHitGivesTheColdOutput|ChunkedPrefillMatchesOneShotPrefill)$'

# To keep these builds short: unity builds of the libraries (each target's sources
# compiled as one file, so the Beast, Asio, nlohmann::json and yaml-cpp templates are
# instantiated once per library instead of once per source; test programs opt out,
# tests/CMakeLists.txt) and ASan+UBSan at -O0 (quicker to compile than -O1; the
# fuzz targets run fewer inputs a second for it); the engine keeps its own -O3. TSan at
# -O1, as its documentation recommends.
configure() {  # DIR SANITIZERS OPT [cmake args...]
  local dir=$1 san=$2 opt=$3
  shift 3
  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="$opt -gline-tables-only" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt -gline-tables-only" \
      -DCMAKE_UNITY_BUILD=ON -DREAM_CUDA=OFF -DREAM_SANITIZE="$san" "$@" >/dev/null
  fi
}

# Fails when any process wrote a sanitizer report.
check_logs() {  # DIR
  local logs=("$1"/sanitizer-logs/*)
  if [ -e "${logs[0]}" ]; then
    echo "sanitize: reports in $1/sanitizer-logs:" >&2
    for f in "${logs[@]}"; do echo "=== $f" >&2; head -c 20000 "$f" >&2; done
    return 1
  fi
}

# The release build's reamd_daemon_test, ASAN_DAEMON_SUITES only, against the ASan reamd
# of DIR (the caller has set ASAN_OPTIONS and UBSAN_OPTIONS, which reamd inherits).
run_asan_daemon_subset() {  # DIR
  local dir=$1
  if [ ! -x "$RELEASE_DIR/tests/reamd/reamd_daemon_test" ]; then
    if [ ! -f "$RELEASE_DIR/build.ninja" ]; then
      echo "sanitize: no release build in $RELEASE_DIR to drive the ASan reamd (scripts/setup.sh makes it)" >&2
      return 1
    fi
    cmake --build "$RELEASE_DIR" -j"$JOBS" --target reamd_daemon_test || return 1
  fi
  echo "sanitize: reamd (ASan+UBSan) under the release reamd_daemon_test: $ASAN_DAEMON_SUITES"
  REAM_TEST_REAMD=$dir/daemon/reamd ctest --test-dir "$RELEASE_DIR/tests/reamd" --output-on-failure \
    --no-tests=error -j"$JOBS" -R "^($ASAN_DAEMON_SUITES)\\."
}

run_asan() {
  local dir=$ROOT/build-asan
  configure "$dir" address,undefined -O0 -DREAM_FUZZ=ON
  local build_start=$SECONDS
  echo "sanitize: building the daemon, ingestion, flow, store and http tests and the fuzz targets (ASan+UBSan)"
  cmake --build "$dir" -j"$JOBS" --target "${ASAN_TARGETS[@]}" || return 1
  echo "sanitize: built in $((SECONDS - build_start)) s"
  rm -rf "$dir/sanitizer-logs" && mkdir -p "$dir/sanitizer-logs"
  export ASAN_OPTIONS="detect_leaks=1:log_path=$dir/sanitizer-logs/asan:suppressions=$ROOT/tests/sanitizers/asan.supp"
  export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$dir/sanitizer-logs/ubsan:suppressions=$ROOT/tests/sanitizers/ubsan.supp"
  local failed=0 d
  for d in "${ASAN_DIRS[@]}"; do
    ctest --test-dir "$dir/$d" --output-on-failure --no-tests=error -j"$JOBS" ${ASAN_SKIP:+-E "$ASAN_SKIP"} \
      ${ASAN_SKIP_LABEL:+-LE "$ASAN_SKIP_LABEL"} || failed=1
  done
  if [ "$DAEMON" != 1 ]; then
    run_asan_daemon_subset "$dir" || failed=1
  fi
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
  check_logs "$dir" || failed=1
  return $failed
}

run_tsan() {
  local dir=$ROOT/build-tsan
  configure "$dir" thread -O1
  local build_start=$SECONDS
  echo "sanitize: building the executor, runner, scheduler and engine tests (TSan)"
  cmake --build "$dir" -j"$JOBS" --target "${TSAN_TARGETS[@]}" || return 1
  echo "sanitize: built in $((SECONDS - build_start)) s"
  rm -rf "$dir/sanitizer-logs" && mkdir -p "$dir/sanitizer-logs"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$dir/sanitizer-logs/tsan:suppressions=$ROOT/tests/sanitizers/tsan.supp"
  local failed=0
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j"$JOBS" -R "$TSAN_TESTS" -E "$TSAN_SKIP" || failed=1
  unset TSAN_OPTIONS
  check_logs "$dir" || failed=1
  return $failed
}

# One fuzz target for FUZZ_SECONDS from its seeds; its result line goes to <work>/<t>/result.
fuzz_one() {  # BIN WORK
  local bin=$1 work=$2 t=${1##*/fuzz_} start=$SECONDS status=ok execs
  mkdir -p "$work/$t/corpus"
  ASAN_OPTIONS="detect_leaks=1:suppressions=$ROOT/tests/sanitizers/asan.supp" \
  LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$ROOT/tests/sanitizers/ubsan.supp" \
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=15 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/$t/" "$work/$t/corpus" "$ROOT/tests/fuzz/corpus/$t" \
      >"$work/$t/log" 2>&1 || status=FAILED
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)
  printf '%-16s %8d %10s %s\n' "$t" $((SECONDS - start)) "${execs:-?}" "$status" >"$work/$t/result"
}

# Every target, JOBS at a time (each libFuzzer process uses one core).
run_fuzz() {
  local dir=$ROOT/build-asan
  configure "$dir" address,undefined -O0 -DREAM_FUZZ=ON
  cmake --build "$dir" -j"$JOBS" --target fuzz_all || return 1
  local work=$dir/fuzz-work failed=0 bin t running=0
  mkdir -p "$work" && rm -f "$work"/*/result
  local targets=()
  for bin in "$dir"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] && targets+=("$bin")
  done
  ((${#targets[@]})) || { echo "sanitize: no fuzz targets in $dir/tests/fuzz" >&2; return 1; }
  echo "sanitize: fuzzing ${#targets[@]} targets for $FUZZ_SECONDS s each, $JOBS at a time"
  for bin in "${targets[@]}"; do
    if ((running >= JOBS)); then wait -n || true; running=$((running - 1)); fi
    fuzz_one "$bin" "$work" &
    running=$((running + 1))
  done
  wait
  printf '%-16s %8s %10s %s\n' target seconds execs result
  for bin in "${targets[@]}"; do
    t=${bin##*/fuzz_}
    if [ ! -f "$work/$t/result" ]; then
      echo "sanitize: fuzz_$t left no result" >&2
      failed=1
      continue
    fi
    cat "$work/$t/result"
    if ! grep -q ' ok$' "$work/$t/result"; then
      failed=1
      tail -n 60 "$work/$t/log" >&2
      echo "sanitize: fuzz_$t failed; the input is in $work/$t/ (crash-*, timeout-*, oom-*)" >&2
    fi
  done
  return $failed
}

# Sets CPU_SECONDS to the CPU time (user + system) of this shell and of every process it
# has waited for so far. Not in $(...): a subshell would count only its own.
cpu_seconds() {
  local f
  f=$(mktemp)
  times >"$f"
  CPU_SECONDS=$(awk '{ for (i = 1; i <= NF; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } }
                     END { printf "%d", s }' "$f")
  rm -f "$f"
}

failed=()
for s in "${stages[@]}"; do
  start=$SECONDS
  cpu_seconds
  cpu_start=$CPU_SECONDS
  case $s in
    asan) run_asan || failed+=(asan) ;;
    tsan) run_tsan || failed+=(tsan) ;;
    fuzz) run_fuzz || failed+=(fuzz) ;;
    *) echo "sanitize: unknown stage '$s' (asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
  cpu_seconds
  echo "sanitize: $s took $((SECONDS - start)) s, $((CPU_SECONDS - cpu_start)) CPU-s"
done
if ((${#failed[@]})); then
  echo "sanitize: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "sanitize: ${stages[*]}: clean"
