// Batch-invariant matrix products y = x @ w^T (bf16 operands, fp32 accumulation): every
// element y[t][o] is computed by the same sequence of floating-point operations whatever
// the number of rows n (the canonical arithmetic of gemm_math.cuh), so a token's result
// never depends on what else is in its step.
//
// Four kernels share that arithmetic:
//   - n <= 32 (decode, the LM head): the streaming kernel (gemm_stream.cu);
//   - small n up to 128, and n <= 32 where the streaming kernel does not apply ("rounds",
//     session 4's kernel): a block owns 16 output features; its warps take one K segment
//     each per round, park the segment sums in shared memory, and the block adds them in
//     segment order after every round;
//   - large n (prefill): 128 x 128 tiles, 8 warps of 64 tokens x 32 features, K tiles of
//     64 brought into shared memory by cp.async (4 stages), segment sums kept in registers;
//     on Hopper (sm_90a) the wgmma kernel of gemm_hopper.cu takes its place (bitwise the
//     same, 1.7-1.9x faster; REAM_GEMM_LARGE=mma keeps the mma.sync kernel).
// All of them are launched through launch_pdl (pdl.cuh: programmatic dependent launch,
// opt-in with REAM_PDL=1); the small ones then load their first weights before waiting
// for the previous kernel.
#include "cuda/gemm.cuh"

#include <cstdlib>
#include <cstring>

#include "cuda/activation.cuh"
#include "cuda/gemm_math.cuh"
#include "cuda/gemm_hopper.cuh"
#include "cuda/gemm_stream.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

using namespace gemm_detail;

constexpr int kSmallMaxWarps = 8;
constexpr int kSmallTokens = 64;  // tokens per small-kernel block (4 m16 tiles)
constexpr int kTileT = 128, kTileO = 128, kTileK = 64, kStages = 4;
constexpr int kLargeThreads = 256;
constexpr size_t kLargeSmem = size_t{kStages} * (kTileT + kTileO) * kTileK * sizeof(bf16);  // 128 KiB

// ---- device helpers ----

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
}

// ---- kernels ----

// Block: 16 output features [o0, o0 + 16) (two n8 tiles) x tokens [t0, t0 + 16 MT); warp w
// takes segments w, w + W, ... (W warps); round by round the segment sums are added in
// segment order.
template <int MT>
__global__ void __launch_bounds__(kSmallMaxWarps * 32) gemm_small_kernel(const bf16* __restrict__ x,
                                                                        const bf16* __restrict__ w, int n, int in,
                                                                        int out, void* __restrict__ y, bool y_f32) {
  constexpr int kElems = 16 * 16 * MT;  // (token, feature) pairs of the block
  __shared__ float part[kSmallMaxWarps][kElems];
  pdl_launch_dependents();
  const int n_warps = blockDim.x >> 5;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
  const int o0 = blockIdx.x * 16, t0 = blockIdx.y * kSmallTokens;
  const int n_seg = (in + kSegK - 1) / kSegK;
  const uint4 zero = make_uint4(0, 0, 0, 0);
  const bool w_ok[2] = {o0 + g < out, o0 + 8 + g < out};
  const bf16* wp[2] = {w + static_cast<int64_t>(min(o0 + g, out - 1)) * in + 8 * t4,
                       w + static_cast<int64_t>(min(o0 + 8 + g, out - 1)) * in + 8 * t4};
  bool x_ok[MT][2];
  const bf16* xp[MT][2];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int t = t0 + m * 16 + h * 8 + g;
      x_ok[m][h] = t < n;
      xp[m][h] = x + static_cast<int64_t>(min(t, n - 1)) * in + 8 * t4;
    }
  constexpr int kPerThreadMax = (kElems + 31) / 32;  // blockDim >= 32
  float total[kPerThreadMax];
