// Unicode helpers for the tokenizer: character classes and the GPT-2 byte-level map.
// See unicode.h.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include "ream/common/utf8.h"

namespace ream::tok {

namespace {

bool is_white_space(char32_t cp) {
  // Unicode White_Space, which is also Oniguruma's \s (0009-000D, 0085, Zs, Zl, Zp).
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

CharClass classify(char32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    if (cp == '\r' || cp == '\n') return CharClass::kNewline;
    if (is_white_space(cp)) return CharClass::kSpace;
    return CharClass::kOther;
  }
  if (is_white_space(cp)) return CharClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

const ByteLevelMap& byte_level_map() {
  static const ByteLevelMap map = [] {
    ByteLevelMap m{};
    m.cp_to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      char32_t cp = printable ? static_cast<char32_t>(b) : next++;
      m.byte_to_cp[b] = cp;
      m.cp_to_byte[cp] = static_cast<int16_t>(b);
    }
    return m;
  }();
  return map;
}

std::string byte_level_to_bytes(std::string_view token) {
  const ByteLevelMap& map = byte_level_map();
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    char32_t cp = utf8::next_code_point(token, pos);
    if (cp >= map.cp_to_byte.size() || map.cp_to_byte[cp] < 0) return std::string(token);
    out.push_back(static_cast<char>(map.cp_to_byte[cp]));
  }
  return out;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  const ByteLevelMap& map = byte_level_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(out, map.byte_to_cp[static_cast<unsigned char>(c)]);
  return out;
}

}  // namespace ream::tok
