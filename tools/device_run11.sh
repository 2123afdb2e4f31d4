#!/usr/bin/env bash
# Session-5 device call 3 (binaries of main + the step bound + prefill progress + bounded
# masks without a walk): one random Qwen3-4B model, then
#  1. issue 12: batch-32 constrained decode (512 + 128, legal_review's findings schema)
#     against unconstrained;
#  2. issue 13: a short chat's time to first token while a 262,143-token prompt prefills,
#     with the default step bound (max_step_pairs 2^28);
#  3. what the bound costs a lone long prefill: 262,143 tokens with the
#     default bound and with none (--max-step-pairs 0), reamd's 4,096-token budget.
# Key figures to stdout; logs to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3
G=.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout 60 $G/cuda_constraint_test --gtest_brief=1 > $OUT/constraint_test.log 2>&1; echo "cuda_constraint_test rc $?"
grep -E "FAILED|Failure" $OUT/constraint_test.log | head -5
M=/tmp/qwen3-4b-random
python3 -c "import sys; sys.path.insert(0, 'tools'); import check_qwen3_4b as c; c.make_model('$M', '.deps/tokenizer-qwen3')" \
  > $OUT/make_model.log 2>&1 || { echo "model: failed"; tail -3 $OUT/make_model.log; exit 0; }
for c in none legal_review_schema; do
  args=""; [ $c = legal_review_schema ] && args="--schema $G/legal_review_findings.json"
  echo "== decode batch 32 (512 + 128), constraint: $c"
  timeout 90 $G/ream_bench decode --model $M --device cuda --batch 32 --prompt-len 512 --new-tokens 128 $args 2>&1 \
    | grep -v "\[info\]"
done
KV=$((263168 * 36 * 2 * 8 * 128 * 2))
echo "== chat during a 262,143-token prefill (max_step_pairs 2^28)"
timeout 240 $G/ream_bench chat-during-prefill --model $M --device cuda --tokens 262143 \
  --chat-at 1,65536,131072,196608,258048 --chat-tokens 64 --chat-new 16 \
  --max-batch-tokens 4096 --interactive-batch-chunk 512 --kv-cache-bytes $KV 2>&1 | grep -v "\[info\]"
for n in 262143; do
  for p in default 0; do
    args="--max-batch-tokens 4096 --kv-cache-bytes $KV"; [ $p = 0 ] && args="$args --max-step-pairs 0"
    echo "== prefill $n, max_step_pairs $p"
    timeout 120 $G/ream_bench prefill --model $M --device cuda --tokens $n $args 2>&1 | grep -v "\[info\]" | tail -1
  done
done
exit 0
