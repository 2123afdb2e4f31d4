// Constrained decoding through the engine with the tiny random-weight model (which
// writes noise unless constrained): outputs at batch sizes 1 and several parse and
// validate (ajv), one seed gives the same tokens alone or in a batch and after
// preemption, regex and GBNF constraints hold, bad constraints and logit_bias fail at
// submit naming what is wrong, and logit_bias moves greedy choices.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "constraint_test_util.h"
#include "engine_test_util.h"
#include "ream/engine/engine.h"

namespace ream {
namespace {

using testing::run_concurrently;
std::unique_ptr<Engine> make_engine(EngineOptions o = {}) { return testing::make_tiny_engine(o); }

using nlohmann::json;

const char* const kSchema = R"({"type":"object","additionalProperties":false,
  "required":["category","risk","found","score","note","tags"],
  "properties":{"category":{"type":"string","enum":["Governing Law","Non-Compete","Audit Rights"]},
    "risk":{"enum":["none","low","medium","high","critical"]},"found":{"type":"boolean"},
    "score":{"type":"integer","minimum":-5,"maximum":250},"note":{"type":"string","maxLength":12},
    "tags":{"type":"array","maxItems":2,"items":{"type":"string","pattern":"^[a-z]{1,6}$"}}}})";

GenerationRequest constrained(std::mt19937& rng, Constraint c, uint64_t seed, int max_tokens = 400) {
  GenerationRequest r;
  for (int i = 0; i < 24; ++i) r.prompt.push_back(static_cast<int32_t>(rng() % 150000));
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 40;  // the CPU sampler's full sort of 151,936 logits is slow; the mask applies first
  r.sampling.seed = seed;
  r.sampling.has_seed = true;
  r.sampling.max_tokens = max_tokens;
  r.sampling.constraint = std::move(c);
  return r;
}

class EngineConstraintTest : public ::testing::Test {
 protected:
  std::mt19937 rng_{std::random_device{}()};
};

TEST_F(EngineConstraintTest, OutputsParseAndValidateAloneAndInABatch) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  const Constraint c{Constraint::Kind::kJsonSchema, kSchema};
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(constrained(rng_, c, rng_()));
  std::vector<Completion> batch = run_concurrently(*e, reqs);
  std::vector<Completion> alone;
  for (int i = 0; i < 2; ++i) alone.push_back(e->generate(reqs[i]).value());
  testing::AjvCase check{json::parse(kSchema), {}, {}, ""};
  for (const auto* set : {&batch, &alone})
    for (const Completion& out : *set) {
      EXPECT_EQ(out.finish_reason, FinishReason::kStop) << out.text;  // the grammar ended it
      check.texts.push_back(out.text);
    }
  std::vector<testing::AjvCase> cases = {check};
  testing::run_ajv(&cases);
  ASSERT_EQ(cases[0].results.size(), check.texts.size()) << cases[0].schema_error;
  for (size_t i = 0; i < check.texts.size(); ++i) {
    EXPECT_TRUE(cases[0].results[i].parsed) << check.texts[i];
    EXPECT_TRUE(cases[0].results[i].valid) << cases[0].results[i].errors << "\n" << check.texts[i];
  }
  // One seed, one output: alone or among five others.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(alone[i].tokens, batch[i].tokens) << i;
}

TEST_F(EngineConstraintTest, PreemptionKeepsTheMatcherWithTheOutput) {
  const Constraint c{Constraint::Kind::kJsonSchema, kSchema};
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(constrained(rng_, c, rng_(), 60));
  EngineOptions tight;
  tight.kv_cache_bytes = 12 * 16384;  // 12 blocks of 16 tokens: the six requests cannot all stay
  tight.enable_prefix_caching = false;
  auto e = make_engine(tight);
  ASSERT_TRUE(e);
  std::vector<Completion> out = run_concurrently(*e, reqs);
  EXPECT_GT(e->stats().preemptions, 0);
  auto ref = make_engine();
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(out[i].tokens, ref->generate(reqs[i])->tokens) << i;
}

TEST_F(EngineConstraintTest, RegexAndGrammarConstraintsHold) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  const std::string re = "(yes|no): [0-9]{3}-[a-f]{2,4}";
  for (int i = 0; i < 3; ++i) {
    auto out = e->generate(constrained(rng_, {Constraint::Kind::kRegex, re}, rng_()));
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_TRUE(std::regex_match(out->text, std::regex(re))) << out->text;  // std::regex: ECMAScript
    EXPECT_EQ(out->finish_reason, FinishReason::kStop);
  }
  const std::string gbnf = "root ::= \"<\" item (\",\" item){0,2} \">\"\nitem ::= [A-Z] [a-z]{0,3} | \"null\"\n";
  const std::regex same("<([A-Z][a-z]{0,3}|null)(,([A-Z][a-z]{0,3}|null)){0,2}>");
  auto out = e->generate(constrained(rng_, {Constraint::Kind::kGrammar, gbnf}, rng_()));
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_TRUE(std::regex_match(out->text, same)) << out->text;
}

