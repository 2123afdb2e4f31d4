// The batch-invariant matrix product for large n on Hopper (sm_90a): the tiled kernel's
// sums (gemm_math.cuh's canonical arithmetic, bit for bit) with wgmma instead of mma.sync.
//
// A block computes 128 tokens x 128 features. Warps 0-3 (the producer warpgroup) bring K
// tiles of 64 into a ring of stages (the default: 6; x by TMA, the weights through their
// registers, see Producer below); warps 4-7 and 8-11 (two consumer warpgroups) own 64
// tokens each and run wgmma.m64n128k16 with x as register A-fragments and the weights from
// shared memory.
//
// Why the weights are permuted on their way into shared memory: the canonical arithmetic
// gives each mma.m16n8k16 of a 32-k chunk a fixed assignment of k to its 16 slots (chosen
// so that a lane's 16-byte load of 8 consecutive k feeds its fragment registers directly):
// mma m (0, 1) of chunk c puts, in slot 8h + 2i + e (h, e in {0, 1}, i in 0..3),
//     k = 32c + 8i + 4m + 2h + e.
// x enters as register fragments, loaded exactly as the mma.sync kernel loads them. The
// weights enter wgmma from shared memory, where slot s of a k16 slice is the s-th element
// of each row: so the producers copy each 4-byte k pair to the place of its slot. In the
// 64-k stage (128 bytes a row, 128-byte swizzle as TMA writes it), 16-byte chunk q = 4c +
// 2m + h of a row holds the pairs i = 0..3 of slots 8h.., i.e. k = 32c + 8i + 4m + 2h.
// wgmma j = 2c + m reads bytes [32j, 32j + 32) of every row: its slots in order.
//
// wgmma and mma.sync sum a 16-k product alike (session 3 found the attention kernels, one
// on each, bitwise equal; tests/cuda/fused_test.cpp holds this kernel to the mma.sync one on
// every shape it is used for). Segments of 256 k are summed into a fresh accumulator and
// added to the total in order, as gemm_math.cuh says.
//
// Preconditions (gemm_hopper_supported): in % 64 == 0, a device of compute capability 9.0
// and a build with the sm_90a target. The backend uses it for every invariant product of
// more than kSmallGemmMaxRows rows on such a device (REAM_GEMM_LARGE=mma keeps the
// mma.sync kernel).
//
// Measured on the H100 (session 7, `ream_cuda_bench gemm`, Qwen3-4B's prefill products at
// 4,096 and 8,192 tokens; cuBLAS ~780-810 in the same call):
//   - session 6's producer (cp.async of each 4-byte pair, kCopy4): ~128 TFLOP/s, below
//     the mma.sync kernel's ~195: each warp instruction touched 8 rows' cache lines for
//     128 bytes of data;
//   - kStaged (coalesced 16-byte loads, pairs stored from registers): ~300-340;
//   - the consumers' pipelining adds nothing by itself (~1%), six stages ~3% (variant 4:
//     303-342 TFLOP/s, 1.6-1.75x the mma.sync kernel);
//   - kNatural16 (no permutation at all, wrong sums): ~275-287, so the permutation is no
//     longer what costs;
//   - Nsight Compute on variant 4 (gate_up, 4,096 tokens): tensor pipe 33% busy; the
//     consumers spend about half their time waiting for a full stage, the producers for
//     their weight loads; x's cp.asyncs took 2x their ideal shared-memory wavefronts;
//   - so x by TMA and three stages of weight loads in flight (variant 6): 327-377 TFLOP/s
//     against variant 4's 273-306 in the same call (+16-21%; 1.7-1.9x the mma.sync
//     kernel). A 131,072-token invariant prefill: 16.03 s (mma.sync), 14.57 s (variant 4),
//     14.08 s (variant 6). Still producer-bound (tensor pipe 37%, the consumers wait for
//     full stages about a third of their samples);
//   - session 9: the weights by TMA into a staging ring that the producers permute
//     shared-to-shared (kTmaW). With the consumers waiting for all their products (variant
//     8, the default): 364-401 TFLOP/s against variant 6's 330-377 in the same call; with
//     pipelined consumers (variant 7) only ~245, which the ring's fourth stage does not
//     feed. The 131,072-token prefill: 13.98 s (variant 8) against 14.11 s (variant 6).
//   - session 13: the swapped product (variants 10-13, below: x copied into slot order
//     once per product, both operands by TMA, no producer copies). Same call, 4,096 /
//     8,192 tokens, the copy of x included: qkv 426 / 425 TFLOP/s against variant 8's 357 /
//     361, o 397 / 403 against 370 / 374, gate_up 463 / 457 against 373 / 374, down 415 /
//     388 against 397 / 401 (cuBLAS 772-817). Pipelined consumers and six stages
//     (11-13) within a few percent either way. Whole invariant prefill, variant 10 then 8
//     on one machine (one binary): 4,096 tokens 0.09 / 0.10 s, 32,768 1.37 / 1.46 s,
//     131,072 13.70 / 14.02 s. Variant 10 is the default.
#include "cuda/gemm.cuh"
#include "cuda/gemm_math.cuh"
#include "cuda/hopper.cuh"
#include "cuda/pdl.cuh"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace ream::cuda {
namespace {

using namespace gemm_detail;  // NOLINT
using namespace hopper;       // NOLINT

constexpr int kTokens = 128, kFeatures = 128, kTileK = 64;
constexpr int kThreads = 384;
constexpr int kStageBytes = kFeatures * kTileK * 2;  // 16 KiB of weights; x's stage is the same size
static_assert(kTokens * kTileK * 2 == kStageBytes, "x and w stages are the same size");
// x and the weights per stage, and kTmaW's staging ring (`buffers` 3).
constexpr size_t smem_bytes(int stages, int buffers = 2) {
  return 1024 /*alignment slack*/ + size_t(buffers) * stages * kStageBytes + 256;
}

// How a block fills its weight stages and waits for its products (set_gemm_hopper_variant;
// every variant but the kNatural16 one is bitwise the canonical arithmetic):
//   producer: kCopy4  - cp.async of each 4-byte k pair to its slot (session 6);
//             kStaged - 16-byte coalesced loads into registers, each pair stored to its slot
//                       (kDepth stages of loads in flight);
//             kNatural16 - 16-byte cp.async in natural k order: NOT the canonical slots, a
//                       measurement of what the permutation costs (results differ);
//             kStagedTmaX - kStaged for the weights, x by TMA (one thread issues a stage's
//                       two boxes a stage ahead of the weights);
//             kTmaW - x and the weights by TMA (natural order, into a staging ring as deep
//                       as the stages), the producers permuting each stage's weights
//                       shared-to-shared: no load latency in their way;
//   consumer: wait for every stage's products (kWaitAll), or keep one stage in flight and
//             wait only where a segment ends (kPipelined).
enum Producer { kCopy4 = 0, kStaged = 1, kNatural16 = 2, kStagedTmaX = 3, kTmaW = 4 };

// x's tensor map (kStagedTmaX, kTmaW): rows of `in` bf16, boxes of 32 k x 128 rows, so a
// stage's two boxes land as the [2 chunks][128 tokens][32 k] layout the consumers read;
// the weights' (kTmaW): boxes of 64 k x 128 rows, natural order, no swizzle.
struct XMap {
  CUtensorMap map;
  CUtensorMap w_map;
};

// Registers per thread after setmaxnreg (see attention_hopper.cu's HopperRegs): the staged
// producers hold two or three stages of weights (64 or 96 registers) in flight.
template <int kProducer>
constexpr int kProducerRegs = kProducer == kStaged || kProducer == kStagedTmaX ? 152 : kProducer == kTmaW ? 56 : 40;
template <int kProducer>
constexpr int kConsumerRegs = kProducer == kStaged || kProducer == kStagedTmaX ? 176 : kProducer == kTmaW ? 224 : 232;
static_assert(128 * (168 - kProducerRegs<0>) >= 256 * (kConsumerRegs<0> - 168), "setmaxnreg.inc would never return");
static_assert(128 * (168 - kProducerRegs<kStaged>) >= 256 * (kConsumerRegs<kStaged> - 168),
              "setmaxnreg.inc would never return");
static_assert(128 * (168 - kProducerRegs<kTmaW>) >= 256 * (kConsumerRegs<kTmaW> - 168),
              "setmaxnreg.inc would never return");
static_assert(kSegK % kTileK == 0, "a segment ends with a stage");

#ifdef REAM_SM90A_DEVICE
__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 4 : 0) : "memory");
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
// The mbarrier's phase completes (for this thread's arrival) when its cp.asyncs so far land.
__device__ __forceinline__ void cp_async_arrive(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
// K-major operand, 128-byte swizzle: start address, stride between 8-row groups (1024).
__device__ __forceinline__ uint64_t desc_k_major(uint32_t addr) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(16 >> 4) << 16) |
         (static_cast<uint64_t>(1024 >> 4) << 32) | (1ull << 62);
}

