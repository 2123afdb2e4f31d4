// Helpers shared by the shipped plugins (C++ inside the plugin; nothing of it
// crosses the ABI): ream_str conversions, emitting prompts and findings, tolerant
// JSON extraction from model replies, quote location and token-budget splitting.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ream/plugin.h"

namespace plugin_util {

inline std::string_view sv(ream_str s) { return s.len ? std::string_view(s.ptr, s.len) : std::string_view(); }
inline ream_str rs(std::string_view s) { return {s.data(), s.size()}; }

// Sets the error text and returns `code`.
ream_status fail(const ream_host* host, ream_call* call, ream_status code, const std::string& message);
void warn(const ream_host* host, ream_call* call, const std::string& message);

struct ChatPrompt {
  std::string key;
  std::vector<std::pair<std::string, std::string>> messages;  // role, content
  int32_t max_tokens = 0;
  std::string json_schema;  // the JSON Schema the reply must follow (REAM_CONSTRAINT_JSON_SCHEMA); "" = none
};
ream_status emit_prompt(const ream_host* host, ream_call* call, const ChatPrompt& prompt);

struct Quote {
  std::string document_id;
  std::string text;
  int64_t start = -1, end = -1;
};
struct FindingOut {
  std::string kind, category, title, text;
  int32_t severity = REAM_SEVERITY_INFO;
  double confidence = -1;
  std::vector<Quote> quotes;
  nlohmann::json details = nlohmann::json::object();
};
ream_status emit_finding(const ream_host* host, ream_call* call, const FindingOut& finding);
ream_status emit_output(const ream_host* host, ream_call* call, const std::string& name,
                        const nlohmann::json& value);

// Finds the first JSON object in a model reply, tolerating code fences and text
// around it. On failure returns nullopt and says why in `error`.
std::optional<nlohmann::json> extract_json_object(std::string_view reply, std::string* error);

// Byte offsets of `quote` in `text`: exact match, else ignoring case and runs of
// whitespace. Returns false when not found.
bool locate_quote(std::string_view text, std::string_view quote, int64_t* start, int64_t* end);

// Splits `text` into consecutive parts of at most `budget` tokens (per the host's
// tokenizer), cutting at paragraph, line or word boundaries.
std::vector<std::pair<size_t, size_t>> split_to_budget(const ream_host* host, ream_call* call,
                                                       std::string_view text, int64_t budget);

// Parameters as JSON (the host always passes an object with defaults applied).
nlohmann::json parse_params(ream_str params_json);

}  // namespace plugin_util

// Wraps a callback body so that no C++ exception crosses the ABI.
#define REAM_PLUGIN_GUARD(host, call, ...)                                              \
  try {                                                                                 \
    __VA_ARGS__                                                                         \
  } catch (const std::exception& e) {                                                   \
    return ::plugin_util::fail(host, call, REAM_ERR_FAILED, std::string("internal error: ") + e.what()); \
  } catch (...) {                                                                       \
    return ::plugin_util::fail(host, call, REAM_ERR_FAILED, "internal error");          \
  }
