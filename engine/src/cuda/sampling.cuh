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
  int32_t bias_offset;  // its logit_bias entries are biases[bias_offset, bias_offset + bias_count)
  int32_t bias_count;
  int32_t mask_row;     // its allowed-token bitmask is masks row mask_row; -1: unconstrained
};

// One logit_bias entry: added to the token's logit before the penalties.
struct BiasEntry {
  int32_t token;
  float bias;
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

// Samples one token per row of `logits` (n, vocab) fp32, which is modified (bias,
// penalties, mask). `saved` (as many floats as entries) and `bias_saved` (as many as
// biases) are scratch. `masks` (rows of (vocab + 31) / 32 words; bit id & 31 of word
// id >> 5 set = allowed) is read only by rows whose mask_row >= 0: disallowed tokens
// become -inf after the penalties. Same meaning as the CPU sampler (sampler.h:
// sample_cpu); probabilities are summed in 2^-40 fixed point, so a draw is
// deterministic for given logits.
Status launch_sample(float* logits, int64_t n, int64_t vocab, const SampleParamsDev* params,
                     const PenaltyEntry* entries, float* saved, const BiasEntry* biases, float* bias_saved,
                     const uint32_t* masks, SampleOut* out, cudaStream_t stream);

}  // namespace ream::cuda
