// ajv (npm, JSON Schema draft 2020-12, strict mode) as the independent judge of the
// reply schemas: tests hand it schemas and instances through
// tests/node/validate_json_schema.cjs and read back what compiled and what validated.
// And of SARIF logs: sarif_schema_errors() holds one against the SARIF 2.1.0 JSON schema
// through tests/node/validate_sarif.cjs.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace ream::test {

// {"schemas": {name: "ok" | error}, "instances": [{"ok", "errors"}]} for `cases`
// ({"schemas": {name: schema}, "instances": [{"schema": name, "data": any}]}); null
// after an ADD_FAILURE when node or ajv cannot be run.
inline nlohmann::json run_ajv(const nlohmann::json& cases) {
  const std::string dir = REAM_NODE_DIR;
  if (!std::filesystem::exists(dir + "/node_modules/ajv/package.json")) {
    ADD_FAILURE() << "ajv is not installed in " << dir << "/node_modules: run scripts/setup.sh (npm ci there)";
    return nullptr;
  }
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("ream-ajv-" + std::to_string(std::random_device{}()) + ".json")).string();
  std::ofstream(file) << cases.dump();
  std::string out;
  if (FILE* f = popen(("node " + dir + "/validate_json_schema.cjs " + file + " 2>&1").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int rc = pclose(f);
    std::filesystem::remove(file);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (rc == 0 && j.is_object()) return j;
  }
  ADD_FAILURE() << "node validate_json_schema.cjs failed: " << out;
  return nullptr;
}

// "" when `log` is valid against the SARIF 2.1.0 schema, else the validator's errors
// (or why it could not run).
inline std::string sarif_schema_errors(const nlohmann::json& log) {
  const std::string dir = REAM_NODE_DIR;
  if (!std::filesystem::exists(dir + "/node_modules/ajv-draft-04/package.json")) {
    return "ajv-draft-04 is not installed in " + dir + "/node_modules: run scripts/setup.sh (npm ci there)";
  }
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("ream-sarif-" + std::to_string(std::random_device{}()) + ".json")).string();
  std::ofstream(file) << log.dump();
  std::string out;
  int rc = -1;
  if (FILE* f = popen(("node " + dir + "/validate_sarif.cjs " + file + " 2>&1").c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    rc = pclose(f);
  }
  std::filesystem::remove(file);
  return rc == 0 && out == "ok\n" ? "" : "validate_sarif.cjs: " + out;
}

}  // namespace ream::test
