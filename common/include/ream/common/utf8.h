// UTF-8: validation, decoding and encoding, lossy repair with U+FFFD, and NFC
// (utf8proc). The one implementation the tokenizer, ingestion and the workflow
// runner share, so that "valid" and "repaired" mean the same everywhere.
//
// Well-formed means Unicode's definition (table 3-7): no overlong forms, no
// surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ream::utf8 {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// What starts at s[pos]: `needed` is the length the lead byte announces (0 when
// s[pos] cannot start a character; 1 for ASCII) and `valid_prefix` how many bytes
// from pos form a well-formed (maybe incomplete) prefix of such a character.
struct Probe {
  size_t valid_prefix;
  size_t needed;
};
Probe probe(std::string_view s, size_t pos);

// Length of the well-formed sequence starting at s[pos], or 0 when there is none.
inline size_t sequence_length(std::string_view s, size_t pos) {
  const Probe p = probe(s, pos);
  return p.needed != 0 && p.valid_prefix == p.needed ? p.needed : 0;
}

// True when `s` is well-formed UTF-8.
bool is_valid(std::string_view s);

// Number of bytes of `s` that are not part of a well-formed sequence.
int64_t count_invalid(std::string_view s);

// Decodes the character at s[pos], which must be well-formed (see is_valid), and
// advances pos past it. Unchecked: for hot loops over text already validated.
char32_t next_code_point(std::string_view s, size_t& pos);

// Decodes the character at s[pos]; *len is its byte length. A byte that starts no
// well-formed sequence decodes as its own value with *len = 1.
char32_t decode(std::string_view s, size_t pos, int* len);

// Appends the UTF-8 encoding of `cp`.
void append(std::string& out, char32_t cp);

// `s` with every maximal ill-formed subsequence replaced by U+FFFD, as Python's
// bytes.decode(errors="replace") and Rust's String::from_utf8_lossy do.
std::string repair(std::string_view s);

// Byte offset where a trailing, well-formed but incomplete character starts;
// s.size() when the text does not end inside a character.
size_t incomplete_tail_start(std::string_view s);

// NFC normalisation of well-formed `s`. Returns the input when utf8proc refuses it.
std::string nfc(std::string_view s);

}  // namespace ream::utf8
