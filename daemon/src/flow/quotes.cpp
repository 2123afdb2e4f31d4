// Quote location with a normalised fallback.
#include "flow/quotes.h"

#include <algorithm>
#include <string>
#include <vector>

namespace ream::flow {

namespace {

// Normalised text plus, for each normalised byte, the source byte it came from.
struct Normalised {
  std::string text;
  std::vector<int64_t> from;  // from[i]: source offset of text[i]; from[size] = end
};

// Maps typographic quotes and dashes (3-byte UTF-8) to ASCII; 0 if not one.
char ascii_of(std::string_view s, size_t i) {
  if (i + 2 >= s.size()) return 0;
  if (static_cast<unsigned char>(s[i]) != 0xE2 || static_cast<unsigned char>(s[i + 1]) != 0x80) return 0;
  switch (static_cast<unsigned char>(s[i + 2])) {
    case 0x98: case 0x99: return '\'';
    case 0x9C: case 0x9D: return '"';
    case 0x93: case 0x94: return '-';
    default: return 0;
  }
}

Normalised normalise(std::string_view s) {
  Normalised n;
  bool space = false;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (!space && !n.text.empty()) {
        n.text += ' ';
        n.from.push_back(static_cast<int64_t>(i));
      }
      space = true;
      ++i;
      continue;
    }
    space = false;
    if (char a = ascii_of(s, i)) {
      n.text += a;
      n.from.push_back(static_cast<int64_t>(i));
      i += 3;
      continue;
    }
    n.text += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
    n.from.push_back(static_cast<int64_t>(i));
    ++i;
  }
  if (!n.text.empty() && n.text.back() == ' ') {
    n.text.pop_back();
    n.from.pop_back();
  }
  n.from.push_back(static_cast<int64_t>(s.size()));
  return n;
}

}  // namespace

QuoteMatch locate_quote(std::string_view text, std::string_view quote, int64_t hint_start,
                        int64_t hint_end) {
  QuoteMatch m;
  if (quote.empty()) return m;
  if (hint_start >= 0 && hint_end > hint_start && static_cast<size_t>(hint_end) <= text.size() &&
      text.substr(static_cast<size_t>(hint_start), static_cast<size_t>(hint_end - hint_start)) == quote) {
    return {true, hint_start, hint_end};
  }
  size_t pos = text.find(quote);
  if (pos != std::string_view::npos) {
    return {true, static_cast<int64_t>(pos), static_cast<int64_t>(pos + quote.size())};
  }
  Normalised q = normalise(quote);
  if (q.text.empty()) return m;
  Normalised t = normalise(text);
  size_t at = t.text.find(q.text);
  if (at == std::string::npos) return m;
  size_t last = at + q.text.size() - 1;  // last normalised byte of the match
  int64_t end = t.from[last] + 1;
  // Extend over the rest of a multi-byte character (UTF-8 continuation bytes).
  while (static_cast<size_t>(end) < text.size() &&
         (static_cast<unsigned char>(text[static_cast<size_t>(end)]) & 0xC0) == 0x80) {
    ++end;
  }
  return {true, t.from[at], end};
}

int64_t char_offset(std::string_view text, int64_t byte_offset) {
  int64_t n = 0;
  size_t limit = std::min(text.size(), static_cast<size_t>(std::max<int64_t>(byte_offset, 0)));
  for (size_t i = 0; i < limit; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace ream::flow
