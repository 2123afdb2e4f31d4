// RMSNorm over the fp32 residual stream, writing the bf16 input of the next matrix
// product; the fused variant first adds a sub-layer's fp32 output into the residual, so
// the stream is read once and written once. One block per row, float4 accesses.
#include "cuda/norm.cuh"

namespace ream::cuda {
namespace {

constexpr int kThreads = 256;

// ---- kernels ----

// kAdd: residual[row] += x[row] first (x may be null when !kAdd).
template <bool kAdd>
__global__ void __launch_bounds__(kThreads) rmsnorm_kernel(float* __restrict__ residual, const float* __restrict__ x,
                                                          const float* __restrict__ w, int64_t dim, float eps,
                                                          bf16* __restrict__ out) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* r = residual + row * dim;
  bf16* o = out + row * dim;
  float ss = 0.0f;
  if (dim % 4 == 0) {
    for (int64_t j = threadIdx.x * 4; j < dim; j += kThreads * 4) {
      float4 v = *reinterpret_cast<const float4*>(r + j);
      if (kAdd) {
        float4 a = *reinterpret_cast<const float4*>(x + row * dim + j);
        v.x += a.x; v.y += a.y; v.z += a.z; v.w += a.w;
        *reinterpret_cast<float4*>(r + j) = v;
      }
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) {
      float v = r[j];
      if (kAdd) {
        v += x[row * dim + j];
        r[j] = v;
      }
      ss += v * v;
    }
  }
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(dim) + eps);
  // Each thread re-reads only what it wrote itself, so no barrier is needed for `r`.
  if (dim % 4 == 0) {
    for (int64_t j = threadIdx.x * 4; j < dim; j += kThreads * 4) {
      float4 v = *reinterpret_cast<const float4*>(r + j);
      float4 g = *reinterpret_cast<const float4*>(w + j);
      uint2 packed;
      packed.x = pack_bf16x2(v.x * inv * g.x, v.y * inv * g.y);
      packed.y = pack_bf16x2(v.z * inv * g.z, v.w * inv * g.w);
      *reinterpret_cast<uint2*>(o + j) = packed;
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += kThreads) o[j] = __float2bfloat16(r[j] * inv * w[j]);
  }
}

}  // namespace

// ---- launchers ----

Status launch_rmsnorm(const float* x, const float* w, int64_t n, int64_t dim, float eps, bf16* out,
                      cudaStream_t stream) {
  if (n == 0) return Status();
  rmsnorm_kernel<false><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(const_cast<float*>(x), nullptr, w,
                                                                            dim, eps, out);
  CUDA_CHECK_LAUNCH("rmsnorm_kernel");
  return Status();
}

Status launch_add_rmsnorm(float* residual, const float* x, const float* w, int64_t n, int64_t dim, float eps,
                          bf16* out, cudaStream_t stream) {
  if (n == 0) return Status();
  rmsnorm_kernel<true><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(residual, x, w, dim, eps, out);
  CUDA_CHECK_LAUNCH("add_rmsnorm_kernel");
  return Status();
}

}  // namespace ream::cuda
