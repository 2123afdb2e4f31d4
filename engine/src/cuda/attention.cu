// Paged flash attention on the tensor cores (mma.sync m16n8k16, bf16 in, fp32 accumulate).
//
// A block takes one KV head and a tile of query *rows*, a row being one (new token, query
// head of that KV head's group) pair: with GQA the group's heads share every K/V tile a
// block loads (Qwen3-4B: 4 heads per KV head, so a 64-row tile is 16 tokens x 4 heads).
// Each warp owns 16 rows; Q stays in registers as mma A-fragments for the whole pass.
// Keys stream through shared memory in tiles of 64, double-buffered with cp.async,
// gathered through the sequence's block table. Scores S = Q K^T and the online softmax
// (running max and sum per row, exp2 with the scale folded in) stay in registers; the
// probabilities are re-packed as bf16 A-fragments and multiplied by V (ldmatrix.trans).
// No score matrix touches memory. Causality: a row at position p sees keys <= p.
//
// Two builds: 4 warps (64 rows) for prefill chunks; 1 warp (16 rows) for decode, where
// a sequence has 1 token (rows = group size). When the blocks are too few to fill the
// GPU (small batch, long context) each block's key range is cut into num_splits pieces
// of whole tiles (the piece length derives from the block's own range, so a launch's
// parameters do not change as contexts grow: CUDA graphs can replay it); each piece
// writes its unnormalised output with its (max, sum), and a combine kernel merges them.
#include "cuda/attention.cuh"

#include <algorithm>
#include <cmath>

namespace ream::cuda {
namespace {

constexpr int HD = kAttnHeadDim;
constexpr int KT = kAttnKvTile;
constexpr int LDS = HD + 8;  // padded smem row (272 bytes): conflict-free fragment loads
constexpr size_t kSmemBytes = 2 /*K,V*/ * 2 /*stages*/ * KT * LDS * sizeof(bf16);

// ---- device helpers ----

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int size = valid ? 16 : 0;  // 0: fill the 16 bytes with zeros, read nothing
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3,
                                                  const void* smem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(s));
}

// ---- kernels ----

