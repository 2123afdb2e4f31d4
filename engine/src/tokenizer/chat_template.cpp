// Native rendering of the Qwen3 chat template (tokenizer_config.json "chat_template")
// for conversations without tools, and parsing of OpenAI-style message arrays.
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

void render_assistant(const std::vector<ChatMessage>& messages, size_t i, size_t last_query,
                      std::string& out) {
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
    out += "<think>\n" + strip_newlines(reasoning) + "\n</think>\n\n" + lstrip_newlines(content);
  } else {
    out += content;
  }
  out += "<|im_end|>\n";
}

void render_tool(const std::vector<ChatMessage>& messages, size_t i, std::string& out) {
  if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n" + messages[i].content + "\n</tool_response>";
  if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
}

}  // namespace

Result<std::string> render_chat(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) {
  if (messages.empty()) return invalid_argument("chat: no messages");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant" && r != "tool") {
      return invalid_argument("chat: message " + std::to_string(i) + ": unknown role '" + r + "'");
    }
  }
  std::string out;
  if (messages[0].role == "system") {
    out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
  }
  size_t last_query = last_query_index(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      render_assistant(messages, i, last_query, out);
    } else if (m.role == "tool") {
      render_tool(messages, i, out);
    }
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
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
