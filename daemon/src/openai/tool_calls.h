// Tool calls in Qwen3's format: the model writes `<tool_call>\n{"name": N, "arguments": {...}}\n
// </tool_call>` blocks (tool_choice "auto"), or, when a call is forced and its output is
// constrained to tool_call_schema(), the bare `{"name": N, "arguments": {...}}` object.
//
// ToolCallParser turns the output text, as it streams, into content and OpenAI-style tool
// call pieces: a call's first piece carries its id and name as soon as the header
// `{"name": "N", "arguments": ` is read, later pieces carry the arguments text as it comes.
// The same parser builds non-streamed replies, so both modes always agree.
//
// Rules (tagged mode): text outside blocks is content; whitespace next to a block is dropped;
// a block whose header is not `{"name": "<a tool's name>", "arguments": {` is read whole up to
// `</tool_call>` and is one call if it is such an object with its keys in another order, else
// content; a block cut short (max_tokens) leaves its call with partial arguments. Without
// parallel calls, everything after the first call is dropped. Bare mode: an object whose keys
// come in another order is read whole when the output ends; output that is no such object is
// content.
//
// Thread-safety: one parser per output stream, not shared.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "openai/protocol.h"

namespace ream::openai {

struct ToolCallPiece {
  int index = 0;          // the call's position in the reply
  std::string id;         // first piece only: "call_" + 24 letters and digits
  std::string name;       // first piece only
  std::string arguments;  // JSON text, a piece of it
};

struct ParsedText {
  std::string content;
  std::vector<ToolCallPiece> calls;
  bool empty() const { return content.empty() && calls.empty(); }
};

class ToolCallParser {
 public:
  enum class Mode { kTagged, kBare };
  // `names`: the tools the model may call; `parallel`: more than one call allowed.
  ToolCallParser(Mode mode, std::vector<std::string> names, bool parallel);

  // More output text; returns what is certain now.
  ParsedText push(std::string_view text);
  // The output ended; returns what was held back.
  ParsedText finish();
  // Calls begun so far.
  int calls() const { return started_; }

 private:
  enum class State { kText, kHeader, kArgs, kTail, kBlock, kBuffered, kDone };
  bool step(ParsedText* out);  // one move of the state machine; false when it needs more text
  bool step_text(ParsedText* out);
  bool step_header(ParsedText* out);
  bool step_args(ParsedText* out);
  bool step_tail(ParsedText* out);
  bool step_block(ParsedText* out);
  std::optional<std::pair<std::string, std::string>> read_call(std::string_view text) const;
  void emit_text(std::string text, bool before_call, ParsedText* out);
  bool known(const std::string& name) const;
  void bare_fallback(ParsedText* out);

  Mode mode_;
  std::vector<std::string> names_;
  bool parallel_;
  State state_;
  std::string buf_;          // text not yet decided
  std::string held_ws_;      // kText: trailing whitespace, dropped if a call follows
  std::string dropped_ws_;   // whitespace dropped before a "<tool_call>" that may prove not to be one
  bool after_call_ = false;  // kText: leading whitespace after a call is dropped
  int started_ = 0;
  int depth_ = 0;            // kArgs: JSON nesting of the arguments
  bool in_string_ = false, escape_ = false;
};

// A fresh tool call id: "call_" + 24 letters and digits.
std::string new_tool_call_id();

}  // namespace ream::openai
