// Constraint -> Grammar, and the cache of compiled grammars (see compile.h).
#include "grammar/compile.h"

namespace ream::grammar {

Result<std::string> constraint_gbnf(const Constraint& c) {
  switch (c.kind) {
    case Constraint::Kind::kNone: return invalid_argument("constraint: none given");
    case Constraint::Kind::kJsonObject: return json_object_gbnf();
    case Constraint::Kind::kJsonSchema: return json_schema_to_gbnf(c.source);
    case Constraint::Kind::kRegex: {
      REAM_ASSIGN_OR_RETURN(std::string expr, regex_to_gbnf(c.source, RegexMode::kWhole));
      return "root ::= " + expr + "\n";
    }
    case Constraint::Kind::kGrammar: return c.source;
  }
  return invalid_argument("constraint: unknown kind");
}

Result<Grammar> constraint_grammar(const Constraint& c) {
  Result<std::string> text = constraint_gbnf(c);
  if (!text.ok()) return text.status();
  Result<Grammar> g = parse_gbnf(text.value());
  if (!g.ok() && c.kind != Constraint::Kind::kGrammar)  // our own GBNF: a bug, name it
    return internal_error("constraint: the generated grammar does not parse (" + g.status().message() + ")");
  return g;
}

GrammarCache::GrammarCache(std::shared_ptr<const TokenVocab> vocab, size_t capacity)
    : vocab_(std::move(vocab)), capacity_(capacity) {}

Result<std::shared_ptr<const CompiledGrammar>> GrammarCache::get(const Constraint& c) {
  std::string key = std::to_string(static_cast<int>(c.kind)) + ":" + c.source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  Result<Grammar> g = constraint_grammar(c);
  if (!g.ok()) return g.status();
  std::shared_ptr<const CompiledGrammar> compiled = CompiledGrammar::make(std::move(g).value(), vocab_);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second->second;  // compiled meanwhile by another thread
  lru_.emplace_front(key, compiled);
  index_.emplace(std::move(key), lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return compiled;
}

}  // namespace ream::grammar
