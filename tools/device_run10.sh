#!/usr/bin/env bash
# Session-5 device call 2 (after tools/device_run9.sh tests backend in call 1): one random
# Qwen3-4B model, then
#  1. issue 12: batch-32 constrained decode (512 + 128, legal_review's findings schema)
#     against unconstrained, with main's binary (.carry/gpu/base: the reply budget closes
#     every output by max_tokens, so the last steps compute bounded masks);
#  2. issue 13: a short chat's time to first token while a 262,143-token prompt prefills
#     (ream_bench chat-during-prefill, bench/NOTES.md);
#  3. issue 11: tools/device_run9.sh engine (decode batch 1 and 32, main and this branch).
# Key figures to stdout; logs to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH=$PWD/.carry/gpu PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3
G=.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
M=/tmp/qwen3-4b-random
python3 -c "import sys; sys.path.insert(0, 'tools'); import check_qwen3_4b as c; c.make_model('$M', '.deps/tokenizer-qwen3')" \
  > $OUT/make_model.log 2>&1 || { echo "model: failed"; tail -3 $OUT/make_model.log; exit 0; }
for c in none legal_review_schema; do
  args=""; [ $c = legal_review_schema ] && args="--schema $G/legal_review_findings.json"
  echo "== decode batch 32 (512 + 128), constraint: $c (main)"
  timeout 90 $G/base/ream_bench decode --model $M --device cuda --batch 32 --prompt-len 512 --new-tokens 128 $args 2>&1 \
    | grep -v "\[info\]" | tee $OUT/decode_b32_$c.log
done
echo "== chat during a 262,143-token prefill"
timeout 240 $G/ream_bench chat-during-prefill --model $M --device cuda --tokens 262143 \
  --chat-at 1,65536,131072,196608,258048 --chat-tokens 64 --chat-new 16 \
  --max-batch-tokens 4096 --interactive-batch-chunk 512 \
  --kv-cache-bytes $((263168 * 36 * 2 * 8 * 128 * 2)) 2>&1 | grep -v "\[info\]" | tee $OUT/chat_prefill.log | tail -20
[ "${SKIP_ENGINE:-0}" = 1 ] || bash tools/device_run9.sh engine
exit 0