// d (64 x 128, fp32) += a (64 x 16, registers: each warp's 16 rows as the mma.m16n8k16
// A-fragment) b^T (b: 128 rows x 16, shared memory, K-major).
#define REAM_D8(i) "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])
__device__ __forceinline__ void wgmma_n128(float (&d)[16][4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                           uint64_t db) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
      : REAM_D8(0), REAM_D8(1), REAM_D8(2), REAM_D8(3), REAM_D8(4), REAM_D8(5), REAM_D8(6), REAM_D8(7),
        REAM_D8(8), REAM_D8(9), REAM_D8(10), REAM_D8(11), REAM_D8(12), REAM_D8(13), REAM_D8(14), REAM_D8(15)
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(db), "r"(1));
}
#undef REAM_D8
#endif  // REAM_SM90A_DEVICE

// grid (token tiles, feature tiles): the token tiles of one feature tile run side by side,
// so a weight tile is read from memory about once and x stays in L2.
template <int kProducer, bool kPipelined, int kStages, int kDepth>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_hopper_kernel(const bf16* __restrict__ x, const bf16* __restrict__ w, int n, int in, int out,
                       void* __restrict__ y, bool y_f32, const __grid_constant__ XMap xmap) {
#ifdef REAM_SM90A_DEVICE
  constexpr bool kTmaX = kProducer == kStagedTmaX;
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t w_s = base;                           // [kStages][128 features x 128 bytes] swizzled, permuted k
  const uint32_t x_s = w_s + kStages * kStageBytes;    // [kStages][2 chunks][128 tokens][32 k]
  const uint32_t raw_s = x_s + kStages * kStageBytes;  // kTmaW: [kStages][128 features x 128 bytes], natural k
  const uint32_t bars = raw_s + (kProducer == kTmaW ? kStages * kStageBytes : 0);  // full, empty, tma_full
  auto full = [&](int st) { return bars + 8u * st; };
  auto empty = [&](int st) { return bars + 8u * (kStages + st); };
  auto tma_full = [&](int st) { return bars + 8u * (2 * kStages + st); };
  const unsigned char* smem_gen = smem_raw + (base - smem_u32(smem_raw));  // generic pointer to `base`

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int t0 = blockIdx.x * kTokens, o0 = blockIdx.y * kFeatures;
  const int n_ktiles = in / kTileK;

  if (tid == 0) {
    for (int st = 0; st < kStages; ++st) {
      // every producer thread's cp.asyncs, and with kStaged its stores too
      // (kStagedTmaX: the stores' 128 and the TMA issuer's expect_tx)
      mbar_init(full(st), kProducer == kStaged ? 256 : kTmaX ? 129 : 128);
      mbar_init(empty(st), 8);  // one arrival per consumer warp
      if (kProducer == kTmaW) mbar_init(tma_full(st), 1);  // the issuer's expect_tx
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  pdl_launch_dependents();
  pdl_wait();

  if (warp < 4) {  // ---- producers ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs<kProducer>));
    // x: 128 tokens x 2 chunks x 4 pieces of 16 bytes, 8 per thread (the tiled kernel's layout).
    auto copy_x = [&](int st, int k0) {
      const uint32_t xs = x_s + st * kStageBytes;
#pragma unroll
      for (int it = 0; it < 8; ++it) {
        const int idx = tid + 128 * it;
        const int row = idx >> 3, ch = (idx >> 2) & 1, piece = idx & 3;
        const bool ok = t0 + row < n;
        const bf16* src = x + (ok ? static_cast<int64_t>(t0 + row) * in + k0 + ch * kChunk + piece * 8 : 0);
        cp_async16(xs + ((ch * 128 + row) * kChunk + piece * 8) * 2, src, ok);
      }
    };
    if constexpr (kProducer == kTmaW) {
      // Thread 0 asks TMA for stage s's x boxes and raw weights once the consumers have
      // released stage s - kStages; every producer then permutes its rows of a landed
      // stage (the kStaged layout, from shared memory instead of registers). The issuer asks
      // for stage kt + kStages - 1 only after the stage kt arrival, so waiting for the
      // release of kt - 1 never blocks the stage the consumers need.
      const int rsub = lane >> 3, l8 = lane & 7, c = l8 >> 2, i = l8 & 3;
      int next = 0;
      auto issue_upto = [&](int last) {
        for (; next <= last && next < n_ktiles; ++next) {
          const int st = next % kStages;
          if (next >= kStages) mbar_wait(empty(st), ((next / kStages) & 1) ^ 1);
          mbar_expect_tx(tma_full(st), 2 * kStageBytes);  // x and the weights
          const uint32_t xs = x_s + st * kStageBytes;
          tma_load_2d(xs, &xmap.map, next * kTileK, t0, tma_full(st));
          tma_load_2d(xs + 128 * kChunk * 2, &xmap.map, next * kTileK + kChunk, t0, tma_full(st));
          tma_load_2d(raw_s + st * kStageBytes, &xmap.w_map, next * kTileK, o0, tma_full(st));
        }
      };
      if (tid == 0) issue_upto(kStages - 2);
      for (int kt = 0; kt < n_ktiles; ++kt) {
        const int st = kt % kStages;
        mbar_wait(tma_full(st), (kt / kStages) & 1);
        const unsigned char* raw = smem_gen + (raw_s - base) + st * kStageBytes;
        const uint32_t ws = w_s + st * kStageBytes;
#pragma unroll
        for (int it = 0; it < 8; ++it) {
          const int row = it * 16 + warp * 4 + rsub;
          const uint4 v = *reinterpret_cast<const uint4*>(raw + row * 128 + 16 * l8);
          const uint32_t r = ws + row * 128 + 4 * i;
          const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
          for (int j = 0; j < 4; ++j)
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(r + ((((4 * c + j) ^ (row & 7))) << 4)), "r"(words[j])
                         : "memory");
        }
        fence_proxy_async();  // the stores, for wgmma's reads
        mbar_arrive(full(st));
        if (tid == 0) issue_upto(kt + kStages - 1);
      }
    } else if constexpr (kProducer == kStaged || kTmaX) {
      // A warp instruction loads 4 rows x 128 bytes (the stage's k of each row: 8 lanes a
      // row, lane l8 the natural 16-byte chunk l8 = 4c + i, pairs j = 0..3 at k = 32c +
      // 8i + 2j). Pair j goes to slot chunk q = 4c + j, word i: 4-byte stores, 32 banks
      // apart in every warp instruction (rows r..r+3 of one swizzle half).
      const int rsub = lane >> 3, l8 = lane & 7, c = l8 >> 2, i = l8 & 3;
      auto load = [&](uint4 (&v)[8], int kt) {
#pragma unroll
        for (int it = 0; it < 8; ++it) {
          const int row = it * 16 + warp * 4 + rsub;
          if (o0 + row < out) v[it] = ld_stream(w + static_cast<int64_t>(o0 + row) * in + kt * kTileK + 8 * l8);
          else v[it] = make_uint4(0, 0, 0, 0);
        }
      };
      int x_next = 0;  // kTmaX, thread 0: the next stage whose x boxes are not yet asked for
      auto issue_x_upto = [&](int last) {
        for (; x_next <= last && x_next < n_ktiles; ++x_next) {
          const int st = x_next % kStages;
          if (x_next >= kStages) mbar_wait(empty(st), ((x_next / kStages) & 1) ^ 1);
          mbar_expect_tx(full(st), kStageBytes);
          const uint32_t xs = x_s + st * kStageBytes;
          tma_load_2d(xs, &xmap.map, x_next * kTileK, t0, full(st));
          tma_load_2d(xs + 128 * kChunk * 2, &xmap.map, x_next * kTileK + kChunk, t0, full(st));
        }
      };
      auto store = [&](const uint4 (&v)[8], int kt) {
        const int st = kt % kStages;
        if constexpr (kTmaX) {
          if (tid == 0) issue_x_upto(kt + 1);
        }
        if (kt >= kStages) mbar_wait(empty(st), ((kt / kStages) & 1) ^ 1);
        if constexpr (!kTmaX) {
          copy_x(st, kt * kTileK);
          cp_async_arrive(full(st));
        }
        const uint32_t ws = w_s + st * kStageBytes;
#pragma unroll
        for (int it = 0; it < 8; ++it) {
          const int row = it * 16 + warp * 4 + rsub;
          const uint32_t r = ws + row * 128 + 4 * i;
          const uint32_t words[4] = {v[it].x, v[it].y, v[it].z, v[it].w};
#pragma unroll
          for (int j = 0; j < 4; ++j)
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(r + ((((4 * c + j) ^ (row & 7))) << 4)), "r"(words[j])
                         : "memory");
        }
        fence_proxy_async();  // the stores, for wgmma's reads
        mbar_arrive(full(st));
      };
      // kDepth stages of loads in flight: stage kt + kDepth - 1 is asked for before stage
      // kt is stored.
      uint4 buf[kDepth][8];
#pragma unroll
      for (int d = 0; d + 1 < kDepth; ++d)
        if (d < n_ktiles) load(buf[d], d);
      for (int kt0 = 0; kt0 < n_ktiles; kt0 += kDepth) {
#pragma unroll
        for (int d = 0; d < kDepth; ++d) {
          const int kt = kt0 + d;
          if (kt >= n_ktiles) break;
          if (kt + kDepth - 1 < n_ktiles) load(buf[(d + kDepth - 1) % kDepth], kt + kDepth - 1);
          store(buf[d], kt);
        }
      }
    } else {
      // Weights: a warp instruction copies 8 rows x one 16-byte chunk (4 pairs): 128 bytes
      // of shared memory, no bank conflicts. Lane: pair i = lane & 3, row lane >> 2.
      const int i = lane & 3, rr = lane >> 2;
      for (int kt = 0, st = 0, phase = 0; kt < n_ktiles; ++kt) {
        if (kt >= kStages) mbar_wait(empty(st), phase ^ 1);
        const int k0 = kt * kTileK;
        const uint32_t ws = w_s + st * kStageBytes;
        if constexpr (kProducer == kNatural16) {
#pragma unroll
          for (int it = 0; it < 8; ++it) {
            const int idx = tid + 128 * it;
            const int row = idx >> 3, q = idx & 7;
            const bool ok = o0 + row < out;
            const bf16* src = w + (ok ? static_cast<int64_t>(o0 + row) * in + k0 + 8 * q : 0);
            cp_async16(ws + row * 128 + ((q ^ (row & 7)) << 4), src, ok);
          }
        } else {
#pragma unroll 8
          for (int it = 0; it < 32; ++it) {
            const int u = warp + 4 * it;  // 0..127: (row group, chunk)
            const int q = u & 7, row = (u >> 3) * 8 + rr;
            const int k = k0 + 32 * (q >> 2) + 8 * i + 4 * ((q >> 1) & 1) + 2 * (q & 1);
            const bool ok = o0 + row < out;
            const bf16* src = w + (ok ? static_cast<int64_t>(o0 + row) * in + k : 0);
            cp_async4(ws + row * 128 + (((q ^ (row & 7)) << 4) | (4 * i)), src, ok);
          }
        }
        copy_x(st, k0);
        cp_async_arrive(full(st));
        if (++st == kStages) st = 0, phase ^= 1;
      }
    }
    asm volatile("cp.async.wait_all;\n" ::: "memory");
    return;
  }

  // ---- consumers: warpgroup wg owns tokens [64 wg, 64 wg + 64) of the block ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs<kProducer>));
  const int cw = warp - 4, wg = cw >> 2;
  const int g = lane >> 2, t4 = lane & 3;
  const int r0 = 64 * wg + 16 * (cw & 3);  // this warp's 16 tokens
  float p[16][4], total[16][4];
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) p[j][e] = total[j][e] = 0.0f;

  // The x fragments of stage kt (the mma.sync kernel's loads), then its four wgmma.
  auto issue = [&](int kt, uint4 (&xg)[2], uint4 (&xh)[2]) {
    const int st = kt % kStages;
    mbar_wait(full(st), (kt / kStages) & 1);
    fence_proxy_async();  // the producers' cp.async writes, for wgmma's reads
    const unsigned char* xs = smem_gen + (x_s - base) + st * kStageBytes;
#pragma unroll
    for (int ch = 0; ch < 2; ++ch) {
      xg[ch] = *reinterpret_cast<const uint4*>(xs + ((ch * 128 + r0 + g) * kChunk + 8 * t4) * 2);
      xh[ch] = *reinterpret_cast<const uint4*>(xs + ((ch * 128 + r0 + 8 + g) * kChunk + 8 * t4) * 2);
    }
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) fence_operand(p[j][e]);
    wgmma_fence();
    const uint32_t ws = w_s + st * kStageBytes;
