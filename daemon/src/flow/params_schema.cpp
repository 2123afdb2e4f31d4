// Parameter schema checks (a JSON Schema subset).
#include "flow/params_schema.h"

namespace ream::flow {

using nlohmann::json;

namespace {

bool is_type(const std::string& type, const json& v) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  if (type == "null") return v.is_null();
  return true;
}

std::string article(const std::string& type) {
  return (type == "integer" || type == "array" || type == "object") ? "an " + type : "a " + type;
}

}  // namespace

std::string check_value(const json& schema, const json& v) {
  if (!schema.is_object()) return "";
  if (schema.contains("type") && schema["type"].is_string()) {
    std::string type = schema["type"].get<std::string>();
    if (!is_type(type, v)) return "must be " + article(type);
  }
  if (schema.contains("enum") && schema["enum"].is_array()) {
    bool found = false;
    std::string list;
    for (const json& e : schema["enum"]) {
      found = found || e == v;
      list += (list.empty() ? "" : ", ") + (e.is_string() ? e.get<std::string>() : e.dump());
    }
    if (!found) return "must be one of: " + list;
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (schema.contains("minimum") && schema["minimum"].is_number() && d < schema["minimum"].get<double>()) {
      return "must be at least " + schema["minimum"].dump();
    }
    if (schema.contains("maximum") && schema["maximum"].is_number() && d > schema["maximum"].get<double>()) {
      return "must be at most " + schema["maximum"].dump();
    }
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && schema["minItems"].is_number() &&
        v.size() < schema["minItems"].get<size_t>()) {
      return "must have at least " + schema["minItems"].dump() + " items";
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        std::string e = check_value(schema["items"], v[i]);
        if (!e.empty()) return "item " + std::to_string(i) + " " + e;
      }
    }
  }
  return "";
}

std::vector<std::string> schema_properties(const json& schema) {
  std::vector<std::string> out;
  if (schema.is_object() && schema.contains("properties") && schema["properties"].is_object()) {
    for (const auto& [k, v] : schema["properties"].items()) out.push_back(k);
  }
  return out;
}

bool schema_allows_extra(const json& schema) {
  return schema.is_object() && schema.contains("additionalProperties") &&
         schema["additionalProperties"] == true;
}

std::vector<std::string> schema_required(const json& schema) {
  std::vector<std::string> out;
  if (schema.is_object() && schema.contains("required") && schema["required"].is_array()) {
    for (const json& r : schema["required"]) {
      if (r.is_string()) out.push_back(r.get<std::string>());
    }
  }
  return out;
}

Result<json> apply_schema(const json& schema, const json& params, const std::string& plugin) {
  json out = params.is_object() ? params : json::object();
  const json props = schema.is_object() && schema.contains("properties") ? schema["properties"] : json::object();
  for (const auto& [name, value] : out.items()) {
    if (!props.contains(name)) {
      if (schema_allows_extra(schema)) continue;
      return invalid_argument("unknown parameter '" + name + "' for plugin '" + plugin + "'");
    }
    std::string err = check_value(props[name], value);
    if (!err.empty()) {
      return invalid_argument("parameter '" + name + "' of plugin '" + plugin + "' " + err +
                              " (got " + value.dump() + ")");
    }
  }
  for (const auto& [name, prop] : props.items()) {
    if (!out.contains(name) && prop.is_object() && prop.contains("default")) out[name] = prop["default"];
  }
  for (const std::string& r : schema_required(schema)) {
    if (!out.contains(r) || out[r].is_null()) {
      return invalid_argument("missing required parameter '" + r + "' for plugin '" + plugin + "'");
    }
  }
  return out;
}

}  // namespace ream::flow
