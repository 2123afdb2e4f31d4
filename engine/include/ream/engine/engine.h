// Engine: one model, one scheduler, many concurrent requests.
//
// Requests are queued and served by continuous batching over a paged KV cache with
// automatic prefix caching; each engine step mixes decode tokens of running sequences
// with chunks of prompts being prefilled. Interactive requests outrank batch requests.
// Results stream back through a callback invoked on the engine's own thread (keep it
// short; do not call back into the engine from it except cancel()). A request may also
// ask for prefill progress: one event after each chunk of its prompt the engine computes.
//
// Thread-safety: all public methods may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ream/engine/model_config.h"
#include "ream/engine/sampling.h"
#include "ream/engine/status.h"
#include "ream/engine/tokenizer.h"

namespace ream {

struct EngineOptions {
  std::string model;                // model directory or Hugging Face repo id
  std::string device = "cpu";       // "cpu" or "cuda"
  int num_threads = 0;              // CPU backend threads; 0 = all cores
  // CPU backend: nice steps its threads (the engine loop and the backend's workers) lower
  // their priority by, so that computing on the cores a server's I/O threads share does
  // not delay them (reamd passes http.worker_nice). A CUDA engine keeps its priority:
  // there the GPU waits for the loop's launches.
  int cpu_nice = 0;
  int kv_block_size = 16;           // tokens per KV block
  int64_t kv_cache_bytes = 0;       // KV budget; 0 = derive (CPU: 1 GiB cap, CUDA: below)
  double gpu_memory_utilization = 0.90;  // CUDA: share of device memory ream may use
  int max_num_seqs = 64;            // sequences in one step at most
  int max_batch_tokens = 4096;      // tokens per engine step (chunked prefill budget)
  // While an interactive request waits or runs, a batch request's prefill chunk is at most
  // this many tokens, and fewer at long context (chunk x (context + chunk) <= this x 8192
  // key-token pairs), so a step that makes chat wait costs no more than such a chunk.
  // 0: no cap (interactive requests still go first in every step).
  int interactive_batch_chunk = 512;
  // Attention work per step at most this many key-token pairs, summed over the step's
  // prefill chunks (a chunk of n tokens after c computed ones: n x (c + n)); a chunk deep
  // in a long prompt gets fewer tokens, so no step (the one an arriving chat waits for
  // included) runs longer than this work costs. 2^28 is ~0.35 s of Qwen3-4B attention on
  // an H100 (every chunk under 65,536 tokens of context is unaffected). 0: no bound.
  int64_t max_step_pairs = int64_t{1} << 28;
  int64_t max_model_len = 0;        // 0 = config's max_position_embeddings
  bool enable_prefix_caching = true;
  // CUDA: every token's result is bitwise the same whatever else shares its step, however
  // its prompt was chunked and whether its prefix came from the cache (fixed-order matrix
  // products and attention). Off: faster cuBLAS/GEMV products whose rounding follows the
  // batch. The CPU backend is batch invariant either way.
  bool batch_invariant = true;
};

enum class Priority { kInteractive = 0, kBatch = 1 };

struct GenerationRequest {
  std::vector<TokenId> prompt;
  SamplingParams sampling;
  Priority priority = Priority::kInteractive;
  std::string tag;                  // caller's id, carried into logs
  // Also stream prefill progress (StreamEvent::prefill): one event after each chunk of
  // the prompt is computed, the last one (done == total) right before the first token.
  // Off by default, so a callback that takes every unfinished event for a token sees none.
  bool prefill_progress = false;
};

struct TopLogprob {
  TokenId id;
  float logprob;
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason reason);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Timings {
  double queue_ms = 0;          // submit -> first scheduled
  double ttft_ms = 0;           // submit -> first token
  double total_ms = 0;          // submit -> finish
  double decode_tokens_per_s = 0;  // completion tokens after the first, per second
};

// One event of a request's stream: a token, a prefill progress event (only for requests
// with prefill_progress) or the final event.
struct StreamEvent {
  uint64_t request_id = 0;
  bool finished = false;
  // Prefill progress event: after each computed chunk of the prompt, before the first token.
  bool prefill = false;
  int64_t prompt_tokens_done = 0;   // prompt tokens whose KV is computed, a cached prefix
                                    // included; lower again only after a preemption (the
                                    // request recomputes its prompt)
  int64_t prompt_tokens_total = 0;  // the prompt's length
  // Token events:
  TokenId token = -1;
  float logprob = 0;
  std::vector<TopLogprob> top_logprobs;  // sorted by logprob, descending
  std::string text;             // text newly complete with this token (UTF-8, never broken)
  // Final event:
  FinishReason finish_reason = FinishReason::kNone;
  Status error;                 // set when finish_reason == kError
  Usage usage;
  Timings timings;
};

using StreamCallback = std::function<void(const StreamEvent&)>;

// Everything a finished request produced (what generate() returns).
struct Completion {
  std::vector<TokenId> tokens;
  std::vector<float> logprobs;
  std::vector<std::vector<TopLogprob>> top_logprobs;
  std::string text;
  FinishReason finish_reason = FinishReason::kNone;
  Usage usage;
  Timings timings;
};

struct EngineStats {
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  int64_t prefix_cache_queries = 0;   // prompt tokens looked up
  int64_t prefix_cache_hits = 0;      // prompt tokens found cached
  int64_t requests_waiting = 0;
  int64_t requests_running = 0;
  int64_t tokens_generated = 0;
  int64_t tokens_prefilled = 0;       // prompt tokens computed (recomputed ones after a
                                      // preemption too); not cached ones, not decode inputs
  int64_t preemptions = 0;
  int64_t steps = 0;                  // engine steps scheduled so far (the current one included)
};

class Engine {
 public:
  // Loads the model and starts the engine thread. Errors name the file or tensor.
  static Result<std::unique_ptr<Engine>> create(const EngineOptions& options);
  virtual ~Engine() = default;

  // Queues a request. Fails at once (and calls nothing) when it can never run:
  // empty prompt, prompt + max_tokens over the context or the whole KV budget, bad params.
  virtual Result<uint64_t> submit(GenerationRequest request, StreamCallback callback) = 0;
  // Cancels a queued or running request; its stream ends with kCancelled. No-op if done.
  virtual void cancel(uint64_t request_id) = 0;
  // Submits and waits for the whole completion.
  Result<Completion> generate(GenerationRequest request);

  virtual const ModelConfig& config() const = 0;
  virtual std::shared_ptr<const Tokenizer> tokenizer() const = 0;
  virtual int64_t max_model_len() const = 0;
  virtual EngineStats stats() const = 0;
  virtual std::string device_name() const = 0;
  // EOS ids the engine stops on (generation_config, config, tokenizer).
  virtual const std::vector<TokenId>& eos_token_ids() const = 0;
  // Sampling defaults from generation_config.json applied to fresh SamplingParams.
  virtual SamplingParams default_sampling() const = 0;
};

}  // namespace ream
