// Helpers shared by the libFuzzer targets of tests/fuzz (see README.md there).
//
// A target calls the code reamd calls on bytes from outside. A clean refusal (a Status,
// an API error, a 4xx) is a fine outcome; anything else stops the run: a sanitizer
// report, an exception that escapes the function the daemon calls, a 5xx where the
// input was at fault, a broken invariant of the result (fuzz_check), a hang (libFuzzer's
// -timeout) or unbounded memory (-rss_limit_mb, -malloc_limit_mb).
#pragma once

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace ream::fuzz {

inline std::string_view bytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at the first `sep`: (before, after); no `sep`: (all, "").
inline std::pair<std::string_view, std::string_view> split_once(std::string_view s,
                                                                std::string_view sep) {
  size_t at = s.find(sep);
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + sep.size())};
}

// Stops the run with a message: an invariant the daemon relies on does not hold.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}
inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// Logs off: a target runs millions of inputs, and the daemon logs refusals.
inline void quiet_logs() { spdlog::set_level(spdlog::level::off); }

// A folder of this process's own under $TMPDIR (or /tmp), removed at exit.
inline const std::string& temp_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ream-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) fail("cannot make a temporary folder under " + tmpl);
    static std::string removed = tmpl;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed, ec);
    });
    return tmpl;
  }();
  return dir;
}

// Writes `data` to `path` (replacing it).
inline void write_file(const std::string& path, std::string_view data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail("cannot write " + path);
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) fail("short write to " + path);
  std::fclose(f);
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
inline bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07, min = 0x10000;
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      if ((b >> 6) != 2) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace ream::fuzz