#pragma unroll
    for (int ch = 0; ch < 2; ++ch) {
      wgmma_n128(p, xg[ch].x, xh[ch].x, xg[ch].y, xh[ch].y, desc_k_major(ws + 32 * (2 * ch)));
      wgmma_n128(p, xg[ch].z, xh[ch].z, xg[ch].w, xh[ch].w, desc_k_major(ws + 32 * (2 * ch + 1)));
    }
    wgmma_commit();
  };
  auto release = [&](int kt) {
    __syncwarp();
    if (lane == 0) mbar_arrive(empty(kt % kStages));  // the stage is free for the producers
  };
  auto end_segment = [&] {
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        fence_operand(p[j][e]);
        total[j][e] = __fadd_rn(total[j][e], p[j][e]);
        p[j][e] = 0.0f;
      }
  };
  constexpr int kSegTiles = kSegK / kTileK;
  if constexpr (kPipelined) {
    // One stage's products stay in flight while the next stage's fragments load (two sets
    // of fragment registers); all of them land before a segment's sum joins the total.
    uint4 fa_g[2], fa_h[2], fb_g[2], fb_h[2];
    for (int kt0 = 0; kt0 < n_ktiles; kt0 += kSegTiles) {
      const int m = min(kSegTiles, n_ktiles - kt0);
#pragma unroll
      for (int s = 0; s < kSegTiles; ++s) {
        if (s >= m) break;
        if (s & 1) issue(kt0 + s, fb_g, fb_h);
        else issue(kt0 + s, fa_g, fa_h);
        if (s > 0) {
          wgmma_wait<1>();
          release(kt0 + s - 1);
        }
      }
      wgmma_wait_all();
      release(kt0 + m - 1);
      end_segment();
    }
  } else {
    for (int kt = 0; kt < n_ktiles; ++kt) {
      uint4 xg[2], xh[2];
      issue(kt, xg, xh);
      wgmma_wait_all();
      release(kt);
      if ((kt + 1) % kSegTiles == 0 || kt + 1 == n_ktiles) end_segment();
    }
  }

  // The accumulator's layout per warp is mma.m16n8k16's C per n8 tile j: rows g and g + 8,
  // features 8j + 2 t4 and + 1.
  const bool pairs = out % 2 == 0;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int t = t0 + r0 + h * 8 + g;
    if (t >= n) continue;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int o = o0 + j * 8 + 2 * t4;
      if (o >= out) continue;
      const int64_t idx = static_cast<int64_t>(t) * out + o;
      if (pairs) {
        store_pair(y, y_f32, idx, total[j][2 * h], total[j][2 * h + 1], true);
      } else {
        store_pair(y, y_f32, idx, total[j][2 * h], 0.0f, false);
        if (o + 1 < out) store_pair(y, y_f32, idx + 1, total[j][2 * h + 1], 0.0f, false);
      }
    }
  }
