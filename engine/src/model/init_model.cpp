// init_random_model: writes a loadable Qwen3 checkpoint with random weights.
//
// Random numbers are counter-based: element i of tensor t comes from a splitmix64
// stream keyed by (seed, t, i / kBlock), so the result does not depend on how many
// threads drew it, and the file is written in chunks without holding the model.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "model/init_model.h"
#include "model/safetensors.h"
#include "rng.h"

#ifndef REAM_DEFAULT_TOKENIZER_DIR
#define REAM_DEFAULT_TOKENIZER_DIR ""
#endif

namespace ream {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kBlock = 1 << 16;         // elements per random stream
constexpr int64_t kChunk = int64_t{1} << 24;  // elements generated and written at a time
constexpr float kInitStd = 0.02f;
constexpr const char* kMarker = "ream_init.json";

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Fills dst[0, n) with N(0, std^2) draws for elements [first, first + n) of tensor
// `tensor`; `first` is a multiple of kBlock. Box-Muller, two draws per pair of uniforms.
void fill_normal(uint64_t seed, uint64_t tensor, int64_t first, float* dst, int64_t n, float stddev) {
  for (int64_t b = 0; b < n; b += kBlock) {
    uint64_t block = static_cast<uint64_t>((first + b) / kBlock);
    SplitMix64 rng{mix64(mix64(seed) + ((tensor << 40) ^ block))};
    int64_t end = std::min(n, b + kBlock);
    for (int64_t i = b; i < end; i += 2) {
      float u1 = static_cast<float>((rng.next() >> 40) + 1) * (1.0f / 16777216.0f);  // (0, 1]
      float u2 = static_cast<float>(rng.next() >> 40) * (1.0f / 16777216.0f);        // [0, 1)
      float r = stddev * std::sqrt(-2.0f * std::log(u1));
      float angle = 6.2831853071795864f * u2;
      dst[i] = r * std::cos(angle);
      if (i + 1 < end) dst[i + 1] = r * std::sin(angle);
    }
  }
}

struct InitTensor {
  TensorSpec spec;
  bool is_norm;  // norms are 1.0, everything else random
};

std::vector<InitTensor> tensor_list(const ModelConfig& c, DType dtype) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim, inter = c.intermediate_size;
  std::vector<InitTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool norm) {
    out.push_back({{std::move(name), dtype, std::move(shape)}, norm});
  };
  add("model.embed_tokens.weight", {c.vocab_size, h}, false);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {h}, true);
    add(p + "self_attn.q_proj.weight", {q, h}, false);
    add(p + "self_attn.k_proj.weight", {kv, h}, false);
    add(p + "self_attn.v_proj.weight", {kv, h}, false);
    add(p + "self_attn.o_proj.weight", {h, q}, false);
    add(p + "self_attn.q_norm.weight", {c.head_dim}, true);
    add(p + "self_attn.k_norm.weight", {c.head_dim}, true);
    add(p + "post_attention_layernorm.weight", {h}, true);
    add(p + "mlp.gate_proj.weight", {inter, h}, false);
    add(p + "mlp.up_proj.weight", {inter, h}, false);
    add(p + "mlp.down_proj.weight", {h, inter}, false);
  }
  add("model.norm.weight", {h}, true);
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, h}, false);
  return out;
}

// Converts fp32 values to `dtype` bytes.
void encode(const float* src, int64_t n, DType dtype, uint8_t* dst) {
  if (dtype == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  if (dtype == DType::kBF16) {
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(src[i]);
  }
}

// Generates one chunk of a tensor on all threads, encoded to the file's dtype.
void make_chunk(uint64_t seed, uint64_t tensor, int64_t first, int64_t n, const InitTensor& t,
                std::vector<float>& values, std::vector<uint8_t>& bytes) {
  values.resize(static_cast<size_t>(n));
  bytes.resize(static_cast<size_t>(n) * dtype_size(t.spec.dtype));
  if (t.is_norm) {
    std::fill(values.begin(), values.end(), 1.0f);
    encode(values.data(), n, t.spec.dtype, bytes.data());
    return;
  }
  int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t n_threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 32);
  n_threads = std::min(n_threads, blocks);
  int64_t per = (blocks + n_threads - 1) / n_threads * kBlock;  // elements per thread
  auto work = [&](int64_t lo) {
    int64_t hi = std::min(n, lo + per);
    fill_normal(seed, tensor, first + lo, values.data() + lo, hi - lo, kInitStd);
    encode(values.data() + lo, hi - lo, t.spec.dtype, bytes.data() + lo * dtype_size(t.spec.dtype));
  };
  std::vector<std::thread> threads;
  for (int64_t lo = per; lo < n; lo += per) threads.emplace_back(work, lo);
  work(0);
  for (std::thread& th : threads) th.join();
}

