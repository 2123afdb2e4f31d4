// Paged flash attention on the tensor cores (mma.sync m16n8k16, bf16 in, fp32 accumulate).
//
// A block takes one KV head and a tile of query *rows*, a row being one (new token, query
// head of that KV head's group) pair: with GQA the group's heads share every K/V tile a
// block loads (Qwen3-4B: 4 heads per KV head, so a 128-row tile is 32 tokens x 4 heads).
// Each warp owns 16 rows; Q stays in registers as mma A-fragments for the whole pass.
// Keys stream through shared memory in tiles of 64, double-buffered with cp.async,
// gathered through the sequence's block table. Scores S = Q K^T and the online softmax
// (running max and sum per row, exp2 with the scale folded in) stay in registers; the
// probabilities are re-packed as bf16 A-fragments and multiplied by V (ldmatrix.trans).
// No score matrix touches memory. Causality: a row at position p sees keys <= p.
//
// Batch invariance. One kernel (8 warps for prefill tiles, 1 warp for decode) runs the
// same per-row arithmetic whatever the block: keys are visited in absolute tiles from
// position 0 and cut into absolute *pieces* of piece_len keys; each piece runs the online
// softmax from a fresh state and the pieces are folded left to right with fold() (the
// same function in this kernel and in the combine kernel). Keys past a row's position
// are exact no-ops for it (zero probabilities, correction 1), so a row's result depends
// only on its query, its keys and piece_len: not on the chunk it came in, the other rows
// of its block, the batch, or the split mode. Two ways to run the same arithmetic:
//   - fold (num_splits == 1): a block walks all its pieces and folds them in registers;
//   - split (num_splits > 1): block z computes piece z only and writes (o, max, sum); the
//     combine kernel folds each row's pieces in order. Used when blocks are too few to
//     fill the GPU (small batch, long context); choosing it changes timing, not results.
#include "cuda/attention.cuh"
#include "cuda/attention_math.cuh"
#include "cuda/pdl.cuh"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ream::cuda {
namespace {

constexpr int KT = kAttnKvTile;
// Padded smem rows (HD + 8 bf16: 272 bytes at HD 128): conflict-free fragment loads.
template <int HD>
constexpr size_t smem_bytes() {
  return 2 /*K,V*/ * 2 /*stages*/ * KT * (HD + 8) * sizeof(bf16);
}

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

// One 64-key tile for a warp's 16 rows (k_tile, v_tile: the tile's [KT][HD + 8] stages):
// S = Q K^T, the online-softmax step (keys past kv_end or a row's position masked), and
// O += P V. The same arithmetic for every block shape: a row's result depends only on its
// query, its keys and the piece boundaries.
template <int HD>
__device__ __forceinline__ void attend_tile(const bf16* k_tile, const bf16* v_tile, const uint32_t (&qf)[HD / 16][4],
                                            int tile_start, int kv_end, const int (&row_pos)[2], int lane,
                                            float scale_log2, float (&m_run)[2], float (&l_run)[2],
                                            float (&o)[HD / 8][4]) {
  constexpr int LDS = HD + 8;
  const int g = lane >> 2, t4 = lane & 3;
  // S = Q K^T for this warp's 16 rows x 64 keys.
  float sc[KT / 8][4];
#pragma unroll
  for (int nt = 0; nt < KT / 8; ++nt) {
    sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.0f;
    const bf16* kr = k_tile + (nt * 8 + g) * LDS + 2 * t4;
#pragma unroll
    for (int kc = 0; kc < HD / 16; ++kc) {
      const uint32_t b0 = *reinterpret_cast<const uint32_t*>(kr + kc * 16);
      const uint32_t b1 = *reinterpret_cast<const uint32_t*>(kr + kc * 16 + 8);
      mma_bf16(sc[nt], qf[kc], b0, b1);
    }
  }

  // Mask, scale (log2 domain) and the online softmax update.
  float corr[2];
  softmax_tile<true>(sc, tile_start, kv_end, row_pos, t4, scale_log2, m_run, l_run, corr);
  rescale_rows<HD>(o, corr);

  // O += P V: P's accumulator layout is exactly the A-fragment layout of the next mma.
#pragma unroll
  for (int kc = 0; kc < KT / 16; ++kc) {
    uint32_t pa[4];
    pack_probabilities(sc, kc, pa);
    const int vrow = kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
    const bf16* vbase = v_tile + vrow * LDS + (lane >> 4) * 8;
#pragma unroll
    for (int dp = 0; dp < HD / 16; ++dp) {
      uint32_t b0, b1, b2, b3;
      ldmatrix_x4_trans(b0, b1, b2, b3, vbase + dp * 16);
      mma_bf16(o[2 * dp], pa, b0, b1);
      mma_bf16(o[2 * dp + 1], pa, b2, b3);
    }
  }
}

// A shared-prefix block's rows (a.share): the members' decode rows packed 16 a warp, member
// after member (member m's rows n_tok_m x group, token-major as in its own block), so 7
// questions of a 4-head group take 2 warps' products instead of 7 warps' of 4 live rows each.
// A row past the members' rows repeats the last one and is not stored; a warp with no
// member row computes nothing. For each of the thread's two rows: its query row, its
// partial's row block (work item x KV heads + kvh) and row within that item's 16.
struct SharedRows {
  AttnRows rows;
  int64_t q_row[2];
  int64_t rowblock[2];
  int item_row[2];
  bool any;  // the warp holds at least one member row
};
__device__ __forceinline__ SharedRows shared_rows(const AttentionArgs& a, const AttnShareGroup& sg, int warp, int g,
                                                  int kvh) {
  const int group = a.n_heads / a.n_kv_heads;
  const int tokens_per_item = kAttnRowsDecode / group;
  int total = 0;
  for (int m = 0; m < sg.n; ++m) {
    const AttnWork w = a.work[sg.work[m]];
    total += min(tokens_per_item, a.seqs[w.seq].query_len - w.q0) * group;
  }
  SharedRows r;
  r.any = warp * 16 < total;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int packed = warp * 16 + g + 8 * i;
    r.rows.valid[i] = packed < total;
    int row = min(packed, total - 1), m = 0, n_rows = 0;
    for (; m < sg.n; ++m) {  // the member holding packed row `row`
      const AttnWork w = a.work[sg.work[m]];
      n_rows = min(tokens_per_item, a.seqs[w.seq].query_len - w.q0) * group;
      if (row < n_rows) break;
      row -= n_rows;
    }
    const AttnWork w = a.work[sg.work[m]];
    const AttnSeq s = a.seqs[w.seq];
    const int tok = row / group;
    r.rows.tok[i] = tok;
    r.rows.head[i] = kvh * group + row % group;
    r.rows.pos[i] = s.context_len - s.query_len + w.q0 + tok;
    r.q_row[i] = s.query_start + w.q0 + tok;
    r.rowblock[i] = static_cast<int64_t>(sg.work[m]) * a.n_kv_heads + kvh;
    r.item_row[i] = row;
  }
  return r;
}

