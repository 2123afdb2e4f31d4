// SwiGLU, the gate of Qwen3's MLP.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// out[i, j] = bf16(bf16(silu(gate_up[i, j])) * gate_up[i, width + j])
// gate_up (n, 2*width) bf16 (the fused [gate | up] projection), out (n, width) bf16.
// Twin: swiglu_cpu (with gate and up as the two halves).
Status launch_swiglu(const bf16* gate_up, int64_t n, int64_t width, bf16* out, cudaStream_t stream);

}  // namespace ream::cuda
