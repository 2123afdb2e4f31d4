// SHA-256 (FIPS 180-4), for content hashes of workflows and documents.
#pragma once

#include <string>
#include <string_view>

namespace ream::flow {

// Lower-case hex digest of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace ream::flow
