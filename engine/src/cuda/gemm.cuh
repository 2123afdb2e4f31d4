// Matrix products through cuBLAS: bf16 operands, fp32 accumulation.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// y (n, out) = x (n, in) @ w^T with w (out, in) row-major (nn.Linear), all row-major.
// x and w bf16; y fp32 when y_f32, else bf16. Accumulates in fp32. n <= 8 runs a GEMV
// kernel (16-byte aligned rows: in % 8 == 0), larger n cuBLAS. Twin: matmul_cpu.
Status launch_matmul(cublasHandle_t handle, const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out,
                     void* y, bool y_f32, cudaStream_t stream);

}  // namespace ream::cuda
