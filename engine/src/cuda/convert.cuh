// dtype conversion for weights on their way to the device.
#pragma once

#include "cuda/common.cuh"
#include "ream/engine/model_config.h"

namespace ream::cuda {

// dst[i] = bf16(src[i]) (round to nearest even) for src of `dtype` (F32, F16 or BF16).
Status launch_convert_to_bf16(DType dtype, const void* src, int64_t n, bf16* dst, cudaStream_t stream);
// dst[i] = float(src[i]).
Status launch_convert_to_f32(DType dtype, const void* src, int64_t n, float* dst, cudaStream_t stream);

}  // namespace ream::cuda
