#!/usr/bin/env bash
# Session-4 device call 2: where the Hopper attention kernel's time goes. cuBLAS's bf16
# GEMM as the card's yardstick; the attention microbenchmark at 32K with KV blocks of 64
# (4 TMA copies a tile instead of 16); Nsight Compute on the default variant (32K, last
# chunk): the full section set and per-instruction stall samples.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
B=.carry/gpu/ream_cuda_bench
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
timeout 60 $B gemm | tee $OUT/gemm.log
REAM_ATTN_LENGTHS=32768 REAM_ATTN_BS=64 timeout 120 $B attention 2>&1 | grep -v decode | tee $OUT/attention_bs64.log
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
REAM_ATTN_PROFILE=1 REAM_ATTN_LENGTHS=32768 timeout 300 $NCU --clock-control none --set full --import-source no \
  -k regex:hopper --launch-skip 3 --launch-count 1 -o $OUT/attn_v1 $B attention > $OUT/ncu_run.log 2>&1
tail -3 $OUT/ncu_run.log
$NCU -i $OUT/attn_v1.ncu-rep --page details > $OUT/ncu_details.txt 2>&1
$NCU -i $OUT/attn_v1.ncu-rep --page source --csv --print-source sass > $OUT/ncu_sass.csv 2>&1
grep -E "Throughput|Pipe|Stall|Issue|Warp Cycles|Eligible|L2|Duration|SM Frequency|Registers|Achieved" $OUT/ncu_details.txt | head -60
wc -l $OUT/ncu_sass.csv
exit 0
