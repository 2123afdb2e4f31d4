// Random walks over Qwen3's real vocabulary under JSON Schema constraints: each step
// picks uniformly among the tokens the mask allows. Every finished output must parse
// (JSON.parse) and validate (ajv 8 + ajv-formats, through node): legal_review's findings
// schema, hand-written schemas covering each supported keyword, and fuzzed schemas.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "constraint_test_util.h"

namespace ream::testing {
namespace {

using nlohmann::json;

struct Walked {
  json schema;
  std::vector<std::string> outputs;  // finished walks only
  int walks = 0;
};

// Walks `schema` `n` times; returns the finished outputs. `budgeted`: the masks hold
// each walk to max_tokens, so every walk must finish.
Walked walk_schema(const json& schema, int n, int max_tokens, std::mt19937& rng, bool budgeted = false) {
  Walked w;
  w.schema = schema;
  grammar::GrammarCache cache(qwen_vocab());
  auto g = cache.get(Constraint{Constraint::Kind::kJsonSchema, schema.dump()});
  EXPECT_TRUE(g.ok()) << g.status().to_string() << "\n" << schema.dump(2);
  if (!g.ok()) return w;
  for (int i = 0; i < n; ++i) {
    bool finished = false;
    std::string text = random_walk(*g, rng, max_tokens, &finished, nullptr, budgeted);
    ++w.walks;
    if (finished) w.outputs.push_back(text);
    if (budgeted) {
      EXPECT_TRUE(finished) << "a budgeted walk of " << max_tokens << " tokens ended incomplete: " << text;
    }
  }
  return w;
}

void validate_all(std::vector<Walked>& walked, size_t min_finished) {
  std::vector<AjvCase> cases;
  size_t finished = 0;
  for (const Walked& w : walked) {
    cases.push_back({w.schema, w.outputs, {}, ""});
    finished += w.outputs.size();
  }
  ASSERT_GE(finished, min_finished) << "too few walks finished to test anything";
  run_ajv(&cases);
  for (const AjvCase& c : cases) {
    ASSERT_EQ(c.schema_error, "") << c.schema.dump();
    ASSERT_EQ(c.results.size(), c.texts.size());
    for (size_t i = 0; i < c.texts.size(); ++i) {
      EXPECT_TRUE(c.results[i].parsed) << c.results[i].errors << "\nschema " << c.schema.dump() << "\ntext " << c.texts[i];
      EXPECT_TRUE(c.results[i].valid) << c.results[i].errors << "\nschema " << c.schema.dump() << "\ntext " << c.texts[i];
    }
  }
}

json legal_review_schema() {
  std::ifstream in(REAM_TEST_DATA_DIR "/schemas/legal_review_findings.json");
  return json::parse(in);
}

TEST(ConstrainedWalk, LegalReviewFindingsValidate) {
  std::mt19937 rng(std::random_device{}());
  json s = legal_review_schema();
  // Short strings keep walks short: the uniform walk over ~90,000 string tokens rarely
  // picks a closing quote; maxLength bounds them without changing anything else.
  s["$defs"]["finding"]["properties"]["rationale"]["maxLength"] = 40;
  // Budgeted as the engine budgets replies, so every walk finishes (unbudgeted, a walk
  // may spend all 6,000 tokens inside one free string).
  std::vector<Walked> walked = {walk_schema(legal_review_schema(), 2, 6000, rng, /*budgeted=*/true),
                                walk_schema(s, 4, 6000, rng, /*budgeted=*/true)};
  validate_all(walked, 6);
}

json fuzz_schema(std::mt19937& rng, int depth);

// The engine's reply budget: with the masks bounded by the tokens left, a uniform walk
// (which left alone writes thousands of tokens into one string) ends complete and valid
// within max_tokens, for budgets from the schema's shortest output upwards.
TEST(ConstrainedWalk, BudgetedWalksFinishValidWithinMaxTokens) {
  std::mt19937 rng(std::random_device{}());
  grammar::GrammarCache cache(qwen_vocab());
  const json schema = legal_review_schema();
  auto g = cache.get(Constraint{Constraint::Kind::kJsonSchema, schema.dump()});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const int64_t shortest = grammar::Matcher(*g).tokens_to_complete();
  ASSERT_GT(shortest, 2);
  ASSERT_LT(shortest, 200);
  std::vector<Walked> walked;
  for (int budget : {static_cast<int>(shortest), static_cast<int>(shortest) + 7, 120, 300})
    walked.push_back(walk_schema(schema, 2, budget, rng, /*budgeted=*/true));
  // Fuzzed schemas whose shortest output fits 64 tokens.
  for (int i = 0; i < 12; ++i) {
    const json s = fuzz_schema(rng, 3);
    auto fg = cache.get(Constraint{Constraint::Kind::kJsonSchema, s.dump()});
    ASSERT_TRUE(fg.ok()) << fg.status().to_string();
    if (grammar::Matcher(*fg).tokens_to_complete() > 64) continue;
    walked.push_back(walk_schema(s, 2, 64, rng, /*budgeted=*/true));
  }
  for (const Walked& w : walked) EXPECT_EQ(w.outputs.size(), static_cast<size_t>(w.walks)) << w.schema.dump();
  validate_all(walked, 8);
}

TEST(ConstrainedWalk, EachKeywordValidates) {
  std::mt19937 rng(std::random_device{}());
  const char* schemas[] = {
      R"({"type":"object","properties":{"a":{"type":"integer","minimum":-37,"maximum":1250},
          "b":{"type":"number","exclusiveMinimum":-2.5,"maximum":3},"c":{"type":"integer","exclusiveMaximum":0}},
          "required":["a","b","c"],"additionalProperties":false})",
      R"({"type":"object","properties":{"d":{"type":"string","format":"date"},"t":{"type":"string","format":"time"},
          "dt":{"type":"string","format":"date-time"},"e":{"type":"string","format":"email"},
          "u":{"type":"string","format":"uuid"},"ip":{"type":"string","format":"ipv4"},
          "h":{"type":"string","format":"hostname"},"uri":{"type":"string","format":"uri"},
          "ip6":{"type":"string","format":"ipv6"}},
          "required":["d","t","dt","e","u","ip","h","uri","ip6"],"additionalProperties":false})",
      R"({"type":"object","properties":{"p":{"type":"string","pattern":"^[A-Z]{2}-\\d{3}(x|yz)?$"},
          "q":{"type":"string","pattern":"^(\"|\\\\|[a-c])+$"},"r":{"type":"string","minLength":2,"maxLength":5}},
          "required":["p","q","r"],"additionalProperties":false})",
      R"({"type":"array","prefixItems":[{"type":"boolean"},{"type":"null"}],"items":{"enum":["x",1,[2,{"k":null}]]},
          "minItems":3,"maxItems":6})",
      R"({"type":"object","properties":{"kind":{"const":"leaf"},"n":{"type":["integer","null"]}},"required":["kind"]})",
      R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},
          "kids":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/node"}}},"required":["v","kids"],
          "additionalProperties":false}},"$ref":"#/$defs/node"})",
      R"({"oneOf":[{"type":"string","maxLength":3},{"type":"integer"},{"type":"object","properties":{"t":{"const":1}},
          "required":["t"],"additionalProperties":false}]})",
      R"({"anyOf":[{"type":"boolean"},{"allOf":[{"type":"array","items":{"type":"integer"},"maxItems":3}]}]})",
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":4}},"required":["name"],
          "additionalProperties":{"type":"integer","minimum":0,"maximum":5}})",
      R"({"type":"object","properties":{"a":{"type":"string","maxLength":3},"b":{"type":"boolean"}}})",
  };
  std::vector<Walked> walked;
  for (const char* s : schemas) walked.push_back(walk_schema(json::parse(s), 4, 1500, rng));
  validate_all(walked, 20);
}

