// Token embedding lookup and row gathers.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

// out[i, :] = table[ids[i], :]             table (vocab, dim) bf16, out (n, dim) bf16.
// Twin: embedding_cpu.
Status launch_embedding(const bf16* table, const int32_t* ids, int64_t n, int64_t dim, bf16* out,
                        cudaStream_t stream);

// out[i, :] = src[rows[i], :]              src (*, dim), out (n, dim), both bf16.
Status launch_gather_rows(const bf16* src, const int32_t* rows, int64_t n, int64_t dim, bf16* out,
                          cudaStream_t stream);

}  // namespace ream::cuda
