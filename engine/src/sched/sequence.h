// Sequence: one request's state inside the engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ream/engine/engine.h"

namespace ream {
namespace grammar {
class Matcher;
}

using Clock = std::chrono::steady_clock;

enum class SeqState { kWaiting, kRunning, kFinished };

struct Sequence {
  uint64_t id = 0;
  uint64_t arrival = 0;              // submission order, breaks priority ties
  GenerationRequest request;
  StreamCallback callback;
  SeqState state = SeqState::kWaiting;

  std::vector<int32_t> tokens;       // prompt + generated so far
  std::vector<int32_t> output;       // generated so far
  int64_t prompt_len = 0;
  int64_t num_computed = 0;          // tokens whose K/V are in the cache
  std::vector<int32_t> block_table;
  std::vector<uint64_t> block_hashes;  // hashes of the leading full blocks registered
  uint64_t rng_seed = 0;
  bool prefix_looked_up = false;
  bool prefix_counted = false;
  int64_t cached_prompt_tokens = 0;
  bool cancel_requested = false;
  // Constrained decoding: where the output stands in its grammar. It follows the output
  // tokens only, so preemption (which recomputes the KV cache) and prefix-cache hits
  // leave it as it is.
  std::shared_ptr<grammar::Matcher> matcher;
  bool mask_empty = false;  // the last mask allowed no token (the grammar cannot go on)

  Clock::time_point submitted, first_scheduled, first_token, finished;
  bool scheduled_once = false;

  int64_t remaining() const { return static_cast<int64_t>(tokens.size()) - num_computed; }
};

}  // namespace ream
