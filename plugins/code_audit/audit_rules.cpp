// code_audit's rule catalogue.
#include "audit_rules.h"

#include <array>
#include <cctype>

#include "ream/plugin.h"

namespace audit {

namespace {

constexpr std::array<Rule, 24> kRules = {{
    // security
    {"sql-string-concatenation", "security", "CWE-89", REAM_SEVERITY_HIGH,
     "SQL built by string concatenation or formatting with untrusted input instead of bound parameters"},
    {"command-injection", "security", "CWE-78", REAM_SEVERITY_HIGH,
     "A shell command built from untrusted input (system, popen, subprocess with shell=True, exec)"},
    {"path-traversal", "security", "CWE-22", REAM_SEVERITY_HIGH,
     "A file path built from untrusted input without confining it to a base directory"},
    {"hardcoded-secret", "security", "CWE-798", REAM_SEVERITY_HIGH,
     "A password, API key, token or private key written in the source"},
    {"unsafe-deserialization", "security", "CWE-502", REAM_SEVERITY_HIGH,
     "Deserialising untrusted data with a format that can run code (pickle, yaml.load, Java serialization)"},
    {"weak-crypto", "security", "CWE-327", REAM_SEVERITY_MEDIUM,
     "A broken or weak algorithm (MD5, SHA-1 for signatures, DES, ECB mode) used for security"},
    {"insecure-random", "security", "CWE-338", REAM_SEVERITY_MEDIUM,
     "A non-cryptographic random generator used for secrets, tokens or keys"},
    {"xss-unescaped-output", "security", "CWE-79", REAM_SEVERITY_HIGH,
     "Untrusted input written into HTML without escaping"},
    {"ssrf", "security", "CWE-918", REAM_SEVERITY_HIGH, "A server-side request to a URL taken from untrusted input"},
    {"tls-verification-disabled", "security", "CWE-295", REAM_SEVERITY_HIGH,
     "TLS certificate or host-name verification turned off"},
    {"buffer-overflow", "security", "CWE-120", REAM_SEVERITY_HIGH,
     "A copy into a fixed-size buffer without a bounds check (strcpy, sprintf, memcpy with untrusted length)"},
    {"integer-overflow", "security", "CWE-190", REAM_SEVERITY_MEDIUM,
     "Arithmetic on sizes or counts that can overflow before an allocation or bounds check"},
    {"sensitive-data-logged", "security", "CWE-532", REAM_SEVERITY_MEDIUM,
     "Passwords, tokens or personal data written to logs"},
    // reliability
    {"unchecked-error", "reliability", "CWE-252", REAM_SEVERITY_MEDIUM,
     "The result or error of a call that can fail is ignored"},
    {"swallowed-exception", "reliability", "CWE-390", REAM_SEVERITY_MEDIUM,
     "An exception caught and silently discarded (empty catch/except, catch-all without handling)"},
    {"resource-leak", "reliability", "CWE-772", REAM_SEVERITY_MEDIUM,
     "A file, socket, lock or handle not released on every path (no RAII, with, defer or finally)"},
    {"null-dereference", "reliability", "CWE-476", REAM_SEVERITY_MEDIUM,
     "A pointer or optional value used without checking that it is present"},
    {"race-condition", "reliability", "CWE-362", REAM_SEVERITY_HIGH,
     "Shared mutable state accessed from several threads or tasks without synchronisation"},
    {"unbounded-resource-use", "reliability", "CWE-400", REAM_SEVERITY_MEDIUM,
     "Input-controlled size, recursion or allocation without a limit"},
    // performance
    {"regex-recompiled-in-loop", "performance", "", REAM_SEVERITY_LOW,
     "A regular expression compiled on every iteration or call instead of once"},
    {"whole-file-read", "performance", "CWE-400", REAM_SEVERITY_LOW,
     "A whole file or response read into memory where streaming it (a generator, a buffered reader) would do"},
    {"blocking-io-in-async", "performance", "", REAM_SEVERITY_MEDIUM,
     "Blocking I/O or sleep inside an async handler or event loop (stalls every other request)"},
    {"quadratic-loop", "performance", "", REAM_SEVERITY_LOW,
     "Quadratic work where a linear algorithm is straightforward (repeated search or concatenation in a loop)"},
    {"n-plus-one-query", "performance", "", REAM_SEVERITY_MEDIUM,
     "One database query per item in a loop instead of a single batched query"},
}};

}  // namespace

std::span<const Rule> audit_rules() { return kRules; }

const Rule* find_rule(std::string_view id) {
  std::string s = slug(id);
  for (const Rule& r : kRules) {
    if (s == r.id) return &r;
  }
  return nullptr;
}

std::string normalise_cwe(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
    else if (!digits.empty()) break;
  }
  if (digits.empty() || digits.size() > 5) return "";
  std::string letters;
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) letters += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!letters.empty() && letters != "cwe") return "";
  return "CWE-" + std::to_string(std::stoi(digits));
}

std::string slug(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '-') out += '-';
    if (out.size() >= 64) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace audit
