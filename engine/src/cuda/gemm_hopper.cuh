// The Hopper (sm_90a) kernel of the batch-invariant products for large n (gemm_hopper.cu),
// called by launch_matmul_invariant_with (gemm_invariant.cu).
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// Whether the Hopper kernel takes input width `in`: in % 64 == 0 on a compute capability
// 9.0 device with an sm_90a build, unless REAM_GEMM_LARGE=mma is in the environment (read
// once; keeps the mma.sync tiled kernel, for measurements).
bool gemm_hopper_applies(int64_t in);

// y (n, out) = x @ w^T, bitwise the other batch-invariant kernels (gemm_math.cuh).
Status launch_gemm_hopper(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                          cudaStream_t stream);

}  // namespace ream::cuda
