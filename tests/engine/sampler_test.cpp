// The CPU sampler: greedy, filters, penalties, seeded reproducibility, and sampling
// frequencies that follow the filtered distribution.
#include "sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace ream {
namespace {

std::vector<float> random_logits(std::mt19937& rng, int n) {
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> l(n);
  for (auto& x : l) x = d(rng);
  return l;
}

SampleResult sample(std::vector<float> logits, const SamplingParams& p, uint64_t seed = 1, int64_t index = 0,
                    const std::vector<int32_t>* prompt = nullptr, const std::vector<int32_t>* output = nullptr) {
  SeqSlice s;
  s.sampling = &p;
  s.rng_seed = seed;
  s.sample_index = index;
  s.prompt_tokens = prompt;
  s.output_tokens = output;
  return sample_cpu(logits.data(), static_cast<int64_t>(logits.size()), s);
}

TEST(Sampler, GreedyTakesTheArgmaxAndReportsItsLogprob) {
  std::mt19937 rng(std::random_device{}());
  auto logits = random_logits(rng, 1000);
  SamplingParams p;
  p.temperature = 0;
  p.top_logprobs = 5;
  auto r = sample(logits, p);
  int best = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  EXPECT_EQ(r.token, best);
  double z = 0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  EXPECT_NEAR(r.logprob, logits[best] - std::log(z), 1e-4);
  ASSERT_EQ(r.top.size(), 5u);
  EXPECT_EQ(r.top[0].id, best);
  for (size_t i = 1; i < r.top.size(); ++i) EXPECT_GE(r.top[i - 1].logprob, r.top[i].logprob);
}

TEST(Sampler, SameSeedSameTokenDifferentIndexVaries) {
  std::mt19937 rng(std::random_device{}());
  std::vector<float> flat(50, 0.0f);  // uniform: every draw is a fresh uniform choice
  SamplingParams p;
  p.temperature = 1.0f;
  const uint64_t seed = rng();
  std::map<int, int> seen;
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(sample(flat, p, seed, i).token, sample(flat, p, seed, i).token);
    ++seen[sample(flat, p, seed, i).token];
  }
  EXPECT_GT(seen.size(), 30u);
}

TEST(Sampler, TopKOneIsGreedy) {
  std::mt19937 rng(std::random_device{}());
  auto logits = random_logits(rng, 500);
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 1;
  int best = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sample(logits, p, rng(), i).token, best);
}

// Frequencies over many draws match the renormalised filtered distribution.
TEST(Sampler, FrequenciesFollowTopPAndMinP) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.07f), std::log(0.03f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.8f;  // keeps 0.5, 0.25, 0.15 (cumulative 0.9 >= 0.8)
  std::vector<int> counts(5, 0);
  const int n = 20000;
  const uint64_t seed = std::random_device{}();
  for (int i = 0; i < n; ++i) ++counts[sample(logits, p, seed, i).token];
  EXPECT_EQ(counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[0] / double(n), 0.5 / 0.9, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.25 / 0.9, 0.02);

  p.top_p = 1.0f;
  p.min_p = 0.2f;  // keeps p >= 0.1: tokens 0, 1, 2
  std::fill(counts.begin(), counts.end(), 0);
  for (int i = 0; i < n; ++i) ++counts[sample(logits, p, seed, i).token];
  EXPECT_EQ(counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[2] / double(n), 0.15 / 0.9, 0.02);
}

TEST(Sampler, PenaltiesDemoteRepeatedTokens) {
  std::vector<float> logits = {2.0f, 1.9f, 0.0f};
  SamplingParams p;
  p.temperature = 0;
  std::vector<int32_t> output = {0, 0};
  p.frequency_penalty = 0.1f;  // 2.0 - 0.2 = 1.8 < 1.9
  EXPECT_EQ(sample(logits, p, 1, 0, nullptr, &output).token, 1);
  p.frequency_penalty = 0;
  p.presence_penalty = 0.05f;  // 1.95 > 1.9
  EXPECT_EQ(sample(logits, p, 1, 0, nullptr, &output).token, 0);
  p.presence_penalty = 0;
  p.repetition_penalty = 1.1f;  // 2.0 / 1.1 = 1.82 < 1.9
  std::vector<int32_t> prompt = {0};
  EXPECT_EQ(sample(logits, p, 1, 0, &prompt, nullptr).token, 1);
  // Logprobs stay those of the raw logits.
  auto r = sample(logits, p, 1, 0, &prompt, nullptr);
  double z = std::exp(2.0) + std::exp(1.9) + std::exp(0.0);
  EXPECT_NEAR(r.logprob, 1.9 - std::log(z), 1e-5);
}

