// What the ingest converters add to the common UTF-8 helpers (ream/common/utf8.h,
// included here): the Windows-1252 fallback for legacy bytes, the byte order mark and
// the binary-file test.
#pragma once

#include <cstddef>
#include <string_view>

#include "ream/common/utf8.h"

namespace ream::ingest {

// The Unicode character a Windows-1252 byte stands for (legacy files).
char32_t cp1252_to_unicode(unsigned char b);

// 3 when `bytes` starts with a UTF-8 byte order mark, else 0.
size_t bom_length(std::string_view bytes);

// True when `s` looks binary: a NUL byte in the first 8 KiB, more than 1% control
// bytes, or bytes that are not UTF-8 in a text less than 70% ASCII (a legacy
// 8-bit text is mostly ASCII and is read as Windows-1252 instead). Looks at the
// first 64 KiB.
bool looks_binary(std::string_view s, const char** why = nullptr);

}  // namespace ream::ingest
