// SwiGLU, the gate of Qwen3's MLP.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// out[i, j] = bf16(bf16(silu(gate_up[i, j])) * gate_up[i, width + j])
// gate_up (n, 2*width) bf16 (the fused [gate | up] projection), out (n, width) bf16.
// Twin: swiglu_cpu (with gate and up as the two halves).
Status launch_swiglu(const bf16* gate_up, int64_t n, int64_t width, bf16* out, cudaStream_t stream);

#if defined(__CUDACC__)
// bf16(silu(g)) * u in fp32 (the caller rounds the product): the one definition that the
// SwiGLU kernels and the gate/up product's fused epilogue (gemm_invariant.cu) share, so
// both give the same bits.
__device__ __forceinline__ float silu_mul(float g, float u) {
  return round_bf16(__fdiv_rn(g, 1.0f + expf(-g))) * u;
}
#endif

}  // namespace ream::cuda