// blockDim.x = 32 * warps: 8 warps of 16 rows (prefill, 128 rows), or kAttnDecodeWarps
// (decode, 16 rows: warp 0 computes, every warp loads). HD: head_dim, a multiple of 16.
// 8 warps (128 rows) load each K/V tile once for twice the rows of 4 warps: 10-11% faster
// prefill on an H200 (65,536 tokens) at one block per SM with 255 registers.
// With a.share (split mode, decode rows, kAttnShareWarps warps): block x is shared-prefix
// group x, its rows packed by shared_rows.
template <int HD>
__global__ void __launch_bounds__(256, 1) paged_attention_kernel(const AttentionArgs a) {
  constexpr int LDS = HD + 8;
  static_assert(KT * (HD / 8) % 32 == 0, "load_tile's shuffles need whole warps of copies");
  const bool shared = a.share != nullptr;
  // Rows of a work item: a.rows (128 prefill, 16 decode). A decode block has more warps
  // than its one warp of rows (kAttnDecodeWarps): the others only help load the tiles.
  const int ROWS = shared ? kAttnRowsDecode : a.rows;
  const int NT = static_cast<int>(blockDim.x);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* k_s = reinterpret_cast<bf16*>(smem_raw);  // [2][KT][LDS]
  bf16* v_s = k_s + 2 * KT * LDS;                 // [2][KT][LDS]
  pdl_wait();

  const int kvh = blockIdx.y, split = blockIdx.z;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
  AttnRows rows;
  int64_t q_row[2], rowblock[2];
  int item_row[2];
  bool compute = true;
  int kv_begin = 0, kv_end = 0;  // keys [kv_begin, kv_end)
  const int32_t* bt = nullptr;
  if (shared) {
    const AttnShareGroup& sg = a.share[blockIdx.x];
    if (a.piece0 + split >= sg.pieces) return;  // the whole block: no member shares this piece
    const SharedRows sr = shared_rows(a, sg, warp, g, kvh);
    rows = sr.rows;
    compute = sr.any;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      q_row[i] = sr.q_row[i];
      rowblock[i] = sr.rowblock[i];
      item_row[i] = sr.item_row[i];
    }
    // A shared piece lies wholly before every member's first new token.
    kv_begin = (a.piece0 + split) * a.piece_len;
    kv_end = kv_begin + a.piece_len;
    bt = a.block_tables + a.seqs[a.work[sg.work[0]].seq].bt_offset;  // the pieces' blocks are every member's
  } else {
    const AttnWork w = a.work[blockIdx.x];
    const AttnSeq s = a.seqs[w.seq];
    const int group = a.n_heads / a.n_kv_heads;
    const int first_pos = s.context_len - s.query_len;
    const int n_tok = min(ROWS / group, s.query_len - w.q0);
    kv_end = first_pos + w.q0 + n_tok;
    if (a.num_splits > 1) {  // split mode: piece piece0 + `split` only
      kv_begin = (a.piece0 + split) * a.piece_len;
      if (kv_begin >= kv_end) return;  // no row of this block reaches it; the combine never reads it
      if (a.n_share > 0 && a.piece0 + split < w.shared_pieces) return;  // a shared block computes it
      kv_end = min(kv_end, kv_begin + a.piece_len);
    }
    rows = attention_rows(warp, g, group, n_tok, kvh, first_pos + w.q0);
    compute = warp * 16 < ROWS;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      q_row[i] = s.query_start + w.q0 + rows.tok[i];
      rowblock[i] = static_cast<int64_t>(blockIdx.x) * a.n_kv_heads + kvh;
      item_row[i] = warp * 16 + g + 8 * i;
      rows.valid[i] = rows.valid[i] || a.num_splits > 1;  // split mode stores every row (the combine reads the live ones)
    }
    bt = a.block_tables + s.bt_offset;
  }
  const int(&row_pos)[2] = rows.pos;
  uint32_t qf[HD / 16][4];
  load_q_fragments_at<HD>(a.q, a.q_stride, q_row, rows, t4, qf);

  float o[HD / 8][4];
