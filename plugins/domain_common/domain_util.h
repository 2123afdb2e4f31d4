// Helpers shared by the domain plugins (legal_review, financial_diligence,
// code_audit) on top of plugins/common: parameter lists, severities, prompt
// budgets, splitting documents into segments that fit the context, locating
// quotes in a segment, and the reply handling every domain plugin shares (parse
// tolerant JSON, validate its shape, ask once more with a repair prompt, then
// record a warning rather than invent findings). C++ inside the plugin only;
// nothing here crosses the ABI.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "plugin_util.h"

namespace domain {

using nlohmann::json;

// A list parameter: a JSON array of strings, or one string of comma- or
// newline-separated items. Items are trimmed; empty ones dropped.
std::vector<std::string> string_list(const json& value);
std::string lower(std::string_view s);
std::string trim(std::string_view s);
// Case-insensitive equality, ignoring runs of spaces, '-', '_' and '/' differences.
bool same_name(std::string_view a, std::string_view b);

// "critical", "high", "medium"/"moderate", "low", "info"/"none" (any case) or a
// number 0..4 -> REAM_SEVERITY_*; anything else -> `fallback`.
int32_t parse_severity(const json& value, int32_t fallback);
const char* severity_word(int32_t severity);  // "info" .. "critical"

// A string field of a reply object, "" when absent or not a string (numbers are
// printed, so a model writing 1200 for "1200" still counts).
std::string str_field(const json& obj, const char* name);

// Tokens of document text one prompt may carry: the context, less the reply,
// less room for one repair round (the bad reply is shown back to the model),
// less the chat template and the fixed instructions around the document.
int64_t text_budget(const ream_host* host, ream_call* call, int64_t reply_tokens, std::string_view fixed_text);

// A byte range of one document that goes into one prompt.
struct Segment {
  size_t doc = 0;           // index into the call's documents
  size_t part = 0;          // 0-based part of that document
  size_t parts = 1;         // how many parts the document was split into
  size_t start = 0, end = 0;  // byte range in documents[doc].text
};

// Splits every document into parts of at most `budget` tokens (at paragraph,
// line or word boundaries). Deterministic: plan and reduce compute the same list.
std::vector<Segment> split_segments(const ream_host* host, ream_call* call, const ream_document* docs,
                                    size_t count, int64_t budget);

// "<document id=.. name=.. part=..>\n TEXT \n</document>": the prompt's first,
// shared part. Chunks of a chunked document say which chunk they are.
std::string document_block(const ream_document& doc, const Segment& seg);

// A quote of `doc`, located first in [start, end) and then in the whole text
// given to the call; offsets stay -1 when it is nowhere (the host then marks it
// unverified).
plugin_util::Quote locate_in(const ream_document& doc, size_t start, size_t end, const std::string& quote);

// ---- Replies: parse, validate, repair once, warn -------------------------------

inline constexpr std::string_view kRepairSuffix = "~repair";
bool is_repair_key(std::string_view key);
std::string base_key(std::string_view key);

struct ParsedReply {
  std::string key;  // the original prompt's key (repair suffix removed)
  json value;       // the parsed, validated object
};

struct ReplyPolicy {
  bool repair = true;          // ask once more when a reply does not parse
  std::string schema_text;     // the reply schema, repeated in the repair prompt
  int32_t max_tokens = 0;      // of the repair prompt
  // The JSON Schema the repair prompt's reply is constrained to, by the original
  // prompt's key (the same as the original's); null or "" = none.
  std::function<std::string(const std::string& key)> json_schema;
};

// Returns "" when `value` has the shape the plugin asked for, else what is wrong.
using Validator = std::function<std::string(const json& value)>;
// The messages of the original prompt with this key (to repeat them in a repair).
using Rebuilder = std::function<std::vector<std::pair<std::string, std::string>>(const std::string& key)>;
// Human words for a prompt key in warnings ("categories 1-6 of doc-1").
using Describer = std::function<std::string(const std::string& key)>;

struct SortedReplies {
  std::vector<ParsedReply> parsed;
  int repairs_emitted = 0;            // repair prompts sent this round
  std::vector<std::string> failed;    // keys given up on (a warning was emitted for each)
};

// Parses every reply. A reply that does not parse or validate gets one repair
// prompt (key + kRepairSuffix) when the policy allows and it is not itself a
// repair; otherwise a warning naming the prompt, the reason, the finish reason and
// the reply length. Returns the first host error.
ream_status sort_replies(const ream_host* host, ream_call* call, const ream_reply* replies, size_t count,
                         const Rebuilder& rebuild, const Validator& validate, const Describer& describe,
                         const ReplyPolicy& policy, SortedReplies* out);

// Validator helper: "" when `value[field]` is an array, else a message.
std::string require_array(const json& value, const char* field);

}  // namespace domain
