// Builds and validates a step's metadata on the host (see step_inputs.cuh). Anything the
// scheduler could get wrong (ranges, block tables, positions) is an InvalidArgument here
// rather than a bad memory access on the device.
#include "cuda/step_inputs.cuh"

#include <algorithm>
#include <cstring>
#include <string>

namespace ream::cuda {
namespace {

constexpr size_t kAlign = 256;

std::string seq_name(size_t i, const SeqSlice& s) {
  return "sequence #" + std::to_string(i) + " (id " + std::to_string(s.seq_id) + ")";
}

Status check_seq(size_t i, const SeqSlice& s, const StepBatch& batch, const StepLimits& lim) {
  const int64_t T = static_cast<int64_t>(batch.tokens.size());
  if (s.query_len < 1 || s.query_start < 0 || s.query_start + static_cast<int64_t>(s.query_len) > T)
    return invalid_argument(seq_name(i, s) + ": query range [" + std::to_string(s.query_start) + ", +" +
                            std::to_string(s.query_len) + ") is outside the step's " + std::to_string(T) +
                            " tokens");
  if (s.context_len < s.query_len)
    return invalid_argument(seq_name(i, s) + ": context_len " + std::to_string(s.context_len) +
                            " is shorter than query_len " + std::to_string(s.query_len));
  const int64_t n_blocks = (s.context_len + lim.block_size - 1) / lim.block_size;
  if (static_cast<int64_t>(s.block_table.size()) < n_blocks)
    return invalid_argument(seq_name(i, s) + ": block table has " + std::to_string(s.block_table.size()) +
                            " blocks, context needs " + std::to_string(n_blocks));
  for (int64_t b = 0; b < n_blocks; ++b)
    if (s.block_table[b] < 0 || s.block_table[b] >= lim.num_kv_blocks)
      return invalid_argument(seq_name(i, s) + ": block id " + std::to_string(s.block_table[b]) +
                              " is outside the cache's " + std::to_string(lim.num_kv_blocks) + " blocks");
  const int32_t first = s.context_len - s.query_len;
  for (int32_t t = 0; t < s.query_len; ++t)
    if (batch.positions[s.query_start + t] != first + t)
      return invalid_argument(seq_name(i, s) + ": token " + std::to_string(t) + " has position " +
                              std::to_string(batch.positions[s.query_start + t]) + ", expected " +
                              std::to_string(first + t));
  if (s.sample && !s.sampling) return invalid_argument(seq_name(i, s) + ": sample is set without sampling params");
  return Status();
}

// Distinct prompt/output tokens with their output counts, for the penalties.
size_t fill_penalties(const SeqSlice& s, int64_t vocab, std::vector<int32_t>* count, PenaltyEntry* dst,
                      size_t room) {
  const SamplingParams& p = *s.sampling;
  const bool rep = p.repetition_penalty != 1.0f;
  const bool pf = p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  if (!rep && !pf) return 0;
  std::vector<int32_t> ids;
  auto seen = [&](int32_t t, bool output) {
    if (t < 0 || t >= vocab) return;
    int32_t& c = (*count)[t];
    if (c < 0) {
      c = 0;
      ids.push_back(t);
    }
    if (output) ++c;
  };
  if (s.output_tokens)
    for (int32_t t : *s.output_tokens) seen(t, true);
  if (rep && s.prompt_tokens)
    for (int32_t t : *s.prompt_tokens) seen(t, false);
  size_t n = 0;
  for (int32_t t : ids) {
    if (n < room) dst[n++] = PenaltyEntry{t, (*count)[t]};
    (*count)[t] = -1;
  }
  return n;
}

}  // namespace

StepLayout StepLayout::make(const StepLimits& lim) {
  StepLayout l{};
  size_t off = 0;
  auto take = [&](size_t bytes) {
    const size_t at = off;
    off = align_up(off + bytes, kAlign);
    return at;
  };
  const size_t T = lim.max_tokens, S = lim.max_seqs;
  l.tokens = take(T * sizeof(int32_t));
  l.positions = take(T * sizeof(int32_t));
  l.slots = take(T * sizeof(int64_t));
  l.seqs = take(S * sizeof(AttnSeq));
  l.work_prefill = take((T + S) * sizeof(AttnWork));
  l.work_decode = take(S * sizeof(AttnWork));
  l.share = take(S * sizeof(AttnShareGroup));
  l.sample_rows = take(S * sizeof(int32_t));
  l.sample_params = take(S * sizeof(SampleParamsDev));
  l.block_tables = take(lim.max_blocks_total * sizeof(int32_t));
  l.penalties = take(S * lim.vocab * sizeof(PenaltyEntry));
  l.biases = take(S * kMaxLogitBias * sizeof(BiasEntry));
  l.masks = take(S * lim.mask_words() * sizeof(uint32_t));
  l.total = off;
  return l;
}

Status build_step_inputs(const StepBatch& batch, const StepLimits& lim, const StepLayout& layout, char* host,
                         std::vector<int32_t>* scratch, StepPlan* plan) {
  *plan = StepPlan{};
  const int64_t T = static_cast<int64_t>(batch.tokens.size());
  if (batch.positions.size() != batch.tokens.size())
    return invalid_argument("step has " + std::to_string(T) + " tokens but " +
                            std::to_string(batch.positions.size()) + " positions");
  if (T > lim.max_tokens)
    return invalid_argument("step has " + std::to_string(T) + " tokens, more than max_batch_tokens " +
                            std::to_string(lim.max_tokens));
  if (static_cast<int64_t>(batch.seqs.size()) > lim.max_seqs)
    return invalid_argument("step has " + std::to_string(batch.seqs.size()) + " sequences, more than max_num_seqs " +
                            std::to_string(lim.max_seqs));
  for (int64_t i = 0; i < T; ++i)
    if (batch.tokens[i] < 0 || batch.tokens[i] >= lim.vocab)
      return invalid_argument("token id " + std::to_string(batch.tokens[i]) + " is outside the vocabulary (size " +
                              std::to_string(lim.vocab) + ")");
  for (size_t i = 0; i < batch.seqs.size(); ++i) REAM_RETURN_IF_ERROR(check_seq(i, batch.seqs[i], batch, lim));

  plan->n_tokens = T;
  plan->n_seqs = static_cast<int>(batch.seqs.size());
  std::memcpy(host + layout.tokens, batch.tokens.data(), T * sizeof(int32_t));
  std::memcpy(host + layout.positions, batch.positions.data(), T * sizeof(int32_t));
  auto* slots = reinterpret_cast<int64_t*>(host + layout.slots);
  std::fill(slots, slots + T, int64_t{-1});
  auto* seqs = reinterpret_cast<AttnSeq*>(host + layout.seqs);
  auto* bt = reinterpret_cast<int32_t*>(host + layout.block_tables);
  auto* rows = reinterpret_cast<int32_t*>(host + layout.sample_rows);
  auto* params = reinterpret_cast<SampleParamsDev*>(host + layout.sample_params);
  std::vector<AttnWork> work_prefill, work_decode;
  int64_t bt_used = 0;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SeqSlice& s = batch.seqs[i];
    const int64_t n_blocks = (s.context_len + lim.block_size - 1) / lim.block_size;
    if (bt_used + n_blocks > lim.max_blocks_total)
      return invalid_argument("the step's block tables hold more than " + std::to_string(lim.max_blocks_total) +
                              " blocks");
    std::memcpy(bt + bt_used, s.block_table.data(), n_blocks * sizeof(int32_t));
    seqs[i] = AttnSeq{s.query_start, s.query_len, s.context_len, static_cast<int32_t>(bt_used)};
    bt_used += n_blocks;
    const int32_t first = s.context_len - s.query_len;
    for (int32_t t = 0; t < s.query_len; ++t) {
      const int32_t pos = first + t;
      slots[s.query_start + t] = static_cast<int64_t>(s.block_table[pos / lim.block_size]) * lim.block_size +
                                 pos % lim.block_size;
    }
    // Sequences whose new tokens fit one decode tile go to the decode kernel.
    if (s.query_len * lim.group <= kAttnRowsDecode) {
      append_attention_work(static_cast<int32_t>(i), s.query_len, kAttnRowsDecode, lim.group, &work_decode);
      plan->max_keys_decode = std::max<int64_t>(plan->max_keys_decode, s.context_len);
    } else {
      append_attention_work(static_cast<int32_t>(i), s.query_len, kAttnRowsPrefill, lim.group, &work_prefill);
      plan->max_keys_prefill = std::max<int64_t>(plan->max_keys_prefill, s.context_len);
    }
  }
  // Decode sequences that begin with the same cached blocks read those keys once a step.
  if (lim.share_decode && work_decode.size() >= 2) {
    std::vector<AttnSeq> seq_list(seqs, seqs + batch.seqs.size());
    std::vector<const int32_t*> tables;
    for (const SeqSlice& s : batch.seqs) tables.push_back(s.block_table.data());
    const std::vector<AttnShareGroup> groups =
        plan_shared_decode(seq_list, tables, lim.block_size, kAttnPiece, lim.group, &work_decode);
    std::memcpy(host + layout.share, groups.data(), groups.size() * sizeof(AttnShareGroup));
    plan->n_share = static_cast<int>(groups.size());
  }
  std::memcpy(host + layout.work_prefill, work_prefill.data(), work_prefill.size() * sizeof(AttnWork));
  std::memcpy(host + layout.work_decode, work_decode.data(), work_decode.size() * sizeof(AttnWork));
  plan->n_work_prefill = static_cast<int>(work_prefill.size());
  plan->n_work_decode = static_cast<int>(work_decode.size());