#pragma unroll
  for (int i = 0; i < HD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // the current piece
  float o_acc[HD / 8][4];  // fold mode: the pieces folded so far
#pragma unroll
  for (int i = 0; i < HD / 8; ++i) o_acc[i][0] = o_acc[i][1] = o_acc[i][2] = o_acc[i][3] = 0.0f;
  float m_acc[2] = {-INFINITY, -INFINITY}, l_acc[2] = {0.0f, 0.0f};
  const float scale_log2 = a.scale * 1.4426950408889634f;

  const int n_tiles = kv_end > kv_begin ? (kv_end - kv_begin + KT - 1) / KT : 0;
  const int64_t head_stride = static_cast<int64_t>(a.block_size) * HD;

  // A tile's copies. With a.pages_by_lane the block-table entries of its pages are read
  // once a warp, lane i holding page i's, and handed to the copies by shuffle: one global
  // read a lane instead of one (a dependent one) before every copy, which chains a decode
  // block's single warp. Tiles over more than 32 pages (pages of 1 key) read the table at
  // each copy either way.
  auto load_tile = [&](int buf, int tile_start) {
    const int first_page = tile_start / a.block_size;
    const int last_tok = min(kv_end, tile_start + KT) - 1;  // tile_start < kv_end
    const bool by_lane = a.pages_by_lane && last_tok / a.block_size - first_page < 32;  // the same for every thread
    const int my_page = by_lane && first_page + lane <= last_tok / a.block_size ? bt[first_page + lane] : 0;
    // The lanes of a warp run the loop equally often (KT * HD / 8 and NT are multiples of
    // 32), so every lane reaches each shuffle.
    for (int idx = tid; idx < KT * (HD / 8); idx += NT) {
      const int row = idx / (HD / 8), chunk = idx % (HD / 8);
      const int tok = tile_start + row;
      const bool valid = tok < kv_end;
      int64_t blk = 0;
      if (by_lane) {
        blk = __shfl_sync(0xffffffffu, my_page, min(tok, last_tok) / a.block_size - first_page);
      } else if (valid) {
        blk = bt[tok / a.block_size];
      }
      int64_t off = 0;
      if (valid) {
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
    const int tile_start = kv_begin + it * KT;
    if (compute)
      attend_tile<HD>(k_s + buf * KT * LDS, v_s + buf * KT * LDS, qf, tile_start, kv_end, row_pos, lane, scale_log2,
                      m_run, l_run, o);
    __syncthreads();  // the buffer is refilled by the next iteration's prefetch

    // Fold mode, end of a piece (or of the block's keys): fold it in, start the next.
    if (a.num_splits == 1 && (it + 1 == n_tiles || (tile_start + KT) % a.piece_len == 0))
      fold_piece<HD>(o, o_acc, m_run, l_run, m_acc, l_acc);
  }

  pdl_launch_dependents();  // late: the next kernel's blocks take the slots this grid frees
  if (a.num_splits == 1) {
    if (compute) store_rows<HD>(o_acc, l_acc, rows, a.out, a.out_stride, q_row[0] - rows.tok[0], t4);
  } else if (compute) {
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) l_run[ri] = quad_sum(l_run[ri]);
    const int64_t n_rowblocks = static_cast<int64_t>(a.n_work) * a.n_kv_heads;
#pragma unroll
    for (int ri = 0; ri < 2; ++ri) {
      if (!rows.valid[ri]) continue;
      const int64_t prow = (split * n_rowblocks + rowblock[ri]) * ROWS + item_row[ri];
      float* dst = a.part_o + prow * HD + 2 * t4;
#pragma unroll
      for (int dt = 0; dt < HD / 8; ++dt)
        *reinterpret_cast<float2*>(dst + dt * 8) = make_float2(o[dt][2 * ri], o[dt][2 * ri + 1]);
      if (t4 == 0) *reinterpret_cast<float2*>(a.part_ml + prow * 2) = make_float2(m_run[ri], l_run[ri]);
    }
  }
}

// Folds each row's pieces of this round, in order: one warp per row (4 rows a block, grid
// z over a work item's rows), each lane owning HD / 32 head dims. A row at position p has
// pieces 0 .. p / piece_len; this round holds pieces piece0 .. piece0 + num_splits - 1.
// Rounds after the first start from the running state the previous round left in
// fold_state; the last writes the output.
// The fold is the sequential one (fold_coef and fold of attention_math.cuh, piece after
// piece), computed without waiting on memory piece by piece: the lanes load 32 pieces'
// (max, sum) at once, a warp scan gives each piece the running max before it (max is
// exact, so this is the sequential value), each lane derives its piece's coefficients,
// and the outputs' partials are loaded eight pieces ahead of their fold.
constexpr int kCombineRowsPerBlock = 4;

template <int HD>
__global__ void __launch_bounds__(32 * kCombineRowsPerBlock) attention_combine_kernel(const AttentionArgs a) {
  constexpr int DPL = HD >= 32 ? HD / 32 : 1;  // head dims per lane
  constexpr int kAhead = 8;                     // pieces whose partial outputs are in flight
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  pdl_launch_dependents();
  pdl_wait();
  const AttnWork w = a.work[blockIdx.x];
  const AttnSeq s = a.seqs[w.seq];
  const int kvh = blockIdx.y;
  const int group = a.n_heads / a.n_kv_heads;
  const int n_tok = min(a.rows / group, s.query_len - w.q0);
  const int r = blockIdx.z * kCombineRowsPerBlock + warp;
  if (r >= n_tok * group) return;
  const int first_pos = s.context_len - s.query_len;
  const int64_t rowblock = static_cast<int64_t>(blockIdx.x) * a.n_kv_heads + kvh;
  const int64_t n_rowblocks = static_cast<int64_t>(a.n_work) * a.n_kv_heads;
  const int tok = r / group, head = kvh * group + r % group;
  const int n_pieces = min(a.num_splits, (first_pos + w.q0 + tok) / a.piece_len + 1 - a.piece0);
  const int d0 = lane * DPL;
  const bool has_dims = d0 < HD;
  float* state = a.fold_state + (rowblock * a.rows + r) * (HD + 2);
  auto prow = [&](int z) { return (z * n_rowblocks + rowblock) * a.rows + r; };

  float m_acc = -INFINITY, l_acc = 0.0f, o[DPL];
#pragma unroll
  for (int i = 0; i < DPL; ++i) o[i] = 0.0f;
  if (!a.first_round) {
    m_acc = state[HD];
    l_acc = state[HD + 1];
    if (has_dims) {
#pragma unroll
      for (int i = 0; i < DPL; ++i) o[i] = state[d0 + i];
    }
  }
  for (int z0 = 0; z0 < n_pieces; z0 += 32) {
    const int cnt = min(32, n_pieces - z0);
    const float2 ml = lane < cnt ? *reinterpret_cast<const float2*>(a.part_ml + prow(z0 + lane) * 2)
                                 : make_float2(-INFINITY, 0.0f);
    float pm = ml.x;  // running max through this lane's piece
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float t = __shfl_up_sync(0xffffffffu, pm, off);
      if (lane >= off) pm = fmaxf(pm, t);
    }
    float before = __shfl_up_sync(0xffffffffu, pm, 1);
    before = fmaxf(m_acc, lane == 0 ? -INFINITY : before);  // the running max before this piece
    const FoldCoef f = fold_coef(before, ml.x);
    for (int j0 = 0; j0 < cnt; j0 += kAhead) {
      float v[kAhead][DPL];
#pragma unroll
      for (int k = 0; k < kAhead; ++k) {
        if (j0 + k < cnt && has_dims) {
          const float* src = a.part_o + prow(z0 + j0 + k) * HD + d0;
#pragma unroll
          for (int i = 0; i < DPL; ++i) v[k][i] = src[i];
        }
      }
#pragma unroll
      for (int k = 0; k < kAhead; ++k) {
        if (j0 + k < cnt) {  // the same for every lane
          const float fa = __shfl_sync(0xffffffffu, f.a, j0 + k), fb = __shfl_sync(0xffffffffu, f.b, j0 + k);
          l_acc = fold(l_acc, fa, __shfl_sync(0xffffffffu, ml.y, j0 + k), fb);
#pragma unroll
          for (int i = 0; i < DPL; ++i) o[i] = fold(o[i], fa, v[k][i], fb);
        }
      }
    }
    m_acc = __shfl_sync(0xffffffffu, f.m_new, cnt - 1);
  }
  if (a.last_round) {
    if (has_dims) {
      bf16* dst = a.out + static_cast<int64_t>(s.query_start + w.q0 + tok) * a.out_stride +
                  static_cast<int64_t>(head) * HD + d0;
#pragma unroll
      for (int i = 0; i < DPL; ++i) dst[i] = __float2bfloat16(finish(o[i], l_acc));
    }
  } else {
    __syncwarp();  // every lane has read m, l before lane 0 rewrites them
    if (has_dims) {
#pragma unroll
      for (int i = 0; i < DPL; ++i) state[d0 + i] = o[i];
    }
    if (lane == 0) {
      state[HD] = m_acc;
      state[HD + 1] = l_acc;
    }
  }
}

}  // namespace

