// UTF-8 helpers: validation and decoding by hand (hot paths over megabytes of
// text), NFC through utf8proc.
#include "ingest/utf8.h"

#include <utf8proc.h>

#include <cstdlib>

namespace ream::ingest {

int utf8_seq_len(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  int n = 0;
  char32_t min = 0;
  if ((c & 0xE0) == 0xC0) { n = 2; min = 0x80; }
  else if ((c & 0xF0) == 0xE0) { n = 3; min = 0x800; }
  else if ((c & 0xF8) == 0xF0) { n = 4; min = 0x10000; }
  else return 0;
  if (i + n > s.size()) return 0;
  char32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

char32_t utf8_decode(std::string_view s, size_t i, int* len) {
  const int n = utf8_seq_len(s, i);
  *len = n == 0 ? 1 : n;
  if (n <= 1) return static_cast<unsigned char>(s[i]);
  char32_t cp = static_cast<unsigned char>(s[i]) & (0x7F >> n);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

bool valid_utf8(std::string_view s) { return count_invalid_utf8(s) == 0; }

int64_t count_invalid_utf8(std::string_view s) {
  int64_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) { ++i; continue; }
    const int n = utf8_seq_len(s, i);
    if (n == 0) { ++bad; ++i; } else { i += n; }
  }
  return bad;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

char32_t cp1252_to_unicode(unsigned char b) {
  // 0x80..0x9F differ from Latin-1; the five undefined bytes map to U+FFFD.
  static constexpr char32_t kHigh[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  if (b >= 0x80 && b < 0xA0) return kHigh[b - 0x80];
  return b;
}

std::string nfc(std::string_view s) {
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(s);
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
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
  if (count_invalid_utf8(sample) > 0 && ascii_text * 10 < static_cast<int64_t>(sample.size()) * 7) {
    if (why) *why = "binary (not UTF-8 text)";
    return true;
  }
  return false;
}

}  // namespace ream::ingest
