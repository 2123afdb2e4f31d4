// One choice of a reply: the engine's token events in, OpenAI's shapes out, streamed
// (chunk choice objects) and whole (the final choice object) from the same events, so the
// two modes always agree.
//
// Chat: {"index", "delta": {"role"?, "content"?, "tool_calls"?}, "logprobs": {"content": [...]}
// | null, "finish_reason"} per chunk; {"index", "message": {"role", "content", "tool_calls"?},
// "logprobs", "finish_reason"} whole. Each logprobs entry is {"token", "logprob", "bytes",
// "top_logprobs": [{"token", "logprob", "bytes"}]}.
// Completions: {"index", "text", "logprobs": {"tokens", "token_logprobs", "top_logprobs",
// "text_offset"} | null, "finish_reason"}; top_logprobs maps token text to logprob and holds the
// k best and the sampled token (as vLLM does).
//
// Token text is the token decoded alone (U+FFFD for a piece of a character; `bytes` has the
// exact bytes); logprobs below -9999 (or -inf) are written as -9999. The end-of-sequence or
// stop token that ends a reply has no text and no logprobs entry.
//
// Thread-safety: one per choice; the engine calls a request's callback from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "openai/protocol.h"
#include "openai/tool_calls.h"
#include "ream/engine/engine.h"

namespace ream::openai {

enum class Api { kChat, kCompletions };

struct ChoiceSetup {
  Api api = Api::kChat;
  int index = 0;
  bool logprobs = false;   // chat: logprobs; completions: logprobs given (0..20)
  int top_logprobs = 0;    // alternatives per token
  std::unique_ptr<ToolCallParser> tools;  // chat with tools: parse calls out of the text
  std::string echo;        // completions with echo: the prompt text, first in the text
};

class ChoiceOutput {
 public:
  ChoiceOutput(ChoiceSetup setup, const ModelInfo& model, const SamplingParams& sampling);

  // The stream chunk's choice object for a token event, or null when there is nothing to send.
  Json on_token(const StreamEvent& ev);
  // The chunk choice objects that end the choice: what was held back, then the finish_reason.
  std::vector<Json> on_finish(const StreamEvent& ev);
  // Chunk choices that open the stream (chat: the assistant role; completions: the echo).
  std::vector<Json> opening() const;
  // The whole choice, once finished.
  Json choice() const;

  const Usage& usage() const { return usage_; }

 private:
  Json piece(const ParsedText& text, const std::vector<Json>& chat_lp, const Json& completion_lp) const;
  Json chat_entry(TokenId id, float logprob, const std::vector<TopLogprob>& top) const;
  void completion_entry(const StreamEvent& ev, Json* lp);
  ParsedText parse(const std::string& text);
  void absorb(const ParsedText& text);

  ChoiceSetup setup_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<TokenId> end_ids_;  // tokens that end the reply without text
  // Whole reply, accumulated.
  std::string content_;
  Json calls_ = Json::array();
  std::vector<Json> chat_logprobs_;
  Json completion_logprobs_;
  int64_t text_offset_ = 0;       // completions: characters so far (echo included)
  std::string finish_reason_;
  Usage usage_;
};

// "stop", "length", "tool_calls" (a stop after tool calls), "abort".
const char* finish_reason_text(FinishReason reason, bool tool_calls);

}  // namespace ream::openai
