// The streaming small-n batch-invariant product (decode: n <= 32 rows), bitwise the other
// batch-invariant kernels: each element is gemm_math.cuh's canonical arithmetic.
//
// Session 4's small kernel ("rounds", gemm_invariant.cu) gives each warp one 256-k segment
// per round and adds the round's segment sums through shared memory behind a barrier, so
// a warp's loads stop at every round: the weights come in bursts with a latency gap in
// between. Here each warp streams its segments without stopping:
//   - a block owns 16 weight rows (two n8 tiles) for all of K; warp w takes segments w,
//     w + W, ... and keeps both halves (4 chunks each) of a segment in flight: while it
//     multiplies one half, the next half's loads are issued;
//   - every segment sum goes to its own slot of shared memory (segments x 16 MT tokens x
//     16 rows, fp32), so warps never wait for each other; one barrier at the end, then
//     each thread adds its elements' segment sums in segment order, as every kernel does;
//   - launched with programmatic dependent launch (pdl.cuh): a warp issues its first
//     segment's weight loads before waiting for the previous kernel, so the weights
//     stream while that kernel finishes.
// The SwiGLU variant gives a block 8 gate rows (tile 0) and the same 8 up rows (tile 1),
// and its epilogue rounds both sums to bf16 (what the product would store) and applies
// silu_mul (activation.cuh): the gate/up product and the SwiGLU kernel in one launch.
//
// REAM_GEMM_STREAM_WARPS (environment, read once; default 8, at most 16) caps the warps
// per block: a timing choice, never a change in the sums.
#include "cuda/gemm_stream.cuh"

#include <algorithm>
#include <cstdlib>

#include "cuda/activation.cuh"
#include "cuda/gemm_math.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

using namespace gemm_detail;

constexpr int kMaxWarps = 16;
constexpr int kHalf = kSegK / kChunk / 2;          // chunks per half segment
constexpr int kMaxRows = 32;                       // n above this: another kernel
constexpr size_t kMaxSmem = size_t{100} << 10;     // segment sums per block (two blocks fit an SM)

// ---- device helpers ----

// Loads half `half` of segment `seg` of the two weight rows (zeros past `in` or past the
// last row).
__device__ __forceinline__ void load_half(uint4 (&buf)[kHalf][2], const bf16* const (&wp)[2], const bool (&w_ok)[2],
                                          int seg, int half, int in) {
  const int k0 = seg * kSegK + half * kHalf * kChunk;
  const uint4 zero = make_uint4(0, 0, 0, 0);
#pragma unroll
  for (int ch = 0; ch < kHalf; ++ch)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      buf[ch][j] = k0 + ch * kChunk < in && w_ok[j] ? ld_stream(wp[j] + k0 + ch * kChunk) : zero;
}

// c += this half's chunks, in chunk order (the canonical chain of a segment).
template <int MT>
__device__ __forceinline__ void mma_half(float (&c)[MT][2][4], const uint4 (&buf)[kHalf][2],
                                         const bf16* const (&xp)[MT][2], const bool (&x_ok)[MT][2], int seg, int half,
                                         int in) {
  const int k0 = seg * kSegK + half * kHalf * kChunk;
  const uint4 zero = make_uint4(0, 0, 0, 0);
#pragma unroll
  for (int ch = 0; ch < kHalf; ++ch) {
    const int k = k0 + ch * kChunk;
    if (k >= in) break;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      const uint4 xg = x_ok[m][0] ? ld16(xp[m][0] + k) : zero;
      const uint4 xh = x_ok[m][1] ? ld16(xp[m][1] + k) : zero;
#pragma unroll
      for (int j = 0; j < 2; ++j) mma_chunk(c[m][j], xg, xh, buf[ch][j]);
    }
  }
}

// ---- kernels ----

