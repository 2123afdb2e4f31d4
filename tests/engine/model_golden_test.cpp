// The CPU engine against transformers: tiny random Qwen3 models made and run by
// tools/make_model_goldens.py (transformers, fp32, eager attention, greedy). For every
// model and prompt, ream's greedy ids must be identical and its top-5 logprobs within 1e-4.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ream/engine/engine.h"

namespace ream {
namespace {

const std::string kDir = std::string(REAM_TEST_DATA_DIR) + "/models";

nlohmann::json load_goldens() {
  std::ifstream in(kDir + "/goldens.json");
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

TEST(ModelGolden, GoldenFileExists) {
  auto g = load_goldens();
  ASSERT_FALSE(g.is_null()) << kDir << "/goldens.json is missing: run tools/make_model_goldens.py";
  EXPECT_GE(g["models"].size(), 5u);
}

TEST(ModelGolden, GreedyIdsAndTop5LogprobsMatchTransformers) {
  auto g = load_goldens();
  ASSERT_FALSE(g.is_null());
  int compared = 0;
  for (const auto& m : g["models"]) {
    const std::string name = m["name"];
    EngineOptions o;
    o.model = kDir + "/" + name;
    o.num_threads = 2;
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine.ok()) << name << ": " << engine.status().to_string();
    for (const auto& p : m["prompts"]) {
      GenerationRequest r;
      r.prompt = p["prompt_ids"].get<std::vector<int32_t>>();
      const auto expected = p["generated_ids"].get<std::vector<int32_t>>();
      r.sampling.temperature = 0;
      r.sampling.max_tokens = static_cast<int32_t>(expected.size());
      r.sampling.ignore_eos = true;
      r.sampling.top_logprobs = 5;
      auto c = (*engine)->generate(r);
      ASSERT_TRUE(c.ok()) << name << ": " << c.status().to_string();
      EXPECT_EQ(c->tokens, expected) << name << ", prompt of " << r.prompt.size() << " tokens";
      const auto& top5 = p["top5"];
      ASSERT_EQ(c->top_logprobs.size(), top5.size());
      for (size_t step = 0; step < top5.size(); ++step) {
        const auto& ours = c->top_logprobs[step];
        ASSERT_EQ(ours.size(), top5[step].size());
        for (size_t k = 0; k < top5[step].size(); ++k) {
          const int32_t id = top5[step][k][0];
          const double lp = top5[step][k][1];
          // Ranks may swap only between candidates whose logprobs tie within the tolerance.
          auto it = std::find_if(ours.begin(), ours.end(), [&](const TopLogprob& t) { return t.id == id; });
          if (it == ours.end()) {
            EXPECT_EQ(k + 1, top5[step].size()) << name << " step " << step << ": id " << id << " missing";
            EXPECT_NEAR(ours.back().logprob, lp, 1e-4) << name << " step " << step;
            continue;
          }
          EXPECT_NEAR(it->logprob, lp, 1e-4) << name << " step " << step << " rank " << k;
          EXPECT_NEAR(ours[k].logprob, lp, 1e-4) << name << " step " << step << " rank " << k;
        }
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, 15);
}

}  // namespace
}  // namespace ream
