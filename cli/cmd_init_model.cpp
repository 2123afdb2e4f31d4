// `ream init-model`: writes a random-weight model directory for demos and benchmarks.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "model/init_model.h"

namespace ream::cli {

std::string usage_init_model() {
  return "usage: ream init-model --shape tiny|qwen3-0.6b|qwen3-4b --out DIR [--seed S]\n"
         "         [--dtype bf16|f16|f32] [--tokenizer-dir DIR]\n"
         "Writes a model with RANDOM weights: it runs like the real one, but its text is meaningless.\n";
}

int cmd_init_model(const Args& args) {
  Flags f({"shape", "out", "seed", "tokenizer-dir", "dtype"}, {"help"});
  if (auto err = f.parse(args); !err.empty()) {
    std::fprintf(stderr, "ream: %s\n", err.c_str());
    return 2;
  }
  if (f.has("help") || !f.has("shape") || !f.has("out")) {
    std::fputs(usage_init_model().c_str(), f.has("help") ? stdout : stderr);
    return f.has("help") ? 0 : 2;
  }
  InitModelOptions o;
  o.shape = f.get("shape");
  o.out_dir = f.get("out");
  o.tokenizer_dir = f.get("tokenizer-dir");
  if (f.has("seed")) {
    auto seed = parse_number("seed", f.get("seed"));
    if (!seed) return 2;
    o.seed = static_cast<uint64_t>(*seed);
  }
  const std::string dtype = f.get("dtype", "bf16");
  if (dtype == "bf16") o.dtype = DType::kBF16;
  else if (dtype == "f16") o.dtype = DType::kF16;
  else if (dtype == "f32") o.dtype = DType::kF32;
  else {
    std::fprintf(stderr, "ream: --dtype must be bf16, f16 or f32, got '%s'\n", dtype.c_str());
    return 2;
  }
  Status st = init_random_model(o);
  if (!st.ok()) {
    std::fprintf(stderr, "ream: %s\n", st.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote a %s model with RANDOM weights to %s (its text is meaningless)\n",
               o.shape.c_str(), o.out_dir.c_str());
  return 0;
}

}  // namespace ream::cli
