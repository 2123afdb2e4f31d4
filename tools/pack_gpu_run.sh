#!/usr/bin/env bash
# Packs `ream` built with CUDA and the workflow libraries (REAM_BUILD_DAEMON on, reamd
# off), the shipped plugins, the libraries from Debian packages a bare GPU machine lacks,
# and the longest CUAD contract into .carry/gpu-run, for tools/device_run14.sh there.
#
# usage: tools/pack_gpu_run.sh [BUILD_DIR]   (default build-cuda; configured here if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-cuda}
# A build directory that exists already (build/ of scripts/test.sh, with CUDA) is used as it is.
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DREAM_CUDA=ON -DREAM_BUILD_DAEMON=ON -DREAM_BUILD_REAMD=OFF \
    -DCMAKE_BUILD_TYPE=Release -DREAM_CUDA_ARCHITECTURES=90a >/dev/null
fi
PLUGINS=(legal_review summarize long_qa financial_diligence code_audit)
cmake --build "$BUILD" -j"$(nproc)" --target ream "${PLUGINS[@]/#/ream_plugin_}"
D=.carry/gpu-run
rm -rf "$D" && mkdir -p "$D"
cp "$BUILD/cli/ream" "$D/"
for p in "${PLUGINS[@]}"; do cp "$BUILD/plugins/$p.so" "$D/"; done
strip "$D"/ream "$D"/*.so
# Every library the binary loads that is not the C runtime's or CUDA's (those are there).
ldd "$D/ream" | awk '$3 ~ /^\// {print $3}' |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so|libcuda|libcudart|libcublas' |
  xargs -r -I{} cp -L {} "$D/"
SHARED=${SHARED_DATA:-../shared/data}
cp "$SHARED/cuad/contracts/MANUFACTURERSSERVICESLTD_06_05_2000-EX-10.14-OUTSOURCING AGREEMENT.txt" "$D/"
du -sh "$D"; ls "$D"
