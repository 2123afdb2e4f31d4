// Scheduler: continuous batching with chunked prefill over the paged KV cache.
//
// Each step takes up to `max_batch_tokens` tokens and `max_num_seqs` sequences: running
// sequences first (one decode token each, or their next prefill chunk), then waiting
// ones in priority order (interactive before batch, then arrival). When the KV cache
// runs out, the lowest-priority, latest-arrived running sequence is preempted: its
// blocks are released (they stay in the prefix cache) and it is recomputed later from
// its prompt and the tokens it already generated, which gives the same output.
//
// Not thread-safe: used from the engine thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "backend.h"
#include "sched/block_manager.h"
#include "sched/sequence.h"

namespace ream {

struct SchedulerConfig {
  int max_num_seqs = 64;
  int max_batch_tokens = 4096;
};

struct ScheduledStep {
  StepBatch batch;
  std::vector<Sequence*> seqs;   // parallel to batch.seqs
  std::vector<int32_t> n_tokens; // new tokens per sequence this step
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, BlockManager* blocks);

  void add(Sequence* seq);
  // Removes a sequence from the queues and releases its blocks.
  void remove(Sequence* seq);
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t preemptions() const { return preemptions_; }
  int64_t prefix_queries() const { return prefix_queries_; }
  int64_t prefix_hits() const { return prefix_hits_; }

  // Builds the next step; empty when nothing can run.
  ScheduledStep schedule();
  // Commits a step's computed tokens: advances num_computed and registers full blocks.
  void commit(const ScheduledStep& step);

 private:
  bool ensure_blocks(Sequence* seq, int64_t n_tokens);
  void preempt(Sequence* seq);
  void register_full_blocks(Sequence* seq);
  void append(ScheduledStep* step, Sequence* seq, int64_t n);

  SchedulerConfig config_;
  BlockManager* blocks_;
  std::vector<Sequence*> waiting_;  // kept sorted by (priority, arrival)
  std::vector<Sequence*> running_;  // in admission order
  int64_t preemptions_ = 0;
  int64_t prefix_queries_ = 0;
  int64_t prefix_hits_ = 0;
};

}  // namespace ream
