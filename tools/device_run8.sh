#!/usr/bin/env bash
# Session-4 device call 6: the combine kernel (a warp per row, loads ahead) and split
# rounds for short prefill chunks, plus the CUDA sampler's constraint masks and
# logit_bias (issue 12): every GPU test, then a 200,000-token document asked again with
# split rounds and without (same binary, REAM_ATTN_NO_SPLIT_ROUNDS), then batch-1 decode
# at 32K depth.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data
G=.carry/gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 40 $G/cuda_attention_test --gtest_brief=1 --gtest_filter='*SplitRounds*/0:*Hopper*/0' > $OUT/attn_quick.log 2>&1
rc=$?; echo "quick attention test rc $rc"; tail -3 $OUT/attn_quick.log
[ $rc -eq 0 ] || exit 0
for t in $G/cuda_*_test; do
  filter='*'; [ $(basename $t) = cuda_attention_test ] && filter='-*HopperKernel*'  # the kernel's variants: call 4
  timeout 100 $t --gtest_brief=1 --gtest_filter="$filter" > $OUT/$(basename $t).log 2>&1; echo "$(basename $t) rc $?"
  grep -v "rng seed" $OUT/$(basename $t).log | grep -E "FAILED|PASSED|SKIPPED|Failure" | head -8
done
python3 -c "import sys; sys.path.insert(0, 'tools'); import check_qwen3_4b as c; c.make_model('/tmp/m', '.deps/tokenizer-qwen3')" > /dev/null 2>&1
for mode in rounds no_rounds; do
  env=""; [ $mode = no_rounds ] && env="REAM_ATTN_NO_SPLIT_ROUNDS=1"
  echo "== followup, $mode"
  env $env timeout 120 $G/ream_bench followup --model /tmp/m --device cuda --tokens 200000 --new 16 --questions 3 \
    --kv-cache-bytes $((210000 * 36 * 2 * 8 * 128 * 2)) 2>&1 | grep -v "\[info\]" | tee $OUT/followup_$mode.log
done
for c in none legal_review_schema; do
  args=""; [ $c = json_object ] && args=--json-object
  [ $c = legal_review_schema ] && args="--schema $G/legal_review_findings.json"
  echo "== decode batch 32 (512 + 128), constraint: $c"
  timeout 90 $G/ream_bench decode --model /tmp/m --device cuda --batch 32 --prompt-len 512 --new-tokens 128 $args 2>&1 \
    | grep -v "\[info\]" | tee $OUT/decode_b32_$c.log
done
echo "== decode batch 1 at 32K"
timeout 60 $G/ream_bench decode --model /tmp/m --device cuda --batch 1 --prompt-len 32768 --new-tokens 128 2>&1 \
  | grep -v "\[info\]" | tee $OUT/decode_32k.log
exit 0
