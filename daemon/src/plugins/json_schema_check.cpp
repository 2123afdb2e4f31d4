// JSON Schema structure: known keywords, their value types, local references and
// patterns. One recursive walk; the first problem found is reported.
#include "plugins/json_schema_check.h"

#include <map>
#include <regex>
#include <set>

namespace ream::plugins {

using nlohmann::json;

namespace {

// How a keyword's value must look.
enum class Want {
  kSchema,         // a schema (object or boolean)
  kSchemaArray,    // a non-empty array of schemas
  kSchemaMap,      // an object whose values are schemas
  kType,           // a type name or a non-empty array of distinct type names
  kString,
  kBoolean,
  kNumber,
  kPositive,       // a number > 0
  kCount,          // a non-negative integer
  kStringArray,    // an array of distinct strings
  kNonEmptyArray,  // enum
  kAny,            // const, default
  kArray,          // examples
  kObject,         // $vocabulary
  kStringArrayMap, // dependentRequired
  kPattern,        // a regular expression (ECMA-262, as JSON Schema says)
  kRef,            // a reference
};

const std::map<std::string, Want>& keywords() {
  static const std::map<std::string, Want> k = {
      // core
      {"$schema", Want::kString}, {"$id", Want::kString}, {"$ref", Want::kRef}, {"$defs", Want::kSchemaMap},
      {"definitions", Want::kSchemaMap}, {"$comment", Want::kString}, {"$anchor", Want::kString},
      {"$dynamicRef", Want::kString}, {"$dynamicAnchor", Want::kString}, {"$vocabulary", Want::kObject},
      // applicators
      {"allOf", Want::kSchemaArray}, {"anyOf", Want::kSchemaArray}, {"oneOf", Want::kSchemaArray},
      {"not", Want::kSchema}, {"if", Want::kSchema}, {"then", Want::kSchema}, {"else", Want::kSchema},
      {"properties", Want::kSchemaMap}, {"patternProperties", Want::kSchemaMap},
      {"additionalProperties", Want::kSchema}, {"propertyNames", Want::kSchema}, {"items", Want::kSchema},
      {"prefixItems", Want::kSchemaArray}, {"contains", Want::kSchema}, {"dependentSchemas", Want::kSchemaMap},
      {"unevaluatedItems", Want::kSchema}, {"unevaluatedProperties", Want::kSchema},
      // validation
      {"type", Want::kType}, {"enum", Want::kNonEmptyArray}, {"const", Want::kAny},
      {"multipleOf", Want::kPositive}, {"maximum", Want::kNumber}, {"exclusiveMaximum", Want::kNumber},
      {"minimum", Want::kNumber}, {"exclusiveMinimum", Want::kNumber}, {"maxLength", Want::kCount},
      {"minLength", Want::kCount}, {"pattern", Want::kPattern}, {"maxItems", Want::kCount},
      {"minItems", Want::kCount}, {"uniqueItems", Want::kBoolean}, {"maxContains", Want::kCount},
      {"minContains", Want::kCount}, {"maxProperties", Want::kCount}, {"minProperties", Want::kCount},
      {"required", Want::kStringArray}, {"dependentRequired", Want::kStringArrayMap},
      // format and metadata
      {"format", Want::kString}, {"title", Want::kString}, {"description", Want::kString},
      {"default", Want::kAny}, {"deprecated", Want::kBoolean}, {"readOnly", Want::kBoolean},
      {"writeOnly", Want::kBoolean}, {"examples", Want::kArray},
      {"contentEncoding", Want::kString}, {"contentMediaType", Want::kString}, {"contentSchema", Want::kSchema},
  };
  return k;
}

const std::set<std::string> kTypeNames = {"null", "boolean", "object", "array", "number", "string", "integer"};

// "~" and "/" escaped as a JSON Pointer reference token.
std::string escape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

class Checker {
 public:
  explicit Checker(const json& root) : root_(root) {}

  std::optional<SchemaProblem> schema(const json& s, const std::string& at) {
    if (s.is_boolean()) return std::nullopt;
    if (!s.is_object()) return problem(at, "a schema must be an object or a boolean (got " + kind(s) + ")");
    for (const auto& [key, value] : s.items()) {
      auto it = keywords().find(key);
      const std::string here = at + "/" + escape(key);
      if (it == keywords().end()) return problem(here, "unknown keyword '" + key + "'");
      if (auto p = keyword(key, it->second, value, here)) return p;
    }
    for (const char* pair : {"Items", "Length", "Properties", "Contains"}) {
      const std::string lo = std::string("min") + pair, hi = std::string("max") + pair;
      if (s.contains(lo) && s.contains(hi) && s[lo].get<double>() > s[hi].get<double>()) {
        return problem(at + "/" + lo, lo + " " + s[lo].dump() + " is greater than " + hi + " " + s[hi].dump());
      }
    }
    if (s.contains("minimum") && s.contains("maximum") && s["minimum"].get<double>() > s["maximum"].get<double>()) {
      return problem(at + "/minimum", "minimum " + s["minimum"].dump() + " is greater than maximum " + s["maximum"].dump());
    }
    return std::nullopt;
  }

