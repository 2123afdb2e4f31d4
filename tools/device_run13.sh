#!/usr/bin/env bash
# Session 7 (issue 11): the Hopper (wgmma) batch-invariant product's variants
# (gemm_hopper.cu: producer kCopy4 / kStaged / kStagedTmaX / kNatural16 x consumer
# wait-all / pipelined x stages),
# bitwise against the mma.sync kernel, timed beside it and cuBLAS, and profiled with ncu.
# Builds nothing: runs .carry/gpu (tools/pack_gpu.sh).
#
# usage (repo root, on the GPU machine): tools/device_run13.sh [tests] [gemm] [ncu] [prefill]
#   tests    cuda_fused_test's CudaGemm tests (every canonical variant bitwise the mma.sync kernel)
#   gemm     ream_cuda_bench gemm (every variant at 4,096 and 8,192 tokens)
#   ncu      Nsight Compute on one gate_up product (4,096 tokens), variants $NCU_VARIANTS
#   prefill  ream_cuda_bench prefill ${PREFILL_TOKENS:-32768}, invariant mode, the mma.sync
#            kernel (REAM_GEMM_LARGE=mma) and Hopper variant ${PREFILL_VARIANT:-6}
# Key figures to stdout; logs to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$G PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3
STAGES=${*:-tests gemm ncu}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

for stage in $STAGES; do
  case $stage in
    tests)
      echo "== tests"
      timeout 200 "$G/cuda_fused_test" --gtest_brief=1 --gtest_filter='CudaGemm.*' > "$OUT/cuda_fused_test.log" 2>&1
      echo "rc $?"
      grep -v "rng seed" "$OUT/cuda_fused_test.log" | grep -E "FAILED|PASSED|SKIPPED|Failure|differ|variant" | head -20
      ;;
    gemm)
      echo "== gemm"
      timeout 200 "$G/ream_cuda_bench" gemm > "$OUT/gemm.log" 2>&1; echo "rc $?"
      cat "$OUT/gemm.log"
      ;;
    ncu)
      echo "== ncu"
      for v in ${NCU_VARIANTS:-4 6}; do
        REAM_GEMM_HOPPER_VARIANT=$v timeout 150 ncu --clock-control none --kernel-name regex:gemm_hopper \
          --launch-skip 1 --launch-count 1 --section SpeedOfLight --section WarpStateStats \
          --section MemoryWorkloadAnalysis --section SchedulerStats --section ComputeWorkloadAnalysis \
          "$G/ream_cuda_bench" gemm-one > "$OUT/ncu_v$v.log" 2>&1
        echo "-- variant $v (rc $?)"
        grep -E "Duration|Throughput|Pipe|Stall|Warp Cycles|Issued|Eligible|Bank|Registers|ERR|rror" "$OUT/ncu_v$v.log" | head -40
      done
      ;;
    prefill)
      echo "== prefill ${PREFILL_TOKENS:-32768} (invariant)"
      for mode in mma hopper; do
        if [ $mode = hopper ]; then export REAM_GEMM_HOPPER_VARIANT=${PREFILL_VARIANT:-6}; else export REAM_GEMM_LARGE=mma; fi
        REAM_BENCH_INVARIANT_ONLY=1 timeout 200 "$G/ream_cuda_bench" prefill ${PREFILL_TOKENS:-32768} > "$OUT/prefill_$mode.log" 2>&1
        echo "-- $mode (rc $?)"
        grep -E "batch_invariant|^prefill|failed" "$OUT/prefill_$mode.log" | sed 's/^/   /'
        unset REAM_GEMM_LARGE REAM_GEMM_HOPPER_VARIANT
      done
      ;;
  esac
done
exit 0
