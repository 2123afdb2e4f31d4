// RMSNorm, alone and fused with the residual add.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// out[i] = bf16(x[i] / sqrt(mean(x[i]^2) + eps) * w)      x (n, dim) fp32, w (dim) fp32,
// out (n, dim) bf16. Twin: rmsnorm_cpu.
Status launch_rmsnorm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bf16* out,
                      cudaStream_t stream);

// residual += x; out = bf16(rmsnorm(residual) * w)        residual, x (n, dim) fp32.
// Twin: add_rmsnorm_cpu.
Status launch_add_rmsnorm(float* residual, const float* x, const float* w, int64_t n, int64_t dim, float eps,
                          bf16* out, cudaStream_t stream);

}  // namespace ream::cuda
