// config.json and generation_config.json for Qwen3ForCausalLM, plus the DType helpers.
//
// Two dialects of config.json are accepted. transformers 4.x writes `rope_theta`,
// `rope_scaling` and `torch_dtype` at the top level; transformers 5 writes
// `rope_parameters: {rope_theta, rope_type}`, `dtype` and `layer_types`. Anything
// that would change the math and that ream does not implement (rope scaling, sliding
// window attention, attention bias, another activation) is refused by name rather
// than silently ignored.
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ream/engine/model_config.h"

namespace ream {

using nlohmann::json;

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

namespace {

// transformers' Qwen3Config defaults for fields a config.json may omit.
constexpr int64_t kQwen3DefaultKvHeads = 32;
constexpr int64_t kQwen3DefaultHeadDim = 128;

// Sane maxima for the sizes in config.json, far above any Qwen3 (4B: 36 layers, hidden
// 2560, 32/8 heads, vocab 151,936, 262,144 positions) and below what would make the
// loader or the KV cache ask for absurd memory: a typo or a hostile file gets an
// error naming the key, never std::bad_alloc.
struct SizeBound {
  const char* key;
  int64_t max;
};
constexpr SizeBound kSizeBounds[] = {
    {"vocab_size", int64_t{1} << 22},          {"hidden_size", int64_t{1} << 16},
    {"intermediate_size", int64_t{1} << 18},   {"num_hidden_layers", 1024},
    {"num_attention_heads", 1024},             {"num_key_value_heads", 1024},
    {"head_dim", 1024},                        {"max_position_embeddings", int64_t{1} << 24},
};

int64_t size_max(const char* key) {
  for (const SizeBound& b : kSizeBounds) {
    if (std::string_view(b.key) == key) return b.max;
  }
  return std::numeric_limits<int64_t>::max();
}

// Reads a whole file; NotFound when it cannot be opened.
Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return data_loss("error reading " + path);
  return ss.str();
}

// A JSON integer that fits a token id (int32, not negative): nothing is narrowed.
bool is_token_id(const json& v) {
  return v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX)
                                : v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX;
}

// Field accessors: every error names the field and the file.
class Fields {
 public:
  Fields(const json& j, const std::string& path) : j_(j), path_(path) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  Status bad(const char* key, const char* want) const {
    return invalid_argument(path_ + ": field '" + key + "' must be " + want + ", found " +
                            j_.at(key).dump());
  }
  Status missing(const char* key) const {
    return invalid_argument(path_ + ": required field '" + key + "' is missing");
  }

  Result<int64_t> get_int(const char* key) const {
    if (!has(key)) return missing(key);
    const json& v = j_.at(key);
    if (!v.is_number_integer()) return bad(key, "an integer");
    return v.get<int64_t>();
  }
  // A positive integer no larger than the key's sane maximum (kSizeBounds).
  Result<int64_t> get_positive(const char* key) const {
    REAM_ASSIGN_OR_RETURN(int64_t v, get_int(key));
    if (v <= 0) return bad(key, "a positive integer");
    if (v > size_max(key)) {
      return invalid_argument(path_ + ": field '" + key + "' must be at most " + std::to_string(size_max(key)) +
                              " (ream's sane maximum), found " + std::to_string(v));
    }
    return v;
  }
  Result<double> get_number(const char* key) const {
    if (!has(key)) return missing(key);
    const json& v = j_.at(key);
    if (!v.is_number()) return bad(key, "a number");
    return v.get<double>();
  }
  Result<bool> get_bool(const char* key) const {
    if (!has(key)) return missing(key);
    const json& v = j_.at(key);
    if (!v.is_boolean()) return bad(key, "true or false");
    return v.get<bool>();
  }
  Result<std::string> get_string(const char* key) const {
    if (!has(key)) return missing(key);
    const json& v = j_.at(key);
    if (!v.is_string()) return bad(key, "a string");
    return v.get<std::string>();
  }
  // An int or a list of ints (eos_token_id); absent or null gives an empty list.
  Result<std::vector<int32_t>> get_id_list(const char* key) const {
    std::vector<int32_t> out;
    if (!has(key)) return out;
    const json& v = j_.at(key);
    const json list = v.is_array() ? v : json::array({v});
    for (const json& e : list) {
      if (!is_token_id(e)) return bad(key, "a token id (0..2147483647) or a list of them");
      out.push_back(e.get<int32_t>());
    }
    return out;
  }

 private:
  const json& j_;
  const std::string& path_;
};

