// Helpers for the ingest tests. Token counting here is a stand-in, bytes/4
// rounded up; the real counter is the engine's tokenizer, passed in at run time.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "ingest/document.h"

namespace ream::ingest::testing {

inline int64_t bytes_over_4(std::string_view s) { return static_cast<int64_t>((s.size() + 3) / 4); }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A generator seeded fresh each run; the seed goes into failure messages.
struct Rng {
  // REAM_TEST_SEED replays a failing run; otherwise fresh each run.
  uint32_t seed = std::getenv("REAM_TEST_SEED") ? static_cast<uint32_t>(std::stoul(std::getenv("REAM_TEST_SEED")))
                                                : std::random_device{}();
  std::mt19937_64 gen{seed};
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
};

inline bool is_word_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace ream::ingest::testing
