// Safetensors checkpoints: the header (and data) of model.safetensors, or a sharded
// checkpoint's model.safetensors.index.json, as the engine maps them when reamd loads a
// model (engine/src/model/safetensors.cpp).
//
// An input starting with '{' is an index.json, written beside one real shard (the tiny
// random-weight test model's model.safetensors) and opened with open_dir. Any other input is
// a .safetensors file opened with open_file. An archive that opens has every tensor read
// through its view (the first elements converted to fp32, as the CPU backend does) and is
// bound as a Qwen3 checkpoint of the tiny model's config; every view must lie inside its
// mapping. A refusal is fine.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "fuzz_util.h"
#include "model/qwen3.h"
#include "model/safetensors.h"

namespace {

using namespace ream;

constexpr const char* kTinyModel = REAM_TEST_DATA_DIR "/models/a_tied_mha_hd16";

const ModelConfig& tiny_config() {
  static const ModelConfig* cfg = [] {
    fuzz::quiet_logs();
    auto c = load_model_config(std::string(kTinyModel) + "/config.json");
    if (!c.ok()) fuzz::fail(c.status().message());
    return new ModelConfig(c.value());
  }();
  return *cfg;
}

void exercise(const SafetensorsArchive& archive) {
  std::vector<float> out(64);
  for (const std::string& name : archive.names()) {
    const TensorView* t = archive.find(name);
    fuzz::check(t != nullptr, "names() lists '" + name + "' but find() does not");
    const int64_t n = t->numel();
    fuzz::check(n >= 0 && static_cast<size_t>(n) * dtype_size(t->dtype) == t->nbytes,
                "tensor '" + name + "': bytes do not match dtype x shape");
    const int64_t count = std::min<int64_t>(n, static_cast<int64_t>(out.size()));
    if (count > 0) to_f32(t->dtype, t->data, out.data(), count);
    if (n > 0) {  // the last element too: a view must end inside the mapping
      float last = 0;
      to_f32(t->dtype, static_cast<const char*>(t->data) + (n - 1) * dtype_size(t->dtype), &last, 1);
    }
    (void)archive.get(name, t->shape);
  }
  (void)bind_qwen3_weights(archive, tiny_config());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::bytes(data, size);
  const std::string dir = fuzz::temp_dir();
  tiny_config();
  if (!input.empty() && input.front() == '{') {
    const std::string shard_dir = dir + "/sharded";
    static bool made = [&] {
      std::filesystem::create_directories(shard_dir);
      std::filesystem::create_symlink(std::string(kTinyModel) + "/model.safetensors",
                                      shard_dir + "/model-00001-of-00001.safetensors");
      return true;
    }();
    (void)made;
    fuzz::write_file(shard_dir + "/model.safetensors.index.json", input);
    auto archive = SafetensorsArchive::open_dir(shard_dir);
    if (archive.ok()) exercise(*archive.value());
    return 0;
  }
  const std::string path = dir + "/fuzz.safetensors";
  fuzz::write_file(path, input);
  auto archive = SafetensorsArchive::open_file(path);
  if (archive.ok()) exercise(*archive.value());
  return 0;
}
