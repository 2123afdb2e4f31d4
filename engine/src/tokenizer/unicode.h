// Unicode helpers for the tokenizer: the character classes the Qwen2 pre-tokenizer
// pattern needs (\p{L}, \p{N}, \s) and GPT-2's byte <-> printable-unicode map used by
// ByteLevel. UTF-8 walking, repair and NFC are the common library's (ream/common/utf8.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ream::tok {

// What the pre-tokenizer pattern asks about a code point. \r and \n are split out of
// the other white space because the pattern treats them specially.
enum class CharClass : uint8_t {
  kLetter,   // \p{L}: Lu Ll Lt Lm Lo
  kNumber,   // \p{N}: Nd Nl No
  kNewline,  // \r or \n
  kSpace,    // \s other than \r and \n (Unicode White_Space)
  kOther,    // everything else: punctuation, symbols, marks, controls, emoji
};

CharClass classify(char32_t cp);

// GPT-2's reversible byte <-> unicode map: printable bytes map to themselves, the
// others to U+0100 and up.
struct ByteLevelMap {
  std::array<char32_t, 256> byte_to_cp;
  // Inverse; -1 for code points outside the map. Indexed by code point < 324.
  std::array<int16_t, 324> cp_to_byte;
};
const ByteLevelMap& byte_level_map();

// Maps a byte-level token string ("Ġthe") back to raw bytes (" the"). When any
// character lies outside the map the token's own UTF-8 bytes are returned, as the
// HF ByteLevel decoder does.
std::string byte_level_to_bytes(std::string_view token);

// Raw bytes -> byte-level string.
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace ream::tok
