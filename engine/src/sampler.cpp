// CPU sampler: see sampler.h for the order of operations.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_map>

#include "rng.h"

namespace ream {

std::string validate_sampling(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || p.temperature > 100.0f) return "temperature must be in [0, 100]";
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return "top_p must be in (0, 1]";
  if (p.top_k < 0) return "top_k must be >= 0 (0 disables it)";
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return "min_p must be in [0, 1]";
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) return "presence_penalty must be in [-2, 2]";
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) return "frequency_penalty must be in [-2, 2]";
  if (!(p.repetition_penalty > 0.0f)) return "repetition_penalty must be > 0";
  if (p.max_tokens < 1) return "max_tokens must be >= 1";
  if (p.top_logprobs < 0 || p.top_logprobs > 20) return "top_logprobs must be in [0, 20]";
  for (const auto& s : p.stop)
    if (s.empty()) return "stop strings must not be empty";
  if (p.logit_bias.size() > static_cast<size_t>(kMaxLogitBias))
    return "logit_bias has " + std::to_string(p.logit_bias.size()) + " entries, at most " +
           std::to_string(kMaxLogitBias) + " are allowed";
  std::vector<int32_t> ids;
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0) return "logit_bias: token id " + std::to_string(id) + " is negative";
    if (!(bias >= -100.0f && bias <= 100.0f))
      return "logit_bias: the bias of token " + std::to_string(id) + " must be in [-100, 100]";
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (size_t i = 1; i < ids.size(); ++i)
    if (ids[i] == ids[i - 1]) return "logit_bias: token id " + std::to_string(ids[i]) + " appears twice";
  const bool has_source = !p.constraint.source.empty();
  switch (p.constraint.kind) {
    case Constraint::Kind::kNone:
      if (has_source) return "constraint: a source is given but no kind";
      break;
    case Constraint::Kind::kJsonObject:
      if (has_source) return "constraint: json_object takes no source";
      break;
    case Constraint::Kind::kJsonSchema:
    case Constraint::Kind::kRegex:
    case Constraint::Kind::kGrammar:
      if (!has_source) return "constraint: the source is empty";
      break;
    default:
      return "constraint: unknown kind";
  }
  return "";
}

namespace {

double log_sum_exp(const float* x, int64_t n, float* max_out) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - m);
  *max_out = m;
  return std::log(s);
}

bool better(float a_val, int32_t a_id, float b_val, int32_t b_id) {
  return a_val > b_val || (a_val == b_val && a_id < b_id);
}

void apply_penalties(float* logits, const SeqSlice& seq) {
  const SamplingParams& p = *seq.sampling;
  if (p.repetition_penalty != 1.0f) {
    // HF applies it once per distinct token of prompt and output.
    std::vector<int32_t> seen;
    if (seq.prompt_tokens) seen.insert(seen.end(), seq.prompt_tokens->begin(), seq.prompt_tokens->end());
    if (seq.output_tokens) seen.insert(seen.end(), seq.output_tokens->begin(), seq.output_tokens->end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t id : seen) {
      float& l = logits[id];
      l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    }
  }
  if ((p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) && seq.output_tokens) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t id : *seq.output_tokens) ++counts[id];
    for (const auto& [id, c] : counts)
      logits[id] -= p.frequency_penalty * static_cast<float>(c) + p.presence_penalty;
  }
}

}  // namespace

std::vector<TopLogprob> top_logprobs_cpu(const float* logits, int64_t vocab, int k,
                                         float* logprob_of, int32_t token) {
  float m;
  const double lse = log_sum_exp(logits, vocab, &m);
  if (logprob_of && token >= 0) *logprob_of = static_cast<float>(logits[token] - m - lse);
  std::vector<TopLogprob> top;
  if (k <= 0) return top;
  std::vector<int32_t> idx(vocab);
  std::iota(idx.begin(), idx.end(), 0);
  k = static_cast<int>(std::min<int64_t>(k, vocab));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return better(logits[a], a, logits[b], b);
  });
  for (int i = 0; i < k; ++i)
    top.push_back({idx[i], static_cast<float>(logits[idx[i]] - m - lse)});
  return top;
}

SampleResult sample_cpu(float* logits, int64_t vocab, const SeqSlice& seq) {
  const SamplingParams& p = *seq.sampling;
  SampleResult r;
  // Raw distribution first, for logprobs; the chosen token's logprob is filled at the end.
  std::vector<float> raw(logits, logits + vocab);
  for (const auto& [id, bias] : p.logit_bias)
    if (id < vocab) logits[id] += bias;
  apply_penalties(logits, seq);
  if (seq.allowed)
    for (int64_t i = 0; i < vocab; ++i)
      if (!((seq.allowed[i >> 5] >> (i & 31)) & 1u)) logits[i] = -INFINITY;

  if (p.temperature == 0.0f) {
    int32_t best = 0;
    for (int32_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    r.token = best;
  } else {
    const float inv_t = 1.0f / p.temperature;
    std::vector<int32_t> idx(vocab);
    std::iota(idx.begin(), idx.end(), 0);
    auto by_logit = [&](int32_t a, int32_t b) { return better(logits[a], a, logits[b], b); };
    int64_t kept = vocab;
    if (p.top_k > 0 && p.top_k < vocab) {
      kept = p.top_k;
      std::partial_sort(idx.begin(), idx.begin() + kept, idx.end(), by_logit);
    } else {
      std::sort(idx.begin(), idx.end(), by_logit);
    }
    // Softmax over the kept tokens (already sorted, so probabilities are descending).
    const float m = logits[idx[0]] * inv_t;
    std::vector<double> prob(kept);
    double total = 0;
    for (int64_t i = 0; i < kept; ++i) total += prob[i] = std::exp(logits[idx[i]] * inv_t - m);
    for (auto& x : prob) x /= total;
    if (p.top_p < 1.0f) {
      double cum = 0;
      int64_t n = 0;
      while (n < kept) {
        cum += prob[n++];
        if (cum >= p.top_p) break;
      }
      kept = std::max<int64_t>(1, n);
    }
    if (p.min_p > 0.0f) {
      const double floor = p.min_p * prob[0];
      int64_t n = 1;
      while (n < kept && prob[n] >= floor) ++n;
      kept = n;
    }
    double mass = 0;
    for (int64_t i = 0; i < kept; ++i) mass += prob[i];
    const double u = uniform_at(seq.rng_seed, seq.sample_index) * mass;
    double cum = 0;
    r.token = idx[kept - 1];
    for (int64_t i = 0; i < kept; ++i) {
      cum += prob[i];
      if (cum > u) {
        r.token = idx[i];
        break;
      }
    }
  }
  r.top = top_logprobs_cpu(raw.data(), vocab, p.top_logprobs, &r.logprob, r.token);
  return r;
}

}  // namespace ream
