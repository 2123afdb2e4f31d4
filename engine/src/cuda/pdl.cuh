// Programmatic dependent launch (PDL, compute capability 9.0+): a kernel launched with
// launch_pdl may be scheduled while the kernel before it on the stream is still running,
// so its launch, its block scheduling and whatever it does before pdl_wait() (a matrix
// product's first weight loads) overlap the previous kernel's tail. Inside a captured
// CUDA graph the same launches become programmatic edges.
//
// The contract of a kernel launched with launch_pdl:
//   - before pdl_wait() it reads only what no kernel of the step writes (weights);
//   - pdl_wait() returns when the kernel before it has completed and its writes are
//     visible (that kernel waited for its own predecessor, so the whole stream before it
//     is done too);
//   - pdl_launch_dependents() lets the next kernel be scheduled once every block of this
//     one has called it (or exited); it never makes this kernel's writes visible early.
// Both device calls are no-ops when the kernel was launched without the attribute, so
// every kernel here is correct launched either way.
//
// Off unless REAM_PDL=1 is in the environment (read once): on the H100 the attribute
// made batch-invariant decode slower, not faster (session 6, same call: batch 1 at
// context 512 190.2 tok/s without, 177.8 with; batch 32 4,140 against 3,433), most
// likely because a dependent grid launched early holds SM slots while it waits. Launches on the legacy default stream (tests) never
// use it. Only for files that launch ream's own kernels; the Hopper attention kernel
// (attention_hopper.cu) and cuBLAS launch plainly: a PDL kernel after them still waits
// for their completion.
#pragma once

#include <cstdlib>
#include <cstring>

#include "cuda/common.cuh"

namespace ream::cuda {

// Whether launch_pdl asks for programmatic dependent launch: REAM_PDL is "1" and the
// current device has compute capability 9.0 or more. Decided on the first call.
inline bool pdl_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("REAM_PDL");
    if (!env || std::strcmp(env, "1") != 0) return false;
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) !=
                                                  cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return on;
}

#if defined(__CUDACC__)
// ---- device helpers ----

// Waits for the kernel this one depends on (griddepcontrol.wait). Call it before the
// first access to anything an earlier kernel of the step writes or reads.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next kernel on the stream be scheduled (griddepcontrol.launch_dependents).
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// ---- launcher ----

// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream serialization
// when pdl_enabled() and `stream` is not the legacy default stream. `what` names the
// kernel in errors.
template <class... Params, class... Args>
Status launch_pdl(const char* what, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                  cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = stream != nullptr && pdl_enabled() ? 1 : 0;
  const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, static_cast<Params>(args)...);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return internal_error(std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                          ") launching " + what);
  }
  return check_launch(what, __FILE__, __LINE__);
}
#endif

}  // namespace ream::cuda
