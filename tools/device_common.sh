# Sourced by the device scripts (tools/device_run17.sh and later), run from the repo root
# on the GPU machine: the packed binaries in G, results under OUT, the card in
# OUT/gpu.txt, and the helpers they share.
set -o pipefail
G=$PWD/.carry/gpu
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 REAM_TOKENIZER_DIR=$PWD/.deps/tokenizer-qwen3 REAM_TEST_DATA_DIR=$PWD/tests/data
export LD_LIBRARY_PATH=$G
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"
gtest() {  # NAME BINARY FILTER SECONDS: runs one CUDA test program, prints its result and any failure
  timeout "$4" "$G/$2" --gtest_brief=1 --gtest_filter="$3" > "$OUT/$1.log" 2>&1
  echo "$1 rc $?: $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$OUT/$1.log" | tr '\n' ' ')"
  grep -E "Failure|FAILED  \]|differ" "$OUT/$1.log" | head -8
}
pack_results() {  # the logs in one archive; only the .txt summaries stay loose
  (cd "$OUT" && tar cJf results.tar.xz --exclude=results.tar.xz . && find . -type f ! -name results.tar.xz \
    ! -name '*.txt' -delete && find . -type d -empty -delete)
}
