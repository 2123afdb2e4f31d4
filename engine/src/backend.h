// Backend: the device-specific half of the engine (CPU reference or CUDA).
//
// The scheduler (sched/) decides which tokens run in a step and which KV blocks they
// use; a backend runs the forward pass over that StepBatch, writes the new tokens'
// keys and values into their blocks and samples the next token of every sequence
// that asks for one. Backends own their weights and KV memory, sized at creation and
// never reallocated while serving.
//
// KV layout (both backends): per layer, K and V each [num_blocks][n_kv_heads][block_size][head_dim].
// Token t of a sequence lives in block block_table[t / block_size], slot t % block_size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ream/engine/engine.h"
#include "ream/engine/sampling.h"
#include "ream/engine/status.h"

namespace ream {

struct LoadedModel;

// One sequence's share of a step.
struct SeqSlice {
  uint64_t seq_id = 0;
  int32_t query_start = 0;   // index of its first new token in StepBatch::tokens
  int32_t query_len = 0;     // new tokens this step (a prefill chunk, or 1 when decoding)
  int32_t context_len = 0;   // tokens in the KV cache after this step; the new tokens sit at
                             // positions [context_len - query_len, context_len)
  // Blocks holding positions [0, context_len): a view of the sequence's own table, valid
  // for the step (the scheduler changes no table of a sequence it has placed in a step).
  std::span<const int32_t> block_table;
  bool sample = false;       // sample a token after its last new token
  // Sampling state, read only when sample is true.
  const SamplingParams* sampling = nullptr;
  uint64_t rng_seed = 0;
  int64_t sample_index = 0;  // how many tokens this sequence sampled before (random stream index)
  const std::vector<int32_t>* prompt_tokens = nullptr;  // for the repetition penalty
  const std::vector<int32_t>* output_tokens = nullptr;  // for all penalties
  // Constrained decoding: a bitmask over the vocabulary ((vocab + 31) / 32 words, bit
  // id & 31 of word id >> 5 set = allowed), or null when unconstrained. Its contents are
  // written by StepBatch::fill_masks, so read them only after calling it.
  const uint32_t* allowed = nullptr;
};

struct StepBatch {
  std::vector<int32_t> tokens;     // (n_tokens) all sequences' new tokens, back to back
  std::vector<int32_t> positions;  // (n_tokens) position of each token in its sequence
  std::vector<SeqSlice> seqs;
  // Computes the masks SeqSlice::allowed points at (on the calling thread). A backend
  // calls it once per step, after starting the forward pass and before sampling, so the
  // mask work may overlap the device's forward. Empty when no slice is constrained.
  std::function<void()> fill_masks;
};

struct SampleResult {
  int32_t token = -1;
  float logprob = 0;                 // log_softmax of the raw logits (before penalties/temperature)
  std::vector<TopLogprob> top;       // sampling->top_logprobs best, same distribution
};

struct BackendOptions {
  int num_threads = 0;
  int thread_nice = 0;  // CPU: nice steps the worker threads lower themselves by
  int block_size = 16;
  int64_t kv_cache_bytes = 0;
  double gpu_memory_utilization = 0.9;
  int max_num_seqs = 64;
  int max_batch_tokens = 4096;
  bool batch_invariant = true;  // see EngineOptions::batch_invariant
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int64_t num_kv_blocks() const = 0;
  // Runs one step; appends one SampleResult per sequence with sample == true, in order.
  // A failure (device error, out of memory) leaves the backend usable for later steps.
  virtual Status step(const StepBatch& batch, std::vector<SampleResult>* out) = 0;
};

// The fp32 reference backend. Keeps `model` alive as long as it needs the mapping.
Result<std::unique_ptr<Backend>> make_cpu_backend(std::shared_ptr<LoadedModel> model,
                                                  const BackendOptions& options);
// The CUDA backend; returns kUnimplemented when ream was built without CUDA.
Result<std::unique_ptr<Backend>> make_cuda_backend(std::shared_ptr<LoadedModel> model,
                                                   const BackendOptions& options);

}  // namespace ream
