// Scheduler: continuous batching with chunked prefill over the paged KV cache.
//
// Each step takes up to `max_batch_tokens` tokens and `max_num_seqs` sequences, in rank
// order over running and waiting sequences alike (interactive before batch, then arrival):
// a running sequence gets one decode token or its next prefill chunk, a waiting one is
// admitted with its first chunk. So an interactive request that arrives while a batch
// request prefills a long document is admitted at the next step, ahead of it, and may
// preempt batch sequences for KV blocks. While interactive work is waiting or running,
// each batch prefill chunk is also capped (interactive_batch_chunk tokens, and fewer at
// long context: chunk x (context + chunk) <= interactive_batch_chunk x 8192 key-token
// pairs), so no step keeps an interactive request waiting longer than such a chunk costs.
// Every step's attention work is bounded too (max_step_pairs key-token pairs over all its
// prefill chunks: chunk x (context + chunk) each), so a long prompt deep in its context
// takes smaller chunks and no step, the one an arriving chat must wait for included, runs
// longer than that work costs.
// When the KV cache runs out, the lowest-ranked running sequence is preempted: its
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
  int interactive_batch_chunk = 512;  // 0: batch chunks are not capped for interactive work
  int64_t max_step_pairs = 0;         // attention key-token pairs per step; 0: no bound
};

// The most prefill tokens a batch sequence with `context` tokens computed may take in one
// step while interactive work is present: at most `chunk`, and at most what keeps
// tokens x (context + tokens) within chunk x 8192 key-token pairs; at least 1.
int64_t batch_chunk_cap(int64_t context, int chunk);
// The most tokens (at most `most`, at least 1) a prefill chunk after `context` computed
// tokens may take with tokens x (context + tokens) <= `pairs`.
int64_t chunk_cap_for_pairs(int64_t context, double pairs, int64_t most);

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
  int64_t steps() const { return steps_; }

  // Builds the next step; empty when nothing can run.
  ScheduledStep schedule();
  // Commits a step's computed tokens: advances num_computed and registers full blocks.
  void commit(const ScheduledStep& step);

 private:
  bool ensure_blocks(Sequence* seq, int64_t n_tokens);
  void preempt(Sequence* seq);
  void register_full_blocks(Sequence* seq);
  void append(ScheduledStep* step, Sequence* seq, int64_t n);
  void look_up_prefix(Sequence* seq);
  void give_back_prefix(Sequence* seq);

  SchedulerConfig config_;
  BlockManager* blocks_;
  std::vector<Sequence*> waiting_;  // kept sorted by (priority, arrival)
  std::vector<Sequence*> running_;  // in admission order
  int64_t preemptions_ = 0;
  int64_t prefix_queries_ = 0;
  int64_t prefix_hits_ = 0;
  int64_t steps_ = 0;
};

}  // namespace ream
