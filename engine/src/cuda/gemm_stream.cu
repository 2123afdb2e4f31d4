// The streaming small-n batch-invariant product (decode: n <= 32 rows), bitwise the other
// batch-invariant kernels: each element is gemm_math.cuh's canonical arithmetic.
//
// Session 4's small kernel ("rounds", gemm_invariant.cu) gives each warp one 256-k segment
// per round and adds the round's segment sums through shared memory behind a barrier, so
// a warp's loads stop at every round: the weights come in bursts with a latency gap in
// between. Here each warp streams its segments without stopping:
//   - a row tile is 8 T weight rows (T n8 tiles, T = 2 or 4) for all of K; a block takes
//     row tiles gridDim.x apart (the grid is what the GPU holds at once) and loads the next
//     tile's first weights before adding up the current one's segment sums; warp w takes
//     segments w, w + W, ...; a segment is T groups of 8 / T chunks, and two groups are
//     always in flight: while the warp multiplies one, the next one's loads are issued
//     (8 KB a warp either way);
//   - every segment sum goes to its own slot of shared memory (segments x 16 MT tokens x
//     8 T rows, fp32), so warps never wait for each other; one barrier at the end, then
//     each thread adds its elements' segment sums in segment order, as every kernel does;
//   - launched through launch_pdl (pdl.cuh): with programmatic dependent launch on
//     (REAM_PDL=1), a warp issues its first two groups' weight loads before waiting for
//     the previous kernel, so the weights stream while that kernel finishes.
// T = 4 ("wide") halves the re-reads of x per weight byte: at 32 rows, x fragments are
// 2 KB a warp per 32-k chunk, the weights 1 KB per 16 rows, so 16-row blocks move twice as
// many bytes from L2 as from DRAM. It is used at 17-32 rows where the wide blocks still
// fill the GPU twice over (the gate/up product and the LM head on an H100).
// The SwiGLU variant gives a block 4 T gate rows (tiles [0, T/2)) and the same 4 T up rows
// (tiles [T/2, T)); its epilogue rounds both sums to bf16 (what the product would store)
// and applies silu_mul (activation.cuh): the gate/up product and the SwiGLU kernel in one
// launch.
//
// Timing switches (environment, read once; never a change in the sums):
// REAM_GEMM_STREAM_PERSIST=0 gives each row tile a block of its own (default: as many
// blocks as fit the GPU at once, each looping over row tiles);
// REAM_GEMM_STREAM_WARPS caps the warps per block (default 8, at most 16);
// REAM_GEMM_STREAM_WIDE = auto (default) | always | never chooses T = 4 at 17-32 rows.
#include "cuda/gemm_stream.cuh"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cuda/activation.cuh"
#include "cuda/gemm_math.cuh"
#include "cuda/l2_prefetch.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

using namespace gemm_detail;

constexpr int kMaxWarps = 16;
constexpr int kChunksPerSeg = kSegK / kChunk;   // 8
constexpr int kMaxRows = 32;                    // n above this: another kernel
constexpr size_t kMaxSmem = size_t{100} << 10;  // segment sums per block (two blocks fit an SM)

// ---- device helpers ----

// Loads group `q` (chunks [q G, q G + G) of segment `seg`, G = 8 / T) of the T weight rows
// of this lane (zeros past `in` or past the last row).
template <int T>
__device__ __forceinline__ void load_group(uint4 (&buf)[kChunksPerSeg / T][T], const bf16* const (&wp)[T],
                                           const bool (&w_ok)[T], int seg, int q, int in) {
  constexpr int G = kChunksPerSeg / T;
  const int k0 = seg * kSegK + q * G * kChunk;
  const uint4 zero = make_uint4(0, 0, 0, 0);
#pragma unroll
  for (int ch = 0; ch < G; ++ch)
#pragma unroll
    for (int j = 0; j < T; ++j)
      buf[ch][j] = k0 + ch * kChunk < in && w_ok[j] ? ld_stream(wp[j] + k0 + ch * kChunk) : zero;
}