template <int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32) paged_attention_kernel(const AttentionArgs a) {
  constexpr int ROWS = NWARPS * 16;
  constexpr int NT = NWARPS * 32;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* k_s = reinterpret_cast<bf16*>(smem_raw);  // [2][KT][LDS]
  bf16* v_s = k_s + 2 * KT * LDS;                 // [2][KT][LDS]

  const AttnWork w = a.work[blockIdx.x];
  const AttnSeq s = a.seqs[w.seq];
  const int kvh = blockIdx.y, split = blockIdx.z;
  const int group = a.n_heads / a.n_kv_heads;
  const int tokens_per_tile = ROWS / group;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;

  const int first_pos = s.context_len - s.query_len;
  const int n_tok = min(tokens_per_tile, s.query_len - w.q0);
  int kv_begin = 0, kv_end = first_pos + w.q0 + n_tok;  // keys [kv_begin, kv_end)
  if (a.num_splits > 1) {  // this block's piece of its own key range, in whole tiles
    const int split_len = ((kv_end + a.num_splits - 1) / a.num_splits + KT - 1) / KT * KT;
    kv_begin = split * split_len;
    kv_end = min(kv_end, kv_begin + split_len);
  }

  // The two rows this thread holds results for: r0 (c0, c1) and r1 = r0 + 8 (c2, c3).
  int row_tok[2], row_head[2], row_pos[2];
  bool row_valid[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = warp * 16 + g + 8 * i;
    const int tok = r / group;
    row_valid[i] = tok < n_tok;
    row_tok[i] = min(tok, n_tok - 1);  // invalid rows compute a valid row's problem, unwritten
    row_head[i] = kvh * group + r % group;
    row_pos[i] = first_pos + w.q0 + row_tok[i];
  }

  // Q as A-fragments: qf[kc] covers head dims [16kc, 16kc + 16).
  uint32_t qf[HD / 16][4];
  {
    const bf16* q0 = a.q + static_cast<int64_t>(s.query_start + w.q0 + row_tok[0]) * a.q_stride +
                     static_cast<int64_t>(row_head[0]) * HD + 2 * t4;
    const bf16* q1 = a.q + static_cast<int64_t>(s.query_start + w.q0 + row_tok[1]) * a.q_stride +
                     static_cast<int64_t>(row_head[1]) * HD + 2 * t4;
#pragma unroll
    for (int kc = 0; kc < HD / 16; ++kc) {
      qf[kc][0] = *reinterpret_cast<const uint32_t*>(q0 + kc * 16);
      qf[kc][1] = *reinterpret_cast<const uint32_t*>(q1 + kc * 16);
      qf[kc][2] = *reinterpret_cast<const uint32_t*>(q0 + kc * 16 + 8);
      qf[kc][3] = *reinterpret_cast<const uint32_t*>(q1 + kc * 16 + 8);
    }
  }

  float o[HD / 8][4];
#pragma unroll
  for (int i = 0; i < HD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;

  const int32_t* bt = a.block_tables + s.bt_offset;
  const int n_tiles = kv_end > kv_begin ? (kv_end - kv_begin + KT - 1) / KT : 0;
  const int64_t head_stride = static_cast<int64_t>(a.block_size) * HD;

  auto load_tile = [&](int buf, int tile_start) {
    for (int idx = tid; idx < KT * (HD / 8); idx += NT) {
      const int row = idx / (HD / 8), chunk = idx % (HD / 8);
      const int tok = tile_start + row;
      const bool valid = tok < kv_end;
      int64_t off = 0;
      if (valid) {
        const int64_t blk = bt[tok / a.block_size];
        off = (blk * a.n_kv_heads + kvh) * head_stride + static_cast<int64_t>(tok % a.block_size) * HD + chunk * 8;
      }
      const int so = (buf * KT + row) * LDS + chunk * 8;
      cp_async16(k_s + so, a.k_cache + off, valid);
      cp_async16(v_s + so, a.v_cache + off, valid);
    }
  };

  if (n_tiles > 0) load_tile(0, kv_begin);
  cp_async_commit();
  for (int it = 0; it < n_tiles; ++it) {
    const int buf = it & 1;
    if (it + 1 < n_tiles) {
      load_tile(buf ^ 1, kv_begin + (it + 1) * KT);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    // S = Q K^T for this warp's 16 rows x 64 keys.
    float sc[KT / 8][4];
#pragma unroll
    for (int nt = 0; nt < KT / 8; ++nt) {
      sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
      const bf16* kr = k_s + (buf * KT + nt * 8 + g) * LDS + 2 * t4;
#pragma unroll
      for (int kc = 0; kc < HD / 16; ++kc) {
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(kr + kc * 16);
        const uint32_t b1 = *reinterpret_cast<const uint32_t*>(kr + kc * 16 + 8);
        mma_bf16(sc[nt], qf[kc], b0, b1);
      }
    }

    // Mask, scale (log2 domain) and the online softmax update.
    const int tile_start = kv_begin + it * KT;
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < KT / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = tile_start + nt * 8 + 2 * t4 + (e & 1);
        const int ri = e >> 1;
        const float x = (col < kv_end && col <= row_pos[ri]) ? sc[nt][e] * scale_log2 : -INFINITY;
        sc[nt][e] = x;
        mx[ri] = fmaxf(mx[ri], x);
      }
    }
    float corr[2], m_use[2], rsum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) {
      mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 1));
      mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 2));
      const float m_new = fmaxf(m_run[ri], mx[ri]);
      m_use[ri] = m_new == -INFINITY ? 0.0f : m_new;  // a row with no key yet stays at zero
      corr[ri] = exp2f(m_run[ri] - m_use[ri]);
      m_run[ri] = m_new;
    }
#pragma unroll
    for (int nt = 0; nt < KT / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = exp2f(sc[nt][e] - m_use[e >> 1]);
        sc[nt][e] = p;
        rsum[e >> 1] += p;
      }
    }
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) l_run[ri] = l_run[ri] * corr[ri] + rsum[ri];
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      o[dt][0] *= corr[0];
      o[dt][1] *= corr[0];
      o[dt][2] *= corr[1];
      o[dt][3] *= corr[1];
    }

    // O += P V: P's accumulator layout is exactly the A-fragment layout of the next mma.
