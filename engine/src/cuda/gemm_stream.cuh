// The streaming small-n kernel of the batch-invariant products (gemm_stream.cu), called by
// launch_matmul_invariant_with and launch_matmul_swiglu_invariant (gemm_invariant.cu).
#pragma once

#include "cuda/common.cuh"
#include "cuda/l2_prefetch.cuh"

namespace ream::cuda {

// Whether the streaming kernel takes n rows of input width `in` (in % 32 == 0): n <= 32
// and the block's segment sums fit its shared memory; _wide_fits: also with the wide
// blocks (32 weight rows).
bool gemm_stream_applies(int n, int in);
bool gemm_stream_wide_fits(int n, int in);

// Blocks of 16 weight rows (kNarrow), 32 (kWide: fewer re-reads of x, half the blocks), or
// the kernel's choice (kAuto: wide at 17-32 rows when the wide blocks fill the GPU twice,
// unless REAM_GEMM_STREAM_WIDE says otherwise). A timing choice: the sums are the same.
enum class StreamWidth { kAuto, kNarrow, kWide };

// y (n, out) = x @ w^T, bitwise the other batch-invariant kernels (gemm_math.cuh). Each
// block, once it has issued its last weight loads, asks the L2 cache for its share of `pf`.
Status launch_gemm_stream(StreamWidth width, const bf16* x, const bf16* w, int n, int in, int out, void* y,
                          bool y_f32, cudaStream_t stream, const L2Prefetch& pf = {});

// act (n, inter) = swiglu of the product with w_gate_up (2 inter, in): bitwise the product
// into bf16 gate_up followed by launch_swiglu.
Status launch_gemm_stream_swiglu(StreamWidth width, const bf16* x, const bf16* w_gate_up, int n, int in, int inter,
                                 bf16* act, cudaStream_t stream, const L2Prefetch& pf = {});

// Tests only: at most `blocks` blocks a launch (each then loops over more row tiles); 0
// lifts the cap. A timing choice like the others: the sums are the same.
void set_gemm_stream_block_cap(int blocks);

}  // namespace ream::cuda
