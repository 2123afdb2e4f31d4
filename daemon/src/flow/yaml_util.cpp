// YAML reading helpers with file:line:col errors.
#include "flow/yaml_util.h"

#include <cmath>
#include <regex>
#include <set>

namespace ream::flow {

using nlohmann::json;

SourcePos YamlErrors::pos_of(const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

void YamlErrors::add(const SourcePos& pos, const std::string& message) {
  std::string where = path_;
  if (pos.line > 0) where += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  messages_.push_back(where + ": " + message);
}

Status YamlErrors::status() const {
  if (messages_.empty()) return {};
  std::string all;
  for (const std::string& m : messages_) all += (all.empty() ? "" : "\n") + m;
  return invalid_argument(all);
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted: always a string
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kInt)) {
    try {
      return std::stoll(s);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return s;
}

json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (auto it = node.begin(); it != node.end(); ++it) out[it->first.Scalar()] = yaml_to_json(it->second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    default: return nullptr;
  }
}

std::optional<std::string> get_string(const YAML::Node& node, const std::string& what, YamlErrors& errors) {
  if (!node.IsScalar()) {
    errors.add(node, "'" + what + "' must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> get_int(const YAML::Node& node, const std::string& what, YamlErrors& errors) {
  json v = node.IsScalar() ? scalar_to_json(node) : json();
  if (!v.is_number_integer()) {
    errors.add(node, "'" + what + "' must be an integer");
    return std::nullopt;
  }
  return v.get<int64_t>();
}

std::optional<double> get_number(const YAML::Node& node, const std::string& what, YamlErrors& errors) {
  json v = node.IsScalar() ? scalar_to_json(node) : json();
  if (!v.is_number()) {
    errors.add(node, "'" + what + "' must be a number");
    return std::nullopt;
  }
  return v.get<double>();
}

std::optional<bool> get_bool(const YAML::Node& node, const std::string& what, YamlErrors& errors) {
  json v = node.IsScalar() ? scalar_to_json(node) : json();
  if (!v.is_boolean()) {
    errors.add(node, "'" + what + "' must be true or false");
    return std::nullopt;
  }
  return v.get<bool>();
}

std::optional<double> get_duration(const YAML::Node& node, const std::string& what, YamlErrors& errors) {
  static const std::regex kDuration("([0-9]+(\\.[0-9]+)?)(ms|s|m|h)?");
  std::smatch m;
  std::string s = node.IsScalar() ? node.Scalar() : "";
  if (!node.IsScalar() || !std::regex_match(s, m, kDuration)) {
    errors.add(node, "'" + what + "' must be a duration such as 30s, 500ms, 5m or 1h");
    return std::nullopt;
  }
  double v = std::stod(m[1].str());
  std::string unit = m[3].str();
  if (unit == "ms") return v / 1000;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  return v;
}

std::optional<int64_t> get_int_in(const YAML::Node& node, const std::string& what, int64_t lo, int64_t hi,
                                  YamlErrors& errors) {
  json v = node.IsScalar() ? scalar_to_json(node) : json();
  if (!v.is_number_integer()) {
    errors.add(node, "'" + what + "' must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return std::nullopt;
  }
  const int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) {
    errors.add(node, "'" + what + "' must be in " + std::to_string(lo) + ".." + std::to_string(hi) +
                         " (got " + node.Scalar() + ")");
    return std::nullopt;
  }
  return i;
}

std::optional<double> get_duration_in(const YAML::Node& node, const std::string& what, double max_s,
                                      YamlErrors& errors) {
  auto d = get_duration(node, what, errors);
  if (d && *d > max_s) {
    errors.add(node, "'" + what + "' must be at most " + std::to_string(static_cast<int64_t>(max_s)) +
                         "s (got " + node.Scalar() + ")");
    return std::nullopt;
  }
  return d;
}

void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                const std::string& where, YamlErrors& errors) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      errors.add(it->first, "duplicate key '" + key + "' in " + where);
      continue;
    }
    bool ok = false;
    for (const std::string& a : allowed) ok = ok || a == key;
    if (!ok) {
      errors.add(it->first, "unknown field '" + key + "' in " + where + " (expected one of: " +
                                join_names(allowed) + ")");
    }
  }
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace ream::flow
