#!/usr/bin/env bash
# Builds the CUDA test programs and ream_bench here (where the Debian packages are) and
# packs them, with the shared libraries a bare GPU machine lacks, into .carry/gpu for
# tools/gpu_verify.sh to run there (that machine has CUDA 13 but no apt packages).
#
# usage: [BUILD=DIR] tools/pack_gpu.sh   then, on the GPU machine, from the repo root:
#        tools/gpu_verify.sh .carry/gpu .deps/tokenizer-qwen3 [tests|check|long|bench ...]
# BASE_BUILD=DIR (a CUDA build directory of another commit, e.g. main's) also copies that
# build's ream_bench and ream_cuda_bench into .carry/gpu/base, the baseline that the
# device scripts run in the same call (tools/device_run9.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
# BUILD=DIR packs from a CUDA build directory that exists already (the release build/ that
# scripts/test.sh makes where nvcc is installed), without configuring it again.
BUILD=${BUILD:-build-cuda}
if [ "$BUILD" = build-cuda ] || [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B $BUILD -G Ninja -DREAM_CUDA=ON -DREAM_BUILD_DAEMON=OFF -DCMAKE_BUILD_TYPE=Release -DREAM_CUDA_ARCHITECTURES=90a >/dev/null
fi
cmake --build $BUILD -j"$(nproc)" --target ream_bench ream_cuda_bench cuda_kernels_test cuda_attention_test \
  cuda_sampling_test cuda_backend_test cuda_golden_test cuda_constraint_test cuda_fused_test
rm -rf .carry/gpu && mkdir -p .carry/gpu
cp $BUILD/bench/ream_bench $BUILD/tests/cuda/ream_cuda_bench $BUILD/tests/cuda/cuda_*_test .carry/gpu/
if [ -n "${BASE_BUILD:-}" ]; then
  mkdir -p .carry/gpu/base
  cp "$BASE_BUILD"/bench/ream_bench "$BASE_BUILD"/tests/cuda/ream_cuda_bench .carry/gpu/base/
  strip .carry/gpu/base/*
fi
find .carry/gpu -maxdepth 1 -type f -exec strip {} +
# Libraries from Debian packages; CUDA's own (cudart, cuBLAS) are on the GPU machine.
ldd .carry/gpu/ream_bench | awk '/spdlog|fmt|utf8proc/ {print $3}' | xargs -r -I{} cp -L {} .carry/gpu/
ls -la .carry/gpu
