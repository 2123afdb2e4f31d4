// Shared pieces of the CUDA backend: the one error checker that every CUDA and cuBLAS
// call goes through (it returns a ream::Status instead of aborting), RAII owners of
// device and pinned host memory, and small device helpers (bf16 packing, reductions).
//
// Only files under engine/src/cuda include this header (it pulls in CUDA headers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "ream/engine/status.h"

namespace ream::cuda {

using bf16 = __nv_bfloat16;

// The one checker: ok for cudaSuccess, else a Status naming the call and the place.
// Out-of-memory becomes kResourceExhausted, everything else kInternal.
Status check_cuda(cudaError_t err, const char* expr, const char* file, int line);
Status check_cublas(cublasStatus_t st, const char* expr, const char* file, int line);
// The last launch's error (cudaGetLastError), as a Status naming `what`.
Status check_launch(const char* what, const char* file, int line);

}  // namespace ream::cuda

#define CUDA_CHECK(expr) REAM_RETURN_IF_ERROR(::ream::cuda::check_cuda((expr), #expr, __FILE__, __LINE__))
#define CUBLAS_CHECK(expr) \
  REAM_RETURN_IF_ERROR(::ream::cuda::check_cublas((expr), #expr, __FILE__, __LINE__))
// After a kernel launch inside a launcher returning Status.
#define CUDA_CHECK_LAUNCH(what) REAM_RETURN_IF_ERROR(::ream::cuda::check_launch((what), __FILE__, __LINE__))

namespace ream::cuda {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// How a Buffer gets and returns its memory. allocate leaves *ptr null on failure and
// returns a Status naming `what` and the size; free takes what allocate gave.
struct DeviceMemory {  // cudaMalloc
  static Status allocate(void** ptr, size_t bytes, const char* what);
  static void free(void* ptr);
};
struct PinnedMemory {  // cudaMallocHost: page-locked host memory, for fast asynchronous copies
  static Status allocate(void** ptr, size_t bytes, const char* what);
  static void free(void* ptr);
};

// Memory of one Kind (DeviceMemory, PinnedMemory) owned by one object. Copy deleted,
// move allowed.
template <class Kind>
class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  // Frees what was held and allocates `bytes` (uninitialised). `what` names it in errors.
  Status allocate(size_t bytes, const char* what) {
    reset();
    if (bytes == 0) return Status();
    REAM_RETURN_IF_ERROR(Kind::allocate(&ptr_, bytes, what));
    size_ = bytes;
    return Status();
  }
  void reset() {
    if (ptr_) Kind::free(ptr_);
    ptr_ = nullptr;
    size_ = 0;
  }
  void* get() const { return ptr_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

using DeviceBuffer = Buffer<DeviceMemory>;
using PinnedBuffer = Buffer<PinnedMemory>;

// One CUDA or cuBLAS handle, destroyed with its owner. Copy deleted, move allowed.
template <class H, auto Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  ~UniqueHandle() { reset(); }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  H get() const { return h_; }
  void reset() {
    if (h_) Destroy(h_);
    h_ = nullptr;
  }

 protected:
  H h_ = nullptr;
};

class Stream : public UniqueHandle<cudaStream_t, cudaStreamDestroy> {
 public:
  Status create();  // non-blocking with respect to the legacy default stream
};

class Event : public UniqueHandle<cudaEvent_t, cudaEventDestroy> {
 public:
  Status create();  // timing disabled
};

class CublasHandle : public UniqueHandle<cublasHandle_t, cublasDestroy> {
 public:
  Status create();
};

#if defined(__CUDACC__)
// ---- device helpers ----

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block; `scratch` holds 32 floats. Every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < n_warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

// x rounded to bf16 (nearest even), as a float: a rounding point of the bf16 dataflow.
__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}
#endif

}  // namespace ream::cuda