 private:
  static std::optional<SchemaProblem> problem(const std::string& at, std::string message) {
    return SchemaProblem{at, std::move(message)};
  }
  static std::string kind(const json& v) {
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    return std::string(v.is_object() ? "an " : "a ") + v.type_name();
  }

  std::optional<SchemaProblem> keyword(const std::string& key, Want want, const json& v, const std::string& at) {
    auto need = [&](const std::string& what) { return problem(at, "'" + key + "' must be " + what + " (got " + kind(v) + ")"); };
    switch (want) {
      case Want::kSchema: return schema(v, at);
      case Want::kSchemaArray:
        if (!v.is_array() || v.empty()) return need("a non-empty array of schemas");
        for (size_t i = 0; i < v.size(); ++i) {
          if (auto p = schema(v[i], at + "/" + std::to_string(i))) return p;
        }
        return std::nullopt;
      case Want::kSchemaMap:
        if (!v.is_object()) return need("an object of schemas");
        for (const auto& [name, sub] : v.items()) {
          if (key == "patternProperties") {
            if (auto p = regex(name, at + "/" + escape(name), "patternProperties name")) return p;
          }
          if (auto p = schema(sub, at + "/" + escape(name))) return p;
        }
        return std::nullopt;
      case Want::kType: {
        std::vector<json> names = v.is_array() ? std::vector<json>(v.begin(), v.end()) : std::vector<json>{v};
        std::set<std::string> seen;
        if (v.is_array() && v.empty()) return need("a type name or a non-empty array of type names");
        for (const json& n : names) {
          if (!n.is_string() || !kTypeNames.count(n.get<std::string>())) {
            return problem(at, "'type' must be one of null, boolean, object, array, number, string, integer "
                               "(or an array of them); got " + n.dump());
          }
          if (!seen.insert(n.get<std::string>()).second) return problem(at, "'type' lists " + n.dump() + " twice");
        }
        return std::nullopt;
      }
      case Want::kString: return v.is_string() ? std::nullopt : need("a string");
      case Want::kBoolean: return v.is_boolean() ? std::nullopt : need("true or false");
      case Want::kNumber: return v.is_number() ? std::nullopt : need("a number");
      case Want::kPositive: return v.is_number() && v.get<double>() > 0 ? std::nullopt : need("a number greater than 0");
      case Want::kCount:
        return (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) ? std::nullopt
                                                                                           : need("a non-negative integer");
      case Want::kStringArray: {
        if (!v.is_array()) return need("an array of strings");
        std::set<std::string> seen;
        for (const json& n : v) {
          if (!n.is_string()) return need("an array of strings");
          if (!seen.insert(n.get<std::string>()).second) return problem(at, "'" + key + "' lists " + n.dump() + " twice");
        }
        return std::nullopt;
      }
      case Want::kNonEmptyArray: return v.is_array() && !v.empty() ? std::nullopt : need("a non-empty array");
      case Want::kAny: return std::nullopt;
      case Want::kArray: return v.is_array() ? std::nullopt : need("an array");
      case Want::kObject: return v.is_object() ? std::nullopt : need("an object");
      case Want::kStringArrayMap:
        if (!v.is_object()) return need("an object of string arrays");
        for (const auto& [name, list] : v.items()) {
          if (auto p = keyword(key, Want::kStringArray, list, at + "/" + escape(name))) return p;
        }
        return std::nullopt;
      case Want::kPattern:
        if (!v.is_string()) return need("a string");
        return regex(v.get<std::string>(), at, "'pattern'");
      case Want::kRef:
        if (!v.is_string()) return need("a string");
        return reference(v.get<std::string>(), at);
    }
    return std::nullopt;
  }

  static std::optional<SchemaProblem> regex(const std::string& text, const std::string& at, const std::string& what) {
    try {
      std::regex re(text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return problem(at, what + " is not a valid regular expression: " + text);
    }
    return std::nullopt;
  }

  // Local references only: "#" or "#/json/pointer", which must resolve.
  std::optional<SchemaProblem> reference(const std::string& ref, const std::string& at) {
    if (ref.empty() || ref[0] != '#') {
      return problem(at, "'$ref' \"" + ref + "\": only local references (\"#/$defs/name\") are supported");
    }
    if (ref == "#") return std::nullopt;
    try {
      const json::json_pointer ptr(ref.substr(1));
      if (root_.contains(ptr)) return std::nullopt;
    } catch (const json::exception&) {
    }
    return problem(at, "'$ref' \"" + ref + "\" does not resolve to anything in this schema");
  }

  const json& root_;
};

}  // namespace

std::optional<SchemaProblem> check_json_schema(const json& schema) {
  if (!schema.is_object()) {
    return SchemaProblem{"", std::string("a reply schema must be a JSON object (got ") + schema.type_name() + ")"};
  }
  return Checker(schema).schema(schema, "");
}

}  // namespace ream::plugins
