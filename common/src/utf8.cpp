// UTF-8 helpers (see utf8.h): the lead byte's table-3-7 ranges decide validity, so
// overlongs, surrogates and values past U+10FFFF are caught without decoding first.
#include "ream/common/utf8.h"

#include <utf8proc.h>

#include <cstdlib>

namespace ream::utf8 {

namespace {

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace

Probe probe(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {1, 1};
  size_t needed = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    needed = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    needed = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    needed = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {0, 0};
  }
  size_t valid = 1;
  while (valid < needed && pos + valid < s.size()) {
    const auto b = static_cast<unsigned char>(s[pos + valid]);
    const bool ok = valid == 1 ? (b >= lo && b <= hi) : is_continuation(b);
    if (!ok) break;
    ++valid;
  }
  return {valid, needed};
}

bool is_valid(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = sequence_length(s, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

int64_t count_invalid(std::string_view s) {
  int64_t bad = 0;
  for (size_t pos = 0; pos < s.size();) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = sequence_length(s, pos);
    if (n == 0) {
      ++bad;
      ++pos;
    } else {
      pos += n;
    }
  }
  return bad;
}

char32_t next_code_point(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  const size_t len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  char32_t cp = b0 & (0x7F >> len);
  for (size_t k = 1; k < len && pos + k < s.size(); ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  }
  pos += len;
  return cp;
}

char32_t decode(std::string_view s, size_t pos, int* len) {
  const size_t n = sequence_length(s, pos);
  if (n <= 1) {
    *len = 1;
    return static_cast<unsigned char>(s[pos]);
  }
  *len = static_cast<int>(n);
  return next_code_point(s, pos);
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string repair(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const Probe p = probe(s, pos);
    if (p.needed != 0 && p.valid_prefix == p.needed) {
      out.append(s.substr(pos, p.needed));
      pos += p.needed;
    } else {
      append(out, kReplacementChar);
      pos += p.needed == 0 ? 1 : p.valid_prefix;
    }
  }
  return out;
}

size_t incomplete_tail_start(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t p = n - back;
    if (is_continuation(static_cast<unsigned char>(s[p]))) continue;
    const Probe probe_at = probe(s, p);
    if (probe_at.needed > back && probe_at.valid_prefix == back) return p;
    return n;
  }
  return n;
}

std::string nfc(std::string_view s) {
  bool ascii = true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(s);
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t len =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                   static_cast<utf8proc_ssize_t>(s.size()), &dst,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) return std::string(s);
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(len));
  std::free(dst);
  return out;
}

}  // namespace ream::utf8
