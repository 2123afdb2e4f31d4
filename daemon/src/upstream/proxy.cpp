// Forwarding OpenAI API calls to upstreams: a deferred response completed with the
// upstream's status, or with a stream relayed event by event.
#include "upstream/proxy.h"

#include <spdlog/spdlog.h>

#include "http/errors.h"
#include "http/sse.h"
#include "upstream/exchange.h"
#include "upstream/model_client.h"

namespace ream::upstream {

using Json = nlohmann::json;

namespace {

std::string error_event(unsigned status, const std::string& code, const std::string& message) {
  return "data: " + Json{{"error", http::error_object(status, code, message)}}.dump() + "\n\ndata: [DONE]\n\n";
}

// Relays one call; lives until its exchange ends.
struct Relay {
  std::shared_ptr<http::DeferredResponse> deferred = std::make_shared<http::DeferredResponse>();
  std::shared_ptr<http::QueueStream> stream;
  std::shared_ptr<Exchange> exchange;
  Json client_model;          // what the client called the model (null: it named none)
  bool client_usage = false;  // the client asked for the usage chunk
  bool stream_requested = false;

  // An upstream chunk with the client's model name; "" to drop it.
  std::string rewrite(const std::string& data) const {
    Json j = Json::parse(data, nullptr, false);
    if (!j.is_object()) return data;
    if (!client_usage && j.contains("usage")) {
      if (j.contains("choices") && j["choices"].is_array() && j["choices"].empty()) return "";
      j.erase("usage");
    }
    if (!client_model.is_null() && j.contains("model")) j["model"] = client_model;
    return j.dump();
  }
};

}  // namespace

http::Response forward(UpstreamPool& pool, const std::string& target, Json body, int64_t affinity_chars,
                       const std::string& request_id) {
  auto relay = std::make_shared<Relay>();
  relay->stream_requested = body.value("stream", false) == true;
  if (body.contains("model")) relay->client_model = body["model"];
  if (relay->stream_requested) {
    relay->client_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                          body["stream_options"].value("include_usage", false) == true;
    if (!body.contains("stream_options") || !body["stream_options"].is_object()) body["stream_options"] = Json::object();
    body["stream_options"]["include_usage"] = true;
  }
  const uint64_t key = pool.affinity(affinity_text(body, static_cast<size_t>(std::max<int64_t>(affinity_chars, 1))));
  relay->exchange = std::make_shared<Exchange>(pool, target, std::move(body), key, request_id);
  std::weak_ptr<Exchange> weak = relay->exchange;
  relay->deferred->on_close([weak] {
    if (auto e = weak.lock()) e->cancel();
  });
  auto work = [relay, request_id] {
    Exchange::Handlers h;
    h.on_head = [&](unsigned status, const std::string& name) {
      spdlog::debug("upstream {}: {} answered {}", name, request_id, status);
      if (status != 200 || !relay->stream_requested) return;
      relay->stream = std::make_shared<http::QueueStream>(true);
      relay->stream->set_expiry_notice(
          [](const std::string& message) { return error_event(503, "stream_expired", message); });
      std::weak_ptr<Exchange> w = relay->exchange;
      relay->stream->on_close([w] {
        if (auto e = w.lock()) e->cancel();
      });
      http::Response r;
      r.content_type = "text/event-stream";
      r.stream = relay->stream;
      relay->deferred->complete(std::move(r));
    };
    bool done = false;
    h.on_event = [&](const std::string& data) {
      if (relay->stream->closed()) return false;
      if (data == "[DONE]") {
        done = true;
        relay->stream->push("data: [DONE]\n\n");
        return false;
      }
      std::string out = relay->rewrite(data);
      if (!out.empty()) relay->stream->push("data: " + out + "\n\n");
      return true;
    };
    h.on_body = [&](unsigned status, std::string text) {
      http::Response r;
      r.status = status;
      Json j = Json::parse(text, nullptr, false);
      if (status == 200 && j.is_object() && j.contains("model") && !relay->client_model.is_null()) {
        j["model"] = relay->client_model;
        text = j.dump() + "\n";
      }
      r.body = std::move(text);
      relay->deferred->complete(std::move(r));
    };
    ExchangeResult res = relay->exchange->run(h);
    using Stage = HttpOutcome::Stage;
    if (relay->stream) {
      if (!done && !relay->stream->closed()) {
        const std::string why =
            res.outcome.stage == Stage::kOk ? "upstream " + res.upstream + " ended the stream without [DONE]" : res.error;
        spdlog::warn("upstream: {} cut mid-stream: {}", request_id, why);
        relay->stream->push(error_event(502, "upstream_failed", "the reply was cut: " + why));
      }
      relay->stream->finish();
      return;
    }
    if (res.outcome.stage == Stage::kOk) return;  // on_body completed it
    if (res.outcome.stage == Stage::kCancelled) return;
    spdlog::warn("upstream: {} failed: {}", request_id, res.error);
    if (res.outcome.stage == Stage::kConnect || res.outcome.stage == Stage::kSend) {
      relay->deferred->complete(http::json_error(503, "unavailable", res.error));
    } else {
      relay->deferred->complete(http::json_error(502, "upstream_failed", res.error));
    }
  };
  pool.spawn(std::move(work), [weak] {
    if (auto e = weak.lock()) e->cancel();
  });
  http::Response response;
  response.deferred = relay->deferred;
  return response;
}

}  // namespace ream::upstream
