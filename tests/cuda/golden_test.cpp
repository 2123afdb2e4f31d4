// The CUDA engine on the tiny golden models of the CPU engine (tests/data/models, made by
// tools/make_model_goldens.py with transformers in fp32), in both modes: for every model and
// prompt, the greedy ids are transformers' up to the first step whose fp32 top-2 margin is
// within bf16 noise (kMarginNoise; those random models have margins down to 3e-4, where a
// bf16 engine cannot be expected to agree with fp32), and the top-5 logprobs are within
// kLogprobTol of transformers' up to and including that step. Divergences are reported.
// The data directory is REAM_TEST_DATA_DIR from the environment when set (a GPU machine
// running programs built elsewhere), else the source tree's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cuda_test_util.h"
#include "ream/engine/engine.h"

namespace ream::test {
namespace {

std::string data_dir() {
  const char* env = std::getenv("REAM_TEST_DATA_DIR");
  return (env && *env ? std::string(env) : std::string(REAM_TEST_DATA_DIR)) + "/models";
}

// bf16 activations and KV against fp32 math: the tolerance on a logprob, and the top-2
// margin below which a greedy choice is within that noise (twice the tolerance).
constexpr double kLogprobTol = 0.01;
constexpr double kMarginNoise = 2 * kLogprobTol;

TEST(CudaGolden, GreedyIdsAndLogprobsMatchTransformersWithinBf16Noise) {
  REAM_REQUIRE_GPU();
  const std::string dir = data_dir();
  std::ifstream in(dir + "/goldens.json");
  ASSERT_TRUE(in) << dir << "/goldens.json is missing (set REAM_TEST_DATA_DIR to the repo's tests/data)";
  const auto g = nlohmann::json::parse(in);
  int compared = 0, diverged = 0;
  double worst = 0;
  for (const bool invariant : {true, false}) {
    for (const auto& m : g["models"]) {
      const std::string name = m["name"];
      SCOPED_TRACE(name + (invariant ? ", batch invariant" : ", fast path"));
      EngineOptions o;
      o.model = dir + "/" + name;
      o.device = "cuda";
      o.kv_cache_bytes = int64_t{64} << 20;
      o.max_num_seqs = 8;
      o.batch_invariant = invariant;
      auto engine = Engine::create(o);
      ASSERT_TRUE(engine.ok()) << engine.status().to_string();
      for (const auto& p : m["prompts"]) {
        GenerationRequest r;
        r.prompt = p["prompt_ids"].get<std::vector<int32_t>>();
        const auto expected = p["generated_ids"].get<std::vector<int32_t>>();
        r.sampling.temperature = 0;
        r.sampling.max_tokens = static_cast<int32_t>(expected.size());
        r.sampling.ignore_eos = true;
        r.sampling.top_logprobs = 20;
        auto c = (*engine)->generate(r);
        ASSERT_TRUE(c.ok()) << c.status().to_string();
        ASSERT_EQ(c->tokens.size(), expected.size());
        const auto& top5 = p["top5"];
        const auto& margins = p["margins"];
        size_t upto = expected.size();  // first divergence, if any
        for (size_t i = 0; i < expected.size(); ++i) {
          if (c->tokens[i] != expected[i]) {
            upto = i;
            break;
          }
        }
        if (upto < expected.size()) {
          ++diverged;
          const double margin = margins[upto];
          std::printf("[ diverge  ] %s, prompt of %zu tokens: step %zu, fp32 top-2 margin %.5f\n", name.c_str(),
                      r.prompt.size(), upto, margin);
          EXPECT_LT(margin, kMarginNoise) << "greedy ids differ at step " << upto << " where transformers' top-2 "
                                          << "margin is above bf16 noise";
        }
        ASSERT_EQ(c->top_logprobs.size(), top5.size());
        for (size_t step = 0; step <= std::min(upto, expected.size() - 1); ++step) {
          const auto& ours = c->top_logprobs[step];
          for (const auto& t : top5[step]) {
            const int32_t id = t[0];
            const double lp = t[1];
            auto it = std::find_if(ours.begin(), ours.end(), [&](const TopLogprob& x) { return x.id == id; });
            ASSERT_NE(it, ours.end()) << "step " << step << ": transformers' top-5 id " << id
                                      << " is not in ream's top 20";
            const double d = std::abs(it->logprob - lp);
            worst = std::max(worst, d);
            EXPECT_LT(d, kLogprobTol) << "step " << step << ", id " << id;
          }
        }
        ++compared;
      }
    }
  }
  std::printf("[ compare  ] %d generations, %d diverged within bf16 noise, worst top-5 logprob difference %.5f\n",
              compared, diverged, worst);
  EXPECT_GE(compared, 30);
}

}  // namespace
}  // namespace ream::test