  auto* pen = reinterpret_cast<PenaltyEntry*>(host + layout.penalties);
  const size_t pen_room = (layout.biases - layout.penalties) / sizeof(PenaltyEntry);
  size_t pen_used = 0;
  auto* bias = reinterpret_cast<BiasEntry*>(host + layout.biases);
  const size_t bias_room = (layout.masks - layout.biases) / sizeof(BiasEntry);
  size_t bias_used = 0;
  plan->decode_only = true;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SeqSlice& s = batch.seqs[i];
    if (s.query_len != 1 || !s.sample) plan->decode_only = false;
    if (!s.sample) continue;
    const SamplingParams& sp = *s.sampling;
    const int k = plan->n_sample++;
    plan->sample_seq.push_back(static_cast<int>(i));
    rows[k] = s.query_start + s.query_len - 1;
    const size_t n_pen = fill_penalties(s, lim.vocab, scratch, pen + pen_used, pen_room - pen_used);
    const size_t bias_at = bias_used;
    for (const auto& [id, b] : sp.logit_bias) {
      if (id < 0 || id >= lim.vocab) return invalid_argument(seq_name(i, s) + ": logit_bias token " + std::to_string(id) + " is outside the vocabulary");
      if (bias_used < bias_room) bias[bias_used++] = BiasEntry{id, b};
    }
    int32_t mask_row = -1;
    if (s.allowed) {
      mask_row = plan->n_masked++;
      plan->masked_seq.push_back(static_cast<int>(i));
    }
    params[k] = SampleParamsDev{sp.temperature,
                                sp.top_p,
                                sp.min_p,
                                sp.presence_penalty,
                                sp.frequency_penalty,
                                sp.repetition_penalty,
                                sp.top_k,
                                std::clamp(sp.top_logprobs, 0, kMaxTopLogprobs),
                                s.rng_seed,
                                s.sample_index,
                                static_cast<int32_t>(pen_used),
                                static_cast<int32_t>(n_pen),
                                static_cast<int32_t>(bias_at),
                                static_cast<int32_t>(bias_used - bias_at),
                                mask_row};
    pen_used += n_pen;
  }
  plan->upload_bytes = layout.block_tables + bt_used * sizeof(int32_t);
  plan->penalty_bytes = pen_used * sizeof(PenaltyEntry);
  plan->bias_bytes = bias_used * sizeof(BiasEntry);
  if (plan->n_tokens != plan->n_seqs) plan->decode_only = false;
  return Status();
}

}  // namespace ream::cuda