#pragma unroll
  for (int i = 0; i < kPerThreadMax; ++i) total[i] = 0.0f;

  for (int r = 0; r * n_warps < n_seg; ++r) {
    const int seg = r * n_warps + warp;
    if (seg < n_seg) {
      float c[MT][2][4];
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < 2; ++j) c[m][j][0] = c[m][j][1] = c[m][j][2] = c[m][j][3] = 0.0f;
      const int k0 = seg * kSegK;
      const int n_ch = (min(in, k0 + kSegK) - k0) / kChunk;
      uint4 wv[kSegK / kChunk][2];
#pragma unroll
      for (int ch = 0; ch < kSegK / kChunk; ++ch)
#pragma unroll
        for (int j = 0; j < 2; ++j)
          wv[ch][j] = ch < n_ch && w_ok[j] ? ld_stream(wp[j] + k0 + ch * kChunk) : zero;
      if (r == 0) pdl_wait();  // the first weights are in flight; now x may be read
#pragma unroll
      for (int ch = 0; ch < kSegK / kChunk; ++ch) {
        if (ch >= n_ch) break;
#pragma unroll
        for (int m = 0; m < MT; ++m) {
          const uint4 xg = x_ok[m][0] ? ld16(xp[m][0] + k0 + ch * kChunk) : zero;
          const uint4 xh = x_ok[m][1] ? ld16(xp[m][1] + k0 + ch * kChunk) : zero;
#pragma unroll
          for (int j = 0; j < 2; ++j) mma_chunk(c[m][j], xg, xh, wv[ch][j]);
        }
      }
      // part[warp][token_local * 16 + feature_local]
#pragma unroll
      for (int m = 0; m < MT; ++m)
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int tl = m * 16 + g + 8 * (e >> 1), fl = j * 8 + 2 * t4 + (e & 1);
            part[warp][tl * 16 + fl] = c[m][j][e];
          }
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < kPerThreadMax; ++i) {
      const int e = threadIdx.x + i * blockDim.x;
      if (e >= kElems) continue;
      for (int v = 0; v < n_warps && r * n_warps + v < n_seg; ++v) total[i] = __fadd_rn(total[i], part[v][e]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kPerThreadMax; ++i) {
    const int e = threadIdx.x + i * blockDim.x;
    if (e >= kElems) continue;
    const int t = t0 + e / 16, o = o0 + e % 16;
    if (t < n && o < out) store_pair(y, y_f32, static_cast<int64_t>(t) * out + o, total[i], 0.0f, false);
  }
}

// Block: tokens [t0, t0 + 128) x features [o0, o0 + 128). Warp (wt, wo) in a 2 x 4 grid owns
// 64 tokens x 32 features: 4 m16 tiles x 4 n8 tiles. Shared memory per stage: x then w,
// each [2 chunks][128 rows][32 k] (64-byte rows: the 16-byte fragment loads of a quarter
// warp hit 8 distinct bank groups).
__global__ void __launch_bounds__(kLargeThreads, 1) gemm_large_kernel(const bf16* __restrict__ x,
                                                                     const bf16* __restrict__ w, int n, int in,
                                                                     int out, void* __restrict__ y, bool y_f32) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sm = reinterpret_cast<bf16*>(smem_raw);
  pdl_launch_dependents();
  pdl_wait();
  constexpr int kStageElems = (kTileT + kTileO) * kTileK;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
  const int wt = warp >> 2, wo = warp & 3;
  const int t0 = blockIdx.y * kTileT, o0 = blockIdx.x * kTileO;
  const int n_chunks = in / kChunk;
  const int n_ktiles = (in + kTileK - 1) / kTileK;

  auto load_stage = [&](int stage, int kt) {
    bf16* base = sm + stage * kStageElems;
    // 2 operands x 128 rows x 2 chunks x 4 pieces of 16 bytes = 2048 pieces, 8 per thread.
#pragma unroll
    for (int i = 0; i < (2 * 128 * 2 * 4) / kLargeThreads; ++i) {
      const int idx = tid + i * kLargeThreads;
      const int op = idx >> 10, rem = idx & 1023;
      const int row = rem >> 3, ch = (rem >> 2) & 1, piece = rem & 3;
      const int k = kt * kTileK + ch * kChunk + piece * 8;
      const int grow = (op == 0 ? t0 : o0) + row;
      const int lim = op == 0 ? n : out;
      const bool valid = grow < lim && k < in;
      const bf16* src = (op == 0 ? x : w) + (valid ? static_cast<int64_t>(grow) * in + k : 0);
      bf16* dst = base + op * (kTileT * kTileK) + (ch * 128 + row) * kChunk + piece * 8;
      cp_async16(dst, src, valid);
    }
  };

  float p[4][4][4], total[4][4][4];