// c += group q's chunks, in chunk order (the canonical chain of a segment).
template <int MT, int T>
__device__ __forceinline__ void mma_group(float (&c)[MT][T][4], const uint4 (&buf)[kChunksPerSeg / T][T],
                                          const bf16* const (&xp)[MT][2], const bool (&x_ok)[MT][2], int seg, int q,
                                          int in) {
  constexpr int G = kChunksPerSeg / T;
  const int k0 = seg * kSegK + q * G * kChunk;
  const uint4 zero = make_uint4(0, 0, 0, 0);
#pragma unroll
  for (int ch = 0; ch < G; ++ch) {
    const int k = k0 + ch * kChunk;
    if (k >= in) break;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      const uint4 xg = x_ok[m][0] ? ld16(xp[m][0] + k) : zero;
      const uint4 xh = x_ok[m][1] ? ld16(xp[m][1] + k) : zero;
#pragma unroll
      for (int j = 0; j < T; ++j) mma_chunk(c[m][j], xg, xh, buf[ch][j]);
    }
  }
}

// ---- kernels ----

// Row tile bx: weight rows of T n8 tiles x tokens [t0, t0 + 16 MT). Plain: tile j = rows
// f0 + 8 j + [0, 8) of w, f0 = 8 T bx, output features the same. kSwiGLU (`out` = the
// intermediate width, w has 2 out rows): tile j < T/2 = gate rows f0 + 8 j + [0, 8), tile
// j >= T/2 = up rows out + f0 + 8 (j - T/2) + [0, 8), f0 = 4 T bx; output act features
// [f0, f0 + 4 T). A block takes row tiles blockIdx.x, blockIdx.x + gridDim.x, ... (the
// grid is at most what the GPU holds at once: no waves), and issues the next tile's first
// two groups of weight loads before it adds up the current tile's segment sums, so its
// warps' loads never stop between tiles. Needs blockDim.x / 32 <= the segment count.
// Dynamic shared memory: segments x 128 MT T floats.
template <int MT, int T, bool kSwiGLU>
__global__ void __launch_bounds__(kMaxWarps * 32) gemm_stream_kernel(const bf16* __restrict__ x,
                                                                     const bf16* __restrict__ w, int n, int in,
                                                                     int out, void* __restrict__ y, bool y_f32,
                                                                     L2Prefetch pf) {
  constexpr int G = kChunksPerSeg / T;  // chunks per group; T groups per segment
  constexpr int kCols = 8 * T;          // weight rows of a row tile
  constexpr int kElems = 16 * MT * kCols;
  constexpr int kFeatures = kSwiGLU ? kCols / 2 : kCols;  // output features of a row tile
  extern __shared__ float part[];  // [segment][token_local * kCols + row_local]
  const int n_warps = blockDim.x >> 5;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t4 = lane & 3;
  const int t0 = blockIdx.y * 16 * MT;
  const int n_seg = (in + kSegK - 1) / kSegK;
  const int n_row_tiles = (out + kFeatures - 1) / kFeatures;
  // This lane's T weight rows of row tile bx.
  const bf16* wp[T];
  bool w_ok[T];
  auto set_rows = [&](int bx) {
    const int f0 = bx * kFeatures;
#pragma unroll
    for (int j = 0; j < T; ++j) {
      int row;
      if (kSwiGLU) {
        const int f = f0 + 8 * (j % (T / 2)) + g;
        w_ok[j] = f < out;
        row = (j < T / 2 ? 0 : out) + min(f, out - 1);
      } else {
        w_ok[j] = f0 + 8 * j + g < out;
        row = min(f0 + 8 * j + g, out - 1);
      }
      wp[j] = w + static_cast<int64_t>(row) * in + 8 * t4;
    }
  };
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

  // The warp's groups of a row tile in order: group i is group i % T of segment warp + (i / T) W.
  const int my_segs = (n_seg - warp + n_warps - 1) / n_warps;
  const int n_groups = my_segs * T;
  auto seg_of = [&](int i) { return warp + (i / T) * n_warps; };
  uint4 a[G][T], b[G][T];  // groups i (even) and i + 1 in flight
  int bx = blockIdx.x;
  set_rows(bx);
  load_group<T>(a, wp, w_ok, seg_of(0), 0, in);
  load_group<T>(b, wp, w_ok, seg_of(1), 1 % T, in);
  pdl_wait();  // the first weights are in flight; x is the previous kernel's output
  for (;;) {
    const int f0 = bx * kFeatures;
    float c[MT][T][4];
    for (int i = 0; i < n_groups; i += 2) {  // T is even: i and i + 1 share a segment
      const int seg = seg_of(i);
      if (i % T == 0) {
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int j = 0; j < T; ++j) c[m][j][0] = c[m][j][1] = c[m][j][2] = c[m][j][3] = 0.0f;
      }
      mma_group<MT, T>(c, a, xp, x_ok, seg, i % T, in);
      if (i + 2 < n_groups) load_group<T>(a, wp, w_ok, seg_of(i + 2), (i + 2) % T, in);
      mma_group<MT, T>(c, b, xp, x_ok, seg, (i + 1) % T, in);
      if (i + 3 < n_groups) load_group<T>(b, wp, w_ok, seg_of(i + 3), (i + 3) % T, in);
      if ((i + 2) % T == 0) {  // the segment is complete
        float* dst = part + static_cast<size_t>(seg) * kElems;
#pragma unroll
        for (int m = 0; m < MT; ++m)
#pragma unroll
          for (int j = 0; j < T; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e)
              dst[(m * 16 + g + 8 * (e >> 1)) * kCols + j * 8 + 2 * t4 + (e & 1)] = c[m][j][e];
      }
    }
    const int next = bx + static_cast<int>(gridDim.x);
    if (next < n_row_tiles) {  // the next tile's weights stream while this one is added up
      set_rows(next);
      load_group<T>(a, wp, w_ok, seg_of(0), 0, in);
      load_group<T>(b, wp, w_ok, seg_of(1), 1 % T, in);
    } else {
      // Every weight load of this block is issued: the next kernel may be scheduled (it
      // then takes the SM slots this grid frees; an early trigger held slots while waiting),
      // and the memory may start on the next products' weights (l2_prefetch.cuh).
      pdl_launch_dependents();
      if (warp == 0 && blockIdx.y == 0) prefetch_l2_share(pf, blockIdx.x, gridDim.x);
    }
    __syncthreads();

    if (!kSwiGLU) {
      for (int e = threadIdx.x; e < kElems; e += blockDim.x) {
        float total = 0.0f;
        for (int s = 0; s < n_seg; ++s) total = __fadd_rn(total, part[s * kElems + e]);
        const int t = t0 + e / kCols, o = f0 + e % kCols;
        if (t < n && o < out) store_pair(y, y_f32, static_cast<int64_t>(t) * out + o, total, 0.0f, false);
      }
    } else {
      constexpr int kHalfCols = kCols / 2;
      for (int e = threadIdx.x; e < kElems / 2; e += blockDim.x) {
        const int tl = e / kHalfCols, f = e % kHalfCols;
        float gate = 0.0f, up = 0.0f;
        for (int s = 0; s < n_seg; ++s) {
          gate = __fadd_rn(gate, part[s * kElems + tl * kCols + f]);
          up = __fadd_rn(up, part[s * kElems + tl * kCols + kHalfCols + f]);
        }
        const int t = t0 + tl;
        if (t < n && f0 + f < out)
          static_cast<bf16*>(y)[static_cast<int64_t>(t) * out + f0 + f] =
              __float2bfloat16(silu_mul(round_bf16(gate), round_bf16(up)));
      }
    }
    if (next >= n_row_tiles) break;
    bx = next;
    __syncthreads();  // the segment sums are read: the next tile may write its own
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

int segments(int in) { return (in + kSegK - 1) / kSegK; }

int g_block_cap = 0;  // set_gemm_stream_block_cap

// Whether a launch takes only as many blocks as fit the GPU at once (default) or one per
// row tile (REAM_GEMM_STREAM_PERSIST=0, the kernel's earlier grid; a timing switch).
bool persistent() {
  static const bool v = [] {
    const char* env = std::getenv("REAM_GEMM_STREAM_PERSIST");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  return v;
}

size_t smem_bytes(int n, int in, int t) {
  const int mt = n <= 16 ? 1 : 2;
  return static_cast<size_t>(segments(in)) * 16 * mt * 8 * t * sizeof(float);
}

int sm_count() {
  static const int v = [] {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) !=
                                                  cudaSuccess) {
      cudaGetLastError();
      return 132;
    }
    return sms;
  }();
  return v;
}

