// Chat template: renders OpenAI-style messages into the Qwen3 ChatML prompt.
//
// The rendering equals transformers' `apply_chat_template(messages, tools=...,
// tokenize=False, add_generation_prompt=...)` with the Qwen3 template (tokenizer_config.json
// of Qwen3 / Qwen3-Instruct-2507): system first, `<|im_start|>role\ncontent<|im_end|>\n`
// per turn, reasoning stripped from earlier assistant turns, and with the generation
// prompt `<|im_start|>assistant\n` (non-thinking: no `<think>` is added). With tools, the
// system turn lists them in `<tools></tools>` and asks for `<tool_call>` blocks; an
// assistant turn's tool calls and `tool` messages are rendered as the template does.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ream/engine/status.h"

namespace ream {

// One tool call of an assistant turn, as the template prints it.
struct ChatToolCall {
  std::string name;
  std::string arguments;  // JSON text, printed verbatim (the caller serialises an object)
};

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" or "tool"
  std::string content;
  std::vector<ChatToolCall> tool_calls = {};  // assistant turns only
};

// Fails on an unknown role, an empty message list, or tool calls on a turn that is not the
// assistant's. `tools` are the tool definitions, each already serialised as the template's
// `tojson` filter writes it (Python's json.dumps: ", " and ": " separators, keys in order).
Result<std::string> render_chat(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt = true,
                                const std::vector<std::string>& tools = {});

// The same rendering, with the byte ranges [begin, end) of `text` that came from
// message contents. Tokenizing with those ranges as literal text
// (Tokenizer::encode(text, literal_ranges)) keeps a document that happens to contain
// "<|im_end|>" from closing its own turn.
struct RenderedChat {
  std::string text;
  std::vector<std::pair<size_t, size_t>> content_ranges;
};
// Tool definitions and tool-call names and arguments count as contents too.
Result<RenderedChat> render_chat_spans(const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt = true,
                                       const std::vector<std::string>& tools = {});

// Parses a JSON array of {"role": ..., "content": ...} objects. Errors name the
// index of the offending message.
Result<std::vector<ChatMessage>> parse_chat_json(const std::string& json_text);

}  // namespace ream