#pragma unroll
  for (int m = 0; m < 4; ++m)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) p[m][j][e] = total[m][j][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < n_ktiles) load_stage(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int kt = 0; kt < n_ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();
    if (kt + kStages - 1 < n_ktiles) load_stage((kt + kStages - 1) % kStages, kt + kStages - 1);
    asm volatile("cp.async.commit_group;\n" ::);
    const bf16* xs = sm + (kt % kStages) * kStageElems;
    const bf16* ws = xs + kTileT * kTileK;
#pragma unroll
    for (int ch = 0; ch < 2; ++ch) {
      const int q = kt * 2 + ch;
      if (q >= n_chunks) break;
      uint4 wv[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) wv[j] = ld16(ws + (ch * 128 + wo * 32 + j * 8 + g) * kChunk + 8 * t4);
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        const uint4 xg = ld16(xs + (ch * 128 + wt * 64 + m * 16 + g) * kChunk + 8 * t4);
        const uint4 xh = ld16(xs + (ch * 128 + wt * 64 + m * 16 + 8 + g) * kChunk + 8 * t4);
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_chunk(p[m][j], xg, xh, wv[j]);
      }
      if ((q + 1) % (kSegK / kChunk) == 0 || q + 1 == n_chunks) {
#pragma unroll
        for (int m = 0; m < 4; ++m)
#pragma unroll
          for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              total[m][j][e] = __fadd_rn(total[m][j][e], p[m][j][e]);
              p[m][j][e] = 0.0f;
            }
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  const bool pairs = out % 2 == 0;
#pragma unroll
  for (int m = 0; m < 4; ++m)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int t = t0 + wt * 64 + m * 16 + h * 8 + g;
      if (t >= n) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int o = o0 + wo * 32 + j * 8 + 2 * t4;
        if (o >= out) continue;
        const int64_t idx = static_cast<int64_t>(t) * out + o;
        if (pairs) {
          store_pair(y, y_f32, idx, total[m][j][2 * h], total[m][j][2 * h + 1], true);
        } else {
          store_pair(y, y_f32, idx, total[m][j][2 * h], 0.0f, false);
          if (o + 1 < out) store_pair(y, y_f32, idx + 1, total[m][j][2 * h + 1], 0.0f, false);
        }
      }
    }
}

// Warps per small-kernel block: a divisor of the segment count in [4, 8] when there is
// one (no idle warps in the last round), else 8. Changes timing only, never the sums.
int small_warps(int n_seg) {
  if (n_seg <= kSmallMaxWarps) return n_seg;
  for (int v = kSmallMaxWarps; v >= 4; --v)
    if (n_seg % v == 0) return v;
  return kSmallMaxWarps;
}

template <int MT>
Status launch_small(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32, cudaStream_t stream) {
  const int n_seg = (in + kSegK - 1) / kSegK;
  const dim3 grid(static_cast<unsigned>(ceil_div(out, 16)), static_cast<unsigned>(ceil_div(n, kSmallTokens)));
  return launch_pdl("gemm_small_kernel", gemm_small_kernel<MT>, grid, dim3(32 * small_warps(n_seg)), 0, stream, x, w,
                    n, in, out, y, y_f32);
}

Status launch_rounds(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32, cudaStream_t stream) {
  if (n <= 16) return launch_small<1>(x, w, n, in, out, y, y_f32, stream);
  if (n <= 32) return launch_small<2>(x, w, n, in, out, y, y_f32, stream);
  return launch_small<4>(x, w, n, in, out, y, y_f32, stream);
}

// The small-n kernel launch_matmul_invariant uses: REAM_GEMM_SMALL=rounds in the
// environment keeps session 4's kernel for n <= 32 (read once, for measurements).
SmallGemm default_small_gemm() {
  static const SmallGemm v = [] {
    const char* env = std::getenv("REAM_GEMM_SMALL");
    return env && std::strcmp(env, "rounds") == 0 ? SmallGemm::kRounds : SmallGemm::kStream;
  }();
  return v;
}

Status check_dims(int64_t n, int64_t in, int64_t out) {
  if (in % kChunk != 0 || in <= 0)
    return unimplemented("batch-invariant matmul needs the input width to be a multiple of 32, not " +
                         std::to_string(in));
  if (n > INT32_MAX / 2 || in > INT32_MAX / 2 || out > INT32_MAX / 2)
    return invalid_argument("matmul: dimensions exceed the 32-bit range");
  return Status();
}

