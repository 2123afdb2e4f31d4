// Locating quoted evidence in document text: exact match first, then a match
// that ignores case, runs of whitespace and typographic quote styles.
#pragma once

#include <cstdint>
#include <string_view>

namespace ream::flow {

struct QuoteMatch {
  bool found = false;
  int64_t start = -1;  // byte offsets into the searched text
  int64_t end = -1;
};

// Finds `quote` in `text`. When [hint_start, hint_end) already holds the quote
// exactly, that span is returned. An empty quote is never found.
QuoteMatch locate_quote(std::string_view text, std::string_view quote, int64_t hint_start = -1,
                        int64_t hint_end = -1);

// Unicode code points in text[0, byte_offset).
int64_t char_offset(std::string_view text, int64_t byte_offset);

}  // namespace ream::flow
