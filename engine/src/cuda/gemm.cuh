// Matrix products: bf16 operands, fp32 accumulation. launch_matmul: GEMV / cuBLAS, fastest,
// rounding depends on the row count; launch_matmul_invariant: ream's fixed-order kernels.
#pragma once

#include "cuda/common.cuh"
#include "cuda/l2_prefetch.cuh"

namespace ream::cuda {

// y (n, out) = x (n, in) @ w^T with w (out, in) row-major (nn.Linear), all row-major.
// x and w bf16; y fp32 when y_f32, else bf16. Accumulates in fp32. n <= 8 runs a GEMV
// kernel (16-byte aligned rows: in % 8 == 0), larger n cuBLAS. Twin: matmul_cpu.
Status launch_matmul(cublasHandle_t handle, const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out,
                     void* y, bool y_f32, cudaStream_t stream);

// act (n, inter) = swiglu(x @ w_gate_up^T) (w_gate_up (2 inter, in): gate rows, then up
// rows): launch_matmul into gate_up (n, 2 inter) then launch_swiglu; for n <= 8 one GEMV
// launch with SwiGLU in its epilogue (the same bits; gate_up is not written).
Status launch_matmul_swiglu(cublasHandle_t handle, const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in,
                            int64_t inter, bf16* gate_up, bf16* act, cudaStream_t stream);

// The same product, batch invariant: y[t] is bitwise the same for any n and any other rows
// of x (one fixed reduction order over K for every n; gemm_invariant.cu). Needs in % 32 == 0
// (else Unimplemented) and 16-byte aligned x and w. Twin: matmul_cpu. `scratch` (room for
// scratch_elems bf16): device memory the large-n Hopper kernel may use for a copy of x
// (n * in elements; see gemm_hopper.cuh); the backend lends a buffer that is idle then.
// `pf`: weights of later products the streaming kernel asks the L2 cache for once its own
// are loaded (l2_prefetch.cuh; the other kernels ignore it).
Status launch_matmul_invariant(const bf16* x, const bf16* w, int64_t n, int64_t in, int64_t out, void* y, bool y_f32,
                               cudaStream_t stream, bf16* scratch = nullptr, int64_t scratch_elems = 0,
                               const L2Prefetch& pf = {});

// Rows up to which launch_matmul_invariant runs a small-n kernel (above: the tiled one).
constexpr int64_t kSmallGemmMaxRows = 128;

// The small-n kernels, all bitwise the same: kStream (n <= 32 where its shared memory
// fits: gemm_stream.cu, blocks of 16 or 32 weight rows by its own rule), kStreamNarrow /
// kStreamWide (16 / 32 rows; wide falls back to narrow where it does not fit), kRounds
// (session 4's kernel), kAuto (kStream unless REAM_GEMM_SMALL is "rounds" in the
// environment). For tests and benchmarks; the backend uses kAuto.
enum class SmallGemm { kAuto, kRounds, kStream, kStreamNarrow, kStreamWide };
Status launch_matmul_invariant_with(SmallGemm small, const bf16* x, const bf16* w, int64_t n, int64_t in,
                                    int64_t out, void* y, bool y_f32, cudaStream_t stream, bf16* scratch = nullptr,
                                    int64_t scratch_elems = 0, const L2Prefetch& pf = {});

// The large-n kernels, bitwise the same: kHopper (wgmma, gemm_hopper.cu: sm_90a devices,
// in % 64 == 0; Unimplemented elsewhere), kMma (the mma.sync tiled kernel), kAuto (kMma,
// or kHopper where supported unless REAM_GEMM_LARGE is "mma" in the environment). Any n,
// for tests and benchmarks; launch_matmul_invariant uses kAuto above kSmallGemmMaxRows rows.
enum class LargeGemm { kAuto, kMma, kHopper };
Status launch_matmul_invariant_large(LargeGemm large, const bf16* x, const bf16* w, int64_t n, int64_t in,
                                     int64_t out, void* y, bool y_f32, cudaStream_t stream, bf16* scratch = nullptr,
                                     int64_t scratch_elems = 0);

// act (n, inter) = swiglu(x @ w_gate_up^T): bitwise launch_matmul_invariant into gate_up
// (n, 2 inter) followed by launch_swiglu(gate_up, n, inter, act; act, idle until then,
// is the product's scratch). Where the streaming
// kernel applies (kAuto's choice), one launch whose blocks take gate rows and the same up
// rows and apply SwiGLU in their epilogue (gate_up is not written); otherwise the two
// launches. w_gate_up (2 inter, in): gate rows, then up rows. _with: as above.
Status launch_matmul_swiglu_invariant(const bf16* x, const bf16* w_gate_up, int64_t n, int64_t in, int64_t inter,
                                      bf16* gate_up, bf16* act, cudaStream_t stream, const L2Prefetch& pf = {});
Status launch_matmul_swiglu_invariant_with(SmallGemm small, const bf16* x, const bf16* w_gate_up, int64_t n,
                                           int64_t in, int64_t inter, bf16* gate_up, bf16* act, cudaStream_t stream,
                                           const L2Prefetch& pf = {});

}  // namespace ream::cuda
