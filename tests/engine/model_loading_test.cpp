// Loading Qwen3 checkpoints: config.json dialects, safetensors (single, sharded, every
// dtype), weight binding, the Hugging Face cache layout, random-weight models, and a
// catalogue of broken inputs, each checked for the message it produces.
//
// Checkpoints are built in temporary directories with values drawn fresh per run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/init_model.h"
#include "model/qwen3.h"
#include "model/safetensors.h"

namespace ream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ream_model_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::mt19937_64& rng() {
  static std::mt19937_64 gen = [] {
    uint64_t seed = std::random_device{}();
    std::printf("model_loading_test seed %llu\n", static_cast<unsigned long long>(seed));
    return std::mt19937_64(seed);
  }();
  return gen;
}

struct Shape {
  int64_t vocab = 37, hidden = 16, inter = 24, layers = 2, heads = 4, kv = 2, head_dim = 8;
  bool tied = false;
};

json config_v4(const Shape& s) {
  return {{"architectures", {"Qwen3ForCausalLM"}}, {"model_type", "qwen3"}, {"vocab_size", s.vocab},
          {"hidden_size", s.hidden}, {"intermediate_size", s.inter}, {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads}, {"num_key_value_heads", s.kv}, {"head_dim", s.head_dim},
          {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0},
          {"rope_scaling", nullptr}, {"tie_word_embeddings", s.tied}, {"torch_dtype", "bfloat16"},
          {"eos_token_id", 151645}, {"bos_token_id", 151643}, {"hidden_act", "silu"},
          {"use_sliding_window", false}, {"sliding_window", nullptr}, {"attention_bias", false}};
}

json config_v5(const Shape& s) {
  json j = config_v4(s);
  for (const char* k : {"rope_theta", "rope_scaling", "torch_dtype"}) j.erase(k);
  j["rope_parameters"] = {{"rope_theta", 5000000.0}, {"rope_type", "default"}};
  j["dtype"] = "float32";
  j["layer_types"] = std::vector<std::string>(s.layers, "full_attention");
  j["eos_token_id"] = {151645, 151643};
  return j;
}

// Every tensor of a Qwen3 checkpoint with its shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> tensor_shapes(const Shape& s, bool with_lm_head) {
  const int64_t q = s.heads * s.head_dim, kv = s.kv * s.head_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
      {"model.embed_tokens.weight", {s.vocab, s.hidden}}, {"model.norm.weight", {s.hidden}}};
  if (with_lm_head) out.push_back({"lm_head.weight", {s.vocab, s.hidden}});
  for (int64_t i = 0; i < s.layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {s.hidden}});
    out.push_back({p + "self_attn.q_proj.weight", {q, s.hidden}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, s.hidden}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, s.hidden}});
    out.push_back({p + "self_attn.o_proj.weight", {s.hidden, q}});
    out.push_back({p + "self_attn.q_norm.weight", {s.head_dim}});
    out.push_back({p + "self_attn.k_norm.weight", {s.head_dim}});
    out.push_back({p + "post_attention_layernorm.weight", {s.hidden}});
    out.push_back({p + "mlp.gate_proj.weight", {s.inter, s.hidden}});
    out.push_back({p + "mlp.up_proj.weight", {s.inter, s.hidden}});
    out.push_back({p + "mlp.down_proj.weight", {s.hidden, s.inter}});
  }
  return out;
}

// A random tensor of `dtype`; `expect` receives the values as stored (after rounding).
TensorToWrite random_tensor(const std::string& name, std::vector<int64_t> shape, DType dtype,
                            std::vector<float>& expect) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::normal_distribution<float> dist(0.0f, 1.5f);
  TensorToWrite t{name, dtype, std::move(shape), std::vector<uint8_t>(n * dtype_size(dtype))};
  expect.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    float v = dist(rng());
    if (dtype == DType::kF32) {
      std::memcpy(t.bytes.data() + 4 * i, &v, 4);
      expect[i] = v;
    } else {
      uint16_t h = dtype == DType::kBF16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(t.bytes.data() + 2 * i, &h, 2);
      expect[i] = dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return t;
}

using Expected = std::map<std::string, std::vector<float>>;

