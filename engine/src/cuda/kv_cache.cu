// KV cache store: one thread moves 16 bytes of K and 16 of V for one (token, head).
#include "cuda/kv_cache.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

// ---- kernels ----

__global__ void kv_store_kernel(const bf16* __restrict__ k, const bf16* __restrict__ v, int64_t token_stride,
                                const int64_t* __restrict__ slot_mapping, int64_t n_tokens, int n_kv_heads,
                                int head_dim, int block_size, bf16* __restrict__ k_cache,
                                bf16* __restrict__ v_cache) {
  pdl_launch_dependents();
  pdl_wait();
  const int vec_per_head = head_dim / 8;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n_tokens * n_kv_heads * vec_per_head) return;
  const int64_t t = i / (n_kv_heads * vec_per_head);
  const int rem = static_cast<int>(i % (n_kv_heads * vec_per_head));
  const int h = rem / vec_per_head, c = (rem % vec_per_head) * 8;
  const int64_t slot = slot_mapping[t];
  if (slot < 0) return;
  const int64_t block = slot / block_size, off = slot % block_size;
  const int64_t dst = ((block * n_kv_heads + h) * block_size + off) * head_dim + c;
  const int64_t src = t * token_stride + static_cast<int64_t>(h) * head_dim + c;
  *reinterpret_cast<uint4*>(k_cache + dst) = *reinterpret_cast<const uint4*>(k + src);
  *reinterpret_cast<uint4*>(v_cache + dst) = *reinterpret_cast<const uint4*>(v + src);
}

}  // namespace

// ---- launchers ----

Status launch_kv_store(const bf16* k, const bf16* v, int64_t token_stride, const int64_t* slot_mapping,
                       int64_t n_tokens, int64_t n_kv_heads, int64_t head_dim, int64_t block_size, bf16* k_cache,
                       bf16* v_cache, cudaStream_t stream) {
  if (head_dim % 8 != 0 || token_stride % 8 != 0)
    return unimplemented("kv_store: head_dim and the row stride must be multiples of 8");
  const int64_t items = n_tokens * n_kv_heads * (head_dim / 8);
  if (items == 0) return Status();
  return launch_pdl("kv_store_kernel", kv_store_kernel, dim3(static_cast<unsigned>(ceil_div(items, 256))), dim3(256), 0,
                    stream, k, v, token_stride, slot_mapping, n_tokens, static_cast<int>(n_kv_heads),
                    static_cast<int>(head_dim), static_cast<int>(block_size), k_cache, v_cache);
}

}  // namespace ream::cuda