// ---- host helpers ----

void append_attention_work(int32_t seq_index, int32_t query_len, int rows, int group, std::vector<AttnWork>* work) {
  const int tokens_per_tile = rows / group;
  for (int32_t q0 = 0; q0 < query_len; q0 += tokens_per_tile) work->push_back({seq_index, q0});
}

int attention_pieces(int64_t max_keys, int piece_len) {
  return static_cast<int>(std::max<int64_t>(1, ceil_div(max_keys, piece_len)));
}

int choose_attention_splits(int64_t base_blocks, int64_t max_keys, int sm_count, int64_t capacity_rows, int rows,
                            int piece_len) {
  const int64_t pieces = attention_pieces(max_keys, piece_len);
  if (base_blocks <= 0 || pieces <= 1) return 1;
  if (base_blocks >= 2 * static_cast<int64_t>(sm_count)) return 1;  // the blocks fill the GPU already
  int64_t splits = 2;  // a power of two: CUDA graphs keyed by it stay few as contexts grow
  while (splits < pieces) splits *= 2;
  if (splits * base_blocks * rows > capacity_rows) return 1;
  return static_cast<int>(splits);
}

AttnSplitPlan choose_attention_split_rounds(int64_t base_blocks, int64_t max_keys, int sm_count,
                                            int64_t capacity_rows, int64_t state_rows, int rows, int piece_len) {
  AttnSplitPlan p;
  p.splits = choose_attention_splits(base_blocks, max_keys, sm_count, capacity_rows, rows, piece_len);
  const int64_t pieces = attention_pieces(max_keys, piece_len);
  if (p.splits > 1 || pieces <= 1 || base_blocks <= 0 || base_blocks >= sm_count) return p;
  const int64_t base_rows = base_blocks * rows;
  if (base_rows > state_rows) return p;
  int64_t splits = 1;
  while (splits * 2 * base_rows <= capacity_rows && splits * 2 <= pieces) splits *= 2;
  if (splits < 8) return p;
  p.splits = static_cast<int>(splits);
  p.rounds = static_cast<int>(ceil_div(pieces, splits));
  return p;
}

