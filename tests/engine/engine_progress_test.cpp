// Prefill progress from the engine (CPU backend, tiny random-weight model): a request
// that asks for it gets one event per computed chunk of its prompt, increasing to the
// prompt's length, before its first token; one that does not ask gets tokens only; the
// engine's prefilled-token count holds prompt tokens alone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "ream/engine/engine.h"
#include "engine_test_util.h"
#include "test_util.h"

namespace ream {
namespace {

using testing::random_prompt;
std::unique_ptr<Engine> make_engine(EngineOptions o = {}) { return testing::make_tiny_engine(o); }

GenerationRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  return r;
}

// What one request's stream carried, in order.
struct Recorded {
  std::mutex mu;
  std::vector<int64_t> done;    // prompt_tokens_done of each prefill event
  std::vector<int64_t> totals;  // prompt_tokens_total of each prefill event
  size_t prefill_after_token = 0;  // prefill events that came after a token
  std::vector<TokenId> tokens;
  bool finished = false;
  Usage usage;
};

Result<uint64_t> submit_recorded(Engine& e, GenerationRequest req, Recorded* out) {
  return e.submit(std::move(req), [out](const StreamEvent& ev) {
    std::lock_guard lock(out->mu);
    if (ev.finished) {
      out->finished = true;
      out->usage = ev.usage;
    } else if (ev.prefill) {
      out->done.push_back(ev.prompt_tokens_done);
      out->totals.push_back(ev.prompt_tokens_total);
      if (!out->tokens.empty()) ++out->prefill_after_token;
    } else {
      out->tokens.push_back(ev.token);
    }
  });
}

void wait_finished(Recorded& r) {
  for (;;) {
    {
      std::lock_guard lock(r.mu);
      if (r.finished) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

class EngineProgressTest : public ::testing::Test {
 protected:
  std::mt19937 rng_{std::random_device{}()};
};

TEST_F(EngineProgressTest, OneEventPerChunkRisingToThePromptLengthBeforeTheFirstToken) {
  EngineOptions o;
  o.max_batch_tokens = 64;
  auto e = make_engine(o);
  ASSERT_TRUE(e);
  const int n = 1000 + static_cast<int>(rng_() % 24);
  GenerationRequest req = greedy(random_prompt(rng_, n), 5);
  req.prefill_progress = true;
  Recorded rec;
  ASSERT_TRUE(submit_recorded(*e, req, &rec).ok());
  wait_finished(rec);
  // Alone in the engine, each step takes the next 64 tokens: ceil(n / 64) chunks.
  ASSERT_EQ(rec.done.size(), static_cast<size_t>((n + 63) / 64));
  for (size_t i = 0; i < rec.done.size(); ++i) {
    EXPECT_EQ(rec.done[i], std::min<int64_t>(64 * static_cast<int64_t>(i + 1), n)) << "event " << i;
    EXPECT_EQ(rec.totals[i], n);
  }
  EXPECT_EQ(rec.prefill_after_token, 0u);
  EXPECT_EQ(rec.tokens.size(), 5u);
  // The tokens are those a request that does not ask for progress gets.
  auto alone = make_engine(o)->generate(greedy(req.prompt, 5));
  ASSERT_TRUE(alone.ok()) << alone.status().to_string();
  EXPECT_EQ(rec.tokens, alone->tokens);
}

TEST_F(EngineProgressTest, RequestsThatDoNotAskGetTokensOnly) {
  EngineOptions o;
  o.max_batch_tokens = 32;
  auto e = make_engine(o);
  ASSERT_TRUE(e);
  std::atomic<int> unfinished{0}, prefill{0};
  std::atomic<bool> done{false};
  ASSERT_TRUE(e->submit(greedy(random_prompt(rng_, 300), 4), [&](const StreamEvent& ev) {
                 if (ev.finished) done = true;
                 else ++unfinished;
                 if (ev.prefill) ++prefill;
               }).ok());
  while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(unfinished.load(), 4);
  EXPECT_EQ(prefill.load(), 0);
  // generate() of a request that asks for progress still returns tokens only.
  GenerationRequest asks = greedy(random_prompt(rng_, 300), 4);
  asks.prefill_progress = true;
  auto c = e->generate(asks);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->tokens.size(), 4u);
  for (TokenId t : c->tokens) EXPECT_GE(t, 0);
}

TEST_F(EngineProgressTest, ACachedPrefixCountsAsDoneFromTheFirstEvent) {
  EngineOptions o;
  o.max_batch_tokens = 64;
  auto e = make_engine(o);
  ASSERT_TRUE(e);
  const std::vector<int32_t> doc = random_prompt(rng_, 640);
  ASSERT_TRUE(e->generate(greedy(doc, 1)).ok());
  std::vector<int32_t> prompt = doc;
  const std::vector<int32_t> question = random_prompt(rng_, 100);
  prompt.insert(prompt.end(), question.begin(), question.end());
  GenerationRequest req = greedy(prompt, 2);
  req.prefill_progress = true;
  Recorded rec;
  ASSERT_TRUE(submit_recorded(*e, req, &rec).ok());
  wait_finished(rec);
  const int64_t cached = rec.usage.cached_prompt_tokens;
  ASSERT_GT(cached, 0);
  ASSERT_FALSE(rec.done.empty());
  EXPECT_EQ(rec.done.front(), std::min<int64_t>(cached + 64, 740));
  EXPECT_EQ(rec.done.back(), 740);
  EXPECT_EQ(rec.done.size(), static_cast<size_t>((740 - cached + 63) / 64));
  for (size_t i = 1; i < rec.done.size(); ++i) EXPECT_GT(rec.done[i], rec.done[i - 1]);
}

TEST_F(EngineProgressTest, PrefilledTokensCountPromptTokensNotCachedOnesOrDecodeInputs) {
  EngineOptions o;
  o.max_batch_tokens = 64;
  auto e = make_engine(o);
  ASSERT_TRUE(e);
  const int n = 200 + static_cast<int>(rng_() % 50);
  const std::vector<int32_t> prompt = random_prompt(rng_, n);
  const int64_t before = e->stats().tokens_prefilled;
  auto a = e->generate(greedy(prompt, 12));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(e->stats().tokens_prefilled - before, n);
  // Asked again: the cached prefix is not prefilled again.
  const int64_t mid = e->stats().tokens_prefilled;
  auto b = e->generate(greedy(prompt, 12));
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b->usage.cached_prompt_tokens, 0);
  EXPECT_EQ(e->stats().tokens_prefilled - mid, n - b->usage.cached_prompt_tokens);
}

// A batch request prefilling while interactive requests come and go (its chunks capped,
// steps shared): its events still only rise, end at its length, and precede its tokens.
TEST_F(EngineProgressTest, EventsStayOrderedWhenInteractiveWorkSharesTheSteps) {
  EngineOptions o;
  o.max_batch_tokens = 96;
  o.interactive_batch_chunk = 40;
  auto e = make_engine(o);
  ASSERT_TRUE(e);
  GenerationRequest batch = greedy(random_prompt(rng_, 1500), 3);
  batch.priority = Priority::kBatch;
  batch.prefill_progress = true;
  Recorded rec;
  ASSERT_TRUE(submit_recorded(*e, batch, &rec).ok());
  std::vector<Recorded> chats(3);
  for (auto& chat : chats) {
    GenerationRequest c = greedy(random_prompt(rng_, 20), 6);
    c.prefill_progress = true;
    ASSERT_TRUE(submit_recorded(*e, c, &chat).ok());
  }
  wait_finished(rec);
  for (auto& chat : chats) {
    wait_finished(chat);
    ASSERT_FALSE(chat.done.empty());
    EXPECT_EQ(chat.done.back(), 20);
    EXPECT_EQ(chat.prefill_after_token, 0u);
  }
  ASSERT_GE(rec.done.size(), static_cast<size_t>((1500 + 95) / 96));
  for (size_t i = 1; i < rec.done.size(); ++i) EXPECT_GT(rec.done[i], rec.done[i - 1]) << "event " << i;
  EXPECT_EQ(rec.done.back(), 1500);
  EXPECT_EQ(rec.prefill_after_token, 0u);
  EXPECT_EQ(rec.tokens.size(), 3u);
}

}  // namespace
}  // namespace ream
