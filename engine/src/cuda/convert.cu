// Element-wise dtype conversion on the device: checkpoints in F32 or F16 are uploaded
// raw, chunk by chunk, and converted here (bf16 for matrices, fp32 for norm weights).
#include "cuda/convert.cuh"
#include "cuda/pdl.cuh"

#include <cuda_fp16.h>

namespace ream::cuda {
namespace {

// ---- kernels ----

__device__ __forceinline__ float load_as_f32(int dtype, const void* src, int64_t i) {
  switch (dtype) {
    case 0: return static_cast<const float*>(src)[i];
    case 1: return __half2float(static_cast<const __half*>(src)[i]);
    default: return __bfloat162float(static_cast<const bf16*>(src)[i]);
  }
}

__global__ void convert_to_bf16_kernel(int dtype, const void* __restrict__ src, int64_t n, bf16* __restrict__ dst) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(load_as_f32(dtype, src, i));
}

__global__ void convert_to_f32_kernel(int dtype, const void* __restrict__ src, int64_t n, float* __restrict__ dst) {
  pdl_launch_dependents();
  pdl_wait();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = load_as_f32(dtype, src, i);
}

int dtype_code(DType d) { return d == DType::kF32 ? 0 : d == DType::kF16 ? 1 : 2; }

unsigned grid_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(ceil_div(n, 256), 65535)); }

}  // namespace

// ---- launchers ----

Status launch_convert_to_bf16(DType dtype, const void* src, int64_t n, bf16* dst, cudaStream_t stream) {
  if (n == 0) return Status();
  convert_to_bf16_kernel<<<grid_for(n), 256, 0, stream>>>(dtype_code(dtype), src, n, dst);
  CUDA_CHECK_LAUNCH("convert_to_bf16_kernel");
  return Status();
}

Status launch_convert_to_f32(DType dtype, const void* src, int64_t n, float* dst, cudaStream_t stream) {
  if (n == 0) return Status();
  return launch_pdl("convert_to_f32_kernel", convert_to_f32_kernel, dim3(grid_for(n)), dim3(256), 0, stream,
                    dtype_code(dtype), src, n, dst);
}

}  // namespace ream::cuda
