// Scheduler: priorities hold inside a step. An interactive request that arrives while a
// batch request prefills a long prompt is admitted at the next step, ahead of it; batch
// prefill chunks shrink while interactive work is present (more at long context); the
// interactive request takes KV blocks from batch work when the cache is full.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>

namespace ream {
namespace {

std::unique_ptr<Sequence> make_seq(uint64_t id, Priority priority, int n_prompt, std::mt19937& rng) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  s->arrival = id;
  s->request.priority = priority;
  s->request.sampling.max_tokens = 4;
  for (int i = 0; i < n_prompt; ++i) s->request.prompt.push_back(static_cast<int32_t>(rng() % 150000));
  s->tokens = s->request.prompt;
  s->prompt_len = n_prompt;
  return s;
}

// The tokens `seq` got in `step`, or -1 when it is not in it; its place in *index.
int64_t tokens_of(const ScheduledStep& step, const Sequence* seq, int* index = nullptr) {
  for (size_t i = 0; i < step.seqs.size(); ++i)
    if (step.seqs[i] == seq) {
      if (index) *index = static_cast<int>(i);
      return step.n_tokens[i];
    }
  return -1;
}

TEST(Scheduler, InteractiveRequestIsAdmittedAheadOfARunningBatchPrefill) {
  std::mt19937 rng(std::random_device{}());
  BlockManager blocks(4096, 16, true);
  Scheduler sched({64, 256, 512}, &blocks);
  auto batch = make_seq(1, Priority::kBatch, 4000, rng);
  sched.add(batch.get());
  ScheduledStep first = sched.schedule();
  EXPECT_EQ(tokens_of(first, batch.get()), 256);  // alone: the whole budget
  sched.commit(first);

  auto chat = make_seq(2, Priority::kInteractive, 20, rng);
  sched.add(chat.get());
  ScheduledStep next = sched.schedule();
  int chat_index = -1;
  EXPECT_EQ(tokens_of(next, chat.get(), &chat_index), 20);  // its whole prompt, this step
  EXPECT_EQ(chat_index, 0) << "the interactive request goes first in the step";
  EXPECT_EQ(tokens_of(next, batch.get()), 256 - 20);  // the batch prefill goes on with the rest
  EXPECT_EQ(sched.steps(), 2);
}

TEST(Scheduler, BatchChunksShrinkWhileInteractiveWorkIsPresent) {
  // The cap itself: at most the chunk, and chunk x (context + chunk) within chunk x 8192.
  EXPECT_EQ(batch_chunk_cap(0, 512), 512);
  EXPECT_EQ(batch_chunk_cap(1000, 0), INT64_MAX);
  for (const int64_t ctx : {int64_t{0}, int64_t{7000}, int64_t{8192}, int64_t{50000}, int64_t{131072},
                            int64_t{262143}}) {
    const int64_t n = batch_chunk_cap(ctx, 512);
    SCOPED_TRACE("context " + std::to_string(ctx));
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 512);
    EXPECT_LE(static_cast<double>(n) * (ctx + n), 512.0 * 8192 + (n == 1 ? 1e18 : 0));
    if (n < 512) EXPECT_GT(static_cast<double>(n + 1) * (ctx + n + 1), 512.0 * 8192);
  }
  EXPECT_LT(batch_chunk_cap(131072, 512), 40);

  // In a step: a batch prefill 9,000 tokens in gets the cap, not the budget.
  std::mt19937 rng(std::random_device{}());
  BlockManager blocks(4096, 16, true);
  Scheduler sched({64, 4096, 512}, &blocks);
  auto batch = make_seq(1, Priority::kBatch, 20000, rng);
  sched.add(batch.get());
  while (batch->num_computed < 9000) sched.commit(sched.schedule());
  auto chat = make_seq(2, Priority::kInteractive, 30, rng);
  sched.add(chat.get());
  const ScheduledStep step = sched.schedule();
  EXPECT_EQ(tokens_of(step, chat.get()), 30);
  EXPECT_EQ(tokens_of(step, batch.get()), batch_chunk_cap(batch->num_computed, 512));
  sched.commit(step);
  // The chat finished: batch chunks take the whole budget again.
  sched.remove(chat.get());
  EXPECT_EQ(tokens_of(sched.schedule(), batch.get()), 4096);
}