Result<json> parse_json_object(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return invalid_argument(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return invalid_argument(path + ": expected a JSON object at the top level");
  return j;
}

Result<DType> dtype_from_torch_name(const std::string& name, const std::string& path) {
  if (name == "bfloat16") return DType::kBF16;
  if (name == "float16") return DType::kF16;
  if (name == "float32") return DType::kF32;
  return unimplemented(path + ": checkpoint dtype '" + name +
                       "' is not supported (supported: bfloat16, float16, float32)");
}

// Architecture and model_type must name Qwen3; the error says what was found.
Status check_architecture(const json& j, const std::string& path, ModelConfig& cfg) {
  Fields f(j, path);
  if (f.has("model_type")) {
    REAM_ASSIGN_OR_RETURN(std::string mt, f.get_string("model_type"));
    if (mt != "qwen3") {
      return unimplemented(path + ": model_type '" + mt + "' is not supported (ream runs qwen3)");
    }
  }
  if (!f.has("architectures")) {
    if (!f.has("model_type")) {
      return invalid_argument(path + ": neither 'architectures' nor 'model_type' is present");
    }
    return Status::ok_status();
  }
  const json& archs = j.at("architectures");
  if (!archs.is_array()) return f.bad("architectures", "a list of strings");
  for (const json& a : archs) {
    if (a.is_string() && a.get<std::string>() == "Qwen3ForCausalLM") {
      cfg.architecture = "Qwen3ForCausalLM";
      return Status::ok_status();
    }
  }
  return unimplemented(path + ": architectures " + archs.dump() +
                       " not supported (ream runs Qwen3ForCausalLM)");
}

// A rope_scaling / rope_parameters object must be absent, null or of type "default".
Status check_rope_type(const json& obj, const char* field, const std::string& path) {
  if (obj.is_null()) return Status::ok_status();
  if (!obj.is_object()) {
    return invalid_argument(path + ": field '" + field + "' must be an object or null");
  }
  std::string type = "default";
  for (const char* key : {"rope_type", "type"}) {
    if (obj.contains(key) && obj.at(key).is_string()) type = obj.at(key).get<std::string>();
  }
  if (type != "default") {
    return unimplemented(path + ": " + field + " type '" + type +
                         "' is not implemented (only unscaled 'default' RoPE)");
  }
  return Status::ok_status();
}

// rope_theta from either dialect; transformers 5 nests it in rope_parameters.
Status read_rope(const json& j, const std::string& path, ModelConfig& cfg) {
  Fields f(j, path);
  if (f.has("rope_scaling")) REAM_RETURN_IF_ERROR(check_rope_type(j.at("rope_scaling"), "rope_scaling", path));
  cfg.rope_theta = 10000.0;  // Qwen3Config's default
  if (f.has("rope_parameters")) {
    const json& rp = j.at("rope_parameters");
    REAM_RETURN_IF_ERROR(check_rope_type(rp, "rope_parameters", path));
    if (rp.is_object() && rp.contains("rope_theta")) {
      if (!rp.at("rope_theta").is_number()) {
        return invalid_argument(path + ": field 'rope_parameters.rope_theta' must be a number");
      }
      cfg.rope_theta = rp.at("rope_theta").get<double>();
    }
  }
  if (f.has("rope_theta")) {
    REAM_ASSIGN_OR_RETURN(cfg.rope_theta, f.get_number("rope_theta"));
  }
  if (!(cfg.rope_theta > 0)) return invalid_argument(path + ": rope_theta must be positive");
  return Status::ok_status();
}

// Sliding-window attention, attention bias or another activation would change the math.
Status check_unsupported_features(const json& j, const std::string& path, int64_t n_layers) {
  Fields f(j, path);
  if (f.has("use_sliding_window")) {
    REAM_ASSIGN_OR_RETURN(bool sw, f.get_bool("use_sliding_window"));
    if (sw) return unimplemented(path + ": sliding window attention (use_sliding_window: true) is not implemented");
  }
  if (f.has("layer_types")) {
    const json& lt = j.at("layer_types");
    if (!lt.is_array()) return f.bad("layer_types", "a list of strings");
    if (static_cast<int64_t>(lt.size()) != n_layers) {
      return invalid_argument(path + ": layer_types has " + std::to_string(lt.size()) +
                              " entries but num_hidden_layers is " + std::to_string(n_layers));
    }
    for (size_t i = 0; i < lt.size(); ++i) {
      if (!lt[i].is_string() || lt[i].get<std::string>() != "full_attention") {
        return unimplemented(path + ": layer_types[" + std::to_string(i) + "] is " + lt[i].dump() +
                             "; only full_attention is implemented (no sliding window)");
      }
    }
  }
  if (f.has("attention_bias")) {
    REAM_ASSIGN_OR_RETURN(bool bias, f.get_bool("attention_bias"));
    if (bias) return unimplemented(path + ": attention_bias: true is not implemented");
  }
  if (f.has("hidden_act")) {
    REAM_ASSIGN_OR_RETURN(std::string act, f.get_string("hidden_act"));
    if (act != "silu") return unimplemented(path + ": hidden_act '" + act + "' is not implemented (only silu)");
  }
  return Status::ok_status();
}

Status read_sizes(const json& j, const std::string& path, ModelConfig& cfg) {
  Fields f(j, path);
  REAM_ASSIGN_OR_RETURN(cfg.vocab_size, f.get_positive("vocab_size"));
  REAM_ASSIGN_OR_RETURN(cfg.hidden_size, f.get_positive("hidden_size"));
  REAM_ASSIGN_OR_RETURN(cfg.intermediate_size, f.get_positive("intermediate_size"));
  REAM_ASSIGN_OR_RETURN(cfg.num_hidden_layers, f.get_positive("num_hidden_layers"));
  REAM_ASSIGN_OR_RETURN(cfg.num_attention_heads, f.get_positive("num_attention_heads"));
  REAM_ASSIGN_OR_RETURN(cfg.max_position_embeddings, f.get_positive("max_position_embeddings"));
  // Absent fields take transformers' Qwen3Config defaults (not hidden/heads, which is
  // Qwen2's rule), so ream reads a config exactly as the reference implementation does.
  cfg.num_key_value_heads = kQwen3DefaultKvHeads;
  if (f.has("num_key_value_heads")) {
    REAM_ASSIGN_OR_RETURN(cfg.num_key_value_heads, f.get_positive("num_key_value_heads"));
  }
  if (cfg.num_attention_heads % cfg.num_key_value_heads != 0) {
    return invalid_argument(path + ": num_attention_heads (" + std::to_string(cfg.num_attention_heads) +
                            ") is not a multiple of num_key_value_heads (" +
                            std::to_string(cfg.num_key_value_heads) + ")");
  }
  cfg.head_dim = kQwen3DefaultHeadDim;
  if (f.has("head_dim")) {
    REAM_ASSIGN_OR_RETURN(cfg.head_dim, f.get_positive("head_dim"));
  }
  if (cfg.head_dim % 2 != 0) return invalid_argument(path + ": head_dim must be even for RoPE");
  if (f.has("rms_norm_eps")) {
    REAM_ASSIGN_OR_RETURN(cfg.rms_norm_eps, f.get_number("rms_norm_eps"));
    if (!(cfg.rms_norm_eps > 0)) return invalid_argument(path + ": rms_norm_eps must be positive");
  }
  return Status::ok_status();
}

Status read_misc(const json& j, const std::string& path, ModelConfig& cfg) {
  Fields f(j, path);
  cfg.tie_word_embeddings = false;  // Qwen3Config's default
  if (f.has("tie_word_embeddings")) {
    REAM_ASSIGN_OR_RETURN(cfg.tie_word_embeddings, f.get_bool("tie_word_embeddings"));
  }
  cfg.dtype = DType::kBF16;
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (!f.has(key)) continue;
    REAM_ASSIGN_OR_RETURN(std::string name, f.get_string(key));
    REAM_ASSIGN_OR_RETURN(cfg.dtype, dtype_from_torch_name(name, path));
  }
  REAM_ASSIGN_OR_RETURN(cfg.eos_token_ids, f.get_id_list("eos_token_id"));
  if (f.has("bos_token_id")) {
    if (!is_token_id(j.at("bos_token_id"))) return f.bad("bos_token_id", "a token id (0..2147483647)");
    cfg.bos_token_id = j.at("bos_token_id").get<int32_t>();
  }
  return Status::ok_status();
}

}  // namespace

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& path) {
  REAM_ASSIGN_OR_RETURN(json j, parse_json_object(json_text, path));
  ModelConfig cfg;
  REAM_RETURN_IF_ERROR(check_architecture(j, path, cfg));
  REAM_RETURN_IF_ERROR(read_sizes(j, path, cfg));
  REAM_RETURN_IF_ERROR(check_unsupported_features(j, path, cfg.num_hidden_layers));
  REAM_RETURN_IF_ERROR(read_rope(j, path, cfg));
  REAM_RETURN_IF_ERROR(read_misc(j, path, cfg));
  return cfg;
}

