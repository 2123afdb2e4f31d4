// Shared helpers of the domain plugins.
#include "domain_util.h"

#include <algorithm>
#include <cctype>

namespace domain {

using plugin_util::rs;
using plugin_util::sv;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

namespace {
std::string name_key(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) out += static_cast<char>(std::tolower(u));
  }
  return out;
}
}  // namespace

bool same_name(std::string_view a, std::string_view b) { return name_key(a) == name_key(b); }

std::vector<std::string> string_list(const json& value) {
  std::vector<std::string> out;
  auto add = [&](std::string_view s) {
    std::string t = trim(s);
    if (!t.empty()) out.push_back(std::move(t));
  };
  if (value.is_array()) {
    for (const json& v : value) {
      if (v.is_string()) add(v.get<std::string>());
    }
  } else if (value.is_string()) {
    std::string s = value.get<std::string>();
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t cut = s.find_first_of(",\n", pos);
      if (cut == std::string::npos) cut = s.size();
      add(std::string_view(s).substr(pos, cut - pos));
      pos = cut + 1;
    }
  }
  return out;
}

int32_t parse_severity(const json& value, int32_t fallback) {
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    return v >= REAM_SEVERITY_INFO && v <= REAM_SEVERITY_CRITICAL ? static_cast<int32_t>(v) : fallback;
  }
  if (!value.is_string()) return fallback;
  std::string s = name_key(value.get<std::string>());
  if (s == "critical" || s == "severe") return REAM_SEVERITY_CRITICAL;
  if (s == "high" || s == "error" || s == "major") return REAM_SEVERITY_HIGH;
  if (s == "medium" || s == "moderate" || s == "warning") return REAM_SEVERITY_MEDIUM;
  if (s == "low" || s == "minor") return REAM_SEVERITY_LOW;
  if (s == "info" || s == "none" || s == "note" || s == "informational") return REAM_SEVERITY_INFO;
  return fallback;
}

const char* severity_word(int32_t severity) {
  static const char* kWords[] = {"info", "low", "medium", "high", "critical"};
  return severity >= 0 && severity <= 4 ? kWords[severity] : "info";
}

std::string str_field(const json& obj, const char* name) {
  if (!obj.is_object() || !obj.contains(name)) return "";
  const json& v = obj[name];
  if (v.is_string()) return trim(v.get<std::string>());
  if (v.is_number() || v.is_boolean()) return v.dump();
  return "";
}

int64_t text_budget(const ream_host* host, ream_call* call, int64_t reply_tokens, std::string_view fixed_text) {
  constexpr int64_t kMargin = 256;  // document tags, repair instruction, tokenizer seams
  return host->context_size(call) - 2 * reply_tokens - host->prompt_overhead(call) -
         host->count_tokens(call, rs(fixed_text)) - kMargin;
}

std::vector<Segment> split_segments(const ream_host* host, ream_call* call, const ream_document* docs,
                                    size_t count, int64_t budget) {
  std::vector<Segment> out;
  for (size_t d = 0; d < count; ++d) {
    auto ranges = plugin_util::split_to_budget(host, call, sv(docs[d].text), budget);
    for (size_t i = 0; i < ranges.size(); ++i) {
      out.push_back({d, i, ranges.size(), ranges[i].first, ranges[i].second});
    }
  }
  return out;
}

std::string document_block(const ream_document& doc, const Segment& seg) {
  std::string head = "<document id=\"" + std::string(sv(doc.id)) + "\"";
  if (doc.path.len) head += " name=\"" + std::string(sv(doc.path)) + "\"";
  if (doc.chunk_index >= 0 && doc.chunk_count > 1) {
    head += " chunk=\"" + std::to_string(doc.chunk_index + 1) + " of " + std::to_string(doc.chunk_count) + "\"";
  }
  if (seg.parts > 1) head += " part=\"" + std::to_string(seg.part + 1) + " of " + std::to_string(seg.parts) + "\"";
  std::string_view text = sv(doc.text).substr(seg.start, seg.end - seg.start);
  return head + ">\n" + std::string(text) + (text.empty() || text.back() != '\n' ? "\n" : "") + "</document>\n\n";
}

plugin_util::Quote locate_in(const ream_document& doc, size_t start, size_t end, const std::string& quote) {
  plugin_util::Quote q{std::string(sv(doc.id)), quote};
  std::string_view text = sv(doc.text);
  start = std::min(start, text.size());
  end = std::clamp(end, start, text.size());
  int64_t s = -1, e = -1;
  if (plugin_util::locate_quote(text.substr(start, end - start), quote, &s, &e)) {
    q.start = s + static_cast<int64_t>(start);
    q.end = e + static_cast<int64_t>(start);
  } else if (plugin_util::locate_quote(text, quote, &s, &e)) {
    q.start = s;
    q.end = e;
  }
  return q;
}

bool is_repair_key(std::string_view key) {
  return key.size() > kRepairSuffix.size() && key.substr(key.size() - kRepairSuffix.size()) == kRepairSuffix;
}

std::string base_key(std::string_view key) {
  return std::string(is_repair_key(key) ? key.substr(0, key.size() - kRepairSuffix.size()) : key);
}

std::string require_array(const json& value, const char* field) {
  if (!value.contains(field)) return std::string("missing the \"") + field + "\" array";
  if (!value[field].is_array()) return std::string("\"") + field + "\" is not an array";
  return "";
}

ream_status sort_replies(const ream_host* host, ream_call* call, const ream_reply* replies, size_t count,
                         const Rebuilder& rebuild, const Validator& validate, const Describer& describe,
                         const ReplyPolicy& policy, SortedReplies* out) {
  for (size_t i = 0; i < count; ++i) {
    const ream_reply& r = replies[i];
    std::string key(sv(r.key));
    std::string base = base_key(key);
    std::string why;
    auto parsed = plugin_util::extract_json_object(sv(r.text), &why);
    if (parsed) why = validate ? validate(*parsed) : "";
    if (parsed && why.empty()) {
      out->parsed.push_back({base, std::move(*parsed)});
      continue;
    }
    if (policy.repair && !is_repair_key(key)) {
      plugin_util::ChatPrompt p{base + std::string(kRepairSuffix), rebuild(base), policy.max_tokens,
                                policy.json_schema ? policy.json_schema(base) : std::string()};
      p.messages.emplace_back("assistant", std::string(sv(r.text)));
      p.messages.emplace_back("user", "That reply cannot be used: " + why +
                                          ". Reply again with only the JSON object, no code fence and no "
                                          "other text, in exactly this schema:\n" + policy.schema_text);
      // The repair prompt repeats the original with the reply and the schema appended;
      // when that no longer fits the context, the reply is recorded as unusable instead.
      int64_t tokens = host->prompt_overhead(call) + policy.max_tokens;
      for (const auto& m : p.messages) tokens += host->count_tokens(call, rs(m.second)) + 8;
      if (tokens <= host->context_size(call)) {
        if (ream_status rc = plugin_util::emit_prompt(host, call, p); rc != REAM_OK) return rc;
        ++out->repairs_emitted;
        continue;
      }
      why += "; no room in the context for a repair prompt";
    }
    std::string what = describe ? describe(base) : base;
    plugin_util::warn(host, call,
                      what + ": reply unusable" + (is_repair_key(key) ? " after a repair prompt" : "") + " (" + why +
                          "; finish: " + std::string(sv(r.finish_reason)) + ", " +
                          std::to_string(r.completion_tokens) + " tokens); no findings recorded from it");
    out->failed.push_back(base);
  }
  return REAM_OK;
}

}  // namespace domain
