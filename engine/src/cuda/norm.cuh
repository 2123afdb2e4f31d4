// RMSNorm, alone and fused with the residual add, in the roundings of a bf16 transformers
// Qwen3 (norm.cu).
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// out[i] = bf16(w * bf16(x[i] / sqrt(mean(x[i]^2) + eps)))     x (n, dim) bf16, w (dim)
// fp32 (bf16 values), out (n, dim) bf16; fp32 arithmetic. Twin: rmsnorm_cpu (fp32, one
// rounding).
Status launch_rmsnorm(const bf16* x, const float* w, int64_t n, int64_t dim, float eps, bf16* out,
                      cudaStream_t stream);

// residual = bf16(residual + x); out = rmsnorm(residual) as above.     residual, x (n, dim)
// bf16. Twin: add_rmsnorm_cpu.
Status launch_add_rmsnorm(bf16* residual, const bf16* x, const float* w, int64_t n, int64_t dim, float eps,
                          bf16* out, cudaStream_t stream);

}  // namespace ream::cuda
