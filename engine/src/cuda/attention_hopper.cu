// Paged flash attention for prefill on Hopper (sm_90a): wgmma for both products, K/V
// tiles brought in by the tensor memory accelerator (TMA) on an mbarrier pipeline, a
// producer warpgroup and two consumer warpgroups.
//
// The same function as attention.cu's mma.sync kernel in fold mode, row for row and bit
// for bit (tests/cuda/attention_test.cpp holds the two against each other): a block takes
// one KV head and 128 query rows (row = (new token, query head of the group), as the
// mma.sync kernel's 8-warp block), keys are visited in absolute 64-key tiles from 0, the
// online softmax runs per tile with the shared arithmetic of attention_math.cuh, and the
// pieces of kAttnPiece keys are folded in order. What differs is how the work is fed:
//   - warps 4-7 and 8-11 are two consumer warpgroups of 64 rows each. Q stays in
//     registers as wgmma's A-fragments (the mma.sync kernel's layout; or in shared memory,
//     a benchmark variant); S = Q K^T is 8 wgmma.m64n64k16 against the K stage, the
//     probabilities go back in as register A-fragments of 4 wgmma.m64n128k16 against V
//     read transposed from the V stage. Each iteration issues tile i's S together with
//     tile i - 1's P V, waits, then runs tile i's softmax; the two warpgroups take turns
//     issuing (named barriers), so one's softmax runs under the other's products;
//   - warps 0-3 are the producers (their warpgroup gives its registers to the consumers
//     with setmaxnreg), one per (K or V, 64-column half): for each tile each lane looks up
//     one page of the block table (a tile ahead) and issues that page's TMA copy into a
//     128-byte-swizzled stage, completing on the stage's "full" barrier; the consumers
//     release a stage through its "empty" barrier. With pages of 16 keys one producer warp
//     issuing all 16 copies of a tile was the bottleneck (H100, session 4: 322 -> 488
//     TFLOP/s at 32K with four). A block's last tile, when it runs past the block's keys,
//     is copied by the producers' lanes instead, zero-filling keys past the end (their
//     probabilities are 0, but 0 * NaN of a stale slot would not be).
// Tiles wholly before the block's first row need no causal mask.
//
// Preconditions (hopper_attention_supported): head_dim 128, fold mode, block_size a
// multiple of 8 that divides 64 or a multiple of 64, a device of compute capability 9.0
// and a build with the sm_90a target. Elsewhere launch_paged_attention uses the mma.sync
// kernel.
#include "cuda/attention.cuh"
#include "cuda/attention_math.cuh"
#include "cuda/hopper.cuh"

#include <cuda.h>

#include <algorithm>
#include <string>
#include <type_traits>


namespace ream::cuda {
namespace {

using namespace hopper;  // NOLINT: the sm_90a device helpers

constexpr int HD = 128;
constexpr int KT = kAttnKvTile;
constexpr int kStages = 4;
constexpr int kThreads = 384;               // a producer warpgroup + 2 consumer warpgroups
// Registers per thread after setmaxnreg: the consumers' increase is served only from what
// the producer warpgroup gave back, so 128 (168 - producer) >= 256 (consumer - 168) with 168
// the launch's 65,536 / 384 rounded down to 8; a larger request blocks for ever. With Q in
// registers the consumers need 240 (the producers then spill a word or two); with Q or
// the folded outputs in shared memory 232 suffice and the producers get 40.
template <bool kLean>
struct HopperRegs {
  static constexpr int kProducer = kLean ? 40 : 24, kConsumer = kLean ? 232 : 240;
  static_assert(128 * (168 - kProducer) >= 256 * (kConsumer - 168), "setmaxnreg.inc would never return");
};
[[maybe_unused]] constexpr int kColBlockBytes = KT * 128;  // 64 rows x 128 bytes: one 64-column half of a tile
constexpr int kTileBytes = KT * HD * 2;     // 16 KiB: one K or V tile
constexpr size_t kSmemBytes = 1024 /*alignment slack*/ + 2 * kStages * kTileBytes + 64 * kStages;
constexpr size_t kSmemBytesQ = 2 * kTileBytes;  // more with Q staged in shared memory
constexpr size_t kSmemBytesAcc = 256 * (HD / 8) * 16;  // more with the folded outputs there (64 KiB)
static_assert(kAttnRowsPrefill == 128, "the Hopper kernel's block is the mma.sync kernel's 8-warp block");

// ---- device helpers (sm_90a) ----

#ifdef REAM_SM90A_DEVICE
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
// wgmma shared-memory descriptor, 128-byte swizzle: start address, leading byte offset
// (between 64-element column blocks, MN-major only), stride byte offset (between 8-row
// groups), all in 16-byte units.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(lbo >> 4) << 16) |
         (static_cast<uint64_t>(sbo >> 4) << 32) | (1ull << 62);
}
// S (64 x 64, fp32, accumulated) += Q (64 x 16, registers: the mma.m16n8k16 A-fragment of
// each warp's 16 rows) K^T (K: 64 keys x 16, smem, K-major).
__device__ __forceinline__ void wgmma_qk(float (&d)[KT / 8][4], const uint32_t (&a)[4], uint64_t db) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]),
        "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

