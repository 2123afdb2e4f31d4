// Paged flash attention for prefill on Hopper (sm_90a): wgmma for both products, K/V
// tiles brought in by the tensor memory accelerator (TMA) on an mbarrier pipeline, one
// producer warp and two consumer warpgroups.
//
// The same function as attention.cu's mma.sync kernel in fold mode, row for row and bit
// for bit (tests/cuda/attention_test.cpp holds the two against each other): a block takes
// one KV head and 128 query rows (row = (new token, query head of the group), as the
// mma.sync kernel's 8-warp block), keys are visited in absolute 64-key tiles from 0, the
// online softmax runs per tile with the shared arithmetic of attention_math.cuh, and the
// pieces of kAttnPiece keys are folded in order. What differs is how the work is fed:
//   - warps 4-7 and 8-11 are two consumer warpgroups of 64 rows each. Q stays in
//     registers as wgmma's A-fragments (the mma.sync kernel's layout); S = Q K^T is 8
//     wgmma.m64n64k16 against the K stage, the probabilities go back in as register
//     A-fragments of 4 wgmma.m64n128k16 against V read transposed from the V stage;
//   - warp 0 is the producer (its warpgroup gives its registers to the consumers
//     with setmaxnreg): for each tile it looks up the block table and issues one
//     TMA copy per (page, 64-column half) of K and of V into a 128-byte-swizzled stage,
//     completing on the stage's "full" barriers; the consumers release a stage through
//     its "empty" barrier. A block's last tile, when it runs past the block's keys, is
//     copied by the producer's lanes instead, zero-filling keys past the end (their
//     probabilities are 0, but 0 * NaN of a stale slot would not be).
// Tiles wholly before the block's first row need no causal mask.
//
// Preconditions (hopper_attention_supported): head_dim 128, fold mode, block_size a
// multiple of 8 that divides 64 or a multiple of 64, a device of compute capability 9.0
// and a build with the sm_90a target. Elsewhere launch_paged_attention uses the mma.sync
// kernel.
#include "cuda/attention.cuh"
#include "cuda/attention_math.cuh"

#include <cuda.h>

#include <algorithm>
#include <string>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define REAM_SM90A_DEVICE 1
#endif