// A random schema of the supported keywords (depth-limited).
json fuzz_schema(std::mt19937& rng, int depth) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const int kind = depth <= 0 ? pick(6) : pick(10);
  switch (kind) {
    case 0: {
      json s = {{"type", "string"}};
      if (pick(2)) s["maxLength"] = pick(6);
      if (pick(2)) s["minLength"] = pick(3);
      if (s.contains("maxLength") && s.contains("minLength") && s["maxLength"] < s["minLength"]) s.erase("minLength");
      if (!s.contains("maxLength")) s["maxLength"] = 8;
      return s;
    }
    case 1: {
      const char* f[] = {"date", "time", "date-time", "email", "uuid", "ipv4", "hostname", "uri"};
      return {{"type", "string"}, {"format", f[pick(8)]}};
    }
    case 2: {
      json s = {{"type", pick(2) ? "integer" : "number"}};
      const int lo = pick(200) - 100, hi = lo + pick(300);
      if (pick(3)) s[pick(2) ? "minimum" : "exclusiveMinimum"] = lo + (s["type"] == "number" && pick(2) ? 0.5 : 0);
      if (pick(3)) s[pick(2) ? "maximum" : "exclusiveMaximum"] = hi + 1;
      return s;
    }
    case 3: return {{"type", pick(2) ? "boolean" : "null"}};
    case 4: {
      const char* p[] = {"^[a-z]{1,4}$", "^\\d{2}(-\\d{2})?$", "^(ab|cd)+$", "^[^a-z\"]{1,3}$", "^\\w\\s\\W$", "^.{0,3}$"};
      return {{"type", "string"}, {"pattern", p[pick(6)]}};
    }
    case 5: {
      json values = json::array();
      for (int i = 0, n = 1 + pick(4); i < n; ++i) {
        const int t = pick(4);
        json v = t == 0 ? json("v" + std::to_string(pick(100))) : t == 1 ? json(pick(50) - 25) : t == 2 ? json(pick(2) == 1) : json(nullptr);
        if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
      }
      return pick(2) ? json{{"enum", values}} : json{{"const", values[0]}};
    }
    case 6: case 7: {
      json props = json::object(), req = json::array();
      for (int i = 0, n = pick(4); i < n; ++i) {
        const std::string k = std::string(1, static_cast<char>('a' + pick(6))) + (pick(2) ? "x" : "");
        if (props.contains(k)) continue;
        props[k] = fuzz_schema(rng, depth - 1);
        if (pick(2)) req.push_back(k);
      }
      json s = {{"type", "object"}, {"properties", props}, {"required", req}};
      const int extra = pick(3);
      if (extra == 0) s["additionalProperties"] = false;
      else if (extra == 1) s["additionalProperties"] = {{"type", "integer"}, {"minimum", 0}, {"maximum", 9}};
      else s["additionalProperties"] = false;  // "any value" extras make walks long; covered above
      return s;
    }
    case 8: {
      json s = {{"type", "array"}, {"items", fuzz_schema(rng, depth - 1)}, {"maxItems", 1 + pick(3)}};
      if (pick(2)) s["minItems"] = pick(2);
      return s;
    }
    default: {
      return {{"anyOf", {fuzz_schema(rng, depth - 1), fuzz_schema(rng, depth - 1)}}};
    }
  }
}

TEST(ConstrainedWalk, FuzzedSchemasValidate) {
  std::mt19937 rng(std::random_device{}());
  std::vector<Walked> walked;
  for (int i = 0; i < 20; ++i) walked.push_back(walk_schema(fuzz_schema(rng, 3), 3, 1000, rng));
  validate_all(walked, 20);
}

}  // namespace
}  // namespace ream::testing
