// SwiGLU over the fused gate/up projection: reads both halves of a row once, 16 bytes
// per thread per half, computes in fp32, writes bf16. Rounded as transformers' bf16
// `act_fn(gate) * up` is: silu(g) = g / (1 + exp(-g)) rounded to bf16, then the product.
#include "cuda/activation.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

// ---- kernels ----

__global__ void swiglu_vec_kernel(const bf16* __restrict__ gate_up, int64_t n, int64_t width, bf16* __restrict__ out) {
  pdl_launch_dependents();
  pdl_wait();
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
  pdl_launch_dependents();
  pdl_wait();
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
  if (width % 8 == 0)
    return launch_pdl("swiglu_vec_kernel", swiglu_vec_kernel, dim3(static_cast<unsigned>(ceil_div(n * width / 8, 256))),
                      dim3(256), 0, stream, gate_up, n, width, out);
  return launch_pdl("swiglu_kernel", swiglu_kernel, dim3(static_cast<unsigned>(ceil_div(n * width, 256))), dim3(256), 0,
                    stream, gate_up, n, width, out);
}

}  // namespace ream::cuda
