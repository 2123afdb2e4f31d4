// ream/common/utf8.h against WHATWG's TextDecoder (Node's own, tests/node/utf8_decode.cjs):
// validity and lossy repair of random byte strings made to hit every ill-formed kind
// (stray continuations, truncated sequences, overlongs, surrogates, values past
// U+10FFFF, bytes that start nothing), and the incomplete-tail rule the stream decoder
// relies on.
#include "ream/common/utf8.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace ream::utf8 {
namespace {

using nlohmann::json;

std::string hex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

// Random text: well-formed characters of every length mixed with the bytes that break
// UTF-8 (C0/C1/F5..FF start nothing, E0 80 is overlong, ED A0 a surrogate, F4 90 past
// U+10FFFF, lone continuations, sequences cut short).
std::string random_bytes(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 9), len(1, 24), byte(0, 255);
  std::string s;
  for (int n = len(rng); n > 0; --n) {
    switch (kind(rng)) {
      case 0: s += static_cast<char>(byte(rng) & 0x7F); break;
      case 1: append(s, 0x80 + static_cast<char32_t>(byte(rng)) * 7); break;
      case 2: append(s, 0x800 + static_cast<char32_t>(byte(rng)) * 251); break;
      case 3: append(s, 0x10000 + static_cast<char32_t>(byte(rng)) * 4093); break;
      case 4: s += static_cast<char>(0x80 | (byte(rng) & 0x3F)); break;            // lone continuation
      case 5: s += static_cast<char>(0xC0 | (byte(rng) & 0x3F)); break;            // a lead, maybe cut
      case 6: s += static_cast<char>(0xE0 | (byte(rng) & 0x0F)); s += static_cast<char>(0x80 | (byte(rng) & 0x3F)); break;
      case 7: s += static_cast<char>(0xF0 | (byte(rng) & 0x07)); s += static_cast<char>(0x80 | (byte(rng) & 0x3F)); break;
      case 8: s += static_cast<char>(byte(rng)); break;
      default: s += "\xED\xA0\x80"; break;                                          // a surrogate
    }
  }
  return s;
}

// {"valid", "repaired"} per case from TextDecoder; empty after an ADD_FAILURE.
json text_decoder(const std::vector<std::string>& cases) {
  json hexes = json::array();
  for (const std::string& c : cases) hexes.push_back(hex(c));
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("ream-utf8-" + std::to_string(std::random_device{}()) + ".json")).string();
  std::ofstream(file) << hexes.dump();
  std::string out;
  FILE* f = popen(("node " REAM_NODE_DIR "/utf8_decode.cjs " + file + " 2>&1").c_str(), "r");
  if (f) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int rc = pclose(f);
    std::filesystem::remove(file);
    json j = json::parse(out, nullptr, false);
    if (rc == 0 && j.is_array() && j.size() == cases.size()) return j;
  }
  ADD_FAILURE() << "node utf8_decode.cjs failed: " << out;
  return json::array();
}

TEST(Utf8, ValidityAndRepairMatchTextDecoderOnRandomBytes) {
  std::mt19937 rng(std::random_device{}());
  std::vector<std::string> cases = {"", "plain", "\xEF\xBB\xBF" "bom", "\xC0\x80", "\xE0\x80\x80", "\xF4\x90\x80\x80",
                                    "\xF0\x9F\x98", "a\xE2\x82", "\xED\xBF\xBF", "\xF5\x80", "\x80\x80\x80"};
  for (int i = 0; i < 2000; ++i) cases.push_back(random_bytes(rng));
  const json ref = text_decoder(cases);
  ASSERT_EQ(ref.size(), cases.size());
  int invalid = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("bytes " + hex(cases[i]));
    const bool valid = ref[i]["valid"].get<bool>();
    invalid += valid ? 0 : 1;
    EXPECT_EQ(is_valid(cases[i]), valid);
    EXPECT_EQ(count_invalid(cases[i]) == 0, valid);
    const std::string repaired = repair(cases[i]);
    EXPECT_EQ(hex(repaired), ref[i]["repaired"].get<std::string>());
    EXPECT_TRUE(is_valid(repaired));
  }
  EXPECT_GT(invalid, 100);  // the generator reaches the ill-formed cases
}

// Walking valid text with next_code_point, decode and sequence_length agrees with
// encoding the code points back.
TEST(Utf8, DecodingRoundTripsThroughAppend) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<uint32_t> cp(0, 0x10FFFF);
  for (int i = 0; i < 200; ++i) {
    std::vector<char32_t> points;
    std::string text;
    for (int k = 0; k < 32; ++k) {
      char32_t c = cp(rng);
      if (c >= 0xD800 && c <= 0xDFFF) c -= 0x800;  // no surrogates
      points.push_back(c);
      append(text, c);
    }
    ASSERT_TRUE(is_valid(text));
    size_t pos = 0;
    for (char32_t c : points) {
      int len = 0;
      EXPECT_EQ(decode(text, pos, &len), c);
      EXPECT_EQ(static_cast<size_t>(len), sequence_length(text, pos));
      EXPECT_EQ(next_code_point(text, pos), c);
    }
    EXPECT_EQ(pos, text.size());
  }
}

// A text that ends inside a character is cut where that character starts; one that
// ends in an ill-formed byte or a whole character is not cut.
TEST(Utf8, IncompleteTailStartsAtTheCutCharacter) {
  const std::string euro = "\xE2\x82\xAC", smile = "\xF0\x9F\x98\x80";
  EXPECT_EQ(incomplete_tail_start("ab" + euro), 5u);
  EXPECT_EQ(incomplete_tail_start("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(incomplete_tail_start("ab" + smile.substr(0, 3)), 2u);
  EXPECT_EQ(incomplete_tail_start("ab" + smile.substr(0, 1)), 2u);
  EXPECT_EQ(incomplete_tail_start("ab\xC0"), 3u);      // starts nothing: not a cut character
  EXPECT_EQ(incomplete_tail_start("ab\xE0\x80"), 4u);  // an overlong start is ill-formed, not cut
  EXPECT_EQ(incomplete_tail_start(""), 0u);
}

}  // namespace
}  // namespace ream::utf8
