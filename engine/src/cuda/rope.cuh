// Rotary position embedding fused with the per-head RMSNorm of Qwen3 (q_norm, k_norm), and
// optionally with the KV cache store.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// cos_sin[t, j] = bf16((cos, sin)(float(positions[t]) * inv_freq_j)), inv_freq_j =
// 1.0f / float(theta^(2j/head_dim)), j < head_dim/2: the fp32 angle transformers and the
// CPU twin use, its cosine and sine taken accurately, then rounded to bf16 as transformers
// does (stored as floats). cos_sin (n, head_dim/2).
Status launch_rope_cos_sin(const int32_t* positions, int64_t n, int64_t head_dim, double theta, float2* cos_sin,
                           cudaStream_t stream);

// In place on bf16 rows of `x` (token t's head h at x + t*token_stride + h*head_dim):
// heads [0, n_q_heads) get RMSNorm with q_norm_w, heads [n_q_heads, n_q_heads + n_k_heads)
// with k_norm_w; then each is rotated (rotate_half pairs (j, j + head_dim/2)) by cos_sin,
// every product and sum rounded to bf16 (rope.cu). head_dim even and at most 256.
// Twin: qk_norm_rope_cpu (fp32, called once for q, once for k).
Status launch_qk_norm_rope(bf16* x, int64_t n_tokens, int64_t n_q_heads, int64_t n_k_heads, int64_t head_dim,
                           int64_t token_stride, const float* q_norm_w, const float* k_norm_w,
                           const float2* cos_sin, float eps, cudaStream_t stream);

// launch_qk_norm_rope over the n_q_heads query and n_kv_heads key heads of the fused QKV
// rows (values follow the keys: token t's value head h at qkv + t*token_stride +
// (n_q_heads + n_kv_heads + h)*head_dim), then launch_kv_store of the rotated keys and the
// values, in one launch: bitwise the same qkv and cache as the two launches (the same
// per-head code). Cache layout and slot_mapping as in launch_kv_store.
// Twins: qk_norm_rope_cpu, kv_store_cpu.
Status launch_qk_norm_rope_kv_store(bf16* qkv, int64_t n_tokens, int64_t n_q_heads, int64_t n_kv_heads,
                                    int64_t head_dim, int64_t token_stride, const float* q_norm_w,
                                    const float* k_norm_w, const float2* cos_sin, float eps,
                                    const int64_t* slot_mapping, int64_t block_size, bf16* k_cache, bf16* v_cache,
                                    cudaStream_t stream);

}  // namespace ream::cuda
