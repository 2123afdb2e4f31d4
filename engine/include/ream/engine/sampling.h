// SamplingParams: how a request turns logits into tokens, and when it stops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ream {

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
};

// Checks ranges; returns "" when valid, else a message naming the field.
std::string validate_sampling(const SamplingParams& params);

}  // namespace ream
