// make_cuda_backend for builds without CUDA: a clear error instead of a link failure.
#ifndef REAM_HAVE_CUDA
#include "backend.h"

namespace ream {

Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<LoadedModel>, const BackendOptions&) {
  return unimplemented("ream was built without CUDA (configure with -DREAM_CUDA=ON where nvcc is installed)");
}

}  // namespace ream
#endif
