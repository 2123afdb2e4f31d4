// Constrained decoding on the CUDA backend (label gpu), through the engine, with the
// tiny random-weight model and the real Qwen3 tokenizer: the masks computed while the
// forward runs reach the device sampler. Each output is in the grammar (a fresh matcher
// accepts its bytes and it is complete) and parses as JSON; one seed gives the same
// tokens alone and in a batch (batch invariance); logit_bias forces greedy choices.
// The tokenizer directory: $REAM_TOKENIZER_DIR, else the build's.
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "cuda_test_util.h"
#include "grammar/compile.h"
#include "grammar/matcher.h"
#include "model/init_model.h"
#include "ream/engine/engine.h"

namespace ream::test {
namespace {

const char* const kSchema = R"({"type":"object","additionalProperties":false,
  "required":["category","risk","found","score","note","tags"],
  "properties":{"category":{"type":"string","enum":["Governing Law","Non-Compete","Audit Rights"]},
    "risk":{"enum":["none","low","medium","high","critical"]},"found":{"type":"boolean"},
    "score":{"type":"integer","minimum":-5,"maximum":250},"note":{"type":"string","maxLength":12},
    "tags":{"type":"array","maxItems":2,"items":{"type":"string","pattern":"^[a-z]{1,6}$"}}}})";

std::string tokenizer_dir() {
  const char* env = std::getenv("REAM_TOKENIZER_DIR");
  return env ? env : REAM_TOKENIZER_DIR;
}

const std::string& tiny_model() {
  static std::string dir = [] {
    InitModelOptions o;
    o.shape = "tiny";
    o.out_dir = (std::filesystem::temp_directory_path() / ("ream-cuda-constraint-" + std::to_string(std::random_device{}()))).string();
    o.seed = std::random_device{}();
    o.tokenizer_dir = tokenizer_dir();
    o.dtype = DType::kBF16;
    const Status st = init_random_model(o);
    if (!st.ok()) throw std::runtime_error(st.to_string());
    return o.out_dir;
  }();
  return dir;
}

std::unique_ptr<Engine> cuda_engine() {
  EngineOptions o;
  o.model = tiny_model();
  o.device = "cuda";
  o.kv_cache_bytes = int64_t{256} << 20;
  auto e = Engine::create(o);
  if (!e.ok()) ADD_FAILURE() << e.status().to_string();
  return e.ok() ? std::move(e).value() : nullptr;
}

GenerationRequest request(std::mt19937_64& rng, Constraint c, uint64_t seed) {
  GenerationRequest r;
  for (int i = 0; i < 20; ++i) r.prompt.push_back(static_cast<int32_t>(rng() % 150000));
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 40;
  r.sampling.seed = seed;
  r.sampling.has_seed = true;
  r.sampling.max_tokens = 300;
  r.sampling.constraint = std::move(c);
  return r;
}

TEST(CudaConstraint, OutputsStayInTheGrammarAloneAndBatched) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  auto e = cuda_engine();
  ASSERT_TRUE(e);
  const Constraint c{Constraint::Kind::kJsonSchema, kSchema};
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 8; ++i) reqs.push_back(request(rng, c, rng()));
  std::vector<Completion> batch(reqs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < reqs.size(); ++i)
    threads.emplace_back([&, i] {
      auto out = e->generate(reqs[i]);
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      batch[i] = std::move(out).value();
    });
  for (auto& t : threads) t.join();
  auto tok = e->tokenizer();
  grammar::GrammarCache cache(grammar::TokenVocab::build(*tok, 151936, e->eos_token_ids()));
  auto g = cache.get(c);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(batch[i].finish_reason, FinishReason::kStop) << batch[i].text;
    grammar::Matcher m(*g);
    EXPECT_TRUE(m.accept_bytes(batch[i].text) && m.is_complete()) << batch[i].text;
    EXPECT_TRUE(nlohmann::json::accept(batch[i].text)) << batch[i].text;
  }
  for (size_t i = 0; i < 3; ++i) {
    auto alone = e->generate(reqs[i]);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(alone->tokens, batch[i].tokens) << i;
  }
}

TEST(CudaConstraint, LogitBiasForcesGreedyTokens) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  auto e = cuda_engine();
  ASSERT_TRUE(e);
  GenerationRequest r = request(rng, {}, 1);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = 5;
  r.sampling.logit_bias = {{4242, 100.0f}};
  auto out = e->generate(r);
  ASSERT_TRUE(out.ok());
  for (int32_t t : out->tokens) EXPECT_EQ(t, 4242);
  EXPECT_LT(out->logprobs[0], -1.0f);  // the raw distribution's logprob
}

}  // namespace
}  // namespace ream::test
