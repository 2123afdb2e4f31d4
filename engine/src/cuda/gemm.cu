// Matrix products y = x @ w^T (bf16 operands, fp32 accumulation).
//
// Few rows (decode: one row per sequence, n <= 8): a GEMV kernel, one warp per output
// feature, streaming the weight row with 16-byte loads (4 in flight per lane) and
// reusing each one for all n rows of x; the weights are read once at close to memory
// bandwidth, which bounds batch-1 decode. Its SwiGLU variant (launch_matmul_swiglu) gives
// a warp a gate row and its up row and writes SwiGLU's output: one launch fewer a layer.
// More rows: cuBLAS (cublasGemmEx, CUBLAS_COMPUTE_32F). cuBLAS is column-major:
// row-major y (n, out) is column-major y^T (out, n) = W (out, in) x^T (in, n); row-major
// W (out, in) is column-major (in, out), hence op(A) = T, and row-major x (n, in) is
// column-major (in, n), hence op(B) = N. The handle carries a fixed workspace (set by the
// backend) so products can be captured into CUDA graphs.
#include "cuda/gemm.cuh"

#include "cuda/activation.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

constexpr int kGemvMaxRows = 8;
constexpr int kGemvWarps = 8;
constexpr int kGemvUnroll = 4;

// ---- kernels ----

__device__ __forceinline__ float dot8(const uint4& a, const uint4& b) {
  const __nv_bfloat162* ah = reinterpret_cast<const __nv_bfloat162*>(&a);
  const __nv_bfloat162* bh = reinterpret_cast<const __nv_bfloat162*>(&b);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __bfloat1622float2(ah[i]), y = __bfloat1622float2(bh[i]);
    s = fmaf(x.x, y.x, s);
    s = fmaf(x.y, y.y, s);
  }
  return s;
}

// Weights are read once: stream them past L1 (ld.global.cs would evict early from L2 too;
// L1::no_allocate keeps x, which every warp re-reads, in L1).
__device__ __forceinline__ uint4 ld_stream(const bf16* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// One warp per output feature `row`. kSwiGLU: `out` is the intermediate width, the warp
// takes gate row `row` and up row out + row of w (2 out rows) and writes
// act = bf16(silu_mul(bf16(gate), bf16(up))), what the product into bf16 and the SwiGLU
// kernel give; each row's sums are the same operations in the same order either way.
template <int N, bool kSwiGLU>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                                              int64_t in, int64_t out, void* __restrict__ y,
                                                              bool y_f32) {
  constexpr int R = kSwiGLU ? 2 : 1;  // weight rows per warp
  pdl_launch_dependents();
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  if (row >= out) return;
  const bf16* wr[R];
  wr[0] = w + row * in;
  if (kSwiGLU) wr[R - 1] = w + (out + row) * in;
  float acc[R][N];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int n = 0; n < N; ++n) acc[r][n] = 0.0f;
  constexpr int64_t kStep = 32 * 8 * kGemvUnroll;
  // The first weights are loaded before waiting for x (PDL): they overlap the previous kernel.
  uint4 wv[R][kGemvUnroll];
  if (kStep <= in) {
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int u = 0; u < kGemvUnroll; ++u) wv[r][u] = ld_stream(wr[r] + (u * 32 + lane) * 8);
  }
  pdl_wait();
  int64_t k0 = 0;
  for (; k0 + kStep <= in; k0 += kStep) {
    if (k0 > 0) {
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int u = 0; u < kGemvUnroll; ++u) wv[r][u] = ld_stream(wr[r] + k0 + (u * 32 + lane) * 8);
    }
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) {
      const int64_t k = k0 + (u * 32 + lane) * 8;
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int n = 0; n < N; ++n) acc[r][n] += dot8(wv[r][u], *reinterpret_cast<const uint4*>(x + n * in + k));
    }
  }
  for (int64_t k = k0 + lane * 8; k < in; k += 32 * 8) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const uint4 v = ld_stream(wr[r] + k);