// The same product with Q's 64 x 16 slice read from shared memory (K-major, 128-byte
// swizzle, like K): frees Q's 32 registers per thread.
__device__ __forceinline__ void wgmma_qk_ss(float (&d)[KT / 8][4], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "%32, %33, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]),
        "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]),
        "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]),
        "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]),
        "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
      : "l"(da), "l"(db), "r"(1));
}

// O (64 x 128, fp32, accumulated) += P (64 x 16 keys, registers) V (16 keys x 128, smem, MN-major).
#define REAM_O8(i) "+f"(d[i][0]), "+f"(d[i][1]), "+f"(d[i][2]), "+f"(d[i][3])
__device__ __forceinline__ void wgmma_pv(float (&d)[HD / 8][4], const uint32_t (&a)[4], uint64_t db) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
      : REAM_O8(0), REAM_O8(1), REAM_O8(2), REAM_O8(3), REAM_O8(4), REAM_O8(5), REAM_O8(6), REAM_O8(7),
        REAM_O8(8), REAM_O8(9), REAM_O8(10), REAM_O8(11), REAM_O8(12), REAM_O8(13), REAM_O8(14), REAM_O8(15)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}
#undef REAM_O8

// Byte offset of 16-byte chunk c (0..15 over 128 columns) of row r in a 128-byte-swizzled
// tile of 64 rows stored as two 64-column halves: what TMA's SWIZZLE_128B writes and
// wgmma's 128-byte-swizzle descriptors read (the base must be 1024-byte aligned).
__device__ __forceinline__ uint32_t swizzled(int r, int c) {
  return static_cast<uint32_t>((c >> 3) * kColBlockBytes + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}
#endif  // REAM_SM90A_DEVICE

// ---- kernel ----

struct HopperMaps {
  CUtensorMap k, v;  // this layer's K and V: (head_dim, block_size, n_kv_heads, num_blocks)
};

// kPingpong: the consumer warpgroups take turns issuing products (named barriers 1, 2).
// kQSmem: Q is staged in shared memory and read by wgmma from there (else registers).
// kAccSmem: the folded pieces' outputs (o_acc) live in shared memory, a float4 slot per
//   consumer thread and 4 head dims (conflict-free), read and written at each fold; frees
//   their 64 registers a thread.
// kOverlap: a tile's S and the previous tile's P V are committed as two groups; the warps
//   wait for S only, run the softmax while P V is still in the tensor cores (the
//   probabilities stay fp32 in S's registers), then wait for it, fold, rescale and pack the
//   probabilities into the A-fragments P V read (FlashAttention-3's intra-warpgroup
//   overlap with one score buffer). The arithmetic is unchanged: a piece's state is set
//   aside before its successor's first softmax and folded after.
template <bool kPingpong, bool kQSmem, bool kAccSmem, bool kOverlap>
__global__ void __launch_bounds__(kThreads, 1)
    paged_attention_hopper_kernel(const AttentionArgs a, const __grid_constant__ HopperMaps maps) {
#ifdef REAM_SM90A_DEVICE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t k_s = base;                          // [kStages][64 keys x 128] swizzled
  const uint32_t v_s = k_s + kStages * kTileBytes;    // [kStages][64 keys x 128] swizzled
  const uint32_t q_s = v_s + kStages * kTileBytes;    // kQSmem: [2 warpgroups][64 rows x 128] swizzled
  const uint32_t bars = q_s + (kQSmem ? 2 * kTileBytes : 0);  // full_k, full_v, empty: kStages each
  const uint32_t acc_s = bars + 64 * kStages;  // kAccSmem: [HD / 8][256 consumer threads] float4
  auto full_k = [&](int st) { return bars + 8u * st; };
  auto full_v = [&](int st) { return bars + 8u * (kStages + st); };
  auto empty = [&](int st) { return bars + 8u * (2 * kStages + st); };
  unsigned char* smem_gen = smem_raw + (base - smem_u32(smem_raw));  // generic pointer to `base`

  const AttnWork w = a.work[blockIdx.x];
  const AttnSeq s = a.seqs[w.seq];
  const int kvh = blockIdx.y;
  const int group = a.n_heads / a.n_kv_heads;
  const int first_pos = s.context_len - s.query_len;
  const int n_tok = min(kAttnRowsPrefill / group, s.query_len - w.q0);
  const int kv_end = first_pos + w.q0 + n_tok;  // keys [0, kv_end)
  const int n_tiles = (kv_end + KT - 1) / KT;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

  if (tid == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(full_k(st), 2);  // one arrival per producer warp of K (column halves 0, 1)
      mbar_init(full_v(st), 2);
      mbar_init(empty(st), 8);   // one arrival per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {  // ---- producers: warpgroup 0, warp p copies (K or V) x (64-column half) ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(HopperRegs<kQSmem || kAccSmem>::kProducer));
    const int half = warp & 1;
    const bool is_v = warp >= 2;
    const CUtensorMap* map = is_v ? &maps.v : &maps.k;
    const uint32_t dst0 = (is_v ? v_s : k_s) + half * kColBlockBytes;
    const int32_t* bt = a.block_tables + s.bt_offset;
    const int bs = a.block_size;
    // A tile is n_boxes copies of box_rows keys. Pages of at most 64 keys: box i of tile it
    // is page it * n_boxes + i, from its start. Larger pages (multiples of 64) hold
    // tiles_per_page whole tiles.
    const int box_rows = min(bs, KT), n_boxes = KT / box_rows;
    const int tiles_per_page = bs > KT ? bs / KT : 1;
    // Lane i < n_boxes holds the page of box i of a tile; the next tile's are loaded while
    // this one waits for its stage, so the block-table latency is off the copy path.
    auto page_of = [&](int it) {
      if (lane >= n_boxes || it * KT + lane * box_rows >= kv_end) return 0;
      return bt[bs <= KT ? it * n_boxes + lane : it / tiles_per_page];
    };
    int next_page = page_of(0);
    for (int it = 0, st = 0, phase = 0; it < n_tiles; ++it) {
      const int page = next_page;
      if (it + 1 < n_tiles) next_page = page_of(it + 1);
      if (it >= kStages) mbar_wait(empty(st), phase ^ 1);
      const uint32_t full = is_v ? full_v(st) : full_k(st);
      const int tile_start = it * KT;
      if (tile_start + KT <= kv_end) {
        if (lane == 0) mbar_expect_tx(full, kTileBytes / 2);
        __syncwarp();
        if (lane < n_boxes) {  // each lane issues its box's copy
          const int in_page = bs <= KT ? 0 : (it - (it / tiles_per_page) * tiles_per_page) * KT;
          tma_load_4d(dst0 + st * kTileBytes + lane * box_rows * 128, map, half * 64, in_page, kvh, page, full);
        }
      } else {  // the block's last tile runs past its keys: copy it by hand, zeros past the end
        const bf16* cache = is_v ? a.v_cache : a.k_cache;
        const int64_t head_stride = static_cast<int64_t>(bs) * HD;
        for (int idx = lane; idx < KT * 8; idx += 32) {
          const int r = idx >> 3, c = half * 8 + (idx & 7), tok = tile_start + r;
          uint4 val = make_uint4(0, 0, 0, 0);
          if (tok < kv_end) {
            const int64_t off = (static_cast<int64_t>(bt[tok / bs]) * a.n_kv_heads + kvh) * head_stride +
                                static_cast<int64_t>(tok % bs) * HD + c * 8;
            val = *reinterpret_cast<const uint4*>(cache + off);
          }
          *reinterpret_cast<uint4*>(smem_gen + ((is_v ? v_s : k_s) - base) + st * kTileBytes + swizzled(r, c)) = val;
        }
        fence_proxy_async();
        __syncwarp();
        if (lane == 0) mbar_arrive(full);
      }
      if (++st == kStages) st = 0, phase ^= 1;
    }
    return;
  }

  // ---- consumers: warpgroup 1 + wg owns block rows [64 wg, 64 wg + 64) ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(HopperRegs<kQSmem || kAccSmem>::kConsumer));
  const int cw = warp - 4;  // consumer warp: the mma.sync kernel's warp of the same rows
  const int wg = cw >> 2;   // consumer warpgroup
  const int g = lane >> 2, t4 = lane & 3;
  const AttnRows rows = attention_rows(cw, g, group, n_tok, kvh, first_pos + w.q0);
  const int(&row_pos)[2] = rows.pos;
  uint32_t qf[kQSmem ? 1 : HD / 16][4];
  if constexpr (kQSmem) {
    // This warpgroup's 64 rows, swizzled as a K tile is (wgmma reads them K-major).
    const int wt = tid - 128 - 128 * wg;
    for (int idx = wt; idx < 64 * (HD / 8); idx += 128) {
      const int r = idx / (HD / 8), c = idx % (HD / 8), row = 64 * wg + r;
      const int tok = min(row / group, n_tok - 1), head = kvh * group + row % group;
      const uint4 v = *reinterpret_cast<const uint4*>(a.q + (s.query_start + w.q0 + tok) * a.q_stride +
                                                      static_cast<int64_t>(head) * HD + c * 8);
      *reinterpret_cast<uint4*>(smem_gen + (q_s - base) + wg * kTileBytes + swizzled(r, c)) = v;
    }
    fence_proxy_async();
    named_sync(3 + wg, 128);
  } else {
    load_q_fragments<HD>(a.q, a.q_stride, s.query_start + w.q0, rows, t4, qf);
  }
  const int min_pos = first_pos + w.q0;  // the block's first row

  float o[HD / 8][4], o_acc[kAccSmem ? 1 : HD / 8][4];
#pragma unroll
  for (int i = 0; i < HD / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[i][e] = 0.0f;
#pragma unroll
  for (int i = 0; i < (kAccSmem ? 1 : HD / 8); ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) o_acc[i][e] = 0.0f;
  float4* const acc_p = reinterpret_cast<float4*>(smem_gen + (acc_s - base)) + (tid - 128);
  if constexpr (kAccSmem) {
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) acc_p[dt * 256] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  float m_acc[2] = {-INFINITY, -INFINITY}, l_acc[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;
  // Folds the piece whose state is (m_p, l_p) and outputs o into the running (m_acc,
  // l_acc, o_acc) and zeroes o: attention_math.cuh's fold_piece, element for element.
  auto fold_into = [&](const float (&m_p)[2], const float (&l_p)[2]) {
    float fa[2], fb[2];
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) {
      const float l_piece = quad_sum(l_p[ri]);
      const FoldCoef f = fold_coef(m_acc[ri], m_p[ri]);
      l_acc[ri] = fold(l_acc[ri], f.a, l_piece, f.b);
      m_acc[ri] = f.m_new;
      fa[ri] = f.a;
      fb[ri] = f.b;
    }
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      if constexpr (kAccSmem) {
        float4 v = acc_p[dt * 256];
        v.x = fold(v.x, fa[0], o[dt][0], fb[0]);
        v.y = fold(v.y, fa[0], o[dt][1], fb[0]);
        v.z = fold(v.z, fa[1], o[dt][2], fb[1]);
        v.w = fold(v.w, fa[1], o[dt][3], fb[1]);
        acc_p[dt * 256] = v;
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) o_acc[dt][e] = fold(o_acc[dt][e], fa[e >> 1], o[dt][e], fb[e >> 1]);
      }
      o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    }
  };

  // Iteration `it` issues S = Q K^T of tile it together with O += P V of tile it - 1 (its
  // probabilities kept in registers), waits for both, then runs tile it's softmax: the
  // products of two tiles back to back, then the arithmetic. O's arithmetic is the same
  // sequence as one tile at a time: O = (O + P_{it-1} V_{it-1}) * corr_it, a piece folded
  // once its last P V is in. With kPingpong the two warpgroups alternate these phases.
  // (Overlapping the next tile's S with this tile's softmax needs a second score buffer and
  // spilled: session 3. kOverlap overlaps the softmax with the previous tile's P V instead.)
  if (kPingpong && wg == 1) named_arrive(1, 256);  // warpgroup 0 issues first
  float sc[KT / 8][4];
  uint32_t pa[KT / 16][4];  // tile it's probabilities, read by its P V in iteration it + 1
  bool piece_done = false;  // tile it - 1 ended a piece: fold once its P V is in
  const int tiles_per_piece = a.piece_len / KT;
  int tile_in_piece = 0;    // tile it's place in its piece
  // One iteration; kQK: tile it's S (it < n_tiles), kPV: tile it - 1's P V (it > 0). The
  // first and last iterations are peeled so that no wgmma sits on a divergent path.
  auto step = [&](int it, auto qk_tag, auto pv_tag) {
    constexpr bool kQK = decltype(qk_tag)::value, kPV = decltype(pv_tag)::value;
    // Softmax while P V runs: only where this iteration has both products.
    constexpr bool kUnder = kOverlap && kQK && kPV;
    const int st = it % kStages, stp = (it + kStages - 1) % kStages;
    const int tile_start = it * KT;
    if constexpr (kQK) {
#pragma unroll
      for (int nt = 0; nt < KT / 8; ++nt) sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
      if constexpr (kPingpong) named_sync(1 + wg, 256);
      mbar_wait(full_k(st), (it / kStages) & 1);
    }
    if constexpr (kPV) {
      mbar_wait(full_v(stp), ((it - 1) / kStages) & 1);
#pragma unroll
      for (int dt = 0; dt < HD / 8; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) fence_operand(o[dt][e]);
    }
    wgmma_fence();
    if constexpr (kQK) {
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        const uint64_t kd = smem_desc(k_s + st * kTileBytes + (kk >> 2) * kColBlockBytes + (kk & 3) * 32, 16, 1024);
        if constexpr (kQSmem)
          wgmma_qk_ss(sc, smem_desc(q_s + wg * kTileBytes + (kk >> 2) * kColBlockBytes + (kk & 3) * 32, 16, 1024), kd);
        else
          wgmma_qk(sc, qf[kk], kd);
      }
      if constexpr (kUnder) wgmma_commit();  // S alone in the older group: waited for first
    }
    if constexpr (kPV) {
#pragma unroll
      for (int kc = 0; kc < KT / 16; ++kc)
        wgmma_pv(o, pa[kc], smem_desc(v_s + stp * kTileBytes + kc * 16 * 128, kColBlockBytes, 1024));
    }
    wgmma_commit();
    // Warpgroup 1's last turn hands nothing on: warpgroup 0 has no turn after its last tile.
    if constexpr (kPingpong && kQK)
      if (!(wg == 1 && it + 1 == n_tiles)) named_arrive(2 - wg, 256);
    auto fence_o = [&] {
#pragma unroll
      for (int dt = 0; dt < HD / 8; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) fence_operand(o[dt][e]);
    };
    auto release_stage = [&] {
      __syncwarp();
      if (lane == 0) mbar_arrive(empty(stp));  // the stage is free for the producer
    };
    if constexpr (kUnder) {
      wgmma_wait<1>();  // S is in; P V may still run
    } else {
      wgmma_wait_all();
    }
    if constexpr (kQK) {
#pragma unroll
      for (int nt = 0; nt < KT / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) fence_operand(sc[nt][e]);
    }
    if constexpr (kPV && !kUnder) {
      fence_o();
      release_stage();
      if (piece_done) {
        fold_into(m_run, l_run);
        m_run[0] = m_run[1] = -INFINITY;
        l_run[0] = l_run[1] = 0.0f;
      }
    }
    if constexpr (kQK) {
      // kUnder: tile it - 1 may have ended a piece whose P V is still running: its state
      // is set aside, tile it starts the next piece from the fresh state, the fold follows.
      float m_old[2], l_old[2];
      if constexpr (kUnder) {
#pragma unroll
        for (int ri = 0; ri < 2; ++ri) {
          m_old[ri] = m_run[ri];
          l_old[ri] = l_run[ri];
          if (piece_done) {
            m_run[ri] = -INFINITY;
            l_run[ri] = 0.0f;
          }
        }
      }
      float corr[2];
      if (tile_start + KT - 1 > min_pos)  // the diagonal, or past the block's keys
        softmax_tile<true>(sc, tile_start, kv_end, row_pos, t4, scale_log2, m_run, l_run, corr);
      else
        softmax_tile<false>(sc, tile_start, kv_end, row_pos, t4, scale_log2, m_run, l_run, corr);
      if constexpr (kUnder) {
        wgmma_wait_all();
        fence_o();
        release_stage();
        if (piece_done) fold_into(m_old, l_old);
      }
#pragma unroll
      for (int kc = 0; kc < KT / 16; ++kc) pack_probabilities(sc, kc, pa[kc]);
      // A piece's first tile finds O at zero: scaling it would change no bit.
      if (tile_in_piece != 0) rescale_rows<HD>(o, corr);
      if (++tile_in_piece == tiles_per_piece) tile_in_piece = 0;
      piece_done = it + 1 == n_tiles || tile_in_piece == 0;
    }
  };
  using Yes = std::true_type;
  using No = std::false_type;
  step(0, Yes{}, No{});
  for (int it = 1; it < n_tiles; ++it) step(it, Yes{}, Yes{});
  step(n_tiles, No{}, Yes{});

  if constexpr (kAccSmem) {
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      const float4 v = acc_p[dt * 256];
      o[dt][0] = v.x;
      o[dt][1] = v.y;
      o[dt][2] = v.z;
      o[dt][3] = v.w;
    }
    store_rows<HD>(o, l_acc, rows, a.out, a.out_stride, s.query_start + w.q0, t4);
  } else {
    store_rows<HD>(o_acc, l_acc, rows, a.out, a.out_stride, s.query_start + w.q0, t4);
  }
