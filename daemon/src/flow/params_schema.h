// Checks step parameters against a plugin's parameter schema: a JSON Schema
// subset (type, properties, required, default, enum, minimum, maximum, items,
// additionalProperties), enough for the flat `with:` objects workflows pass.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ream/engine/status.h"

namespace ream::flow {

// Checks one value against one property schema. Returns "" when it conforms,
// else what was expected ("must be an integer", "must be one of: a, b").
std::string check_value(const nlohmann::json& property_schema, const nlohmann::json& value);

// Names of the properties the schema declares, in order.
std::vector<std::string> schema_properties(const nlohmann::json& schema);
bool schema_allows_extra(const nlohmann::json& schema);
std::vector<std::string> schema_required(const nlohmann::json& schema);

// Validates resolved parameters and fills in defaults. Errors name the parameter.
Result<nlohmann::json> apply_schema(const nlohmann::json& schema, const nlohmann::json& params,
                                    const std::string& plugin);

}  // namespace ream::flow
