// /v1/chat/completions and /v1/completions request bodies: every field of OpenAI's API is
// either honoured, accepted as information only (user, metadata, ...), or refused with a 400
// naming it; fields OpenAI does not have are refused too ("Unrecognized request argument
// supplied"). The few vLLM extensions reamd honours (top_k, min_p, repetition_penalty,
// ignore_eos, stop_token_ids) are listed with them. A parsed request becomes a RunSpec: the
// engine requests of its choices.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "openai/chat.h"
#include "openai/params.h"
#include "openai/run.h"

namespace ream::openai {

struct ChatRequest {
  CommonParams params;
  std::vector<ChatMessage> messages;
  ToolPlan tools;
  bool logprobs = false;
  int top_logprobs = 0;
  std::vector<TokenId> prompt;  // the rendered conversation
  std::string constraint_param;  // where sampling.constraint came from ("" when none)
};

// Parses, renders the prompt and sets sampling.max_tokens (default: min(context left, 4096))
// and the constraint (response_format, or the call schema when tool_choice forces a call).
Error parse_chat_request(const Json& body, const ModelInfo& model, ChatRequest* out);

struct CompletionRequest {
  CommonParams params;
  // `prompt`: a string, a list of strings, a list of token ids or a list of lists of token
  // ids (as vLLM takes it); each is one prompt, answered by n choices.
  std::vector<std::vector<TokenId>> prompts;
  std::vector<std::string> prompt_texts;  // for echo: each prompt as text
  bool echo = false;
  std::optional<int> logprobs;            // 0..20: the sampled token's and this many more
  std::string constraint_param;           // where sampling.constraint came from ("" when none)
};

// Parses and sets sampling.max_tokens (default: min(context left, 16), as OpenAI's).
Error parse_completion_request(const Json& body, const ModelInfo& model, CompletionRequest* out);

// The engine work of a parsed request: n choices per prompt, choice index prompt * n + i,
// choice i's seed choice_seed(seed, i), interactive priority.
RunSpec chat_run(ChatRequest request, const ModelInfo& model, const std::string& request_id, int64_t created);
RunSpec completion_run(CompletionRequest request, const ModelInfo& model, const std::string& request_id,
                       int64_t created);

}  // namespace ream::openai
