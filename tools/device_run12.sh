#!/usr/bin/env bash
# Session 6 (issue 11): the decode branch's bitwise tests (the QK-norm + RoPE + KV-store
# check fixed: its uploads raced the kernels), the Hopper (wgmma) batch-invariant large-n
# product against the mma.sync one, and what each is worth. Builds nothing: runs
# .carry/gpu (tools/pack_gpu.sh) and main's binaries in .carry/gpu/base (same call).
#
# usage (repo root, on the GPU machine): tools/device_run12.sh [tests] [gemm] [pieces] [more] [prefill] [decode]
#   tests    cuda_fused_test (fail fast: nothing else runs when it fails)
#   gemm     ream_cuda_bench gemm: cuBLAS at 8192^3; Qwen3-4B's prefill products at 4,096
#            and 8,192 tokens through the mma.sync kernel, the Hopper kernel and cuBLAS,
#            and how many outputs of the two invariant kernels differ
#   pieces   attention alone at 32K and 128K with pieces of 256, 512, 1024, 2048 keys and
#            one piece (what the batch-invariant folds cost)
#   more     the other GPU tests (kernels, attention without its 5-minute Hopper variant
#            sweep, backend, golden, constraint)
#   prefill  ream_cuda_bench prefill 131072 (invariant and fast), main's binary and this one
#   decode   ream_cuda_bench decode (batch 1 / 32 at context 512, batch 1 at 8192), main's
#            binary and this one
# Key figures to stdout; logs to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$G PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3
STAGES=${*:-tests gemm pieces more}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

run_test() {  # name timeout [gtest filter]
  local t=$1 limit=$2 filter=${3:-*}
  timeout "$limit" "$G/$t" --gtest_brief=1 --gtest_filter="$filter" > "$OUT/$t.log" 2>&1
  local rc=$?
  echo "$t rc $rc"
  grep -v "rng seed" "$OUT/$t.log" | grep -E "FAILED|PASSED|SKIPPED|Failure|differ|Expected|Which is" | head -12
  return $rc
}

for stage in $STAGES; do
  case $stage in
    tests)
      echo "== tests"
      run_test cuda_fused_test 150 || { echo "bitwise tests failed: nothing else runs"; exit 0; }
      ;;
    gemm)
      echo "== gemm"
      timeout 120 "$G/ream_cuda_bench" gemm > "$OUT/gemm.log" 2>&1; echo "rc $?"
      cat "$OUT/gemm.log"
      ;;
    pieces)
      echo "== attention pieces"
      REAM_ATTN_LENGTHS=32768,131072 REAM_ATTN_PIECES=256,512,1024,2048,0 REAM_ATTN_DEFAULT_ONLY=1 \
        timeout 200 "$G/ream_cuda_bench" attention > "$OUT/attention_pieces.log" 2>&1; echo "rc $?"
      grep -E "wgmma|failed" "$OUT/attention_pieces.log"
      ;;
    more)
      echo "== more tests"
      run_test cuda_kernels_test 90
      run_test cuda_attention_test 150 '-*HopperKernel*'
      run_test cuda_backend_test 150
      run_test cuda_golden_test 120
      run_test cuda_constraint_test 120
      ;;
    prefill|decode)
      echo "== $stage (ream_cuda_bench $stage; main's binary, then this)"
      for b in base this; do
        bin=$G/ream_cuda_bench; [ $b = base ] && bin=$G/base/ream_cuda_bench
        [ -x "$bin" ] || continue
        timeout 240 "$bin" $stage 131072 > "$OUT/${stage}_$b.log" 2>&1
        echo "-- $b (rc $?)"
        grep -E "batch_invariant|^decode|^prefill|failed" "$OUT/${stage}_$b.log" | sed 's/^/   /'
      done
      ;;
  esac
done
exit 0