// Every step's attention work is bounded: a long prompt's chunks shrink with depth so
// that chunk x (context + chunk), summed over the step, stays within max_step_pairs;
// decodes still take their token; with no bound the chunks take the token budget.
TEST(Scheduler, StepAttentionWorkStaysWithinMaxStepPairs) {
  EXPECT_EQ(chunk_cap_for_pairs(0, 4096.0 * 4096, 8192), 4096);
  EXPECT_EQ(chunk_cap_for_pairs(1 << 20, 10.0, 512), 1);  // at least one token
  std::mt19937 rng(std::random_device{}());
  const int64_t pairs = int64_t{1} << 22;  // 4,096 tokens at 1,024 of context
  BlockManager blocks(8192, 16, true);
  Scheduler sched({64, 4096, 512, pairs}, &blocks);
  auto doc = make_seq(1, Priority::kBatch, 30000, rng);
  auto other = make_seq(2, Priority::kBatch, 9000, rng);
  sched.add(doc.get());
  int64_t last = INT64_MAX;
  while (doc->num_computed < 20000) {
    const int64_t c = doc->num_computed;
    const ScheduledStep step = sched.schedule();
    const int64_t n = tokens_of(step, doc.get());
    SCOPED_TRACE("context " + std::to_string(c));
    EXPECT_LE(static_cast<double>(n) * (c + n), static_cast<double>(pairs));
    EXPECT_EQ(n, chunk_cap_for_pairs(c, static_cast<double>(pairs), 4096)) << "the largest chunk within the bound";
    EXPECT_LE(n, last) << "chunks only shrink as the context grows";
    last = n;
    sched.commit(step);
  }
  EXPECT_LT(last, 250);  // at 20,000 of context: about 4,194,304 / 20,000 tokens
  // A second prompt in the same step shares what is left of the bound.
  sched.add(other.get());
  const int64_t c = doc->num_computed;
  const ScheduledStep step = sched.schedule();
  const int64_t n1 = tokens_of(step, doc.get()), n2 = tokens_of(step, other.get());
  EXPECT_GE(n2, 1);  // at least one token, bound or not
  if (n2 > 1) EXPECT_LE(static_cast<double>(n1) * (c + n1) + static_cast<double>(n2) * n2, static_cast<double>(pairs));
  // Unbounded: the token budget alone.
  BlockManager blocks2(8192, 16, true);
  Scheduler free_sched({64, 4096, 512, 0}, &blocks2);
  auto doc2 = make_seq(3, Priority::kBatch, 30000, rng);
  free_sched.add(doc2.get());
  while (doc2->num_computed < 20000) {
    const ScheduledStep st = free_sched.schedule();
    EXPECT_EQ(tokens_of(st, doc2.get()), 4096);
    free_sched.commit(st);
  }
}

TEST(Scheduler, InteractiveRequestTakesKvBlocksFromBatchWork) {
  std::mt19937 rng(std::random_device{}());
  BlockManager blocks(20, 16, true);  // 320 tokens of KV
  Scheduler sched({64, 4096, 512}, &blocks);
  auto batch = make_seq(1, Priority::kBatch, 300, rng);
  sched.add(batch.get());
  sched.commit(sched.schedule());  // 19 blocks held
  batch->tokens.push_back(7);      // its first sampled token, as the engine appends it
  batch->output.push_back(7);
  ASSERT_EQ(batch->state, SeqState::kRunning);
  auto chat = make_seq(2, Priority::kInteractive, 40, rng);
  sched.add(chat.get());
  const ScheduledStep step = sched.schedule();
  EXPECT_EQ(tokens_of(step, chat.get()), 40);
  EXPECT_EQ(tokens_of(step, batch.get()), -1);
  EXPECT_EQ(batch->state, SeqState::kWaiting) << "preempted; it is recomputed later";
  EXPECT_EQ(sched.preemptions(), 1);
}

}  // namespace
}  // namespace ream
