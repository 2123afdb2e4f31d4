// Scheduler: see scheduler.h.
#include "sched/scheduler.h"

#include <algorithm>
#include <cmath>

namespace ream {
namespace {

bool outranks(const Sequence* a, const Sequence* b) {
  if (a->request.priority != b->request.priority) return a->request.priority < b->request.priority;
  return a->arrival < b->arrival;
}

int64_t blocks_for(int64_t tokens, int block_size) { return (tokens + block_size - 1) / block_size; }

}  // namespace

int64_t chunk_cap_for_pairs(int64_t context, double pairs, int64_t most) {
  const double c = static_cast<double>(context);
  // Largest n with n (c + n) <= pairs: the positive root of n^2 + c n - pairs.
  int64_t n = static_cast<int64_t>((-c + std::sqrt(c * c + 4.0 * std::max(pairs, 0.0))) / 2.0);
  while (n > 1 && static_cast<double>(n) * (c + n) > pairs) --n;
  return std::clamp<int64_t>(n, 1, std::max<int64_t>(most, 1));
}

int64_t batch_chunk_cap(int64_t context, int chunk) {
  if (chunk <= 0) return INT64_MAX;
  return chunk_cap_for_pairs(context, static_cast<double>(chunk) * 8192.0, chunk);
}

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

void Scheduler::look_up_prefix(Sequence* seq) {
  if (seq->prefix_looked_up) return;
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

// A waiting sequence that could not be admitted gives its prefix back (it stays cached).
void Scheduler::give_back_prefix(Sequence* seq) {
  blocks_->release(seq->block_table);
  seq->block_table.clear();
  seq->block_hashes.clear();
  seq->num_computed = 0;
  seq->prefix_looked_up = false;
}

ScheduledStep Scheduler::schedule() {
  ScheduledStep step;
  int64_t budget = config_.max_batch_tokens;
  double pairs_left = static_cast<double>(config_.max_step_pairs);  // when bounded
  std::vector<Sequence*> in_step, victims;
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
      victims.push_back(victim);
      ok = ensure_blocks(seq, n);
    }
    return ok;
  };

  // One rank order over running and waiting sequences (both lists are kept sorted).
  std::sort(running_.begin(), running_.end(), outranks);
  std::vector<Sequence*> order;
  std::merge(running_.begin(), running_.end(), waiting_.begin(), waiting_.end(), std::back_inserter(order), outranks);
  const bool interactive = std::any_of(order.begin(), order.end(), [](const Sequence* s) {
    return s->request.priority == Priority::kInteractive;
  });
  bool admitting = true;  // waiting sequences are admitted in rank order until one does not fit
  for (Sequence* seq : order) {
    if (budget == 0 || static_cast<int>(in_step.size()) >= config_.max_num_seqs) break;
    const bool running = seq->state == SeqState::kRunning;
    if (!running && (!admitting || seq->state != SeqState::kWaiting)) continue;
    if (std::find(victims.begin(), victims.end(), seq) != victims.end()) continue;  // waits for the next step
    if (!running) look_up_prefix(seq);
    int64_t n = std::min(seq->remaining(), budget);
    if (interactive && seq->request.priority == Priority::kBatch)
      n = std::min(n, batch_chunk_cap(seq->num_computed, config_.interactive_batch_chunk));
    if (config_.max_step_pairs > 0 && n > 1) n = chunk_cap_for_pairs(seq->num_computed, pairs_left, n);
    if (!make_room(seq, n)) {
      if (running) {
        preempt(seq);
      } else {
        give_back_prefix(seq);
        admitting = false;  // first come, first served among the waiting
      }
      continue;
    }
    if (!running) {
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
      seq->state = SeqState::kRunning;
      running_.push_back(seq);
    }
    append(&step, seq, n);
    in_step.push_back(seq);
    budget -= n;
    pairs_left -= static_cast<double>(n) * static_cast<double>(seq->num_computed + n);
  }
  if (!step.seqs.empty()) ++steps_;
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
