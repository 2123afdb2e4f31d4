// Constraint -> GBNF text -> Grammar -> CompiledGrammar, and the engine's cache of
// compiled grammars.
//
// Regular expressions and JSON Schemas are translated to GBNF text (so every constraint
// is one grammar format, readable in errors and tests) and parsed by parse_gbnf.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "ream/engine/sampling.h"

namespace ream::grammar {

// How a regular expression is embedded.
enum class RegexMode {
  kWhole,       // the whole text must match (anchors ^ $ at the ends are optional)
  kJsonString,  // JSON Schema "pattern": matches the decoded value of a JSON string
                // somewhere (unless anchored); characters are written JSON-escaped
};

// An ECMAScript regular expression (the subset JSON Schema patterns use: literals,
// escapes, `.`, classes, \d \w \s and negations, groups incl. (?:) and named groups,
// alternation, greedy or lazy quantifiers, ^ $ at the ends) as one GBNF expression.
// `json_char` names the rule of one JSON string character (kJsonString only).
// Backreferences, lookaround, \b and flags are errors naming what and where.
Result<std::string> regex_to_gbnf(std::string_view pattern, RegexMode mode, const std::string& json_char = "");

// Whitespace between JSON tokens: at most this many of space, tab, newline, CR.
constexpr int kJsonMaxWhitespace = 24;

// GBNF of any JSON object (Constraint::kJsonObject); rule names start with "json-".
std::string json_object_gbnf();
// GBNF of a JSON Schema (JSON text). Errors name the keyword and its JSON pointer:
// "unsupported JSON Schema keyword 'patternProperties' at /properties/x".
Result<std::string> json_schema_to_gbnf(std::string_view schema);

// GBNF text of a constraint (kNone: an error).
Result<std::string> constraint_gbnf(const Constraint& c);
// The Grammar of a constraint; errors start with what kind of constraint failed.
Result<Grammar> constraint_grammar(const Constraint& c);

// Compiled grammars by (kind, source) in a hash map, kept for reuse (least recently used
// dropped past `capacity`). Thread-safe.
class GrammarCache {
 public:
  GrammarCache(std::shared_ptr<const TokenVocab> vocab, size_t capacity = 64);
  Result<std::shared_ptr<const CompiledGrammar>> get(const Constraint& c);
  const std::shared_ptr<const TokenVocab>& vocab() const { return vocab_; }

 private:
  std::shared_ptr<const TokenVocab> vocab_;
  size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const CompiledGrammar>>> lru_;
  std::unordered_map<std::string, decltype(lru_)::iterator> index_;
};

}  // namespace ream::grammar