AttnSplitPlan choose_decode_split_rounds(int64_t base_blocks, int64_t max_keys, int64_t capacity_rows,
                                         int64_t state_rows, int rows, int piece_len) {
  AttnSplitPlan p;
  const int64_t pieces = attention_pieces(max_keys, piece_len);
  if (base_blocks <= 0 || pieces <= 1) return p;
  const int64_t base_rows = base_blocks * rows;
  int64_t all = 2;  // a power of two: CUDA graphs keyed by it stay few as contexts grow
  while (all < pieces) all *= 2;
  if (all * base_rows <= capacity_rows) {
    p.splits = static_cast<int>(all);
    return p;
  }
  if (base_rows > state_rows) return p;  // fold mode
  int64_t splits = 1;
  while (splits * 2 * base_rows <= capacity_rows) splits *= 2;
  if (splits < 2) return p;
  p.splits = static_cast<int>(splits);
  p.rounds = static_cast<int>(ceil_div(pieces, splits));
  return p;
}

std::vector<AttnShareGroup> plan_shared_decode(const std::vector<AttnSeq>& seqs,
                                               const std::vector<const int32_t*>& tables, int block_size,
                                               int piece_len, int group, std::vector<AttnWork>* work) {
  std::vector<AttnShareGroup> groups;
  for (AttnWork& w : *work) w.shared_pieces = 0;
  if (block_size <= 0 || piece_len % block_size != 0 || group <= 0 || group > kAttnShareRows / 2) return groups;
  const int per_piece = piece_len / block_size;
  // Whole pieces of cached keys (written by earlier steps, so every row of the item sees
  // them all): keys [0, k * piece_len) before the item's first new token.
  auto whole_pieces = [&](const AttnWork& w) {
    const AttnSeq& s = seqs[w.seq];
    return (s.context_len - s.query_len + w.q0) / piece_len;
  };
  auto rows_of = [&](int i) {  // the item's rows in a shared block (shared_rows)
    const AttnWork& w = (*work)[i];
    return std::min(kAttnRowsDecode / group, seqs[w.seq].query_len - w.q0) * group;
  };
  // Candidates in the order of their block tables (lexicographic, a table that ends counting
  // as larger than any block, so the longest of those with a common beginning come first),
  // so that sequences with the longest common beginnings sit side by side; then groups grow
  // greedily along that order.
  std::vector<int> order;
  std::vector<int> whole(work->size());
  for (int i = 0; i < static_cast<int>(work->size()); ++i) {
    whole[i] = whole_pieces((*work)[i]);
    if (whole[i] >= 1) order.push_back(i);
  }
  auto table_of = [&](int i) { return tables[(*work)[i].seq]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const int na = whole[a] * per_piece, nb = whole[b] * per_piece;
    const int32_t *ta = table_of(a), *tb = table_of(b);
    const auto [pa, pb] = std::mismatch(ta, ta + std::min(na, nb), tb);
    if (pa != ta + std::min(na, nb)) return *pa < *pb;
    return na > nb;
  });
  auto close = [&](AttnShareGroup& g) {
    if (g.n >= 2) {
      for (int m = 0; m < g.n; ++m) (*work)[g.work[m]].shared_pieces = g.pieces;
      groups.push_back(g);
    }
    g = AttnShareGroup{};
  };
  AttnShareGroup g;
  int g_rows = 0;
  for (const int i : order) {
    if (g.n > 0 && g.n < kAttnShareMax && g_rows + rows_of(i) <= kAttnShareRows) {
      const int32_t* t0 = table_of(g.work[0]);
      const int32_t* t = table_of(i);
      const int limit = std::min(g.pieces, whole[i]);
      int same = 0;  // whole pieces whose blocks agree with the group's first member
      while (same < limit && std::equal(t + same * per_piece, t + (same + 1) * per_piece, t0 + same * per_piece))
        ++same;
      if (same >= 1) {
        g.pieces = same;
        g.work[g.n++] = i;
        g_rows += rows_of(i);
        continue;
      }
    }
    close(g);
    g.n = 1;
    g.pieces = whole[i];
    g.work[0] = i;
    g_rows = rows_of(i);
  }
  close(g);
  return groups;
}