Status write_weights(const std::string& path, const ModelConfig& c, uint64_t seed, DType dtype) {
  std::vector<InitTensor> tensors = tensor_list(c, dtype);
  std::vector<TensorSpec> specs;
  for (const InitTensor& t : tensors) specs.push_back(t.spec);
  REAM_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsWriter> writer,
                        SafetensorsWriter::create(path, std::move(specs), {{"format", "pt"}}));
  std::vector<float> values;
  std::vector<uint8_t> bytes;
  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    int64_t numel = 1;
    for (int64_t d : tensors[ti].spec.shape) numel *= d;
    for (int64_t first = 0; first < numel; first += kChunk) {
      int64_t n = std::min(kChunk, numel - first);
      make_chunk(seed, ti, first, n, tensors[ti], values, bytes);
      REAM_RETURN_IF_ERROR(writer->append(bytes.data(), bytes.size()));
    }
  }
  return writer->finish();
}

const char* torch_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
  }
  return "bfloat16";
}

// config.json in the transformers 4.x dialect, as Qwen3-4B-Instruct-2507 ships it.
json config_json(const ModelConfig& c, DType dtype) {
  return json{{"architectures", {"Qwen3ForCausalLM"}},
              {"attention_bias", false},
              {"attention_dropout", 0.0},
              {"bos_token_id", c.bos_token_id},
              {"eos_token_id", c.eos_token_ids.at(0)},
              {"head_dim", c.head_dim},
              {"hidden_act", "silu"},
              {"hidden_size", c.hidden_size},
              {"initializer_range", 0.02},
              {"intermediate_size", c.intermediate_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"max_window_layers", c.num_hidden_layers},
              {"model_type", "qwen3"},
              {"num_attention_heads", c.num_attention_heads},
              {"num_hidden_layers", c.num_hidden_layers},
              {"num_key_value_heads", c.num_key_value_heads},
              {"rms_norm_eps", c.rms_norm_eps},
              {"rope_scaling", nullptr},
              {"rope_theta", c.rope_theta},
              {"sliding_window", nullptr},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"torch_dtype", torch_dtype_name(dtype)},
              {"transformers_version", "4.51.0"},
              {"use_cache", true},
              {"use_sliding_window", false},
              {"vocab_size", c.vocab_size}};
}

// Qwen3-2507's recommended sampling.
json generation_json() {
  return json{{"bos_token_id", 151643}, {"do_sample", true}, {"eos_token_id", {151645, 151643}},
              {"pad_token_id", 151643},  {"temperature", 0.7},  {"top_k", 20},
              {"top_p", 0.8},            {"min_p", 0.0},        {"transformers_version", "4.51.0"}};
}

std::string readme_text(const InitModelOptions& o) {
  return "# Random-weight Qwen3 model (" + o.shape + ")\n\n"
         "This directory was written by `ream init-model --shape " + o.shape + " --seed " +
         std::to_string(o.seed) + "`.\n\n"
         "**The weights are random numbers, not a trained model.** It loads and runs like a real\n"
         "Qwen3 checkpoint, so it is useful for tests, benchmarks and trying out ream, but any\n"
         "text it produces is meaningless. Do not use its output for anything.\n\n"
         "The tokenizer files are the real Qwen3 tokenizer.\n";
}

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return internal_error("cannot write " + path.string());
  return Status::ok_status();
}

json marker_json(const InitModelOptions& o) {
  return json{{"shape", o.shape}, {"seed", o.seed}, {"dtype", dtype_name(o.dtype)}};
}