#endif  // REAM_SM90A_DEVICE
}

// ---- host side ----

Status make_cache_map(const bf16* cache, const AttentionArgs& a, CUtensorMap* map) {
  const cuuint64_t dims[4] = {HD, static_cast<cuuint64_t>(a.block_size), static_cast<cuuint64_t>(a.n_kv_heads),
                              static_cast<cuuint64_t>(a.num_blocks)};
  const cuuint64_t row = HD * sizeof(bf16);
  const cuuint64_t strides[3] = {row, row * a.block_size, row * a.block_size * a.n_kv_heads};
  const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(std::min(a.block_size, KT)), 1, 1};
  const cuuint32_t elem[4] = {1, 1, 1, 1};
  const CUresult r = hopper::encode_tiled()(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<bf16*>(cache), dims, strides,
                                    box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return internal_error("cuTensorMapEncodeTiled failed for the KV cache (" + std::to_string(r) + ")");
  return Status();
}

}  // namespace

bool hopper_attention_supported(const AttentionArgs& a) {
#ifdef REAM_CUDA_SM90A
  static const bool device_ok = hopper::device_is_sm90a() && hopper::encode_tiled() != nullptr;
  const int bs = a.block_size;
  const bool bs_ok = bs > 0 && bs % 8 == 0 && (KT % bs == 0 || bs % KT == 0);
  return device_ok && a.head_dim == HD && a.num_splits == 1 && bs_ok &&
         a.num_blocks > 0 && a.n_heads / a.n_kv_heads <= kAttnRowsPrefill;
#else
  (void)a;
  return false;
#endif
}