// Random tensors for a whole model; dtype_of picks each tensor's dtype.
std::vector<TensorToWrite> random_model(const Shape& s, bool with_lm_head, Expected& expect,
                                        const std::function<DType(size_t)>& dtype_of) {
  std::vector<TensorToWrite> out;
  auto shapes = tensor_shapes(s, with_lm_head);
  for (size_t i = 0; i < shapes.size(); ++i) {
    out.push_back(random_tensor(shapes[i].first, shapes[i].second, dtype_of(i), expect[shapes[i].first]));
  }
  return out;
}

void expect_values(const TensorView* tv, const std::vector<float>& want) {
  ASSERT_NE(tv, nullptr);
  ASSERT_EQ(tv->numel(), static_cast<int64_t>(want.size())) << tv->name;
  std::vector<float> got(want.size());
  to_f32(tv->dtype, tv->data, got.data(), tv->numel());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << tv->name << "[" << i << "]";
}

// Writes config + single-file weights; returns the expected values.
Expected make_model_dir(const TempDir& dir, const Shape& s, const json& config, DType dtype,
                        bool with_lm_head) {
  Expected expect;
  write_file(dir / "config.json", config.dump());
  auto tensors = random_model(s, with_lm_head, expect, [&](size_t) { return dtype; });
  EXPECT_TRUE(write_safetensors(dir / "model.safetensors", tensors).ok());
  return expect;
}

void expect_all_bound(const LoadedModel& m, const Expected& expect) {
  const Qwen3Weights& w = m.weights;
  expect_values(w.embed_tokens, expect.at("model.embed_tokens.weight"));
  expect_values(w.norm, expect.at("model.norm.weight"));
  ASSERT_EQ(w.layers.size(), static_cast<size_t>(m.config.num_hidden_layers));
  for (size_t i = 0; i < w.layers.size(); ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    const Qwen3LayerWeights& l = w.layers[i];
    expect_values(l.input_layernorm, expect.at(p + "input_layernorm.weight"));
    expect_values(l.q_proj, expect.at(p + "self_attn.q_proj.weight"));
    expect_values(l.k_proj, expect.at(p + "self_attn.k_proj.weight"));
    expect_values(l.v_proj, expect.at(p + "self_attn.v_proj.weight"));
    expect_values(l.o_proj, expect.at(p + "self_attn.o_proj.weight"));
    expect_values(l.q_norm, expect.at(p + "self_attn.q_norm.weight"));
    expect_values(l.k_norm, expect.at(p + "self_attn.k_norm.weight"));
    expect_values(l.post_attention_layernorm, expect.at(p + "post_attention_layernorm.weight"));
    expect_values(l.gate_proj, expect.at(p + "mlp.gate_proj.weight"));
    expect_values(l.up_proj, expect.at(p + "mlp.up_proj.weight"));
    expect_values(l.down_proj, expect.at(p + "mlp.down_proj.weight"));
  }
}

// Asserts `s` failed with `code` and a message holding every one of `parts`.
void expect_error(const Status& s, StatusCode code, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (const std::string& p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << "'" << p << "' not in: " << s.message();
}

// ---- dtype conversions --------------------------------------------------------------

TEST(Dtype, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie -> even (down)
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(1.0f + 5 * std::ldexp(1.0f, -9)), 0x3f81);  // above the tie
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  // Reference from first principles: of the two bf16 values around f, the nearer one,
  // the even one on a tie (a magnitude past the largest finite rounds as if to 2^128).
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = bits(rng());
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    uint16_t lo = static_cast<uint16_t>(u >> 16), hi = static_cast<uint16_t>(lo + 1);
    auto value = [](uint16_t h) {
      return (h & 0x7fff) == 0x7f80 ? std::copysign(std::ldexp(1.0, 128), bf16_to_f32(h)) : double(bf16_to_f32(h));
    };
    double dlo = std::fabs(double(f) - value(lo)), dhi = std::fabs(double(f) - value(hi));
    uint16_t want = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    if ((u & 0xffffu) == 0) want = lo;  // exactly representable (also covers +-inf)
    ASSERT_EQ(f32_to_bf16(f), want) << f;
  }
}

