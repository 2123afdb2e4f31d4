// A structural check of JSON Schema documents (2020-12 vocabulary, plus draft-07's
// `definitions`): reply schemas that workflows declare and plugins attach to their
// prompts are checked before anything runs, so a misspelt keyword, a wrongly typed
// value, an unresolvable local $ref or a regular expression that does not compile
// is an error naming the place, not a schema the engine silently reads differently.
// It does not validate instances; which keywords the engine can enforce is the
// engine's to say when a request is submitted.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ream::plugins {

struct SchemaProblem {
  std::string pointer;  // JSON Pointer of the offending keyword's value ("/properties/risk/enum"); "" = the root
  std::string message;  // what is wrong, naming the keyword
};

// The first problem of `schema` as a JSON Schema, or nullopt when it is well formed.
// The root must be an object (a reply schema describes one JSON document).
std::optional<SchemaProblem> check_json_schema(const nlohmann::json& schema);

}  // namespace ream::plugins
