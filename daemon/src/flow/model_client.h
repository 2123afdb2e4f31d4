// ModelClient: the flow executor's seam to the model. The production
// implementation (engine_model_client.h) wraps ream::Engine; unit tests of the
// executor use a scripted client so that they can control replies and timing.
//
// Thread-safety: all methods may be called from any thread. `done` callbacks may
// run on any thread, including inside submit() itself.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/plugin_host.h"
#include "ream/engine/sampling.h"
#include "ream/engine/status.h"

namespace ream::flow {

// How far one request has come. Each number only grows for a request, except that a
// model may report prefilled tokens lower again after recomputing (a preemption).
struct ModelProgress {
  int64_t prompt_tokens = 0;             // the prompt's length in tokens
  int64_t prompt_tokens_prefilled = 0;   // of those, with their KV computed (a cached prefix counts)
  int64_t completion_tokens = 0;         // reply tokens generated so far
};

struct ModelRequest {
  std::vector<plugins::Message> messages;  // rendered with the chat template; or
  std::string text;                        // a raw prompt when messages is empty
  // The engine's own parameters: the model's defaults (ModelClient::default_sampling)
  // under the workflow's and step's engine settings. sampling.constraint is what the
  // reply must be (the prompt's own, else the step's reply_schema); max_tokens is
  // clipped to what the prompt leaves of the context.
  SamplingParams sampling;
  std::string tag;                         // "job 3 step ask[2] q-1", for logs
  // Optional: called inside submit() with the prompt's length (nothing prefilled yet),
  // then on the model's thread after each prefill chunk and each generated token, before
  // `done`. Keep it short.
  std::function<void(const ModelProgress&)> on_progress;
};

struct ModelReply {
  Status status;                           // not ok: the request failed or was cancelled
  std::string text;
  std::string finish_reason;               // "stop", "length", "cancelled", "error"
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;
};

class ModelClient {
 public:
  virtual ~ModelClient() = default;
  // Tokens of plain text (no chat template).
  virtual int64_t count_tokens(std::string_view text) const = 0;
  // The most tokens a prompt and its reply may take together.
  virtual int64_t context_size() const = 0;
  // Tokens the chat template adds around a short conversation.
  virtual int64_t prompt_overhead() const = 0;
  // The model's sampling defaults (its generation_config.json), which a workflow's
  // engine settings override key by key.
  virtual SamplingParams default_sampling() const = 0;
  // Starts a request. On success `done` is called exactly once, later or inside
  // this call; on failure it is never called.
  virtual Result<uint64_t> submit(const ModelRequest& request,
                                  std::function<void(ModelReply)> done) = 0;
  // Cancels a running request; its `done` still runs (with a cancelled status).
  virtual void cancel(uint64_t id) = 0;
};

}  // namespace ream::flow
