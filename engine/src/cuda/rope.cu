// Qwen3 attention input preparation: per-head RMSNorm (q_norm / k_norm) then RoPE, in
// place on the fused QKV activations, one warp per (token, head); the forward pass's
// variant also stores the rotated keys and the values into the paged KV cache in the same
// launch (one launch and one read of K/V fewer per layer). The cos/sin table is built once
// per step (positions are shared by every layer).
//
// Roundings follow a bf16 Qwen3 in transformers: inv_freq = 1 / theta^(2j/d) in fp32, the
// angle in fp32, cos and sin rounded to bf16; the norm as in norm.cu (two roundings); then
// q*cos + rotate_half(q)*sin with each product and the sum rounded to bf16.
#include "cuda/rope.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

constexpr int kMaxPairsPerLane = 4;  // head_dim <= 256
constexpr int kWarps = 8;            // (token, head) items per block

// ---- kernels ----

__global__ void rope_cos_sin_kernel(const int32_t* __restrict__ positions, int64_t n, int half, int head_dim,
                                    double theta, float2* __restrict__ out) {
  pdl_launch_dependents();
  pdl_wait();
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

// One warp per (token, head) item. Heads [0, n_q_heads) are queries, [n_q_heads, n_heads)
// keys. kStore: heads [n_heads, n_heads + n_kv_heads) are values, and each key (after the
// norm and the rotation) and value head is also written to its page of the KV cache
// (kv_store_kernel's layout); tokens with a negative slot are not stored. The arithmetic
// is the same code either way, so the fused launch is bitwise the two kernels it replaces.
template <bool kStore>
__global__ void qk_norm_rope_kernel(bf16* __restrict__ x, int64_t n_tokens, int n_q_heads, int n_heads, int head_dim,
                                    int64_t token_stride, const float* __restrict__ q_w,
                                    const float* __restrict__ k_w, const float2* __restrict__ cos_sin, float eps,
                                    const int64_t* __restrict__ slot_mapping, int n_kv_heads, int block_size,
                                    bf16* __restrict__ k_cache, bf16* __restrict__ v_cache) {
  pdl_launch_dependents();
  pdl_wait();
  const int items_per_token = kStore ? n_heads + n_kv_heads : n_heads;
  const int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  if (item >= n_tokens * items_per_token) return;
  const int lane = threadIdx.x & 31;
  const int64_t t = item / items_per_token;
  const int h = static_cast<int>(item % items_per_token);
  bf16* v = x + t * token_stride + static_cast<int64_t>(h) * head_dim;
  const int half = head_dim / 2;
  bf16* cache = nullptr;  // kStore: this key or value head's row in its page
  if (kStore && h >= n_q_heads) {
    const int64_t slot = slot_mapping[t];
    if (slot >= 0) {
      const int kvh = h < n_heads ? h - n_q_heads : h - n_heads;
      const int64_t block = slot / block_size, off = slot % block_size;
      cache = (h < n_heads ? k_cache : v_cache) + ((block * n_kv_heads + kvh) * block_size + off) * head_dim;
    }
    if (h >= n_heads) {  // a value head: copied as it is
      if (cache)
        for (int j = lane; j < head_dim; j += 32) cache[j] = v[j];
      return;
    }
  }
  const float* w = h < n_q_heads ? q_w : k_w;
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
      const bf16 lo = __float2bfloat16_rn(round_bf16(an * c.x) - round_bf16(bn * c.y));
      const bf16 hi = __float2bfloat16_rn(round_bf16(bn * c.x) + round_bf16(an * c.y));
      v[j] = lo;
      v[j + half] = hi;
      if (kStore && cache) {
        cache[j] = lo;
        cache[j + half] = hi;
      }
    }
  }
}

}  // namespace

// ---- launchers ----

Status launch_rope_cos_sin(const int32_t* positions, int64_t n, int64_t head_dim, double theta, float2* cos_sin,
                           cudaStream_t stream) {
  const int64_t total = n * (head_dim / 2);
  if (total == 0) return Status();
  return launch_pdl("rope_cos_sin_kernel", rope_cos_sin_kernel, dim3(static_cast<unsigned>(ceil_div(total, 256))),
                    dim3(256), 0, stream, positions, n, static_cast<int>(head_dim / 2), static_cast<int>(head_dim), theta,
                    cos_sin);
}

Status launch_qk_norm_rope(bf16* x, int64_t n_tokens, int64_t n_q_heads, int64_t n_k_heads, int64_t head_dim,
                           int64_t token_stride, const float* q_norm_w, const float* k_norm_w,
                           const float2* cos_sin, float eps, cudaStream_t stream) {
  if (head_dim % 2 != 0 || head_dim > 64 * kMaxPairsPerLane)
    return unimplemented("qk_norm_rope: head_dim " + std::to_string(head_dim) + " is not supported (even, <= 256)");
  const int64_t items = n_tokens * (n_q_heads + n_k_heads);
  if (items == 0) return Status();
  return launch_pdl("qk_norm_rope_kernel", qk_norm_rope_kernel<false>, dim3(static_cast<unsigned>(ceil_div(items, kWarps))),
                    dim3(kWarps * 32), 0, stream, x, n_tokens, static_cast<int>(n_q_heads),
                    static_cast<int>(n_q_heads + n_k_heads), static_cast<int>(head_dim), token_stride, q_norm_w,
                    k_norm_w, cos_sin, eps, static_cast<const int64_t*>(nullptr), 0, 1, static_cast<bf16*>(nullptr),
                    static_cast<bf16*>(nullptr));
}

Status launch_qk_norm_rope_kv_store(bf16* qkv, int64_t n_tokens, int64_t n_q_heads, int64_t n_kv_heads,
                                    int64_t head_dim, int64_t token_stride, const float* q_norm_w,
                                    const float* k_norm_w, const float2* cos_sin, float eps,
                                    const int64_t* slot_mapping, int64_t block_size, bf16* k_cache, bf16* v_cache,
                                    cudaStream_t stream) {
  if (head_dim % 2 != 0 || head_dim > 64 * kMaxPairsPerLane)
    return unimplemented("qk_norm_rope_kv_store: head_dim " + std::to_string(head_dim) +
                         " is not supported (even, <= 256)");
  if (block_size <= 0) return invalid_argument("qk_norm_rope_kv_store: block_size must be positive");
  const int64_t items = n_tokens * (n_q_heads + 2 * n_kv_heads);
  if (items == 0) return Status();
  return launch_pdl("qk_norm_rope_kv_store_kernel", qk_norm_rope_kernel<true>,
                    dim3(static_cast<unsigned>(ceil_div(items, kWarps))), dim3(kWarps * 32), 0, stream, qkv, n_tokens,
                    static_cast<int>(n_q_heads), static_cast<int>(n_q_heads + n_kv_heads), static_cast<int>(head_dim),
                    token_stride, q_norm_w, k_norm_w, cos_sin, eps, slot_mapping, static_cast<int>(n_kv_heads),
                    static_cast<int>(block_size), k_cache, v_cache);
}

}  // namespace ream::cuda
