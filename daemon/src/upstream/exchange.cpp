// Exchange: routing, one retry for a request that never reached its upstream, metrics.
#include "upstream/exchange.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace ream::upstream {

UpstreamUsage usage_of(const nlohmann::json& j) {
  UpstreamUsage u;
  if (!j.is_object() || !j.contains("usage") || !j["usage"].is_object()) return u;
  const auto& usage = j["usage"];
  auto num = [](const nlohmann::json& o, const char* k) -> int64_t {
    return o.contains(k) && o[k].is_number_integer() ? o[k].get<int64_t>() : 0;
  };
  u.prompt_tokens = num(usage, "prompt_tokens");
  u.completion_tokens = num(usage, "completion_tokens");
  if (usage.contains("prompt_tokens_details") && usage["prompt_tokens_details"].is_object()) {
    u.cached_prompt_tokens = num(usage["prompt_tokens_details"], "cached_tokens");
  }
  return u;
}

Exchange::Exchange(UpstreamPool& pool, std::string target, nlohmann::json body, uint64_t affinity, std::string tag)
    : pool_(pool), target_(std::move(target)), body_(std::move(body)), affinity_(affinity), tag_(std::move(tag)) {}

void Exchange::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (call_) call_->cancel();
  }
  pool_.wake();  // if it waits for a slot
}

ExchangeResult Exchange::run(const Handlers& handlers) {
  ExchangeResult result;
  std::vector<size_t> tried;
  const bool stream = body_.value("stream", false);
  // A queue of requests waiting for a slot is bounded by the longest an upstream may be silent.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const double wait_s = 600;
    auto slot = pool_.acquire(affinity_, tried, wait_s, [this] {
      std::lock_guard lock(mu_);
      return cancelled_;
    });
    if (!slot.ok()) {
      result.outcome.stage =
          slot.status().code() == StatusCode::kCancelled ? HttpOutcome::Stage::kCancelled : HttpOutcome::Stage::kConnect;
      result.error = slot.status().message();
      if (!tried.empty()) result.error = "retried after " + result.error;
      return result;
    }
    const size_t index = slot->index();
    tried.push_back(index);
    UpstreamState st = pool_.state(index);
    result.upstream = st.spec.name;
    ++result.tries;
    nlohmann::json body = body_;
    if (!st.spec.model.empty()) {
      body["model"] = st.spec.model;
    } else if (!st.discovered_model.empty()) {
      body["model"] = st.discovered_model;
    }
    HttpCallOptions opt;
    opt.connect_timeout_s = st.spec.connect_timeout_s;
    opt.io_timeout_s = st.spec.timeout_s;
    auto call = std::make_shared<HttpCall>(st.endpoint, opt);
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        result.outcome.stage = HttpOutcome::Stage::kCancelled;
        result.error = "cancelled";
        return result;
      }
      call_ = call;
    }
    std::map<std::string, std::string> headers;
    if (!st.spec.api_key.empty()) headers["Authorization"] = "Bearer " + st.spec.api_key;
    headers["Accept"] = stream ? "text/event-stream" : "application/json";
    unsigned status = 0;
    std::string whole;
    SseReader sse;
    UpstreamUsage usage;
    const auto t0 = std::chrono::steady_clock::now();
    HttpOutcome out = call->perform(
        "POST", target_, body.dump(), headers,
        [&](unsigned s) {
          status = s;
          if (handlers.on_head) handlers.on_head(s, st.spec.name);
        },
        [&](std::string_view piece) {
          if (!stream || status != 200) {
            whole.append(piece);
            return true;
          }
          return sse.feed(piece, [&](const std::string& data) {
            if (data != "[DONE]") {
              auto j = nlohmann::json::parse(data, nullptr, false);
              if (j.is_object() && j.contains("usage") && j["usage"].is_object()) usage = usage_of(j);
            }
            return handlers.on_event ? handlers.on_event(data) : true;
          });
        });
    {
      std::lock_guard lock(mu_);
      call_.reset();
    }
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.outcome = out;
    using Stage = HttpOutcome::Stage;
    if (out.stage == Stage::kOk && (!stream || status != 200)) {
      if (status == 200) usage = usage_of(nlohmann::json::parse(whole, nullptr, false));
      pool_.record(index, status == 200 ? "" : "status", latency, usage);
      if (handlers.on_body) handlers.on_body(status, std::move(whole));
      return result;
    }
    if (out.stage == Stage::kOk) {
      pool_.record(index, "", latency, usage);
      return result;
    }
    const bool unreached = out.stage == Stage::kConnect || out.stage == Stage::kSend;
    pool_.record(index,
                 unreached ? "connect" : out.stage == Stage::kCancelled ? "cancelled" : "cut", latency, usage);
    result.error = "upstream " + st.spec.name + ": " + out.error;
    if (!unreached) return result;
    pool_.mark_down(index, out.error);
    if (attempt == 0) spdlog::warn("upstream {}: {} ({}); trying another upstream", st.spec.name, out.error, tag_);
  }
  return result;
}

}  // namespace ream::upstream