// Whether a product of n rows takes the wide blocks (T = 4); `blocks` is their count.
bool use_wide(int n, int in, int64_t blocks) {
  static const int mode = [] {  // 0 auto, 1 always, 2 never
    const char* env = std::getenv("REAM_GEMM_STREAM_WIDE");
    if (env && std::strcmp(env, "always") == 0) return 1;
    if (env && std::strcmp(env, "never") == 0) return 2;
    return 0;
  }();
  if (mode == 2 || smem_bytes(n, in, 4) > kMaxSmem) return false;
  return mode == 1 || (n > 16 && blocks >= 2 * static_cast<int64_t>(sm_count()));
}

template <int MT, int T, bool kSwiGLU>
Status launch(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32, const L2Prefetch& pf,
              cudaStream_t stream) {
  const size_t smem = smem_bytes(n, in, T);
  auto kernel = gemm_stream_kernel<MT, T, kSwiGLU>;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const int per_block = kSwiGLU ? 4 * T : 8 * T;
  const int threads = 32 * stream_warps(segments(in));
  const int row_tiles = ceil_div(out, per_block), token_tiles = ceil_div(n, 16 * MT);
  // As many blocks as the GPU holds at once (each then loops over row tiles), or one per
  // row tile with REAM_GEMM_STREAM_PERSIST=0.
  int blocks_x = row_tiles;
  if (persistent()) {
    int per_sm = 0;
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem));
    const int fit = std::max(1, per_sm * sm_count() / token_tiles);
    blocks_x = std::min(row_tiles, fit);
  }
  if (g_block_cap > 0) blocks_x = std::min(blocks_x, g_block_cap);
  const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(token_tiles));
  return launch_pdl(kSwiGLU ? "gemm_stream_swiglu_kernel" : "gemm_stream_kernel", kernel, grid, dim3(threads), smem,
                    stream, x, w, n, in, out, y, y_f32, pf);
}

