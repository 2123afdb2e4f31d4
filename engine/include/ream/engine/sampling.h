// SamplingParams: how a request turns logits into tokens, and when it stops.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ream {

// What the output must be: decoding allows only tokens that keep the text inside the
// constraint's language, and the request ends when the language is complete.
struct Constraint {
  enum class Kind {
    kNone,        // unconstrained
    kJsonObject,  // any JSON object ("response_format": {"type": "json_object"})
    kJsonSchema,  // source: a JSON Schema (JSON text)
    kRegex,       // source: a regular expression the whole output must match
    kGrammar,     // source: a GBNF grammar (llama.cpp's syntax), start symbol "root"
  };
  Kind kind = Kind::kNone;
  std::string source;
};

constexpr int kMaxLogitBias = 1024;  // logit_bias entries per request at most

struct SamplingParams {
  float temperature = 1.0f;        // 0 = greedy (argmax)
  float top_p = 1.0f;              // nucleus mass kept, (0, 1]
  int32_t top_k = 0;               // 0 = off
  float min_p = 0.0f;              // keep tokens with p >= min_p * p_max; 0 = off
  float presence_penalty = 0.0f;   // OpenAI semantics, applied to generated tokens
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f; // HF semantics (1 = off), applied to prompt and output
  uint64_t seed = 0;               // same seed + same prompt = same tokens
  bool has_seed = false;           // without a seed one is drawn per request
  int32_t max_tokens = 256;        // generated tokens at most
  std::vector<std::string> stop;   // stop strings (not included in the text)
  std::vector<int32_t> stop_token_ids;  // besides the model's EOS ids
  bool ignore_eos = false;
  int32_t top_logprobs = 0;        // 0..20 alternatives reported per step
  // Added to a token's logit before penalties, temperature and the filters (OpenAI's
  // logit_bias: [-100, 100], at most kMaxLogitBias distinct ids). Logprobs stay those of
  // the raw logits.
  std::vector<std::pair<int32_t, float>> logit_bias;
  Constraint constraint;
};

// Checks ranges; returns "" when valid, else a message naming the field.
std::string validate_sampling(const SamplingParams& params);

}  // namespace ream