#else
  (void)x, (void)w, (void)n, (void)in, (void)out, (void)y, (void)y_f32, (void)xmap;
#endif  // REAM_SM90A_DEVICE
}

// ---- The swapped product (variants 10-13) ----
// x is first copied into the canonical slot order (permute_x_kernel: each 32-k chunk's
// 4-byte pairs transposed 4 x 4, once per product), so that TMA can put it into shared
// memory exactly as wgmma's shared operand needs it: x is B (tokens as N), the weights are
// A (features as M), by TMA in their natural order and loaded from shared memory as
// mma.sync A-fragments (a lane's 16 bytes of 8 consecutive k are its fragment words, as x's
// are in the kernel above). No producer copies anything: one thread asks for both boxes.
// An element's 16-k products are the same products in the same slots, so the sums are the
// canonical ones (the test holds every variant to the mma.sync kernel bit for bit).
//
// A block computes 128 features (a consumer warpgroup each 64) x 128 tokens; the stage
// ring (x 16 KiB + weights 16 KiB a stage) becomes the output tile at the end, so that the
// stores to y (token rows) are whole 16-byte pieces.
constexpr size_t swap_smem_bytes(int stages) { return 1024 + size_t(stages) * 2 * kStageBytes + 256; }
constexpr int kSwapProducerRegs = 40, kSwapConsumerRegs = 232;
static_assert(128 * (168 - kSwapProducerRegs) >= 256 * (kSwapConsumerRegs - 168), "setmaxnreg.inc would never return");
constexpr int kEpiStride = kFeatures + 4;  // floats a token row of the output tile: conflict-free stores
static_assert(size_t(kTokens) * kEpiStride * 4 <= 2 * 4 * size_t(kStageBytes), "the output tile fits a ring of 4 stages");

