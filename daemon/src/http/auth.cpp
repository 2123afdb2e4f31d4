// Bearer API-key authentication with hashed keys and constant-time comparison.
#include "http/auth.h"

#include <openssl/crypto.h>

#include <strings.h>

#include <cctype>

#include "ream/common/sha256.h"

namespace ream::http {

Result<Role> parse_role(const std::string& name) {
  if (name == "read") return Role::kRead;
  if (name == "submit") return Role::kSubmit;
  if (name == "admin") return Role::kAdmin;
  return invalid_argument("unknown role '" + name + "' (expected read, submit or admin)");
}

Result<std::array<unsigned char, 32>> parse_key_digest(std::string_view hex) {
  if (hex.substr(0, 7) == "sha256:") hex.remove_prefix(7);
  if (hex.size() != 64) return invalid_argument("a key digest is 64 hex digits (sha256)");
  std::array<unsigned char, 32> out{};
  for (size_t i = 0; i < 32; ++i) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return invalid_argument("a key digest is 64 hex digits (sha256)");
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

Authenticator::Decision Authenticator::check(std::string_view authorization,
                                             Access access) const {
  Decision d;
  if (access == Access::kPublic) return d;
  std::string_view token;
  constexpr std::string_view kBearer = "Bearer ";
  bool has_bearer = authorization.size() > kBearer.size() &&
                    strncasecmp(authorization.data(), kBearer.data(), kBearer.size()) == 0;
  if (has_bearer) token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);

  const ApiKey* found = nullptr;
  if (!token.empty()) {
    auto digest = sha256(token);
    for (const ApiKey& k : keys_) {  // no early exit: every key is compared
      bool eq = CRYPTO_memcmp(digest.data(), k.sha256.data(), digest.size()) == 0;
      if (eq && found == nullptr) found = &k;
    }
  }
  if (found != nullptr) d.principal = found->name;
  if (!required_) return d;
  if (token.empty()) {
    d.outcome = Outcome::kMissing;
  } else if (found == nullptr) {
    d.outcome = Outcome::kInvalid;
  } else {
    Role need = access == Access::kAdmin    ? Role::kAdmin
                : access == Access::kSubmit ? Role::kSubmit
                                            : Role::kRead;
    if (static_cast<int>(found->role) < static_cast<int>(need)) d.outcome = Outcome::kForbidden;
  }
  return d;
}

}  // namespace ream::http