// ---- launchers ----

namespace {

template <int HD>
Status launch_paged_attention_hd(const AttentionArgs& a, cudaStream_t stream) {
  constexpr size_t kSmem = smem_bytes<HD>();
  // Above 48 KiB of dynamic shared memory needs the opt-in (a cheap host-side call).
  CUDA_CHECK(cudaFuncSetAttribute(paged_attention_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(kSmem)));
  const dim3 grid(a.n_work, a.n_kv_heads, a.num_splits);
  const int rounds = a.num_splits > 1 ? a.rounds : 1;
  for (int round = 0; round < rounds; ++round) {
    AttentionArgs r = a;
    r.piece0 = round * a.num_splits;
    r.first_round = round == 0;
    r.last_round = round + 1 == rounds;
    AttentionArgs own = r;
    own.share = nullptr;
    const int threads = r.rows == kAttnRowsDecode ? 32 * kAttnDecodeWarps : r.rows * 2;  // 16 rows a warp
    REAM_RETURN_IF_ERROR(launch_pdl("paged_attention_kernel", paged_attention_kernel<HD>, grid, dim3(threads), kSmem,
                                    stream, own));
    if (a.num_splits > 1 && a.n_share > 0) {  // the shared-prefix groups' pieces, one warp a member
      const dim3 sgrid(a.n_share, a.n_kv_heads, a.num_splits);
      REAM_RETURN_IF_ERROR(launch_pdl("paged_attention_kernel", paged_attention_kernel<HD>, sgrid,
                                      dim3(32 * kAttnShareWarps), kSmem, stream, r));
    }
    if (a.num_splits > 1) {
      const dim3 cgrid(a.n_work, a.n_kv_heads, (r.rows + kCombineRowsPerBlock - 1) / kCombineRowsPerBlock);
      REAM_RETURN_IF_ERROR(launch_pdl("attention_combine_kernel", attention_combine_kernel<HD>, cgrid,
                                      dim3(32 * kCombineRowsPerBlock), 0, stream, r));
    }
  }
  return Status();
}

}  // namespace

