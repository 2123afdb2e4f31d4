# Session-3 device call 4: split rounds (a short prefill over a long cached context):
# attention + backend GPU tests, then a 200,000-token document asked again, with rounds and
# without (the previous build), time to first token of each follow-up question.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu2 PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 120 .carry/gpu2/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -6
timeout 60 .carry/gpu2/cuda_backend_test --gtest_brief=1 > $OUT/backend_test.log 2>&1; echo "backend test rc $?"
tail -2 $OUT/backend_test.log
python3 -c "import sys; sys.path.insert(0, 'tools'); import check_qwen3_4b as c; c.make_model('/tmp/m', '.deps/tokenizer-qwen3')" > /dev/null 2>&1
for b in ream_bench ream_bench_norounds; do echo "== $b"
  timeout 150 .carry/gpu2/$b followup --model /tmp/m --tokens 200000 --new 16 --questions 3 \
    --kv-cache-bytes $((210000 * 36 * 2 * 8 * 128 * 2)) 2>&1 | grep -v "\[info\]" | tee $OUT/followup_$b.log
done
exit 0
