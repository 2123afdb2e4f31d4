// Field checks, typed getters and Python-style JSON text for the OpenAI-compatible API.
#include "openai/protocol.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace ream::openai {

ApiError invalid(std::string param, std::string message) {
  return ApiError{400, "invalid_request", std::move(message), std::move(param)};
}

ApiError unsupported_parameter(std::string param, std::string why) {
  std::string message = "'" + param + "' is not supported by reamd";
  if (!why.empty()) message += ": " + why;
  return ApiError{400, "unsupported_parameter", std::move(message), std::move(param)};
}

ApiError unsupported_value(std::string param, std::string why) {
  return ApiError{400, "unsupported_value", "'" + param + "': " + why, std::move(param)};
}

std::string type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a number";
    default: return "an integer";
  }
}

Error check_fields(const Json& body, const std::vector<FieldRule>& rules, const std::string& prefix) {
  for (const auto& [key, value] : body.items()) {
    const FieldRule* rule = nullptr;
    for (const FieldRule& r : rules) {
      if (key == r.name) rule = &r;
    }
    const std::string param = prefix + key;
    if (rule == nullptr) {
      return ApiError{400, "unknown_parameter", "Unrecognized request argument supplied: " + param, param};
    }
    if (rule->use == FieldUse::kUnsupported && !value.is_null() && !(rule->harmless && rule->harmless(value))) {
      return unsupported_parameter(param, rule->why);
    }
  }
  return std::nullopt;
}

Error check_model(const Json& body, const ModelInfo& model) {
  if (!body.contains("model") || body["model"].is_null()) return std::nullopt;
  const Json& m = body["model"];
  if (!m.is_string()) return invalid("model", "'model' must be a string (got " + type_name(m) + ")");
  for (const std::string& name : model.names) {
    if (m.get<std::string>() == name) return std::nullopt;
  }
  return ApiError{404, "model_not_found",
                  "The model `" + m.get<std::string>() + "` does not exist; this server serves `" +
                      model.names.at(0) + "` (GET /v1/models)",
                  "model"};
}

Error get_bool(const Json& obj, const char* key, const std::string& param, bool* out) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  if (!obj[key].is_boolean()) {
    return invalid(param, "'" + param + "' must be true or false (got " + dump(obj[key]) + ")");
  }
  *out = obj[key].get<bool>();
  return std::nullopt;
}

Error get_string(const Json& obj, const char* key, const std::string& param, std::string* out) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  if (!obj[key].is_string()) {
    return invalid(param, "'" + param + "' must be a string (got " + type_name(obj[key]) + ")");
  }
  *out = obj[key].get<std::string>();
  return std::nullopt;
}

Error get_int(const Json& obj, const char* key, const std::string& param, int64_t lo, int64_t hi,
              int64_t* out) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  const Json& v = obj[key];
  bool ok = false;
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    ok = true;
    x = v.get<int64_t>();
  }
  if (!ok || x < lo || x > hi) {
    return invalid(param, "'" + param + "' must be an integer in " + std::to_string(lo) + ".." +
                              std::to_string(hi) + " (got " + dump(v) + ")");
  }
  *out = x;
  return std::nullopt;
}

Error get_number(const Json& obj, const char* key, const std::string& param, double lo, double hi,
                 bool lo_open, double* out) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  const Json& v = obj[key];
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  if (!(d <= hi && (lo_open ? d > lo : d >= lo))) {
    std::ostringstream range;
    range << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
    return invalid(param, "'" + param + "' must be a number in " + range.str() + " (got " + dump(v) + ")");
  }
  *out = d;
  return std::nullopt;
}

namespace {

void python_json_to(const Json& v, std::string* out) {
  if (v.is_object()) {
    *out += '{';
    bool first = true;
    for (const auto& [key, value] : v.items()) {
      if (!first) *out += ", ";
      first = false;
      *out += dump(Json(key));
      *out += ": ";
      python_json_to(value, out);
    }
    *out += '}';
  } else if (v.is_array()) {
    *out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) *out += ", ";
      python_json_to(v[i], out);
    }
    *out += ']';
  } else {
    *out += dump(v);
  }
}

}  // namespace

std::string python_json(const Json& value) {
  std::string out;
  python_json_to(value, &out);
  return out;
}

std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace ream::openai
