#!/usr/bin/env bash
# Runs ream's GPU verification on a machine with an NVIDIA GPU, torch and transformers:
# the `gpu` GoogleTest programs, the Qwen3-4B-shape comparison with transformers
# (tools/check_qwen3_4b.py), one 262,144-token prompt (time and peak GPU memory) and
# the benchmarks beside transformers. Results go to $OUT (default ./gpu-results).
#
# usage: tools/gpu_verify.sh BIN_DIR TOKENIZER_DIR [tests|check|long|bench|table ...]
#   table: issue 11's performance table beside transformers, in one call (~7 minutes on an
#   H100), written as Markdown to $OUT/table/perf_table.md.
#   BIN_DIR holds ream_bench and the gpu test programs (with any .so they need).
set -uo pipefail
BIN=$(realpath "$1"); TOK=$(realpath "$2"); shift 2
STAGES=${*:-tests check long bench}
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export REAM_TOKENIZER_DIR=$TOK  # tests built elsewhere find the tokenizer here
# The golden files the tests read, from this checkout (the programs were built elsewhere).
export REAM_TEST_DATA_DIR=${REAM_TEST_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/tests/data}
MODEL=/tmp/qwen3-4b-random
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
status=0
ensure_model() {  # the random-weight Qwen3-4B-shape model, made by transformers
  [ -f "$MODEL/config.json" ] || python3 -c "import sys; sys.path.insert(0, '$(dirname "$0")'); \
import check_qwen3_4b as c; c.make_model('$MODEL', '$TOK')"
}
for stage in $STAGES; do
  [ "$stage" = tests ] || ensure_model
  case $stage in
    tests)
      for t in "$BIN"/*_test; do
        echo "== $(basename "$t")"
        "$t" --gtest_brief=1 2>&1 | tail -5 | tee -a "$OUT/tests.log" || status=1
      done ;;
    check)
      python3 "$(dirname "$0")/check_qwen3_4b.py" --ream-bench "$BIN/ream_bench" --tokenizer-dir "$TOK" \
        --out "$OUT" --model-dir "$MODEL" 2>&1 | grep -v "^\[.*info\]" | tee "$OUT/check.log" || status=1 ;;
    long)
      # One prompt filling the whole 262,144-token context (262,143 + 1 generated), with a
      # KV cache of exactly that size (36 layers x K,V x 8 heads x 128 x bf16 per token), so
      # the peak is what the prompt needs rather than the default 90% reservation.
      (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) > "$OUT/mem.txt" &
      sampler=$!
      "$BIN/ream_bench" prefill --model "$MODEL" --device cuda --tokens 262143 \
        --kv-cache-bytes $((262144 * 36 * 2 * 8 * 128 * 2)) 2>&1 | tee "$OUT/long.log" || status=1
      kill $sampler
      echo "peak GPU memory used (MiB): $(sort -n "$OUT/mem.txt" | tail -1)" | tee -a "$OUT/long.log" ;;
    table)
      # Issue 11's whole table in one call, beside transformers: tools/perf_table.py writes
      # $OUT/table/perf_table.md (card, driver, date, ratios).
      T=$OUT/table; mkdir -p "$T"; cp "$OUT/gpu.txt" "$T/"
      python3 "$(dirname "$0")/perf_table.py" measure-copy > "$T/copy.json"
      REAM_ATTN_DEFAULT_ONLY=1 "$BIN/ream_cuda_bench" attention > "$T/attention.log" 2>&1
      for variant in invariant fast; do
        flags=""; [ $variant = fast ] && flags=--no-batch-invariant
        {
          for n in 4096 131072; do "$BIN/ream_bench" prefill --model "$MODEL" --device cuda --tokens $n $flags; done
          "$BIN/ream_bench" decode --model "$MODEL" --device cuda --batch 1 --prompt-len 128 --new-tokens 256 $flags
          "$BIN/ream_bench" decode --model "$MODEL" --device cuda --batch 32 --prompt-len 512 --new-tokens 128 $flags
          "$BIN/ream_bench" decode --model "$MODEL" --device cuda --batch 1 --prompt-len 32768 --new-tokens 128 $flags
          [ $variant = invariant ] && "$BIN/ream_bench" followup --model "$MODEL" --device cuda --tokens 200000 \
            --new 16 --questions 3 --kv-cache-bytes $((210000 * 36 * 2 * 8 * 128 * 2))
        } 2>/dev/null > "$T/ream_$variant.jsonl"
      done
      (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) > "$T/long_mem.txt" &
      sampler=$!
      "$BIN/ream_bench" prefill --model "$MODEL" --device cuda --tokens 262143 \
        --kv-cache-bytes $((262144 * 36 * 2 * 8 * 128 * 2)) 2>/dev/null > "$T/long.jsonl"
      kill $sampler
      python3 "$(dirname "$0")/bench_transformers.py" --model-dir "$MODEL" --prefill 4096,131072,262143 \
        --decode-batches 1,32 --decode-prompt-lens 128,512 2>/dev/null > "$T/transformers.jsonl"
      # legal_review over the longest CUAD contract against one cold prefill of it, where
      # tools/pack_gpu_run.sh's `ream` and plugins were carried (.carry/gpu-run).
      if [ -x "$(dirname "$0")/../.carry/gpu-run/ream" ]; then
        OUT=$T/legal "$(dirname "$0")/device_run14.sh" 256 > "$T/legal.log" 2>&1
      fi
      python3 "$(dirname "$0")/perf_table.py" render "$T" "$MODEL" | tee "$T/perf_table.md" ;;
    bench)
      {
        for mode in "" --no-batch-invariant; do
          "$BIN/ream_bench" prefill --model "$MODEL" --device cuda --tokens 131072 $mode
          "$BIN/ream_bench" decode --model "$MODEL" --device cuda --batch 1 --new-tokens 256 $mode
          "$BIN/ream_bench" decode --model "$MODEL" --device cuda --batch 32 --new-tokens 256 $mode
        done
        python3 "$(dirname "$0")/bench_transformers.py" --model-dir "$MODEL" \
          --prefill "${PEER_PREFILL:-131072,262144}" --decode-batches 1,32
      } 2>&1 | grep -v "^\[.*info\]" | tee "$OUT/bench.log" ;;
  esac
done
exit $status
