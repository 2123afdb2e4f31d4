// Running one API call's engine requests and answering as a stream or a deferred reply.
#include "openai/run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "http/errors.h"
#include "http/sse.h"

namespace ream::openai {

namespace {

Json usage_json(int64_t prompt, int64_t completion, int64_t cached) {
  return Json{{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion},
              {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

http::Response ok_json(const Json& body) {
  http::Response r;
  r.body = dump(body) + "\n";
  return r;
}

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(Engine& engine, const ModelInfo& model, RunSpec spec) : engine_(engine), spec_(std::move(spec)) {
    for (size_t i = 0; i < spec_.choices.size(); ++i) {
      outputs_.emplace_back(std::move(spec_.choices[i]), model, spec_.requests[i].sampling);
    }
    remaining_ = outputs_.size();
  }

  http::Response start() {
    http::Response response;
    std::weak_ptr<Call> weak = weak_from_this();
    auto on_close = [weak]() {
      if (auto self = weak.lock()) self->client_left();
    };
    if (spec_.stream) {
      stream_ = std::make_shared<http::QueueStream>(true);
      // Cut off at http.max_stream_lifetime_s: an error event in OpenAI's shape, as for
      // any error after the head, so a client does not take the reply for complete.
      stream_->set_expiry_notice([](const std::string& message) {
        return "data: " + nlohmann::json{{"error", http::error_object(503, "stream_expired", message)}}.dump() +
               "\n\ndata: [DONE]\n\n";
      });
      for (const ChoiceOutput& o : outputs_) {
        for (const Json& c : o.opening()) stream_->push(chunk(c));
      }
      stream_->on_close(on_close);
      response.content_type = "text/event-stream";
      response.stream = stream_;
    } else {
      deferred_ = std::make_shared<http::DeferredResponse>();
      deferred_->on_close(on_close);
      response.deferred = deferred_;
    }
    for (size_t i = 0; i < spec_.requests.size(); ++i) {
      auto self = shared_from_this();
      auto id = engine_.submit(std::move(spec_.requests[i]), [self, i](const StreamEvent& ev) { self->on_event(i, ev); });
      std::lock_guard lock(mu_);
      if (!id.ok()) {
        failed_ = true;
        for (uint64_t rid : ids_) engine_.cancel(rid);
        const Status& st = id.status();
        // "can never fit the KV cache" is not worth retrying: a 400, not a 429.
        if (st.code() == StatusCode::kResourceExhausted) return http::json_error(400, "invalid_request", st.message());
        return http::error_from_status(st, st.code() == StatusCode::kInvalidArgument ? spec_.constraint_param : "");
      }
      ids_.push_back(id.value());
      if (client_left_) engine_.cancel(id.value());
    }
    return response;
  }

 private:
  std::string chunk(const Json& choice) const {
    Json c = {{"id", spec_.id},
              {"object", spec_.api == Api::kChat ? "chat.completion.chunk" : "text_completion"},
              {"created", spec_.created},
              {"model", spec_.model},
              {"choices", Json::array({choice})}};
    if (spec_.include_usage) c["usage"] = nullptr;
    return "data: " + dump(c) + "\n\n";
  }

  void client_left() {
    std::lock_guard lock(mu_);
    client_left_ = true;
    for (uint64_t rid : ids_) engine_.cancel(rid);
  }

  Json usage() const {
    int64_t prompt = 0, completion = 0, cached = 0;
    const int prompts = spec_.prompt_of.empty() ? 0 : *std::max_element(spec_.prompt_of.begin(), spec_.prompt_of.end()) + 1;
    for (int p = 0; p < prompts; ++p) {
      int64_t least_cached = -1;
      for (size_t i = 0; i < outputs_.size(); ++i) {
        if (spec_.prompt_of[i] != p) continue;
        if (least_cached < 0) prompt += outputs_[i].usage().prompt_tokens;
        least_cached = least_cached < 0 ? outputs_[i].usage().cached_prompt_tokens
                                        : std::min(least_cached, outputs_[i].usage().cached_prompt_tokens);
      }
      cached += std::max<int64_t>(least_cached, 0);
    }
    for (const ChoiceOutput& o : outputs_) completion += o.usage().completion_tokens;
    return usage_json(prompt, completion, cached);
  }

  // An engine error, or a cancel the client did not ask for (the engine shutting down).
  void fail(const StreamEvent& ev) {
    if (failed_) return;
    failed_ = true;
    for (uint64_t rid : ids_) engine_.cancel(rid);
    const bool error = ev.finish_reason == FinishReason::kError;
    const unsigned status = error ? 500 : 503;
    const std::string code = error ? "internal" : "unavailable";
    const std::string message = (error ? "the engine failed: " : "the request was cancelled: ") +
                                (ev.error.ok() ? std::string("engine shut down") : ev.error.message());
    spdlog::warn("openai: {} failed: {}", spec_.id, message);
    if (stream_) {
      stream_->push("data: " + nlohmann::json{{"error", http::error_object(status, code, message)}}.dump() + "\n\n");
      stream_->push("data: [DONE]\n\n");
      stream_->finish();
    } else {
      deferred_->complete(http::json_error(status, code, message));
    }
  }

  void on_event(size_t i, const StreamEvent& ev) {
    std::lock_guard lock(mu_);
    if (failed_ || client_left_) return;
    ChoiceOutput& out = outputs_[i];
    if (!ev.finished) {
      Json c = out.on_token(ev);
      if (stream_ && !c.is_null()) stream_->push(chunk(c));
      return;
    }
    if (ev.finish_reason == FinishReason::kError || ev.finish_reason == FinishReason::kCancelled) return fail(ev);
    for (const Json& c : out.on_finish(ev)) {
      if (stream_) stream_->push(chunk(c));
    }
    if (--remaining_ > 0) return;
    if (stream_) {
      if (spec_.include_usage) {
        Json u = {{"id", spec_.id},
                  {"object", spec_.api == Api::kChat ? "chat.completion.chunk" : "text_completion"},
                  {"created", spec_.created},
                  {"model", spec_.model},
                  {"choices", Json::array()},
                  {"usage", usage()}};
        stream_->push("data: " + dump(u) + "\n\n");
      }
      stream_->push("data: [DONE]\n\n");
      stream_->finish();
      return;
    }
    Json choices = Json::array();
    for (const ChoiceOutput& o : outputs_) choices.push_back(o.choice());
    deferred_->complete(ok_json(Json{{"id", spec_.id},
                                     {"object", spec_.api == Api::kChat ? "chat.completion" : "text_completion"},
                                     {"created", spec_.created},
                                     {"model", spec_.model},
                                     {"choices", std::move(choices)},
                                     {"usage", usage()}}));
  }

  Engine& engine_;
  RunSpec spec_;
  std::mutex mu_;
  std::vector<ChoiceOutput> outputs_;
  std::vector<uint64_t> ids_;
  size_t remaining_ = 0;
  bool failed_ = false;
  bool client_left_ = false;
  std::shared_ptr<http::QueueStream> stream_;
  std::shared_ptr<http::DeferredResponse> deferred_;
};

}  // namespace

http::Response run(Engine& engine, const ModelInfo& model, RunSpec spec) {
  auto call = std::make_shared<Call>(engine, model, std::move(spec));
  return call->start();
}

}  // namespace ream::openai
