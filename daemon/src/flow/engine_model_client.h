// EngineModelClient: the flow executor's ModelClient over a ream::Engine.
// Chat messages are rendered with the model's chat template and tokenized; every
// request goes to the engine at batch priority (interactive chat outranks it). A
// request with on_progress asks the engine for prefill progress events.
#pragma once

#include <memory>

#include "flow/model_client.h"
#include "ream/engine/engine.h"

namespace ream::flow {

class EngineModelClient : public ModelClient {
 public:
  // `engine` must outlive this client.
  explicit EngineModelClient(Engine& engine);

  int64_t count_tokens(std::string_view text) const override;
  int64_t context_size() const override;
  int64_t prompt_overhead() const override { return overhead_; }
  SamplingParams default_sampling() const override { return engine_.default_sampling(); }
  Result<uint64_t> submit(const ModelRequest& request, std::function<void(ModelReply)> done) override;
  void cancel(uint64_t id) override;

 private:
  Engine& engine_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  int64_t overhead_ = 0;
};

}  // namespace ream::flow
