# Session-3 device call 3: softmax with one FFMA + MUFU.EX2 per score (D0: plain loop,
# D1: softmax overlapped with P V), the attention and backend tests, prefill end to end.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu
export REAM_TEST_DATA_DIR=$PWD/tests/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
for v in D0 D1; do echo "== variant $v"; timeout 120 .carry/gpu/bench_$v attention 2>&1 | tee $OUT/bench_$v.log; done
timeout 150 .carry/gpu/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -6
timeout 100 .carry/gpu/cuda_backend_test --gtest_brief=1 > $OUT/backend_test.log 2>&1; echo "backend test rc $?"
tail -3 $OUT/backend_test.log
cuobjdump -sass .carry/gpu/bench_D0 > $OUT/sass_D0.txt 2>&1; echo "sass rc $?"
timeout 200 .carry/gpu/bench_D0 prefill 131072 2>&1 | grep -v "prefill chunk" | tee $OUT/prefill.log
exit 0