// xp = x with each 32-k chunk in slot order: word 4a + i of a chunk (a = 2m + h) is pair
// 4i + a of x's chunk (k = 8i + 4m + 2h, see above). `chunks` = n * in / 32.
__global__ void permute_x_kernel(const uint4* __restrict__ x, uint4* __restrict__ xp, int64_t chunks) {
  pdl_launch_dependents();
  pdl_wait();
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < chunks; c += int64_t{gridDim.x} * blockDim.x) {
    const uint4 v0 = x[4 * c], v1 = x[4 * c + 1], v2 = x[4 * c + 2], v3 = x[4 * c + 3];
    xp[4 * c] = make_uint4(v0.x, v1.x, v2.x, v3.x);
    xp[4 * c + 1] = make_uint4(v0.y, v1.y, v2.y, v3.y);
    xp[4 * c + 2] = make_uint4(v0.z, v1.z, v2.z, v3.z);
    xp[4 * c + 3] = make_uint4(v0.w, v1.w, v2.w, v3.w);
  }
}

// grid (token tiles, feature tiles), as above. maps.map: xp (boxes of 64 k x 128 tokens,
// 128-byte swizzle); maps.w_map: the weights (boxes of 32 k x 128 features, no swizzle).
template <bool kPipelined, int kStages>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_swap_kernel(int n, int in, int out, void* __restrict__ y, bool y_f32, const __grid_constant__ XMap maps) {
#ifdef REAM_SM90A_DEVICE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t x_s = base;                         // [kStages][128 tokens x 128 bytes] slot order, swizzled
  const uint32_t w_s = x_s + kStages * kStageBytes;  // [kStages][2 chunks][128 features][32 k] natural order
  const uint32_t bars = w_s + kStages * kStageBytes;
  auto full = [&](int st) { return bars + 8u * st; };
  auto empty = [&](int st) { return bars + 8u * (kStages + st); };
  unsigned char* smem_gen = smem_raw + (base - smem_u32(smem_raw));  // generic pointer to `base`

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int t0 = blockIdx.x * kTokens, o0 = blockIdx.y * kFeatures;
  const int n_ktiles = in / kTileK;

  if (tid == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(full(st), 1);   // the issuer's expect_tx
      mbar_init(empty(st), 8);  // one arrival per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  pdl_launch_dependents();
  pdl_wait();

  if (warp < 4) {  // ---- the producer: thread 0 asks for every stage's boxes ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kSwapProducerRegs));
    if (tid == 0) {
      for (int kt = 0; kt < n_ktiles; ++kt) {
        const int st = kt % kStages;
        if (kt >= kStages) mbar_wait(empty(st), ((kt / kStages) & 1) ^ 1);
        mbar_expect_tx(full(st), 2 * kStageBytes);
        const uint32_t ws = w_s + st * kStageBytes;
        tma_load_2d(x_s + st * kStageBytes, &maps.map, kt * kTileK, t0, full(st));
        tma_load_2d(ws, &maps.w_map, kt * kTileK, o0, full(st));
        tma_load_2d(ws + 128 * kChunk * 2, &maps.w_map, kt * kTileK + kChunk, o0, full(st));
      }
    }
    return;
  }

  // ---- consumers: warpgroup wg owns features [64 wg, 64 wg + 64) of the block ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kSwapConsumerRegs));
  const int cw = warp - 4, wg = cw >> 2;
  const int g = lane >> 2, t4 = lane & 3;
  const int r0 = 64 * wg + 16 * (cw & 3);  // this warp's 16 features
  float p[16][4], total[16][4];
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) p[j][e] = total[j][e] = 0.0f;

  // The weight fragments of stage kt (rows r0 + g and r0 + 8 + g), then its four wgmma.
  auto issue = [&](int kt, uint4 (&ag)[2], uint4 (&ah)[2]) {
    const int st = kt % kStages;
    mbar_wait(full(st), (kt / kStages) & 1);
    const unsigned char* ws = smem_gen + (w_s - base) + st * kStageBytes;
#pragma unroll
    for (int ch = 0; ch < 2; ++ch) {
      ag[ch] = *reinterpret_cast<const uint4*>(ws + ((ch * 128 + r0 + g) * kChunk + 8 * t4) * 2);
      ah[ch] = *reinterpret_cast<const uint4*>(ws + ((ch * 128 + r0 + 8 + g) * kChunk + 8 * t4) * 2);
    }
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) fence_operand(p[j][e]);
    wgmma_fence();
    const uint32_t xs = x_s + st * kStageBytes;
#pragma unroll
    for (int ch = 0; ch < 2; ++ch) {
      wgmma_n128(p, ag[ch].x, ah[ch].x, ag[ch].y, ah[ch].y, desc_k_major(xs + 32 * (2 * ch)));
      wgmma_n128(p, ag[ch].z, ah[ch].z, ag[ch].w, ah[ch].w, desc_k_major(xs + 32 * (2 * ch + 1)));
    }
    wgmma_commit();
  };
  auto release = [&](int kt) {
    __syncwarp();
    if (lane == 0) mbar_arrive(empty(kt % kStages));
  };
  auto end_segment = [&] {
#pragma unroll
    for (int j = 0; j < 16; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        fence_operand(p[j][e]);
        total[j][e] = __fadd_rn(total[j][e], p[j][e]);
        p[j][e] = 0.0f;
      }
  };
  constexpr int kSegTiles = kSegK / kTileK;
  if constexpr (kPipelined) {
    uint4 fa_g[2], fa_h[2], fb_g[2], fb_h[2];
    for (int kt0 = 0; kt0 < n_ktiles; kt0 += kSegTiles) {
      const int m = min(kSegTiles, n_ktiles - kt0);
#pragma unroll
      for (int s = 0; s < kSegTiles; ++s) {
        if (s >= m) break;
        if (s & 1) issue(kt0 + s, fb_g, fb_h);
        else issue(kt0 + s, fa_g, fa_h);
        if (s > 0) {
          wgmma_wait<1>();
          release(kt0 + s - 1);
        }
      }
      wgmma_wait_all();
      release(kt0 + m - 1);
      end_segment();
    }
  } else {
    for (int kt = 0; kt < n_ktiles; ++kt) {
      uint4 ag[2], ah[2];
      issue(kt, ag, ah);
      wgmma_wait_all();
      release(kt);
      if ((kt + 1) % kSegTiles == 0 || kt + 1 == n_ktiles) end_segment();
    }
  }

  // The accumulator per warp is mma.m16n8k16's C per n8 tile j: features r0 + g (e 0, 1)
  // and r0 + 8 + g (e 2, 3), tokens 8j + 2 t4 + (e & 1). Through the ring (every stage is
  // consumed: both warpgroups have waited for all their products) into token rows.
  named_sync(1, 256);
  float* tile = reinterpret_cast<float*>(smem_gen);  // [128 tokens][kEpiStride]