TEST(Sampler, ValidationNamesTheField) {
  SamplingParams p;
  p.top_p = 0;
  EXPECT_NE(validate_sampling(p).find("top_p"), std::string::npos);
  p = SamplingParams();
  p.temperature = -1;
  EXPECT_NE(validate_sampling(p).find("temperature"), std::string::npos);
  p = SamplingParams();
  p.top_logprobs = 21;
  EXPECT_NE(validate_sampling(p).find("top_logprobs"), std::string::npos);
  EXPECT_EQ(validate_sampling(SamplingParams()), "");
}

// A constraint's mask: only allowed tokens are drawn; logprobs stay the raw ones.
TEST(Sampler, MaskAllowsOnlyItsTokensAndKeepsRawLogprobs) {
  std::mt19937 rng(std::random_device{}());
  auto logits = random_logits(rng, 300);
  std::vector<uint32_t> mask(10, 0);
  std::vector<int32_t> allowed;
  for (int32_t i = 0; i < 300; ++i)
    if (rng() % 7 == 0) mask[i >> 5] |= 1u << (i & 31), allowed.push_back(i);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_logprobs = 2;
  std::map<int, int> seen;
  for (int i = 0; i < 300; ++i) {
    std::vector<float> l = logits;
    SeqSlice s;
    s.sampling = &p;
    s.rng_seed = 7;
    s.sample_index = i;
    s.allowed = mask.data();
    const SampleResult r = sample_cpu(l.data(), 300, s);
    ASSERT_TRUE(std::find(allowed.begin(), allowed.end(), r.token) != allowed.end()) << r.token;
    ++seen[r.token];
    double z = 0;
    for (float x : logits) z += std::exp(static_cast<double>(x));
    EXPECT_NEAR(r.logprob, logits[r.token] - std::log(z), 1e-4);  // the raw distribution
    EXPECT_EQ(r.top[0].id, static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  }
  EXPECT_GT(seen.size(), 3u);
  p.temperature = 0;  // greedy: the best allowed token
  std::vector<float> l = logits;
  SeqSlice s;
  s.sampling = &p;
  s.allowed = mask.data();
  int32_t best = allowed[0];
  for (int32_t a : allowed)
    if (logits[a] > logits[best]) best = a;
  EXPECT_EQ(sample_cpu(l.data(), 300, s).token, best);
}

// logit_bias is added before the penalties (OpenAI), and logprobs ignore it.
TEST(Sampler, LogitBiasAddsBeforePenalties) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.5f};
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{0, 4.0f}};  // 1 + 4 = 5 > 3
  EXPECT_EQ(sample(logits, p).token, 0);
  std::vector<int32_t> prompt = {0};
  p.repetition_penalty = 2.0f;  // (1 + 4) / 2 = 2.5 < 3: the penalty applies to the biased logit
  EXPECT_EQ(sample(logits, p, 1, 0, &prompt).token, 2);
  p.repetition_penalty = 1.0f;
  p.logit_bias = {{2, -100.0f}};
  const SampleResult r = sample(logits, p);
  EXPECT_EQ(r.token, 1);
  double z = 0;
  for (float x : logits) z += std::exp(static_cast<double>(x));
  EXPECT_NEAR(r.logprob, 2.0 - std::log(z), 1e-5);
}

TEST(Sampler, LogitBiasAndConstraintAreValidated) {
  SamplingParams p;
  p.logit_bias = {{-1, 1.0f}};
  EXPECT_EQ(validate_sampling(p), "logit_bias: token id -1 is negative");
  p.logit_bias = {{3, -101.0f}};
  EXPECT_EQ(validate_sampling(p), "logit_bias: the bias of token 3 must be in [-100, 100]");
  p.logit_bias = {{3, NAN}};
  EXPECT_EQ(validate_sampling(p), "logit_bias: the bias of token 3 must be in [-100, 100]");
  p.logit_bias.assign(kMaxLogitBias + 1, {1, 1.0f});
  EXPECT_EQ(validate_sampling(p), "logit_bias has 1025 entries, at most 1024 are allowed");
  p.logit_bias.clear();
  p.constraint = {Constraint::Kind::kNone, "x"};
  EXPECT_EQ(validate_sampling(p), "constraint: a source is given but no kind");
  p.constraint = {Constraint::Kind::kJsonObject, "{}"};
  EXPECT_EQ(validate_sampling(p), "constraint: json_object takes no source");
  p.constraint = {Constraint::Kind::kGrammar, ""};
  EXPECT_EQ(validate_sampling(p), "constraint: the source is empty");
  p.constraint = {Constraint::Kind::kJsonSchema, "{}"};
  EXPECT_EQ(validate_sampling(p), "");
}

}  // namespace
}  // namespace ream
