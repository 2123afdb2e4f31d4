// The device sampler against the CPU sampler (sampler.h) on the same logits: greedy,
// penalties, temperature with top-k / top-p / min-p, full-vocabulary draws, exact ties,
// logit_bias, and constrained rows (an allowed-token bitmask; every third row) beside
// unconstrained ones.
// Tokens must be identical (the distributions are well separated), logprobs and the top
// alternatives equal to float precision. The parameters and penalty entries go through
// build_step_inputs, as in the backend.
#include <algorithm>
#include <cstring>

#include "cuda/sampling.cuh"
#include "cuda/step_inputs.cuh"
#include "cuda_test_util.h"
#include "sampler.h"

namespace ream::test {
namespace {

constexpr int64_t kVocab = 151936;

struct Case {
  const char* name;
  SamplingParams p;
  bool ties = false;  // logits on a coarse grid: many exact ties
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add = [&](const char* name, float t, int k, float top_p, float min_p, float rep, float pres, float freq,
                 int lp, bool ties = false) {
    SamplingParams p;
    p.temperature = t;
    p.top_k = k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repetition_penalty = rep;
    p.presence_penalty = pres;
    p.frequency_penalty = freq;
    p.top_logprobs = lp;
    c.push_back({name, p, ties});
  };
  add("greedy", 0.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 5);
  add("greedy+penalties", 0.0f, 0, 1.0f, 0.0f, 1.3f, 0.4f, 0.3f, 3);
  add("qwen defaults", 0.7f, 20, 0.8f, 0.0f, 1.0f, 0.0f, 0.0f, 0);
  add("full vocabulary", 1.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 20);
  add("top_p+min_p", 1.3f, 0, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 1);
  add("top_k+min_p+penalties", 0.9f, 1000, 1.0f, 0.1f, 1.2f, -0.5f, 0.7f, 2);
  add("top_p only", 0.5f, 0, 0.5f, 0.0f, 1.0f, 0.0f, 0.0f, 0);
  add("ties top_k", 1.0f, 5, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 4, true);
  add("ties greedy", 0.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 7, true);
  // Ties with top-p: the cut must land among heavy tokens. (On a flat distribution, with
  // T = 2 say, the cut falls inside a group of thousands of tied tokens of ~1e-5 mass
  // each, where float vs double rounding moves it by one token now and then.)
  add("ties top_p", 0.6f, 0, 0.9f, 0.0f, 1.0f, 0.0f, 0.0f, 0, true);
  // logit_bias: a weak token pushed to the top, a strong one pushed down, penalties after.
  add("bias greedy", 0.0f, 0, 1.0f, 0.0f, 1.2f, 0.3f, 0.0f, 3);
  add("bias sampled", 0.8f, 50, 0.9f, 0.0f, 1.0f, 0.0f, 0.2f, 2);
  for (size_t i = c.size() - 2; i < c.size(); ++i)
    c[i].p.logit_bias = {{7, 30.0f}, {123, -100.0f}, {150000, 4.5f}, {3, 2.0f}};
  return c;
}

std::vector<float> make_logits(std::mt19937_64& rng, bool ties) {
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> l(kVocab);
  for (auto& x : l) x = d(rng);
  for (int i = 0; i < 12; ++i) l[rng() % kVocab] += 6.0f + static_cast<float>(i);  // a few strong candidates
  if (ties)
    for (auto& x : l) x = std::round(x * 2.0f) / 2.0f;
  return l;
}

TEST(CudaSampling, MatchesCpuSampler) {
  REAM_REQUIRE_GPU();
  auto rng = fresh_rng();
  const auto cs = cases();
  constexpr int kDraws = 12;
  const int n = static_cast<int>(cs.size()) * kDraws;

  std::vector<std::vector<float>> logits;  // per case
  std::vector<int32_t> prompt(3000), output(40);
  for (auto& t : prompt) t = static_cast<int32_t>(rng() % 5000);  // overlaps the strong candidates rarely
  for (auto& t : output) t = static_cast<int32_t>(rng() % 200);
  for (const auto& c : cs) {
    logits.push_back(make_logits(rng, c.ties));
    // Make penalties matter: put penalised tokens at the top.
    for (int i = 0; i < 10; ++i) logits.back()[output[i]] = 14.0f + static_cast<float>(i) * 0.37f;
  }

  StepBatch batch;
  for (int r = 0; r < n; ++r) {
    batch.tokens.push_back(0);
    batch.positions.push_back(0);
  }
  const uint64_t seed_base = rng();
  const std::vector<int32_t> table = {0};
  // Constrained rows: a random bitmask allowing ~1/3 of the vocabulary.
  const int64_t words = (kVocab + 31) / 32;
  std::vector<std::vector<uint32_t>> masks(n);
  for (int r = 0; r < n; ++r) {
    if (r % 3 != 1) continue;
    masks[r].resize(words);
    for (auto& w : masks[r]) w = static_cast<uint32_t>(rng()) & static_cast<uint32_t>(rng());
    for (int k = 0; k < 3; ++k) masks[r][0] |= 1u << k;  // token 7's bias must matter on some rows
  }
  for (int r = 0; r < n; ++r) {
    SeqSlice s;
    s.seq_id = r;
    s.query_start = r;
    s.query_len = 1;
    s.context_len = 1;
    s.block_table = table;
    s.sample = true;
    s.sampling = &cs[r / kDraws].p;
    s.rng_seed = seed_base + r;
    s.sample_index = static_cast<int64_t>(rng() % 1000);
    s.prompt_tokens = &prompt;
    s.output_tokens = &output;
    if (!masks[r].empty()) s.allowed = masks[r].data();
    batch.seqs.push_back(s);
  }
  cuda::StepLimits lim;
  lim.max_tokens = n;
  lim.max_seqs = n;
  lim.max_blocks_total = n;
  lim.vocab = kVocab;
  lim.num_kv_blocks = 1;
  lim.block_size = 16;
  lim.group = 1;
  const auto layout = cuda::StepLayout::make(lim);
  std::vector<uint64_t> host(layout.total / 8 + 1);
  std::vector<int32_t> scratch(kVocab, -1);
  cuda::StepPlan plan;
  const Status st = cuda::build_step_inputs(batch, lim, layout, reinterpret_cast<char*>(host.data()), &scratch, &plan);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(plan.n_sample, n);
  ASSERT_EQ(plan.n_masked, (n + 1) / 3);
  ASSERT_GT(plan.bias_bytes, 0u);
  for (int k = 0; k < plan.n_masked; ++k)  // as the backend's upload_masks does
    std::memcpy(reinterpret_cast<char*>(host.data()) + layout.masks + k * words * 4,
                batch.seqs[plan.masked_seq[k]].allowed, words * 4);
  EXPECT_TRUE(std::all_of(scratch.begin(), scratch.end(), [](int32_t v) { return v == -1; }));

  std::vector<float> all(static_cast<size_t>(n) * kVocab);
  for (int r = 0; r < n; ++r) std::copy(logits[r / kDraws].begin(), logits[r / kDraws].end(), all.begin() + r * kVocab);
  DevVec<float> d_logits(all);
  DevVec<char> d_meta(layout.total);
  ASSERT_EQ(cudaMemcpy(d_meta.get(), host.data(), plan.upload_bytes, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_GT(plan.penalty_bytes, 0u);
  ASSERT_EQ(cudaMemcpy(d_meta.get() + layout.penalties, reinterpret_cast<char*>(host.data()) + layout.penalties,
                       plan.penalty_bytes, cudaMemcpyHostToDevice),
            cudaSuccess);
  for (size_t off : {layout.biases, layout.masks}) {
    const size_t bytes = off == layout.biases ? plan.bias_bytes : plan.n_masked * words * 4;
    ASSERT_EQ(cudaMemcpy(d_meta.get() + off, reinterpret_cast<char*>(host.data()) + off, bytes, cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  DevVec<float> d_saved(static_cast<size_t>(n) * kVocab);
  DevVec<float> d_bias_saved(static_cast<size_t>(n) * kMaxLogitBias);
  DevVec<cuda::SampleOut> d_out(n);
  const auto* d_params = reinterpret_cast<const cuda::SampleParamsDev*>(d_meta.get() + layout.sample_params);
  const auto* d_pen = reinterpret_cast<const cuda::PenaltyEntry*>(d_meta.get() + layout.penalties);
  const auto* d_bias = reinterpret_cast<const cuda::BiasEntry*>(d_meta.get() + layout.biases);
  const auto* d_masks = reinterpret_cast<const uint32_t*>(d_meta.get() + layout.masks);
  const Status ls = cuda::launch_sample(d_logits.get(), n, kVocab, d_params, d_pen, d_saved.get(), d_bias,
                                        d_bias_saved.get(), d_masks, d_out.get(), nullptr);
  ASSERT_TRUE(ls.ok()) << ls.message();
  const auto got = d_out.host();

  int distinct_tokens = 0;
  for (int r = 0; r < n; ++r) {
    SCOPED_TRACE(std::string(cs[r / kDraws].name) + ", draw " + std::to_string(r % kDraws));
    std::vector<float> row = logits[r / kDraws];
    const SampleResult want = sample_cpu(row.data(), kVocab, batch.seqs[r]);
    EXPECT_EQ(got[r].token, want.token);
    if (!masks[r].empty()) EXPECT_TRUE((masks[r][want.token >> 5] >> (want.token & 31)) & 1u) << "a masked token";
    EXPECT_NEAR(got[r].logprob, want.logprob, 1e-4);
    ASSERT_EQ(static_cast<size_t>(got[r].n_top), want.top.size());
    for (size_t j = 0; j < want.top.size(); ++j) {
      EXPECT_EQ(got[r].top_ids[j], want.top[j].id) << "alternative " << j;
      EXPECT_NEAR(got[r].top_logprobs[j], want.top[j].logprob, 1e-4) << "alternative " << j;
    }
    if (r % kDraws == 0 || got[r].token != got[r - 1].token) ++distinct_tokens;
  }
  // The seeded cases draw different tokens for different seeds (the test can fail).
  EXPECT_GT(distinct_tokens, static_cast<int>(cs.size()) + 10);
}

}  // namespace
}  // namespace ream::test
