// make_cuda_backend for builds without CUDA: ream_engine compiles this file always, and
// defines REAM_HAVE_CUDA when engine/src/cuda (which holds the real one) is linked in.
#ifndef REAM_HAVE_CUDA

#include "backend.h"

namespace ream {

Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<LoadedModel> /*model*/,
                                                   const BackendOptions& /*options*/) {
  return unimplemented("ream was built without CUDA (configure with -DREAM_CUDA=ON where nvcc is installed)");
}

}  // namespace ream

#endif  // REAM_HAVE_CUDA