// Block: weight rows row0[j] + g of tile j (j = 0, 1) x tokens [t0, t0 + 16 MT). Plain:
// rows [o0, o0 + 16) of w, output features the same. kSwiGLU: tile 0 = gate rows
// [f0, f0 + 8), tile 1 = up rows inter + [f0, f0 + 8); output act features [f0, f0 + 8).
// Needs blockDim.x / 32 <= the segment count. Dynamic shared memory: segments x 256 MT floats.
template <int MT, bool kSwiGLU>
__global__ void __launch_bounds__(kMaxWarps * 32) gemm_stream_kernel(const bf16* __restrict__ x,
                                                                     const bf16* __restrict__ w, int n, int in,
                                                                     int out, void* __restrict__ y, bool y_f32) {
  constexpr int kElems = 16 * 16 * MT;  // (token, row) pairs of the block
  extern __shared__ float part[];       // [segment][token_local * 16 + row_local]
  pdl_launch_dependents();
  const int n_warps = blockDim.x >> 5;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
  const int t0 = blockIdx.y * 16 * MT;
  const int n_seg = (in + kSegK - 1) / kSegK;
  // kSwiGLU: `out` is the intermediate width (act's row length); w has 2 * out rows.
  const int f0 = kSwiGLU ? blockIdx.x * 8 : blockIdx.x * 16;
  int row[2];
  bool w_ok[2];
  if (kSwiGLU) {
    w_ok[0] = w_ok[1] = f0 + g < out;
    row[0] = min(f0 + g, out - 1);
    row[1] = out + row[0];
  } else {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      w_ok[j] = f0 + 8 * j + g < out;
      row[j] = min(f0 + 8 * j + g, out - 1);
    }
  }
  const bf16* const wp[2] = {w + static_cast<int64_t>(row[0]) * in + 8 * t4,
                             w + static_cast<int64_t>(row[1]) * in + 8 * t4};
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

  uint4 lo[kHalf][2], hi[kHalf][2];  // the two halves of the segment in flight
  load_half(lo, wp, w_ok, warp, 0, in);
  load_half(hi, wp, w_ok, warp, 1, in);
  pdl_wait();  // the first weights are in flight; x is the previous kernel's output
  for (int seg = warp; seg < n_seg; seg += n_warps) {
    float c[MT][2][4];
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int j = 0; j < 2; ++j) c[m][j][0] = c[m][j][1] = c[m][j][2] = c[m][j][3] = 0.0f;
    const int next = seg + n_warps;
    mma_half<MT>(c, lo, xp, x_ok, seg, 0, in);
    if (next < n_seg) load_half(lo, wp, w_ok, next, 0, in);
    mma_half<MT>(c, hi, xp, x_ok, seg, 1, in);
    if (next < n_seg) load_half(hi, wp, w_ok, next, 1, in);
    float* dst = part + static_cast<size_t>(seg) * kElems;
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) dst[(m * 16 + g + 8 * (e >> 1)) * 16 + j * 8 + 2 * t4 + (e & 1)] = c[m][j][e];
  }
  __syncthreads();

  if (!kSwiGLU) {
    for (int e = threadIdx.x; e < kElems; e += blockDim.x) {
      float total = 0.0f;
      for (int s = 0; s < n_seg; ++s) total = __fadd_rn(total, part[s * kElems + e]);
      const int t = t0 + e / 16, o = f0 + e % 16;
      if (t < n && o < out) store_pair(y, y_f32, static_cast<int64_t>(t) * out + o, total, 0.0f, false);
    }
  } else {
    for (int e = threadIdx.x; e < kElems / 2; e += blockDim.x) {
      const int tl = e / 8, f = e % 8;
      float gate = 0.0f, up = 0.0f;
      for (int s = 0; s < n_seg; ++s) {
        gate = __fadd_rn(gate, part[s * kElems + tl * 16 + f]);
        up = __fadd_rn(up, part[s * kElems + tl * 16 + 8 + f]);
      }
      const int t = t0 + tl;
      if (t < n && f0 + f < out)
        static_cast<bf16*>(y)[static_cast<int64_t>(t) * out + f0 + f] =
            __float2bfloat16(silu_mul(round_bf16(gate), round_bf16(up)));
    }
  }
}

// ---- host helpers ----

int max_warps() {
  static const int v = [] {
    const char* env = std::getenv("REAM_GEMM_STREAM_WARPS");
    const int w = env ? std::atoi(env) : 8;
    return std::clamp(w, 1, kMaxWarps);
  }();
  return v;
}

// As few rounds as the cap allows, spread evenly: ceil(n_seg / ceil(n_seg / cap)) warps.
int stream_warps(int n_seg) {
  const int rounds = (n_seg + max_warps() - 1) / max_warps();
  return (n_seg + rounds - 1) / rounds;
}

size_t smem_bytes(int n, int in) {
  const int mt = n <= 16 ? 1 : 2;
  return static_cast<size_t>((in + kSegK - 1) / kSegK) * 256 * mt * sizeof(float);
}

template <int MT, bool kSwiGLU>
Status launch(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32, cudaStream_t stream) {
  const int n_seg = (in + kSegK - 1) / kSegK;
  const size_t smem = smem_bytes(n, in);
  auto kernel = gemm_stream_kernel<MT, kSwiGLU>;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const dim3 grid(static_cast<unsigned>(ceil_div(out, kSwiGLU ? 8 : 16)), static_cast<unsigned>(ceil_div(n, 16 * MT)));
  return launch_pdl(kSwiGLU ? "gemm_stream_swiglu_kernel" : "gemm_stream_kernel", kernel, grid,
                    dim3(32 * stream_warps(n_seg)), smem, stream, x, w, n, in, out, y, y_f32);
}

}  // namespace

// ---- launchers ----

bool gemm_stream_applies(int n, int in) {
  return n >= 1 && n <= kMaxRows && in > 0 && in % kChunk == 0 && smem_bytes(n, in) <= kMaxSmem;
}

Status launch_gemm_stream(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                          cudaStream_t stream) {
  if (!gemm_stream_applies(n, in)) return internal_error("gemm_stream: not applicable to these dimensions");
  if (n <= 16) return launch<1, false>(x, w, n, in, out, y, y_f32, stream);
  return launch<2, false>(x, w, n, in, out, y, y_f32, stream);
}

Status launch_gemm_stream_swiglu(const bf16* x, const bf16* w_gate_up, int n, int in, int inter, bf16* act,
                                 cudaStream_t stream) {
  if (!gemm_stream_applies(n, in)) return internal_error("gemm_stream_swiglu: not applicable to these dimensions");
  if (n <= 16) return launch<1, true>(x, w_gate_up, n, in, inter, act, false, stream);
  return launch<2, true>(x, w_gate_up, n, in, inter, act, false, stream);
}

}  // namespace ream::cuda
