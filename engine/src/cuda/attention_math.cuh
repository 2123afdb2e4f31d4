// The per-row arithmetic that every paged-attention kernel shares (attention.cu's
// mma.sync kernel and its combine kernel, attention_hopper.cu's wgmma kernel). Batch
// invariance rests on these being one definition: a row folded by any kernel goes
// through exactly these roundings.
#pragma once

#include <cmath>

#include "cuda/common.cuh"

namespace ream::cuda {

// 2^x on the special-function unit, subnormal results flushed to zero (one MUFU.EX2;
// exp2f's subnormal handling costs three more instructions per score). Every kernel's
// probabilities and fold coefficients go through it.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Sum over the 4 lanes of a quad (the 4 threads holding one row's columns).
__device__ __forceinline__ float quad_sum(float v) {
  v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

// Folding a piece (max m, sum l, outputs o) into the running (M, L, O): new max M', then
// L = L 2^(M - M') + l 2^(m - M'), likewise O. Explicit roundings: no contraction can
// differ between the two kernels that use these.
struct FoldCoef {
  float m_new, a, b;
};
__device__ __forceinline__ FoldCoef fold_coef(float m_acc, float m_piece) {
  const float m_new = fmaxf(m_acc, m_piece);
  const float m_use = m_new == -INFINITY ? 0.0f : m_new;
  return {m_new, exp2_ftz(__fsub_rn(m_acc, m_use)), exp2_ftz(__fsub_rn(m_piece, m_use))};
}
__device__ __forceinline__ float fold(float acc, float a, float v, float b) {
  return __fmaf_rn(acc, a, __fmul_rn(v, b));
}
__device__ __forceinline__ float finish(float o, float l) { return __fmul_rn(o, l > 0.0f ? __frcp_rn(l) : 0.0f); }

constexpr int kAttnTileKeys = 64;  // keys per tile (attention.cuh's kAttnKvTile)

// One 64-key tile's online-softmax step for the two rows a thread holds, in the
// accumulator layout of mma.m16n8 / wgmma.m64nN (sc[nt][e]: row g + 8 (e >> 1), column
// 8 nt + 2 t4 + (e & 1) of the tile). Masks keys past kv_end or past the row's position
// (kMask false: the caller knows none is), turns the raw scores s into probabilities
// 2^(s * scale_log2 - m) against the new running max m (in the log2 domain, one fused
// multiply-add per score), and updates the running sum. corr[i] is what the row's output
// accumulators must be multiplied by.
template <bool kMask>
__device__ __forceinline__ void softmax_tile(float (&sc)[kAttnTileKeys / 8][4], int tile_start, int kv_end,
                                             const int (&row_pos)[2], int t4, float scale_log2, float (&m_run)[2],
                                             float (&l_run)[2], float (&corr)[2]) {
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nt = 0; nt < kAttnTileKeys / 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if constexpr (kMask) {
        const int col = tile_start + nt * 8 + 2 * t4 + (e & 1);
        if (!(col < kv_end && col <= row_pos[e >> 1])) sc[nt][e] = -INFINITY;
      }
      mx[e >> 1] = fmaxf(mx[e >> 1], sc[nt][e]);
    }
  }
  float m_use[2], rsum[2] = {0.0f, 0.0f};
#pragma unroll
  for (int ri = 0; ri < 2; ++ri) {
    mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 1));
    mx[ri] = fmaxf(mx[ri], __shfl_xor_sync(0xffffffffu, mx[ri], 2));
    // max(s) * scale rounds to max(s * scale): rounding is monotonic and scale > 0.
    const float m_new = fmaxf(m_run[ri], __fmul_rn(mx[ri], scale_log2));
    m_use[ri] = m_new == -INFINITY ? 0.0f : m_new;  // a row with no key yet stays at zero
    corr[ri] = exp2_ftz(__fsub_rn(m_run[ri], m_use[ri]));
    m_run[ri] = m_new;
  }
#pragma unroll
  for (int nt = 0; nt < kAttnTileKeys / 8; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float p = exp2_ftz(__fmaf_rn(sc[nt][e], scale_log2, -m_use[e >> 1]));
      sc[nt][e] = p;
      rsum[e >> 1] = __fadd_rn(rsum[e >> 1], p);
    }
  }
#pragma unroll
  for (int ri = 0; ri < 2; ++ri) l_run[ri] = __fmaf_rn(l_run[ri], corr[ri], rsum[ri]);
}

// Rows' output accumulators (o[dt][e]: head dims 8 dt + 2 t4 + (e & 1), row e >> 1)
// times their correction. Multiplying by exactly 1 changes no bit, so rows whose max did
// not move skip it.
template <int HD>
__device__ __forceinline__ void rescale_rows(float (&o)[HD / 8][4], const float (&corr)[2]) {
  if (corr[0] == 1.0f && corr[1] == 1.0f) return;
#pragma unroll
  for (int dt = 0; dt < HD / 8; ++dt) {
    o[dt][0] = __fmul_rn(o[dt][0], corr[0]);
    o[dt][1] = __fmul_rn(o[dt][1], corr[0]);
    o[dt][2] = __fmul_rn(o[dt][2], corr[1]);
    o[dt][3] = __fmul_rn(o[dt][3], corr[1]);
  }
}