template <bool kSwiGLU>
Status launch_any(StreamWidth width, const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                  const L2Prefetch& pf, cudaStream_t stream) {
  if (!gemm_stream_applies(n, in)) return internal_error("gemm_stream: not applicable to these dimensions");
  const bool wide = width == StreamWidth::kWide ||
                    (width == StreamWidth::kAuto && use_wide(n, in, ceil_div(out, kSwiGLU ? 16 : 32)));
  if (wide && smem_bytes(n, in, 4) > kMaxSmem)
    return internal_error("gemm_stream: the wide blocks' segment sums do not fit shared memory");
  if (n <= 16) {
    if (wide) return launch<1, 4, kSwiGLU>(x, w, n, in, out, y, y_f32, pf, stream);
    return launch<1, 2, kSwiGLU>(x, w, n, in, out, y, y_f32, pf, stream);
  }
  if (wide) return launch<2, 4, kSwiGLU>(x, w, n, in, out, y, y_f32, pf, stream);
  return launch<2, 2, kSwiGLU>(x, w, n, in, out, y, y_f32, pf, stream);
}

}  // namespace

// ---- launchers ----

bool gemm_stream_applies(int n, int in) {
  return n >= 1 && n <= kMaxRows && in > 0 && in % kChunk == 0 && smem_bytes(n, in, 2) <= kMaxSmem;
}

void set_gemm_stream_block_cap(int blocks) { g_block_cap = std::max(0, blocks); }

bool gemm_stream_wide_fits(int n, int in) { return gemm_stream_applies(n, in) && smem_bytes(n, in, 4) <= kMaxSmem; }

Status launch_gemm_stream(StreamWidth width, const bf16* x, const bf16* w, int n, int in, int out, void* y,
                          bool y_f32, cudaStream_t stream, const L2Prefetch& pf) {
  return launch_any<false>(width, x, w, n, in, out, y, y_f32, pf, stream);
}

Status launch_gemm_stream_swiglu(StreamWidth width, const bf16* x, const bf16* w_gate_up, int n, int in, int inter,
                                 bf16* act, cudaStream_t stream, const L2Prefetch& pf) {
  return launch_any<true>(width, x, w_gate_up, n, in, inter, act, false, pf, stream);
}

}  // namespace ream::cuda
