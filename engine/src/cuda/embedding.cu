// Embedding lookup (bf16 table -> bf16 residual stream) and bf16 row gathers (the rows of
// the sequences that sample, before the LM head): the same copy of whole rows. One block
// per output row; 16-byte accesses when the width allows.
#include "cuda/embedding.cuh"
#include "cuda/pdl.cuh"

namespace ream::cuda {
namespace {

// ---- kernels ----

__global__ void gather_rows_kernel(const bf16* __restrict__ src, const int32_t* __restrict__ rows, int64_t dim,
                                   bf16* __restrict__ out) {
  pdl_launch_dependents();
  pdl_wait();
  const int64_t row = blockIdx.x;
  const bf16* s = src + static_cast<int64_t>(rows[row]) * dim;
  bf16* d = out + row * dim;
  if (dim % 8 == 0) {
    for (int64_t j = threadIdx.x * 8; j < dim; j += blockDim.x * 8)
      *reinterpret_cast<uint4*>(d + j) = *reinterpret_cast<const uint4*>(s + j);
  } else {
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) d[j] = s[j];
  }
}

}  // namespace

// ---- launchers ----

Status launch_embedding(const bf16* table, const int32_t* ids, int64_t n, int64_t dim, bf16* out,
                        cudaStream_t stream) {
  if (n == 0) return Status();
  return launch_pdl("embedding (gather_rows_kernel)", gather_rows_kernel, dim3(static_cast<unsigned>(n)), dim3(256), 0,
                    stream, table, ids, dim, out);
}

Status launch_gather_rows(const bf16* src, const int32_t* rows, int64_t n, int64_t dim, bf16* out,
                          cudaStream_t stream) {
  if (n == 0) return Status();
  return launch_pdl("gather_rows_kernel", gather_rows_kernel, dim3(static_cast<unsigned>(n)), dim3(256), 0, stream, src,
                    rows, dim, out);
}

}  // namespace ream::cuda
