// The model's weights on the device, bf16, uploaded straight from the mapped checkpoint.
#pragma once

#include <vector>

#include "cuda/common.cuh"

namespace ream {
struct LoadedModel;
}

namespace ream::cuda {

struct DeviceLayer {
  const float* input_layernorm;           // (hidden) fp32
  const float* post_attention_layernorm;  // (hidden) fp32
  const float* q_norm;                    // (head_dim) fp32
  const float* k_norm;                    // (head_dim) fp32
  const bf16* w_qkv;                      // ((n_heads + 2 * n_kv_heads) * head_dim, hidden): q; k; v rows
  const bf16* w_o;                        // (hidden, n_heads * head_dim)
  const bf16* w_gate_up;                  // (2 * intermediate, hidden): gate rows, then up rows
  const bf16* w_down;                     // (hidden, intermediate)
};

struct DeviceWeights {
  DeviceBuffer storage;       // one allocation holds every tensor below
  const bf16* embed = nullptr;    // (vocab, hidden)
  const bf16* lm_head = nullptr;  // (vocab, hidden); == embed when tied
  const float* norm = nullptr;    // (hidden) fp32
  std::vector<DeviceLayer> layers;
};

// Uploads every tensor of `model` (F32/F16/BF16 in the file; matrices become bf16, norm
// weights fp32), fusing q/k/v and gate/up row-wise. Data moves in chunks through two
// pinned staging buffers so that reading the mapping overlaps the copies.
Status upload_weights(const LoadedModel& model, cudaStream_t stream, DeviceWeights* out);

}  // namespace ream::cuda
