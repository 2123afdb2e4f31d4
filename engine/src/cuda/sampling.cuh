// Token sampling on the device: penalties, greedy, temperature / top-k / top-p / min-p,
// seeded draws, and log_softmax logprobs with the top alternatives.
#pragma once

#include "cuda/common.cuh"

namespace ream::cuda {

constexpr int kMaxTopLogprobs = 20;

// One sampled sequence's parameters (SamplingParams plus its random stream position).
struct SampleParamsDev {
  float temperature;  // 0: greedy
  float top_p;        // 1: off
  float min_p;        // 0: off
  float presence_penalty, frequency_penalty, repetition_penalty;
  int32_t top_k;      // 0 or >= vocab: off
  int32_t n_logprobs;  // top alternatives to report, <= kMaxTopLogprobs
  uint64_t seed;
  int64_t index;       // draw index in the stream (tokens sampled before)
  int32_t pen_offset;  // its penalty entries are entries[pen_offset, pen_offset + pen_count)
  int32_t pen_count;
};

// A distinct token of the prompt or output that penalties apply to. The repetition
// penalty applies to every entry (when != 1); presence/frequency to out_count > 0.
struct PenaltyEntry {
  int32_t token;
  int32_t out_count;  // occurrences among the generated tokens
};

struct SampleOut {
  int32_t token;
  float logprob;  // log_softmax of the raw logits at `token`
  int32_t n_top;
  int32_t top_ids[kMaxTopLogprobs];  // best raw logits, descending (ties: lower id first)
  float top_logprobs[kMaxTopLogprobs];
};

// Samples one token per row of `logits` (n, vocab) fp32, which is modified (penalties).
// `saved` (as many floats as entries) is scratch. Same meaning as the CPU sampler
// (sampler.h: sample_cpu); probabilities are summed in 2^-40 fixed point, so a draw is
// deterministic for given logits.
Status launch_sample(float* logits, int64_t n, int64_t vocab, const SampleParamsDev* params,
                     const PenaltyEntry* entries, float* saved, SampleOut* out, cudaStream_t stream);

}  // namespace ream::cuda
