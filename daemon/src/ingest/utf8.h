// UTF-8 helpers shared by the ingest converters: validation, decoding, the
// Windows-1252 fallback for legacy bytes, and NFC through utf8proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ream::ingest {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view s);

// Number of bytes in `s` that are not part of a well-formed UTF-8 sequence.
int64_t count_invalid_utf8(std::string_view s);

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when invalid.
int utf8_seq_len(std::string_view s, size_t i);

// Decodes the code point at s[i] (must be valid); sets *len to its byte length.
char32_t utf8_decode(std::string_view s, size_t i, int* len);

// Appends the UTF-8 encoding of `cp` to `out`.
void utf8_append(std::string& out, char32_t cp);

// The Unicode character a Windows-1252 byte stands for (legacy files).
char32_t cp1252_to_unicode(unsigned char b);

// NFC of valid UTF-8 `s`.
std::string nfc(std::string_view s);

// 3 when `bytes` starts with a UTF-8 byte order mark, else 0.
size_t bom_length(std::string_view bytes);

// True when `s` looks binary: a NUL byte in the first 8 KiB, more than 1% control
// bytes, or bytes that are not UTF-8 in a text less than 70% ASCII (a legacy
// 8-bit text is mostly ASCII and is read as Windows-1252 instead). Looks at the
// first 64 KiB.
bool looks_binary(std::string_view s, const char** why = nullptr);

}  // namespace ream::ingest
