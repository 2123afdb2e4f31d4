// Writes the step's new keys and values into the paged KV cache.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// k, v: token t's KV head h at k + t*token_stride + h*head_dim (bf16; they may live in the
// fused QKV activations). Cache layout [num_blocks][n_kv_heads][block_size][head_dim] bf16;
// slot_mapping[t] = block * block_size + offset (negative: skip the token).
// Twin: kv_store_cpu.
Status launch_kv_store(const bf16* k, const bf16* v, int64_t token_stride, const int64_t* slot_mapping,
                       int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim, int64_t block_size, bf16* k_cache,
                       bf16* v_cache, cudaStream_t stream);

}  // namespace ream::cuda
