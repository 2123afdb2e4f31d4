// Qwen3 attention input preparation: per-head RMSNorm (q_norm / k_norm) then RoPE, in
// place on the fused QKV activations, one warp per (token, head). The cos/sin table is
// built once per step (positions are shared by every layer).
//
// Roundings follow a bf16 Qwen3 in transformers: inv_freq = 1 / theta^(2j/d) in fp32, the
// angle in fp32, cos and sin rounded to bf16; the norm as in norm.cu (two roundings); then
// q*cos + rotate_half(q)*sin with each product and the sum rounded to bf16.
#include "cuda/rope.cuh"

namespace ream::cuda {
namespace {

constexpr int kMaxPairsPerLane = 4;  // head_dim <= 256

// ---- kernels ----

__global__ void rope_cos_sin_kernel(const int32_t* __restrict__ positions, int64_t n, int half, int head_dim,
                                    double theta, float2* __restrict__ out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n * half) return;
  const int64_t t = i / half;
  const int j = static_cast<int>(i % half);
  const float expo = __fdiv_rn(static_cast<float>(2 * j), static_cast<float>(head_dim));
  const float p = static_cast<float>(pow(static_cast<double>(static_cast<float>(theta)), static_cast<double>(expo)));
  const float inv_freq = __fdiv_rn(1.0f, p);
  const float angle = __fmul_rn(static_cast<float>(positions[t]), inv_freq);
  double s, c;
  sincos(static_cast<double>(angle), &s, &c);  // the fp32 cos/sin to within rounding
  out[i] = make_float2(round_bf16(static_cast<float>(c)), round_bf16(static_cast<float>(s)));
}

__global__ void qk_norm_rope_kernel(bf16* __restrict__ x, int64_t n_tokens, int n_q_heads, int n_heads, int head_dim,
                                    int64_t token_stride, const float* __restrict__ q_w,
                                    const float* __restrict__ k_w, const float2* __restrict__ cos_sin, float eps) {
  const int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  if (item >= n_tokens * n_heads) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = item / n_heads;
  const int h = static_cast<int>(item % n_heads);
  const float* w = h < n_q_heads ? q_w : k_w;
  bf16* v = x + t * token_stride + static_cast<int64_t>(h) * head_dim;
  const int half = head_dim / 2;
  float a[kMaxPairsPerLane], b[kMaxPairsPerLane];
  float ss = 0.0f;
#pragma unroll
  for (int p = 0; p < kMaxPairsPerLane; ++p) {
    const int j = lane + 32 * p;
    a[p] = j < half ? __bfloat162float(v[j]) : 0.0f;
    b[p] = j < half ? __bfloat162float(v[j + half]) : 0.0f;
    ss += a[p] * a[p] + b[p] * b[p];
  }
  ss = warp_sum(ss);
  const float inv = rsqrtf(ss * (1.0f / static_cast<float>(head_dim)) + eps);
  const float2* cs = cos_sin + t * half;
#pragma unroll
  for (int p = 0; p < kMaxPairsPerLane; ++p) {
    const int j = lane + 32 * p;
    if (j < half) {
      const float an = round_bf16(w[j] * round_bf16(a[p] * inv));
      const float bn = round_bf16(w[j + half] * round_bf16(b[p] * inv));
      const float2 c = cs[j];
      v[j] = __float2bfloat16_rn(round_bf16(an * c.x) - round_bf16(bn * c.y));
      v[j + half] = __float2bfloat16_rn(round_bf16(bn * c.x) + round_bf16(an * c.y));
    }
  }
}

}  // namespace

// ---- launchers ----

Status launch_rope_cos_sin(const int32_t* positions, int64_t n, int64_t head_dim, double theta, float2* cos_sin,
                           cudaStream_t stream) {
  const int64_t total = n * (head_dim / 2);
  if (total == 0) return Status();
  rope_cos_sin_kernel<<<static_cast<unsigned>(ceil_div(total, 256)), 256, 0, stream>>>(
      positions, n, static_cast<int>(head_dim / 2), static_cast<int>(head_dim), theta, cos_sin);
  CUDA_CHECK_LAUNCH("rope_cos_sin_kernel");
  return Status();
}

Status launch_qk_norm_rope(bf16* x, int64_t n_tokens, int64_t n_q_heads, int64_t n_k_heads, int64_t head_dim,
                           int64_t token_stride, const float* q_norm_w, const float* k_norm_w,
                           const float2* cos_sin, float eps, cudaStream_t stream) {
  if (head_dim % 2 != 0 || head_dim > 64 * kMaxPairsPerLane)
    return unimplemented("qk_norm_rope: head_dim " + std::to_string(head_dim) + " is not supported (even, <= 256)");
  const int64_t items = n_tokens * (n_q_heads + n_k_heads);
  if (items == 0) return Status();
  constexpr int kWarps = 8;
  qk_norm_rope_kernel<<<static_cast<unsigned>(ceil_div(items, kWarps)), kWarps * 32, 0, stream>>>(
      x, n_tokens, static_cast<int>(n_q_heads), static_cast<int>(n_q_heads + n_k_heads), static_cast<int>(head_dim),
      token_stride, q_norm_w, k_norm_w, cos_sin, eps);
  CUDA_CHECK_LAUNCH("qk_norm_rope_kernel");
  return Status();
}

}  // namespace ream::cuda
