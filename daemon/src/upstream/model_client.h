// UpstreamModelClient: the flow executor's ModelClient over an UpstreamPool, for a reamd that
// runs no model of its own and sends workflow steps to OpenAI-compatible upstreams.
//
// A request with messages goes to /v1/chat/completions, a raw prompt to /v1/completions,
// always streamed (with stream_options.include_usage) so progress is reported per token and a
// reply cut mid-way is told apart from one that never started. The step's sampling is sent in
// full (the OpenAI fields, plus vLLM's top_k, min_p, repetition_penalty, stop_token_ids and
// ignore_eos where they differ from off); its constraint as OpenAI's response_format
// (json_object, or json_schema with strict: true). A regex or grammar constraint has no
// OpenAI spelling and is refused at submit with an error saying so.
//
// Tokens are counted with the local tokenizer (the model directory's tokenizer.json: the
// upstreams must serve the same model); the context size is the smallest an upstream
// reports in /v1/models (max_model_len), else the local config.json's.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "flow/model_client.h"
#include "ream/engine/tokenizer.h"
#include "upstream/pool.h"

namespace ream::upstream {

// The text affinity is computed over: the leading system messages whole, then the first
// `max_chars` characters of the other messages' contents in order (chat), or of the prompt
// (completions; the first when a list). Both the proxied API and workflows use it, so a chat
// over a document and a workflow over it meet on the same upstream.
std::string affinity_text(const nlohmann::json& body, size_t max_chars);

// The OpenAI request body for one step's request (without "model").
Result<nlohmann::json> request_body(const flow::ModelRequest& request, int32_t max_tokens);

class UpstreamModelClient : public flow::ModelClient {
 public:
  // `pool` must outlive this client.
  UpstreamModelClient(UpstreamPool& pool, std::shared_ptr<const Tokenizer> tokenizer, SamplingParams defaults,
                      int64_t fallback_context, int64_t affinity_chars);

  int64_t count_tokens(std::string_view text) const override;
  int64_t context_size() const override;
  int64_t prompt_overhead() const override { return overhead_; }
  SamplingParams default_sampling() const override { return defaults_; }
  Result<uint64_t> submit(const flow::ModelRequest& request, std::function<void(flow::ModelReply)> done) override;
  void cancel(uint64_t id) override;

 private:
  int64_t prompt_tokens(const flow::ModelRequest& request) const;

  UpstreamPool& pool_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  SamplingParams defaults_;
  int64_t fallback_context_;
  int64_t affinity_chars_;
  int64_t overhead_ = 0;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<class Exchange>> running_;
};

}  // namespace ream::upstream
