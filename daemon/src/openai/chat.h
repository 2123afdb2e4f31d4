// Chat requests: messages and tools as OpenAI sends them -> the Qwen3 chat template's input,
// and the JSON Schema a forced tool call is constrained to.
#pragma once

#include <string>
#include <vector>

#include "openai/protocol.h"
#include "ream/engine/chat_template.h"

namespace ream::openai {

enum class ToolChoice { kNone, kAuto, kRequired, kNamed };

struct Tool {
  std::string name;
  std::string rendered;  // the definition as sent, as the template's tojson writes it
  Json parameters;       // its JSON Schema (no parameters: an object with no properties)
};

struct ToolPlan {
  std::vector<Tool> tools;
  ToolChoice choice = ToolChoice::kNone;
  std::string named;      // kNamed: the tool to call
  bool parallel = true;   // parallel_tool_calls
  // Tools are shown to the model and its output parsed for calls.
  bool active() const { return choice != ToolChoice::kNone && !tools.empty(); }
  // A call must be made (required, or a named function).
  bool forced() const { return choice == ToolChoice::kRequired || choice == ToolChoice::kNamed; }
  // The tools a call may name.
  std::vector<std::string> callable() const;
};

// `messages`: roles system, developer (rendered as system), user, assistant (content and/or
// tool_calls) and tool; text content only (a string or text parts). Errors name the field
// (messages[2].tool_calls[0].function.arguments).
Error parse_messages(const Json& body, std::vector<ChatMessage>* out);

// `tools`, `tool_choice` (none | auto | required | {"type": "function", "function": {"name"}})
// and `parallel_tool_calls`. Without tools, tool_choice may only be none.
Error parse_tools(const Json& body, ToolPlan* out);

// Renders and tokenizes the conversation (special tokens in contents are parsed, as
// transformers does for chat requests). Tools are rendered unless tool_choice is none.
Error chat_prompt(const std::vector<ChatMessage>& messages, const ToolPlan& tools, const Tokenizer& tokenizer,
                  bool add_generation_prompt, std::vector<TokenId>* ids);

// The JSON Schema of the bare call object a forced call must be:
// {"name": <const>, "arguments": <the tool's parameters>}, anyOf over the callable tools; each
// tool's $defs (and definitions) move to the root's $defs as "<tool>__<name>" and its local
// $refs are rewritten to match.
Json tool_call_schema(const ToolPlan& plan);

}  // namespace ream::openai
