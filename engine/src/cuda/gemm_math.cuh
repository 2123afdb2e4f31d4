// The canonical arithmetic of the batch-invariant matrix products (gemm_invariant.cu,
// gemm_stream.cu), shared so every kernel that computes an element does it with the same
// instructions in the same order.
//
// One element y[t][o] of y = x @ w^T, K in chunks of kChunk = 32 and segments of
// kSegK = 256:
//   total = 0
//   for each segment s:  p = 0
//                        for each 32-chunk of s: p = mma(x_t, w_o, p) twice (16 k each)
//                        total = total + p
// with mma = mma.sync.m16n8k16 (A = x rows, B = w rows) and a fixed k-slot assignment:
// a lane loads 8 consecutive k (16 bytes) of its A rows and B row, the first mma takes
// k {0-3} of each lane's 8 and the second {4-7} (mma_chunk). An element of an mma depends
// only on its own row of A, column of B and accumulator, so tiling, padding rows, which
// n8 tile a weight row sits in and the other rows of the batch change nothing.
//
// Only files under engine/src/cuda that build with nvcc include this header.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda::gemm_detail {

constexpr int kSegK = 256;  // K per segment (a multiple of kChunk)
constexpr int kChunk = 32;  // K per pair of mma

__device__ __forceinline__ void mma16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// One 32-k chunk: xg / xh = A rows g and g + 8, wv = B column g, each k [8 t4, 8 t4 + 8).
__device__ __forceinline__ void mma_chunk(float (&c)[4], const uint4& xg, const uint4& xh, const uint4& wv) {
  mma16816(c, xg.x, xh.x, xg.y, xh.y, wv.x, wv.y);
  mma16816(c, xg.z, xh.z, xg.w, xh.w, wv.z, wv.w);
}

__device__ __forceinline__ uint4 ld_stream(const bf16* p) {  // weights: read once, skip L1
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ uint4 ld16(const bf16* p) { return *reinterpret_cast<const uint4*>(p); }

// y[idx] (and y[idx + 1] when `two`): fp32, or rounded to bf16.
__device__ __forceinline__ void store_pair(void* y, bool y_f32, int64_t idx, float a, float b, bool two) {
  if (y_f32) {
    float* p = static_cast<float*>(y) + idx;
    if (two) *reinterpret_cast<float2*>(p) = make_float2(a, b);
    else p[0] = a;
  } else {
    bf16* p = static_cast<bf16*>(y) + idx;
    if (two) *reinterpret_cast<uint32_t*>(p) = pack_bf16x2(a, b);
    else p[0] = __float2bfloat16(a);
  }
}

}  // namespace ream::cuda::gemm_detail
