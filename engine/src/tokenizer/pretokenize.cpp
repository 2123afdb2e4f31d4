// Hand-written matcher for the Qwen2 pre-tokenizer pattern. See pretokenize.h for the
// pattern; each alternative below carries its piece of it.
#include "tokenizer/pretokenize.h"

#include <cstddef>
#include <cstdint>

#include "ream/common/utf8.h"
#include "tokenizer/unicode.h"

namespace ream::tok {

namespace {

struct Chars {
  std::vector<char32_t> cp;
  std::vector<CharClass> cls;
  std::vector<uint32_t> offset;  // byte offset of each char, plus one past the end
  size_t size() const { return cp.size(); }
};

Chars decode_chars(std::string_view text) {
  Chars c;
  c.cp.reserve(text.size());
  c.cls.reserve(text.size());
  c.offset.reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    c.offset.push_back(static_cast<uint32_t>(pos));
    char32_t cp = utf8::next_code_point(text, pos);
    c.cp.push_back(cp);
    c.cls.push_back(classify(cp));
  }
  c.offset.push_back(static_cast<uint32_t>(text.size()));
  return c;
}

// ASCII case folding plus U+017F LATIN SMALL LETTER LONG S, which Unicode case
// folding (Oniguruma's (?i)) maps to 's'.
char32_t fold(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp == 0x017F) return 's';
  return cp;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)
size_t match_contraction(const Chars& c, size_t i) {
  size_t n = c.size();
  if (c.cp[i] != '\'' || i + 1 >= n) return 0;
  char32_t a = fold(c.cp[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= n) return 0;
  char32_t b = fold(c.cp[i + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

size_t letter_run_end(const Chars& c, size_t j) {
  while (j < c.size() && c.cls[j] == CharClass::kLetter) ++j;
  return j;
}

// [^\r\n\p{L}\p{N}]?\p{L}+
size_t match_letters(const Chars& c, size_t i) {
  CharClass k = c.cls[i];
  if (k == CharClass::kLetter) return letter_run_end(c, i);
  if ((k == CharClass::kSpace || k == CharClass::kOther) && i + 1 < c.size() &&
      c.cls[i + 1] == CharClass::kLetter) {
    return letter_run_end(c, i + 1);
  }
  return 0;
}

// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
size_t match_punct(const Chars& c, size_t i) {
  size_t n = c.size();
  size_t j = i;
  if (c.cp[j] == ' ') ++j;
  if (j >= n || c.cls[j] != CharClass::kOther) return 0;  // without the space: i is \s
  while (j < n && c.cls[j] == CharClass::kOther) ++j;
  while (j < n && c.cls[j] == CharClass::kNewline) ++j;
  return j;
}

// \s*[\r\n]+ | \s+(?!\S) | \s+  (at a white-space character)
size_t match_space(const Chars& c, size_t i) {
  size_t n = c.size();
  size_t end = i;
  size_t last_newline = n;
  while (end < n && (c.cls[end] == CharClass::kSpace || c.cls[end] == CharClass::kNewline)) {
    if (c.cls[end] == CharClass::kNewline) last_newline = end;
    ++end;
  }
  // \s*[\r\n]+: \s* gives back down to the last newline of the run; [\r\n]+ takes it
  // and nothing after it is a newline.
  if (last_newline != n) return last_newline + 1;
  // \s+(?!\S): the whole run at the end of text, else one character less.
  if (end == n) return end;
  if (end - i >= 2) return end - 1;
  // \s+
  return i + 1;
}

size_t match_at(const Chars& c, size_t i) {
  if (size_t e = match_contraction(c, i)) return e;
  if (size_t e = match_letters(c, i)) return e;
  if (c.cls[i] == CharClass::kNumber) return i + 1;
  if (size_t e = match_punct(c, i)) return e;
  if (c.cls[i] == CharClass::kSpace || c.cls[i] == CharClass::kNewline) return match_space(c, i);
  return 0;
}

}  // namespace

std::vector<std::string_view> pretokenize_qwen2(std::string_view text) {
  std::vector<std::string_view> pieces;
  Chars c = decode_chars(text);
  size_t n = c.size();
  size_t gap_start = 0;  // start of text no alternative matched (Isolated keeps it)
  size_t i = 0;
  while (i < n) {
    size_t end = match_at(c, i);
    if (end == 0) {
      ++i;
      continue;
    }
    if (gap_start < i) {
      pieces.push_back(text.substr(c.offset[gap_start], c.offset[i] - c.offset[gap_start]));
    }
    pieces.push_back(text.substr(c.offset[i], c.offset[end] - c.offset[i]));
    i = end;
    gap_start = end;
  }
  if (gap_start < n) {
    pieces.push_back(text.substr(c.offset[gap_start], c.offset[n] - c.offset[gap_start]));
  }
  return pieces;
}

}  // namespace ream::tok
