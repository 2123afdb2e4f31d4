// The grammar library of constrained decoding (namespace ream::grammar).
//
// Every constraint (GBNF text, a regular expression, a JSON Schema, "any JSON object")
// becomes one byte-level context-free Grammar: rules whose alternatives are sequences of
// byte sets and rule references. Unicode is handled at parse time: a character class
// over code points becomes alternatives of UTF-8 byte sequences, so the matcher
// (matcher.h) only ever sees bytes, as tokens are bytes.
//
// Quantifiers are expanded when parsing: x* is a right-recursive rule (S ::= x S | ""),
// x{m,n} m copies and a chain of nested optionals. The matcher runs rules as a pushdown
// automaton with tail calls, so right recursion costs no stack. Left recursion (a rule
// that can reach itself before consuming a byte, through a call that is not a tail call)
// is refused by check_grammar.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ream/engine/status.h"

namespace ream::grammar {

using ByteSet = std::bitset<256>;

struct Element {
  enum class Kind : uint8_t { kBytes, kRule };
  Kind kind = Kind::kBytes;
  int32_t arg = 0;  // kBytes: index into Grammar::sets; kRule: index into Grammar::rules
};

using Sequence = std::vector<Element>;

struct Rule {
  std::string name;
  std::vector<Sequence> alts;  // an empty sequence matches the empty string
  bool defined = false;
};

struct Grammar {
  std::vector<Rule> rules;
  std::vector<ByteSet> sets;
  int32_t root = -1;

  int32_t add_set(const ByteSet& set);
  // The rule called `name`, created (undefined) when new.
  int32_t rule_id(const std::string& name);
  // A fresh helper rule named after `base` (base_1, base_2, ...).
  int32_t new_rule(const std::string& base);
  // A human-readable GBNF-like listing (tests, debugging).
  std::string to_string() const;
};

// Refuses grammars the matcher cannot run: left recursion through a non-tail call,
// a root that matches nothing. Messages name the rule.
Status check_grammar(const Grammar& g);

// A half-open range of Unicode code points [lo, hi] (inclusive).
struct CodeRange {
  uint32_t lo, hi;
};

// Appends to `seq` the elements matching exactly one code point in `ranges` (sorted or
// not; surrogates are never matched): one byte set when all are ASCII, else a call to a
// helper rule of UTF-8 alternatives (named after `base`).
void append_code_class(Grammar* g, const std::vector<CodeRange>& ranges, const std::string& base, Sequence* seq);
// Appends the UTF-8 bytes of `cp` as single-byte sets.
void append_code_point(Grammar* g, uint32_t cp, Sequence* seq);
// The code points not in `ranges`, over [0, 0x10FFFF].
std::vector<CodeRange> complement(std::vector<CodeRange> ranges);
void append_utf8(uint32_t cp, std::string* out);

// llama.cpp's GBNF: `name ::= alternatives`, `|`, `( )`, `* + ?`, `{m}` `{m,}` `{m,n}`,
// "literals" and [classes] with escapes (\n \t \r \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH),
// negation [^...], `.` (any character), `#` comments; start symbol `root`. Errors name
// the line and column: "grammar 3:14: expected ']'".
Result<Grammar> parse_gbnf(std::string_view text);

}  // namespace ream::grammar
