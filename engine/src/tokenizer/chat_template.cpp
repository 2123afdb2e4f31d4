// Native rendering of the Qwen3 chat template (tokenizer_config.json "chat_template"),
// tools included, and parsing of OpenAI-style message arrays.
// Each branch below mirrors a branch of the Jinja template; Python string methods
// (split, strip('\n'), startswith) are reproduced by the helpers at the top.
#include "ream/engine/chat_template.h"

#include <nlohmann/json.hpp>

namespace ream {

namespace {

std::string lstrip_newlines(std::string_view s) {
  size_t b = s.find_first_not_of('\n');
  return b == std::string_view::npos ? "" : std::string(s.substr(b));
}

std::string rstrip_newlines(std::string_view s) {
  size_t e = s.find_last_not_of('\n');
  return e == std::string_view::npos ? "" : std::string(s.substr(0, e + 1));
}

std::string strip_newlines(std::string_view s) { return lstrip_newlines(rstrip_newlines(s)); }

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

bool is_tool_response(const std::string& content) {
  return starts_with(content, "<tool_response>") && ends_with(content, "</tool_response>");
}

// ns.last_query_index: the last user message that is not a wrapped tool response.
size_t last_query_index(const std::vector<ChatMessage>& messages) {
  for (size_t k = messages.size(); k-- > 0;) {
    if (messages[k].role == "user" && !is_tool_response(messages[k].content)) return k;
  }
  return messages.size() - 1;
}

// Appends message content to the rendering, remembering where it went.
void add_content(RenderedChat& r, std::string_view content) {
  r.content_ranges.emplace_back(r.text.size(), r.text.size() + content.size());
  r.text += content;
}

void render_assistant(const std::vector<ChatMessage>& messages, size_t i, size_t last_query,
                      RenderedChat& r) {
  std::string& out = r.text;
  const std::string& raw = messages[i].content;
  std::string content = raw;
  std::string reasoning;
  static constexpr std::string_view kEnd = "</think>";
  static constexpr std::string_view kStart = "<think>";
  size_t first_end = raw.find(kEnd);
  if (first_end != std::string::npos) {
    // content.split('</think>')[-1].lstrip('\n')
    content = lstrip_newlines(std::string_view(raw).substr(raw.rfind(kEnd) + kEnd.size()));
    // content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
    std::string before = rstrip_newlines(std::string_view(raw).substr(0, first_end));
    size_t start = before.rfind(kStart);
    std::string_view tail =
        start == std::string::npos ? std::string_view(before)
                                   : std::string_view(before).substr(start + kStart.size());
    reasoning = lstrip_newlines(tail);
  }
  bool last = i + 1 == messages.size();
  out += "<|im_start|>assistant\n";
  if (i > last_query && (last || !reasoning.empty())) {
    out += "<think>\n";
    add_content(r, strip_newlines(reasoning));
    out += "\n</think>\n\n";
    add_content(r, lstrip_newlines(content));
  } else {
    add_content(r, content);
  }
  const std::vector<ChatToolCall>& calls = messages[i].tool_calls;
  for (size_t k = 0; k < calls.size(); ++k) {
    if (k > 0 || !content.empty()) out += "\n";
    out += "<tool_call>\n{\"name\": \"";
    add_content(r, calls[k].name);
    out += "\", \"arguments\": ";
    add_content(r, calls[k].arguments);
    out += "}\n</tool_call>";
  }
  out += "<|im_end|>\n";
}

// The system turn that lists the tools (with the caller's system message first, if any).
void render_tools(const std::vector<ChatMessage>& messages, const std::vector<std::string>& tools,
                  RenderedChat& r) {
  r.text += "<|im_start|>system\n";
  if (messages[0].role == "system") {
    add_content(r, messages[0].content);
    r.text += "\n\n";
  }
  r.text +=
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const std::string& tool : tools) {
    r.text += "\n";
    add_content(r, tool);
  }
  r.text +=
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
      "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
}

void render_tool(const std::vector<ChatMessage>& messages, size_t i, RenderedChat& r) {
  if (i == 0 || messages[i - 1].role != "tool") r.text += "<|im_start|>user";
  r.text += "\n<tool_response>\n";
  add_content(r, messages[i].content);
  r.text += "\n</tool_response>";
  if (i + 1 == messages.size() || messages[i + 1].role != "tool") r.text += "<|im_end|>\n";
}

}  // namespace

Result<RenderedChat> render_chat_spans(const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt,
                                       const std::vector<std::string>& tools) {
  if (messages.empty()) return invalid_argument("chat: no messages");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_argument("chat: message " + std::to_string(i) + ": unknown role '" + r + "'");
    }
    if (r != "assistant" && !messages[i].tool_calls.empty()) {
      return invalid_argument("chat: message " + std::to_string(i) + ": only assistant messages carry tool calls");
    }
  }
  RenderedChat r;
  if (!tools.empty()) {
    render_tools(messages, tools, r);
  } else if (messages[0].role == "system") {
    r.text += "<|im_start|>system\n";
    add_content(r, messages[0].content);
    r.text += "<|im_end|>\n";
  }
  size_t last_query = last_query_index(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      r.text += "<|im_start|>" + m.role + "\n";
      add_content(r, m.content);
      r.text += "<|im_end|>\n";
    } else if (m.role == "assistant") {
      render_assistant(messages, i, last_query, r);
    } else if (m.role == "tool") {
      render_tool(messages, i, r);
    }
  }
  if (add_generation_prompt) r.text += "<|im_start|>assistant\n";
  return r;
}

Result<std::string> render_chat(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, const std::vector<std::string>& tools) {
  REAM_ASSIGN_OR_RETURN(RenderedChat r, render_chat_spans(messages, add_generation_prompt, tools));
  return std::move(r.text);
}

Result<std::vector<ChatMessage>> parse_chat_json(const std::string& json_text) {
  using nlohmann::json;
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return invalid_argument(std::string("chat: bad JSON: ") + e.what());
  }
  if (!root.is_array()) return invalid_argument("chat: expected a JSON array of messages");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < root.size(); ++i) {
    const json& m = root[i];
    std::string where = "chat: message " + std::to_string(i);
    if (!m.is_object()) return invalid_argument(where + ": expected an object");
    if (!m.contains("role") || !m["role"].is_string()) {
      return invalid_argument(where + ": 'role' must be a string");
    }
    ChatMessage msg{m["role"].get<std::string>(), ""};
    const json content = m.value("content", json());
    if (content.is_string()) {
      msg.content = content.get<std::string>();
    } else if (content.is_array()) {  // [{"type": "text", "text": ...}, ...]
      for (const json& part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          return invalid_argument(where + ": only text content parts are supported");
        }
        msg.content += part["text"].get<std::string>();
      }
    } else if (!content.is_null()) {
      return invalid_argument(where + ": 'content' must be a string, an array of text parts or null");
    }
    messages.push_back(std::move(msg));
  }
  return messages;
}

}  // namespace ream
