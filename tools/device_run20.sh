#!/usr/bin/env bash
# Session 16 (issue 11): decode products that ask the L2 cache for the next products'
# weights once their own are loaded (engine/src/cuda/l2_prefetch.cuh; REAM_L2_PREFETCH="A,N"
# MiB, A after the QKV product for the attention window, N after the others). Builds nothing.
#
# usage (repo root, on the GPU machine): tools/device_run20.sh P|T|A|X ...
#   P  ream_cuda_bench decode (batch 1 at 512 and 8,192, batch 32 at 512; invariant) with
#      each setting of PREFETCH_SETTINGS (default below), alternating, ROUNDS times (default 2)
#   T  the products' and the backend's tests with prefetching on (REAM_L2_PREFETCH=TEST_SETTING,
#      default 48,16) and REAM_ATTN_PAGES_BY_LANE=1: every product bitwise, alone = batched =
#      cached = preempted
#   A  decode attention blocks that read their tiles' block-table entries once a warp
#      (REAM_ATTN_PAGES_BY_LANE=1, attention.cu load_tile): the attention tests with it on,
#      then ream_cuda_bench decode with it off and on alternating twice, then Nsight
#      Compute's time for 20 decode attention and combine launches each way
#   X  issue 11's table beside transformers (tools/gpu_verify.sh table), with
#      REAM_L2_PREFETCH=$TABLE_SETTING when that is set
cd "$(dirname "$0")/.."
. tools/device_common.sh
for stage in "$@"; do
  case $stage in
    P)
      for r in $(seq 1 "${ROUNDS:-2}"); do
        for s in ${PREFETCH_SETTINGS:-0 21,0 32,0 48,0 32,8 48,16 0,8}; do
          name=decode_${s/,/_}_$r
          REAM_L2_PREFETCH=$s REAM_BENCH_INVARIANT_ONLY=1 timeout 120 "$G/ream_cuda_bench" decode > "$OUT/$name.log" 2>&1
          echo "$name rc $?: $(grep -E '^decode' "$OUT/$name.log" | sed -E 's/ +/ /g; s/decode batch//' | tr '\n' ' ')"
        done
      done
      ;;
    T)
      export REAM_L2_PREFETCH=${TEST_SETTING:-48,16} REAM_ATTN_PAGES_BY_LANE=1
      gtest fused cuda_fused_test '*' 300
      gtest kernels cuda_kernels_test '*' 300
      gtest backend cuda_backend_test '*' 300
      unset REAM_L2_PREFETCH REAM_ATTN_PAGES_BY_LANE
      ;;
    A)
      REAM_ATTN_PAGES_BY_LANE=1 gtest attention cuda_attention_test "${ATTN_FILTER:-*}" 300
      for r in 1 2; do
        for v in 0 1; do
          REAM_ATTN_PAGES_BY_LANE=$v REAM_BENCH_INVARIANT_ONLY=1 timeout 120 "$G/ream_cuda_bench" decode \
            > "$OUT/attn_decode_${v}_$r.log" 2>&1
          echo "attn_decode pages_by_lane=${v} $r rc $?: $(grep -E '^decode' "$OUT/attn_decode_${v}_$r.log" | sed -E 's/ +/ /g; s/decode batch//' | tr '\n' ' ')"
        done
      done
      for v in 0 1; do
        REAM_ATTN_PAGES_BY_LANE=$v REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 200 ncu --clock-control none \
          --cache-control none -k regex:'paged_attention_kernel|attention_combine' --launch-skip 200 --launch-count 20 \
          --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --page raw \
          "$G/ream_cuda_bench" decode > "$OUT/ncu_attn_$v.csv" 2> "$OUT/ncu_attn_$v.err"
        echo "ncu pages_by_lane=$v rc $?"; python3 tools/ncu_summary.py "$OUT/ncu_attn_$v.csv" | tee "$OUT/ncu_attn_$v.txt" | head -8
      done
      ;;
    X)
      [ -n "${TABLE_SETTING:-}" ] && export REAM_L2_PREFETCH=$TABLE_SETTING
      OUT=$OUT tools/gpu_verify.sh "$G" .deps/tokenizer-qwen3 table
      unset REAM_L2_PREFETCH
      ;;
    *) echo "unknown stage $stage" ;;
  esac
done
pack_results
