// The CPU sampler: logits -> next token, with logprobs. The CUDA sampler has the
// same meaning (see backend.h); tests hold one against the other.
//
// Order: logprobs from log_softmax(raw logits); then logit_bias; then penalties (repetition on prompt and
// output, presence/frequency on output); then the constraint's mask (disallowed tokens
// to -inf); greedy when temperature == 0 (ties -> lowest
// id); else temperature, top-k, softmax, top-p, min-p, renormalise, and an inverse-CDF
// draw with u = uniform_at(rng_seed, sample_index) over the kept tokens sorted by
// probability (ties -> lower id).
#pragma once

#include <cstdint>
#include <vector>

#include "backend.h"

namespace ream {

// `logits` (vocab) is used as scratch and modified.
SampleResult sample_cpu(float* logits, int64_t vocab, const SeqSlice& seq);

// The top `k` (id, logprob) of log_softmax(logits), sorted descending (ties -> lower id).
std::vector<TopLogprob> top_logprobs_cpu(const float* logits, int64_t vocab, int k,
                                         float* logprob_of = nullptr, int32_t token = -1);

}  // namespace ream