// The streaming kernel's width for a choice of small kernel; false: not the streaming kernel.
bool stream_width(SmallGemm small, int n, int in, StreamWidth* width) {
  if (small == SmallGemm::kAuto) small = default_small_gemm();
  if (small == SmallGemm::kRounds || n > kSmallGemmMaxRows || !gemm_stream_applies(n, in)) return false;
  *width = StreamWidth::kAuto;
  if (small == SmallGemm::kStreamNarrow) *width = StreamWidth::kNarrow;
  if (small == SmallGemm::kStreamWide) *width = gemm_stream_wide_fits(n, in) ? StreamWidth::kWide : StreamWidth::kNarrow;
  return true;
}

}  // namespace

// ---- launchers ----

Status launch_matmul_invariant_with(SmallGemm small, const bf16* x, const bf16* w, int64_t n, int64_t in,
                                    int64_t out, void* y, bool y_f32, cudaStream_t stream, bf16* scratch,
                                    int64_t scratch_elems, const L2Prefetch& pf) {
  if (n == 0 || out == 0) return Status();
  REAM_RETURN_IF_ERROR(check_dims(n, in, out));
  const int ni = static_cast<int>(n), ii = static_cast<int>(in), oi = static_cast<int>(out);
  if (n <= kSmallGemmMaxRows) {
    StreamWidth width;
    if (stream_width(small, ni, ii, &width)) return launch_gemm_stream(width, x, w, ni, ii, oi, y, y_f32, stream, pf);
    return launch_rounds(x, w, ni, ii, oi, y, y_f32, stream);
  }
  return launch_matmul_invariant_large(LargeGemm::kAuto, x, w, n, in, out, y, y_f32, stream, scratch, scratch_elems);
}

Status launch_matmul_invariant_large(LargeGemm large, const bf16* x, const bf16* w, int64_t n, int64_t in,
                                     int64_t out, void* y, bool y_f32, cudaStream_t stream, bf16* scratch,
                                     int64_t scratch_elems) {
  if (n == 0 || out == 0) return Status();
  REAM_RETURN_IF_ERROR(check_dims(n, in, out));
  const int ni = static_cast<int>(n), ii = static_cast<int>(in), oi = static_cast<int>(out);
  const bool hopper = large == LargeGemm::kHopper || (large == LargeGemm::kAuto && gemm_hopper_by_default());
  if (hopper && gemm_hopper_supported(in))
    return launch_gemm_hopper(x, w, ni, ii, oi, y, y_f32, stream, scratch, scratch_elems);
  if (large == LargeGemm::kHopper) return unimplemented("the Hopper matmul kernel needs sm_90a and in % 64 == 0");
  CUDA_CHECK(cudaFuncSetAttribute(gemm_large_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(kLargeSmem)));
  const dim3 grid(static_cast<unsigned>(ceil_div(out, kTileO)), static_cast<unsigned>(ceil_div(n, kTileT)));
  return launch_pdl("gemm_large_kernel", gemm_large_kernel, grid, dim3(kLargeThreads), kLargeSmem, stream, x, w, ni, ii,
                    oi, y, y_f32);
}

Status launch_matmul_invariant(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                               cudaStream_t stream, bf16* scratch, int64_t scratch_elems, const L2Prefetch& pf) {
  return launch_matmul_invariant_with(SmallGemm::kAuto, x, w, n, in, out, y, y_f32, stream, scratch, scratch_elems,
                                      pf);
}

Status launch_matmul_swiglu_invariant_with(SmallGemm small, const bf16* x, const bf16* w_gate_up, int64_t n,
                                           int64_t in, int64_t inter, bf16* gate_up, bf16* act, cudaStream_t stream,
                                           const L2Prefetch& pf) {
  if (n == 0 || inter == 0) return Status();
  REAM_RETURN_IF_ERROR(check_dims(n, in, 2 * inter));
  const int ni = static_cast<int>(n), ii = static_cast<int>(in);
  StreamWidth width;
  if (stream_width(small, ni, ii, &width))
    return launch_gemm_stream_swiglu(width, x, w_gate_up, ni, ii, static_cast<int>(inter), act, stream, pf);
  REAM_RETURN_IF_ERROR(
      launch_matmul_invariant_with(small, x, w_gate_up, n, in, 2 * inter, gate_up, false, stream, act, n * inter));
  return launch_swiglu(gate_up, n, inter, act, stream);
}

Status launch_matmul_swiglu_invariant(const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in, int64_t inter,
                                      bf16* gate_up, bf16* act, cudaStream_t stream, const L2Prefetch& pf) {
  return launch_matmul_swiglu_invariant_with(SmallGemm::kAuto, x, w_gate_up, n, in, inter, gate_up, act, stream, pf);
}

}  // namespace ream::cuda
