// SwiGLU over the fused gate/up projection: reads both halves of a row once, 16 bytes
// per thread per half, computes in fp32, writes bf16. Rounded as transformers' bf16
// `act_fn(gate) * up` is: silu(g) = g / (1 + exp(-g)) rounded to bf16, then the product.
#include "cuda/activation.cuh"

namespace ream::cuda {
namespace {

// ---- kernels ----

__device__ __forceinline__ float silu_mul(float g, float u) {
  return round_bf16(__fdiv_rn(g, 1.0f + expf(-g))) * u;
}

__global__ void swiglu_vec_kernel(const bf16* __restrict__ gate_up, int64_t n, int64_t width, bf16* __restrict__ out) {
  const int64_t vec_per_row = width / 8;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n * vec_per_row) return;
  const int64_t row = i / vec_per_row, col = (i % vec_per_row) * 8;
  const bf16* g = gate_up + row * 2 * width + col;
  uint4 gr = *reinterpret_cast<const uint4*>(g);
  uint4 ur = *reinterpret_cast<const uint4*>(g + width);
  const __nv_bfloat162* gh = reinterpret_cast<const __nv_bfloat162*>(&gr);
  const __nv_bfloat162* uh = reinterpret_cast<const __nv_bfloat162*>(&ur);
  uint4 res;
  uint32_t* r = reinterpret_cast<uint32_t*>(&res);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float2 gf = __bfloat1622float2(gh[k]), uf = __bfloat1622float2(uh[k]);
    r[k] = pack_bf16x2(silu_mul(gf.x, uf.x), silu_mul(gf.y, uf.y));
  }
  *reinterpret_cast<uint4*>(out + row * width + col) = res;
}

__global__ void swiglu_kernel(const bf16* __restrict__ gate_up, int64_t n, int64_t width, bf16* __restrict__ out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n * width) return;
  const int64_t row = i / width, col = i % width;
  const bf16* g = gate_up + row * 2 * width + col;
  out[i] = __float2bfloat16(silu_mul(__bfloat162float(g[0]), __bfloat162float(g[width])));
}

}  // namespace

// ---- launchers ----

Status launch_swiglu(const bf16* gate_up, int64_t n, int64_t width, bf16* out, cudaStream_t stream) {
  if (n * width == 0) return Status();
  if (width % 8 == 0) {
    const int64_t items = n * width / 8;
    swiglu_vec_kernel<<<static_cast<unsigned>(ceil_div(items, 256)), 256, 0, stream>>>(gate_up, n, width, out);
  } else {
    swiglu_kernel<<<static_cast<unsigned>(ceil_div(n * width, 256)), 256, 0, stream>>>(gate_up, n, width, out);
  }
  CUDA_CHECK_LAUNCH("swiglu_kernel");
  return Status();
}

}  // namespace ream::cuda
