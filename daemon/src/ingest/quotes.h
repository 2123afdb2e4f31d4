// Quote verification: finding a quoted passage (from a model's reply) in a
// document, exact first, then after normalising both sides (white space runs
// collapsed, NFKC + case folding, curly quotes -> straight, dashes -> '-',
// ellipsis -> "...", invisible characters dropped), then (for quotes of 12 or
// more characters) ignoring white space altogether. A quote that is not found is
// reported as such, so callers mark it `verified: false`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/document.h"

namespace ream::ingest {

enum class QuoteMatchKind { kNotFound, kExact, kNormalized, kIgnoringSpace };

const char* quote_match_kind_name(QuoteMatchKind kind);  // "not_found", "exact", ...

struct QuoteMatch {
  QuoteMatchKind kind = QuoteMatchKind::kNotFound;
  int64_t text_begin = -1;  // byte range in Document::text, character boundaries
  int64_t text_end = -1;
  Location location;        // where text_begin came from
  Location end_location;    // where the last byte of the match came from
  bool found() const { return kind != QuoteMatchKind::kNotFound; }
};

// Normalises `s` for matching; when `origin` is given, origin[i] is the offset in
// `s` of the character that produced output byte i.
std::string normalize_for_match(std::string_view s, std::vector<uint32_t>* origin = nullptr);

// Holds the normalised forms of one document, for many quotes against it (a few
// milliseconds to build for a 300 KB text; each lookup is a substring search).
// Keeps a reference to `doc`, which must outlive it. Lookups are const and
// thread-safe.
class QuoteIndex {
 public:
  explicit QuoteIndex(const Document& doc);
  // Finds `quote`; with several matches of the best kind, the one starting
  // nearest to `near` (a text offset) when given, else the first.
  QuoteMatch find(std::string_view quote, int64_t near = -1) const;

 private:
  QuoteMatch make(QuoteMatchKind kind, int64_t begin, int64_t end) const;
  const Document& doc_;
  std::string norm_;
  std::vector<uint32_t> norm_origin_;
  std::string dense_;  // norm_ without spaces
  std::vector<uint32_t> dense_origin_;
};

// One-off lookup: builds a QuoteIndex only when the exact search fails.
QuoteMatch locate_quote(const Document& doc, std::string_view quote, int64_t near = -1);

}  // namespace ream::ingest