namespace {
int g_hopper_variant = kHopperVariantDefault;

template <bool kPingpong, bool kQSmem, bool kAccSmem = false, bool kOverlap = false>
Status launch_hopper(const AttentionArgs& a, const HopperMaps& maps, cudaStream_t stream) {
  auto* kernel = paged_attention_hopper_kernel<kPingpong, kQSmem, kAccSmem, kOverlap>;
  const size_t smem = kSmemBytes + (kQSmem ? kSmemBytesQ : 0) + (kAccSmem ? kSmemBytesAcc : 0);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  kernel<<<dim3(a.n_work, a.n_kv_heads), kThreads, smem, stream>>>(a, maps);
  CUDA_CHECK_LAUNCH("paged_attention_hopper_kernel");
  return Status();
}
}  // namespace

void set_hopper_attention_variant(int variant) {
  g_hopper_variant = kHopperVariantDefault;
  for (const int v : kHopperVariants)
    if (v == variant) g_hopper_variant = v;
}

Status launch_paged_attention_hopper(const AttentionArgs& a, cudaStream_t stream) {
  HopperMaps maps;
  REAM_RETURN_IF_ERROR(make_cache_map(a.k_cache, a, &maps.k));
  REAM_RETURN_IF_ERROR(make_cache_map(a.v_cache, a, &maps.v));
  switch (g_hopper_variant) {
    case 0: return launch_hopper<false, false>(a, maps, stream);
    case 1: return launch_hopper<true, false>(a, maps, stream);
    case 2: return launch_hopper<false, true>(a, maps, stream);
    case 3: return launch_hopper<true, true>(a, maps, stream);
    case 5: return launch_hopper<true, false, true, false>(a, maps, stream);
    case 12: return launch_hopper<false, false, true, true>(a, maps, stream);
    case 13: return launch_hopper<true, false, true, true>(a, maps, stream);
    case 15: return launch_hopper<true, true, true, true>(a, maps, stream);
    default: return launch_hopper<true, false, false, true>(a, maps, stream);  // 9
  }
}

}  // namespace ream::cuda
