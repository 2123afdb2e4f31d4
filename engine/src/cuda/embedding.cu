// Embedding lookup (bf16 table -> fp32 residual stream) and bf16 row gathers (the rows of
// the sequences that sample, before the LM head). One block per output row; 16-byte
// accesses when the width allows.
#include "cuda/embedding.cuh"

namespace ream::cuda {
namespace {

// ---- kernels ----

__global__ void embedding_kernel(const bf16* __restrict__ table, const int32_t* __restrict__ ids, int64_t dim,
                                 float* __restrict__ out) {
  const int64_t row = blockIdx.x;
  const bf16* src = table + static_cast<int64_t>(ids[row]) * dim;
  float* dst = out + row * dim;
  if (dim % 8 == 0) {
    for (int64_t j = threadIdx.x * 8; j < dim; j += blockDim.x * 8) {
      uint4 raw = *reinterpret_cast<const uint4*>(src + j);
      const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
      float4 a, b;
      float2 f0 = __bfloat1622float2(h[0]), f1 = __bfloat1622float2(h[1]);
      float2 f2 = __bfloat1622float2(h[2]), f3 = __bfloat1622float2(h[3]);
      a = make_float4(f0.x, f0.y, f1.x, f1.y);
      b = make_float4(f2.x, f2.y, f3.x, f3.y);
      *reinterpret_cast<float4*>(dst + j) = a;
      *reinterpret_cast<float4*>(dst + j + 4) = b;
    }
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) dst[j] = __bfloat162float(src[j]);
  }
}

__global__ void gather_rows_kernel(const bf16* __restrict__ src, const int32_t* __restrict__ rows, int64_t dim,
                                   bf16* __restrict__ out) {
  const int64_t row = blockIdx.x;
  const bf16* s = src + static_cast<int64_t>(rows[row]) * dim;
  bf16* d = out + row * dim;
  if (dim % 8 == 0) {
    for (int64_t j = threadIdx.x * 8; j < dim; j += blockDim.x * 8)
      *reinterpret_cast<uint4*>(d + j) = *reinterpret_cast<const uint4*>(s + j);
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) d[j] = s[j];
  }
}

}  // namespace

// ---- launchers ----

Status launch_embedding(const bf16* table, const int32_t* ids, int64_t n, int64_t dim, float* out,
                        cudaStream_t stream) {
  if (n == 0) return Status();
  embedding_kernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(table, ids, dim, out);
  CUDA_CHECK_LAUNCH("embedding_kernel");
  return Status();
}

Status launch_gather_rows(const bf16* src, const int32_t* rows, int64_t n, int64_t dim, bf16* out,
                          cudaStream_t stream) {
  if (n == 0) return Status();
  gather_rows_kernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(src, rows, dim, out);
  CUDA_CHECK_LAUNCH("gather_rows_kernel");
  return Status();
}

}  // namespace ream::cuda
