// The JSON Schema Test Suite (npm json-schema-test-suite@0.0.10; its draft 4 files: the
// only published version of the suite that ships its files, see docs) against the JSON
// Schema compiler and the matcher. For every group whose schema compiles, each "valid"
// instance, written compactly and indented (JSON.stringify(v, null, 2) style), with
// object keys in the schema's property order (the order the grammar fixes), must be
// accepted byte by byte and complete; each "invalid" one must be rejected. Groups whose
// schema uses an unsupported keyword must fail to compile with an error naming it (they
// are listed as skipped); files of keywords we do not support at all are skipped whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "grammar/compile.h"
#include "grammar/json_gbnf.h"
#include "grammar/matcher.h"

namespace ream::grammar {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const char* const kSuiteDir = REAM_SOURCE_DIR "/tests/node/node_modules/json-schema-test-suite/tests/draft4";

// Files of keywords ream does not support (each group would be an "unsupported" error).
const std::map<std::string, std::string> kSkippedFiles = {
    {"dependencies.json", "dependencies is not supported"},
    {"maxProperties.json", "maxProperties is not supported"},
    {"minProperties.json", "minProperties is not supported"},
    {"multipleOf.json", "multipleOf is not supported"},
    {"not.json", "not is not supported"},
    {"patternProperties.json", "patternProperties is not supported"},
    {"uniqueItems.json", "uniqueItems is not supported"},
    {"refRemote.json", "remote $ref (http://localhost:1234/...) is not supported"},
    {"default.json", "default is an annotation: its groups are covered by properties.json"},
};

// Valid instances the grammar cannot write, by design (docs/constrained_decoding.md).
const std::map<std::string, std::string> kConservative = {
    {"minimum.json / exclusiveMinimum validation / above the minimum is still valid",
     "1.2 > 1.1: a non-integer number needs both integer neighbours in range (1 and 2 here; 1 is not)"},
};

std::string indent_str(int n) { return std::string(static_cast<size_t>(n) * 2, ' '); }

// Object keys in `order` first (schema order), then the rest as they came.
std::vector<std::string> key_order(const Json& obj, const std::vector<std::string>& order) {
  std::vector<std::string> keys;
  for (const std::string& k : order)
    if (obj.contains(k) && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
  return keys;
}

std::string write(const Json& v, const std::vector<std::string>& order, bool pretty, int depth = 0) {
  const std::string nl = pretty ? "\n" : "", sep = pretty ? ": " : ":";
  if (v.is_object() && !v.empty()) {
    std::string out = "{";
    bool first = true;
    for (const std::string& k : key_order(v, order)) {
      out += (first ? "" : ",") + nl + (pretty ? indent_str(depth + 1) : "") + Json(k).dump() + sep +
             write(v[k], order, pretty, depth + 1);
      first = false;
    }
    return out + nl + (pretty ? indent_str(depth) : "") + "}";
  }
  if (v.is_array() && !v.empty()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i)
      out += (i ? "," : "") + nl + (pretty ? indent_str(depth + 1) : "") + write(v[i], order, pretty, depth + 1);
    return out + nl + (pretty ? indent_str(depth) : "") + "]";
  }
  if (v.is_number()) return json_number_text(v);
  return v.dump();
}

void collect_property_order(const Json& s, std::vector<std::string>* out) {
  if (s.is_object()) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (it.key() == "properties" && it.value().is_object())
        for (auto p = it.value().begin(); p != it.value().end(); ++p) out->push_back(p.key());
      collect_property_order(it.value(), out);
    }
  } else if (s.is_array()) {
    for (const Json& x : s) collect_property_order(x, out);
  }
}

std::shared_ptr<const TokenVocab> byte_vocab() {
  static auto v = [] {
    std::vector<std::string> t;
    for (int b = 0; b < 256; ++b) t.push_back(std::string(1, static_cast<char>(b)));
    t.push_back("<eos>");
    return TokenVocab::from_bytes(t, {}, {256});
  }();
  return v;
}

bool accepts(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text) {
  Matcher m(g);
  return m.accept_bytes(text) && m.is_complete();
}

TEST(JsonSchemaSuite, Draft4ValidAcceptedInvalidRejected) {
  ASSERT_TRUE(fs::is_directory(kSuiteDir)) << kSuiteDir << " is missing: run scripts/setup.sh (npm ci in tests/node)";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kSuiteDir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int groups = 0, compiled = 0, checked = 0;
  std::vector<std::string> skipped;
  for (const fs::path& file : files) {
    const std::string name = file.filename().string();
    if (kSkippedFiles.count(name)) {
      skipped.push_back(name + " (whole file): " + kSkippedFiles.at(name));
      continue;
    }
    std::ifstream in(file);
    const Json suite = Json::parse(in);
    for (const Json& group : suite) {
      ++groups;
      const std::string gname = name + " / " + group["description"].get<std::string>();
      Result<std::string> gbnf = json_schema_to_gbnf(group["schema"].dump());
      if (!gbnf.ok()) {
        skipped.push_back(gname + ": " + gbnf.status().message());
        continue;
      }
      Result<Grammar> grammar = parse_gbnf(gbnf.value());
      ASSERT_TRUE(grammar.ok()) << gname << ": " << grammar.status().to_string() << "\n" << gbnf.value();
      auto g = CompiledGrammar::make(std::move(grammar).value(), byte_vocab());
      ++compiled;
      std::vector<std::string> order;
      collect_property_order(group["schema"], &order);
      for (const Json& t : group["tests"]) {
        const std::string tname = gname + " / " + t["description"].get<std::string>();
        if (kConservative.count(tname)) {
          skipped.push_back(tname + ": " + kConservative.at(tname));
          continue;
        }
        const bool valid = t["valid"].get<bool>();
        for (bool pretty : {false, true}) {
          const std::string text = write(t["data"], order, pretty);
          EXPECT_EQ(accepts(g, text), valid) << tname << (pretty ? " (indented)" : " (compact)") << "\ntext: " << text
                                             << "\nschema: " << group["schema"].dump();
          ++checked;
        }
      }
    }
  }
  for (const std::string& s : skipped) std::cout << "skipped: " << s << "\n";
  std::cout << groups << " groups, " << compiled << " compiled, " << checked << " instance texts checked\n";
  EXPECT_GT(checked, 250);
}

}  // namespace
}  // namespace ream::grammar
