// Matrix products: bf16 operands, fp32 accumulation. launch_matmul: GEMV / cuBLAS, fastest,
// rounding depends on the row count; launch_matmul_invariant: ream's fixed-order kernels.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// y (n, out) = x (n, in) @ w^T with w (out, in) row-major (nn.Linear), all row-major.
// x and w bf16; y fp32 when y_f32, else bf16. Accumulates in fp32. n <= 8 runs a GEMV
// kernel (16-byte aligned rows: in % 8 == 0), larger n cuBLAS. Twin: matmul_cpu.
Status launch_matmul(cublasHandle_t handle, const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out,
                     void* y, bool y_f32, cudaStream_t stream);

// The same product, batch invariant: y[t] is bitwise the same for any n and any other rows
// of x (one fixed reduction order over K for every n; gemm_invariant.cu). Needs in % 32 == 0
// (else Unimplemented) and 16-byte aligned x and w. Twin: matmul_cpu.
Status launch_matmul_invariant(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                               cudaStream_t stream);

}  // namespace ream::cuda