#if defined(__FLT16_MAX__)
// The compiler's _Float16 is an independent reference for IEEE half conversions.
TEST(Dtype, F16MatchesCompilerHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    _Float16 ref;
    uint16_t hb = static_cast<uint16_t>(h);
    std::memcpy(&ref, &hb, 2);
    float want = static_cast<float>(ref), got = f16_to_f32(hb);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got));
    } else {
      ASSERT_EQ(got, want) << h;
    }
  }
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = bits(rng());
    if (i % 2) u = (u & 0x8fffffffu) | 0x30000000u;  // half the draws near the f16 range
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    _Float16 ref = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &ref, 2);
    ASSERT_EQ(f32_to_f16(f), want) << f;
  }
}
#endif

TEST(Dtype, F16Edges) {
  EXPECT_EQ(f16_to_f32(f32_to_f16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(65520.0f))));
  EXPECT_EQ(f16_to_f32(f32_to_f16(65519.0f)), 65504.0f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(std::ldexp(1.0f, -24))), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0);  // tie -> even (zero)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 1);
}

// ---- safetensors writing and reading --------------------------------------------------

TEST(Safetensors, WriterPadsHeaderAndSortsKeys) {
  TempDir dir;
  std::vector<float> e1, e2;
  std::vector<TensorToWrite> ts = {random_tensor("zeta", {3}, DType::kF16, e1),
                                   random_tensor("alpha", {2, 5}, DType::kF32, e2)};
  ASSERT_TRUE(write_safetensors(dir / "a.safetensors", ts, {{"format", "pt"}}).ok());
  std::string bytes = read_file(dir / "a.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header = bytes.substr(8, n);
  EXPECT_LT(header.find("\"alpha\""), header.find("\"zeta\""));
  EXPECT_EQ(json::parse(header)["__metadata__"]["format"], "pt");
  auto archive = SafetensorsArchive::open_file(dir / "a.safetensors");
  ASSERT_TRUE(archive.ok()) << archive.status().to_string();
  expect_values((*archive)->find("zeta"), e1);
  expect_values((*archive)->find("alpha"), e2);
  EXPECT_EQ((*archive)->names(), (std::vector<std::string>{"alpha", "zeta"}));
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, EveryDtypeLoadsBackExactly) {
  TempDir dir;
  Shape s;
  Expected expect = make_model_dir(dir, s, config_v4(s), GetParam(), true);
  auto m = load_model(dir.str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  expect_all_bound(**m, expect);
  expect_values((*m)->weights.lm_head, expect.at("lm_head.weight"));
  EXPECT_EQ((*m)->weights.layers[1].q_proj->dtype, GetParam());
  EXPECT_EQ((*m)->weights.embed_tokens->file, dir / "model.safetensors");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RoundTrip, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Safetensors, MixedDtypesAcrossTensors) {
  TempDir dir;
  Shape s;
  Expected expect;
  write_file(dir / "config.json", config_v4(s).dump());
  const DType cycle[] = {DType::kBF16, DType::kF32, DType::kF16};
  auto tensors = random_model(s, true, expect, [&](size_t i) { return cycle[i % 3]; });
  ASSERT_TRUE(write_safetensors(dir / "model.safetensors", tensors).ok());
  auto m = load_model(dir.str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  expect_all_bound(**m, expect);
  std::set<DType> seen;
  for (const auto& l : (*m)->weights.layers) seen.insert(l.q_proj->dtype);
  seen.insert((*m)->weights.embed_tokens->dtype);
  EXPECT_GE(seen.size(), 2u);
}

TEST(Safetensors, ShardedIndexLoads) {
  TempDir dir;
  Shape s;
  s.layers = 3;
  Expected expect;
  write_file(dir / "config.json", config_v5(s).dump());
  auto tensors = random_model(s, true, expect, [](size_t) { return DType::kBF16; });
  std::vector<TensorToWrite> shard[2];
  json weight_map;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string file = "model-0000" + std::to_string(i % 2 + 1) + "-of-00002.safetensors";
    weight_map[tensors[i].name] = file;
    shard[i % 2].push_back(tensors[i]);
  }
  ASSERT_TRUE(write_safetensors(dir / "model-00001-of-00002.safetensors", shard[0]).ok());
  ASSERT_TRUE(write_safetensors(dir / "model-00002-of-00002.safetensors", shard[1]).ok());
  write_file(dir / "model.safetensors.index.json",
             json{{"metadata", {{"total_size", 1234}}}, {"weight_map", weight_map}}.dump());
  auto m = load_model(dir.str());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  expect_all_bound(**m, expect);
  EXPECT_NE((*m)->weights.layers[0].q_proj->file, (*m)->weights.layers[0].k_proj->file);
  EXPECT_EQ((*m)->archive->names().size(), tensors.size());

  // An index that promises a tensor its shard does not hold.
  weight_map["model.extra.weight"] = "model-00001-of-00002.safetensors";
  write_file(dir / "model.safetensors.index.json", json{{"weight_map", weight_map}}.dump());
  expect_error(load_model(dir.str()).status(), StatusCode::kDataLoss, {"model.extra.weight", "index.json"});
  // An index naming a shard that does not exist.
  weight_map.erase("model.extra.weight");
  weight_map["model.norm.weight"] = "model-00003-of-00002.safetensors";
  write_file(dir / "model.safetensors.index.json", json{{"weight_map", weight_map}}.dump());
  expect_error(load_model(dir.str()).status(), StatusCode::kNotFound, {"model-00003-of-00002.safetensors"});
}

TEST(Qwen3, TiedAndUntiedHeads) {
  Shape s;
  s.tied = true;
  {
    TempDir dir;
    Expected expect = make_model_dir(dir, s, config_v4(s), DType::kBF16, false);
    auto m = load_model(dir.str());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_TRUE((*m)->config.tie_word_embeddings);
    EXPECT_EQ((*m)->weights.lm_head, (*m)->weights.embed_tokens);
    expect_values((*m)->weights.lm_head, expect.at("model.embed_tokens.weight"));
  }
  s.tied = false;
  {
    TempDir dir;
    Expected expect = make_model_dir(dir, s, config_v4(s), DType::kBF16, true);
    auto m = load_model(dir.str());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_NE((*m)->weights.lm_head, (*m)->weights.embed_tokens);
    expect_values((*m)->weights.lm_head, expect.at("lm_head.weight"));
  }
  {
    TempDir dir;
    make_model_dir(dir, s, config_v4(s), DType::kBF16, false);
    expect_error(load_model(dir.str()).status(), StatusCode::kNotFound, {"lm_head.weight", "tie_word_embeddings"});
  }
}

// ---- config.json -----------------------------------------------------------------------

TEST(ModelConfig, BothDialects) {
  Shape s;
  s.head_dim = 12;  // != hidden / heads
  auto v4 = parse_model_config(config_v4(s).dump(), "v4/config.json");
  ASSERT_TRUE(v4.ok()) << v4.status().to_string();
  EXPECT_EQ(v4->vocab_size, s.vocab);
  EXPECT_EQ(v4->hidden_size, s.hidden);
  EXPECT_EQ(v4->intermediate_size, s.inter);
  EXPECT_EQ(v4->num_hidden_layers, s.layers);
  EXPECT_EQ(v4->num_attention_heads, s.heads);
  EXPECT_EQ(v4->num_key_value_heads, s.kv);
  EXPECT_EQ(v4->head_dim, 12);
  EXPECT_EQ(v4->rope_theta, 1e6);
  EXPECT_EQ(v4->dtype, DType::kBF16);
  EXPECT_EQ(v4->eos_token_ids, std::vector<int32_t>{151645});
  EXPECT_EQ(v4->bos_token_id, 151643);
  EXPECT_FALSE(v4->tie_word_embeddings);

  auto v5 = parse_model_config(config_v5(s).dump(), "v5/config.json");
  ASSERT_TRUE(v5.ok()) << v5.status().to_string();
  EXPECT_EQ(v5->rope_theta, 5e6);
  EXPECT_EQ(v5->dtype, DType::kF32);
  EXPECT_EQ(v5->eos_token_ids, (std::vector<int32_t>{151645, 151643}));
  EXPECT_EQ(v5->head_dim, 12);

  // Absent head_dim / num_key_value_heads take transformers' Qwen3Config defaults.
  json defaults = config_v4(s);
  defaults.erase("head_dim");
  defaults.erase("num_key_value_heads");
  defaults["num_attention_heads"] = 64;
  auto d = parse_model_config(defaults.dump(), "c.json");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->head_dim, 128);
  EXPECT_EQ(d->num_key_value_heads, 32);
}

TEST(ModelConfig, RejectsWhatItCannotRun) {
  Shape s;
  auto bad = [&](json j, StatusCode code, std::initializer_list<std::string> parts) {
    expect_error(parse_model_config(j.dump(), "/m/config.json").status(), code, parts);
  };
  json j = config_v4(s);
  j["architectures"] = {"LlamaForCausalLM"};
  bad(j, StatusCode::kUnimplemented, {"LlamaForCausalLM", "/m/config.json"});
  j = config_v4(s);
  j["model_type"] = "qwen2";
  bad(j, StatusCode::kUnimplemented, {"qwen2"});
  j = config_v4(s);
  j["use_sliding_window"] = true;
  bad(j, StatusCode::kUnimplemented, {"sliding window"});
  j = config_v5(s);
  j["layer_types"][1] = "sliding_attention";
  bad(j, StatusCode::kUnimplemented, {"layer_types[1]", "sliding_attention"});
  j = config_v4(s);
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  bad(j, StatusCode::kUnimplemented, {"yarn", "rope_scaling"});
  j = config_v5(s);
  j["rope_parameters"]["rope_type"] = "linear";
  bad(j, StatusCode::kUnimplemented, {"linear"});
  j = config_v4(s);
  j["num_key_value_heads"] = 3;
  bad(j, StatusCode::kInvalidArgument, {"num_key_value_heads", "num_attention_heads"});
  for (const char* field : {"vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size"}) {
    j = config_v4(s);
    j.erase(field);
    bad(j, StatusCode::kInvalidArgument, {field, "/m/config.json", "missing"});
  }
  j = config_v4(s);
  j["hidden_size"] = "sixteen";
  bad(j, StatusCode::kInvalidArgument, {"hidden_size", "integer"});
  j = config_v4(s);
  j["torch_dtype"] = "float8_e4m3fn";
  bad(j, StatusCode::kUnimplemented, {"float8_e4m3fn"});
  expect_error(parse_model_config("{not json", "/m/config.json").status(), StatusCode::kInvalidArgument,
               {"/m/config.json", "JSON"});
  j = config_v4(s);
  j["rope_scaling"] = {{"rope_type", "default"}};  // explicit default is fine
  EXPECT_TRUE(parse_model_config(j.dump(), "c").ok());
}

TEST(GenerationConfig, OptionalFieldsAndEosForms) {
  TempDir dir;
  write_file(dir / "g.json", R"({"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0,
                                "do_sample": true, "eos_token_id": [151645, 151643]})");
  auto g = load_generation_config(dir / "g.json");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_TRUE(g->has_temperature && g->has_top_p && g->has_top_k && g->has_min_p);
  EXPECT_FALSE(g->has_repetition_penalty);
  EXPECT_FLOAT_EQ(g->temperature, 0.7f);
  EXPECT_FLOAT_EQ(g->top_p, 0.8f);
  EXPECT_EQ(g->top_k, 20);
  EXPECT_EQ(g->eos_token_ids, (std::vector<int32_t>{151645, 151643}));
  write_file(dir / "g.json", R"({"repetition_penalty": 1.05, "eos_token_id": 7, "do_sample": false})");
  g = load_generation_config(dir / "g.json");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->has_repetition_penalty);
  EXPECT_FALSE(g->has_temperature);
  EXPECT_FALSE(g->do_sample);
  EXPECT_EQ(g->eos_token_ids, std::vector<int32_t>{7});
  write_file(dir / "g.json", R"({"top_k": "many"})");
  expect_error(load_generation_config(dir / "g.json").status(), StatusCode::kInvalidArgument, {"top_k"});
}

