// The request fields the chat and completions endpoints share: sampling, n, stream,
// stop, seed, logit_bias, response_format and the output budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "openai/protocol.h"
#include "ream/engine/sampling.h"

namespace ream::openai {

struct CommonParams {
  SamplingParams sampling;          // the model's defaults, then the request's fields
  int n = 1;                        // choices per prompt, 1..kMaxChoices
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  std::optional<int64_t> max_tokens;  // as asked (checked against the prompt by resolve_max_tokens)
  std::string max_tokens_param = "max_tokens";  // the field it came from
};

// Choices of one API call at most (prompts x n).
constexpr int kMaxChoices = 128;

// temperature, top_p, top_k, min_p, presence/frequency/repetition penalties, seed, stop,
// stop_token_ids, ignore_eos, logit_bias, n, stream, stream_options, response_format,
// max_tokens (or `max_tokens_key`, e.g. max_completion_tokens, which wins when both are set).
Error parse_common(const Json& body, const ModelInfo& model, CommonParams* out,
                   const char* max_tokens_key = "max_tokens");

// response_format: text (no constraint), json_object, json_schema {name, description?,
// schema, strict?} -> a Constraint. Errors name the field (response_format.json_schema.name).
Error parse_response_format(const Json& body, Constraint* out);

// Sets sampling.max_tokens for a prompt of `prompt_tokens` (the longest, when several): the
// request's value must fit the context left after it; without one, min(room, fallback). A
// prompt that fills the context is an error naming `prompt_param`.
Error resolve_max_tokens(const CommonParams& params, const ModelInfo& model, size_t prompt_tokens,
                         int64_t fallback, const std::string& prompt_param, SamplingParams* sampling);

// The seed of choice `i` of a request with seed `seed`: seed + i (mod 2^64), so choice 0 is
// what n = 1 gives and every choice is reproducible on its own.
inline uint64_t choice_seed(uint64_t seed, int i) { return seed + static_cast<uint64_t>(i); }

}  // namespace ream::openai
