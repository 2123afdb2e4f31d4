// The per-step metadata the kernels read (token ids, positions, KV slots, attention work
// lists, block tables, sampling parameters, penalty entries), packed into one pinned host
// buffer at fixed offsets and uploaded with one copy.
#pragma once

#include <vector>

#include "backend.h"
#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/sampling.cuh"

namespace ream::cuda {

struct StepLimits {
  int64_t max_tokens = 0;        // max_batch_tokens
  int64_t max_seqs = 0;          // max_num_seqs
  int64_t max_blocks_total = 0;  // block-table entries per step, all sequences together
  int64_t vocab = 0;
  int64_t num_kv_blocks = 0;
  int block_size = 16;
  int group = 1;                 // n_heads / n_kv_heads
  bool share_decode = true;      // shared-prefix decode groups (REAM_DECODE_SHARE=0: off)
  int64_t mask_words() const { return (vocab + 31) / 32; }
};

// Byte offsets of each section inside the metadata buffer (host and device alike). Every
// section sits at a fixed place, so captured CUDA graphs keep pointing at the right data.
struct StepLayout {
  size_t tokens, positions, slots, seqs, work_prefill, work_decode, share, sample_rows, sample_params, block_tables;
  size_t penalties;  // PenaltyEntry array, after the block tables' full capacity
  size_t biases;     // BiasEntry array (max_seqs * kMaxLogitBias)
  size_t masks;      // allowed-token bitmasks, one row of mask_words per constrained row
  size_t total;
  static StepLayout make(const StepLimits& lim);
};

// What build_step_inputs decided for one step.
struct StepPlan {
  int64_t n_tokens = 0;
  int n_seqs = 0;
  int n_work_prefill = 0, n_work_decode = 0;
  int64_t max_keys_prefill = 0, max_keys_decode = 0;
  int n_sample = 0;
  std::vector<int> sample_seq;  // index into batch.seqs of each sampled row
  size_t upload_bytes = 0;      // copy bytes [0, upload_bytes) (up to the used block tables)
  size_t penalty_bytes = 0;     // and [layout.penalties, + penalty_bytes) when non-zero
  size_t bias_bytes = 0;        // and [layout.biases, + bias_bytes) when non-zero
  int n_masked = 0;             // constrained rows; their masks go to [layout.masks, ...) once
  std::vector<int> masked_seq;  // filled (StepBatch::fill_masks), row k from batch.seqs[masked_seq[k]]
  int splits_prefill = 1, splits_decode = 1;  // attention key splits (set by the backend)
  int rounds_prefill = 1, rounds_decode = 1;  // split rounds (set by the backend)
  int n_share = 0;              // shared-prefix groups of the decode work (plan_shared_decode)
  bool decode_only = false;     // one new token and one sample per sequence
};

// Validates `batch` against the limits and fills `host` (laid out by `layout`).
// `scratch` (vocab ints, all -1) is host scratch for penalty counts; returned to -1.
Status build_step_inputs(const StepBatch& batch, const StepLimits& lim, const StepLayout& layout, char* host,
                         std::vector<int32_t>* scratch, StepPlan* plan);

}  // namespace ream::cuda
