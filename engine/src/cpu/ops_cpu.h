// CPU twins of the model's operations (fp32). The CPU backend is built from them and
// the CUDA kernels are tested against them: `launch_<op>` in cuda/ has the same meaning
// as `<op>_cpu` here.
//
// Matrices are row-major. Weight matrices follow nn.Linear: (out_features, in_features).
#pragma once

#include <cstdint>
#include <vector>

namespace ream {

class ThreadPool;

// out[i, :] = table[ids[i], :]                     table (vocab, dim), out (n, dim)
void embedding_cpu(const float* table, const int32_t* ids, int64_t n, int64_t dim, float* out);

// out[i] = x[i] / sqrt(mean(x[i]^2) + eps) * w      x, out (n, dim), w (dim)
void rmsnorm_cpu(const float* x, const float* w, int64_t n, int64_t dim, float eps, float* out);

// residual += x; out = rmsnorm(residual)           residual, x, out (n, dim)
void add_rmsnorm_cpu(float* residual, const float* x, const float* w, int64_t n, int64_t dim,
                     float eps, float* out);

// Per head: RMSNorm over head_dim with `norm_w`, then rotary embedding (rotate_half form,
// pairs (j, j + head_dim/2)) at `positions[token]` with inv_freq = theta^(-2j/head_dim).
// qk (n_tokens, n_heads, head_dim), in place.
void qk_norm_rope_cpu(float* qk, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                      const float* norm_w, const int32_t* positions, double theta, float eps);

// y (n, out) = x (n, in) @ w^T, w (out, in). Parallel over `pool` when given.
void matmul_cpu(const float* x, const float* w, int64_t n, int64_t in, int64_t out, float* y,
                ThreadPool* pool);
// The same with w stored as bf16 (raw uint16 bits); products and sums in fp32. Used for
// bf16 checkpoints, whose weights then stay in the mapping: half the bytes per token.
void matmul_bf16w_cpu(const float* x, const uint16_t* w, int64_t n, int64_t in, int64_t out,
                      float* y, ThreadPool* pool);

// out = silu(gate) * up                            gate, up, out (n, width)
void swiglu_cpu(const float* gate, const float* up, int64_t n, int64_t width, float* out);

// Writes new tokens' K/V into the paged cache.
// k, v (n_tokens, n_kv_heads, head_dim); cache [num_blocks][n_kv_heads][block_size][head_dim];
// slot_mapping[t] = block * block_size + offset.
void kv_store_cpu(const float* k, const float* v, const int64_t* slot_mapping, int64_t n_tokens,
                  int64_t n_kv_heads, int64_t head_dim, int64_t block_size, float* k_cache,
                  float* v_cache);

// Causal attention of one sequence's new queries over its paged context.
// q (query_len, n_heads, head_dim) at positions [context_len - query_len, context_len);
// out (query_len, n_heads, head_dim). Query head h reads KV head h / (n_heads / n_kv_heads).
// scale = 1/sqrt(head_dim).
void paged_attention_cpu(const float* q, const float* k_cache, const float* v_cache,
                         const int32_t* block_table, int64_t query_len, int64_t context_len,
                         int64_t n_heads, int64_t n_kv_heads, int64_t head_dim, int64_t block_size,
                         float* out);

}  // namespace ream
