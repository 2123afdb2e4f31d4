// Bearer API-key authentication.
//
// Keys are configured as SHA-256 digests (hex), never in clear: `reamd hash-key`
// prints the digest of a key read from stdin. A presented key is hashed and
// compared with every configured digest in constant time (CRYPTO_memcmp, and no
// early exit), so neither the match nor its position leaks through timing.
//
// Thread-safety: immutable after construction; check() from any thread.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"
#include "ream/engine/status.h"

namespace ream::http {

enum class Role { kRead = 0, kSubmit = 1, kAdmin = 2 };
Result<Role> parse_role(const std::string& name);

struct ApiKey {
  std::string name;                  // who holds it; logged, never the key itself
  std::array<unsigned char, 32> sha256{};
  Role role = Role::kAdmin;
};

// Parses a 64-hex-digit SHA-256 digest (an optional "sha256:" prefix is allowed).
Result<std::array<unsigned char, 32>> parse_key_digest(std::string_view hex);

class Authenticator {
 public:
  Authenticator() = default;
  Authenticator(std::vector<ApiKey> keys, bool required)
      : keys_(std::move(keys)), required_(required) {}

  bool required() const { return required_; }
  size_t key_count() const { return keys_.size(); }

  enum class Outcome { kAllowed, kMissing, kInvalid, kForbidden };
  struct Decision {
    Outcome outcome = Outcome::kAllowed;
    std::string principal;  // the key's name when one matched
  };
  // `authorization` is the raw Authorization header value.
  Decision check(std::string_view authorization, Access access) const;

 private:
  std::vector<ApiKey> keys_;
  bool required_ = false;
};

}  // namespace ream::http