#pragma unroll
  for (int j = 0; j < 16; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) tile[(8 * j + 2 * t4 + (e & 1)) * kEpiStride + r0 + g + 8 * (e >> 1)] = total[j][e];
  named_sync(1, 256);
  const int ct = tid - 128;
  const bool quads = out % 4 == 0;
#pragma unroll 4
  for (int it = 0; it < kTokens * kFeatures / 4 / 256; ++it) {
    const int idx = ct + 256 * it, row = idx >> 5, q = idx & 31;
    const int t = t0 + row, o = o0 + 4 * q;
    if (t >= n || o >= out) continue;
    const float4 v = *reinterpret_cast<const float4*>(tile + row * kEpiStride + 4 * q);
    const int64_t at = static_cast<int64_t>(t) * out + o;
    if (quads) {
      if (y_f32) *reinterpret_cast<float4*>(static_cast<float*>(y) + at) = v;
      else *reinterpret_cast<uint2*>(static_cast<bf16*>(y) + at) = make_uint2(pack_bf16x2(v.x, v.y), pack_bf16x2(v.z, v.w));
    } else {
      const float vals[4] = {v.x, v.y, v.z, v.w};
      for (int e = 0; e < 4 && o + e < out; ++e) store_pair(y, y_f32, at + e, vals[e], 0.0f, false);
    }
  }
