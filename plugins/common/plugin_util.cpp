// Shared plugin helpers.
#include "plugin_util.h"

#include <algorithm>
#include <cctype>

namespace plugin_util {

using nlohmann::json;

ream_status fail(const ream_host* host, ream_call* call, ream_status code, const std::string& message) {
  host->set_error(call, rs(message));
  return code;
}

void warn(const ream_host* host, ream_call* call, const std::string& message) {
  host->emit_warning(call, rs(message));
}

ream_status emit_prompt(const ream_host* host, ream_call* call, const ChatPrompt& p) {
  std::vector<ream_message> msgs;
  for (const auto& [role, content] : p.messages) msgs.push_back({rs(role), rs(content)});
  ream_prompt c{};
  c.struct_size = sizeof(c);
  c.key = rs(p.key);
  c.messages = msgs.data();
  c.message_count = msgs.size();
  c.max_tokens = p.max_tokens;
  c.temperature = -1;
  if (!p.json_schema.empty()) {
    c.constraint_kind = REAM_CONSTRAINT_JSON_SCHEMA;
    c.constraint = rs(p.json_schema);
  }
  return host->emit_prompt(call, &c);
}

ream_status emit_finding(const ream_host* host, ream_call* call, const FindingOut& f) {
  std::vector<ream_evidence> ev;
  for (const Quote& q : f.quotes) {
    ream_evidence e{};
    e.struct_size = sizeof(e);
    e.document_id = rs(q.document_id);
    e.quote = rs(q.text);
    e.start = q.start;
    e.end = q.end;
    ev.push_back(e);
  }
  std::string details = f.details.dump();
  ream_finding c{};
  c.struct_size = sizeof(c);
  c.severity = f.severity;
  c.kind = rs(f.kind);
  c.category = rs(f.category);
  c.title = rs(f.title);
  c.text = rs(f.text);
  c.evidence = ev.data();
  c.evidence_count = ev.size();
  c.confidence = f.confidence;
  c.details_json = rs(details);
  return host->emit_finding(call, &c);
}

ream_status emit_output(const ream_host* host, ream_call* call, const std::string& name, const json& value) {
  std::string v = value.dump();
  return host->emit_output(call, rs(name), rs(v));
}

std::optional<json> extract_json_object(std::string_view reply, std::string* error) {
  size_t start = reply.find('{');
  while (start != std::string_view::npos) {
    // Find the matching brace, skipping strings.
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t end = std::string_view::npos;
    for (size_t i = start; i < reply.size(); ++i) {
      char c = reply[i];
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{') ++depth;
      else if (c == '}' && --depth == 0) {
        end = i;
        break;
      }
    }
    if (end == std::string_view::npos) {
      *error = "unbalanced braces (the reply may have been cut off)";
      return std::nullopt;
    }
    json j = json::parse(reply.substr(start, end - start + 1), nullptr, false);
    if (!j.is_discarded() && j.is_object()) return j;
    start = reply.find('{', start + 1);
  }
  *error = reply.find('{') == std::string_view::npos ? "no JSON object in the reply" : "the JSON object does not parse";
  return std::nullopt;
}

namespace {
struct Norm {
  std::string text;
  std::vector<size_t> from;
};
Norm normalise(std::string_view s) {
  Norm n;
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      if (!space && !n.text.empty()) {
        n.text += ' ';
        n.from.push_back(i);
      }
      space = true;
      continue;
    }
    space = false;
    n.text += static_cast<char>(std::tolower(c));
    n.from.push_back(i);
  }
  while (!n.text.empty() && n.text.back() == ' ') {
    n.text.pop_back();
    n.from.pop_back();
  }
  return n;
}
}  // namespace

bool locate_quote(std::string_view text, std::string_view quote, int64_t* start, int64_t* end) {
  if (quote.empty()) return false;
  size_t at = text.find(quote);
  if (at != std::string_view::npos) {
    *start = static_cast<int64_t>(at);
    *end = static_cast<int64_t>(at + quote.size());
    return true;
  }
  Norm q = normalise(quote);
  if (q.text.size() < 8) return false;  // too short to trust a loose match
  Norm t = normalise(text);
  size_t pos = t.text.find(q.text);
  if (pos == std::string::npos) return false;
  *start = static_cast<int64_t>(t.from[pos]);
  *end = static_cast<int64_t>(t.from[pos + q.text.size() - 1] + 1);
  while (static_cast<size_t>(*end) < text.size() && (static_cast<unsigned char>(text[static_cast<size_t>(*end)]) & 0xC0) == 0x80) ++*end;
  return true;
}

std::vector<std::pair<size_t, size_t>> split_to_budget(const ream_host* host, ream_call* call,
                                                       std::string_view text, int64_t budget) {
  std::vector<std::pair<size_t, size_t>> parts;
  int64_t total = host->count_tokens(call, rs(text));
  if (total <= budget || text.empty()) return {{0, text.size()}};
  double bytes_per_token = static_cast<double>(text.size()) / static_cast<double>(total);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t want = std::max<size_t>(64, static_cast<size_t>(budget * bytes_per_token * 0.9));
    size_t end = text.size();
    for (int tries = 0; tries < 20; ++tries) {
      end = std::min(text.size(), pos + want);
      if (end < text.size()) {
        std::string_view window = text.substr(pos, end - pos);
        for (std::string_view sep : {"\n\n", "\n", " "}) {
          size_t cut = window.rfind(sep);
          if (cut != std::string_view::npos && cut > window.size() / 2) {
            end = pos + cut + sep.size();
            break;
          }
        }
        while (end > pos + 1 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
      }
      if (host->count_tokens(call, rs(text.substr(pos, end - pos))) <= budget || want <= 64) break;
      want = want * 8 / 10;
    }
    parts.emplace_back(pos, end);
    pos = end;
  }
  return parts;
}

json parse_params(ream_str params_json) {
  json j = json::parse(sv(params_json), nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace plugin_util
