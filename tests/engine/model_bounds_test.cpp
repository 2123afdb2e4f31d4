// Bounds on what a checkpoint may claim: config.json sizes past sane maxima, token ids
// that do not fit, and a config that disagrees with the safetensors about the number
// of layers are load errors naming the file and the key, never std::bad_alloc, an
// abort or a silently shortened model. Each case edits the config.json of a real
// `init-model tiny` checkpoint and goes through the real loader.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/init_model.h"
#include "model/qwen3.h"

namespace ream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ModelBounds : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "ream_model_bounds_XXXXXX").string();
    root_ = mkdtemp(tmpl.data());
    InitModelOptions o{"tiny", root_ + "/tiny", std::random_device{}(), REAM_TOKENIZER_DIR, DType::kBF16};
    Status st = init_random_model(o);
    ASSERT_TRUE(st.ok()) << st.to_string();
    std::ifstream in(o.out_dir + "/config.json");
    pristine_ = json::parse(in);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void TearDown() override { write_config(pristine_); }

  static std::string dir() { return root_ + "/tiny"; }
  static std::string config_path() { return dir() + "/config.json"; }
  static void write_config(const json& j) { std::ofstream(config_path(), std::ios::trunc) << j.dump(); }

  // Loads with `key` set to `value`; the load must fail naming the file and every part.
  static void expect_refused(const std::string& key, const json& value, const std::vector<std::string>& parts) {
    json j = pristine_;
    j[key] = value;
    write_config(j);
    auto m = load_model(dir());
    ASSERT_FALSE(m.ok()) << key << " = " << value.dump() << " was accepted";
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << m.status().to_string();
    for (const std::string& p : parts) EXPECT_NE(m.status().message().find(p), std::string::npos) << m.status().message();
  }

  static std::string root_;
  static json pristine_;
};

std::string ModelBounds::root_;
json ModelBounds::pristine_;

TEST_F(ModelBounds, PristineTinyLoads) {
  auto m = load_model(dir());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->weights.layers.size(), 2u);
}

TEST_F(ModelBounds, HugeLayerCountIsAnErrorNamingFileAndKey) {
  // Before: reserve(1e9 layers) threw std::bad_alloc out of load_model.
  expect_refused("num_hidden_layers", 1000000000, {config_path(), "'num_hidden_layers'", "at most 1024", "1000000000"});
}

TEST_F(ModelBounds, EverySizePastItsMaximumIsRefused) {
  const std::vector<std::pair<std::string, int64_t>> maxima = {
      {"vocab_size", int64_t{1} << 22}, {"hidden_size", int64_t{1} << 16}, {"intermediate_size", int64_t{1} << 18},
      {"num_hidden_layers", 1024},      {"num_attention_heads", 1024},      {"num_key_value_heads", 1024},
      {"head_dim", 1024},               {"max_position_embeddings", int64_t{1} << 24}};
  for (const auto& [key, max] : maxima) {
    SCOPED_TRACE(key);
    expect_refused(key, max + 1, {config_path(), "'" + key + "'", "at most " + std::to_string(max)});
    expect_refused(key, int64_t{1} << 40, {config_path(), "'" + key + "'"});
  }
}

TEST_F(ModelBounds, TokenIdsThatDoNotFitAreRefused) {
  // Before: 2^40 was narrowed to int32 without a word.
  expect_refused("eos_token_id", int64_t{1} << 40, {config_path(), "'eos_token_id'", "token id"});
  expect_refused("eos_token_id", json::array({151645, -1}), {config_path(), "'eos_token_id'"});
  expect_refused("bos_token_id", int64_t{1} << 33, {config_path(), "'bos_token_id'", "token id"});
}

TEST_F(ModelBounds, LayerCountMustMatchTheSafetensors) {
  // Fewer layers than the file holds: before, the model loaded silently with one layer.
  expect_refused("num_hidden_layers", 1, {"config.json", "num_hidden_layers is 1", "hold 2 decoder layers"});
  // More: the error says what the file holds, not only which tensor is missing.
  expect_refused("num_hidden_layers", 7, {"config.json", "num_hidden_layers is 7", "hold 2 decoder layers"});
}

}  // namespace
}  // namespace ream
