#!/usr/bin/env bash
# Session-4 device call 3: the Hopper attention kernel with four producer warps (K/V x
# column half, each lane issuing its page's copy) and no run-time division on the hot
# path: attention GPU tests, then the microbenchmark (KV blocks of 16 and of 64).
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data
B=.carry/gpu/ream_cuda_bench
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 30 .carry/gpu/cuda_attention_test --gtest_brief=1 --gtest_filter='*HopperKernel*/0' > $OUT/attn_quick.log 2>&1
rc=$?; echo "quick Hopper test rc $rc"; tail -3 $OUT/attn_quick.log
[ $rc -eq 0 ] || exit 0  # a hang or a wrong bit: no benchmark
timeout 150 .carry/gpu/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -4
REAM_ATTN_LENGTHS=8192,32768,131072 timeout 200 $B attention 2>&1 | grep -v decode | tee $OUT/attention_bs16.log
REAM_ATTN_LENGTHS=32768 REAM_ATTN_BS=64 timeout 100 $B attention 2>&1 | grep -v decode | tee $OUT/attention_bs64.log
exit 0
