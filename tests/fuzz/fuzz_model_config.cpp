// Model configuration: config.json (and generation_config.json) as reamd reads them when it
// loads a model (engine/src/model/model_config.cpp, load_model in qwen3.cpp).
//
// Each input is written as the config.json of a model folder whose weights are the tiny
// random-weight test model's model.safetensors, and the folder is loaded as the engine loads
// a model: config parsed and checked, weights mapped and bound to the shapes the config
// implies (so sizes that do not match, or overflow, must be refused, not allocated or
// indexed). The same bytes are also read as a generation_config.json. A refusal is fine; a
// crash, an escaping exception or an allocation the size of a lie is not.
#include <filesystem>

#include "fuzz_util.h"
#include "model/qwen3.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  const std::string dir = fuzz::temp_dir() + "/model";
  static bool made = [&] {
    fuzz::quiet_logs();
    std::filesystem::create_directories(dir);
    std::filesystem::create_symlink(REAM_TEST_DATA_DIR "/models/a_tied_mha_hd16/model.safetensors",
                                    dir + "/model.safetensors");
    return true;
  }();
  (void)made;
  const std::string_view input = fuzz::bytes(data, size);
  (void)parse_model_config(std::string(input), "config.json");
  fuzz::write_file(dir + "/config.json", input);
  auto model = load_model(dir);
  if (model.ok()) {
    const ModelConfig& c = model.value()->config;
    fuzz::check(model.value()->weights.layers.size() == static_cast<size_t>(c.num_hidden_layers),
                "a loaded model's layers do not match num_hidden_layers");
  }
  const std::string gen = fuzz::temp_dir() + "/generation_config.json";
  fuzz::write_file(gen, input);
  (void)load_generation_config(gen);
  return 0;
}
