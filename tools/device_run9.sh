#!/usr/bin/env bash
# Decode session (issue 11, "decode near the limit"), device call 1: programmatic dependent
# launch (PDL) inside the decode graphs, QK-norm + RoPE + KV store in one kernel, the
# streaming small-n product (gemm_stream.cu) and SwiGLU in the gate/up product's epilogue.
# Builds nothing: runs the binaries carried in .carry/gpu (tools/pack_gpu.sh), and the
# baseline binaries of main in .carry/gpu/base when present (same call, same card).
#
# usage (repo root, on the GPU machine): tools/device_run9.sh [tests] [backend] [engine]
#   tests    the new bitwise tests first (fail fast: no benchmark when they fail), then every
#            GPU test whose kernels changed (~3-4 min)
#   backend  ream_cuda_bench decode (the backend alone, random Qwen3-4B in host memory):
#            batch 1 / 32 at context 512, batch 1 at 8192, invariant and fast, for the
#            baseline and each switch: REAM_PDL=0|1, REAM_GEMM_SMALL=rounds|stream,
#            REAM_GEMM_STREAM_WARPS=8|16, REAM_GEMM_STREAM_WIDE=auto|never|always (~4 min)
#   engine   main's binary and this branch's give the same greedy ids and top-5 logprobs
#            (ream_bench run, 6 prompts, invariant and fast); then ream_bench decode
#            (issue 11's table figures: batch 1, 128 + 256; batch 32, 512 + 128), invariant
#            and fast, baseline and this branch (~5 min; makes the random model with
#            transformers first)
# Default: all three (may pass the 10-minute limit of one call: run `tests backend`, then
# `engine`). Key figures go to stdout; logs to $OUT.
set -o pipefail
cd "$(dirname "$0")/.."
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export LD_LIBRARY_PATH=$G PYTHONUNBUFFERED=1
export REAM_TEST_DATA_DIR=$PWD/tests/data REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3
STAGES=${*:-tests backend engine}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

run_test() {  # name timeout [gtest filter]
  local t=$1 limit=$2 filter=${3:-*}
  timeout "$limit" "$G/$t" --gtest_brief=1 --gtest_filter="$filter" > "$OUT/$t.log" 2>&1
  local rc=$?
  echo "$t rc $rc"
  grep -v "rng seed" "$OUT/$t.log" | grep -E "FAILED|PASSED|SKIPPED|Failure|differ|Expected|Which is" | head -12
  return $rc
}

for stage in $STAGES; do
  case $stage in
    tests)
      echo "== tests"
      # The fusions and the streaming product against the kernels they replace, bit for bit.
      run_test cuda_fused_test 90 || { echo "bitwise tests failed: no benchmark"; exit 0; }
      run_test cuda_kernels_test 90
      run_test cuda_attention_test 150 '-*HopperKernel*'  # the Hopper variants: unchanged, 5 min
      run_test cuda_backend_test 150
      run_test cuda_golden_test 120
      run_test cuda_constraint_test 120
      ;;
    backend)
      echo "== backend decode (ream_cuda_bench decode; tok/s, ms/step)"
      # Invariant-only switches skip the fast path's backend (REAM_BENCH_INVARIANT_ONLY).
      inv=REAM_BENCH_INVARIANT_ONLY=1
      configs=("REAM_PDL=0" "REAM_PDL=1" "REAM_PDL=1 REAM_GEMM_SMALL=rounds $inv"
               "REAM_PDL=1 REAM_GEMM_STREAM_WARPS=16 $inv" "REAM_PDL=1 REAM_GEMM_STREAM_WIDE=never $inv"
               "REAM_PDL=1 REAM_GEMM_STREAM_WIDE=always $inv")
      [ -x "$G/base/ream_cuda_bench" ] && configs=(base "${configs[@]}")
      for cfg in "${configs[@]}"; do
        bin=$G/ream_cuda_bench; envs=$cfg
        [ "$cfg" = base ] && { bin=$G/base/ream_cuda_bench; envs=""; }
        log=$OUT/backend_$(echo "${cfg% $inv}" | tr ' =' '_-').log
        env $envs timeout 150 "$bin" decode > "$log" 2>&1
        echo "-- ${cfg% $inv} (rc $?)"
        grep -E "batch_invariant|^decode|failed|warn" "$log" | sed 's/^/   /'
      done
      ;;
    engine)
      echo "== engine decode (ream_bench decode; aggregate tok/s)"
      MODEL=/tmp/qwen3-4b-random
      python3 -c "import sys; sys.path.insert(0, 'tools'); import check_qwen3_4b as c; \
c.make_model('$MODEL', '.deps/tokenizer-qwen3')" > "$OUT/make_model.log" 2>&1 || { echo "model: failed"; tail -3 "$OUT/make_model.log"; }
      # Not a bit changed: greedy ids and top-5 logprobs of main's binary and this branch's
      # on the same prompts (invariant: all at once, so the batches differ from run to run;
      # fast path: one at a time, where its results follow the batch).
      if [ -x "$G/base/ream_bench" ]; then
        python3 -c "import json, random; r = random.Random(11); [print(json.dumps({'prompt_ids': \
[r.randrange(151643) for _ in range(n)], 'max_tokens': 48, 'top_logprobs': 5})) for n in (16, 100, 333, 600, 1000, 2100)]" \
          > "$OUT/requests.jsonl"
        for variant in invariant fast; do
          flags=--concurrent; [ $variant = fast ] && flags=--no-batch-invariant
          for b in base this; do
            bin=$G/ream_bench; [ $b = base ] && bin=$G/base/ream_bench
            timeout 120 "$bin" run --model $MODEL --device cuda --requests "$OUT/requests.jsonl" \
              --out "$OUT/outputs_${variant}_$b.jsonl" $flags > /dev/null 2>>"$OUT/engine_stderr.log"
          done
          python3 - "$OUT/outputs_${variant}_base.jsonl" "$OUT/outputs_${variant}_this.jsonl" $variant <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
bad = [i for i, (x, y) in enumerate(zip(a, b)) if (x["ids"], x["top_logprobs"]) != (y["ids"], y["top_logprobs"])]
print(f"   {sys.argv[3]}: main vs this branch, ids and top-5 logprobs of {len(a)} requests:",
      "identical" if len(a) == len(b) == 6 and not bad else f"DIFFER (requests {bad}, counts {len(a)}/{len(b)})")
PY
        done
      fi
      bins=(this); [ -x "$G/base/ream_bench" ] && bins=(base this)
      for b in "${bins[@]}"; do
        bin=$G/ream_bench; [ $b = base ] && bin=$G/base/ream_bench
        for variant in invariant fast; do
          flags=""; [ $variant = fast ] && flags=--no-batch-invariant
          for shape in "1 128 256" "32 512 128"; do
            set -- $shape
            r=$(timeout 120 "$bin" decode --model $MODEL --device cuda --batch $1 --prompt-len $2 --new-tokens $3 $flags \
                2>>"$OUT/engine_stderr.log" | tail -1)
            echo "$r" >> "$OUT/engine.jsonl"
            tps=$(echo "$r" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['aggregate_tokens_per_s'], 1))" 2>/dev/null)
            echo "   $b $variant batch $1 ($2 + $3): ${tps:-failed} tok/s"
          done
        done
      done
      grep -iE "warn|capture failed" "$OUT/engine_stderr.log" | sort | uniq -c | head -5
      ;;
  esac
done
exit 0