#pragma unroll
      for (int n = 0; n < N; ++n) acc[r][n] += dot8(v, *reinterpret_cast<const uint4*>(x + n * in + k));
    }
  }
#pragma unroll
  for (int n = 0; n < N; ++n) {
    float s[R];
#pragma unroll
    for (int r = 0; r < R; ++r) s[r] = warp_sum(acc[r][n]);
    if (lane == 0) {
      if (kSwiGLU)
        static_cast<bf16*>(y)[n * out + row] = __float2bfloat16(silu_mul(round_bf16(s[0]), round_bf16(s[R - 1])));
      else if (y_f32) static_cast<float*>(y)[n * out + row] = s[0];
      else static_cast<bf16*>(y)[n * out + row] = __float2bfloat16(s[0]);
    }
  }
}

template <bool kSwiGLU, int N>
Status launch_gemv(const bf16* x, const bf16* w, int64_t in, int64_t out, void* y, bool y_f32, cudaStream_t stream) {
  return launch_pdl(kSwiGLU ? "gemv_swiglu_kernel" : "gemv_kernel", gemv_kernel<N, kSwiGLU>,
                    dim3(static_cast<unsigned>(ceil_div(out, kGemvWarps))), dim3(kGemvWarps * 32), 0, stream, x, w, in,
                    out, y, y_f32);
}

template <bool kSwiGLU>
Status launch_gemv_rows(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                        cudaStream_t stream) {
  switch (n) {
    case 1: return launch_gemv<kSwiGLU, 1>(x, w, in, out, y, y_f32, stream);
    case 2: return launch_gemv<kSwiGLU, 2>(x, w, in, out, y, y_f32, stream);
    case 3: return launch_gemv<kSwiGLU, 3>(x, w, in, out, y, y_f32, stream);
    case 4: return launch_gemv<kSwiGLU, 4>(x, w, in, out, y, y_f32, stream);
    case 5: return launch_gemv<kSwiGLU, 5>(x, w, in, out, y, y_f32, stream);
    case 6: return launch_gemv<kSwiGLU, 6>(x, w, in, out, y, y_f32, stream);
    case 7: return launch_gemv<kSwiGLU, 7>(x, w, in, out, y, y_f32, stream);
    default: return launch_gemv<kSwiGLU, 8>(x, w, in, out, y, y_f32, stream);
  }
}

}  // namespace

// ---- launchers ----

Status launch_matmul(cublasHandle_t handle, const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out,
                     void* y, bool y_f32, cudaStream_t stream) {
  if (n == 0 || out == 0) return Status();
  if (n <= kGemvMaxRows && in % 8 == 0) return launch_gemv_rows<false>(x, w, n, in, out, y, y_f32, stream);
  if (n > INT32_MAX || in > INT32_MAX || out > INT32_MAX)
    return invalid_argument("matmul: dimensions exceed the 32-bit range of cuBLAS");
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_CHECK(cublasSetStream(handle, stream));
  CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(n),
                            static_cast<int>(in), &alpha, w, CUDA_R_16BF, static_cast<int>(in), x, CUDA_R_16BF,
                            static_cast<int>(in), &beta, y, y_f32 ? CUDA_R_32F : CUDA_R_16BF,
                            static_cast<int>(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return Status();
}

Status launch_matmul_swiglu(cublasHandle_t handle, const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in,
                            int64_t inter, bf16* gate_up, bf16* act, cudaStream_t stream) {
  if (n == 0 || inter == 0) return Status();
  if (n <= kGemvMaxRows && in % 8 == 0) return launch_gemv_rows<true>(x, w_gate_up, n, in, inter, act, false, stream);
  REAM_RETURN_IF_ERROR(launch_matmul(handle, x, w_gate_up, n, in, 2 * inter, gate_up, false, stream));
  return launch_swiglu(gate_up, n, inter, act, stream);
}

}  // namespace ream::cuda