// The tile's probabilities as bf16 A-fragments of the P V product, 16 keys per kc: the
// accumulator layout of S is the A-fragment layout of the next product.
__device__ __forceinline__ void pack_probabilities(const float (&sc)[kAttnTileKeys / 8][4], int kc,
                                                   uint32_t (&pa)[4]) {
  pa[0] = pack_bf16x2(sc[2 * kc][0], sc[2 * kc][1]);
  pa[1] = pack_bf16x2(sc[2 * kc][2], sc[2 * kc][3]);
  pa[2] = pack_bf16x2(sc[2 * kc + 1][0], sc[2 * kc + 1][1]);
  pa[3] = pack_bf16x2(sc[2 * kc + 1][2], sc[2 * kc + 1][3]);
}

// End of a piece in fold mode: fold the piece (m_run, l_run, o) into the running
// (m_acc, l_acc, o_acc) and start the next piece from a fresh state.
template <int HD>
__device__ __forceinline__ void fold_piece(float (&o)[HD / 8][4], float (&o_acc)[HD / 8][4], float (&m_run)[2],
                                           float (&l_run)[2], float (&m_acc)[2], float (&l_acc)[2]) {
#pragma unroll
  for (int ri = 0; ri < 2; ++ri) {
    const float l_piece = quad_sum(l_run[ri]);
    const FoldCoef f = fold_coef(m_acc[ri], m_run[ri]);
    l_acc[ri] = fold(l_acc[ri], f.a, l_piece, f.b);
    m_acc[ri] = f.m_new;
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
      o_acc[dt][2 * ri] = fold(o_acc[dt][2 * ri], f.a, o[dt][2 * ri], f.b);
      o_acc[dt][2 * ri + 1] = fold(o_acc[dt][2 * ri + 1], f.a, o[dt][2 * ri + 1], f.b);
      o[dt][2 * ri] = o[dt][2 * ri + 1] = 0.0f;
    }
    m_run[ri] = -INFINITY;
    l_run[ri] = 0.0f;
  }
}

// The two rows a thread holds results for (row r0 = 16 warp + g with c0, c1 and r0 + 8 with
// c2, c3 of the accumulator layout), a row being (token r / group, head kvh * group +
// r % group) of a block whose first token sits at position first_pos. Rows past the block's
// n_tok tokens repeat its last token: they compute a valid row's problem and are not written.
struct AttnRows {
  int tok[2], head[2], pos[2];
  bool valid[2];
};
__device__ __forceinline__ AttnRows attention_rows(int warp, int g, int group, int n_tok, int kvh, int first_pos) {
  AttnRows r;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int row = warp * 16 + g + 8 * i;
    const int tok = row / group;
    r.valid[i] = tok < n_tok;
    r.tok[i] = min(tok, n_tok - 1);
    r.head[i] = kvh * group + row % group;
    r.pos[i] = first_pos + r.tok[i];
  }
  return r;
}

// The rows' queries as mma / wgmma A-fragments: qf[kc] covers head dims [16kc, 16kc + 16).
// Row i's query is at q + q_row[i] * q_stride + head[i] * HD (rows of different sequences
// side by side: attention.cu's shared-prefix decode blocks).
template <int HD>
__device__ __forceinline__ void load_q_fragments_at(const bf16* q, int64_t q_stride, const int64_t (&q_row)[2],
                                                    const AttnRows& r, int t4, uint32_t (&qf)[HD / 16][4]) {
  const bf16* q0 = q + q_row[0] * q_stride + static_cast<int64_t>(r.head[0]) * HD + 2 * t4;
  const bf16* q1 = q + q_row[1] * q_stride + static_cast<int64_t>(r.head[1]) * HD + 2 * t4;
#pragma unroll
  for (int kc = 0; kc < HD / 16; ++kc) {
    qf[kc][0] = *reinterpret_cast<const uint32_t*>(q0 + kc * 16);
    qf[kc][1] = *reinterpret_cast<const uint32_t*>(q1 + kc * 16);
    qf[kc][2] = *reinterpret_cast<const uint32_t*>(q0 + kc * 16 + 8);
    qf[kc][3] = *reinterpret_cast<const uint32_t*>(q1 + kc * 16 + 8);
  }
}
// The same for the tokens of one sequence: token t's head h is at q + (row0 + t) * q_stride + h * HD.
template <int HD>
__device__ __forceinline__ void load_q_fragments(const bf16* q, int64_t q_stride, int64_t row0, const AttnRows& r,
                                                 int t4, uint32_t (&qf)[HD / 16][4]) {
  const int64_t q_row[2] = {row0 + r.tok[0], row0 + r.tok[1]};
  load_q_fragments_at<HD>(q, q_stride, q_row, r, t4, qf);
}

// Fold mode's result: each valid row's normalised outputs, bf16, at out + (row0 + token) *
// out_stride + head * HD (this thread's columns 8 dt + 2 t4).
template <int HD>
__device__ __forceinline__ void store_rows(const float (&o_acc)[HD / 8][4], const float (&l_acc)[2],
                                           const AttnRows& r, bf16* out, int64_t out_stride, int64_t row0, int t4) {
#pragma unroll
  for (int ri = 0; ri < 2; ++ri) {
    if (!r.valid[ri]) continue;
    bf16* dst = out + (row0 + r.tok[ri]) * out_stride + static_cast<int64_t>(r.head[ri]) * HD + 2 * t4;
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt)
      *reinterpret_cast<uint32_t*>(dst + dt * 8) =
          pack_bf16x2(finish(o_acc[dt][2 * ri], l_acc[ri]), finish(o_acc[dt][2 * ri + 1], l_acc[ri]));
  }
}

}  // namespace ream::cuda