namespace ream::cuda {
namespace {

constexpr int HD = 128;
constexpr int KT = kAttnKvTile;
constexpr int kStages = 4;
constexpr int kThreads = 384;               // a producer warpgroup + 2 consumer warpgroups
[[maybe_unused]] constexpr int kProducerRegs = 24, kConsumerRegs = 240;  // 128 x 24 + 256 x 240 <= 65,536
[[maybe_unused]] constexpr int kColBlockBytes = KT * 128;  // 64 rows x 128 bytes: one 64-column half of a tile
constexpr int kTileBytes = KT * HD * 2;     // 16 KiB: one K or V tile
constexpr size_t kSmemBytes = 1024 /*alignment slack*/ + 2 * kStages * kTileBytes + 64 * kStages;
static_assert(kAttnRowsPrefill == 128, "the Hopper kernel's block is the mma.sync kernel's 8-warp block");

// ---- device helpers (sm_90a) ----

#ifdef REAM_SM90A_DEVICE
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
// Ordinary shared-memory stores become visible to the async proxy (wgmma, TMA).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// wgmma shared-memory descriptor, 128-byte swizzle: start address, leading byte offset
// (between 64-element column blocks, MN-major only), stride byte offset (between 8-row
// groups), all in 16-byte units.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(lbo >> 4) << 16) |
         (static_cast<uint64_t>(sbo >> 4) << 32) | (1ull << 62);
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// Pins an accumulator after wgmma_wait_all so that no use is scheduled before the wait.
__device__ __forceinline__ void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

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

__global__ void __launch_bounds__(kThreads, 1)
    paged_attention_hopper_kernel(const AttentionArgs a, const __grid_constant__ HopperMaps maps) {
#ifdef REAM_SM90A_DEVICE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t k_s = base;                          // [kStages][64 keys x 128] swizzled
  const uint32_t v_s = k_s + kStages * kTileBytes;    // [kStages][64 keys x 128] swizzled
  const uint32_t bars = v_s + kStages * kTileBytes;   // full_k, full_v, empty: kStages each
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
      mbar_init(full_k(st), 1);
      mbar_init(full_v(st), 1);
      mbar_init(empty(st), 8);  // one arrival per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp < 4) {  // ---- producer: warp 0 of warpgroup 0 ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs));
    if (warp != 0) return;
    const int32_t* bt = a.block_tables + s.bt_offset;
    const int bs = a.block_size;
    const int box_rows = min(bs, KT);
    for (int it = 0; it < n_tiles; ++it) {
      const int st = it % kStages;
      if (it >= kStages) mbar_wait(empty(st), ((it / kStages) & 1) ^ 1);
      const int tile_start = it * KT;
      if (tile_start + KT <= kv_end) {
        // The tile's pages, looked up by lanes 0..n-1 at once (one memory latency, not n).
        const int n_boxes = KT / box_rows;
        const int my_blk = lane < n_boxes ? bt[(tile_start + lane * box_rows) / bs] : 0;
        if (lane == 0) {
          mbar_expect_tx(full_k(st), kTileBytes);
          mbar_expect_tx(full_v(st), kTileBytes);
        }
        for (int r = 0, i = 0; r < KT; r += box_rows, ++i) {
          const int blk = __shfl_sync(0xffffffffu, my_blk, i);
          if (lane == 0) {
            const int in_page = (tile_start + r) % bs;
            const uint32_t off = st * kTileBytes + r * 128;
            for (int c = 0; c < 2; ++c) {
              tma_load_4d(k_s + off + c * kColBlockBytes, &maps.k, c * 64, in_page, kvh, blk, full_k(st));
              tma_load_4d(v_s + off + c * kColBlockBytes, &maps.v, c * 64, in_page, kvh, blk, full_v(st));
            }
          }
        }
        __syncwarp();
      } else {  // the block's last tile runs past its keys: copy it by hand, zeros past the end
        const int64_t head_stride = static_cast<int64_t>(bs) * HD;
        for (int idx = lane; idx < KT * (HD / 8); idx += 32) {
          const int r = idx / (HD / 8), c = idx % (HD / 8), tok = tile_start + r;
          uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
          if (tok < kv_end) {
            const int64_t off = (static_cast<int64_t>(bt[tok / bs]) * a.n_kv_heads + kvh) * head_stride +
                                static_cast<int64_t>(tok % bs) * HD + c * 8;
            kv = *reinterpret_cast<const uint4*>(a.k_cache + off);
            vv = *reinterpret_cast<const uint4*>(a.v_cache + off);
          }
          const uint32_t o = swizzled(r, c);
          *reinterpret_cast<uint4*>(smem_gen + (k_s - base) + st * kTileBytes + o) = kv;
          *reinterpret_cast<uint4*>(smem_gen + (v_s - base) + st * kTileBytes + o) = vv;
        }
        fence_proxy_async();
        __syncwarp();
        if (lane == 0) {
          mbar_arrive(full_k(st));
          mbar_arrive(full_v(st));
        }
      }
    }
    return;
  }

  // ---- consumers: warpgroup 1 + wg owns block rows [64 wg, 64 wg + 64) ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs));
  const int cw = warp - 4;  // consumer warp: the mma.sync kernel's warp of the same rows
  const int g = lane >> 2, t4 = lane & 3;
  const AttnRows rows = attention_rows(cw, g, group, n_tok, kvh, first_pos + w.q0);
  const int(&row_pos)[2] = rows.pos;
  uint32_t qf[HD / 16][4];
  load_q_fragments<HD>(a.q, a.q_stride, s.query_start + w.q0, rows, t4, qf);
  const int min_pos = first_pos + w.q0;  // the block's first row

