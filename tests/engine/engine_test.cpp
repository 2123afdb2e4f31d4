// The engine on the CPU backend with a random-weight tiny model: continuous batching,
// chunked prefill, prefix caching, preemption, cancellation, stops and errors. Every
// invariant is checked against a plain single-request run of the same engine code.
#include "ream/engine/engine.h"
#include "engine_test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "test_util.h"

namespace ream {
namespace {

using testing::random_prompt;
using testing::run_concurrently;
std::unique_ptr<Engine> make_engine(EngineOptions o = {}) { return testing::make_tiny_engine(o); }

GenerationRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  r.sampling.top_logprobs = 3;
  return r;
}

class EngineTest : public ::testing::Test {
 protected:
  std::mt19937 rng_{std::random_device{}()};
};

TEST_F(EngineTest, GreedyIsDeterministicAndReportsUsage) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  auto prompt = random_prompt(rng_, 37);
  auto a = e->generate(greedy(prompt, 12));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->tokens.size(), 12u);
  EXPECT_EQ(a->finish_reason, FinishReason::kLength);
  EXPECT_EQ(a->usage.prompt_tokens, 37);
  EXPECT_EQ(a->usage.completion_tokens, 12);
  ASSERT_EQ(a->top_logprobs.size(), 12u);
  for (size_t i = 0; i < a->tokens.size(); ++i) EXPECT_EQ(a->top_logprobs[i][0].id, a->tokens[i]);
  auto b = make_engine()->generate(greedy(prompt, 12));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->tokens, b->tokens);
}

TEST_F(EngineTest, BatchedRequestsMatchSoloRuns) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 8; ++i) reqs.push_back(greedy(random_prompt(rng_, 5 + 17 * i), 10));
  std::vector<Completion> solo;
  for (const auto& r : reqs) solo.push_back(e->generate(r).value());
  auto batched = run_concurrently(*make_engine(), reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(batched[i].tokens, solo[i].tokens) << "request " << i;
    ASSERT_EQ(batched[i].top_logprobs.size(), solo[i].top_logprobs.size());
    for (size_t t = 0; t < solo[i].top_logprobs.size(); ++t)
      EXPECT_NEAR(batched[i].top_logprobs[t][0].logprob, solo[i].top_logprobs[t][0].logprob, 1e-5);
  }
}

TEST_F(EngineTest, ChunkedPrefillMatchesOneShotPrefill) {
  auto prompt = random_prompt(rng_, 300);
  EngineOptions small;
  small.max_batch_tokens = 64;  // the prompt is prefilled in 5 chunks
  auto chunked = make_engine(small)->generate(greedy(prompt, 8));
  auto whole = make_engine()->generate(greedy(prompt, 8));
  ASSERT_TRUE(chunked.ok() && whole.ok());
  EXPECT_EQ(chunked->tokens, whole->tokens);
}

TEST_F(EngineTest, PrefixCacheHitGivesTheColdOutput) {
  auto e = make_engine();
  ASSERT_TRUE(e);
  auto document = random_prompt(rng_, 200);
  auto ask = [&](int q) {
    auto p = document;
    for (int i = 0; i < 20; ++i) p.push_back(1000 + q * 100 + i);  // 220 tokens: 13 full blocks
    return greedy(p, 6);
  };
  auto cold = e->generate(ask(1));
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(cold->usage.cached_prompt_tokens, 0);
  auto second = e->generate(ask(2));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->usage.cached_prompt_tokens, 192);  // the document's 12 full blocks
  auto again = e->generate(ask(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->tokens, cold->tokens);
  EXPECT_EQ(again->usage.cached_prompt_tokens, 208);  // its own 13 full blocks
  auto fresh = make_engine()->generate(ask(2));
  EXPECT_EQ(second->tokens, fresh->tokens);
  EXPECT_GT(e->stats().prefix_cache_hits, 0);
}

TEST_F(EngineTest, PreemptedRequestsFinishWithTheSameOutput) {
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) reqs.push_back(greedy(random_prompt(rng_, 40 + i), 40));
  EngineOptions tight;
  tight.kv_block_size = 16;
  // Room for 12 blocks: each request needs 5 at the end, so six cannot all stay resident.
  // tiny: 2 layers * 2 (K,V) * 2 kv heads * 16 tokens * 32 dims * 4 bytes = 16 KiB a block.
  tight.kv_cache_bytes = 12 * 16384;
  tight.enable_prefix_caching = false;
  auto e = make_engine(tight);
  ASSERT_TRUE(e);
  auto out = run_concurrently(*e, reqs);
  EXPECT_GT(e->stats().preemptions, 0);
  auto ref = make_engine();
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(out[i].tokens, ref->generate(reqs[i])->tokens) << i;
}

TEST_F(EngineTest, SeededSamplingIsReproducibleAcrossBatching) {
  GenerationRequest r = greedy(random_prompt(rng_, 20), 16);
  r.sampling.temperature = 0.8f;
  r.sampling.top_p = 0.9f;
  r.sampling.top_k = 50;
  r.sampling.seed = rng_();
  r.sampling.has_seed = true;
  auto e = make_engine();
  auto solo = e->generate(r);
  std::vector<GenerationRequest> many(5, r);
  for (int i = 1; i < 5; ++i) many[i].prompt = random_prompt(rng_, 30);
  auto batched = run_concurrently(*e, many);
  EXPECT_EQ(batched[0].tokens, solo->tokens);
}

