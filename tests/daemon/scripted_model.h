// ScriptedModelClient: a ModelClient whose replies come from a test's script
// instead of a model. For executor and plugin tests only: it lets a test choose
// replies, failures and delays; anything that needs a real model uses the engine.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "flow/model_client.h"

namespace ream::test {

struct ScriptedReply {
  std::string text;
  Status status;        // not ok: the request fails with it
  int delay_ms = 0;     // reply after this long (cancel() ends the wait early)
};

class ScriptedModelClient : public flow::ModelClient {
 public:
  using Script = std::function<ScriptedReply(const flow::ModelRequest&, int index)>;

  explicit ScriptedModelClient(Script script, int64_t context = 4096)
      : script_(std::move(script)), context_(context) {}
  ~ScriptedModelClient() override {
    for (std::thread& t : threads_) t.join();
  }

  // Roughly 4 bytes a token: deterministic and tokenizer-free.
  int64_t count_tokens(std::string_view text) const override { return static_cast<int64_t>(text.size() / 4 + 1); }
  int64_t context_size() const override { return context_; }
  int64_t prompt_overhead() const override { return 8; }
  // Qwen3-Instruct-2507's generation_config.json, as a real model directory would give.
  SamplingParams default_sampling() const override {
    SamplingParams s;
    s.temperature = 0.7f;
    s.top_p = 0.8f;
    s.top_k = 20;
    return s;
  }

  Result<uint64_t> submit(const flow::ModelRequest& request, std::function<void(flow::ModelReply)> done) override {
    uint64_t id;
    int index;
    {
      std::lock_guard lock(mu_);
      id = ++next_id_;
      index = static_cast<int>(requests_.size());
      requests_.push_back(request);
    }
    ScriptedReply r = script_(request, index);
    std::string all;
    for (const auto& m : request.messages) all += m.content;
    all += request.text;
    flow::ModelReply reply;
    reply.status = r.status;
    reply.text = r.text;
    reply.finish_reason = r.status.ok() ? "stop" : "error";
    reply.prompt_tokens = count_tokens(all);
    reply.completion_tokens = count_tokens(r.text);
    // Progress as the engine reports it: the prompt's length at submit; before the reply,
    // prefill chunks (one lower again, as after a preemption), then the tokens.
    auto progress = request.on_progress;
    const int64_t n = reply.prompt_tokens, generated = reply.completion_tokens;
    if (progress) progress({n, 0, 0});
    auto report = [progress, n, generated, ok = r.status.ok()] {
      if (!progress || !ok) return;
      for (int64_t done : {n / 2, n / 3, n}) progress({n, done, 0});
      for (int64_t t = 1; t <= generated; ++t) progress({n, n, t});
    };
    if (r.delay_ms <= 0) {
      report();
      done(std::move(reply));
      return id;
    }
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, id, delay = r.delay_ms, reply = std::move(reply), done = std::move(done),
                           report]() mutable {
      std::unique_lock lk(mu_);
      bool cancelled = cv_.wait_for(lk, std::chrono::milliseconds(delay), [&] { return cancelled_.count(id) > 0; });
      lk.unlock();
      if (cancelled) {
        reply.status = Status(StatusCode::kCancelled, "cancelled");
        reply.finish_reason = "cancelled";
        ++cancels_seen_;
      } else {
        report();
      }
      done(std::move(reply));
    });
    return id;
  }

  void cancel(uint64_t id) override {
    std::lock_guard lock(mu_);
    cancelled_.insert({id, true});
    cv_.notify_all();
  }

  std::vector<flow::ModelRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int cancels_seen() const { return cancels_seen_.load(); }

 private:
  Script script_;
  int64_t context_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 0;
  std::vector<flow::ModelRequest> requests_;
  std::map<uint64_t, bool> cancelled_;
  std::vector<std::thread> threads_;
  std::atomic<int> cancels_seen_{0};
};

// The text of a request's last message (or its raw text).
inline std::string last_text(const flow::ModelRequest& r) {
  return r.messages.empty() ? r.text : r.messages.back().content;
}

}  // namespace ream::test