#pragma unroll
    for (int kc = 0; kc < KT / 16; ++kc) {
      uint32_t pa[4];
      pa[0] = pack_bf16x2(sc[2 * kc][0], sc[2 * kc][1]);
      pa[1] = pack_bf16x2(sc[2 * kc][2], sc[2 * kc][3]);
      pa[2] = pack_bf16x2(sc[2 * kc + 1][0], sc[2 * kc + 1][1]);
      pa[3] = pack_bf16x2(sc[2 * kc + 1][2], sc[2 * kc + 1][3]);
      const int vrow = kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
      const bf16* vbase = v_s + (buf * KT + vrow) * LDS + (lane >> 4) * 8;
#pragma unroll
      for (int dp = 0; dp < HD / 16; ++dp) {
        uint32_t b0, b1, b2, b3;
        ldmatrix_x4_trans(b0, b1, b2, b3, vbase + dp * 16);
        mma_bf16(o[2 * dp], pa, b0, b1);
        mma_bf16(o[2 * dp + 1], pa, b2, b3);
      }
    }
    __syncthreads();  // the buffer is refilled by the next iteration's prefetch
  }

#pragma unroll
  for (int ri = 0; ri < 2; ++ri) {
    l_run[ri] += __shfl_xor_sync(0xffffffffu, l_run[ri], 1);
    l_run[ri] += __shfl_xor_sync(0xffffffffu, l_run[ri], 2);
  }

  if (a.num_splits == 1) {
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) {
      if (!row_valid[ri]) continue;
      const float inv = l_run[ri] > 0.0f ? 1.0f / l_run[ri] : 0.0f;
      bf16* dst = a.out + static_cast<int64_t>(s.query_start + w.q0 + row_tok[ri]) * a.out_stride +
                  static_cast<int64_t>(row_head[ri]) * HD + 2 * t4;
#pragma unroll
      for (int dt = 0; dt < HD / 8; ++dt)
        *reinterpret_cast<uint32_t*>(dst + dt * 8) = pack_bf16x2(o[dt][2 * ri] * inv, o[dt][2 * ri + 1] * inv);
    }
  } else {
    const int64_t rowblock = static_cast<int64_t>(blockIdx.x) * a.n_kv_heads + kvh;
    const int64_t n_rowblocks = static_cast<int64_t>(a.n_work) * a.n_kv_heads;
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) {
      const int r = warp * 16 + g + 8 * ri;
      const int64_t prow = (split * n_rowblocks + rowblock) * ROWS + r;
      float* dst = a.part_o + prow * HD + 2 * t4;
#pragma unroll
      for (int dt = 0; dt < HD / 8; ++dt)
        *reinterpret_cast<float2*>(dst + dt * 8) = make_float2(o[dt][2 * ri], o[dt][2 * ri + 1]);
      if (t4 == 0) *reinterpret_cast<float2*>(a.part_ml + prow * 2) = make_float2(m_run[ri], l_run[ri]);
    }
  }
}

