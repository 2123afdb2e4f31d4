// The Hopper (sm_90a) kernel of the batch-invariant products for large n (gemm_hopper.cu),
// called by launch_matmul_invariant_with (gemm_invariant.cu).
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// Whether the Hopper kernel can take input width `in`: in % 64 == 0 on a compute
// capability 9.0 device with an sm_90a build.
bool gemm_hopper_supported(int64_t in);

// Whether launch_matmul_invariant uses it (where supported): yes unless REAM_GEMM_LARGE=mma
// in the environment (read once). Bitwise the mma.sync kernel and 2.0-2.4x its speed on
// the H100 (session 13: 388-463 against ~195 TFLOP/s on Qwen3-4B's prefill products).
bool gemm_hopper_by_default();

// y (n, out) = x @ w^T, bitwise the other batch-invariant kernels (gemm_math.cuh).
// `scratch` (room for scratch_elems bf16, at least n * in): where the swapped variants put
// x's slot-order copy; without it (or too small) they use a buffer of the process's own,
// grown outside graph capture (tests, benchmarks).
Status launch_gemm_hopper(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                          cudaStream_t stream, bf16* scratch = nullptr, int64_t scratch_elems = 0);

// The kernel's ways of filling its stages and waiting for its products (gemm_hopper.cu):
// for benchmarks and tests. -1 restores the default (REAM_GEMM_HOPPER_VARIANT, else 10).
int gemm_hopper_variants();
void set_gemm_hopper_variant(int variant);
// False for the one variant that is not the canonical arithmetic (natural k order, a
// measurement of what the slot order costs).
bool gemm_hopper_variant_canonical(int variant);

}  // namespace ream::cuda
