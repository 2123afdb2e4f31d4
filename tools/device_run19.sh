#!/usr/bin/env bash
# Session 13 (issue 11): where a prefill's time goes outside attention, and the
# batch-invariant product with the roles of its operands swapped (the weights as wgmma's
# register operand, x from shared memory in the canonical slot order). Builds nothing.
#
# usage (repo root, on the GPU machine): tools/device_run19.sh F|R|G ...
#   F  session 12's final checks (tools/device_run18.sh F): kernels with the streaming
#      product's blocks capped, attention (Hopper variants), backend, stream-probe, Nsight
#      Compute on four streaming products
#   R  Nsight Compute, time per kernel, over a whole 16,384-token prefill (two 8,192-token
#      chunks, graphs off): the products, attention and the rest, summed per kernel
#   S  the softmax's row max and row sum as trees: attention tests (every Hopper variant
#      bitwise the mma.sync kernel, chunking, mixed batches), then ream_cuda_bench attention
#      (the default variant, 8K/32K/128K) with the build before (.carry/gpu/base) and this
#      one alternating twice
#   Q  Nsight Compute, full set, on one swapped product (gate_up at 4,096 tokens, variant
#      GEMM_VARIANT, default 10): what bounds it (L2 and shared-memory throughput, tensor
#      pipe, stalls)
#   G  the swapped-operand product: the fused test (every variant bitwise the mma.sync
#      kernel), ream_cuda_bench gemm (every variant beside cuBLAS), then prefill 131072 with
#      the variants GEMM_VARIANTS (default "8 10") alternating, ROUNDS times (default 2);
#      stage F runs the kernels and backend tests
cd "$(dirname "$0")/.."
. tools/device_common.sh
bench() {  # NAME ARGS...: one ream_cuda_bench run, its result lines
  local name=$1; shift
  REAM_BENCH_INVARIANT_ONLY=1 timeout 240 "$G/ream_cuda_bench" "$@" > "$OUT/$name.log" 2>&1
  echo "$name rc $?"; grep -E "^prefill|^decode|TFLOP|failed" "$OUT/$name.log"
}
for stage in "$@"; do
  case $stage in
    F)
      OUT=$OUT/F tools/device_run18.sh F
      ;;
    R)
      REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 300 ncu --clock-control none --cache-control none \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --page raw \
        "$G/ream_cuda_bench" prefill 16384 > "$OUT/ncu_prefill16k.csv" 2> "$OUT/ncu_prefill16k.err"
      echo "ncu prefill rc $?"; python3 tools/ncu_summary.py "$OUT/ncu_prefill16k.csv" | tee "$OUT/ncu_prefill16k.txt"
      ;;
    S)
      gtest attention cuda_attention_test '*Hopper*:*MixedBatch*:*Chunking*:*Shared*:*Split*' 300
      for r in 1 2; do
        for b in base new; do
          bin=$G/ream_cuda_bench; [ $b = base ] && bin=$G/base/ream_cuda_bench
          REAM_ATTN_LENGTHS=8192,32768,131072 REAM_ATTN_PIECES=256 REAM_ATTN_DEFAULT_ONLY=1 timeout 120 "$bin" attention \
            > "$OUT/attention_${b}_$r.log" 2>&1
          echo "attention $b $r rc $?"; grep -E "wgmma|failed" "$OUT/attention_${b}_$r.log" | sed 's/ (chunks of 8192, pieces of 256)//'
        done
      done
      ;;
    Q)
      REAM_GEMM_HOPPER_VARIANT=${GEMM_VARIANT:-10} timeout 240 ncu --clock-control none --set full -k regex:gemm_swap \
        --launch-skip 1 --launch-count 1 "$G/ream_cuda_bench" gemm-one > "$OUT/ncu_gemm.txt" 2>&1
      echo "ncu gemm rc $?"
      grep -E "Duration|Throughput|Pipe|Stall|Issued|Eligible|Bank|Registers|Achieved|L2 Hit|ERR|rror" \
        "$OUT/ncu_gemm.txt" | head -60
      ;;
    G)
      gtest fused cuda_fused_test '*' 300
      REAM_BENCH_INVARIANT_ONLY=1 timeout 240 "$G/ream_cuda_bench" gemm > "$OUT/gemm.log" 2>&1
      echo "gemm rc $?"; grep -E "cuBLAS|(hopper(8|1[0-5])|cublas|mma) .*TFLOP|differ|failed" "$OUT/gemm.log" | grep -v " 0 of "
      for r in $(seq 1 ${ROUNDS:-2}); do
        for v in ${GEMM_VARIANTS:-8 10}; do
          REAM_GEMM_HOPPER_VARIANT=$v bench prefill_g${v}_$r prefill 131072
        done
      done
      ;;
    *) echo "unknown stage $stage" >&2 ;;
  esac
done
pack_results
exit 0
