#!/usr/bin/env bash
# Issue 11: legal_review over the longest CUAD contract on the GPU, the engine time of the
# whole workflow against one cold prefill of the same contract ("a workflow that asks many
# questions over one document must pay for that document's prefill about once").
# Builds nothing: runs .carry/gpu-run (tools/pack_gpu_run.sh: `ream` with CUDA, the plugins
# and the libraries a bare GPU machine lacks) on the random-weight Qwen3-4B-shape checkpoint
# that transformers makes (tools/check_qwen3_4b.py, as tools/gpu_verify.sh does).
#
# usage (repo root, on the GPU machine): tools/device_run14.sh [REPLY_TOKENS ...]
#   Each run is a fresh process with a fresh store, so its prefix cache starts cold:
#   - one:   legal_review asking one category, max_tokens 1: one prompt over the contract,
#            i.e. one cold prefill of it (the reference);
#   - prefill: all 41 categories (7 prompts of 6 categories, each the contract first) and no
#            executive summary, max_tokens 1: what the 7 prompts' prefill costs together;
#   - full-N: all 41 categories with the executive summary, max_tokens N for each
#            REPLY_TOKENS (default 256 1024). Random weights do not stop early, so every
#            reply runs to N tokens: the decode share is an upper bound for that N.
# Key figures to stdout; logs and the stores to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu-run
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$G PYTHONUNBUFFERED=1
TOK=$PWD/.deps/tokenizer-qwen3
MODEL=/tmp/qwen3-4b-random
# The longest CUAD contract (../shared/data/cuad), packed beside the binaries.
CONTRACT="$G/MANUFACTURERSSERVICESLTD_06_05_2000-EX-10.14-OUTSOURCING AGREEMENT.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
echo "contract: $(basename "$CONTRACT") ($(wc -c < "$CONTRACT") bytes)"
[ -f "$MODEL/config.json" ] || python3 -c "import sys; sys.path.insert(0, 'tools'); \
import check_qwen3_4b as c; c.make_model('$MODEL', '$TOK')" > "$OUT/make_model.log" 2>&1

run() {  # NAME ARGS...: one `ream run legal_review` in a fresh store; prints its wall time
  local name=$1; shift
  local t0=$(date +%s.%N)
  timeout 580 "$G/ream" run workflows/legal_review.yaml --model "$MODEL" --device cuda --plugins "$G" \
    --db "$OUT/$name.db" --format json --doc "$CONTRACT" "$@" > "$OUT/$name.json" 2> "$OUT/$name.log"
  local rc=$? t1=$(date +%s.%N)
  printf -- "-- %-10s rc %d, %.2f s wall; %s\n" "$name" $rc "$(awk "BEGIN {print $t1 - $t0}")" \
    "$(grep -E 'progress: done' "$OUT/$name.log" | tail -1 | sed 's/^ream: //')"
}

run one --input 'categories=["Governing Law"]' --input max_tokens=1 --input executive_summary=false
run prefill --input max_tokens=1 --input executive_summary=false
for n in ${*:-256 1024}; do run full-$n --input max_tokens=$n; done
exit 0
