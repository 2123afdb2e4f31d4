// RMSNorm over the bf16 residual stream, writing the bf16 input of the next matrix
// product; the fused variant first adds a sub-layer's bf16 output into the residual, so
// the stream is read once and written once. One block per row, 16-byte accesses.
//
// The roundings are those of a bf16 Qwen3 in transformers (Qwen3RMSNorm after a bf16
// residual add): r = bf16(r + x); n = bf16(r * rsqrt(mean(r^2) + eps)); out = bf16(w * n),
// with the mean of squares in fp32. Matching them, rather than rounding once, keeps ream
// within bf16 noise of the implementation people serve (docs/cuda_backend.md).
#include "cuda/norm.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kVec = 8;  // bf16 per 16-byte access

// ---- kernels ----

// kAdd: residual[row] = bf16(residual[row] + x[row]) first (x may be null when !kAdd).
template <bool kAdd>
__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(bf16* __restrict__ residual, const bf16* __restrict__ x,
                                                          const float* __restrict__ w, int64_t dim, float eps,
                                                          bf16* __restrict__ out) {
  __shared__ float scratch[32];
  pdl_launch_dependents();
  pdl_wait();
  const int64_t row = blockIdx.x;
  bf16* r = residual + row * dim;
  bf16* o = out + row * dim;
  float ss = 0.0f;
  const bool vec = dim % kVec == 0;
  if (vec) {
    for (int64_t j = threadIdx.x * kVec; j < dim; j += kThreads * kVec) {
      uint4 raw = *reinterpret_cast<const uint4*>(r + j);
      __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
      if (kAdd) {
        uint4 add = *reinterpret_cast<const uint4*>(x + row * dim + j);
        const __nv_bfloat162* ha = reinterpret_cast<const __nv_bfloat162*>(&add);
#pragma unroll
        for (int k = 0; k < kVec / 2; ++k) {
          const float2 a = __bfloat1622float2(h[k]), b = __bfloat1622float2(ha[k]);
          h[k] = __floats2bfloat162_rn(a.x + b.x, a.y + b.y);
        }
        *reinterpret_cast<uint4*>(r + j) = raw;
      }
#pragma unroll
      for (int k = 0; k < kVec / 2; ++k) {
        const float2 v = __bfloat1622float2(h[k]);
        ss += v.x * v.x + v.y * v.y;
      }
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      float v = __bfloat162float(r[j]);
      if (kAdd) {
        v = round_bf16(v + __bfloat162float(x[row * dim + j]));
        r[j] = __float2bfloat16_rn(v);
      }
      ss += v * v;
    }
  }
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss * (1.0f / static_cast<float>(dim)) + eps);
  // Each thread re-reads only what it wrote itself, so no barrier is needed for `r`.
  if (vec) {
    for (int64_t j = threadIdx.x * kVec; j < dim; j += kThreads * kVec) {
      uint4 raw = *reinterpret_cast<const uint4*>(r + j);
      const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
      uint4 res;
      uint32_t* packed = reinterpret_cast<uint32_t*>(&res);
#pragma unroll
      for (int k = 0; k < kVec / 2; ++k) {
        const float2 v = __bfloat1622float2(h[k]);
        packed[k] = pack_bf16x2(w[j + 2 * k] * round_bf16(v.x * inv), w[j + 2 * k + 1] * round_bf16(v.y * inv));
      }
      *reinterpret_cast<uint4*>(o + j) = res;
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += kThreads)
      o[j] = __float2bfloat16_rn(w[j] * round_bf16(__bfloat162float(r[j]) * inv));
  }
}

}  // namespace

// ---- launchers ----

Status launch_rmsnorm(const bf16* x, const float* w, int64_t n, int64_t dim, float eps, bf16* out,
                      cudaStream_t stream) {
  if (n == 0) return Status();
  return launch_pdl("rmsnorm_kernel", rmsnorm_kernel<false>, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0, stream,
                    const_cast<bf16*>(x), static_cast<const bf16*>(nullptr), w, dim, eps, out);
}

Status launch_add_rmsnorm(bf16* residual, const bf16* x, const float* w, int64_t n, int64_t dim, float eps,
                          bf16* out, cudaStream_t stream) {
  if (n == 0) return Status();
  return launch_pdl("add_rmsnorm_kernel", rmsnorm_kernel<true>, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0,
                    stream, residual, x, w, dim, eps, out);
}

}  // namespace ream::cuda