#else
  (void)n, (void)in, (void)out, (void)y, (void)y_f32, (void)maps;
#endif  // REAM_SM90A_DEVICE
}

// Variant number -> kernel: 0 = kCopy4 + wait-all (session 6), 1 = kCopy4 + pipelined,
// 2 = kStaged + wait-all, 3 = kStaged + pipelined, 4 = the same with 6 stages, 5 =
// kStagedTmaX + pipelined, 6 stages, 6 = the same with three stages of weight loads in
// flight, 7 = kTmaW + pipelined, 4 stages, 8 = kTmaW + wait-all, 9 = kNatural16 +
// pipelined (not the canonical arithmetic: a measurement); the swapped product (session
// 13): 10 = wait-all, 4 stages, 11 = pipelined, 4 stages, 12 = wait-all, 6 stages, 13 =
// pipelined, 6 stages.
constexpr int kHopperGemmVariants = 14;
constexpr int kNaturalVariant = 9;
constexpr int kDefaultVariant = 10;  // session 13 (H100): 388-463 TFLOP/s, v8 357-401
int g_gemm_variant = -1;  // -1: the default

// Rows of `in` bf16, `rows` of them, as a 2-D tensor map with boxes of box_k x 128 rows.
Status encode_rows(CUtensorMap* m, const bf16* p, int in, int rows, cuuint32_t box_k, CUtensorMapSwizzle swizzle,
                   const char* what) {
  const auto encode = hopper::encode_tiled();
  if (!encode) return unimplemented("the driver has no cuTensorMapEncodeTiled");
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(in), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(in) * sizeof(bf16)};
  const cuuint32_t box[2] = {box_k, 128}, elem[2] = {1, 1};
  const CUresult r = encode(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<bf16*>(p), dims, strides, box, elem,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                            CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return internal_error(std::string("cuTensorMapEncodeTiled failed for ") + what + " (" + std::to_string(r) + ")");
  return Status();
}

template <int kProducer, bool kPipelined, int kStages = 4, int kDepth = 2>
Status launch_variant(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                      cudaStream_t stream) {
  auto kernel = gemm_hopper_kernel<kProducer, kPipelined, kStages, kDepth>;
  constexpr size_t kSmem = smem_bytes(kStages, kProducer == kTmaW ? 3 : 2);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem)));
  XMap xmap{};
  if constexpr (kProducer == kStagedTmaX || kProducer == kTmaW) {
    REAM_RETURN_IF_ERROR(encode_rows(&xmap.map, x, in, n, kChunk, CU_TENSOR_MAP_SWIZZLE_NONE, "x"));
    if constexpr (kProducer == kTmaW)
      REAM_RETURN_IF_ERROR(encode_rows(&xmap.w_map, w, in, out, kTileK, CU_TENSOR_MAP_SWIZZLE_NONE, "the weights"));
  }
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kTokens)), static_cast<unsigned>(ceil_div(out, kFeatures)));
  return launch_pdl("gemm_hopper_kernel", kernel, grid, dim3(kThreads), kSmem, stream, x, w, n, in, out, y, y_f32,
                    xmap);
}

// Where x's slot-order copy goes when the caller gives no room for it (tests, benchmarks):
// one buffer for the process, grown outside stream capture (*out stays null while a graph
// is captured and the buffer is too small).
Status fallback_scratch(int64_t elems, cudaStream_t stream, bf16** out) {
  static std::mutex mu;
  static void* buf = nullptr;
  static int64_t cap = 0;
  std::lock_guard<std::mutex> lock(mu);
  *out = nullptr;
  if (cap < elems) {
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
    if (capturing != cudaStreamCaptureStatusNone) return Status();
    CUDA_CHECK(cudaDeviceSynchronize());  // the old buffer may still be read
    if (buf) CUDA_CHECK(cudaFree(buf));
    buf = nullptr, cap = 0;
    CUDA_CHECK(cudaMalloc(&buf, static_cast<size_t>(elems) * sizeof(bf16)));
    cap = elems;
  }
  *out = static_cast<bf16*>(buf);
  return Status();
}

