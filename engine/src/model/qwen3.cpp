// Qwen3ForCausalLM checkpoints: binding tensors by name with exact shapes, and
// load_model, which puts config, generation defaults and weights together.
#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "model/qwen3.h"

namespace ream {

namespace fs = std::filesystem;

namespace {

// Binds one decoder layer's eleven tensors.
Result<Qwen3LayerWeights> bind_layer(const SafetensorsArchive& a, const ModelConfig& c, int64_t i) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  const int64_t inter = c.intermediate_size;
  const std::string p = "model.layers." + std::to_string(i) + ".";
  Qwen3LayerWeights w{};
  REAM_ASSIGN_OR_RETURN(w.input_layernorm, (a.get(p + "input_layernorm.weight", {hidden})));
  REAM_ASSIGN_OR_RETURN(w.q_proj, (a.get(p + "self_attn.q_proj.weight", {q_dim, hidden})));
  REAM_ASSIGN_OR_RETURN(w.k_proj, (a.get(p + "self_attn.k_proj.weight", {kv_dim, hidden})));
  REAM_ASSIGN_OR_RETURN(w.v_proj, (a.get(p + "self_attn.v_proj.weight", {kv_dim, hidden})));
  REAM_ASSIGN_OR_RETURN(w.o_proj, (a.get(p + "self_attn.o_proj.weight", {hidden, q_dim})));
  REAM_ASSIGN_OR_RETURN(w.q_norm, (a.get(p + "self_attn.q_norm.weight", {c.head_dim})));
  REAM_ASSIGN_OR_RETURN(w.k_norm, (a.get(p + "self_attn.k_norm.weight", {c.head_dim})));
  REAM_ASSIGN_OR_RETURN(w.post_attention_layernorm, (a.get(p + "post_attention_layernorm.weight", {hidden})));
  REAM_ASSIGN_OR_RETURN(w.gate_proj, (a.get(p + "mlp.gate_proj.weight", {inter, hidden})));
  REAM_ASSIGN_OR_RETURN(w.up_proj, (a.get(p + "mlp.up_proj.weight", {inter, hidden})));
  REAM_ASSIGN_OR_RETURN(w.down_proj, (a.get(p + "mlp.down_proj.weight", {hidden, inter})));
  return w;
}

// How many decoder layers the checkpoint holds: one more than the highest N of any
// "model.layers.N." tensor (0 if none).
int64_t checkpoint_layers(const SafetensorsArchive& a) {
  const std::string prefix = "model.layers.";
  int64_t n = 0;
  for (const std::string& name : a.names()) {
    if (name.rfind(prefix, 0) != 0) continue;
    size_t end = name.find('.', prefix.size());
    std::string digits = name.substr(prefix.size(), end - prefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    n = std::max<int64_t>(n, std::stoll(digits) + 1);
  }
  return n;
}

}  // namespace

Result<Qwen3Weights> bind_qwen3_weights(const SafetensorsArchive& archive, const ModelConfig& config) {
  Qwen3Weights w{};
  REAM_ASSIGN_OR_RETURN(w.embed_tokens,
                        (archive.get("model.embed_tokens.weight", {config.vocab_size, config.hidden_size})));
  REAM_ASSIGN_OR_RETURN(w.norm, archive.get("model.norm.weight", {config.hidden_size}));
  if (config.tie_word_embeddings) {
    // As in transformers: a tied model's output projection is the embedding, whatever
    // else the file holds under lm_head.weight.
    w.lm_head = w.embed_tokens;
  } else {
    if (!archive.find("lm_head.weight")) {
      return not_found("tensor 'lm_head.weight' is missing and config.json has tie_word_embeddings: false");
    }
    REAM_ASSIGN_OR_RETURN(w.lm_head, (archive.get("lm_head.weight", {config.vocab_size, config.hidden_size})));
  }
  // What the file holds must match the config before anything is sized by the config.
  const int64_t held = checkpoint_layers(archive);
  if (held != config.num_hidden_layers) {
    return invalid_argument("config.json: num_hidden_layers is " + std::to_string(config.num_hidden_layers) +
                            " but the safetensors hold " +
                            (held == 0 ? std::string("no decoder layers")
                                       : std::to_string(held) + " decoder layers (model.layers.0.." +
                                             std::to_string(held - 1) + ")"));
  }
  w.layers.reserve(static_cast<size_t>(config.num_hidden_layers));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    REAM_ASSIGN_OR_RETURN(Qwen3LayerWeights layer, bind_layer(archive, config, i));
    w.layers.push_back(layer);
  }
  return w;
}

Result<std::unique_ptr<LoadedModel>> load_model(const std::string& model_ref) {
  REAM_ASSIGN_OR_RETURN(std::string dir, resolve_model_dir(model_ref));
  auto model = std::make_unique<LoadedModel>();
  model->dir = dir;
  const fs::path config_path = fs::path(dir) / "config.json";
  std::error_code ec;
  if (!fs::exists(config_path, ec)) return not_found("no config.json in model directory " + dir);
  REAM_ASSIGN_OR_RETURN(model->config, load_model_config(config_path.string()));

  const fs::path gen_path = fs::path(dir) / "generation_config.json";
  if (fs::exists(gen_path, ec)) {
    REAM_ASSIGN_OR_RETURN(model->generation, load_generation_config(gen_path.string()));
  }
  if (model->generation.eos_token_ids.empty()) model->generation.eos_token_ids = model->config.eos_token_ids;

  REAM_ASSIGN_OR_RETURN(model->archive, SafetensorsArchive::open_dir(dir));
  REAM_ASSIGN_OR_RETURN(model->weights, bind_qwen3_weights(*model->archive, model->config));
  const ModelConfig& c = model->config;
  spdlog::info("model loaded: dir={} layers={} hidden={} heads={}/{} head_dim={} vocab={} tied={} tensors={}",
               dir, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads,
               c.head_dim, c.vocab_size, c.tie_word_embeddings, model->archive->names().size());
  return model;
}

}  // namespace ream
