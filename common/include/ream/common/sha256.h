// SHA-256 (OpenSSL's EVP digest): document ids, workflow content hashes, API key
// digests and request digests all hash the same way.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace ream {

// The 32-byte SHA-256 digest of `data`.
std::array<unsigned char, 32> sha256(std::string_view data);

// The digest as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace ream
