// Chat template: renders OpenAI-style messages into the Qwen3 ChatML prompt.
//
// The rendering equals transformers' `apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...)` with the Qwen3 template (tokenizer_config.json of
// Qwen3 / Qwen3-Instruct-2507): system first, `<|im_start|>role\ncontent<|im_end|>\n`
// per turn, reasoning stripped from earlier assistant turns, and with the generation
// prompt `<|im_start|>assistant\n` (non-thinking: no `<think>` is added).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ream/engine/status.h"

namespace ream {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" or "tool"
  std::string content;
};

// Fails on an unknown role or an empty message list.
Result<std::string> render_chat(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt = true);

// The same rendering, with the byte ranges [begin, end) of `text` that came from
// message contents. Tokenizing with those ranges as literal text
// (Tokenizer::encode(text, literal_ranges)) keeps a document that happens to contain
// "<|im_end|>" from closing its own turn.
struct RenderedChat {
  std::string text;
  std::vector<std::pair<size_t, size_t>> content_ranges;
};
Result<RenderedChat> render_chat_spans(const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt = true);

// Parses a JSON array of {"role": ..., "content": ...} objects. Errors name the
// index of the offending message.
Result<std::vector<ChatMessage>> parse_chat_json(const std::string& json_text);

}  // namespace ream
