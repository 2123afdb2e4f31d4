// Helpers for reading workflow YAML with positions: errors collected as
// "file:line:col: message", scalars typed as JSON values.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flow/workflow.h"

namespace ream::flow {

class YamlErrors {
 public:
  explicit YamlErrors(std::string path) : path_(std::move(path)) {}
  void add(const SourcePos& pos, const std::string& message);
  void add(const YAML::Node& node, const std::string& message) { add(pos_of(node), message); }
  bool empty() const { return messages_.empty(); }
  Status status() const;
  const std::string& path() const { return path_; }

  static SourcePos pos_of(const YAML::Node& node);

 private:
  std::string path_;
  std::vector<std::string> messages_;
};

// A YAML scalar as JSON: quoted scalars are strings; plain ones may be null,
// booleans, integers or floats (YAML 1.2 core schema); otherwise strings.
nlohmann::json scalar_to_json(const YAML::Node& node);
// Any YAML node as JSON (maps, sequences, scalars).
nlohmann::json yaml_to_json(const YAML::Node& node);

// Reads scalar fields, adding "'<what>' must be ..." errors on the wrong type.
std::optional<std::string> get_string(const YAML::Node& node, const std::string& what, YamlErrors& errors);
std::optional<int64_t> get_int(const YAML::Node& node, const std::string& what, YamlErrors& errors);
std::optional<double> get_number(const YAML::Node& node, const std::string& what, YamlErrors& errors);
std::optional<bool> get_bool(const YAML::Node& node, const std::string& what, YamlErrors& errors);
// "30s", "500ms", "2m", "1h" or a number of seconds.
std::optional<double> get_duration(const YAML::Node& node, const std::string& what, YamlErrors& errors);
// As get_int and get_duration, and also "'<what>' must be in lo..hi (got v)" when the
// value is out of range; nullopt then, so no caller ever narrows an unchecked value.
std::optional<int64_t> get_int_in(const YAML::Node& node, const std::string& what, int64_t lo, int64_t hi,
                                  YamlErrors& errors);
std::optional<double> get_duration_in(const YAML::Node& node, const std::string& what, double max_s,
                                      YamlErrors& errors);

// Checks that a mapping has only `allowed` keys (and no key twice).
void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                const std::string& where, YamlErrors& errors);

std::string join_names(const std::vector<std::string>& names);

}  // namespace ream::flow
