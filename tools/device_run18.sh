#!/usr/bin/env bash
# Session 12 (issue 11): the 2-warp shared-prefix and decode attention blocks (kAttnShareWarps
# 2, kAttnDecodeWarps 2), 16 partials ahead in the combine, partial buffers for 262,144 rows,
# and programmatic dependent launch with late triggers (the matrix products and attention let
# the next kernel be scheduled once their loads are issued, not at their start), against the
# build before them (.carry/gpu/base) in the same call. Builds nothing.
#
# usage (repo root, on the GPU machine): tools/device_run18.sh T|B|E|P ...
#   T  the tests that cover the changed kernels: attention (shared, split, decode, mixed,
#      chunking), backend (alone = batched = cached = preempted), fused and kernels with
#      REAM_PDL=1 as well
#   B  ream_cuda_bench decode and shared 65536, base and this build, REAM_PDL 0 and 1
#   E  legal_review over the longest CUAD contract against one cold prefill (device_run14.sh)
#   P  Nsight Compute over batch-32 decode steps (time, DRAM and L2 bytes per kernel)
#   H  the Hopper attention kernel's variants (o_acc in shared memory, softmax under P V):
#      bitwise against mma.sync (test), TFLOP/s at 8K/32K/128K beside the base build's
#      default, whole 131,072-token prefill with variants 1 (default) and 13
#   D  the streaming product with as many blocks as fit the GPU, each looping over row tiles:
#      the products' bitwise tests, then ream_cuda_bench decode with REAM_GEMM_STREAM_PERSIST
#      1 and 0 alternating (twice), then prefill 131072 with attention variants 1 and 9
#      alternating (twice)
#   F  the final checks: kernels (the streaming product with its blocks capped, each block
#      looping over many row tiles), attention (Hopper variants), backend; the weight-load
#      pattern probe (ream_cuda_bench stream-probe); then Nsight
#      Compute, full set, on four streaming products of a batch-1 decode step
#   A  Nsight Compute, full set, on the Hopper prefill attention kernel's last 8,192-token
#      chunk of a 32,768-token prompt (batch-invariant pieces): where its issue slots go
cd "$(dirname "$0")/.."
. tools/device_common.sh
bench() {  # NAME BINARY ARGS...: one ream_cuda_bench run, its result lines
  local name=$1 bin=$2; shift 2
  REAM_BENCH_INVARIANT_ONLY=1 timeout 150 "$bin" "$@" > "$OUT/$name.log" 2>&1
  echo "$name rc $?"; grep -E "^decode|failed" "$OUT/$name.log"
}
for stage in "$@"; do
  case $stage in
    T)
      gtest attention cuda_attention_test '*Shared*:*Split*:*DecodeOnly*:*MixedBatch*:*Chunking*' 300
      gtest backend cuda_backend_test '*' 300
      REAM_PDL=1 gtest fused_pdl cuda_fused_test '*' 200
      REAM_PDL=1 gtest kernels_pdl cuda_kernels_test '*' 200
      REAM_PDL=1 gtest backend_pdl cuda_backend_test '*' 300
      ;;
    B)
      for pdl in 0 1; do
        REAM_PDL=$pdl bench decode_base_pdl$pdl "$G/base/ream_cuda_bench" decode
        REAM_PDL=$pdl bench decode_new_pdl$pdl "$G/ream_cuda_bench" decode
      done
      bench shared_base "$G/base/ream_cuda_bench" shared 65536
      bench shared_new "$G/ream_cuda_bench" shared 65536
      REAM_PDL=1 bench shared_new_pdl1 "$G/ream_cuda_bench" shared 65536
      ;;
    E)
      OUT=$OUT/legal tools/device_run14.sh ${REPLY_TOKENS:-256} | tee "$OUT/legal.txt"
      ;;
    P)
      REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 200 ncu --clock-control none --cache-control none --launch-skip 1400 \
        --launch-count 660 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum \
        --csv --page raw "$G/ream_cuda_bench" decode32 > "$OUT/ncu_decode32.csv" 2> "$OUT/ncu_decode32.err"
      echo "ncu decode32 rc $?"; python3 tools/ncu_summary.py "$OUT/ncu_decode32.csv" | tee "$OUT/ncu_decode32.txt"
      ;;
    H)
      gtest attention_hopper cuda_attention_test '*Hopper*' 300
      REAM_ATTN_LENGTHS=8192,32768,131072 REAM_ATTN_PIECES=256 timeout 240 "$G/ream_cuda_bench" attention \
        > "$OUT/attention_new.log" 2>&1
      echo "attention new rc $?"; grep -E "TFLOP|failed" "$OUT/attention_new.log" | sed 's/ (chunks of 8192, pieces of 256)//'
      REAM_ATTN_LENGTHS=8192,32768,131072 REAM_ATTN_PIECES=256 REAM_ATTN_DEFAULT_ONLY=1 timeout 120 \
        "$G/base/ream_cuda_bench" attention > "$OUT/attention_base.log" 2>&1
      echo "attention base rc $?"; grep -E "wgmma|failed" "$OUT/attention_base.log" | sed 's/ (chunks of 8192, pieces of 256)//'
      bench prefill_base "$G/base/ream_cuda_bench" prefill 131072
      grep -E "^prefill" "$OUT/prefill_base.log"
      for v in ${PREFILL_VARIANTS:-1 13}; do
        REAM_ATTN_VARIANT=$v bench prefill_v$v "$G/ream_cuda_bench" prefill 131072
        grep -E "^prefill" "$OUT/prefill_v$v.log"
      done
      ;;
    D)
      gtest kernels cuda_kernels_test '*' 200
      gtest fused cuda_fused_test '*' 200
      gtest backend cuda_backend_test '*' 300
      for r in 1 2; do
        for p in 1 0; do
          REAM_GEMM_STREAM_PERSIST=$p bench decode_persist${p}_$r "$G/ream_cuda_bench" decode
        done
      done
      for r in 1 2; do
        for v in 1 9; do
          REAM_ATTN_VARIANT=$v bench prefill_v${v}_$r "$G/ream_cuda_bench" prefill 131072
          grep -E "^prefill" "$OUT/prefill_v${v}_$r.log"
        done
      done
      ;;
    F)
      gtest kernels cuda_kernels_test '*' 200
      gtest attention_hopper cuda_attention_test '*Hopper*:*MixedBatch*:*Chunking*' 300
      gtest backend cuda_backend_test '*' 300
      timeout 60 "$G/ream_cuda_bench" stream-probe > "$OUT/stream_probe.log" 2>&1
      echo "stream probe rc $?"; cat "$OUT/stream_probe.log"
      REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 200 ncu --clock-control none --set full -k regex:gemm_stream \
        --launch-skip 400 --launch-count 4 "$G/ream_cuda_bench" decode > "$OUT/ncu_stream.txt" 2>&1
      echo "ncu stream rc $?"
      grep -E "gemm_stream_kernel<|Duration|DRAM Throughput|Memory Throughput|Eligible|Issued Warp|Achieved Occupancy|Registers Per|Block Limit|Waves|Grid Size|Block Size" \
        "$OUT/ncu_stream.txt" | head -60
      ;;
    A)
      REAM_ATTN_PROFILE=1 REAM_ATTN_LENGTHS=32768 timeout 240 ncu --clock-control none --set full \
        -k regex:hopper --launch-skip 3 --launch-count 1 "$G/ream_cuda_bench" attention > "$OUT/ncu_attention.txt" 2>&1
      echo "ncu attention rc $?"
      grep -E "Duration|Throughput|Pipe|Stall|Warp Cycles|Issued|Eligible|Bank|Registers|Achieved|ERR|rror" \
        "$OUT/ncu_attention.txt" | head -60
      ;;
    *) echo "unknown stage $stage" >&2 ;;
  esac
done
pack_results
exit 0
