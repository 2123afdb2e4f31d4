# Session-3 device call: the attention and backend GPU tests, the attention microbenchmark
# (mma.sync vs wgmma, bitwise comparison), then prefill of the random Qwen3-4B shape.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu
export REAM_TEST_DATA_DIR=$PWD/tests/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 150 .carry/gpu/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -12
timeout 200 .carry/gpu/ream_cuda_bench attention 2>&1 | tee $OUT/attn_bench.log
timeout 100 .carry/gpu/cuda_backend_test --gtest_brief=1 > $OUT/backend_test.log 2>&1; echo "backend test rc $?"
tail -3 $OUT/backend_test.log
[ -n "$PREFILL" ] && timeout 300 .carry/gpu/ream_cuda_bench prefill $PREFILL 2>&1 | grep -v "prefill chunk" | tee $OUT/prefill.log
exit 0
