// The CUDA backend's error checker and RAII owners (see common.cuh).
#include "cuda/common.cuh"

#include <cstring>

namespace ream::cuda {
namespace {

std::string where(const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  return std::string(base ? base + 1 : file) + ":" + std::to_string(line);
}

}  // namespace

Status check_cuda(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return Status();
  std::string msg = std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                    ") in " + expr + " at " + where(file, line);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the (non-sticky) error so later calls are not blamed for it
    return resource_exhausted(std::move(msg));
  }
  return internal_error(std::move(msg));
}

Status check_cublas(cublasStatus_t st, const char* expr, const char* file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return Status();
  std::string msg = std::string("cuBLAS error ") + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) +
                    ") in " + expr + " at " + where(file, line);
  if (st == CUBLAS_STATUS_ALLOC_FAILED) return resource_exhausted(std::move(msg));
  return internal_error(std::move(msg));
}

Status check_launch(const char* what, const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return Status();
  return internal_error(std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                        ") launching " + what + " at " + where(file, line));
}

Status DeviceMemory::allocate(void** ptr, size_t bytes, const char* what) {
  cudaError_t err = cudaMalloc(ptr, bytes);
  if (err == cudaSuccess) return Status();
  *ptr = nullptr;
  cudaGetLastError();
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  std::string msg = std::string("cannot allocate ") + std::to_string(bytes >> 20) + " MiB of device memory for " +
                    what + " (" + std::to_string(free_b >> 20) + " MiB free of " +
                    std::to_string(total_b >> 20) + "): " + cudaGetErrorString(err);
  return err == cudaErrorMemoryAllocation ? resource_exhausted(msg) : internal_error(msg);
}

void DeviceMemory::free(void* ptr) { cudaFree(ptr); }

Status PinnedMemory::allocate(void** ptr, size_t bytes, const char* what) {
  cudaError_t err = cudaMallocHost(ptr, bytes);
  if (err == cudaSuccess) return Status();
  *ptr = nullptr;
  cudaGetLastError();
  return resource_exhausted(std::string("cannot allocate ") + std::to_string(bytes >> 20) +
                            " MiB of pinned host memory for " + what + ": " + cudaGetErrorString(err));
}

void PinnedMemory::free(void* ptr) { cudaFreeHost(ptr); }

Status Stream::create() {
  reset();
  CUDA_CHECK(cudaStreamCreateWithFlags(&h_, cudaStreamNonBlocking));
  return Status();
}

Status Event::create() {
  reset();
  CUDA_CHECK(cudaEventCreateWithFlags(&h_, cudaEventDisableTiming));
  return Status();
}

Status CublasHandle::create() {
  reset();
  CUBLAS_CHECK(cublasCreate(&h_));
  return Status();
}

}  // namespace ream::cuda