// Ok(true) when `dir` already holds this very model; Ok(false) when it is absent or
// empty; an error when it holds anything else.
Result<bool> check_out_dir(const InitModelOptions& o) {
  std::error_code ec;
  const fs::path dir(o.out_dir);
  if (!fs::exists(dir, ec)) return false;
  if (!fs::is_directory(dir, ec)) return invalid_argument(o.out_dir + " exists and is not a directory");
  if (fs::is_empty(dir, ec)) return false;
  std::ifstream in(dir / kMarker);
  json marker;
  if (in) {
    try {
      marker = json::parse(in);
    } catch (const json::exception&) {
      marker = nullptr;
    }
  }
  if (marker == marker_json(o) && fs::exists(dir / "model.safetensors", ec) && fs::exists(dir / "config.json", ec)) {
    return true;
  }
  std::string held = marker.is_object() ? " (it holds a model made with " + marker.dump() + ")" : "";
  return Status(StatusCode::kAlreadyExists,
                "output directory " + o.out_dir + " exists and is not empty" + held +
                    "; choose another directory or remove it");
}

}  // namespace

std::vector<std::string> init_model_shapes() { return {"tiny", "qwen3-0.6b", "qwen3-4b"}; }

Result<ModelConfig> init_model_config(const std::string& shape) {
  ModelConfig c;
  c.vocab_size = 151936;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = true;
  c.dtype = DType::kBF16;
  c.eos_token_ids = {151645};
  c.bos_token_id = 151643;
  // {hidden, intermediate, layers, heads, kv_heads, head_dim, max_pos, theta}
  if (shape == "tiny") {
    c.hidden_size = 64, c.intermediate_size = 192, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 32;
    c.max_position_embeddings = 262144, c.rope_theta = 1e6;
  } else if (shape == "qwen3-0.6b") {
    c.hidden_size = 1024, c.intermediate_size = 3072, c.num_hidden_layers = 28;
    c.num_attention_heads = 16, c.num_key_value_heads = 8, c.head_dim = 128;
    c.max_position_embeddings = 40960, c.rope_theta = 1e6;
  } else if (shape == "qwen3-4b") {
    c.hidden_size = 2560, c.intermediate_size = 9728, c.num_hidden_layers = 36;
    c.num_attention_heads = 32, c.num_key_value_heads = 8, c.head_dim = 128;
    c.max_position_embeddings = 262144, c.rope_theta = 5e6;
  } else {
    return invalid_argument("unknown model shape '" + shape + "' (known: tiny, qwen3-0.6b, qwen3-4b)");
  }
  return c;
}

Status init_random_model(const InitModelOptions& o) {
  REAM_ASSIGN_OR_RETURN(ModelConfig config, init_model_config(o.shape));
  if (o.out_dir.empty()) return invalid_argument("no output directory given");
  REAM_ASSIGN_OR_RETURN(bool already, check_out_dir(o));
  if (already) {
    spdlog::info("init-model: {} already holds shape={} seed={}; nothing to do", o.out_dir, o.shape, o.seed);
    return Status::ok_status();
  }
  const fs::path tok_dir(o.tokenizer_dir.empty() ? REAM_DEFAULT_TOKENIZER_DIR : o.tokenizer_dir);
  std::error_code ec;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    if (!fs::exists(tok_dir / f, ec)) {
      return not_found("tokenizer directory '" + tok_dir.string() + "' has no " + f);
    }
  }
  const fs::path dir(o.out_dir);
  fs::create_directories(dir, ec);
  if (ec) return internal_error("cannot create " + o.out_dir + ": " + ec.message());
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(tok_dir / f, dir / f, fs::copy_options::overwrite_existing, ec);
    if (ec) return internal_error("cannot copy " + (tok_dir / f).string() + ": " + ec.message());
  }
  REAM_RETURN_IF_ERROR(write_text(dir / "config.json", config_json(config, o.dtype).dump(2) + "\n"));
  REAM_RETURN_IF_ERROR(write_text(dir / "generation_config.json", generation_json().dump(2) + "\n"));
  REAM_RETURN_IF_ERROR(write_text(dir / "README.md", readme_text(o)));
  spdlog::info("init-model: writing random {} weights (seed {}) to {}", o.shape, o.seed, o.out_dir);
  // Written under a temporary name, so an interrupted run never leaves a plausible file.
  const fs::path tmp = dir / "model.safetensors.partial";
  REAM_RETURN_IF_ERROR(write_weights(tmp.string(), config, o.seed, o.dtype));
  fs::rename(tmp, dir / "model.safetensors", ec);
  if (ec) return internal_error("cannot rename " + tmp.string() + ": " + ec.message());
  REAM_RETURN_IF_ERROR(write_text(dir / kMarker, marker_json(o).dump(2) + "\n"));
  spdlog::info("init-model: done: {}", o.out_dir);
  return Status::ok_status();
}

}  // namespace ream