TEST_F(EngineTest, CancelEndsTheStream) {
  auto e = make_engine();
  std::atomic<bool> done{false};
  std::atomic<int> tokens{0};
  FinishReason reason = FinishReason::kNone;
  GenerationRequest r = greedy(random_prompt(rng_, 10), 100000);
  auto id = e->submit(r, [&](const StreamEvent& ev) {
    if (!ev.finished) {
      ++tokens;
      return;
    }
    reason = ev.finish_reason;
    done = true;
  });
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  while (tokens < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  e->cancel(*id);
  while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(reason, FinishReason::kCancelled);
  EXPECT_LT(tokens.load(), 100000);
  EXPECT_EQ(e->stats().kv_blocks_used, 0);
}

TEST_F(EngineTest, RequestsThatCanNeverFitAreRefusedAtOnce) {
  EngineOptions o;
  o.max_model_len = 128;
  auto e = make_engine(o);
  auto r = e->submit(greedy(random_prompt(rng_, 100), 50), nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds the context of 128"), std::string::npos) << r.status().message();
  EXPECT_FALSE(e->submit(greedy({}, 5), nullptr).ok());
  auto bad_id = e->submit(greedy({1, 2, 999999999}, 5), nullptr);
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.status().message().find("999999999"), std::string::npos);
  EngineOptions tiny_kv;
  tiny_kv.kv_cache_bytes = 4 * 16384;  // 4 blocks: 64 tokens
  auto e2 = make_engine(tiny_kv);
  auto r2 = e2->submit(greedy(random_prompt(rng_, 60), 10), nullptr);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(EngineTest, StopStringsAndStopIdsEndGeneration) {
  auto e = make_engine();
  auto prompt = random_prompt(rng_, 12);
  auto full = e->generate(greedy(prompt, 20));
  ASSERT_TRUE(full.ok());
  // Stop on the 5th generated token's id: generation ends there.
  GenerationRequest r = greedy(prompt, 20);
  r.sampling.stop_token_ids = {full->tokens[4]};
  auto stopped = e->generate(r);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->finish_reason, FinishReason::kStop);
  auto first = std::find(full->tokens.begin(), full->tokens.end(), full->tokens[4]) - full->tokens.begin();
  EXPECT_EQ(static_cast<int64_t>(stopped->tokens.size()), first + 1);
  // A stop string taken from the middle of the text truncates the text before it.
  if (full->text.size() > 8) {
    std::string stop = full->text.substr(full->text.size() / 2, 3);
    GenerationRequest s = greedy(prompt, 20);
    s.sampling.stop = {stop};
    auto cut = e->generate(s);
    ASSERT_TRUE(cut.ok());
    EXPECT_EQ(cut->finish_reason, FinishReason::kStop);
    EXPECT_EQ(cut->text, full->text.substr(0, full->text.find(stop)));
  }
}

TEST_F(EngineTest, InteractiveRequestsAreServedBeforeBatchOnes) {
  EngineOptions o;
  o.max_num_seqs = 1;  // one sequence at a time makes the order visible
  auto e = make_engine(o);
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<int> finished{0};
  auto cb = [&](const char* name) {
    return [&, name](const StreamEvent& ev) {
      if (!ev.finished) return;
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
      ++finished;
    };
  };
  GenerationRequest blocker = greedy(random_prompt(rng_, 10), 30);
  GenerationRequest batch = greedy(random_prompt(rng_, 10), 5);
  batch.priority = Priority::kBatch;
  GenerationRequest chat = greedy(random_prompt(rng_, 10), 5);
  ASSERT_TRUE(e->submit(blocker, cb("blocker")).ok());
  ASSERT_TRUE(e->submit(batch, cb("batch")).ok());
  ASSERT_TRUE(e->submit(chat, cb("chat")).ok());
  while (finished < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[2], "batch");
}

// A chat request arriving while a batch request prefills a long prompt in many steps gets
// its first token within two engine steps, and the batch request still finishes with the
// output it gives alone.
TEST_F(EngineTest, InteractiveRequestIsServedWithinTwoStepsOfALongBatchPrefill) {
  EngineOptions o;
  o.max_batch_tokens = 128;          // a 3,000-token prompt takes 24 steps
  o.enable_prefix_caching = false;   // the second run of the prompt prefills it again
  auto e = make_engine(o);
  GenerationRequest batch = greedy(random_prompt(rng_, 3000), 4);
  batch.priority = Priority::kBatch;
  const auto solo = e->generate(batch);
  ASSERT_TRUE(solo.ok()) << solo.status().to_string();

  std::atomic<bool> batch_done{false}, chat_done{false};
  std::atomic<int64_t> chat_first_step{-1};
  Completion batch_out;
  ASSERT_TRUE(e->submit(batch, [&](const StreamEvent& ev) {
                 if (!ev.finished) batch_out.tokens.push_back(ev.token);
                 else batch_done = true;
               }).ok());
  const int64_t solo_prefilled = e->stats().tokens_prefilled;
  while (e->stats().tokens_prefilled < solo_prefilled + 128 * 2 && !batch_done)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  const int64_t submitted_at = e->stats().steps;  // the step under way (or the last one)
  GenerationRequest chat = greedy(random_prompt(rng_, 10), 2);
  ASSERT_TRUE(e->submit(chat, [&](const StreamEvent& ev) {
                 if (!ev.finished && chat_first_step < 0) chat_first_step = e->stats().steps;
                 if (ev.finished) chat_done = true;
               }).ok());
  while (!batch_done || !chat_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GE(chat_first_step.load(), 0);
  EXPECT_LE(chat_first_step.load() - submitted_at, 2)
      << "the chat's first token came " << chat_first_step.load() - submitted_at << " steps after it was submitted";
  EXPECT_EQ(batch_out.tokens, solo->tokens);
}

}  // namespace
}  // namespace ream
