// The ingest converters' own text helpers: Windows-1252, the BOM, binary detection.
#include "ingest/utf8.h"

#include <cstdint>

namespace ream::ingest {

char32_t cp1252_to_unicode(unsigned char b) {
  // 0x80..0x9F differ from Latin-1; the five undefined bytes map to U+FFFD.
  static constexpr char32_t kHigh[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  if (b >= 0x80 && b < 0xA0) return kHigh[b - 0x80];
  return b;
}

size_t bom_length(std::string_view bytes) {
  return bytes.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
}

bool looks_binary(std::string_view s, const char** why) {
  const std::string_view head = s.substr(0, 8192);
  if (head.find('\0') != std::string_view::npos) {
    if (why) *why = "binary (NUL bytes)";
    return true;
  }
  const std::string_view sample = s.substr(0, 65536);
  int64_t control = 0, ascii_text = 0;
  for (char ch : sample) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1B) ++control;
    else if (c < 0x80) ++ascii_text;
  }
  if (control * 100 > static_cast<int64_t>(sample.size())) {
    if (why) *why = "binary (control bytes)";
    return true;
  }
  // Not UTF-8: a legacy 8-bit text is still mostly ASCII; anything else is binary.
  if (utf8::count_invalid(sample) > 0 && ascii_text * 10 < static_cast<int64_t>(sample.size()) * 7) {
    if (why) *why = "binary (not UTF-8 text)";
    return true;
  }
  return false;
}

}  // namespace ream::ingest
