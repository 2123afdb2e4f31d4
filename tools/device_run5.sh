#!/usr/bin/env bash
# Session-4 device call 1: the Hopper attention kernel's new schedule (products of two
# tiles issued back to back, consumer warpgroups taking turns; Q in registers or shared
# memory): the attention GPU tests (every variant bit for bit against mma.sync), then the
# attention microbenchmark at 8K/32K/128K with all variants and both piece settings.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
timeout 150 .carry/gpu/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -8
REAM_ATTN_LENGTHS=8192,32768,131072 timeout 200 .carry/gpu/ream_cuda_bench attention 2>&1 | tee $OUT/attention_bench.log | grep -v decode
exit 0