// ---- broken checkpoints ---------------------------------------------------------------

// A safetensors file from a hand-written header and `data_bytes` of payload.
std::string raw_safetensors(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  return out + header + std::string(data_bytes, '\x3f');
}

Status open_raw(const TempDir& dir, const std::string& bytes) {
  write_file(dir / "x.safetensors", bytes);
  return SafetensorsArchive::open_file(dir / "x.safetensors").status();
}

TEST(BrokenCheckpoint, SafetensorsHeaders) {
  TempDir dir;
  const std::string f = dir / "x.safetensors";
  expect_error(open_raw(dir, "abc"), StatusCode::kDataLoss, {f, "too short"});
  std::string past = raw_safetensors("{}", 0);
  past[0] = 100;  // claims 100 header bytes, has 2
  expect_error(open_raw(dir, past), StatusCode::kDataLoss, {f, "header length 100", "past the end"});
  expect_error(open_raw(dir, raw_safetensors("{\"a\": [1,", 16)), StatusCode::kDataLoss, {f, "not valid JSON"});
  expect_error(open_raw(dir, raw_safetensors(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8)),
               StatusCode::kDataLoss, {f, "'w'", "outside the data region"});
  expect_error(open_raw(dir, raw_safetensors(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                                "b": {"dtype": "F16", "shape": [4], "data_offsets": [8, 16]}})", 16)),
               StatusCode::kDataLoss, {f, "overlaps", "'a'", "'b'"});
  expect_error(open_raw(dir, raw_safetensors(R"({"w": {"dtype": "BF16", "shape": [3, 3], "data_offsets": [0, 16]}})", 16)),
               StatusCode::kDataLoss, {f, "'w'", "[3, 3]", "needs 18"});
  expect_error(open_raw(dir, raw_safetensors(R"({"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})", 16)),
               StatusCode::kUnimplemented, {f, "'ids'", "I64"});
  expect_error(open_raw(dir, raw_safetensors(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4)),
               StatusCode::kDataLoss, {f, "'w'", "shape"});
  // __metadata__ is ignored and an empty tensor overlaps nothing.
  EXPECT_TRUE(open_raw(dir, raw_safetensors(R"({"__metadata__": {"format": "pt"},
      "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},
      "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8)).ok());
}

TEST(BrokenCheckpoint, MissingFilesAndTruncation) {
  Shape s;
  {
    TempDir dir;
    make_model_dir(dir, s, config_v4(s), DType::kBF16, true);
    fs::remove(dir / "config.json");
    expect_error(load_model(dir.str()).status(), StatusCode::kNotFound, {"config.json", dir.str()});
  }
  {
    TempDir dir;
    write_file(dir / "config.json", config_v4(s).dump());
    expect_error(load_model(dir.str()).status(), StatusCode::kNotFound,
                 {"model.safetensors", "model.safetensors.index.json", dir.str()});
  }
  {
    TempDir dir;
    make_model_dir(dir, s, config_v4(s), DType::kF32, true);
    std::string bytes = read_file(dir / "model.safetensors");
    write_file(dir / "model.safetensors", bytes.substr(0, bytes.size() - 5));
    expect_error(load_model(dir.str()).status(), StatusCode::kDataLoss,
                 {dir / "model.safetensors", "outside the data region", "truncated"});
  }
  expect_error(load_model("/nonexistent/ream/model").status(), StatusCode::kNotFound, {"/nonexistent/ream/model"});
}

TEST(BrokenCheckpoint, MissingTensorAndWrongShape) {
  Shape s;
  TempDir dir;
  Expected expect;
  write_file(dir / "config.json", config_v4(s).dump());
  auto tensors = random_model(s, true, expect, [](size_t) { return DType::kBF16; });
  auto without = tensors;
  std::erase_if(without, [](const TensorToWrite& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  ASSERT_TRUE(write_safetensors(dir / "model.safetensors", without).ok());
  expect_error(load_model(dir.str()).status(), StatusCode::kNotFound, {"model.layers.1.mlp.up_proj.weight", dir.str()});

  for (TensorToWrite& t : tensors) {
    if (t.name == "model.layers.0.self_attn.q_proj.weight") t.shape = {s.hidden, s.heads * s.head_dim};  // transposed
  }
  ASSERT_TRUE(write_safetensors(dir / "model.safetensors", tensors).ok());
  expect_error(load_model(dir.str()).status(), StatusCode::kInvalidArgument,
               {"model.layers.0.self_attn.q_proj.weight", dir / "model.safetensors", "has shape [16, 32]",
                "expected [32, 16]"});
}

TEST(BrokenCheckpoint, ShapeDisagreesWithConfig) {
  Shape s;
  TempDir dir;
  make_model_dir(dir, s, config_v4(s), DType::kBF16, true);
  json j = config_v4(s);
  j["intermediate_size"] = s.inter * 2;
  write_file(dir / "config.json", j.dump());
  expect_error(load_model(dir.str()).status(), StatusCode::kInvalidArgument,
               {"model.layers.0.mlp.gate_proj.weight", "has shape [24, 16]", "expected [48, 16]"});
}

// ---- the Hugging Face cache -------------------------------------------------------------

// Sets or unsets environment variables for one scope, restoring them after.
class EnvGuard {
 public:
  void set(const char* name, const char* value) {
    if (!saved_.count(name)) {
      const char* old = std::getenv(name);
      saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST(HfCache, ResolvesRefsMainThenSnapshots) {
  TempDir root;
  EnvGuard env;
  env.set("HF_HUB_CACHE", (root / "hub").c_str());
  env.set("HUGGINGFACE_HUB_CACHE", nullptr);
  const fs::path repo = fs::path(root / "hub") / "models--acme--tiny-qwen";
  fs::create_directories(repo / "refs");
  fs::create_directories(repo / "snapshots" / "0123abcd");
  fs::create_directories(repo / "snapshots" / "ffff0000");
  write_file((repo / "refs" / "main").string(), "0123abcd\n");
  Shape s;
  Expected expect;
  {
    const std::string snap = (repo / "snapshots" / "0123abcd").string();
    write_file(snap + "/config.json", config_v4(s).dump());
    auto tensors = random_model(s, true, expect, [](size_t) { return DType::kF16; });
    ASSERT_TRUE(write_safetensors(snap + "/model.safetensors", tensors).ok());
  }
  auto dir = resolve_model_dir("acme/tiny-qwen");
  ASSERT_TRUE(dir.ok()) << dir.status().to_string();
  EXPECT_EQ(fs::path(*dir), repo / "snapshots" / "0123abcd");
  auto m = load_model("acme/tiny-qwen");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  expect_all_bound(**m, expect);

  // Without refs/main, the only snapshot is used.
  fs::remove(repo / "refs" / "main");
  fs::remove_all(repo / "snapshots" / "ffff0000");
  dir = resolve_model_dir("acme/tiny-qwen");
  ASSERT_TRUE(dir.ok()) << dir.status().to_string();
  EXPECT_EQ(fs::path(*dir), repo / "snapshots" / "0123abcd");

  expect_error(resolve_model_dir("acme/other").status(), StatusCode::kNotFound,
               {"acme/other", (fs::path(root / "hub") / "models--acme--other").string()});
  // refs/main naming a snapshot that is not there.
  write_file((repo / "refs" / "main").string(), "deadbeef");
  expect_error(resolve_model_dir("acme/tiny-qwen").status(), StatusCode::kNotFound,
               {(repo / "snapshots" / "deadbeef").string()});

  // HF_HOME/hub when HF_HUB_CACHE is unset.
  env.set("HF_HUB_CACHE", nullptr);
  env.set("HF_HOME", root.str().c_str());
  write_file((repo / "refs" / "main").string(), "0123abcd");
  dir = resolve_model_dir("acme/tiny-qwen");
  ASSERT_TRUE(dir.ok()) << dir.status().to_string();
  EXPECT_EQ(fs::path(*dir), repo / "snapshots" / "0123abcd");
}

// ---- random-weight models ---------------------------------------------------------------

TEST(InitModel, TinyLoadsAndIsReproducible) {
  TempDir root;
  const uint64_t seed = rng()();
  InitModelOptions o{"tiny", root / "a", seed, REAM_TOKENIZER_DIR, DType::kBF16};
  Status st = init_random_model(o);
  ASSERT_TRUE(st.ok()) << st.to_string();
  auto m = load_model(o.out_dir);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const ModelConfig& c = (*m)->config;
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 192);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ((*m)->weights.lm_head, (*m)->weights.embed_tokens);
  EXPECT_EQ((*m)->generation.top_k, 20);
  EXPECT_FLOAT_EQ((*m)->generation.temperature, 0.7f);
  EXPECT_EQ((*m)->generation.eos_token_ids, (std::vector<int32_t>{151645, 151643}));

  // Norms are 1; a linear weight looks like N(0, 0.02^2).
  const TensorView* embed = (*m)->weights.embed_tokens;
  EXPECT_EQ(embed->dtype, DType::kBF16);
  std::vector<float> v(embed->numel());
  to_f32(embed->dtype, embed->data, v.data(), embed->numel());
  double sum = 0, sq = 0;
  for (float x : v) sum += x, sq += double(x) * x;
  double mean = sum / v.size(), stddev = std::sqrt(sq / v.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(stddev, 0.02, 2e-4);
  const TensorView* norm = (*m)->weights.layers[1].k_norm;
  std::vector<float> nv(norm->numel());
  to_f32(norm->dtype, norm->data, nv.data(), norm->numel());
  for (float x : nv) ASSERT_EQ(x, 1.0f);

  EXPECT_EQ(read_file(o.out_dir + "/tokenizer.json"), read_file(std::string(REAM_TOKENIZER_DIR) + "/tokenizer.json"));
  EXPECT_NE(read_file(o.out_dir + "/README.md").find("random"), std::string::npos);
  json cfg = json::parse(read_file(o.out_dir + "/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  EXPECT_TRUE(cfg["rope_scaling"].is_null());
  EXPECT_FALSE(cfg.contains("rope_parameters"));

  // Same shape and seed into the same directory: a no-op. Another seed: refused.
  auto before = fs::last_write_time(o.out_dir + "/model.safetensors");
  ASSERT_TRUE(init_random_model(o).ok());
  EXPECT_EQ(fs::last_write_time(o.out_dir + "/model.safetensors"), before);
  InitModelOptions other = o;
  other.seed = seed + 1;
  expect_error(init_random_model(other), StatusCode::kAlreadyExists, {o.out_dir, "not empty"});

  // Same seed elsewhere: byte-identical weights; another seed: different.
  InitModelOptions again = o;
  again.out_dir = root / "b";
  ASSERT_TRUE(init_random_model(again).ok());
  EXPECT_TRUE(read_file(o.out_dir + "/model.safetensors") == read_file(again.out_dir + "/model.safetensors"));
  other.out_dir = root / "c";
  ASSERT_TRUE(init_random_model(other).ok());
  EXPECT_FALSE(read_file(o.out_dir + "/model.safetensors") == read_file(other.out_dir + "/model.safetensors"));
}

TEST(InitModel, RefusesBadRequests) {
  TempDir root;
  InitModelOptions o{"qwen3-7b", root / "m", 1, REAM_TOKENIZER_DIR, DType::kBF16};
  expect_error(init_random_model(o), StatusCode::kInvalidArgument, {"qwen3-7b", "tiny", "qwen3-4b"});
  fs::create_directories(root / "busy");
  write_file(root / "busy/notes.txt", "mine");
  o = {"tiny", root / "busy", 1, REAM_TOKENIZER_DIR, DType::kBF16};
  expect_error(init_random_model(o), StatusCode::kAlreadyExists, {"busy", "not empty"});
  o = {"tiny", root / "m", 1, root / "no-tokenizer", DType::kBF16};
  expect_error(init_random_model(o), StatusCode::kNotFound, {"no-tokenizer", "tokenizer.json"});
  EXPECT_FALSE(fs::exists(root / "m"));
  for (const std::string& shape : init_model_shapes()) {
    auto c = init_model_config(shape);
    ASSERT_TRUE(c.ok()) << shape;
    EXPECT_EQ(c->num_attention_heads % c->num_key_value_heads, 0);
    EXPECT_EQ(c->rms_norm_eps, 1e-6);
  }
  EXPECT_EQ(init_model_config("qwen3-4b")->rope_theta, 5e6);
  EXPECT_EQ(init_model_config("qwen3-4b")->num_hidden_layers, 36);
  EXPECT_EQ(init_model_config("qwen3-0.6b")->max_position_embeddings, 40960);
}

}  // namespace
}  // namespace ream