bool attention_supports_head_dim(int64_t head_dim) {
  return head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 128;
}

// Whether the mma.sync kernel reads a tile's block-table entries once a warp
// (REAM_ATTN_PAGES_BY_LANE=1 in the environment, read once): a timing choice, the same
// keys either way.
bool attention_pages_by_lane() {
  static const bool v = [] {
    const char* env = std::getenv("REAM_ATTN_PAGES_BY_LANE");
    return env && std::strcmp(env, "1") == 0;
  }();
  return v;
}

Status launch_paged_attention(const AttentionArgs& args, int rows, cudaStream_t stream) {
  if (args.n_work == 0) return Status();
  if (!attention_supports_head_dim(args.head_dim))
    return unimplemented("paged attention is built for head_dim 16, 32, 64 and 128, not " +
                         std::to_string(args.head_dim));
  if (args.n_kv_heads <= 0 || args.n_heads % args.n_kv_heads != 0 || args.n_heads / args.n_kv_heads > rows)
    return unimplemented("paged attention: " + std::to_string(args.n_heads) + " query heads over " +
                         std::to_string(args.n_kv_heads) + " KV heads is not supported");
  if (args.piece_len <= 0 || args.piece_len % KT != 0)
    return invalid_argument("paged attention: piece_len must be a positive multiple of " + std::to_string(KT));
  if (args.num_splits < 1 || (args.num_splits > 1 && (!args.part_o || !args.part_ml)) || args.rounds < 1 ||
      (args.num_splits > 1 && args.rounds > 1 && !args.fold_state))
    return invalid_argument("paged attention: bad split configuration");
  if (rows != kAttnRowsPrefill && rows != kAttnRowsDecode)
    return invalid_argument("paged attention: rows must be " + std::to_string(kAttnRowsDecode) + " or " +
                            std::to_string(kAttnRowsPrefill));
  if (args.n_share > 0 && (!args.share || rows != kAttnRowsDecode || args.num_splits < 2))
    return invalid_argument("paged attention: shared-prefix groups need decode rows in split mode");
  AttentionArgs a = args;
  a.rows = rows;
  a.pages_by_lane = attention_pages_by_lane();
  if (rows == kAttnRowsPrefill && !a.portable_only && hopper_attention_supported(a))
    return launch_paged_attention_hopper(a, stream);
  switch (a.head_dim) {
    case 16: return launch_paged_attention_hd<16>(a, stream);
    case 32: return launch_paged_attention_hd<32>(a, stream);
    case 64: return launch_paged_attention_hd<64>(a, stream);
    default: return launch_paged_attention_hd<128>(a, stream);
  }
}

}  // namespace ream::cuda
