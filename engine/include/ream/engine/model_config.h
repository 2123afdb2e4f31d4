// ModelConfig: the hyper-parameters of a Qwen3ForCausalLM checkpoint, read from config.json.
//
// Field names keep Hugging Face's. Both dialects are accepted: transformers 4.x
// (top-level `rope_theta`, `rope_scaling`, `torch_dtype`) and transformers 5
// (`rope_parameters`, `dtype`, `layer_types`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream {

enum class DType { kF32, kF16, kBF16 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct ModelConfig {
  std::string architecture = "Qwen3ForCausalLM";
  int64_t vocab_size = 0;               // rows of embed_tokens / lm_head
  int64_t hidden_size = 0;              // d_model
  int64_t intermediate_size = 0;        // MLP inner width
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;      // query heads
  int64_t num_key_value_heads = 0;      // KV heads (GQA); divides num_attention_heads
  int64_t head_dim = 0;                 // per-head width; independent of hidden/heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
  bool tie_word_embeddings = false;
  DType dtype = DType::kBF16;           // torch_dtype / dtype: the checkpoint's dtype
  std::vector<int32_t> eos_token_ids;   // from config.json (generation_config overrides)
  int32_t bos_token_id = -1;
};

// Parses config.json text; `path` is used only in error messages.
Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& path);
// Reads and parses a config.json file.
Result<ModelConfig> load_model_config(const std::string& path);

// generation_config.json: sampling defaults shipped with a model. Absent fields stay unset.
struct GenerationDefaults {
  bool has_temperature = false, has_top_p = false, has_top_k = false, has_min_p = false;
  bool has_repetition_penalty = false;
  float temperature = 1.0f, top_p = 1.0f, min_p = 0.0f, repetition_penalty = 1.0f;
  int32_t top_k = 0;
  bool do_sample = true;
  std::vector<int32_t> eos_token_ids;
};
Result<GenerationDefaults> load_generation_config(const std::string& path);

// Resolves a model reference to a local directory: an existing directory is returned
// as is; "org/name" is looked up in the Hugging Face cache ($HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub) through refs/main to its snapshot.
Result<std::string> resolve_model_dir(const std::string& model_ref);

}  // namespace ream
