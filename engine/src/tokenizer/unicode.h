// Unicode helpers for the tokenizer: UTF-8 walking, the character classes the Qwen2
// pre-tokenizer pattern needs (\p{L}, \p{N}, \s), NFC through utf8proc, lossy UTF-8
// repair with U+FFFD, and GPT-2's byte <-> printable-unicode map used by ByteLevel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ream::tok {

inline constexpr char32_t kReplacementChar = 0xFFFD;

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

// Decodes one code point of valid UTF-8 at s[pos]; advances pos. Input must be valid
// (see is_valid_utf8 / repair_utf8).
char32_t next_code_point(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, char32_t cp);

// Length of the longest valid UTF-8 prefix of a sequence starting at s[pos]:
// the full length when it is complete and valid, 0 when s[pos] cannot start a
// character, otherwise how many bytes form a valid but incomplete prefix.
struct Utf8Probe {
  size_t valid_prefix;  // bytes that are a valid (maybe incomplete) prefix
  size_t needed;        // total bytes the lead byte announces (0 if not a lead)
};
Utf8Probe probe_utf8(std::string_view s, size_t pos);

bool is_valid_utf8(std::string_view s);

// Replaces every maximal ill-formed subsequence with U+FFFD, as Python's
// bytes.decode(errors="replace") and Rust's String::from_utf8_lossy do.
std::string repair_utf8(std::string_view s);

// Byte offset where a trailing, valid-so-far but incomplete UTF-8 character starts;
// s.size() when the text does not end inside a character.
size_t incomplete_tail_start(std::string_view s);

// NFC normalisation of valid UTF-8 (utf8proc). Returns the input on failure.
std::string nfc(std::string_view s);

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
