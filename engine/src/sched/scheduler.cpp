// Scheduler: see scheduler.h.
#include "sched/scheduler.h"

#include <algorithm>

namespace ream {
namespace {

bool outranks(const Sequence* a, const Sequence* b) {
  if (a->request.priority != b->request.priority) return a->request.priority < b->request.priority;
  return a->arrival < b->arrival;
}

int64_t blocks_for(int64_t tokens, int block_size) { return (tokens + block_size - 1) / block_size; }

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, BlockManager* blocks) : config_(config), blocks_(blocks) {}

void Scheduler::add(Sequence* seq) {
  seq->state = SeqState::kWaiting;
  waiting_.insert(std::upper_bound(waiting_.begin(), waiting_.end(), seq, outranks), seq);
}

void Scheduler::remove(Sequence* seq) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), seq), waiting_.end());
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  blocks_->release(seq->block_table);
  seq->block_table.clear();
  seq->block_hashes.clear();
  seq->state = SeqState::kFinished;
}

bool Scheduler::ensure_blocks(Sequence* seq, int64_t n_tokens) {
  const int64_t need = blocks_for(seq->num_computed + n_tokens, blocks_->block_size()) -
                       static_cast<int64_t>(seq->block_table.size());
  if (need <= 0) return true;
  return blocks_->allocate(need, &seq->block_table);
}

void Scheduler::preempt(Sequence* seq) {
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  blocks_->release(seq->block_table);
  seq->block_table.clear();
  seq->block_hashes.clear();
  seq->num_computed = 0;
  seq->prefix_looked_up = false;
  ++preemptions_;
  add(seq);
}

void Scheduler::append(ScheduledStep* step, Sequence* seq, int64_t n) {
  SeqSlice slice;
  slice.seq_id = seq->id;
  slice.query_start = static_cast<int32_t>(step->batch.tokens.size());
  slice.query_len = static_cast<int32_t>(n);
  slice.context_len = static_cast<int32_t>(seq->num_computed + n);
  slice.block_table = seq->block_table;
  slice.sample = seq->num_computed + n == static_cast<int64_t>(seq->tokens.size());
  slice.sampling = &seq->request.sampling;
  slice.rng_seed = seq->rng_seed;
  slice.sample_index = static_cast<int64_t>(seq->output.size());
  slice.prompt_tokens = &seq->request.prompt;
  slice.output_tokens = &seq->output;
  for (int64_t i = 0; i < n; ++i) {
    step->batch.tokens.push_back(seq->tokens[seq->num_computed + i]);
    step->batch.positions.push_back(static_cast<int32_t>(seq->num_computed + i));
  }
  step->batch.seqs.push_back(std::move(slice));
  step->seqs.push_back(seq);
  step->n_tokens.push_back(static_cast<int32_t>(n));
  if (!seq->scheduled_once) {
    seq->scheduled_once = true;
    seq->first_scheduled = Clock::now();
  }
}

ScheduledStep Scheduler::schedule() {
  ScheduledStep step;
  int64_t budget = config_.max_batch_tokens;
  std::vector<Sequence*> in_step;
  auto scheduled = [&](const Sequence* s) {
    return std::find(in_step.begin(), in_step.end(), s) != in_step.end();
  };
  // Victims come from running sequences not yet placed in this step, lowest rank first.
  auto victim_for = [&](const Sequence* seq) -> Sequence* {
    Sequence* worst = nullptr;
    for (Sequence* s : running_)
      if (s != seq && !scheduled(s) && (!worst || outranks(worst, s))) worst = s;
    return (worst && outranks(seq, worst)) ? worst : nullptr;
  };
  // KV blocks for n more tokens of seq, preempting lower-ranked victims while needed.
  auto make_room = [&](Sequence* seq, int64_t n) {
    bool ok = ensure_blocks(seq, n);
    while (!ok) {
      Sequence* victim = victim_for(seq);
      if (!victim) break;
      preempt(victim);
      ok = ensure_blocks(seq, n);
    }
    return ok;
  };

  std::sort(running_.begin(), running_.end(), outranks);
  const std::vector<Sequence*> running = running_;
  for (Sequence* seq : running) {
    if (seq->state != SeqState::kRunning) continue;  // preempted as a victim this step
    if (budget == 0 || static_cast<int>(in_step.size()) >= config_.max_num_seqs) break;
    const int64_t n = std::min(seq->remaining(), budget);
    if (!make_room(seq, n)) {
      preempt(seq);
      continue;
    }
    append(&step, seq, n);
    in_step.push_back(seq);
    budget -= n;
  }

  for (Sequence* seq : std::vector<Sequence*>(waiting_)) {
    if (budget == 0 || static_cast<int>(in_step.size()) >= config_.max_num_seqs) break;
    if (!seq->prefix_looked_up) {
      std::vector<uint64_t> hashes;
      const int64_t max_cached = static_cast<int64_t>(seq->tokens.size()) - 1;
      seq->block_table = blocks_->acquire_prefix(seq->tokens, max_cached, &hashes);
      seq->block_hashes = std::move(hashes);
      seq->num_computed = static_cast<int64_t>(seq->block_table.size()) * blocks_->block_size();
      seq->prefix_looked_up = true;
      if (!seq->prefix_counted) {
        seq->prefix_counted = true;
        prefix_queries_ += seq->prompt_len;
        prefix_hits_ += seq->num_computed;
        seq->cached_prompt_tokens = seq->num_computed;
      }
    }
    const int64_t n = std::min(seq->remaining(), budget);
    if (!make_room(seq, n)) {
      // Give the prefix back (it stays cached) and keep first-come-first-served order.
      blocks_->release(seq->block_table);
      seq->block_table.clear();
      seq->block_hashes.clear();
      seq->num_computed = 0;
      seq->prefix_looked_up = false;
      break;
    }
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
    seq->state = SeqState::kRunning;
    running_.push_back(seq);
    append(&step, seq, n);
    in_step.push_back(seq);
    budget -= n;
  }
  return step;
}

void Scheduler::register_full_blocks(Sequence* seq) {
  const int bs = blocks_->block_size();
  const int64_t full = seq->num_computed / bs;
  while (static_cast<int64_t>(seq->block_hashes.size()) < full) {
    const int64_t i = static_cast<int64_t>(seq->block_hashes.size());
    const uint64_t parent = i == 0 ? 0 : seq->block_hashes[i - 1];
    const int32_t* t = seq->tokens.data() + i * bs;
    const uint64_t h = BlockManager::chain_hash(parent, t, bs);
    blocks_->register_full(seq->block_table[i], h, parent, t);
    seq->block_hashes.push_back(h);
  }
}

void Scheduler::commit(const ScheduledStep& step) {
  for (size_t i = 0; i < step.seqs.size(); ++i) {
    Sequence* seq = step.seqs[i];
    seq->num_computed += step.n_tokens[i];
    register_full_blocks(seq);
  }
}

}  // namespace ream