Result<ModelConfig> load_model_config(const std::string& path) {
  REAM_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  return parse_model_config(text, path);
}

Result<GenerationDefaults> load_generation_config(const std::string& path) {
  REAM_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  REAM_ASSIGN_OR_RETURN(json j, parse_json_object(text, path));
  Fields f(j, path);
  GenerationDefaults g;
  auto get_float = [&](const char* key, bool& has, float& out) -> Status {
    if (!f.has(key)) return Status::ok_status();
    REAM_ASSIGN_OR_RETURN(double v, f.get_number(key));
    has = true;
    out = static_cast<float>(v);
    return Status::ok_status();
  };
  REAM_RETURN_IF_ERROR(get_float("temperature", g.has_temperature, g.temperature));
  REAM_RETURN_IF_ERROR(get_float("top_p", g.has_top_p, g.top_p));
  REAM_RETURN_IF_ERROR(get_float("min_p", g.has_min_p, g.min_p));
  REAM_RETURN_IF_ERROR(get_float("repetition_penalty", g.has_repetition_penalty, g.repetition_penalty));
  if (f.has("top_k")) {
    REAM_ASSIGN_OR_RETURN(int64_t k, f.get_int("top_k"));
    if (k < 0 || k > INT32_MAX) return f.bad("top_k", "an integer in 0..2147483647");
    g.has_top_k = true;
    g.top_k = static_cast<int32_t>(k);
  }
  if (f.has("do_sample")) {
    REAM_ASSIGN_OR_RETURN(g.do_sample, f.get_bool("do_sample"));
  }
  REAM_ASSIGN_OR_RETURN(g.eos_token_ids, f.get_id_list("eos_token_id"));
  return g;
}

}  // namespace ream