  float o[HD / 8][4], o_acc[HD / 8][4];
#pragma unroll
  for (int i = 0; i < HD / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[i][e] = o_acc[i][e] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  float m_acc[2] = {-INFINITY, -INFINITY}, l_acc[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;

  // Per tile: S = Q K^T (8 wgmma), the softmax in registers, O += P V (4 wgmma), each
  // waited for before the next. Overlapping the softmax with the previous tile's P V
  // (FlashAttention-3's intra-warpgroup pipeline) measured 7% slower here: the second
  // score buffer spills (H100, session 3).
  for (int it = 0; it < n_tiles; ++it) {
    const int st = it % kStages;
    const uint32_t parity = (it / kStages) & 1;
    const int tile_start = it * KT;

    // S = Q K^T: Q's A-fragments from registers, K from the stage.
    float sc[KT / 8][4];
#pragma unroll
    for (int nt = 0; nt < KT / 8; ++nt) sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
    mbar_wait(full_k(st), parity);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk)
      wgmma_qk(sc, qf[kk], smem_desc(k_s + st * kTileBytes + (kk >> 2) * kColBlockBytes + (kk & 3) * 32, 16, 1024));
    wgmma_commit();
    wgmma_wait_all();
#pragma unroll
    for (int nt = 0; nt < KT / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) fence_operand(sc[nt][e]);

    float corr[2];
    if (tile_start + KT - 1 > min_pos)  // the diagonal, or past the block's keys
      softmax_tile<true>(sc, tile_start, kv_end, row_pos, t4, scale_log2, m_run, l_run, corr);
    else
      softmax_tile<false>(sc, tile_start, kv_end, row_pos, t4, scale_log2, m_run, l_run, corr);
    rescale_rows<HD>(o, corr);

    // O += P V: P's accumulator layout is wgmma's register A-fragment; V read transposed.
    uint32_t pa[KT / 16][4];
#pragma unroll
    for (int kc = 0; kc < KT / 16; ++kc) pack_probabilities(sc, kc, pa[kc]);
    mbar_wait(full_v(st), parity);
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) fence_operand(o[dt][e]);
    wgmma_fence();
#pragma unroll
    for (int kc = 0; kc < KT / 16; ++kc)
      wgmma_pv(o, pa[kc], smem_desc(v_s + st * kTileBytes + kc * 16 * 128, kColBlockBytes, 1024));
    wgmma_commit();
    wgmma_wait_all();
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) fence_operand(o[dt][e]);
    __syncwarp();
    if (lane == 0) mbar_arrive(empty(st));  // the stage is free for the producer

    if (it + 1 == n_tiles || (tile_start + KT) % a.piece_len == 0)
      fold_piece<HD>(o, o_acc, m_run, l_run, m_acc, l_acc);
  }

  store_rows<HD>(o_acc, l_acc, rows, a.out, a.out_stride, s.query_start + w.q0, t4);
#endif  // REAM_SM90A_DEVICE
}

// ---- host side ----

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

// cuTensorMapEncodeTiled from the driver, looked up once (ream links the runtime only).
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

Status make_cache_map(const bf16* cache, const AttentionArgs& a, CUtensorMap* map) {
  const cuuint64_t dims[4] = {HD, static_cast<cuuint64_t>(a.block_size), static_cast<cuuint64_t>(a.n_kv_heads),
                              static_cast<cuuint64_t>(a.num_blocks)};
  const cuuint64_t row = HD * sizeof(bf16);
  const cuuint64_t strides[3] = {row, row * a.block_size, row * a.block_size * a.n_kv_heads};
  const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(std::min(a.block_size, KT)), 1, 1};
  const cuuint32_t elem[4] = {1, 1, 1, 1};
  const CUresult r = encode_tiled()(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<bf16*>(cache), dims, strides,
                                    box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return internal_error("cuTensorMapEncodeTiled failed for the KV cache (" + std::to_string(r) + ")");
  return Status();
}

}  // namespace

bool hopper_attention_supported(const AttentionArgs& a) {
#ifdef REAM_CUDA_SM90A
  static const bool device_ok = [] {
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
    return major == 9 && minor == 0 && encode_tiled() != nullptr;
  }();
  const int bs = a.block_size;
  const bool bs_ok = bs > 0 && bs % 8 == 0 && (KT % bs == 0 || bs % KT == 0);
  return device_ok && a.head_dim == HD && a.num_splits == 1 && bs_ok &&
         a.num_blocks > 0 && a.n_heads / a.n_kv_heads <= kAttnRowsPrefill;
#else
  (void)a;
  return false;
#endif
}

Status launch_paged_attention_hopper(const AttentionArgs& a, cudaStream_t stream) {
  HopperMaps maps;
  REAM_RETURN_IF_ERROR(make_cache_map(a.k_cache, a, &maps.k));
  REAM_RETURN_IF_ERROR(make_cache_map(a.v_cache, a, &maps.v));
  CUDA_CHECK(cudaFuncSetAttribute(paged_attention_hopper_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(kSmemBytes)));
  paged_attention_hopper_kernel<<<dim3(a.n_work, a.n_kv_heads), kThreads, kSmemBytes, stream>>>(a, maps);
  CUDA_CHECK_LAUNCH("paged_attention_hopper_kernel");
  return Status();
}

}  // namespace ream::cuda
