#!/usr/bin/env bash
# Session 10 (issue 11): the shared-prefix decode blocks with the members' rows packed 16 a
# warp (attention.cu, shared_rows). Builds nothing: runs .carry/gpu (CUDA tests and
# ream_cuda_bench) and, for E, .carry/gpu-run (`ream` with CUDA and the plugins).
#
# usage (repo root, on the GPU machine): tools/device_run17.sh C|E|P ...
#   C  the attention and backend tests that cover shared-prefix decode (bit for bit against
#      fold mode, and whole steps alone / batched / cached), then ream_cuda_bench shared 65536
#      with the groups off and on, and ream_cuda_bench decode (no regression at short context)
#   Q  C in brief (the shared-prefix and decode attention tests, sharing on, short decode)
#   E  legal_review over the longest CUAD contract against one cold prefill (device_run14.sh)
#   P  Nsight Compute (caches not flushed between kernels, as in a real step): every attention
#      launch of ~1.5 decode steps of 7 questions over a 64K-token document (graphs off), and
#      every kernel of ~2 batch-1 decode steps: duration and DRAM bytes, summed per kernel by
#      tools/ncu_summary.py
# Everything under $OUT is also packed into $OUT/results.tar.xz (fewer files to bring back).
cd "$(dirname "$0")/.."
. tools/device_common.sh
# This script's own gtest (the binary's name names its log), in place of the shared one.
gtest() {  # BINARY FILTER SECONDS: runs one CUDA test program, prints its result and any failure
  timeout "$3" "$G/$1" --gtest_brief=1 --gtest_filter="$2" > "$OUT/$1.log" 2>&1
  echo "$1 rc $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$OUT/$1.log" | tr '\n' ' ')"
  grep -E "Failure|FAILED  \]|differ" "$OUT/$1.log" | head -8
}
for stage in "$@"; do
  case $stage in
    C)
      gtest cuda_attention_test '*Shared*:*Split*:*DecodeOnly*:*MixedBatch*:*Chunking*' 300
      gtest cuda_backend_test '*' 300
      for share in 0 1; do
        REAM_DECODE_SHARE=$share REAM_BENCH_INVARIANT_ONLY=1 timeout 150 "$G/ream_cuda_bench" shared 65536 \
          > "$OUT/shared_$share.log" 2>&1
        echo "shared bench, REAM_DECODE_SHARE=$share rc $?"; grep -E "^decode|failed" "$OUT/shared_$share.log"
      done
      timeout 120 "$G/ream_cuda_bench" decode > "$OUT/decode.log" 2>&1
      echo "decode rc $?"; grep -E "^decode|batch_invariant|failed" "$OUT/decode.log"
      ;;
    Q)  # C in brief: the shared-prefix and decode attention tests, sharing on, short decode
      gtest cuda_attention_test '*Shared*:*DecodeOnly*:*MixedBatch*' 100
      REAM_BENCH_INVARIANT_ONLY=1 timeout 60 "$G/ream_cuda_bench" shared 65536 > "$OUT/shared_1.log" 2>&1
      echo "shared bench rc $?"; grep -E "^decode|failed" "$OUT/shared_1.log"
      REAM_BENCH_INVARIANT_ONLY=1 timeout 60 "$G/ream_cuda_bench" decode > "$OUT/decode.log" 2>&1
      echo "decode rc $?"; grep -E "^decode|failed" "$OUT/decode.log"
      ;;
    E)
      OUT=$OUT/legal tools/device_run14.sh ${REPLY_TOKENS:-256} | tee "$OUT/legal.txt"
      ;;
    P)
      REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 200 ncu --clock-control none --cache-control none \
        -k regex:'paged_attention_kernel|attention_combine' --launch-skip 1200 --launch-count 300 \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --page raw \
        "$G/ream_cuda_bench" shared 65536 > "$OUT/ncu_shared.csv" 2> "$OUT/ncu_shared.err"
      echo "ncu shared rc $?"; python3 tools/ncu_summary.py "$OUT/ncu_shared.csv" | tee "$OUT/ncu_shared.txt"
      REAM_CUDA_GRAPHS=0 REAM_BENCH_INVARIANT_ONLY=1 timeout 150 ncu --clock-control none --cache-control none --launch-skip 3000 \
        --launch-count 700 --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
        --csv --page raw "$G/ream_cuda_bench" decode > "$OUT/ncu_decode.csv" 2> "$OUT/ncu_decode.err"
      echo "ncu decode rc $?"; python3 tools/ncu_summary.py "$OUT/ncu_decode.csv" | tee "$OUT/ncu_decode.txt"
      ;;
    *) echo "unknown stage $stage" >&2 ;;
  esac
done
# The stores and CSVs in one file; the short summaries stay beside it.
pack_results
exit 0