// Merges the splits of one (work item, KV head): one thread per head dim, rows in turn.
template <int ROWS>
__global__ void __launch_bounds__(HD) attention_combine_kernel(const AttentionArgs a) {
  const AttnWork w = a.work[blockIdx.x];
  const AttnSeq s = a.seqs[w.seq];
  const int kvh = blockIdx.y, d = threadIdx.x;
  const int group = a.n_heads / a.n_kv_heads;
  const int n_tok = min(ROWS / group, s.query_len - w.q0);
  const int64_t rowblock = static_cast<int64_t>(blockIdx.x) * a.n_kv_heads + kvh;
  const int64_t n_rowblocks = static_cast<int64_t>(a.n_work) * a.n_kv_heads;
  for (int r = 0; r < n_tok * group; ++r) {
    float m = -INFINITY;
    for (int sp = 0; sp < a.num_splits; ++sp)
      m = fmaxf(m, a.part_ml[((sp * n_rowblocks + rowblock) * ROWS + r) * 2]);
    if (m == -INFINITY) m = 0.0f;
    float acc = 0.0f, l = 0.0f;
    for (int sp = 0; sp < a.num_splits; ++sp) {
      const int64_t prow = (sp * n_rowblocks + rowblock) * ROWS + r;
      const float2 ml = *reinterpret_cast<const float2*>(a.part_ml + prow * 2);
      const float f = exp2f(ml.x - m);
      l += f * ml.y;
      acc += f * a.part_o[prow * HD + d];
    }
    const int tok = r / group, head = kvh * group + r % group;
    a.out[static_cast<int64_t>(s.query_start + w.q0 + tok) * a.out_stride + static_cast<int64_t>(head) * HD + d] =
        __float2bfloat16(l > 0.0f ? acc / l : 0.0f);
  }
}

template <int NWARPS>
Status launch_variant(const AttentionArgs& a, cudaStream_t stream) {
  // Above 48 KiB of dynamic shared memory needs the opt-in (a cheap host-side call).
  CUDA_CHECK(cudaFuncSetAttribute(paged_attention_kernel<NWARPS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(kSmemBytes)));
  const dim3 grid(a.n_work, a.n_kv_heads, a.num_splits);
  paged_attention_kernel<NWARPS><<<grid, NWARPS * 32, kSmemBytes, stream>>>(a);
  CUDA_CHECK_LAUNCH("paged_attention_kernel");
  if (a.num_splits > 1) {
    attention_combine_kernel<NWARPS * 16><<<dim3(a.n_work, a.n_kv_heads), HD, 0, stream>>>(a);
    CUDA_CHECK_LAUNCH("attention_combine_kernel");
  }
  return Status();
}

}  // namespace

// ---- host helpers ----

void append_attention_work(int32_t seq_index, int32_t query_len, int rows, int group, std::vector<AttnWork>* work) {
  const int tokens_per_tile = rows / group;
  for (int32_t q0 = 0; q0 < query_len; q0 += tokens_per_tile) work->push_back({seq_index, q0});
}

int choose_attention_splits(int64_t base_blocks, int64_t max_keys, int sm_count, int64_t capacity_rows, int rows) {
  if (base_blocks <= 0 || max_keys <= 2 * KT) return 1;
  const int64_t target_blocks = 4 * static_cast<int64_t>(sm_count);
  if (base_blocks >= target_blocks / 2) return 1;
  int64_t splits = ceil_div(target_blocks, base_blocks);
  splits = std::min<int64_t>(splits, ceil_div(max_keys, 2 * KT));  // at least two tiles a split
  splits = std::min<int64_t>(splits, capacity_rows / (base_blocks * rows));
  splits = std::min<int64_t>(splits, 64);
  return static_cast<int>(std::max<int64_t>(splits, 1));
}

// ---- launchers ----

Status launch_paged_attention(const AttentionArgs& args, int rows, cudaStream_t stream) {
  if (args.n_work == 0) return Status();
  if (args.head_dim != HD)
    return unimplemented("paged attention is built for head_dim " + std::to_string(HD) + ", not " +
                         std::to_string(args.head_dim));
  if (args.n_kv_heads <= 0 || args.n_heads % args.n_kv_heads != 0 || args.n_heads / args.n_kv_heads > rows)
    return unimplemented("paged attention: " + std::to_string(args.n_heads) + " query heads over " +
                         std::to_string(args.n_kv_heads) + " KV heads is not supported");
  if (args.num_splits > 1 && (!args.part_o || !args.part_ml))
    return invalid_argument("paged attention: bad split configuration");
  if (rows == kAttnRowsPrefill) return launch_variant<kAttnRowsPrefill / 16>(args, stream);
  if (rows == kAttnRowsDecode) return launch_variant<kAttnRowsDecode / 16>(args, stream);
  return invalid_argument("paged attention: rows must be 16 or 64");
}

}  // namespace ream::cuda