// A constrained reply never stops half-written: near max_tokens the engine allows only
// tokens after which the output can still be completed in the tokens left. The random
// model, left alone, writes hundreds of tokens into one free string.
TEST_F(EngineConstraintTest, OutputsAreCompleteWithinMaxTokens) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  const std::string free_text =
      R"({"type":"object","required":["title","points"],"additionalProperties":false,"properties":{)"
      R"("title":{"type":"string"},"points":{"type":"array","items":{"type":"string"}}}})";
  // {"title":"","points":[]} is 24 bytes: the shortest budget that can hold it.
  std::vector<GenerationRequest> reqs;
  for (int max_tokens : {8, 40, 120}) reqs.push_back(constrained(rng_, {Constraint::Kind::kJsonObject, ""}, rng_(), max_tokens));
  for (int max_tokens : {24, 33, 90}) reqs.push_back(constrained(rng_, {Constraint::Kind::kJsonSchema, free_text}, rng_(), max_tokens));
  std::vector<Completion> out = run_concurrently(*e, reqs);
  testing::AjvCase check{json::parse(free_text), {}, {}, ""};
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_LE(static_cast<int>(out[i].tokens.size()), reqs[i].sampling.max_tokens);
    EXPECT_TRUE(out[i].finish_reason == FinishReason::kStop || out[i].finish_reason == FinishReason::kLength);
    ASSERT_FALSE(out[i].text.empty());
    EXPECT_EQ(out[i].text[0], '{');
    EXPECT_TRUE(json::accept(out[i].text)) << "max_tokens " << reqs[i].sampling.max_tokens << ": " << out[i].text;
    if (i >= 3) check.texts.push_back(out[i].text);
  }
  std::vector<testing::AjvCase> cases = {check};
  testing::run_ajv(&cases);
  ASSERT_EQ(cases[0].results.size(), check.texts.size()) << cases[0].schema_error;
  for (size_t i = 0; i < check.texts.size(); ++i)
    EXPECT_TRUE(cases[0].results[i].valid) << cases[0].results[i].errors << "\n" << check.texts[i];
}

TEST_F(EngineConstraintTest, BadConstraintsAndBiasesFailAtSubmit) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  auto submit = [&](GenerationRequest r) { return e->submit(std::move(r), nullptr).status().message(); };
  GenerationRequest r = constrained(rng_, {Constraint::Kind::kJsonSchema,
                                           R"({"type":"object","properties":{"x":{"patternProperties":{}}}})"}, 1);
  EXPECT_EQ(submit(r), "constraint: unsupported JSON Schema keyword 'patternProperties' at /properties/x");
  r.sampling.constraint = {Constraint::Kind::kJsonSchema, "{not json"};
  EXPECT_EQ(submit(r).rfind("constraint: the JSON Schema is not valid JSON", 0), 0u);
  r.sampling.constraint = {Constraint::Kind::kGrammar, "root ::= \"a\" missing\n"};
  EXPECT_EQ(submit(r), "constraint: grammar 1:14: rule 'missing' is not defined");
  r.sampling.constraint = {Constraint::Kind::kRegex, "(a)\\1"};
  EXPECT_EQ(submit(r), "constraint: regex /(a)\\1/ at character 4: backreferences are not supported");
  r.sampling.constraint = {Constraint::Kind::kRegex, ""};
  EXPECT_EQ(submit(r), "constraint: the source is empty");
  r.sampling.constraint = {};
  r.sampling.logit_bias = {{151936, 1.0f}};
  EXPECT_EQ(submit(r), "logit_bias: token id 151936 is outside the vocabulary (size 151936)");
  r.sampling.logit_bias = {{5, 100.5f}};
  EXPECT_EQ(submit(r), "logit_bias: the bias of token 5 must be in [-100, 100]");
  r.sampling.logit_bias = {{5, 1.0f}, {5, 2.0f}};
  EXPECT_EQ(submit(r), "logit_bias: token id 5 appears twice");
}

TEST_F(EngineConstraintTest, LogitBiasMovesGreedyChoices) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  GenerationRequest r = constrained(rng_, {}, 1, 4);
  r.sampling.temperature = 0;
  r.sampling.top_logprobs = 1;
  auto plain = e->generate(r);
  ASSERT_TRUE(plain.ok());
  const int32_t forced = 12345;
  r.sampling.logit_bias = {{forced, 100.0f}};
  auto biased = e->generate(r);
  ASSERT_TRUE(biased.ok());
  for (int32_t t : biased->tokens) EXPECT_EQ(t, forced);
  // Logprobs stay those of the raw distribution: the forced token's is not ~0.
  EXPECT_LT(biased->logprobs[0], -1.0f);
  r.sampling.logit_bias = {{plain->tokens[0], -100.0f}};
  EXPECT_NE(e->generate(r)->tokens[0], plain->tokens[0]);
}

}  // namespace
}  // namespace ream