template <bool kPipelined, int kStages>
Status launch_swap(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32, bf16* scratch,
                   int64_t scratch_elems, cudaStream_t stream) {
  const int64_t elems = static_cast<int64_t>(n) * in;
  if (!scratch || scratch_elems < elems) {
    REAM_RETURN_IF_ERROR(fallback_scratch(elems, stream, &scratch));
    if (!scratch) return launch_variant<kTmaW, false, 4>(x, w, n, in, out, y, y_f32, stream);  // the same bits
  }
  const int64_t chunks = elems / kChunk;
  const unsigned pblocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(chunks, 256), 4096));
  REAM_RETURN_IF_ERROR(launch_pdl("permute_x_kernel", permute_x_kernel, dim3(pblocks), dim3(256), 0, stream,
                                  reinterpret_cast<const uint4*>(x), reinterpret_cast<uint4*>(scratch), chunks));
  auto kernel = gemm_swap_kernel<kPipelined, kStages>;
  constexpr size_t kSmem = swap_smem_bytes(kStages);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem)));
  XMap maps{};
  REAM_RETURN_IF_ERROR(encode_rows(&maps.map, scratch, in, n, kTileK, CU_TENSOR_MAP_SWIZZLE_128B, "x in slot order"));
  REAM_RETURN_IF_ERROR(encode_rows(&maps.w_map, w, in, out, kChunk, CU_TENSOR_MAP_SWIZZLE_NONE, "the weights"));
  const dim3 grid(static_cast<unsigned>(ceil_div(n, kTokens)), static_cast<unsigned>(ceil_div(out, kFeatures)));
  return launch_pdl("gemm_swap_kernel", kernel, grid, dim3(kThreads), kSmem, stream, n, in, out, y, y_f32, maps);
}

}  // namespace

namespace hopper {
bool device_is_sm90a() {
#ifdef REAM_CUDA_SM90A
  static const bool ok = [] {
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    return major == 9 && minor == 0;
  }();
  return ok;
#else
  return false;
#endif
}

EncodeTiled encode_tiled() {
  static EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      p = nullptr;
    return reinterpret_cast<EncodeTiled>(p);
  }();
  return fn;
}
}  // namespace hopper

bool gemm_hopper_supported(int64_t in) { return in % kTileK == 0 && hopper::device_is_sm90a(); }

bool gemm_hopper_by_default() {
  static const bool on = [] {
    const char* env = std::getenv("REAM_GEMM_LARGE");
    return !(env && std::strcmp(env, "mma") == 0);
  }();
  return on;
}

int gemm_hopper_variants() { return kHopperGemmVariants; }
void set_gemm_hopper_variant(int variant) { g_gemm_variant = variant < kHopperGemmVariants ? variant : -1; }

bool gemm_hopper_variant_canonical(int variant) { return variant != kNaturalVariant; }

Status launch_gemm_hopper(const bf16* x, const bf16* w, int n, int in, int out, void* y, bool y_f32,
                          cudaStream_t stream, bf16* scratch, int64_t scratch_elems) {
  static const int env_variant = [] {
    const char* e = std::getenv("REAM_GEMM_HOPPER_VARIANT");
    return e ? std::atoi(e) : -1;
  }();
  int v = g_gemm_variant >= 0 ? g_gemm_variant : env_variant;
  if (v < 0 || v >= kHopperGemmVariants) v = kDefaultVariant;
  switch (v) {
    case 0: return launch_variant<kCopy4, false>(x, w, n, in, out, y, y_f32, stream);
    case 1: return launch_variant<kCopy4, true>(x, w, n, in, out, y, y_f32, stream);
    case 2: return launch_variant<kStaged, false>(x, w, n, in, out, y, y_f32, stream);
    case 3: return launch_variant<kStaged, true>(x, w, n, in, out, y, y_f32, stream);
    case 4: return launch_variant<kStaged, true, 6>(x, w, n, in, out, y, y_f32, stream);
    case 5: return launch_variant<kStagedTmaX, true, 6>(x, w, n, in, out, y, y_f32, stream);
    case 6: return launch_variant<kStagedTmaX, true, 6, 3>(x, w, n, in, out, y, y_f32, stream);
    case 7: return launch_variant<kTmaW, true, 4>(x, w, n, in, out, y, y_f32, stream);
    case 9: return launch_variant<kNatural16, true>(x, w, n, in, out, y, y_f32, stream);
    case 10: return launch_swap<false, 4>(x, w, n, in, out, y, y_f32, scratch, scratch_elems, stream);
    case 11: return launch_swap<true, 4>(x, w, n, in, out, y, y_f32, scratch, scratch_elems, stream);
    case 12: return launch_swap<false, 6>(x, w, n, in, out, y, y_f32, scratch, scratch_elems, stream);
    case 13: return launch_swap<true, 6>(x, w, n, in, out, y, y_f32, scratch, scratch_elems, stream);
    default: return launch_variant<kTmaW, false, 4>(x, w, n, in, out, y, y_f32, stream);  // 8
  }
}

}  // namespace ream::cuda
