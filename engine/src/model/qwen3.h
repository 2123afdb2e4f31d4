// Qwen3ForCausalLM: the tensor list of a checkpoint, bound by name with shapes checked.
//
// Shapes follow PyTorch's nn.Linear convention, (out_features, in_features).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "ream/engine/model_config.h"

namespace ream {

struct Qwen3LayerWeights {
  const TensorView* input_layernorm;           // (hidden)
  const TensorView* q_proj;                    // (n_heads * head_dim, hidden)
  const TensorView* k_proj;                    // (n_kv_heads * head_dim, hidden)
  const TensorView* v_proj;                    // (n_kv_heads * head_dim, hidden)
  const TensorView* o_proj;                    // (hidden, n_heads * head_dim)
  const TensorView* q_norm;                    // (head_dim)
  const TensorView* k_norm;                    // (head_dim)
  const TensorView* post_attention_layernorm;  // (hidden)
  const TensorView* gate_proj;                 // (intermediate, hidden)
  const TensorView* up_proj;                   // (intermediate, hidden)
  const TensorView* down_proj;                 // (hidden, intermediate)
};

struct Qwen3Weights {
  const TensorView* embed_tokens;  // (vocab, hidden)
  const TensorView* norm;          // (hidden)
  const TensorView* lm_head;       // (vocab, hidden); == embed_tokens when tied
  std::vector<Qwen3LayerWeights> layers;
};

// Binds every tensor; errors name the tensor, its file and the expected shape.
Result<Qwen3Weights> bind_qwen3_weights(const SafetensorsArchive& archive, const ModelConfig& config);

// A loaded checkpoint: config, mapped tensors, bound weights, tokenizer directory.
struct LoadedModel {
  std::string dir;
  ModelConfig config;
  GenerationDefaults generation;
  std::unique_ptr<SafetensorsArchive> archive;
  Qwen3Weights weights;
};
// Resolves `model_ref` (directory or repo id), reads config.json and
// generation_config.json (optional), maps the weights and binds them.
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& model_ref);

}  // namespace ream
