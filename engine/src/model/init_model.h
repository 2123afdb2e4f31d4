// Random-weight Qwen3 checkpoints (`ream init-model`): a directory that loads and runs
// exactly like a published model but whose weights are noise. For tests, benchmarks
// and trying the daemon on a machine without the real weights; the text such a model
// produces is meaningless.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ream/engine/model_config.h"
#include "ream/engine/status.h"

namespace ream {

struct InitModelOptions {
  std::string shape;          // tiny | qwen3-0.6b | qwen3-4b
  std::string out_dir;        // created; must be absent or empty
  uint64_t seed = 0;          // same shape + seed + dtype -> byte-identical weights
  std::string tokenizer_dir;  // holds tokenizer.json and tokenizer_config.json;
                              // empty: the build's REAM_TOKENIZER_DIR
  DType dtype = DType::kBF16;
};

// The names init_random_model accepts.
std::vector<std::string> init_model_shapes();
// The hyper-parameters of a named shape (rms_norm_eps 1e-6, eos 151645, bos 151643).
Result<ModelConfig> init_model_config(const std::string& shape);

// Writes config.json (transformers 4.x dialect), generation_config.json, model.safetensors
// (linear weights ~ N(0, 0.02^2), norm weights 1.0; streamed, so a 4B model needs no
// more memory than one chunk), the tokenizer files, a README.md saying the weights are
// random, and ream_init.json recording shape, seed and dtype. When `out_dir` already
// holds a model made with the same shape, seed and dtype this is a no-op; any other
// non-empty `out_dir` is an error. Uses all hardware threads for the random numbers.
Status init_random_model(const InitModelOptions& options);

}  // namespace ream
