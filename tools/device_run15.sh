#!/usr/bin/env bash
# Session 9 (issue 11), two calls on one warm machine. Builds nothing: runs .carry/gpu
# (tools/pack_gpu.sh, branch gemm2) and .carry/gpu-run (tools/pack_gpu_run.sh).
#
# usage (repo root, on the GPU machine): tools/device_run15.sh A|B
#   A  the TMA-weights product variants 7/8 (tools/device_run13.sh tests gemm ncu), then
#      the 131,072-token invariant prefill with variant 6 (default) and $PREFILL_VARIANTS
#   B  where batch-1 decode's time goes: Nsight Compute's duration and DRAM bytes of every
#      kernel of a few decode steps (invariant mode, context 512), then legal_review over
#      the longest CUAD contract against one cold prefill (tools/device_run14.sh)
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
case ${1:-A} in
  A)
    NCU_VARIANTS="6 7 8" OUT=$OUT tools/device_run13.sh tests gemm ncu
    echo "== prefill 131072 (invariant)"
    export LD_LIBRARY_PATH=$G
    for v in 6 ${PREFILL_VARIANTS:-7}; do
      REAM_GEMM_HOPPER_VARIANT=$v REAM_BENCH_INVARIANT_ONLY=1 timeout 120 "$G/ream_cuda_bench" prefill 131072 \
        > "$OUT/prefill_v$v.log" 2>&1
      echo "-- variant $v (rc $?)"; grep -E "batch_invariant|^prefill|failed" "$OUT/prefill_v$v.log" | sed 's/^/   /'
    done
    ;;
  B)
    export LD_LIBRARY_PATH=$G
    echo "== decode profile (batch 1, context 512, invariant)"
    REAM_BENCH_INVARIANT_ONLY=1 timeout 100 "$G/ream_cuda_bench" decode > "$OUT/decode.log" 2>&1
    echo "rc $?"; grep -E "decode|batch" "$OUT/decode.log" | head
    REAM_BENCH_INVARIANT_ONLY=1 timeout 200 ncu --clock-control none --launch-skip 4000 --launch-count 900 \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__grid_size,launch__block_size \
      --csv --page raw "$G/ream_cuda_bench" decode > "$OUT/ncu_decode.csv" 2> "$OUT/ncu_decode.err"
    echo "ncu rc $? ($(wc -l < "$OUT/ncu_decode.csv") lines)"; tail -3 "$OUT/ncu_decode.err"
    echo "== legal_review"
    OUT=$OUT tools/device_run14.sh ${REPLY_TOKENS:-256 1024}
    ;;
esac
exit 0
