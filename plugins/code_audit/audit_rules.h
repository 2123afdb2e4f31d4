// The rule catalogue code_audit offers the model: stable rule ids (what SARIF's
// ruleId and GitHub's alert grouping key on), a category, the CWE that applies
// and a default severity. The model may also report an issue outside the
// catalogue under its own short id; such ids are prefixed "other/".
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace audit {

struct Rule {
  const char* id;           // "sql-string-concatenation"
  const char* category;     // "security" | "reliability" | "performance"
  const char* cwe;          // "CWE-89", or "" when none applies
  int default_severity;     // REAM_SEVERITY_*
  const char* description;  // one line, shown to the model and in SARIF
};

std::span<const Rule> audit_rules();
const Rule* find_rule(std::string_view id);

// "CWE-89" from "cwe-89", "89", "CWE 89"; "" when not a CWE id.
std::string normalise_cwe(std::string_view text);
// A rule id from free text: lower case, [a-z0-9-], at most 64 bytes.
std::string slug(std::string_view text);

}  // namespace audit
