#!/usr/bin/env bash
# Session 9 (issue 11): decode over one cached document asked several questions. Builds
# nothing: runs .carry/gpu (CUDA tests + ream_cuda_bench of branch gemm2) and
# .carry/gpu-run (tools/pack_gpu_run.sh).
#
# usage (repo root, on the GPU machine): tools/device_run16.sh C|D
#   C  every CUDA test (the shared-prefix decode groups, decode split rounds, the TMA-weights
#      product as the default), then ream_cuda_bench shared 65536 with the groups off and on
#      (7 questions over one 64K-token document; 32 over one 16K-token document) and
#      ream_cuda_bench decode (batch 1 / 32 at short context: no regression)
#   D  legal_review over the longest CUAD contract against one cold prefill (device_run14.sh)
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3 REAM_TEST_DATA_DIR=$PWD/tests/data
case ${1:-C} in
  C)
    export LD_LIBRARY_PATH=$G
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
    TESTS=("$G"/cuda_*_test)
    # QUICK=1: only the tests this branch's changes touch (attention, backend, sampling).
    [ "${QUICK:-0}" = 1 ] && TESTS=("$G"/cuda_attention_test "$G"/cuda_backend_test "$G"/cuda_sampling_test)
    for t in "${TESTS[@]}"; do
      filter='*'
      # The Hopper attention kernel's five-minute scheduling-variant sweep is left out.
      [ "$(basename "$t")" = cuda_attention_test ] && filter='-*HopperKernel*'
      [ "$(basename "$t")" = cuda_attention_test ] && [ "${QUICK:-0}" = 1 ] && filter='*Shared*:*Split*:*DecodeOnly*:*MixedBatch*'
      timeout 240 "$t" --gtest_brief=1 --gtest_filter="$filter" > "$OUT/$(basename "$t").log" 2>&1
      echo "$(basename "$t") rc $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$OUT/$(basename "$t").log" | tr '\n' ' ')"
      grep -E "Failure|FAILED  \]|differ" "$OUT/$(basename "$t").log" | head -8
    done
    for share in 0 1; do
      REAM_DECODE_SHARE=$share REAM_BENCH_INVARIANT_ONLY=1 timeout 150 "$G/ream_cuda_bench" shared 65536 \
        > "$OUT/shared_$share.log" 2>&1
      echo "shared bench, REAM_DECODE_SHARE=$share rc $?"; grep -E "^decode|failed" "$OUT/shared_$share.log"
    done
    timeout 120 "$G/ream_cuda_bench" decode > "$OUT/decode.log" 2>&1
    echo "decode rc $?"; grep -E "^decode|batch_invariant|failed" "$OUT/decode.log"
    # NCU=1: where batch-1 decode's time goes: every kernel of ~2 steps (no graphs, so ncu
    # sees each launch), duration and DRAM bytes.
    [ "${NCU:-0}" = 1 ] && REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 150 ncu --clock-control none --launch-skip 3000 \
      --launch-count 700 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
      --csv --page raw "$G/ream_cuda_bench" decode > "$OUT/ncu_decode.csv" 2>&1
    [ "${NCU:-0}" = 1 ] && { echo "ncu decode ($(wc -l < "$OUT/ncu_decode.csv") lines)";
      grep -E "^==(ERROR|WARNING)" "$OUT/ncu_decode.csv" | head -5; }
    ;;
  D)
    OUT=$OUT tools/device_run14.sh ${REPLY_TOKENS:-256}
    ;;
esac
exit 0
